"""The allocator's statements run straight on the DBAPI cursor, compiled once per statement.

A worker's request runs a handful of small statements. Through an ORM session each one
pays for the session's bookkeeping, the compiled-cache lookup, parameter processing and
the result machinery: several times what SQLite or PostgreSQL spends executing it. Here a
statement is compiled once per dialect (and per length of an expanding list) into its SQL
text, the order of its parameters and their type processors; a call only builds the
parameter list and executes. The statements themselves stay SQLAlchemy constructs, written
once in :mod:`study.allocation`.

:class:`DirectSession` offers the small part of :class:`~sqlalchemy.orm.Session` the
allocator's local paths use (``execute``, ``scalar``, ``get_bind``), so the same rules run
on either. Errors come out as SQLAlchemy's (``IntegrityError``, ``OperationalError`` ...)
so the retries of :mod:`study.transactions` and the web layer's 503 treat both alike.
"""

from __future__ import annotations

import threading
from collections import namedtuple
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Callable

from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.dml import UpdateBase

_CONSTANT, _PARAM, _ITEM, _DEFAULT = 0, 1, 2, 3


@dataclass(frozen=True)
class _Plan:
    """One statement compiled for one dialect and one shape of parameters."""

    sql: str
    # Per DBAPI parameter: (kind; the name it is given by, a constant or a default function;
    # the index into an expanding list; the type's bind processor).
    sources: tuple[tuple[int, Any, int, Callable | None], ...]
    names: tuple[str, ...] | None  # None: positional (qmark); else the DBAPI's parameter names
    row: type | None  # namedtuple of the result columns (None: no rows back)
    results: tuple[Callable | None, ...]

    def parameters(self, given: Mapping[str, Any]) -> Sequence | dict:
        values = []
        for kind, what, index, process in self.sources:
            if kind == _CONSTANT:
                value = what
            elif kind == _PARAM:
                value = given[what]
            elif kind == _ITEM:
                value = given[what][index]
            else:
                value = what(None)  # a column's Python-side default, as SQLAlchemy wraps it
            values.append(value if process is None or value is None else process(value))
        return values if self.names is None else dict(zip(self.names, values))

    def rows(self, raw: list[tuple]) -> list:
        if self.row is None:
            return []
        if any(self.results):
            raw = [tuple(v if p is None or v is None else p(v) for v, p in zip(r, self.results)) for r in raw]
        return [self.row._make(r) for r in raw]


class StatementPlans:
    """Compiled plans of statements for one engine's dialect, made on first use (thread safe).

    Meant for statements built once (the allocator's); at most ``LIMIT`` plans are kept.
    """

    LIMIT = 512

    def __init__(self, engine: Engine):
        self.dialect = engine.dialect
        self._plans: dict[tuple, _Plan] = {}
        # Plans are keyed by id(statement): the statements are kept so an id is never reused.
        self._statements: list[ClauseElement] = []
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._plans)

    def plan(self, stmt: ClauseElement, params: Mapping[str, Any]) -> _Plan:
        # An UPDATE or INSERT without explicit values sets the columns its parameters name;
        # an expanding list renders one placeholder per item: both shape the SQL.
        keys = tuple(sorted(params))
        lengths = tuple((k, len(v)) for k, v in params.items() if isinstance(v, (list, tuple)))
        key = (id(stmt), keys, lengths)
        found = self._plans.get(key)
        if found is None:
            with self._lock:
                found = self._plans.get(key)
                if found is None:
                    if len(self._plans) >= self.LIMIT:
                        # Statements built anew per call would pile up: start over instead.
                        self._plans.clear()
                        self._statements.clear()
                    found = self._compile(stmt, keys, dict(lengths))
                    self._plans[key] = found
                    self._statements.append(stmt)
        return found

    def _compile(self, stmt: ClauseElement, keys: tuple[str, ...], lengths: dict[str, int]) -> _Plan:
        dialect = self.dialect
        compiled = stmt.compile(dialect=dialect, column_keys=list(keys) if isinstance(stmt, UpdateBase) else None)
        required = {b.key for b in compiled.binds.values() if b.required}
        # Values for every parameter a call gives (placeholders: only their positions count);
        # an expanding list gets as many items as this plan is for.
        template = {name: ([None] * lengths[name] if name in lengths else None) for name in required | set(keys)}
        state = compiled.construct_expanded_state(template, escape_names=False)
        expanding = {}
        for name, items in (state.parameter_expansion or {}).items():
            for i, item in enumerate(items):
                expanding[item] = (name, i)
        order = state.positiontup if compiled.positional else list(state.parameters)
        # Columns the statement leaves out whose default is computed in Python at each execution.
        defaults = {c.key: c.default for c in (*compiled.insert_prefetch, *compiled.update_prefetch)}
        sources = []
        for name in order:
            process = state.processors.get(name)
            default = defaults.get(name)
            if default is not None and name not in template:
                source = (_CONSTANT, default.arg, 0) if default.is_scalar else (_DEFAULT, default.arg, 0)
            elif name in expanding:
                base, index = expanding[name]
                source = (_ITEM, base, index) if base in template else (_CONSTANT, state.parameters[name], 0)
            elif name in template:
                source = (_PARAM, name, 0)
            else:
                source = (_CONSTANT, state.parameters[name], 0)
            sources.append((*source, process))
        names = None
        if not compiled.positional:
            names = tuple(compiled.escaped_bind_names.get(n, n) for n in order)
        columns = list(getattr(stmt, "exported_columns", ()))
        row = namedtuple("Row", [getattr(c, "key", None) or f"c{i}" for i, c in enumerate(columns)], rename=True) if columns else None
        results = tuple(c.type.dialect_impl(dialect).result_processor(dialect, None) for c in columns)
        return _Plan(state.statement, tuple(sources), names, row, results)


class DirectResult:
    """What ``execute`` gives back: the rows (converted) and the row count."""

    def __init__(self, rows: list, rowcount: int):
        self._rows = rows
        self.rowcount = rowcount

    def first(self):
        return self._rows[0] if self._rows else None

    def one(self):
        if len(self._rows) != 1:
            raise ValueError(f"expected one row, got {len(self._rows)}")
        return self._rows[0]

    def scalar(self):
        return self._rows[0][0] if self._rows else None

    def all(self) -> list:
        return list(self._rows)


class DirectSession:
    """Statements of one transaction on a pooled DBAPI connection; see the module's docstring."""

    def __init__(self, engine: Engine, connection, plans: StatementPlans):
        self._engine = engine
        self._connection = connection
        self._plans = plans
        self._dbapi_error = engine.dialect.loaded_dbapi.Error

    def get_bind(self) -> Engine:
        return self._engine

    def execute(self, stmt: ClauseElement, params: Mapping[str, Any] | list[Mapping[str, Any]] | None = None) -> DirectResult:
        many = isinstance(params, list)
        rows_in = params if many else [params or {}]
        plan = self._plans.plan(stmt, rows_in[0])
        cursor = self._connection.cursor()
        try:
            if many:
                cursor.executemany(plan.sql, [plan.parameters(p) for p in rows_in])
                return DirectResult([], cursor.rowcount)
            cursor.execute(plan.sql, plan.parameters(rows_in[0]))
            rows = plan.rows(cursor.fetchall()) if cursor.description is not None else []
            return DirectResult(rows, cursor.rowcount)
        except self._dbapi_error as exc:
            raise self.wrap(exc, plan.sql, cursor) from exc
        finally:
            cursor.close()

    def scalar(self, stmt: ClauseElement, params: Mapping[str, Any] | None = None):
        return self.execute(stmt, params).scalar()

    def run_sql(self, sql: str) -> None:
        """A statement of the transaction itself (BEGIN ...), with no parameters."""
        cursor = self._connection.cursor()
        try:
            cursor.execute(sql)
        except self._dbapi_error as exc:
            raise self.wrap(exc, sql, cursor) from exc
        finally:
            cursor.close()

    def commit(self) -> None:
        try:
            self._connection.commit()
        except self._dbapi_error as exc:
            raise self.wrap(exc, "COMMIT", None) from exc

    def wrap(self, exc: Exception, statement: str, cursor) -> DBAPIError:
        """SQLAlchemy's exception for a DBAPI error; a lost connection is dropped from the pool."""
        dialect = self._engine.dialect
        lost = dialect.is_disconnect(exc, self._connection.dbapi_connection, cursor)
        if lost:
            self._connection.invalidate(exc)
        return DBAPIError.instance(statement, None, exc, self._dbapi_error, connection_invalidated=lost, dialect=dialect)


@contextmanager
def direct_transaction(engine: Engine, plans: StatementPlans, begin: str | None) -> Iterator[DirectSession]:
    """A transaction on a connection from ``engine``'s pool, committed when the block ends.

    ``begin``: the statement that starts it (SQLite's ``BEGIN IMMEDIATE``, as
    :mod:`study.db` does for every write); None where the driver begins one itself.
    """
    connection = engine.raw_connection()
    session = DirectSession(engine, connection, plans)
    try:
        if begin:
            session.run_sql(begin)
        yield session
        session.commit()
    except BaseException:
        try:
            connection.rollback()
        except Exception:  # noqa: BLE001 - the first error is the one to report
            pass
        raise
    finally:
        connection.close()
