"""Refuse malformed requests before any handler runs: NUL bytes, invalid UTF-8, unbounded numbers.

Werkzeug silently drops an URL-encoded body that is not UTF-8 (the form then looks
empty, so a worker would be told their security token is missing), and PostgreSQL
refuses NUL characters in text with an error; both become a 400 that says what is wrong.
"""

from __future__ import annotations

from urllib.parse import unquote_to_bytes

from flask import abort, request

_NUL_MESSAGE = "the request contains a NUL character (\\x00), which no field may hold"
_UTF8_MESSAGE = "the request is not valid UTF-8 text; check the page's character encoding and send again"


def _check_urlencoded(raw: bytes, where: str) -> None:
    for part in raw.replace(b";", b"&").split(b"&"):
        decoded = unquote_to_bytes(part.replace(b"+", b" "))
        if b"\x00" in decoded:
            abort(400, description=_NUL_MESSAGE)
        try:
            decoded.decode("utf-8")
        except UnicodeDecodeError:
            abort(400, description=f"{_UTF8_MESSAGE} ({where})")


def check_request() -> None:
    """A ``before_request`` hook of the app."""
    if "\x00" in request.path:
        abort(400, description=_NUL_MESSAGE)
    _check_urlencoded(request.query_string, "address")
    if request.method in ("POST", "PUT", "PATCH"):
        if request.mimetype == "application/x-www-form-urlencoded":
            _check_urlencoded(request.get_data(cache=True), "form")
        elif request.mimetype == "multipart/form-data":
            for key, value in request.form.items(multi=True):
                if "\x00" in key or "\x00" in value:
                    abort(400, description=_NUL_MESSAGE)
        elif request.is_json:
            try:
                request.get_data(cache=True).decode("utf-8")
            except UnicodeDecodeError:
                abort(400, description=f"{_UTF8_MESSAGE} (JSON body)")
            if b"\\u0000" in request.get_data(cache=True):
                abort(400, description=_NUL_MESSAGE)


def int_arg(name: str, default: int, low: int, high: int) -> int:
    """An integer query parameter within [low, high]; anything else is a 400 naming it."""
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 9:
        abort(400, description=f"{name} must be a whole number from {low} to {high}, got {raw[:20]!r}")
    value = int(raw)
    if not low <= value <= high:
        abort(400, description=f"{name} must be from {low} to {high}, got {value}")
    return value
