"""The HTML summary page in a real browser: figures load, untrusted text stays text."""

import pytest

from barlow.cli import main


@pytest.mark.browser
def test_summary_page_shows_figures_and_tables_without_worker_ids(hand_csv, csv_args, tmp_path, page):
    out = tmp_path / "out"
    assert main(["study", "analyze", "--csv", str(hand_csv), *csv_args, "--out", str(out), "--bootstrap", "100"]) == 0
    dialogs = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.goto((out / "summary.html").as_uri())
    images = page.eval_on_selector_all("img", "els => els.map(e => [e.getAttribute('src'), e.complete && e.naturalWidth > 0])")
    assert {src for src, _ in images} >= {"figure9a_likert.png", "figure9b_useful_view.png"}
    assert all(ok for _, ok in images), images
    text = page.inner_text("body")
    assert "Figure 9a" in text and "Fleiss" in text and "Krippendorff" in text
    assert "<script>alert(1)</script> collar" in text  # shown as text ...
    assert dialogs == []  # ... and never run
    assert "SECRET" not in page.content()
