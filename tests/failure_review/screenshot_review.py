"""Screenshots of a failure-review HIT (1280 px and a 390 px phone) and its end-of-session survey.

Builds a review study from a generated analysis folder (or a real one with --analysis,
e.g. 'barlow demo' output after 'barlow visualize'), serves it and saves full-page PNGs.
Run: python tests/failure_review/screenshot_review.py [--out DIR] [--analysis DIR]
(default out: screenshots/review/ in the current folder).
"""

from __future__ import annotations

import argparse
import importlib.util
import shutil
import tempfile
import threading
from pathlib import Path

from playwright.sync_api import sync_playwright
from werkzeug.serving import make_server

HERE = Path(__file__).resolve().parent


def _fixtures():
    spec = importlib.util.spec_from_file_location("review_test_fixtures", HERE / "conftest.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main(out_dir: str = "screenshots/review", analysis_dir: str | None = None, unit: str = "leaf") -> None:
    from analysis_core.report.context import load_report_data
    from study.app import create_app
    from study.db import open_study_database
    from study.failure_review.create import ReviewOptions, create_review_study

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="barlow-review-shots-"))
    try:
        analysis = Path(analysis_dir) if analysis_dir else _fixtures().make_review_analysis(work / "analysis")
        spec, hits = create_review_study(analysis, work / "study", ReviewOptions(assignments_per_hit=2, unit=unit), load_report_data)
        open_study_database(work / "study", spec=spec).dispose()
        app = create_app(work / "study", secret_key="shot")
        httpd = make_server("127.0.0.1", 0, app, threaded=True)
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
        base = f"http://127.0.0.1:{httpd.server_port}"
        chromium = shutil.which("chromium") or shutil.which("chromium-browser")
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=chromium, headless=True, args=["--no-sandbox", "--disable-gpu"])
            for name, viewport in [("desktop", {"width": 1280, "height": 900}), ("phone", {"width": 390, "height": 844})]:
                context = browser.new_context(viewport=viewport, device_scale_factor=1)
                page = context.new_page()
                page.goto(base + "/")
                page.fill("#worker_id", f"shot-{name}")
                page.click("button[type=submit]")
                page.wait_for_selector("#hit-form")
                page.screenshot(path=str(out / f"review_hit_{unit}_{name}.png"), full_page=True)
                page.click("#submit")  # empty: the browser lists what is missing
                page.screenshot(path=str(out / f"review_hit_{unit}_{name}_invalid.png"), full_page=False)
                crowd = f"{base}/hit/{hits[0].key}?assignmentId=A-{name}&hitId=H1&workerId=W-{name}&turkSubmitTo=http://127.0.0.1:9"
                page.goto(crowd)
                page.locator("#q-survey").screenshot(path=str(out / f"review_survey_{name}.png"))
                context.close()
            browser.close()
        httpd.shutdown()
        print(f"screenshots in {out}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="screenshots/review")
    parser.add_argument("--analysis")
    parser.add_argument("--unit", default="leaf", choices=["leaf", "tree"])
    args = parser.parse_args()
    main(args.out, args.analysis, args.unit)
