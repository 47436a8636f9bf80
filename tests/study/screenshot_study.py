"""Screenshots of the entry page, the HIT page (also as the next HIT after a saved answer) and the admin dashboard.

Builds a small study from a generated analysis folder (or from a real one with
--analysis, e.g. the output of 'barlow demo'), answers a few HITs through the real server,
and saves PNGs. Run: python tests/study/screenshot_study.py [--out DIR] [--analysis DIR]
(default out: screenshots/study/ in the current folder).
"""

from __future__ import annotations

import importlib.util
import shutil
import tempfile
import threading
from pathlib import Path

from playwright.sync_api import sync_playwright
from werkzeug.serving import make_server

HERE = Path(__file__).resolve().parent


def _fixtures():
    # conftest.py holds the analysis/study builders; load it as a plain module.
    spec = importlib.util.spec_from_file_location("study_test_fixtures", HERE / "conftest.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main(out_dir: str = "screenshots/study", analysis_dir: str | None = None) -> None:
    from study.app import create_app

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    fx = _fixtures()
    work = Path(tempfile.mkdtemp(prefix="barlow-shots-"))
    try:
        analysis = Path(analysis_dir) if analysis_dir else fx.make_analysis(work / "analysis")
        study = fx.make_study(analysis, work / "study", top_n=1, top_m=2, assignments_per_hit=3, attention_checks=1)
        app = create_app(study, admin_token="shot", secret_key="shot")
        httpd = make_server("127.0.0.1", 0, app, threaded=True)
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
        base = f"http://127.0.0.1:{httpd.server_port}"
        chromium = shutil.which("chromium") or shutil.which("chromium-browser")
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=chromium, headless=True, args=["--no-sandbox", "--disable-gpu"])
            for worker, n in [("worker-ana", 3), ("worker-ben", 2), ("worker-chen", 1)]:
                page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
                page.goto(base + "/")
                if worker == "worker-ana":
                    page.screenshot(path=str(out / "entry.png"))
                page.fill("#worker_id", worker)
                page.click("#start")
                for i in range(n):
                    page.wait_for_url("**/next*")  # /next shows the HIT itself
                    if worker == "worker-ana" and i == 0:
                        page.screenshot(path=str(out / "hit_page.png"), full_page=True)
                    page.fill("#input-description", f"{['round toes of shoes', 'thin dark straps', 'a wide collar'][i]} <as seen by {worker}>")
                    page.click(f"label[for=input-ease-{3 + i % 3}]")
                    page.click(f"label[for=input-confidence-{5 - i}]")
                    page.click(f"label[for=input-useful_view-{2 + i}]")
                    if worker == "worker-ana" and i == 0:
                        page.screenshot(path=str(out / "hit_page_filled.png"), full_page=True)
                    page.click("#submit")
                    page.wait_for_url("**/next?saved=*")  # the next HIT says the answer is saved
                    if worker == "worker-ana" and i == 0:
                        page.screenshot(path=str(out / "saved_next_hit.png"))
            page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
            page.goto(base + "/hit/h0004?assignmentId=ASSIGNMENT_ID_NOT_AVAILABLE&hitId=PREVIEW")
            page.screenshot(path=str(out / "hit_preview.png"))
            page.goto(base + "/admin?token=shot")
            page.screenshot(path=str(out / "dashboard.png"), full_page=True)
            browser.close()
        httpd.shutdown()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"screenshots in {out}: " + ", ".join(sorted(p.name for p in out.glob("*.png"))))


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="screenshots/study", help="folder for the PNGs (default: %(default)s)")
    parser.add_argument("--analysis", help="a real analysis folder with visualizations (default: a generated one)")
    args = parser.parse_args()
    main(args.out, args.analysis)
