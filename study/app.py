"""Flask application factory for serving one study."""

from __future__ import annotations

import os
import secrets
from datetime import timedelta
from pathlib import Path

from flask import Flask, jsonify, render_template, request
from jinja2 import ChoiceLoader, FileSystemLoader
from werkzeug.exceptions import HTTPException

from analysis_core.resources import hit_templates_dir, templates_dir
from study.allocation import Allocator, Clock
from study.db import open_study_database
from study.hits import load_hits
from study.models import utcnow
from study.study_file import load_study_file
from study.web import admin, api, prolific, worker
from study.web.context import EXTENSION_KEY, StudyContext

SECRET_FILE = ".secret_key"
MAX_FORM_BYTES = 256 * 1024


def _secret_key(study_dir: Path) -> str:
    """A per-study secret kept in the study folder, so sessions survive a restart."""
    path = study_dir / SECRET_FILE
    if path.is_file():
        return path.read_text(encoding="ascii").strip()
    key = secrets.token_hex(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as fh:
        fh.write(key)
    return key


def create_app(
    study_dir: str | Path,
    admin_token: str | None = None,
    database_url: str | None = None,
    clock: Clock | None = None,
    secret_key: str | None = None,
    testing: bool = False,
) -> Flask:
    """The study's web app: worker pages at ``/``, admin at ``/admin``, JSON at ``/api``.

    ``admin_token`` None turns the dashboard and admin API off. ``clock`` (a callable
    returning an aware UTC datetime) lets tests move time for the assignment timeout.
    """
    study_dir = Path(study_dir).resolve()
    spec = load_study_file(study_dir)
    hits = load_hits(study_dir)
    db = open_study_database(study_dir, database_url, spec=spec)
    clock = clock or utcnow
    allocator = Allocator(db.study_id, timedelta(minutes=spec.settings.assignment_timeout_minutes), clock)

    app = Flask(__name__, static_folder=None, template_folder=None)
    app.jinja_loader = ChoiceLoader([FileSystemLoader(str(templates_dir())), FileSystemLoader(str(hit_templates_dir()))])
    # Worker text is untrusted: escape everything, whatever the template's extension.
    app.jinja_env.autoescape = True
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
        hits={h.key: h for h in hits},
        db=db,
        allocator=allocator,
        clock=clock,
        admin_token=admin_token or None,
    )
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

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        message = exc.description or exc.name
        if exc.code == 413:
            message = f"the form is larger than {MAX_FORM_BYTES // 1024} KB; shorten your answers"
        if request.path.startswith("/api"):
            return jsonify({"error": message, "status": exc.code}), exc.code
        return render_template("study/error.html", code=exc.code, title=exc.name, message=message), exc.code

    return app
