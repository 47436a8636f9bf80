"""Take screenshots of a Barlow report to look at it (not collected by pytest).

    python tests/visualization_report/screenshot_report.py REPORT_DIR/index.html OUT_DIR

Writes index.png, index-sorted.png (sorted by error rate) and group.png (the first group
of the index, full page) with headless Chromium.
"""

from __future__ import annotations

import argparse
import importlib.util
import shutil
from pathlib import Path


def chromium_args() -> list[str]:
    # Same flags as the test fixtures, read from tests/conftest.py.
    spec = importlib.util.spec_from_file_location("_barlow_tests_conftest", Path(__file__).resolve().parents[1] / "conftest.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return list(module.CHROMIUM_ARGS)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("index", type=Path, help="the report's index.html")
    parser.add_argument("out", type=Path, help="folder for the PNG screenshots")
    parser.add_argument("--group", type=int, default=0, help="which row of the index to open (0 = first)")
    parser.add_argument("--width", type=int, default=1280)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    args.out.mkdir(parents=True, exist_ok=True)
    executable = shutil.which("chromium") or shutil.which("chromium-browser")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, headless=True, args=chromium_args())
        page = browser.new_page(viewport={"width": args.width, "height": 900})
        page.goto(args.index.resolve().as_uri())
        page.screenshot(path=args.out / "index.png", full_page=True)
        page.click("th[data-key=ber]")
        page.screenshot(path=args.out / "index-sorted.png")
        page.click("th[data-key=aler_minus_ber]")
        page.locator("#groups tbody a").nth(args.group).click()
        page.wait_for_load_state("load")
        # Pictures load lazily; scroll through the page so that all of them are in the shot.
        height = page.evaluate("document.body.scrollHeight")
        for y in range(0, height + 900, 600):
            page.evaluate(f"window.scrollTo(0, {y})")
            page.wait_for_timeout(50)
        page.evaluate("window.scrollTo(0, 0)")
        page.wait_for_load_state("networkidle")
        page.screenshot(path=args.out / "group-top.png")
        page.screenshot(path=args.out / "group.png", full_page=True)
        browser.close()
    print(f"screenshots in {args.out}")


if __name__ == "__main__":
    main()
