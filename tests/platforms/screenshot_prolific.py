"""Screenshots of a Prolific study: the participant's pages and the dashboard with bonuses.

Publishes a small study on the spec-checking fake Prolific, lets two participants work
through /prolific in headless Chromium (Prolific's completion page is caught, not opened),
collects, approves, pays one bonus and loses the answer of another (an unknown outcome),
and saves PNGs. Run: python tests/platforms/screenshot_prolific.py [--out DIR]
(default out: screenshots/prolific/ in the current folder).
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import threading
from pathlib import Path

from playwright.sync_api import sync_playwright
from werkzeug.serving import make_server

from tests.platforms.fakes.mturk import Running
from tests.platforms.fakes.prolific import FakeProlific
from tests.platforms.test_mturk_cli import set_crowd
from tests.study.conftest import make_analysis, make_study

CODE = "C0DE1234"


def _answer(page, n: int) -> None:
    """Fill whatever the HIT page asks (radio groups: the first choice; text: a description)."""
    for area in page.query_selector_all("textarea"):
        area.fill(f"thin dark straps along the top, seen in view {n}")
    for name in sorted({r.get_attribute("name") for r in page.query_selector_all("input[type=radio]")}):
        page.click(f"label[for={page.query_selector_all(f'input[type=radio][name={name}]')[0].get_attribute('id')}]")


def main(out_dir: str = "screenshots/prolific") -> None:
    from barlow.cli import main as barlow
    from study.app import create_app

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="barlow-prolific-shots-"))
    fake = FakeProlific(currency="GBP")
    api = Running(fake)
    fake.url = api.url
    os.environ.update(PROLIFIC_TOKEN=fake.token, PROLIFIC_API_URL=api.url)
    try:
        study = make_study(make_analysis(work / "analysis"), work / "study", top_n=1, top_m=2, assignments_per_hit=2, attention_checks=1)
        set_crowd(study, {"target_hourly_wage": 12, "prolific": {"places": 4, "hits_per_participant": 2, "completion_code": CODE, "estimated_minutes": 10}})
        assert barlow(["study", "publish", str(study), "--platform", "prolific", "--url", "https://study.example.org/", "--yes"]) == 0
        (study_id,) = fake.studies
        app = create_app(study, admin_token="shot", secret_key="shot")
        httpd = make_server("127.0.0.1", 0, app, threaded=True)
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
        base = f"http://127.0.0.1:{httpd.server_port}"
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=shutil.which("chromium"), headless=True, args=["--no-sandbox", "--disable-gpu"])
            for pid in ("PARTICIPANTANA", "PARTICIPANTBEN"):
                page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
                page.route("https://app.prolific.com/**", lambda route: route.fulfill(status=200, body="Prolific completion page"))
                session_id = fake.start(study_id, pid)
                page.goto(f"{base}/prolific?PROLIFIC_PID={pid}&STUDY_ID={study_id}&SESSION_ID={session_id}")
                for n in range(2):
                    page.wait_for_url("**/next*")  # /next shows the HIT itself
                    if pid == "PARTICIPANTANA":
                        page.screenshot(path=str(out / f"participant_hit_{n + 1}.png"), full_page=True)
                    _answer(page, n)
                    page.click("#submit")
                    if n == 1:
                        break  # their share is done: the submit goes straight back to Prolific
                    page.wait_for_url("**/next?saved=*")  # the next HIT says the answer is saved
                    if pid == "PARTICIPANTANA":
                        page.screenshot(path=str(out / "participant_saved_next_hit.png"))
                    else:  # stops midway, then comes back from Prolific
                        page.click("text=Stop for now")
                        page.screenshot(path=str(out / "participant_stopped.png"))
                        page.goto(f"{base}/prolific?PROLIFIC_PID={pid}&STUDY_ID={study_id}&SESSION_ID={session_id}")
                page.wait_for_url("https://app.prolific.com/**")
                assert page.url.endswith(f"cc={CODE}"), page.url
                fake.complete(study_id, pid, CODE, seconds=600)
            page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
            page.goto(f"{base}/prolific?PROLIFIC_PID=bad%20id&STUDY_ID={study_id}&SESSION_ID=x")
            page.screenshot(path=str(out / "participant_bad_link.png"))
            assert barlow(["study", "collect", str(study)]) == 0
            assert barlow(["study", "review", str(study), "--approve-all-passing"]) == 0
            assert barlow(["study", "bonus", str(study), "--worker", "PARTICIPANTANA", "--amount", "0.50", "--reason", "Clear descriptions"]) == 0
            fake.fault("POST", "/pay/$", "drop")  # paid, answer lost: an unknown outcome
            assert barlow(["study", "bonus", str(study), "--worker", "PARTICIPANTBEN", "--amount", "0.75", "--reason", "Careful work"]) == 1
            page.goto(base + "/admin?token=shot")
            page.screenshot(path=str(out / "dashboard_prolific.png"), full_page=True)
            page.locator("#platform").screenshot(path=str(out / "dashboard_prolific_platform.png"))
            browser.close()
        httpd.shutdown()
    finally:
        api.close()
        shutil.rmtree(work, ignore_errors=True)
    print(f"screenshots in {out}: " + ", ".join(sorted(p.name for p in out.glob("*.png"))))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="screenshots/prolific")
    main(parser.parse_args().out)
