"""Flask application factory for serving one study."""

from __future__ import annotations

import os
import secrets
from datetime import timedelta
from pathlib import Path

from flask import Flask, has_request_context, jsonify, render_template, request
from flask.sessions import SecureCookieSessionInterface
from itsdangerous import TimestampSigner, URLSafeTimedSerializer
from jinja2 import ChoiceLoader, FileSystemLoader
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from werkzeug.exceptions import HTTPException, ServiceUnavailable

from analysis_core.artifacts.errors import BarlowError
from analysis_core.artifacts.resources import hit_templates_dir, templates_dir
from study.allocation import Allocator, Clock
from study.db import DEFAULT_BUSY_TIMEOUT, open_study_database
from study.models import utcnow
from study.modes import MTURK_ORIGINS
from study.study_file import load_study_file
from study.transactions import DatabaseBusy, is_busy
from study.verification import AUTO, AssignmentVerifier, resolve_crowd_mode
from study.web import admin, api, prolific, worker
from study.web.context import EXTENSION_KEY, StudyContext
from study.web.guard import check_request
from study.worker_flow import WorkerFlow

SECRET_FILE = ".secret_key"
MAX_FORM_BYTES = 256 * 1024
WORKER_TEMPLATES = ("hit.html", "study/entry.html", "study/thanks.html", "study/error.html", "study/_questions.html", "study/_review_context.html")


def _secret_key(study_dir: Path) -> str:
    """A per-study secret kept in the study folder, so sessions survive a restart.

    Several server processes may start at once: the key is written to a private temporary
    file and published with a hard link, which fails if another process published first;
    then everyone reads the one key that won. Nobody ever reads a half-written file.
    """
    path = study_dir / SECRET_FILE
    if not path.is_file():
        key = secrets.token_hex(32)
        tmp = study_dir / f"{SECRET_FILE}.{os.getpid()}.{secrets.token_hex(4)}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "w", encoding="ascii") as fh:
                fh.write(key)
                fh.flush()
                os.fsync(fh.fileno())
            try:
                os.link(tmp, path)
            except FileExistsError:
                pass
        finally:
            tmp.unlink(missing_ok=True)
    key = path.read_text(encoding="ascii").strip()
    if len(key) < 32:
        raise BarlowError(f"{path} holds no usable secret key; delete it and start the server again")
    return key


class _KeyCachingSigner(TimestampSigner):
    """The cookie signer, its derived key computed once per secret rather than per cookie.

    Deriving is an HMAC of the secret and the salt: the same for every request, so it is kept
    (a few keys at most: one per secret and salt this process has used)."""

    _derived: dict[tuple, bytes] = {}

    def derive_key(self, secret_key: str | bytes | None = None) -> bytes:
        key = (self.secret_keys[-1] if secret_key is None else secret_key, self.salt, self.key_derivation, self.digest_method)
        found = self._derived.get(key)
        if found is None:
            found = super().derive_key(secret_key)
            if len(self._derived) > 64:
                self._derived.clear()
            self._derived[key] = found
        return found


class _SessionInterface(SecureCookieSessionInterface):
    """Session cookies marked Secure whenever the request came over HTTPS (behind a proxy too).

    The signing serializer is built once per secret key (Flask builds one per request and
    per cookie written, a noticeable part of a small request's CPU); it is rebuilt when the
    app's key or fallback keys change.
    """

    def __init__(self) -> None:
        self._serializer: tuple[tuple, URLSafeTimedSerializer] | None = None

    def get_cookie_secure(self, app: Flask) -> bool:
        return bool(app.config["SESSION_COOKIE_SECURE"]) or (has_request_context() and request.is_secure)

    def get_signing_serializer(self, app: Flask) -> URLSafeTimedSerializer | None:
        if not app.secret_key:
            return None
        keys = (*(app.config.get("SECRET_KEY_FALLBACKS") or ()), app.secret_key)
        cached = self._serializer
        if cached is not None and cached[0] == keys:
            return cached[1]
        serializer = URLSafeTimedSerializer(
            list(keys),
            salt=self.salt,
            serializer=self.serializer,
            signer=_KeyCachingSigner,
            signer_kwargs={"key_derivation": self.key_derivation, "digest_method": self.digest_method},
        )
        self._serializer = (keys, serializer)
        return serializer


def create_app(
    study_dir: str | Path,
    admin_token: str | None = None,
    database_url: str | None = None,
    clock: Clock | None = None,
    secret_key: str | None = None,
    testing: bool = False,
    crowd_mode: str = AUTO,
    verifier: AssignmentVerifier | None = None,
    submit_origins: tuple[str, ...] = (),
    busy_timeout: float = DEFAULT_BUSY_TIMEOUT,
    pool_size: int | None = None,
) -> Flask:
    """The study's web app: worker pages at ``/``, admin at ``/admin``, JSON at ``/api``.

    ``admin_token`` None turns the dashboard and admin API off. ``clock`` (a callable
    returning an aware UTC datetime) lets tests move time for the assignment timeout.
    ``crowd_mode`` is auto (closed when ``verifier`` is given, else open), closed, open
    or off (see study.verification); ``submit_origins`` adds origins ``turkSubmitTo`` may
    name besides Mechanical Turk's (a local stand-in of the platform). ``busy_timeout``
    bounds waiting for a database lock before the request is retried, then answered 503.
    """
    study_dir = Path(study_dir).resolve()
    spec = load_study_file(study_dir)
    crowd = resolve_crowd_mode(crowd_mode, verifier)
    db = open_study_database(study_dir, database_url, spec=spec, busy_timeout=busy_timeout, pool_size=pool_size)
    clock = clock or utcnow
    allocator = Allocator(db.study_id, timedelta(minutes=spec.settings.assignment_timeout_minutes), clock)

    app = Flask(__name__, static_folder=None, template_folder=None)
    app.session_interface = _SessionInterface()
    app.jinja_loader = ChoiceLoader([FileSystemLoader(str(templates_dir())), FileSystemLoader(str(hit_templates_dir()))])
    # Worker text is untrusted: escape everything, whatever the template's extension.
    app.jinja_env.autoescape = True
    # Compiled now rather than by the first worker's request (each server process does this once).
    for name in WORKER_TEMPLATES:
        app.jinja_env.get_template(name)
    app.config.update(
        SECRET_KEY=secret_key or _secret_key(study_dir),
        MAX_CONTENT_LENGTH=MAX_FORM_BYTES,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        PERMANENT_SESSION_LIFETIME=timedelta(days=7),
        TESTING=testing,
    )
    app.extensions[EXTENSION_KEY] = StudyContext(
        study_dir=study_dir,
        spec=spec,
        db=db,
        allocator=allocator,
        clock=clock,
        admin_token=admin_token or None,
        crowd_mode=crowd,
        verifier=verifier,
        submit_origins=(*MTURK_ORIGINS, *submit_origins),
        flow=WorkerFlow(db, spec, allocator),
    )
    app.before_request(check_request)
    app.register_blueprint(worker.bp)
    app.register_blueprint(admin.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(prolific.bp)

    @app.after_request
    def security_headers(response):
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        # Pages carry their small scripts and styles inline; everything else comes from here.
        csp = "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; script-src 'self' 'unsafe-inline'; object-src 'none'; base-uri 'none'"
        if request.path.startswith("/admin") or request.path.startswith("/api"):
            # HIT pages must work inside a crowd platform's iframe; admin pages never should.
            response.headers.setdefault("X-Frame-Options", "DENY")
            response.headers.setdefault("Cache-Control", "no-store")
            csp += "; frame-ancestors 'none'"
        response.headers.setdefault("Content-Security-Policy", csp)
        return response

    @app.errorhandler(DatabaseBusy)
    def database_busy(exc: DatabaseBusy):
        response = http_error(ServiceUnavailable(description=str(exc)))
        response.headers["Retry-After"] = str(exc.retry_after)
        return response

    @app.errorhandler(DBAPIError)
    @app.errorhandler(PoolTimeout)
    def database_error(exc):
        # Busy outside a retried transaction (a read): the same 503 as after retries.
        if not is_busy(exc):
            raise exc
        return database_busy(DatabaseBusy())

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        message = exc.description or exc.name
        if exc.code == 413:
            message = f"the form is larger than {MAX_FORM_BYTES // 1024} KB; shorten your answers"
        if request.path.startswith("/api"):
            response = jsonify({"error": message, "status": exc.code})
        else:
            response = app.make_response(render_template("study/error.html", code=exc.code, title=exc.name, message=message))
        response.status_code = exc.code
        for name, value in exc.get_headers():
            if name.lower() == "retry-after":
                response.headers[name] = value
        return response

    return app
