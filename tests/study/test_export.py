import json

import pandas as pd
import pytest

from analysis_core.artifacts.errors import BarlowError
from barlow.cli import main
from study.allocation import Allocator
from study.db import open_study_database
from study.export import batch_results, long_table, write_export
from study.study_file import load_study_file


def fill(study_dir, clock, workers=("alice", "bob"), per_worker=3):
    from datetime import timedelta

    db = open_study_database(study_dir)
    allocator = Allocator(db.study_id, timedelta(minutes=30), clock)
    try:
        for w in workers:
            for i in range(per_worker):
                with db.sessions.begin() as s:
                    a = allocator.next_assignment(s, allocator.worker(s, w))
                    clock.advance(seconds=40 + i)
                    allocator.submit(s, a, {"description": f"{w} says, \"stripes\"\nline {i}", "ease": str(1 + i), "confidence": "5", "useful_view": "B and C"})
    finally:
        db.dispose()


def test_batch_results_has_the_mturk_shape(study_dir, clock):
    fill(study_dir, clock)
    frame = batch_results(study_dir)
    spec = load_study_file(study_dir)
    for column in ["HITId", "AssignmentId", "WorkerId", "WorkTimeInSeconds", "AcceptTime", "SubmitTime",
                   "Input.grouping", "Input.class", "Input.feature", "Input.is_attention_check"]:
        assert column in frame.columns
    assert [c for c in frame.columns if c.startswith("Answer.")] == [f"Answer.{q.id}" for q in spec.questions]
    assert len(frame) == 6 and set(frame["WorkerId"]) == {"alice", "bob"}
    assert frame["Input.feature"].dtype == "int64" and frame["Answer.ease"].dtype == "Int64"
    assert sorted(frame["WorkTimeInSeconds"]) == [40, 40, 41, 41, 42, 42]
    assert frame["AssignmentId"].is_unique
    assert pd.to_datetime(frame["SubmitTime"]).notna().all()


def test_files_round_trip(study_dir, clock, tmp_path):
    fill(study_dir, clock)
    assert write_export(study_dir, "mturk-csv", tmp_path / "b.csv") == 6
    back = pd.read_csv(tmp_path / "b.csv")
    assert back["Answer.description"].str.contains('"stripes"\nline').all()  # quotes and newlines survive
    assert write_export(study_dir, "jsonl", tmp_path / "a.jsonl") == 6
    rows = [json.loads(line) for line in open(tmp_path / "a.jsonl")]
    assert rows[0]["Answer"]["useful_view"] == "B and C" and "feature" in rows[0]["Input"]
    assert write_export(study_dir, "long", tmp_path / "l.csv") == 24
    long = long_table(study_dir)
    assert list(long.columns[:3]) == ["hit", "assignment", "worker"]
    assert long.groupby("question").size().to_dict() == {"confidence": 6, "description": 6, "ease": 6, "useful_view": 6}


def test_export_errors(study_dir, tmp_path, capsys):
    with pytest.raises(BarlowError, match="unknown export format"):
        write_export(study_dir, "xlsx", tmp_path / "x")
    assert not (tmp_path / "x").exists()
    (study_dir / "study.sqlite").rename(study_dir / "moved.sqlite")
    assert main(["study", "export", str(study_dir), "--out", str(tmp_path / "y.csv")]) == 2
    assert "no database" in capsys.readouterr().err
    assert main(["study", "export", str(study_dir), "--out", str(tmp_path / "y.csv"),
                 "--database-url", f"sqlite:///{study_dir / 'moved.sqlite'}"]) == 0


def test_two_studies_with_one_name_cannot_share_a_database(analysis_dir, study_factory, tmp_path):
    items = tmp_path / "items.csv"
    items.write_text("grouping,class,feature\nlabel,Bag,4\n")
    shared = f"sqlite:///{tmp_path / 'shared.sqlite'}"
    first = study_factory(analysis_dir, tmp_path / "one", items_csv=items, name="same")
    open_study_database(first, shared).dispose()
    items.write_text("grouping,class,feature\nlabel,Coat,5\n")
    second = study_factory(analysis_dir, tmp_path / "two", items_csv=items, name="same")
    with pytest.raises(BarlowError, match="already holds a different study named 'same'"):
        open_study_database(second, shared)
