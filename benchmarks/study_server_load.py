"""The study server under a crowd: N simulated workers against a real `barlow study serve`.

Each simulated worker does what a browser does: GET / (CSRF token) -> POST /start -> follow
its redirect to GET /next (the HIT page, with its form and token) -> POST the form to its
action (/hit/<key>/submit) -> follow the redirect to the next HIT page (/next?saved=<key>,
which says "Your answer is saved"), until the server says the study is done: two requests
per HIT (there was a thank-you page between HITs before, three). The simulated browsers are
threads of this process speaking HTTP/1.1 on plain sockets (not http.client nor httpx, to
leave the shared cores to the server: see BrowserConnection), with no think time. Afterwards the database and the
admin export are checked against what every client was told:

  lost          answers acknowledged to a client ("Your answer is saved") but not stored
  changed       stored answers that differ from what the client sent
  duplicates    more than one stored answer set per (HIT, worker)
  over-assigned HITs holding more answer sets than their assignment count
  unfilled      open slots left when every client had been told "All done"
  export        rows in the admin's MTurk CSV export != answer sets in the database

and it prints answers/s, p50/p95/p99 latency per request kind, errors and 5xx, and the CPU
time per answered HIT of the server processes (all of them, from when every process has
started until the last client is done), of the PostgreSQL cluster and of the load
generator itself (they share the machine). The reference measured in the same run is the
single-process server (`--workers 1`): the ratio column is throughput against it. A fault run kills one server process with
SIGKILL in the middle (`--kill`); clients retry what failed, as a worker would reload.

    python benchmarks/study_server_load.py                      # the default matrix (~5 min on 2 cores)
    python benchmarks/study_server_load.py --scenario sqlite:2:50 --scenario postgresql:2:200:keepalive
"""

from __future__ import annotations

import argparse
import html
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import httpx

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "bench-token"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
FORM_ACTION = re.compile(r'<form[^>]*id="hit-form"[^>]*action="([^"]+)"')


# ------------------------------------------------------------------ setup


def make_study(folder: Path, n_hits: int, assignments: int) -> Path:
    from study.hits import HitSpec, write_hits
    from study.study_file import default_spec, write_study_file

    folder.mkdir(parents=True)
    spec = default_spec("load-test")
    spec.settings.assignments_per_hit = assignments
    write_study_file(spec, folder)
    hits = [
        HitSpec(key=f"h{i + 1:04d}", grouping="label", class_name=f"class {i % 10}", feature=i,
                images={s: f"images/feature_{i}/{s}.png" for s in "ABC"})
        for i in range(n_hits)
    ]
    write_hits(hits, folder / "hits.csv")
    # Clients never fetch the images (the server only links them), but the study needs the files.
    from PIL import Image

    tile = folder / "tile.png"
    Image.new("RGB", (8, 8), (120, 80, 40)).save(tile)
    for h in hits:
        for rel in h.images.values():
            (folder / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(tile, folder / rel)
    return folder


def start_postgres(root: Path) -> tuple[str, callable]:
    """A throwaway PostgreSQL cluster (as the postgres user when run as root)."""
    import glob

    bindir = Path(sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))[-1]).parent if not shutil.which("initdb") else Path(shutil.which("initdb")).parent
    data, sockets = root / "pgdata", root / "pgsock"
    root.mkdir(parents=True, exist_ok=True)
    sockets.mkdir()
    prefix = []
    if os.geteuid() == 0:
        import pwd

        user = pwd.getpwnam("postgres")
        os.chmod(root.parent, 0o755)  # mkdtemp's folder is private to root
        for path in (root, sockets):
            os.chown(path, user.pw_uid, user.pw_gid)
        prefix = ["runuser", "-u", "postgres", "--"]
    port = free_port()
    subprocess.run([*prefix, str(bindir / "initdb"), "-D", str(data), "-A", "trust", "-U", "barlow", "--no-sync"], check=True, capture_output=True)
    opts = f"-p {port} -c listen_addresses=127.0.0.1 -k {sockets} -c max_connections=400"
    subprocess.run([*prefix, str(bindir / "pg_ctl"), "-D", str(data), "-o", opts, "-l", str(root / "pg.log"), "-w", "start"], check=True, capture_output=True)

    def stop():
        subprocess.run([*prefix, str(bindir / "pg_ctl"), "-D", str(data), "-m", "fast", "stop"], capture_output=True)

    return f"postgresql+psycopg://barlow@127.0.0.1:{port}", stop


def new_pg_database(server: str, name: str) -> str:
    import psycopg

    with psycopg.connect(server.replace("postgresql+psycopg", "postgresql") + "/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    return f"{server}/{name}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(study: Path, port: int, workers: int, threads: int, connection_limit: int, database_url: str | None):
    cmd = [sys.executable, "-m", "barlow.cli", "study", "serve", str(study), "--port", str(port),
           "--admin-token", TOKEN, "--workers", str(workers), "--threads", str(threads),
           "--connection-limit", str(connection_limit)]
    if database_url:
        cmd += ["--database-url", database_url]
    log = open(study / "server.log", "w")
    env = os.environ | {"PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    deadline = time.time() + 90
    with httpx.Client(timeout=5) as client:
        while time.time() < deadline:
            try:
                if client.get(f"http://127.0.0.1:{port}/api/status", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200:
                    return proc
            except httpx.HTTPError:
                pass
            if proc.poll() is not None:
                break
            time.sleep(0.3)
    proc.kill()
    raise RuntimeError("the server did not start:\n" + (study / "server.log").read_text()[-3000:])


def cpu_seconds(pgid: int | None = None, parent: int | None = None) -> float:
    """CPU time (user + system, reaped children included) of the processes of a process group,
    or of one process and its children. Linux only (reads /proc).

    The server runs in its own session (start_new_session), so its process group id is its
    pid: gunicorn's arbiter and its workers all count, and a worker killed and reaped mid-run
    stays counted in the arbiter's children's time. PostgreSQL gives every backend its own
    session, so the database is counted as the postmaster and its children.
    """
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        # Fields after the command name: state ppid pgrp ... utime stime cutime cstime (11 to 14).
        pid, ppid, group = int(stat.parent.name), int(fields[1]), int(fields[2])
        if group == pgid or (parent is not None and parent in (pid, ppid)):
            total += sum(int(f) for f in fields[11:15])
    return total / ticks


def postmaster_pid(pg_root: Path) -> int | None:
    try:
        return int((pg_root / "pgdata" / "postmaster.pid").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def wait_until_idle(proc, timeout: float = 60.0) -> None:
    """Wait until every server process has finished starting (imports, app setup), so their
    start-up CPU is not counted as the cost of answering HITs: the first process answering
    does not mean the others are ready."""
    deadline = time.time() + timeout
    last = cpu_seconds(pgid=proc.pid)
    while time.time() < deadline:
        time.sleep(0.5)
        now = cpu_seconds(pgid=proc.pid)
        if now - last < 0.02:
            return
        last = now


def stop_server(proc) -> None:
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(20)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(5)


# ------------------------------------------------------------------ clients


@dataclass
class Tally:
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    acknowledged: dict[tuple[str, str], str] = field(default_factory=dict)  # (worker, hit) -> description
    errors: list[str] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=lambda: defaultdict(int))
    server_errors: dict[str, int] = field(default_factory=lambda: defaultdict(int))  # "kind status" -> count
    done_workers: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


@dataclass
class Reply:
    status_code: int
    headers: dict[str, str]
    text: str


class ProtocolError(Exception):
    """The server's answer is not the HTTP/1.1 this client reads."""


class BrowserConnection:
    """One simulated browser: an HTTP/1.1 connection (kept alive or not) and its cookies.

    HTTP/1.1 spoken on a plain socket: on a 2-core machine the load generator shares the CPU
    with the server it measures, and each of its requests costs the server CPU too. httpx
    costs several times what http.client does per request, and http.client (header parsing
    through the email package) about twice what this does. It reads what the study server
    sends: a status line, headers, then a body of Content-Length bytes or in chunks.
    """

    def __init__(self, base: str, keepalive: bool, timeout: float = 60):
        parts = urlsplit(base)
        self.host, self.port, self.keepalive, self.timeout = parts.hostname, parts.port, keepalive, timeout
        self.cookies: dict[str, str] = {}
        self.sock: socket.socket | None = None
        self.buffer = b""

    def request(self, method: str, url: str, data: dict | None = None) -> Reply:
        if self.sock is None:
            self.sock = socket.create_connection((self.host, self.port), timeout=self.timeout)
            self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self.buffer = b""
        head = [f"{method} {url} HTTP/1.1", f"Host: {self.host}:{self.port}", "Connection: " + ("keep-alive" if self.keepalive else "close")]
        if self.cookies:
            head.append("Cookie: " + "; ".join(f"{k}={v}" for k, v in self.cookies.items()))
        body = b""
        if data is not None:
            body = urlencode(data).encode("ascii")
            head += ["Content-Type: application/x-www-form-urlencoded", f"Content-Length: {len(body)}"]
        try:
            self.sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body)
            status, headers, cookies, text, will_close = self._response()
        except (OSError, ProtocolError):
            self.close()
            raise
        for value in cookies:
            key, _, rest = value.partition("=")
            cookie = rest.split(";", 1)[0]
            if cookie and "max-age=0" not in value.lower():
                self.cookies[key.strip()] = cookie
            else:
                self.cookies.pop(key.strip(), None)
        if not self.keepalive or will_close:
            self.close()
        return Reply(status, headers, text)

    def _fill(self) -> None:
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ProtocolError("the server closed the connection")
        self.buffer += chunk

    def _take(self, n: int) -> bytes:
        while len(self.buffer) < n:
            self._fill()
        out, self.buffer = self.buffer[:n], self.buffer[n:]
        return out

    def _line(self) -> bytes:
        while (end := self.buffer.find(b"\r\n")) < 0:
            self._fill()
        out, self.buffer = self.buffer[:end], self.buffer[end + 2:]
        return out

    def _response(self) -> tuple[int, dict[str, str], list[str], str, bool]:
        while (end := self.buffer.find(b"\r\n\r\n")) < 0:
            self._fill()
        lines = self.buffer[:end].decode("latin-1").split("\r\n")
        self.buffer = self.buffer[end + 4:]
        version, _, rest = lines[0].partition(" ")
        if not version.startswith("HTTP/1."):
            raise ProtocolError(f"not an HTTP/1.x status line: {lines[0][:80]!r}")
        status = int(rest[:3])
        headers: dict[str, str] = {}
        cookies: list[str] = []
        for line in lines[1:]:
            name, _, value = line.partition(":")
            name, value = name.strip().lower(), value.strip()
            if name == "set-cookie":
                cookies.append(value)
            headers[name] = value
        will_close = headers.get("connection", "").lower() == "close" or version == "HTTP/1.0"
        if "chunked" in headers.get("transfer-encoding", "").lower():
            parts = []
            while (size := int(self._line().split(b";", 1)[0], 16)) > 0:
                parts.append(self._take(size))
                self._take(2)
            while self._line():  # trailers, then the empty line
                pass
            raw = b"".join(parts)
        elif "content-length" in headers:
            raw = self._take(int(headers["content-length"]))
        elif status in (204, 304) or 100 <= status < 200:
            raw = b""
        else:  # no length: the body runs to the end of the connection
            while True:
                try:
                    self._fill()
                except ProtocolError:
                    break
            raw, self.buffer, will_close = self.buffer, b"", True
        return status, headers, cookies, raw.decode("utf-8", "replace"), will_close

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None
        self.buffer = b""


def simulated_worker(base: str, name: str, tally: Tally, keepalive: bool, deadline: float) -> None:
    client = BrowserConnection(base, keepalive)
    try:

        def call(kind: str, method: str, url: str, data: dict | None = None) -> Reply:
            url = urlsplit(url)._replace(scheme="", netloc="").geturl()  # Location may be absolute
            for attempt in range(5):
                start = time.perf_counter()
                try:
                    response = client.request(method, url, data)
                except (OSError, ProtocolError) as exc:
                    with tally.lock:
                        tally.errors.append(f"{kind}: {type(exc).__name__}")
                    time.sleep(0.2 * (attempt + 1))
                    continue
                with tally.lock:
                    tally.latencies[kind].append(time.perf_counter() - start)
                    tally.statuses[response.status_code] += 1
                    if response.status_code >= 500:
                        tally.server_errors[f"{kind} {response.status_code}"] += 1
                if response.status_code == 503:
                    time.sleep(float(response.headers.get("retry-after", 1)))
                    continue
                return response
            raise RuntimeError(f"{kind} failed 5 times")

        try:
            entry = call("entry", "GET", "/")
            started = call("start", "POST", "/start", data={"csrf_token": CSRF.search(entry.text).group(1), "worker_id": name})
            if started.status_code != 302:
                raise RuntimeError(f"/start answered {started.status_code}")
            # The start's redirect shows the first HIT; each submit's redirect the next one, which
            # says "Your answer is saved" (no thank-you page between HITs).
            page = call("next", "GET", started.headers["location"])
            n = 0
            while time.time() < deadline:
                if page.status_code == 200 and 'id="finished"' in page.text:
                    with tally.lock:
                        tally.done_workers += 1
                    return
                action = FORM_ACTION.search(page.text) if page.status_code == 200 else None
                if action is None:
                    raise RuntimeError(f"/next answered {page.status_code} without a HIT form")
                submit_url = html.unescape(action.group(1))
                description = f"{name} answer {n}: stripes on the left"
                form = {"csrf_token": CSRF.search(page.text).group(1), "description": description,
                        "ease": str(1 + n % 5), "confidence": "4", "useful_view": "B"}
                sent = call("submit", "POST", submit_url, data=form)
                if sent.status_code == 302:
                    location = sent.headers["location"]
                    page = call("next", "GET", location)
                    if "again=0" in location and "Your answer is saved" in page.text:
                        with tally.lock:
                            tally.acknowledged[(name, submit_url.split("/")[2])] = description
                else:
                    page = call("next", "GET", "/next")
                n += 1
        except Exception as exc:  # noqa: BLE001 - counted as an error of this client
            with tally.lock:
                tally.errors.append(f"{name}: {exc}")
    finally:
        client.close()


# ------------------------------------------------------------------ checks


def check(study: Path, database_url: str | None, base: str, tally: Tally) -> dict:
    from sqlalchemy import func, select

    from study.db import open_study_database
    from study.models import SUBMITTED, Answer, Assignment, Hit, Worker

    db = open_study_database(study, database_url, create=False)
    try:
        with db.sessions() as s:
            stored = {
                (w, h): v
                for w, h, v in s.execute(
                    select(Worker.external_id, Hit.key, Answer.value)
                    .join(Assignment, Assignment.worker_id == Worker.id)
                    .join(Hit, Hit.id == Assignment.hit_id)
                    .join(Answer, Answer.assignment_id == Assignment.id)
                    .where(Answer.question_id == "description", Assignment.status == SUBMITTED)
                )
            }
            pairs = s.execute(select(Assignment.hit_id, Assignment.worker_id, func.count()).where(Assignment.status == SUBMITTED).group_by(Assignment.hit_id, Assignment.worker_id)).all()
            per_hit = s.execute(
                select(Hit.max_assignments, func.count(Assignment.id)).outerjoin(Assignment, (Assignment.hit_id == Hit.id) & (Assignment.status == SUBMITTED)).group_by(Hit.id, Hit.max_assignments)
            ).all()
            answers_per_assignment = s.execute(select(func.count(Answer.id)).join(Assignment).where(Assignment.status == SUBMITTED).group_by(Assignment.id)).scalars().all()
    finally:
        db.dispose()
    export = httpx.get(f"{base}/admin/export/mturk-csv", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=120)
    export_rows = len(export.text.strip().splitlines()) - 1 if export.status_code == 200 else -1
    slots = sum(m for m, _ in per_hit)
    filled = sum(min(m, n) for m, n in per_hit)
    return {
        "lost": sum(1 for k in tally.acknowledged if k not in stored),
        "changed": sum(1 for k, v in tally.acknowledged.items() if k in stored and stored[k] != v),
        "duplicates": sum(1 for *_, n in pairs if n > 1) + sum(1 for n in answers_per_assignment if n != 4),
        "over_assigned": sum(1 for m, n in per_hit if n > m),
        "stored": len(stored),
        "slots": slots,
        "unfilled": slots - filled,
        "export_mismatch": export_rows - len(stored),
    }


# ------------------------------------------------------------------ one run


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q / 100 * (len(values) - 1))))]


def run_scenario(tmp: Path, backend: str, workers: int, clients: int, keepalive: bool, kill: bool, args, pg_server) -> dict:
    label = f"{backend}:{workers}:{clients}{':keepalive' if keepalive else ''}{':kill' if kill else ''}"
    study = make_study(tmp / label.replace(":", "_"), args.hits, args.assignments)
    database_url = new_pg_database(pg_server, label.replace(":", "_")) if backend == "postgresql" else None
    port = free_port()
    proc = start_server(study, port, workers, args.threads, max(1000, clients * 2), database_url)
    wait_until_idle(proc)
    base = f"http://127.0.0.1:{port}"
    tally = Tally()
    deadline = time.time() + args.max_seconds
    threads = [threading.Thread(target=simulated_worker, args=(base, f"w{i:04d}", tally, keepalive, deadline), daemon=True) for i in range(clients)]
    postmaster = postmaster_pid(tmp / "pg") if backend == "postgresql" else None
    cpu_before = cpu_seconds(pgid=proc.pid)
    db_cpu_before = cpu_seconds(parent=postmaster) if postmaster else 0.0
    client_cpu_before = time.process_time()
    start = time.perf_counter()
    for t in threads:
        t.start()
    killed = None
    if kill:
        # Kill one server process once a third of the slots are answered.
        target = args.hits * args.assignments // 3
        while len(tally.acknowledged) < target and time.time() < deadline:
            time.sleep(0.05)
        out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(proc.pid)], capture_output=True, text=True).stdout.split()
        children = [int(p) for p in out]
        killed = children[0] if children else proc.pid
        os.kill(killed, signal.SIGKILL)
    for t in threads:
        t.join(max(1.0, deadline - time.time() + 30))
    elapsed = time.perf_counter() - start
    cpu = cpu_seconds(pgid=proc.pid) - cpu_before
    db_cpu = cpu_seconds(parent=postmaster) - db_cpu_before if postmaster else None
    client_cpu = time.process_time() - client_cpu_before
    try:
        result = check(study, database_url, base, tally)
    finally:
        stop_server(proc)
    result.update(
        label=label,
        seconds=elapsed,
        answers_per_s=len(tally.acknowledged) / elapsed,
        acknowledged=len(tally.acknowledged),
        server_cpu_s=cpu,
        cpu_ms_per_hit=1000 * cpu / max(1, len(tally.acknowledged)),
        db_cpu_ms_per_hit=None if db_cpu is None else 1000 * db_cpu / max(1, len(tally.acknowledged)),
        client_cpu_ms_per_hit=1000 * client_cpu / max(1, len(tally.acknowledged)),
        # Every answered request, retries and the pages of a session included.
        requests=sum(len(v) for v in tally.latencies.values()),
        errors=len(tally.errors),
        error_samples=sorted(set(e.split(":")[-1].strip() for e in tally.errors))[:3],
        server_5xx=sum(n for code, n in tally.statuses.items() if code >= 500),
        server_errors=dict(tally.server_errors),
        told_done=tally.done_workers,
        latency={k: (percentile(v, 50), percentile(v, 95), percentile(v, 99)) for k, v in tally.latencies.items()},
        killed=killed,
    )
    return result


def print_result(r: dict, reference: float | None) -> None:
    ratio = f"{r['answers_per_s'] / reference:.2f}x" if reference else "ref"
    print(f"\n== {r['label']}: {r['acknowledged']} answers in {r['seconds']:.1f} s = {r['answers_per_s']:.1f} answers/s ({ratio}), server CPU {r['server_cpu_s']:.1f} s = {r['cpu_ms_per_hit']:.1f} ms per answered HIT")
    others = ([f"database {r['db_cpu_ms_per_hit']:.1f} ms"] if r["db_cpu_ms_per_hit"] is not None else []) + [f"load generator {r['client_cpu_ms_per_hit']:.1f} ms"]
    print(f"   CPU per answered HIT elsewhere on this machine: {', '.join(others)}")
    # In a closed loop without think time a request waits about clients / requests per second,
    # so latency follows the server's CPU per request (and the requests a HIT takes).
    print(f"   {r['requests']} requests = {r['requests'] / max(1, r['acknowledged']):.2f} per answered HIT, "
          f"server CPU {1000 * r['server_cpu_s'] / max(1, r['requests']):.2f} ms per request")
    print(f"   lost {r['lost']}, changed {r['changed']}, duplicates {r['duplicates']}, over-assigned {r['over_assigned']}, "
          f"unfilled {r['unfilled']}/{r['slots']}, export mismatch {r['export_mismatch']}, 5xx {r['server_5xx']}, "
          f"client errors {r['errors']} {r['error_samples'] or ''}, told done {r['told_done']}" + (f", killed pid {r['killed']}" if r["killed"] else ""))
    if r["server_errors"]:
        print(f"   5xx by request: {r['server_errors']}")
    for kind in ("entry", "start", "next", "submit"):
        if kind in r["latency"]:
            p50, p95, p99 = r["latency"][kind]
            print(f"   {kind:7s} p50 {p50 * 1000:7.1f} ms  p95 {p95 * 1000:7.1f} ms  p99 {p99 * 1000:7.1f} ms")


DEFAULT_MATRIX = [
    "sqlite:1:50", "sqlite:2:50", "sqlite:4:50",
    "postgresql:1:50", "postgresql:2:50", "postgresql:4:50",
    "sqlite:2:200", "postgresql:2:500:keepalive",
    "sqlite:2:50:kill", "postgresql:2:50:kill",
]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", action="append", help="BACKEND:SERVER_PROCESSES:CLIENTS[:keepalive][:kill]; repeatable")
    parser.add_argument("--hits", type=int, default=101)
    parser.add_argument("--assignments", type=int, default=6, help="assignments per HIT (101 x 6 = 606 slots)")
    parser.add_argument("--threads", type=int, default=4, help="threads per server process (the server's default)")
    parser.add_argument("--max-seconds", type=float, default=180)
    args = parser.parse_args()
    scenarios = args.scenario or DEFAULT_MATRIX
    tmp = Path(tempfile.mkdtemp(prefix="barlow-load-"))
    pg_server, pg_stop = (None, lambda: None)
    if any(s.startswith("postgresql") for s in scenarios):
        pg_server, pg_stop = start_postgres(tmp / "pg")
    references: dict[str, float] = {}
    bad = 0
    try:
        for text in scenarios:
            parts = text.split(":")
            backend, workers, clients = parts[0], int(parts[1]), int(parts[2])
            r = run_scenario(tmp, backend, workers, clients, "keepalive" in parts, "kill" in parts, args, pg_server)
            if workers == 1 and "kill" not in parts:
                references.setdefault(backend, r["answers_per_s"])
            print_result(r, references.get(backend) if not (workers == 1 and references.get(backend) == r["answers_per_s"]) else None)
            bad += r["lost"] + r["changed"] + r["duplicates"] + r["over_assigned"] + r["unfilled"] + abs(r["export_mismatch"])
            bad += r["server_5xx"] if "kill" not in parts else 0
            sys.stdout.flush()
    finally:
        pg_stop()
        shutil.rmtree(tmp, ignore_errors=True)
    print("\nall checks passed" if bad == 0 else f"\n{bad} check failures")
    return 0 if bad == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
