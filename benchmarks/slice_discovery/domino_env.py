"""Try to install the peer's own package (PyPI ``domino`` 0.1.5) in an isolated virtual environment.

The venv lives in the cache folder, never in the repository. The outcome (command, exit status,
the error pip or Python gave) is written to ``domino_install.json`` in the results folder, so
the results say exactly why the from-paper versions were used.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

PACKAGE = "domino==0.1.5"
RECORD = "domino_install.json"


def _tail(text: str, lines: int = 4) -> str:
    kept = [line for line in text.strip().splitlines() if line.strip() and not line.startswith("WARNING")]
    return "\n".join(kept[-lines:])


def try_install(cache: Path, timeout: int = 600) -> dict:
    venv = cache / "domino-venv"
    python = venv / "bin" / "python"
    steps = [
        [sys.executable, "-m", "venv", str(venv)],
        # Binary wheels only: building scikit-learn 0.24.2 from source would take many minutes and fail anyway.
        [str(python), "-m", "pip", "install", "--only-binary", ":all:", PACKAGE],
        [str(python), "-c", "from domino import DominoSlicer, SpotlightSlicer"],
    ]
    for command in steps:
        if command[1:3] == ["-m", "venv"] and python.is_file():
            continue
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            return {"status": "failed", "command": " ".join(command[1:]), "error": f"timed out after {timeout}s"}
        if done.returncode != 0:
            return {"status": "failed", "command": " ".join(command[1:]), "returncode": done.returncode,
                    "error": _tail(done.stderr or done.stdout)}
    return {"status": "imported", "command": " ".join(steps[1][1:])}


def load_or_try(cache: Path, out: Path, skip: bool = False) -> dict:
    record = out / RECORD
    if skip and record.is_file():
        return json.loads(record.read_text())
    outcome = try_install(cache)
    outcome["package"] = PACKAGE
    record.write_text(json.dumps(outcome, indent=2) + "\n")
    return outcome
