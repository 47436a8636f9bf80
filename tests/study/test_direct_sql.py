"""The allocator's statements run on the DBAPI cursor (study.direct_sql) give what SQLAlchemy gives."""

from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import DBAPIError, IntegrityError

from study.allocation import Allocator, RowRef
from study.db import open_study_database
from study.models import ASSIGNED, SUBMITTED, Answer, Assignment, Hit, Worker
from study.study_file import load_study_file
from study.transactions import in_transaction
from study.worker_flow import WorkerFlow
from tests.study.conftest import ANSWERS


def test_reads_give_the_rows_and_types_sqlalchemy_gives(db, allocator, clock):
    with db.sessions.begin() as s:
        workers = [allocator.worker(s, f"w{i}") for i in range(3)]
        held = [allocator.next_assignment(s, w) for w in workers]
        allocator.submit(s, held[0], ANSWERS)
        hits = [h.id for h in s.scalars(select(Hit).order_by(Hit.position))]
    sql = allocator._sql
    cutoff = clock() - timedelta(minutes=30)
    dialect = db.engine.dialect.name
    reads = [(sql.open_hit, {"worker_id": workers[1].id, "lost": lost}) for lost in ([], hits[:1], hits[:3])]
    reads += [
        (sql.open_hit_search[dialect][0], {"worker_id": workers[2].id, "lost": hits[:2]}),
        (sql.current, {"worker_id": workers[1].id, "cutoff": cutoff}),
        (sql.local_assignment, {"hit_id": held[1].hit_id, "source": "local", "external_id": "w1"}),
        (sql.local_assignment_and_slots, {"hit_id": held[0].hit_id, "source": "local", "external_id": "w0"}),
        (sql.page_state, {"hit_id": held[0].hit_id, "source": "local", "external_id": "w0"}),
        (sql.answered_count, {"worker_id": workers[0].id}),
        (sql.cap_and_slots, {"hit_id": held[0].hit_id}),
    ]
    with db.sessions.begin() as s:
        expected = [s.execute(stmt, params).all() for stmt, params in reads]
    with db.writing_direct() as direct:
        got = [direct.execute(stmt, params).all() for stmt, params in reads]
    assert [[tuple(r) for r in rows] for rows in got] == [[tuple(r) for r in rows] for rows in expected]
    assert any(rows for rows in got) and all(len(rows) <= 1 for rows in got)
    accepted = got[4][0].accepted_at  # the held assignment, as plain columns
    assert accepted == clock() and accepted.tzinfo is not None
    assert got[0][0]._fields == ("id", "max_assignments")


def test_a_local_session_through_the_cursor_stores_what_the_orm_would(db, allocator, clock, study_dir):
    flow = WorkerFlow(db, load_study_file(study_dir), allocator)
    assert flow._direct
    first = flow.next_hit("alice")
    opened = clock()
    clock.advance(seconds=42)
    assert flow.submit_local(flow.hit(first.hit_key), "alice", ANSWERS).stored
    assert flow.next_hit("alice").answered == 1
    # Twice the same form: one answer set.
    assert not flow.submit_local(flow.hit(first.hit_key), "alice", ANSWERS).stored
    with db.sessions() as s:
        worker = s.scalar(select(Worker).where(Worker.external_id == "alice"))
        done = s.scalar(select(Assignment).where(Assignment.worker_id == worker.id, Assignment.status == SUBMITTED))
        assert (done.accepted_at, done.work_time_seconds, done.submitted_at) == (opened, 42.0, clock())
        # Python-side column defaults the claim leaves out are filled in as the ORM fills them.
        assert (done.review_note, done.bonus_cents, done.mode, done.platform_assignment_id) == ("", 0, "local", None)
        assert {a.question_id: a.value for a in done.answers} == ANSWERS
        assert worker.last_seen_at == clock() and worker.created_at == opened
        assert s.scalar(select(Assignment.status).where(Assignment.worker_id == worker.id, Assignment.id != done.id)) == ASSIGNED


def test_errors_are_sqlalchemys_and_roll_the_transaction_back(db, allocator, clock):
    with db.sessions.begin() as s:
        assignment = allocator.next_assignment(s, allocator.worker(s, "w1"))
    row = {"assignment_id": assignment.id, "question_id": "ease", "value": "3", "created_at": clock()}
    with pytest.raises(IntegrityError):
        with db.writing_direct() as direct:
            direct.execute(allocator._sql.add_answers, [row | {"question_id": "description"}])
            direct.execute(allocator._sql.add_answers, [row, row])
    with db.sessions() as s:
        assert s.scalar(select(Answer.id)) is None  # the first insert went with the failed one
    # in_transaction retries the unique violation once (a double submit's race), then lets it through.
    calls = []

    def twice(session):
        calls.append(1)
        session.execute(allocator._sql.add_answers, [row, row])

    with pytest.raises(IntegrityError):
        in_transaction(db, twice, direct=True)
    assert len(calls) == 2


def test_a_lost_postgresql_connection_is_dropped_from_the_pool(postgres_url, study_dir, clock):
    import psycopg

    db = open_study_database(study_dir, postgres_url)
    try:
        allocator = Allocator(db.study_id, timedelta(minutes=30), clock)
        with db.sessions.begin() as s:
            worker = RowRef(allocator.worker_id(s, "w1"))
        with db.writing_direct() as direct:
            pid = direct.scalar(select(func.pg_backend_pid()))
        # The server ends that connection while it waits in the pool (a restart, an admin).
        with psycopg.connect(postgres_url.replace("postgresql+psycopg", "postgresql"), autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
        with pytest.raises(DBAPIError) as failed:
            with db.writing_direct() as direct:
                assert direct.scalar(select(func.pg_backend_pid())) == pid  # the pool's one connection
                direct.execute(allocator._sql.answered_count, {"worker_id": worker.id})
        assert failed.value.connection_invalidated
        with db.writing_direct() as direct:  # the next request gets a working connection
            assert direct.execute(allocator._sql.answered_count, {"worker_id": worker.id}).scalar() == 0
    finally:
        db.dispose()


def test_plans_of_statements_built_per_call_do_not_pile_up(db, allocator):
    plans = db.plans
    with db.writing_direct() as direct:
        for i in range(plans.LIMIT + 50):
            assert direct.scalar(select(Worker.id).where(Worker.external_id == f"nobody-{i}")) is None
    assert 0 < len(plans) <= plans.LIMIT
