"""Acceptance: headless Chromium plays MTurk workers on ExternalQuestion and HTMLQuestion HITs.

create -> publish (sandbox) -> two workers answer in the browser -> collect -> approve ->
bonus -> study analyze, with the real study server (HTTPS), the real boto3 client, the
fake MTurk endpoint (HTTPS) and moto's S3 server for the HTMLQuestion images.
"""

from __future__ import annotations

import json
import ssl
import threading
import urllib.parse
import urllib.request
from decimal import Decimal

import boto3
import pytest
from werkzeug.serving import make_server

from barlow.cli import main
from study.app import create_app
from tests.platforms.test_mturk_cli import db_state

pytestmark = pytest.mark.browser


@pytest.fixture
def study_server(pstudy, tls, aws_env):
    # The fake plays MTurk's worker side, so its origin may receive the hand-back form.
    app = create_app(pstudy, admin_token="admin-tok", secret_key="platform-browser-test", submit_origins=(aws_env.url,))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(str(tls[0]), str(tls[1]))
    httpd = make_server("127.0.0.1", 0, app, threaded=True, ssl_context=context)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"https://127.0.0.1:{httpd.server_port}/"
    httpd.shutdown()
    thread.join(5)


@pytest.fixture
def worker_page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, ignore_https_errors=True)
    yield context.new_page()
    context.close()


@pytest.fixture
def s3(monkeypatch, aws_env):
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    url = f"http://{host}:{port}"
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", url)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    client = boto3.client("s3", region_name="us-east-1")
    client.create_bucket(Bucket="barlow-hits")
    yield client
    server.stop()


def mturk_params(fake, hit_id, aid, worker):
    return urllib.parse.urlencode({"assignmentId": aid, "hitId": hit_id, "workerId": worker, "turkSubmitTo": fake.url})


def answer(page, description, ease="4", confidence="3", view="Sections B and C together"):
    page.fill("#input-description", description)
    page.click(f"label[for=input-ease-{ease}]")
    page.click(f"label[for=input-confidence-{confidence}]")
    page.get_by_label(view, exact=True).check()
    page.click("#submit")


def test_external_question_two_workers_to_analysis(pstudy, aws_env, study_server, worker_page, tmp_path, capsys):
    page = worker_page
    assert main(["study", "publish", str(pstudy), "--platform", "mturk", "--sandbox", "--url", study_server]) == 0
    hits, _, _, _ = db_state(pstudy)
    question = aws_env.hits[hits["h0001"]].question
    external = question.split("<ExternalURL>")[1].split("</ExternalURL>")[0]
    assert external == study_server + "hit/h0001"

    texts = {"AWORKERONE": "dark stripes on a light background", "AWORKERTWO": "the sole of a shoe seen from the side"}
    done = {}
    for worker, text in texts.items():
        for key in ("h0001", "h0002"):
            aid = aws_env.accept(hits[key], worker)
            # What MTurk's frame loads: the ExternalURL plus the worker's parameters.
            page.goto(f"{external.rsplit('/', 1)[0]}/{key}?{mturk_params(aws_env, hits[key], aid, worker)}")
            answer(page, f"{text} ({key})")
            page.wait_for_selector("#submitted", timeout=15000)
            done[(worker, key)] = aid
    for (worker, key), aid in done.items():
        remote = aws_env.assignments[aid]
        assert remote.status == "Submitted" and f"{texts[worker]} ({key})" in remote.answer

    capsys.readouterr()
    assert main(["study", "collect", str(pstudy)]) == 0
    # The study server stored these answers already: collect matches them, adds none.
    assert "0 new, 4 updated, 0 already stored" in capsys.readouterr().out
    _, rows, _, _ = db_state(pstudy)
    assert len(rows) == 4 and {r["aid"] for r in rows} == set(done.values())
    assert {r["answers"]["description"] for r in rows} == {f"{t} ({k})" for (w, k) in done for t in [texts[w]]}

    assert main(["study", "review", str(pstudy), "--approve-all-passing"]) == 0
    assert "approved 4" in capsys.readouterr().out
    assert all(aws_env.assignments[a].status == "Approved" for a in done.values())
    assert main(["study", "bonus", str(pstudy), "--worker", "AWORKERTWO", "--amount", "0.30", "--reason", "Precise descriptions"]) == 0
    assert aws_env.bonuses == [{"worker": "AWORKERTWO", "assignment": aws_env.bonuses[0]["assignment"], "amount": Decimal("0.30"), "reason": "Precise descriptions", "token": aws_env.bonuses[0]["token"]}]

    out = tmp_path / "analysis-out"
    assert main(["study", "analyze", "--study", str(pstudy), "--out", str(out)]) == 0
    summary = json.dumps(json.loads((out / "summary.json").read_text()))
    assert '"n_answers": 4' in summary
    descriptions = (out / "feature_descriptions.csv").read_text()
    assert "dark stripes on a light background (h0001)" in descriptions


def test_html_question_images_on_s3_answers_through_mturk(pstudy, aws_env, s3, worker_page, capsys):
    page = worker_page
    assert main(["study", "publish", str(pstudy), "--platform", "mturk", "--sandbox", "--question", "html", "--image-bucket", "s3://barlow-hits/studies"]) == 0
    hits, _, _, _ = db_state(pstudy)
    question = aws_env.hits[hits["h0001"]].question
    assert question.startswith("<HTMLQuestion") and len(question.encode()) <= 65535
    assert "base64" not in question  # images are linked, never inlined
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket="barlow-hits")["Contents"]]
    assert f"studies/{pstudy.name}/images/feature_10/A.png" in keys
    urls = [u for u in __import__("re").findall(r'<img src="([^"]+)"', question)]
    assert len(urls) == 3 and all("X-Amz-Signature=" in u for u in urls)
    with urllib.request.urlopen(urls[0].replace("&amp;", "&")) as resp:
        assert resp.read() == (pstudy / "images/feature_10/A.png").read_bytes()

    # Preview: the page is read-only.
    page.goto(f"{aws_env.url}/mturk/htmlquestion/{hits['h0001']}?assignmentId=ASSIGNMENT_ID_NOT_AVAILABLE&hitId={hits['h0001']}")
    assert page.is_disabled("#submit") and page.is_visible("#preview-notice")

    aid = aws_env.accept(hits["h0001"], "AWORKERONE")
    page.goto(f"{aws_env.url}/mturk/htmlquestion/{hits['h0001']}?{mturk_params(aws_env, hits['h0001'], aid, 'AWORKERONE')}")
    answer(page, "rounded toe caps of sneakers", ease="5", confidence="4", view="Section C (feature attack)")
    page.wait_for_selector("#submitted", timeout=15000)
    assert aws_env.assignments[aid].status == "Submitted"

    capsys.readouterr()
    assert main(["study", "collect", str(pstudy)]) == 0
    assert "1 new, 0 updated" in capsys.readouterr().out
    _, rows, _, _ = db_state(pstudy)
    assert rows[0]["answers"] == {"description": "rounded toe caps of sneakers", "ease": "5", "confidence": "4", "useful_view": "C"}
    assert rows[0]["aid"] == aid and rows[0]["worker"] == "AWORKERONE"


def test_public_image_urls_and_uploads_once(pstudy, s3):
    from study.platforms.images import ImageUploader, parse_bucket

    target = parse_bucket("s3://barlow-hits/pub")
    first = ImageUploader(target, "st", presign_seconds=None)
    url = first.url(pstudy, "images/feature_0/A.png")
    assert "X-Amz-Signature" not in url and url.endswith("/barlow-hits/pub/st/images/feature_0/A.png")
    again = ImageUploader(target, "st", presign_seconds=3600)
    signed = again.url(pstudy, "images/feature_0/A.png")
    assert again.uploaded == 0 and again.skipped == 1 and "X-Amz-Expires=3600" in signed
    with pytest.raises(Exception, match="at most 7 days"):
        ImageUploader(target, "st", presign_seconds=8 * 86400)


@pytest.fixture
def closed_server(pstudy, tls, aws_env):
    """The study server as `barlow study serve --crowd auto` runs it once the study is published.

    The socket is bound first (publish needs its URL); the app is made after publish, with
    the verifier `serve` finds for the study's platform.
    """
    from study.platforms.connect import study_verifier

    holder = {}

    def app(environ, start_response):
        return holder["app"](environ, start_response)

    def start():
        holder["app"] = create_app(pstudy, admin_token="admin-tok", secret_key="closed-test", submit_origins=(aws_env.url,),
                                   crowd_mode="auto", verifier=study_verifier(pstudy))
        return holder["app"]

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(str(tls[0]), str(tls[1]))
    httpd = make_server("127.0.0.1", 0, app, threaded=True, ssl_context=context)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"https://127.0.0.1:{httpd.server_port}/", start
    httpd.shutdown()
    thread.join(5)


def platform_statuses(study) -> dict[str, tuple[str, str | None]]:
    from sqlalchemy import select

    from study.db import open_study_database
    from study.models import Assignment

    db = open_study_database(study, create=False)
    try:
        with db.sessions() as s:
            return {a.platform_assignment_id: (a.worker.external_id, a.platform_status) for a in s.scalars(select(Assignment))}
    finally:
        db.dispose()


def forged_submit(base, aws_env, tls, key, hit_id, aid, worker) -> tuple[int, str]:
    """What an attacker sends: the crowd page's form under made-up ids, never through MTurk."""
    import re

    context = ssl.create_default_context(cafile=str(tls[0]))
    params = mturk_params(aws_env, hit_id, aid, worker)
    try:
        with urllib.request.urlopen(f"{base}hit/{key}?{params}", context=context) as resp:
            token = re.search(r'name="form_token" value="([^"]+)"', resp.read().decode()).group(1)
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()
    form = dict(urllib.parse.parse_qsl(params)) | {
        "form_token": token, "description": "forged answer", "ease": "1", "confidence": "1", "useful_view": "A",
    }
    request = urllib.request.Request(f"{base}hit/{key}/submit", data=urllib.parse.urlencode(form).encode(), method="POST")
    try:
        with urllib.request.urlopen(request, context=context) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def test_closed_crowd_mode_on_external_questions_confirms_at_collect(pstudy, aws_env, closed_server, worker_page, tls, tmp_path, capsys):
    base, start = closed_server
    page = worker_page
    assert main(["study", "publish", str(pstudy), "--platform", "mturk", "--sandbox", "--url", base]) == 0
    app = start()
    assert app.extensions["barlow_study"].crowd_mode == "closed"
    hits, _, _, _ = db_state(pstudy)

    texts = {"AWORKERONE": "dark stripes on a light background", "AWORKERTWO": "the sole of a shoe seen from the side"}
    genuine = {}
    for worker, text in texts.items():
        for key in ("h0001", "h0002"):
            aid = aws_env.accept(hits[key], worker)
            # Our server gets the form while MTurk still holds the assignment as Accepted.
            page.goto(f"{base}hit/{key}?{mturk_params(aws_env, hits[key], aid, worker)}")
            answer(page, f"{text} ({key})")
            page.wait_for_selector("#submitted", timeout=15000)
            genuine[aid] = worker
    # Stored, but MTurk could not confirm them when they arrived.
    assert platform_statuses(pstudy) == {aid: (w, "unconfirmed") for aid, w in genuine.items()}
    assert all(aws_env.assignments[aid].status == "Submitted" for aid in genuine)

    # Forged: assignment ids MTurk never issued, posted straight to the server.
    forged = {"FORGEDASSIGNMENT00000000000001": "AFORGERONE", "FORGEDASSIGNMENT00000000000002": "AFORGERTWO"}
    for aid, worker in forged.items():
        status, body = forged_submit(base, aws_env, tls, "h0003", hits["h0003"], aid, worker)
        assert status == 200, body
    # h0003 asks for 2 answers: a third one is refused, forged or not.
    status, body = forged_submit(base, aws_env, tls, "h0003", hits["h0003"], "FORGEDASSIGNMENT00000000000003", "AFORGERTHREE")
    assert status == 409 and "all the answers it needs" in body

    export = tmp_path / "before.csv"
    assert main(["study", "export", str(pstudy), "--out", str(export)]) == 0
    assert "wrote 0 assignments" in capsys.readouterr().out

    assert main(["study", "collect", str(pstudy)]) == 0
    assert "0 new, 4 updated" in capsys.readouterr().out
    statuses = platform_statuses(pstudy)
    assert {aid: statuses[aid] for aid in genuine} == {aid: (w, "Submitted") for aid, w in genuine.items()}
    assert {aid: statuses[aid] for aid in forged} == {aid: (w, "unconfirmed") for aid, w in forged.items()}

    import pandas as pd

    assert main(["study", "export", str(pstudy), "--out", str(export)]) == 0
    assert set(pd.read_csv(export)["AssignmentId"]) == set(genuine)
    labelled = tmp_path / "all.csv"
    assert main(["study", "export", str(pstudy), "--out", str(labelled), "--include-unconfirmed"]) == 0
    table = pd.read_csv(labelled)
    assert dict(zip(table["AssignmentId"], table["AssignmentStatus"])) == {aid: "Submitted" for aid in genuine} | {aid: "Unconfirmed" for aid in forged}

    capsys.readouterr()
    assert main(["study", "review", str(pstudy), "--approve-all-passing"]) == 0
    assert "approved 4" in capsys.readouterr().out
    assert all(aws_env.assignments[a].status == "Approved" for a in genuine)
    assert main(["study", "bonus", str(pstudy), "--worker", "AFORGERONE", "--amount", "0.30", "--reason", "x"]) == 2
    assert "no submitted mturk assignment" in capsys.readouterr().err
    assert aws_env.bonuses == []

    with app.test_client() as client:
        dashboard = client.get("/admin", headers={"Authorization": "Bearer admin-tok"}).get_data(as_text=True)
    assert dashboard.count('class="badge check unconfirmed"') == 2 and 'id="unconfirmed-count"' in dashboard

    out = tmp_path / "analysis"
    assert main(["study", "analyze", "--study", str(pstudy), "--out", str(out)]) == 0
    assert json.loads((out / "summary.json").read_text())["answers"] == 4
    descriptions = (out / "feature_descriptions.csv").read_text()
    assert "forged answer" not in descriptions and "dark stripes on a light background (h0001)" in descriptions
    everything = tmp_path / "analysis-all"
    assert main(["study", "analyze", "--study", str(pstudy), "--out", str(everything), "--include-unconfirmed"]) == 0
    assert json.loads((everything / "summary.json").read_text())["answers"] == 6
