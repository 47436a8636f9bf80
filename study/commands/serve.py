"""barlow study serve: run the study's web app with waitress."""

from __future__ import annotations

import argparse

HELP = "serve a study in the browser (worker pages, admin dashboard, JSON API) with waitress"
DESCRIPTION = """\
Serve a study: workers open http://HOST:PORT/, enter an id and answer HITs one after
another; the dashboard at /admin shows progress, answers, exports and review marks.
Crowd platforms embed /hit/<hit id> (it reads assignmentId, hitId, workerId, turkSubmitTo).

The admin token protects /admin and the admin API; without --admin-token a random one is
made and printed. Answers go to STUDY/study.sqlite unless --database-url names another
database (e.g. postgresql://user@host/db).

example:
  barlow study serve studies/fmnist --port 8000 --admin-token s3cret
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("study", metavar="STUDY", help="study folder made by 'barlow study create'")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on; 0.0.0.0 for all interfaces (default: %(default)s)")
    parser.add_argument("--port", type=int, default=8000, help="port (default: %(default)s)")
    parser.add_argument("--admin-token", metavar="T", help="token for /admin and the admin API (default: a random one, printed)")
    parser.add_argument("--database-url", help="SQLAlchemy database URL (default: sqlite file STUDY/study.sqlite)")
    parser.add_argument("--threads", type=int, default=8, help="waitress worker threads (default: %(default)s)")
    parser.add_argument(
        "--behind-proxy",
        action="store_true",
        help="trust X-Forwarded-Proto/Host/For from a reverse proxy on this machine (HTTPS for crowd platforms)",
    )


def run(args: argparse.Namespace) -> int:
    import secrets

    from waitress import create_server

    from analysis_core.errors import BarlowError
    from study.app import create_app

    token = args.admin_token or secrets.token_urlsafe(16)
    app = create_app(args.study, admin_token=token, database_url=args.database_url)
    try:
        proxy = {}
        if args.behind_proxy:
            proxy = {
                "trusted_proxy": "localhost",
                "trusted_proxy_headers": "x-forwarded-proto x-forwarded-host x-forwarded-for",
                "clear_untrusted_proxy_headers": True,
            }
        server = create_server(app, host=args.host, port=args.port, threads=args.threads, ident="barlow-study", **proxy)
    except OSError as exc:
        raise BarlowError(f"cannot listen on {args.host}:{args.port}: {exc.strerror or exc}") from None
    shown = "127.0.0.1" if args.host in ("0.0.0.0", "::") else args.host
    base = f"http://{shown}:{server.effective_port}"
    print(f"serving study {args.study}")
    print(f"  workers:   {base}/")
    print(f"  dashboard: {base}/admin?token={token}")
    print(f"  API:       {base}/api/status")
    print("press Ctrl+C to stop", flush=True)
    try:
        server.run()
    finally:
        server.close()
    return 0
