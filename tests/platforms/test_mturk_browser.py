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

from analysis_core.cli import main
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
