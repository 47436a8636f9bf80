"""Run the study app under a production WSGI server: waitress (one process) or gunicorn (several).

A Python process uses at most one core whatever its thread count (the interpreter lock);
it spends a few ms of CPU per answered HIT (the HIT page at /next, the submit that
redirects to the next HIT page, and the entry pages once per session: about 3 requests;
``benchmarks/study_server_load.py`` measures it per HIT and per request), so ``--workers N`` runs N gunicorn
processes with threads each (``gthread``: keep-alive connections wait in a poller, not in
a thread). The database
is set up once, before the processes start; each process then opens its own connections.
SQLite serves several processes of one machine (writers take turns on the file lock);
PostgreSQL is the setting for many processes or several machines.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from analysis_core.artifacts.errors import BarlowError


@dataclass
class ServeOptions:
    study: str
    host: str = "127.0.0.1"
    port: int = 8000
    admin_token: str = ""
    database_url: str | None = None
    workers: int = 1
    threads: int = 4
    connection_limit: int = 1000
    behind_proxy: bool = False
    app_options: dict[str, Any] = field(default_factory=dict)


class RateLimitedLog(logging.Filter):
    """Let one record through per ``interval`` seconds and say how many were held back.

    Waitress logs "Task queue depth is N" for every request that waits for a thread; under
    a crowd that is thousands of lines a minute, which bury everything else.
    """

    def __init__(self, interval: float = 60.0, clock: Callable[[], float] = time.monotonic):
        super().__init__()
        self.interval = interval
        self.clock = clock
        self._next = 0.0
        self._held = 0

    def filter(self, record: logging.LogRecord) -> bool:
        now = self.clock()
        if now < self._next:
            self._held += 1
            return False
        if self._held:
            record.msg = f"{record.msg} ({self._held} similar messages in the last {self.interval:.0f} s not shown)"
        self._held = 0
        self._next = now + self.interval
        return True


def quiet_queue_log(interval: float = 60.0) -> RateLimitedLog:
    log_filter = RateLimitedLog(interval)
    logging.getLogger("waitress.queue").addFilter(log_filter)
    return log_filter


def _make_app(options: ServeOptions):
    from study.app import create_app

    return create_app(
        options.study,
        admin_token=options.admin_token,
        database_url=options.database_url,
        pool_size=options.threads,
        **options.app_options,
    )


def serve_waitress(options: ServeOptions, ready: Callable[[int], None]) -> None:
    from waitress import create_server

    app = _make_app(options)
    quiet_queue_log()
    proxy = {}
    if options.behind_proxy:
        proxy = {
            "trusted_proxy": "localhost",
            "trusted_proxy_headers": "x-forwarded-proto x-forwarded-host x-forwarded-for",
            "clear_untrusted_proxy_headers": True,
        }
    try:
        server = create_server(
            app,
            host=options.host,
            port=options.port,
            threads=options.threads,
            connection_limit=options.connection_limit,
            ident="barlow-study",
            **proxy,
        )
    except OSError as exc:
        raise BarlowError(f"cannot listen on {options.host}:{options.port}: {exc.strerror or exc}") from None
    ready(server.effective_port)
    try:
        server.run()
    finally:
        server.close()


def serve_gunicorn(options: ServeOptions, ready: Callable[[int], None]) -> None:
    try:
        from gunicorn.app.base import BaseApplication
    except ImportError:
        raise BarlowError("--workers above 1 needs gunicorn (not available on Windows): pip install gunicorn") from None
    from study.db import open_study_database

    # Set up (migrate, sync study.yaml) once here, not in N processes at the same time.
    open_study_database(options.study, options.database_url).dispose()

    class StudyServer(BaseApplication):
        def load_config(self):
            settings = {
                "bind": [f"[{options.host}]:{options.port}" if ":" in options.host else f"{options.host}:{options.port}"],
                "workers": options.workers,
                "threads": options.threads,
                "worker_class": "gthread",
                "worker_connections": options.connection_limit,
                "keepalive": 5,
                "timeout": 60,
                "graceful_timeout": 10,
                "proc_name": "barlow-study",
                "accesslog": None,
                "errorlog": "-",
                "loglevel": "warning",
            }
            if options.behind_proxy:
                settings["forwarded_allow_ips"] = "127.0.0.1,::1"
            for key, value in settings.items():
                self.cfg.set(key, value)

        def load(self):
            return _make_app(options)

    server = StudyServer()
    ready(options.port)
    server.run()


def serve(options: ServeOptions, ready: Callable[[int], None]) -> None:
    """Serve until stopped; ``ready(port)`` is called once the address is known."""
    if options.workers < 1 or options.threads < 1 or options.connection_limit < 1:
        raise BarlowError("--workers, --threads and --connection-limit must be at least 1")
    if options.workers == 1:
        serve_waitress(options, ready)
    else:
        serve_gunicorn(options, ready)
