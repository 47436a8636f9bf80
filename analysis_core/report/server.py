"""Serve a written report folder over HTTP (``barlow report --serve``)."""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, Flask, abort, current_app, send_from_directory

report_blueprint = Blueprint("report", __name__)


@report_blueprint.route("/")
def index():
    return send_from_directory(current_app.config["REPORT_DIR"], "index.html")


@report_blueprint.route("/<path:filename>")
def asset(filename: str):
    # send_from_directory refuses paths that leave the folder (../), so only the
    # report's own files are reachable.
    if filename.startswith("."):
        abort(404)
    return send_from_directory(current_app.config["REPORT_DIR"], filename)


def create_app(report_dir: str | Path) -> Flask:
    """Flask application serving one report folder, read-only."""
    report_dir = Path(report_dir).resolve()
    app = Flask(__name__)
    app.config["REPORT_DIR"] = str(report_dir)
    app.register_blueprint(report_blueprint)
    return app
