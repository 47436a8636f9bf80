"""Requests a crowd (or an attacker) can send: no 500s, nothing stored that should not be."""

import re
import sqlite3
import threading

import pytest
from sqlalchemy import func, select

from study.app import create_app
from study.models import Answer, Assignment, Worker
from study.verification import HitRef, VerificationUnavailable

GOOD = {"description": "the collar of a shirt", "ease": "4", "confidence": "5", "useful_view": "B and C"}
TOKEN = "s3cret-token"
ADMIN = {"Authorization": f"Bearer {TOKEN}"}
CROWD = {"assignmentId": "A1", "hitId": "PH1", "workerId": "W1", "turkSubmitTo": "https://workersandbox.mturk.com"}


def csrf(response) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', response.get_data(as_text=True)).group(1)


def form_token(response) -> str:
    return re.search(r'name="form_token" value="([^"]+)"', response.get_data(as_text=True)).group(1)


def start(client, worker="alice"):
    client.post("/start", data={"csrf_token": csrf(client.get("/")), "worker_id": worker})
    hit_url = client.get("/next").location
    page = client.get(hit_url)
    return hit_url.rsplit("/", 1)[1], csrf(page)


def counts(app) -> tuple[int, int, int]:
    db = app.extensions["barlow_study"].db
    with db.sessions() as s:
        return tuple(s.scalar(select(func.count(m.id))) for m in (Worker, Assignment, Answer))


@pytest.fixture
def make_app(study_dir, clock, database_url):
    """An app on SQLite and on PostgreSQL (PostgreSQL refused NUL bytes with a 500 before)."""
    apps = []

    def make(**kw):
        app = create_app(study_dir, admin_token=TOKEN, clock=clock, secret_key="test-secret", database_url=database_url, **kw)
        apps.append(app)
        return app

    yield make
    for app in apps:
        app.extensions["barlow_study"].db.dispose()


def crowd_submit(client, hit="h0003", params=CROWD, **change):
    page = client.get(f"/hit/{hit}", query_string=params)
    assert page.status_code == 200, page.get_data(as_text=True)
    return client.post(f"/hit/{hit}/submit", data=GOOD | params | {"form_token": form_token(page)} | change)


def test_nul_bytes_are_a_clear_400_on_every_backend(make_app):
    app = make_app()
    client = app.test_client()
    hit, token = start(client)
    response = client.post(f"/hit/{hit}/submit", data=GOOD | {"csrf_token": token, "description": "a\x00b"})
    assert response.status_code == 400 and "NUL character" in response.get_data(as_text=True)
    assert client.get("/hit/h0001", query_string={"assignmentId": "A\x00", "workerId": "W", "turkSubmitTo": CROWD["turkSubmitTo"]}).status_code == 400
    assert client.get("/hit/h%00").status_code == 400
    assert counts(app)[2] == 0
    response = client.post(f"/hit/{hit}/submit", data=GOOD | {"csrf_token": token})
    assert response.status_code == 302 and counts(app)[2] == 4


def test_invalid_utf8_is_reported_as_such_not_as_a_missing_token(make_app):
    client = make_app().test_client()
    hit, token = start(client)
    body = f"csrf_token={token}&description=caf%E9+au+lait&ease=3&confidence=3&useful_view=B".encode()
    response = client.post(f"/hit/{hit}/submit", data=body, content_type="application/x-www-form-urlencoded")
    text = response.get_data(as_text=True)
    assert response.status_code == 400 and "not valid UTF-8" in text and "security token" not in text
    assert client.get("/admin/?token=%FF").status_code == 400


@pytest.mark.parametrize("limit", ["99999999999999999999", "%C2%B2", "-1", "0", "abc", "5001"])
def test_admin_limit_is_bounded(make_app, limit):
    client = make_app().test_client()
    response = client.get(f"/admin/?limit={limit}", headers=ADMIN)
    assert response.status_code == 400 and "limit must be" in response.get_data(as_text=True)
    assert client.get("/admin/?limit=10", headers=ADMIN).status_code == 200


def test_malformed_turk_submit_to_is_a_400(make_app):
    client = make_app().test_client()
    response = client.get("/hit/h0001", query_string=CROWD | {"turkSubmitTo": "http://[::1"})
    assert response.status_code == 400 and "not a valid URL" in response.get_data(as_text=True)


def test_crowd_page_views_create_nothing(make_app):
    app = make_app()
    client = app.test_client()
    for i in range(5):
        assert client.get("/hit/h0003", query_string=CROWD | {"assignmentId": f"MADE-UP-{i}"}).status_code == 200
        assert client.head("/hit/h0003", query_string=CROWD | {"assignmentId": f"HEAD-{i}"}).status_code == 200
    assert counts(app) == (0, 0, 0)


def test_a_changed_turk_submit_to_is_refused(make_app):
    app = make_app()
    client = app.test_client()
    # Another allowed origin, swapped into the form after the page was signed.
    response = crowd_submit(client, turkSubmitTo="https://www.mturk.com")
    assert response.status_code == 400 and "changed after the page was opened" in response.get_data(as_text=True)
    response = crowd_submit(client, turkSubmitTo="https://attacker.example")
    assert response.status_code == 400
    assert counts(app) == (0, 0, 0)
    response = crowd_submit(client)
    assert response.status_code == 200 and 'action="https://workersandbox.mturk.com/mturk/externalSubmit"' in response.get_data(as_text=True)


def test_open_crowd_mode_caps_answers_per_hit(make_app):
    # The finding: 6 of 6 made-up assignments were stored on a HIT asking for fewer.
    app = make_app()
    client = app.test_client()
    forms = []
    for i in range(6):  # all open the page while the HIT still has room
        params = CROWD | {"assignmentId": f"A{i}", "workerId": f"W{i}"}
        forms.append(GOOD | params | {"form_token": form_token(client.get("/hit/h0003", query_string=params))})
    statuses = [client.post("/hit/h0003/submit", data=form).status_code for form in forms]
    assert statuses == [200, 200, 409, 409, 409, 409]
    page = client.get("/hit/h0003", query_string=CROWD | {"assignmentId": "A9", "workerId": "W9"})
    assert page.status_code == 409 and "all the answers it needs" in page.get_data(as_text=True)
    assert counts(app)[2] == 2 * 4


class FakeVerifier:
    """Plays a platform adapter: the platform issued A-OK to W-OK on h0003 (published as PH1)."""

    def __init__(self):
        self.calls = []
        self.down = False

    def verify_assignment(self, hit: HitRef, assignment_id: str, worker_id: str) -> bool:
        self.calls.append((hit, assignment_id, worker_id))
        if self.down:
            raise VerificationUnavailable("platform unreachable")
        return (hit.key, assignment_id, worker_id) == ("h0003", "A-OK", "W-OK")


def test_closed_crowd_mode_stores_only_assignments_the_platform_issued(make_app):
    verifier = FakeVerifier()
    app = make_app(verifier=verifier)
    assert app.extensions["barlow_study"].crowd_mode == "closed"
    client = app.test_client()
    made_up = crowd_submit(client, params=CROWD | {"assignmentId": "FAKE", "workerId": "W-OK"})
    assert made_up.status_code == 403 and "did not issue this assignment" in made_up.get_data(as_text=True)
    verifier.down = True
    later = crowd_submit(client, params=CROWD | {"assignmentId": "A-OK", "workerId": "W-OK"})
    assert later.status_code == 503
    assert counts(app) == (0, 0, 0)
    verifier.down = False
    ok = crowd_submit(client, params=CROWD | {"assignmentId": "A-OK", "workerId": "W-OK"})
    assert ok.status_code == 200 and counts(app) == (1, 1, 4)
    assert verifier.calls[-1] == (HitRef("h0003", None), "A-OK", "W-OK")


class LaterVerifier(FakeVerifier):
    """Plays MTurk: it shows an ExternalQuestion assignment only after our server stored the answer."""

    confirms_at_collect = True

    def verify_assignment(self, hit: HitRef, assignment_id: str, worker_id: str) -> bool:
        super().verify_assignment(hit, assignment_id, worker_id)
        return (assignment_id, worker_id) == ("A-OK", "W-OK")


def platform_statuses(app) -> dict[str, str | None]:
    db = app.extensions["barlow_study"].db
    with db.sessions() as s:
        return dict(s.execute(select(Assignment.platform_assignment_id, Assignment.platform_status)).all())


def test_closed_crowd_mode_keeps_what_mturk_cannot_confirm_yet_as_unconfirmed(make_app, study_dir, database_url):
    from study.export import batch_results

    verifier = LaterVerifier()
    app = make_app(verifier=verifier)
    client = app.test_client()
    # Not shown by the platform yet (an ExternalQuestion answer before externalSubmit): kept, unconfirmed.
    early = crowd_submit(client, params=CROWD | {"assignmentId": "A-EARLY", "workerId": "W-EARLY"})
    assert early.status_code == 200 and "externalSubmit" in early.get_data(as_text=True)
    verifier.down = True  # the platform cannot be asked: kept, unconfirmed, instead of a 503
    down = crowd_submit(client, params=CROWD | {"assignmentId": "A-DOWN", "workerId": "W-DOWN"})
    assert down.status_code == 200
    assert platform_statuses(app) == {"A-EARLY": "unconfirmed", "A-DOWN": "unconfirmed"}
    # The per-HIT cap counts unconfirmed answers too (h0003 asks for 2).
    verifier.down = False
    page = client.get("/hit/h0003", query_string=CROWD | {"assignmentId": "A-OK", "workerId": "W-OK"})
    assert page.status_code == 409 and "all the answers it needs" in page.get_data(as_text=True)
    # Where the platform does confirm at once, the answer is stored confirmed.
    ok = crowd_submit(client, hit="h0001", params=CROWD | {"assignmentId": "A-OK", "workerId": "W-OK"})
    assert ok.status_code == 200 and platform_statuses(app)["A-OK"] is None

    assert list(batch_results(study_dir, database_url)["AssignmentId"]) == ["A-OK"]
    everything = batch_results(study_dir, database_url, include_unconfirmed=True)
    assert dict(zip(everything["AssignmentId"], everything["AssignmentStatus"])) == {
        "A-OK": "Submitted", "A-EARLY": "Unconfirmed", "A-DOWN": "Unconfirmed",
    }
    dashboard = client.get("/admin", headers=ADMIN).get_data(as_text=True)
    assert dashboard.count('class="badge check unconfirmed"') == 2


def test_crowd_mode_off_refuses_crowd_pages(make_app):
    client = make_app(crowd_mode="off").test_client()
    assert client.get("/hit/h0003", query_string=CROWD).status_code == 403


def test_a_locked_sqlite_database_is_a_503_with_retry_after(study_dir, clock):
    app = create_app(study_dir, admin_token=TOKEN, clock=clock, secret_key="k", busy_timeout=0.2)
    client = app.test_client()
    hit, token = start(client)
    other = sqlite3.connect(study_dir / "study.sqlite", isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # a frozen second server holding the write lock
    try:
        response = client.post(f"/hit/{hit}/submit", data=GOOD | {"csrf_token": token})
        assert response.status_code == 503 and response.headers["Retry-After"] == "2"
        assert "send it again" in response.get_data(as_text=True)
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert client.post(f"/hit/{hit}/submit", data=GOOD | {"csrf_token": token}).status_code == 302
    app.extensions["barlow_study"].db.dispose()


def test_csv_exports_do_not_carry_spreadsheet_formulas(make_app):
    client = make_app().test_client()
    hit, token = start(client)
    evil = '=HYPERLINK("http://evil.example","click")'
    client.post(f"/hit/{hit}/submit", data=GOOD | {"csrf_token": token, "description": evil})
    for fmt in ("mturk-csv", "long"):
        text = client.get(f"/admin/export/{fmt}", headers=ADMIN).get_data(as_text=True)
        assert "'=HYPERLINK" in text and ",=HYPERLINK" not in text and '"=HYPERLINK' not in text
    jsonl = client.get("/admin/export/jsonl", headers=ADMIN).get_data(as_text=True)
    assert '"description": "=HYPERLINK' in jsonl  # JSON keeps the worker's exact text


def test_admin_logout_deletes_the_cookie_and_a_new_token_ends_old_sessions(study_dir, clock):
    app = create_app(study_dir, admin_token=TOKEN, clock=clock, secret_key="k")
    client = app.test_client()
    client.get(f"/admin?token={TOKEN}")
    page = client.get("/admin/")
    assert page.status_code == 200
    old_cookie = client.get_cookie("session").value
    response = client.post("/admin/logout", data={"csrf_token": csrf(page)})
    assert "session=;" in response.headers["Set-Cookie"] and "Expires=Thu, 01 Jan 1970" in response.headers["Set-Cookie"]
    assert client.get("/admin/").status_code == 401
    # The same cookie copied before logout is refused once the server runs with a new token.
    restarted = create_app(study_dir, admin_token="another-token", clock=clock, secret_key="k").test_client()
    restarted.set_cookie("session", old_cookie)
    assert restarted.get("/admin/").status_code == 401


def test_session_cookie_is_secure_over_https(study_dir, clock):
    client = create_app(study_dir, admin_token=TOKEN, clock=clock, secret_key="k").test_client()
    assert "Secure" in client.get("/", base_url="https://study.example").headers["Set-Cookie"]
    assert "Secure" not in client.get("/", base_url="http://127.0.0.1").headers["Set-Cookie"]


def test_secret_key_made_by_racing_processes_is_one_key(tmp_path):
    import multiprocessing

    from study.app import SECRET_FILE

    ctx = multiprocessing.get_context("fork")
    barrier = ctx.Barrier(8)
    queue = ctx.Queue()
    procs = [ctx.Process(target=_race_for_key, args=(tmp_path, barrier, queue)) for _ in range(8)]
    for p in procs:
        p.start()
    keys = [queue.get(timeout=60) for _ in procs]
    for p in procs:
        p.join(30)
    assert len(set(keys)) == 1 and len(keys[0]) == 64
    assert (tmp_path / SECRET_FILE).read_text() == keys[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == [SECRET_FILE]


def _race_for_key(folder, barrier, queue):
    from study.app import _secret_key

    barrier.wait(30)
    try:
        queue.put(_secret_key(folder))
    except Exception as exc:  # noqa: BLE001 - the parent sees the error as a wrong key
        queue.put(repr(exc))


def test_one_worker_opening_next_at_the_same_instant_gets_one_hit(make_app):
    app = make_app()
    client = app.test_client()
    client.post("/start", data={"csrf_token": csrf(client.get("/")), "worker_id": "twin"})
    cookie = client.get_cookie("session").value
    barrier = threading.Barrier(4, timeout=30)
    results = []

    def open_next():
        c = app.test_client()
        c.set_cookie("session", cookie)
        barrier.wait()
        results.append(c.get("/next"))

    threads = [threading.Thread(target=open_next) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert [r.status_code for r in results] == [302] * 4
    assert len({r.location for r in results}) == 1
    assert counts(app)[:2] == (1, 1)
