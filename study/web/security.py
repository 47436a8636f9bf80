"""CSRF tokens for local forms, signed tokens for crowd forms, and admin authentication.

Local forms carry a token kept in the session cookie. Crowd pages run inside the
platform's iframe, where browsers may withhold our cookies (third-party context), so their
forms carry a token signed with the app's secret that binds the HIT to the platform's
assignment id instead.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime, timezone

from flask import abort, current_app, request, session
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

CSRF_KEY = "csrf_token"
_FORM_SALT = "barlow-hit-form"


def csrf_token() -> str:
    token = session.get(CSRF_KEY)
    if not token:
        token = secrets.token_urlsafe(32)
        session[CSRF_KEY] = token
    return token


def check_csrf() -> None:
    sent = request.form.get(CSRF_KEY, "") or request.headers.get("X-CSRF-Token", "")
    expected = session.get(CSRF_KEY, "")
    if not expected or not sent or not hmac.compare_digest(sent, expected):
        abort(400, description="the form's security token is missing or out of date; reload the page and try again")


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.secret_key, salt=_FORM_SALT)


def _crowd_fields(hit_key: str, mode) -> dict:
    # Everything the hand-off depends on is signed: where the answers are posted to
    # (turkSubmitTo) included, so a changed form cannot send them to another host.
    return {"hit": hit_key, "assignment": mode.assignment_id, "worker": mode.worker_id, "platform_hit": mode.platform_hit_id, "submit_to": mode.submit_to}


def crowd_form_token(hit_key: str, mode) -> str:
    """A token binding the form to this HIT, assignment, worker and submit address."""
    return _serializer().dumps(_crowd_fields(hit_key, mode))


def check_crowd_form_token(token: str, hit_key: str, mode, max_age_seconds: int) -> datetime:
    """Check the token against the submitted form; return when the page was opened (UTC)."""
    try:
        data, issued = _serializer().loads(token, max_age=max_age_seconds, return_timestamp=True)
    except SignatureExpired:
        abort(400, description="this HIT page is too old; reload it from the crowd platform")
    except BadSignature:
        abort(400, description="the form's security token is missing or invalid; reload the page")
    if not isinstance(data, dict) or data.get("hit") != hit_key or data.get("assignment") != mode.assignment_id:
        abort(400, description="the form's security token belongs to another HIT or assignment")
    if data != _crowd_fields(hit_key, mode):
        abort(400, description="the form's crowd-platform fields were changed after the page was opened; reload the HIT")
    return issued.astimezone(timezone.utc)


def token_matches(sent: str | None, admin_token: str | None) -> bool:
    return bool(sent) and bool(admin_token) and hmac.compare_digest(str(sent), str(admin_token))


def bearer_token() -> str | None:
    header = request.headers.get("Authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip()
    return request.headers.get("X-Admin-Token")


def admin_fingerprint(admin_token: str) -> str:
    """What the admin session stores: a server restart with another token ends old sessions."""
    return hmac.new(current_app.secret_key.encode() if isinstance(current_app.secret_key, str) else current_app.secret_key,
                    admin_token.encode(), hashlib.sha256).hexdigest()[:32]
