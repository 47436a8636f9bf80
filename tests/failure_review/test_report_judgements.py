"""barlow report reads failure_judgements.csv: sentences carry the verdict, bad files are named."""

from __future__ import annotations

import shutil

import pandas as pd

from analysis_core.report import build_report
from barlow.cli import main


def _judgements(path, rows):
    pd.DataFrame(rows, columns=["grouping", "class", "leaf", "n_reviewers", "n_spurious", "verdict", "judged_spurious"]).to_csv(path, index=False)


def test_report_shows_judgements_given_with_the_flag(review_analysis, tmp_path, capsys):
    judged = tmp_path / "judged.csv"
    _judgements(judged, [["label", "Coat", 4, 5, 4, "spurious", True], ["prediction", "Coat", 4, 3, 1, "core", False],
                         ["label", "Nope", 9, 3, 3, "spurious", True]])
    analysis = tmp_path / "analysis"
    shutil.copytree(review_analysis, analysis)
    assert main(["report", "--analysis", str(analysis), "--judgements", str(judged), "--out", str(tmp_path / "r")]) == 0
    coat = (tmp_path / "r" / "groups" / "label-Coat.html").read_text()
    assert '<span class="judgement spurious"' in coat and "judged spurious by 4 of 5 reviewers" in coat
    assert "judged spurious by 1 of 3 reviewers" in (tmp_path / "r" / "groups" / "prediction-Coat.html").read_text()
    assert "judged spurious by" not in (tmp_path / "r" / "groups" / "label-Shirt.html").read_text()
    index = (tmp_path / "r" / "index.html").read_text()
    assert 'id="only-spurious"' in index and '"n_spurious": 1' in index


def test_report_without_judgements_has_no_filter(review_analysis, tmp_path):
    _, data = build_report(review_analysis, tmp_path / "r", progress=False)
    assert data.summary["n_judged"] == 0
    assert 'id="only-spurious"' not in (tmp_path / "r" / "index.html").read_text()


def test_a_file_that_is_not_judgements_is_named(review_analysis, tmp_path, capsys):
    wrong = tmp_path / "wrong.csv"
    pd.DataFrame({"feature": [1], "description": ["x"]}).to_csv(wrong, index=False)
    assert main(["report", "--analysis", str(review_analysis), "--judgements", str(wrong), "--out", str(tmp_path / "r")]) == 2
    assert "lacks column(s) grouping, class, leaf" in capsys.readouterr().err
    assert main(["report", "--analysis", str(review_analysis), "--judgements", str(tmp_path / "none.csv"), "--out", str(tmp_path / "r")]) == 2
    assert "not found" in capsys.readouterr().err
