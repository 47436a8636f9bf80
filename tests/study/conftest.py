"""Fixtures for the study tests: an analysis folder with trees and A/B/C strips, and studies made from it."""

from __future__ import annotations

import itertools
import json
import os
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pytest

from study.allocation import Allocator
from study.db import open_study_database
from tests.images import pattern_strip

CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]


def make_analysis(root: Path, n_features: int = 12, visualize: list[int] | None = None) -> Path:
    """An analysis folder in the shapes of contracts 4 and 5 (trees.json, visualizations/)."""
    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    groups = []
    for grouping in ("label", "prediction"):
        for i, cls in enumerate(CLASSES):
            ber = float(round(0.02 + 0.03 * ((i * 7) % 10), 4))
            feats = rng.choice(n_features, size=4, replace=False)
            mis = sorted(rng.uniform(0.01, 0.3, size=4), reverse=True)
            groups.append(
                {
                    "grouping": grouping,
                    "class": cls,
                    "n": 1000,
                    "n_fail": int(ber * 1000),
                    "ber": ber,
                    "aler": ber / 2,
                    "aler_minus_ber": -ber / 2,
                    "depth": 1,
                    "selected_features": [{"feature": int(f), "mi": float(m)} for f, m in zip(feats, mis)],
                    "nodes": [],
                    "leaves": [],
                }
            )
    (root / "trees.json").write_text(json.dumps({"version": 1, "params": {}, "inputs": {}, "total_failures": 0, "groups": groups}))
    vis = root / "visualizations"
    features = {}
    for fid in range(n_features) if visualize is None else visualize:
        for j, s in enumerate("ABC"):
            pattern_strip(vis / f"feature_{fid}" / f"{s}.png", seed=fid * 3 + j)
        features[str(fid)] = {s: f"feature_{fid}/{s}.png" for s in "ABC"} | {"top_rows": [], "top_values": []}
    (vis / "index.json").write_text(
        json.dumps({"version": 1, "features_model": "fmnist-robust", "dataset": "fashion-mnist", "features": features, "leaves": {}})
    )
    return root


@pytest.fixture(scope="session")
def analysis_dir(tmp_path_factory) -> Path:
    """Read-only for tests: built once per run (drawing the strips takes a moment)."""
    return make_analysis(tmp_path_factory.mktemp("analysis"))


def make_study(analysis: Path, out: Path, **kw) -> Path:
    from study.create import CreateOptions, create_study
    from study.db import open_study_database

    options = CreateOptions(**kw)
    spec, _ = create_study(analysis, out, options)
    open_study_database(out, spec=spec).dispose()
    return out


@pytest.fixture
def study_dir(analysis_dir, tmp_path) -> Path:
    """A small study: top/middle/bottom 1 class per grouping, 2 features each = 12 HITs, 2 workers per HIT."""
    return make_study(analysis_dir, tmp_path / "study", top_n=1, top_m=2, assignments_per_hit=2)


class FakeClock:
    """A clock tests move by hand, so timeouts are tested without sleeping."""

    def __init__(self, start: datetime | None = None):
        self.now = start or datetime(2026, 1, 5, 12, 0, tzinfo=timezone.utc)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kw) -> None:
        self.now += timedelta(**kw)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def analysis_factory():
    """make_analysis(root, n_features=12, visualize=None) -> analysis folder."""
    return make_analysis


@pytest.fixture
def study_factory():
    """make_study(analysis, out, **CreateOptions) -> study folder with its database."""
    return make_study


# ---------------------------------------------------------------- PostgreSQL

_PG_DATABASES = itertools.count()


def _pg_bindir() -> Path | None:
    import glob
    import shutil

    found = shutil.which("initdb")
    if found:
        return Path(found).parent
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parent.parent.name), reverse=True)
    return Path(candidates[0]).parent if candidates else None


@pytest.fixture(scope="session")
def postgres_server(tmp_path_factory):
    """A throwaway PostgreSQL cluster for this test run: yields a URL without a database name.

    initdb and pg_ctl refuse to run as root, so as root the cluster belongs to the
    ``postgres`` system user (Debian's package creates it). Skips only where PostgreSQL is
    not installed at all.
    """
    import pwd
    import shutil
    import socket
    import subprocess
    import tempfile

    bindir = _pg_bindir()
    if bindir is None:
        pytest.skip("PostgreSQL is not installed: apt-get install postgresql")
    # Not under pytest's basetemp: that folder is private to root, and the cluster may run as postgres.
    root = Path(tempfile.mkdtemp(prefix="barlow-pg-"))
    data, sockets = root / "data", root / "sock"
    sockets.mkdir()
    prefix: list[str] = []
    if os.geteuid() == 0:
        user = pwd.getpwnam("postgres")
        for path in (root, sockets):
            os.chown(path, user.pw_uid, user.pw_gid)
        prefix = ["runuser", "-u", "postgres", "--"]
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    run = lambda *cmd: subprocess.run([*prefix, *cmd], check=True, capture_output=True, text=True)  # noqa: E731
    run(str(bindir / "initdb"), "-D", str(data), "-A", "trust", "-U", "barlow", "--no-sync", "-E", "UTF8")
    options = f"-p {port} -c listen_addresses=127.0.0.1 -k {sockets} -c fsync=off -c synchronous_commit=off -c max_connections=300"
    run(str(bindir / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(root / "log"), "-w", "-t", "60", "start")
    try:
        yield f"postgresql+psycopg://barlow@127.0.0.1:{port}"
    finally:
        subprocess.run([*prefix, str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"], capture_output=True)
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def postgres_url(postgres_server):
    """A fresh, empty database on the test cluster (one per test)."""
    import psycopg

    name = f"t{os.getpid()}_{next(_PG_DATABASES)}"
    with psycopg.connect(postgres_server.replace("postgresql+psycopg", "postgresql") + "/postgres", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return f"{postgres_server}/{name}"


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path):
    """Run a test on both backends: None means the study folder's SQLite file."""
    if request.param == "sqlite":
        return None
    return request.getfixturevalue("postgres_url")


ANSWERS = {"description": "round soles of shoes", "ease": "3", "confidence": "4", "useful_view": "B"}


@pytest.fixture
def db(study_dir, database_url):
    """The study's database on SQLite and on a real PostgreSQL server (each test runs on both)."""
    database = open_study_database(study_dir, database_url)
    yield database
    database.dispose()


@pytest.fixture
def allocator(db, clock):
    """The study's allocator on ``db``, with the test clock."""
    return Allocator(db.study_id, timedelta(minutes=30), clock)
