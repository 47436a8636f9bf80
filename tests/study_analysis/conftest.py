"""Fixtures for the study-analysis tests: small hand-made batch-results CSVs."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

HEADER = [
    "HITId", "AssignmentId", "WorkerId", "AssignmentStatus", "WorkTimeInSeconds",
    "Input.grouping", "Input.class", "Input.feature", "Input.is_attention_check",
    "Answer.description", "Answer.ease", "Answer.confidence", "Answer.useful_view",
]

# 3 items x 3 workers; the statistics of this table are worked out by hand in the tests.
HAND_ROWS = [
    # item 1 (feature 11): ease 5,5,4; views B,B,C
    ["H1", "a1", "W1SECRET", "Approved", "60", "label", "Bag", "11", "false", "metal buckle", "5", "5", "B"],
    ["H1", "a2", "W2SECRET", "Approved", "120", "label", "Bag", "11", "false", "a metal buckle", "5", "4", "B"],
    ["H1", "a3", "W3SECRET", "Approved", "90", "label", "Bag", "11", "false", "buckles", "4", "4", "C"],
    # item 2 (feature 22): ease 1,2,2; views none,none,B
    ["H2", "a4", "W1SECRET", "Approved", "30", "prediction", "Coat", "22", "false", "nothing", "1", "2", "none"],
    ["H2", "a5", "W2SECRET", "Approved", "45", "prediction", "Coat", "22", "false", "no idea", "2", "2", "none"],
    ["H2", "a6", "W3SECRET", "Approved", "75", "prediction", "Coat", "22", "false", "noise", "2", "1", "B"],
    # item 3 (feature 33): ease 3,3,3; views B and C, C, B (a three-way tie)
    ["H3", "a7", "W1SECRET", "Approved", "100", "label", "Shirt", "33", "false", "<script>alert(1)</script> collar", "3", "3", "B and C"],
    ["H3", "a8", "W2SECRET", "Approved", "80", "label", "Shirt", "33", "false", "<script>alert(1)</script> collar", "3", "4", "C"],
    ["H3", "a9", "W3SECRET", "Approved", "50", "label", "Shirt", "33", "false", "collar", "3", "5", "B"],
]

CSV_ARGS = [
    "--item", "Input.grouping,Input.class,Input.feature",
    "--likert", "Answer.ease,Answer.confidence",
    "--choice", "Answer.useful_view",
    "--text", "Answer.description",
    "--embeddings", "off",  # the optional model takes seconds to load; one test covers it
]


def write_csv(path: Path, rows: list[list[str]], header: list[str] = HEADER) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


@pytest.fixture
def hand_csv(tmp_path) -> Path:
    return write_csv(tmp_path / "batch.csv", HAND_ROWS)


@pytest.fixture
def hand_rows() -> list[list[str]]:
    """A fresh copy of the hand-made rows, for tests that break them on purpose."""
    return [list(row) for row in HAND_ROWS]


@pytest.fixture
def make_csv(tmp_path):
    """``make_csv(rows, header=HEADER, name="batch.csv")`` writes a CSV and returns its path."""

    def make(rows, header=HEADER, name="batch.csv"):
        return write_csv(tmp_path / name, rows, header)

    return make


@pytest.fixture
def csv_args() -> list[str]:
    return list(CSV_ARGS)
