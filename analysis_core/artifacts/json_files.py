"""Read the JSON files that Barlow's steps hand to each other, with errors that name the file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from analysis_core.artifacts.errors import BarlowError


def read_json(path: str | Path, hint: str = "") -> Any:
    """Parse ``path``; a broken file is a BarlowError naming it, its line and ``hint``."""
    return parse_json(Path(path).read_bytes(), path, hint)


def parse_json(raw: bytes, path: str | Path, hint: str = "") -> Any:
    """Parse the bytes read from ``path`` (for callers that also hash them)."""
    try:
        return json.loads(raw)
    except json.JSONDecodeError as exc:
        raise BarlowError(f"{path} is not valid JSON (line {exc.lineno}: {exc.msg}){'; ' + hint if hint else ''}") from None


def read_json_or_empty(path: str | Path) -> dict:
    """A cache or record file: missing or broken reads as empty, so the step is simply redone."""
    path = Path(path)
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_bytes())
    except json.JSONDecodeError:
        return {}
    return data if isinstance(data, dict) else {}
