"""barlow study serve: a real waitress process answering on the printed URLs."""

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request

import pytest


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_serve_prints_urls_and_answers(study_dir):
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "analysis_core.cli", "study", "serve", str(study_dir), "--port", str(port), "--admin-token", "tok-1"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=os.environ | {"PYTHONUNBUFFERED": "1"},
    )
    try:
        lines = []
        deadline = time.time() + 60
        while time.time() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line)
            if "press Ctrl+C" in line:
                break
        printed = "".join(lines)
        assert f"http://127.0.0.1:{port}/" in printed and "/admin?token=tok-1" in printed, printed
        status = json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/api/status", timeout=10))
        assert status["hits"] == 12 and status["submitted"] == 0
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/hit/h0001?assignmentId=ASSIGNMENT_ID_NOT_AVAILABLE", timeout=10) as r:
            assert r.headers["Server"].startswith("barlow-study") or "waitress" in r.headers.get("Server", "")
            assert "Section C" in r.read().decode()
    finally:
        proc.terminate()
        proc.wait(10)


def test_serve_bad_study_is_a_clear_error(tmp_path, capsys):
    from analysis_core.cli import main

    assert main(["study", "serve", str(tmp_path / "none")]) == 2
    assert "no study file" in capsys.readouterr().err
