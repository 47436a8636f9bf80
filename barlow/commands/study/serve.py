"""barlow study serve: run the study's web app (waitress, or gunicorn with --workers)."""

from __future__ import annotations

import argparse

HELP = "serve a study in the browser (worker pages, admin dashboard, JSON API)"
DESCRIPTION = """\
Serve a study: workers open http://HOST:PORT/, enter an id and answer HITs one after
another; the dashboard at /admin shows progress, answers, exports and review marks.
Crowd platforms embed /hit/<hit id> (it reads assignmentId, hitId, workerId, turkSubmitTo).

The admin token protects /admin and the admin API (/api/status included); without
--admin-token a random one is made and printed. Answers go to STUDY/study.sqlite unless
--database-url names another database (e.g. postgresql+psycopg://user@host/db).

One process (the default) serves a few dozen answers a second; --workers N runs N
processes (gunicorn) for large crowds. SQLite works for several processes on one
machine; use PostgreSQL for many processes or several machines.

examples:
  barlow study serve studies/fmnist --port 8000 --admin-token s3cret
  barlow study serve studies/fmnist --workers 4 --database-url postgresql+psycopg://barlow@db/fmnist
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("study", metavar="STUDY", help="study folder made by 'barlow study create'")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on; 0.0.0.0 for all interfaces (default: %(default)s)")
    parser.add_argument("--port", type=int, default=8000, help="port (default: %(default)s)")
    parser.add_argument("--admin-token", metavar="T", help="token for /admin and the admin API (default: a random one, printed)")
    parser.add_argument("--database-url", help="SQLAlchemy database URL (default: sqlite file STUDY/study.sqlite)")
    parser.add_argument("--workers", type=int, default=1, metavar="N",
                        help="server processes; above 1 runs gunicorn (default: %(default)s)")
    parser.add_argument("--threads", type=int, default=4, help="threads per process (default: %(default)s)")
    parser.add_argument("--connection-limit", type=int, default=1000, metavar="N",
                        help="open connections each process keeps, keep-alive ones included (default: %(default)s)")
    parser.add_argument("--crowd", choices=["auto", "closed", "open", "off"], default="auto",
                        help="crowd-platform answers: closed (only assignments the platform confirms), open (any, "
                             "capped per HIT), off; auto = closed when the study's platform adapter can verify, "
                             "else open (default: %(default)s)")
    parser.add_argument(
        "--behind-proxy",
        action="store_true",
        help="trust X-Forwarded-Proto/Host/For from a reverse proxy on this machine (HTTPS for crowd platforms)",
    )


def run(args: argparse.Namespace) -> int:
    import secrets

    from study.server import ServeOptions, serve
    from study.platforms.connect import study_verifier

    token = args.admin_token or secrets.token_urlsafe(16)
    # Published studies (barlow study publish records the platform) verify crowd answers.
    verifier = study_verifier(args.study, args.database_url) if args.crowd != "off" else None
    options = ServeOptions(
        study=args.study,
        host=args.host,
        port=args.port,
        admin_token=token,
        database_url=args.database_url,
        workers=args.workers,
        threads=args.threads,
        connection_limit=args.connection_limit,
        behind_proxy=args.behind_proxy,
        app_options={"crowd_mode": args.crowd, "verifier": verifier},
    )

    def ready(port: int) -> None:
        shown = "127.0.0.1" if args.host in ("0.0.0.0", "::") else args.host
        base = f"http://{shown}:{port}"
        print(f"serving study {args.study} ({args.workers} process{'es' if args.workers > 1 else ''} x {args.threads} threads)")
        print(f"  workers:   {base}/")
        print(f"  dashboard: {base}/admin?token={token}")
        print(f"  API:       {base}/api/status (Authorization: Bearer {token})")
        print("press Ctrl+C to stop", flush=True)

    serve(options, ready)
    return 0
