"""Named pipeline steps that a rerun skips when their outputs exist and their inputs are unchanged.

Each step records a fingerprint of its parameters and input files in ``<out>/.steps/<step>.json``.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from analysis_core import __version__
from analysis_core.artifacts.atomic import atomic_path
from analysis_core.artifacts.errors import BarlowError
from analysis_core.fingerprints import file_fingerprint


@dataclass
class StepOutcome:
    name: str
    seconds: float
    reused: bool


def fingerprint(params: dict, inputs: list[Path]) -> str:
    payload = {"barlow": __version__, "params": params, "inputs": {str(p.name): file_fingerprint(p) for p in inputs if p.is_file()}}
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


class StepRunner:
    """Run named steps, skipping those whose outputs exist with a matching fingerprint."""

    def __init__(self, out: Path, force: bool = False, log: Callable[[str], None] = print):
        self.records = out / ".steps"
        self.force = force
        self.log = log
        self.outcomes: list[StepOutcome] = []

    def run(self, name: str, params: dict, inputs: list[Path], outputs: list[Path], action: Callable[[], None]) -> None:
        key = fingerprint(params, inputs)
        record = self.records / f"{name}.json"
        previous = json.loads(record.read_text()).get("key") if record.is_file() else None
        start = time.perf_counter()
        if not self.force and previous == key and all(p.exists() for p in outputs):
            self.log(f"[{name}] up to date, reused")
            self.outcomes.append(StepOutcome(name, 0.0, True))
            return
        self.log(f"[{name}] running")
        action()
        missing = [str(p) for p in outputs if not p.exists()]
        if missing:
            raise BarlowError(f"step {name} finished without writing {missing[0]}")
        seconds = time.perf_counter() - start
        with atomic_path(record) as tmp:
            tmp.write_text(json.dumps({"key": key, "params": params, "seconds": round(seconds, 2)}, indent=1, default=str))
        self.log(f"[{name}] done in {seconds:.1f} s")
        self.outcomes.append(StepOutcome(name, seconds, False))
