"""The study server through Flask's test client: flows, validation, double submits, admin auth."""

import html
import re

import pytest
from sqlalchemy import func, select

from study.app import create_app
from study.db import open_study_database
from study.models import Answer, Assignment

GOOD = {"description": "the collar of a shirt", "ease": "4", "confidence": "5", "useful_view": "B and C"}


@pytest.fixture
def app(study_dir, clock):
    return create_app(study_dir, admin_token="s3cret-token", clock=clock, secret_key="test-secret")


@pytest.fixture
def client(app):
    return app.test_client()


def csrf(response) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', response.get_data(as_text=True)).group(1)


def shown_hit(response) -> str:
    """The HIT a page shows, read from its form's submit address (/next shows the HIT itself)."""
    return re.search(r'action="/hit/([^"/]+)/submit"', response.get_data(as_text=True)).group(1)


def start(client, worker="alice"):
    token = csrf(client.get("/"))
    response = client.post("/start", data={"csrf_token": token, "worker_id": worker})
    assert response.status_code == 302
    page = client.get("/next")
    assert page.status_code == 200
    return shown_hit(page), csrf(page)


def count(study_dir, model=Answer):
    db = open_study_database(study_dir, create=False)
    try:
        with db.sessions() as s:
            return s.scalar(select(func.count(model.id)))
    finally:
        db.dispose()


def test_local_session_moves_through_hits(client, study_dir):
    hit, token = start(client)
    response = client.post(f"/hit/{hit}/submit", data=GOOD | {"csrf_token": token})
    # Straight to the next HIT, which says the answer is saved: no thank-you page in between.
    assert response.status_code == 302 and response.location == f"/next?saved={hit}&again=0"
    next_page = client.get(response.location)
    text = next_page.get_data(as_text=True)
    assert "Your answer is saved. Here is your next HIT." in text and "Stop for now" in text
    assert shown_hit(next_page) != hit and "1 answered so far" in text
    # A reload, or /next opened otherwise, shows the HIT without the notice.
    assert "Your answer is saved" not in client.get("/next").get_data(as_text=True)
    assert "Your answer is saved" not in client.get("/next?saved=nope&again=0").get_data(as_text=True)
    assert shown_hit(client.get("/next")) == shown_hit(next_page)  # a reload shows the same HIT
    assert client.get(f"/hit/{shown_hit(next_page)}").status_code == 200  # and so does its own address
    assert count(study_dir) == 4


@pytest.mark.parametrize(
    "change, status, message",
    [
        ({"ease": "7"}, 400, "ease must be from 1 to 5, got 7"),
        ({"ease": "-1"}, 400, "ease must be from 1 to 5"),
        ({"confidence": None}, 400, "confidence is required"),
        ({"description": "x" * 501}, 400, "description is too long"),
        ({"useful_view": "D"}, 400, "useful_view must be one of"),
        ({"description": "y" * 300_000}, 413, "larger than 256 KB"),
    ],
)
def test_tampered_forms_get_4xx_and_store_nothing(client, study_dir, change, status, message):
    hit, token = start(client)
    data = {k: v for k, v in (GOOD | change).items() if v is not None}
    response = client.post(f"/hit/{hit}/submit", data=data | {"csrf_token": token})
    assert response.status_code == status
    assert message in html.unescape(response.get_data(as_text=True))
    assert count(study_dir) == 0


def test_unknown_hit_and_missing_csrf(client, study_dir):
    hit, token = start(client)
    response = client.post("/hit/nope/submit", data=GOOD | {"csrf_token": token})
    assert response.status_code == 404 and "no HIT 'nope'" in html.unescape(response.get_data(as_text=True))
    response = client.post(f"/hit/{hit}/submit", data=GOOD)
    assert response.status_code == 400 and "security token" in response.get_data(as_text=True)
    response = client.post(f"/hit/{hit}/submit", data=GOOD | {"csrf_token": "forged"})
    assert response.status_code == 400
    assert count(study_dir) == 0


def test_a_hit_not_assigned_to_the_worker_is_refused(client, study_dir):
    hit, token = start(client)
    other = "h0012" if hit != "h0012" else "h0011"
    assert client.get(f"/hit/{other}").location == "/next"
    response = client.post(f"/hit/{other}/submit", data=GOOD | {"csrf_token": token})
    assert response.status_code == 403 and count(study_dir) == 0


def test_double_submit_stores_one_answer(client, study_dir):
    hit, token = start(client)
    first = client.post(f"/hit/{hit}/submit", data=GOOD | {"csrf_token": token})
    second = client.post(f"/hit/{hit}/submit", data=GOOD | {"csrf_token": token, "ease": "1"})
    assert first.location.endswith("again=0") and second.location.endswith("again=1")
    assert count(study_dir) == 4 and count(study_dir, Assignment) == 1
    assert "already saved" in client.get(second.location).get_data(as_text=True)
    assert "Your answer is saved" not in client.get(second.location).get_data(as_text=True)
    # The submitted HIT's own address leads on to the next HIT, saying it was saved before.
    back = client.get(f"/hit/{hit}")
    assert back.location == f"/next?saved={hit}&again=1" and "already saved" in client.get(back.location).get_data(as_text=True)


def test_worker_text_is_escaped_and_ids_stay_private(client, study_dir):
    hit, token = start(client, worker="secret-worker-42")
    evil = "<script>alert(1)</script> a stripe"
    client.post(f"/hit/{hit}/submit", data=GOOD | {"csrf_token": token, "description": evil})
    for url in ("/", f"/thanks/{hit}", "/next", "/api/status"):
        body = client.get(url).get_data(as_text=True)
        assert "secret-worker-42" not in body
    client.get("/admin?token=s3cret-token")
    dashboard = client.get("/admin/").get_data(as_text=True)
    assert "&lt;script&gt;alert(1)&lt;/script&gt; a stripe" in dashboard and evil not in dashboard
    assert "secret-worker-42" in dashboard  # admins see who answered


def test_admin_needs_the_token(study_dir, app, clock):
    client = app.test_client()
    assert client.get("/admin/").status_code == 401
    assert client.get("/admin/?token=wrong").status_code == 401
    assert client.get("/api/hits").status_code == 401
    assert client.get("/api/hits", headers={"Authorization": "Bearer s3cret-token"}).status_code == 200
    response = client.get("/admin?token=s3cret-token")
    assert response.status_code == 302 and "token" not in response.location  # dropped from the URL
    page = client.get("/admin/")
    assert page.status_code == 200 and page.headers["X-Frame-Options"] == "DENY"
    assert client.get("/admin/export/mturk-csv").headers["Content-Type"].startswith("text/csv")
    client.post("/admin/logout", data={"csrf_token": csrf(page)})
    assert client.get("/admin/").status_code == 401
    off = create_app(study_dir, admin_token=None, clock=clock, secret_key="k").test_client()
    assert off.get("/admin/?token=anything").status_code == 403
    assert "--admin-token" in off.get("/admin/").get_data(as_text=True)


def test_review_marks_reach_the_export(client, study_dir):
    hit, token = start(client)
    client.post(f"/hit/{hit}/submit", data=GOOD | {"csrf_token": token})
    client.get("/admin?token=s3cret-token")
    page = client.get("/admin/")
    public_id = re.search(r'id="assignment-([0-9A-F]+)"', page.get_data(as_text=True)).group(1)
    assert client.post(f"/admin/assignments/{public_id}/review", data={"decision": "approve"}).status_code == 400  # no CSRF
    client.post(f"/admin/assignments/{public_id}/review", data={"decision": "reject", "csrf_token": csrf(page)})
    csv_text = client.get("/admin/export/mturk-csv").get_data(as_text=True)
    assert ",Rejected," in csv_text
    api = client.post(f"/api/assignments/{public_id}/review", json={"decision": "approve"})
    assert api.status_code == 401  # API writes need the header, not the cookie
    api = client.post(f"/api/assignments/{public_id}/review", json={"decision": "approve"}, headers={"Authorization": "Bearer s3cret-token"})
    assert api.json == {"assignment": public_id, "review": "approved"}


def test_hit_pages_can_be_framed(client):
    response = client.get("/hit/h0001?assignmentId=ASSIGNMENT_ID_NOT_AVAILABLE&hitId=H1")
    assert response.status_code == 200 and "X-Frame-Options" not in response.headers
    body = response.get_data(as_text=True)
    assert 'id="submit" disabled' in body and "Preview" in body


def test_crowd_assignment_flow_and_forged_token(client, study_dir):
    params = {"assignmentId": "A1", "hitId": "PLATFORM-H1", "workerId": "W1", "turkSubmitTo": "https://workersandbox.mturk.com/"}
    page = client.get("/hit/h0003", query_string=params).get_data(as_text=True)
    form_token = re.search(r'name="form_token" value="([^"]+)"', page).group(1)
    forged = client.post("/hit/h0003/submit", data=GOOD | params | {"form_token": form_token + "x"})
    assert forged.status_code == 400 and count(study_dir) == 0
    other_hit = client.post("/hit/h0004/submit", data=GOOD | params | {"form_token": form_token})
    assert other_hit.status_code == 400 and count(study_dir) == 0
    done = client.post("/hit/h0003/submit", data=GOOD | params | {"form_token": form_token})
    body = done.get_data(as_text=True)
    assert 'action="https://workersandbox.mturk.com/mturk/externalSubmit"' in body
    assert 'name="assignmentId" value="A1"' in body and count(study_dir) == 4
    assert client.get("/hit/h0003", query_string=params | {"assignmentId": "A2"}).status_code == 409


def test_bad_crowd_parameters(client):
    response = client.get("/hit/h0001", query_string={"assignmentId": "A1", "workerId": "W"})
    assert response.status_code == 400 and "turkSubmitTo" in response.get_data(as_text=True)
    response = client.get("/hit/h0001", query_string={"assignmentId": "A1", "workerId": "W", "turkSubmitTo": "javascript:alert(1)"})
    assert response.status_code == 400


def test_api_status_is_counts_for_admins(client):
    # Status pollers slowed workers down, so the counts are for admins only.
    hit, token = start(client)
    client.post(f"/hit/{hit}/submit", data=GOOD | {"csrf_token": token})
    assert client.get("/api/status").status_code == 401
    status = client.get("/api/status", headers={"Authorization": "Bearer s3cret-token"}).json
    assert status["submitted"] == 1 and status["assignments_needed"] == 24 and status["hits"] == 12
    assert status["active"] == 0 and status["workers"] == 1 and status["complete_hits"] == 0
    assert client.get("/api/nothing").json["status"] == 404


def test_a_question_added_in_the_study_file_is_asked_stored_and_exported(study_dir, clock):
    path = study_dir / "study.yaml"
    path.write_text(path.read_text().replace(
        "- id: useful_view",
        "- id: colour\n  type: choice\n  prompt: Does the feature depend on colour?\n  options: [yes, no, unsure]\n- id: useful_view",
    ))
    client = create_app(study_dir, admin_token="t", clock=clock, secret_key="k").test_client()
    hit, token = start(client)
    page = client.get(f"/hit/{hit}").get_data(as_text=True)
    assert "Does the feature depend on colour?" in page and 'name="colour" value="unsure"' in page
    missing = client.post(f"/hit/{hit}/submit", data=GOOD | {"csrf_token": token})
    assert missing.status_code == 400 and "colour is required" in missing.get_data(as_text=True)
    client.post(f"/hit/{hit}/submit", data=GOOD | {"csrf_token": token, "colour": "no"})
    from study.export import batch_results

    frame = batch_results(study_dir)
    assert frame.loc[0, "Answer.colour"] == "no"
    assert list(frame.columns[-5:]) == ["Answer.description", "Answer.ease", "Answer.confidence", "Answer.colour", "Answer.useful_view"]


def test_answering_a_hit_costs_a_bounded_number_of_sql_statements(app, client):
    """A HIT's cycle, submit and the next HIT it leads to (shown by /next): the statements the database runs.

    The server's cost per answered HIT is mostly its SQL; a change that puts a query back
    into a loop or a lazy load into a page shows here, not only in the load benchmark.
    """
    from sqlalchemy import event

    hit, token = start(client)
    statements = []
    engine = app.extensions["barlow_study"].db.engine
    page = client.get(client.post(f"/hit/{hit}/submit", data=GOOD | {"csrf_token": token}).location)
    # What SQLite itself runs, whichever way a request reaches it (an ORM session or the DBAPI
    # cursor): the connections made from here on trace every statement.
    tracing = False
    listener = lambda dbapi_connection, _record: dbapi_connection.set_trace_callback(lambda sql: tracing and statements.append(" ".join(sql.split()[:3]).upper()))
    event.listen(engine, "connect", listener)
    engine.dispose()
    try:
        tracing = True
        response = client.post(f"/hit/{shown_hit(page)}/submit", data=GOOD | {"csrf_token": csrf(page)})
        assert response.status_code == 302 and "again=0" in response.location
        assert "Your answer is saved" in client.get(response.location).get_data(as_text=True)
        tracing = False
    finally:
        event.remove(engine, "connect", listener)
    # An executemany reaches SQLite as one statement per row: the answers count once.
    work = [s for i, s in enumerate(statements) if s.split()[0] not in ("BEGIN", "COMMIT", "ROLLBACK", "PRAGMA") and not (i and s == statements[i - 1])]
    assert len(work) <= 7, work  # 11 with the thank-you page between HITs and separate counts
    assert [s for s in work if s.startswith("INSERT")] == ["INSERT INTO ANSWERS", "INSERT INTO ASSIGNMENTS"]  # the answers in one executemany


def test_the_hit_page_rendered_once_per_process_keeps_each_workers_token_and_count(app, client, clock):
    """A HIT page is rendered once per process and filled per request: no worker sees another's
    CSRF token or answer count, and the page is the one the template renders."""
    from study.web.worker import PAGE_CACHE_KEY

    hit, alice_token = start(client, "alice")
    page = client.get(client.post(f"/hit/{hit}/submit", data=GOOD | {"csrf_token": alice_token}).location)
    held = shown_hit(page)
    alice_page = client.get("/next").get_data(as_text=True)  # the same HIT, without the notice
    assert "1 answered so far" in alice_page and alice_page.count(alice_token) == 2  # the form and "Stop for now"
    pages = app.extensions[PAGE_CACHE_KEY][0]
    assert pages and all(e.usable for e in pages.values())

    clock.advance(minutes=app.extensions["barlow_study"].spec.settings.assignment_timeout_minutes + 1)
    bob = app.test_client()
    bob_hit, bob_token = start(bob, "bob")  # alice's HIT, released by the timeout
    assert bob_hit == held and bob_token != alice_token
    bob_page = bob.get("/next").get_data(as_text=True)
    assert "0 answered so far" in bob_page and "1 answered" not in bob_page
    assert alice_token not in bob_page and bob_page.count(bob_token) == 2
    assert "<!--barlow:slot" not in bob_page
    assert bob_page == alice_page.replace(alice_token, bob_token).replace("1 answered so far", "0 answered so far")
    response = bob.post(f"/hit/{bob_hit}/submit", data=GOOD | {"csrf_token": csrf(bob.get("/next"))})
    assert response.status_code == 302 and "again=0" in response.location

    # Rendered without the cache, the page is the same.
    app.extensions.pop(PAGE_CACHE_KEY)
    fresh = client.get("/next").get_data(as_text=True)
    app.extensions.pop(PAGE_CACHE_KEY)
    client.get("/next")
    assert client.get("/next").get_data(as_text=True) == fresh


def test_study_text_that_looks_like_a_page_slot_is_escaped(analysis_dir, tmp_path, study_factory, clock):
    import yaml

    study = study_factory(analysis_dir, tmp_path / "study", top_n=1, top_m=2, assignments_per_hit=2)
    path = study / "study.yaml"
    data = yaml.safe_load(path.read_text())
    data["hit"]["title"] = "<!--barlow:slot:csrf--> <script>x()</script>"
    path.write_text(yaml.safe_dump(data))
    client = create_app(study, clock=clock, secret_key="test-secret").test_client()
    hit, token = start(client)
    for _ in range(2):  # rendered, then from the process's copy
        text = client.get("/next").get_data(as_text=True)
        assert "&lt;!--barlow:slot:csrf--&gt; &lt;script&gt;x()&lt;/script&gt;" in text and "<script>x()" not in text
        assert text.count(token) == 2 and "<!--barlow:slot" not in text


def test_session_cookies_are_signed_as_flask_signs_them(app, client):
    """The signer built once per key accepts Flask's own cookies and refuses forged or re-keyed ones."""
    from flask.sessions import SecureCookieSessionInterface

    flask_signer = SecureCookieSessionInterface().get_signing_serializer(app)
    ours = app.session_interface.get_signing_serializer(app)
    assert ours is app.session_interface.get_signing_serializer(app)  # built once
    cookie = flask_signer.dumps({"worker_id": "alice", "csrf_token": "t0k3n"})
    assert ours.loads(cookie) == {"worker_id": "alice", "csrf_token": "t0k3n"}
    assert flask_signer.loads(ours.dumps({"worker_id": "bob"})) == {"worker_id": "bob"}
    client.set_cookie("session", cookie)
    assert 'id="hit-form"' in client.get("/next").get_data(as_text=True)  # alice's session: her HIT page
    forged = cookie[:-2] + ("AA" if not cookie.endswith("AA") else "BB")
    client.set_cookie("session", forged)
    assert client.get("/next").location == "/"  # no session: back to the entry page
    app.secret_key = "another-secret"
    assert app.session_interface.get_signing_serializer(app) is not ours
    client.set_cookie("session", cookie)
    assert client.get("/next").location == "/"
