"""barlow study serve: a real server process (waitress, or gunicorn with --workers) answering on the printed URLs."""

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(study_dir, *extra):
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "barlow.cli", "study", "serve", str(study_dir), "--port", str(port), "--admin-token", "tok-1", *extra],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=os.environ | {"PYTHONUNBUFFERED": "1"},
    )
    lines = []
    deadline = time.time() + 60
    while time.time() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line)
        if "press Ctrl+C" in line:
            break
    return proc, port, "".join(lines)


def get(url, token=None):
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"} if token else {})
    return urllib.request.urlopen(request, timeout=10)


def wait_until_up(url, token, seconds=30):
    deadline = time.time() + seconds
    while True:
        try:
            return json.load(get(url, token))
        except (urllib.error.URLError, ConnectionError):
            if time.time() > deadline:
                raise
            time.sleep(0.2)


def stop(proc):
    proc.terminate()
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


@pytest.mark.slow
def test_serve_prints_urls_and_answers(study_dir):
    proc, port, printed = start_server(study_dir)
    try:
        assert f"http://127.0.0.1:{port}/" in printed and "/admin?token=tok-1" in printed, printed
        with pytest.raises(urllib.error.HTTPError) as anonymous:
            get(f"http://127.0.0.1:{port}/api/status")
        assert anonymous.value.code == 401
        status = json.load(get(f"http://127.0.0.1:{port}/api/status", "tok-1"))
        assert status["hits"] == 12 and status["submitted"] == 0
        with get(f"http://127.0.0.1:{port}/hit/h0001?assignmentId=ASSIGNMENT_ID_NOT_AVAILABLE") as r:
            assert r.headers["Server"].startswith("barlow-study") or "waitress" in r.headers.get("Server", "")
            assert "Section C" in r.read().decode()
    finally:
        stop(proc)


def _children(pid: int) -> list[int]:
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]


@pytest.mark.slow
def test_serve_with_several_workers_survives_a_killed_process(study_dir):
    proc, port, printed = start_server(study_dir, "--workers", "2", "--threads", "2")
    try:
        assert "2 processes x 2 threads" in printed, printed
        base = f"http://127.0.0.1:{port}"
        assert wait_until_up(base + "/api/status", "tok-1")["hits"] == 12
        deadline = time.time() + 30
        while len(_children(proc.pid)) < 2 and time.time() < deadline:
            time.sleep(0.2)
        children = _children(proc.pid)
        assert len(children) == 2, children
        os.kill(children[0], signal.SIGKILL)
        # The other process keeps answering, and gunicorn starts a replacement.
        for _ in range(10):
            assert wait_until_up(base + "/api/status", "tok-1")["hits"] == 12
        deadline = time.time() + 30
        while (len(_children(proc.pid)) < 2 or children[0] in _children(proc.pid)) and time.time() < deadline:
            time.sleep(0.2)
        assert len(_children(proc.pid)) == 2
    finally:
        stop(proc)


def test_serve_bad_study_is_a_clear_error(tmp_path, capsys):
    from barlow.cli import main

    assert main(["study", "serve", str(tmp_path / "none")]) == 2
    assert "no study file" in capsys.readouterr().err


def test_serve_refuses_closed_crowd_mode_without_a_verifier(study_dir, capsys):
    from barlow.cli import main

    assert main(["study", "serve", str(study_dir), "--crowd", "closed", "--port", str(free_port())]) == 2
    assert "closed crowd mode needs a platform adapter" in capsys.readouterr().err


def test_queue_depth_log_lines_are_rate_limited():
    import logging

    from study.server import RateLimitedLog

    now = [0.0]
    records = []
    logger = logging.getLogger("test.barlow.queue")
    logger.propagate = False
    handler = logging.Handler()
    handler.emit = records.append
    logger.addHandler(handler)
    logger.addFilter(RateLimitedLog(60, clock=lambda: now[0]))
    for i in range(5000):
        logger.warning("Task queue depth is %d", i)
        now[0] += 0.01  # 5000 lines in 50 s
    now[0] += 20
    logger.warning("Task queue depth is %d", 1)
    assert len(records) == 2
    assert re.search(r"4999 similar messages", records[1].getMessage())


def test_a_published_study_verifies_crowd_answers(study_dir):
    """`barlow study publish` records the platform in the database; serving then uses its verifier."""
    from study.db import open_study_database
    from study.models import Study
    from study.platforms.connect import study_verifier
    from study.verification import AssignmentVerifier, resolve_crowd_mode

    assert study_verifier(study_dir) is None
    db = open_study_database(study_dir)
    with db.sessions.begin() as s:
        study = s.get(Study, db.study_id)
        study.platform, study.platform_sandbox = "mturk", True
    db.dispose()
    verifier = study_verifier(study_dir)
    assert isinstance(verifier, AssignmentVerifier) and type(verifier).__module__ == "study.platforms.mturk"
    assert resolve_crowd_mode("auto", verifier) == "closed"
