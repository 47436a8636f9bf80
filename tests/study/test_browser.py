"""Acceptance: headless Chromium runs a local session as two workers, a preview and a crowd assignment."""

from __future__ import annotations

import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from werkzeug.serving import make_server

from study.app import create_app
from study.export import batch_results

pytestmark = pytest.mark.browser


@pytest.fixture
def server(study_dir, platform):
    # The stand-in platform answers on localhost, so it is allowed as turkSubmitTo here.
    app = create_app(study_dir, admin_token="admin-tok", secret_key="browser-test", submit_origins=(platform[0],))
    httpd = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_port}"
    httpd.shutdown()
    thread.join(5)


class _StandIn(BaseHTTPRequestHandler):
    """Plays the crowd platform: frames the HIT page and receives /mturk/externalSubmit."""

    posts: list = []
    done = threading.Event()

    def do_GET(self):
        src = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query).get("src", [""])[0]
        body = f'<!doctype html><title>platform</title><iframe id="hit" src="{src}" width="1200" height="2400"></iframe>'.encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        length = int(self.headers.get("Content-Length", 0))
        fields = urllib.parse.parse_qs(self.rfile.read(length).decode())
        type(self).posts.append((self.path, {k: v[0] for k, v in fields.items()}))
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.end_headers()
        self.wfile.write(b"<p id=ok>received</p>")
        type(self).done.set()

    def log_message(self, *args):
        pass


@pytest.fixture
def platform():
    _StandIn.posts = []
    _StandIn.done = threading.Event()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _StandIn)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_port}", _StandIn
    httpd.shutdown()
    thread.join(5)


def answer_with_mouse(page, description, ease, confidence, view_label):
    page.fill("#input-description", description)
    page.click(f"label[for=input-ease-{ease}]")
    page.click(f"label[for=input-confidence-{confidence}]")
    page.get_by_label(view_label, exact=True).check()
    page.click("#submit")


def answer_with_keyboard(page, description):
    """Tab through the form: textarea, then each radio group (space picks, arrows move)."""
    page.focus("#input-description")
    page.keyboard.type(description)
    page.keyboard.press("Tab")
    page.keyboard.press("Space")  # ease = 1
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowRight")  # ease = 3
    page.keyboard.press("Tab")
    page.keyboard.press("Space")  # confidence = 1
    page.keyboard.press("ArrowRight")  # confidence = 2
    page.keyboard.press("Tab")
    page.keyboard.press("Space")  # useful_view = A
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "submit"
    page.keyboard.press("Enter")


def shown_hit(page) -> str:
    """The HIT a page shows, from its form's submit address (/hit/<key>/submit)."""
    return page.get_attribute("#hit-form", "action").rsplit("/", 2)[1]


def test_two_workers_run_a_local_session(browser, server, study_dir):
    done: dict[str, list[str]] = {"alice": [], "bob": []}
    for worker in done:
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        page = context.new_page()
        page.goto(server + "/")
        page.fill("#worker_id", worker)
        page.click("#start")
        for round_ in range(2):
            page.wait_for_url("**/next*")  # the HIT is shown at /next itself (?saved=... after a submit)
            hit = shown_hit(page)
            assert page.is_visible("#section-A img") and page.is_visible("#section-B img") and page.is_visible("#section-C img")
            if round_ == 0:
                # The browser refuses an incomplete form before anything is sent.
                page.click("#submit")
                assert page.url.endswith("/next") and shown_hit(page) == hit
                assert "Please answer every question" in page.text_content("#client-errors")
            if worker == "alice":
                answer_with_mouse(page, f"{worker} sees stripes on {hit}", 4, 5, "Sections B and C together")
            else:
                answer_with_keyboard(page, f"{worker} sees soles on {hit}")
            # The submit leads straight to the next HIT, which says the answer is saved.
            page.wait_for_url(f"**/next?saved={hit}&again=0")
            assert "Your answer is saved" in page.text_content("#saved")
            done[worker].append(hit)
        page.wait_for_url("**/next?saved=*")
        shown = shown_hit(page)
        assert shown not in done[worker]
        page.reload()  # a reload shows the same HIT again: nothing new is assigned
        assert shown_hit(page) == shown
        context.close()

    frame = batch_results(study_dir)
    assert len(frame) == 4
    got = {(r["WorkerId"], r["HITId"]): r for _, r in frame.iterrows()}
    assert set(got) == {(w, h) for w, hits in done.items() for h in hits}
    for (worker, hit), row in got.items():
        if worker == "alice":
            assert (row["Answer.description"], row["Answer.ease"], row["Answer.confidence"], row["Answer.useful_view"]) == (
                f"alice sees stripes on {hit}", 4, 5, "B and C")
        else:
            assert (row["Answer.description"], row["Answer.ease"], row["Answer.confidence"], row["Answer.useful_view"]) == (
                f"bob sees soles on {hit}", 3, 2, "A")


def test_preview_mode_is_read_only(page, server):
    page.goto(server + "/hit/h0002?assignmentId=ASSIGNMENT_ID_NOT_AVAILABLE&hitId=PH2")
    assert page.is_disabled("#submit")
    assert page.is_disabled("#input-description") and page.is_disabled("#input-ease-3")
    assert "Preview" in page.text_content("#preview-notice")


def test_assignment_mode_posts_to_turk_submit_to_from_an_iframe(page, server, platform, study_dir):
    base, stand_in = platform
    query = urllib.parse.urlencode({"assignmentId": "ASG-77", "hitId": "PH3", "workerId": "WKR-9", "turkSubmitTo": base + "/"})
    hit_url = f"{server}/hit/h0003?{query}"
    page.goto(f"{base}/frame?" + urllib.parse.urlencode({"src": hit_url}))
    frame = page.frame_locator("#hit")
    frame.locator("#input-description").fill("dark straps of sandals")
    frame.locator("label[for=input-ease-2]").click()
    frame.locator("label[for=input-confidence-3]").click()
    frame.locator("label[for=input-useful_view-2]").click()
    frame.locator("#submit").click()
    assert stand_in.done.wait(15), "the HIT never posted to turkSubmitTo"
    path, fields = stand_in.posts[0]
    assert path == "/mturk/externalSubmit"
    assert fields == {"assignmentId": "ASG-77", "description": "dark straps of sandals", "ease": "2", "confidence": "3", "useful_view": "B"}
    row = batch_results(study_dir).iloc[0]
    assert (row["AssignmentId"], row["WorkerId"], row["HITKey"]) == ("ASG-77", "WKR-9", "h0003")
