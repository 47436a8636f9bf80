"""Content hashes that tell a rerun whether its inputs changed (checkpoints, data files)."""

from __future__ import annotations

import hashlib
from pathlib import Path


def file_fingerprint(path: Path) -> str:
    digest = hashlib.sha1()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def model_fingerprint(spec: str) -> str:
    """The checkpoint's content hash for shipped models and paths, else the spec itself."""
    from analysis_core.models.loading import SHIPPED, shipped_model_path

    path = shipped_model_path(spec) if spec in SHIPPED else Path(spec)
    return file_fingerprint(path) if path.is_file() else spec
