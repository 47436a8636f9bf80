import csv
import json

import pytest

from analysis_core.artifacts import GroupTree
from analysis_core.artifacts.errors import BarlowError
from barlow.cli import main
from study.create import CreateOptions, create_study, tiers
from study.hits import load_hits
from study.study_file import load_study_file


def test_tiers_pick_top_middle_bottom_by_error_rate():
    groups = [GroupTree("label", f"c{i}", ber=i / 100) for i in range(10)]
    picked = [(tier, g.class_name) for tier, g in tiers(groups, 2)]
    assert picked == [("top", "c9"), ("top", "c8"), ("middle", "c5"), ("middle", "c4"), ("bottom", "c1"), ("bottom", "c0")]
    assert len(tiers(groups[:5], 2)) == 5  # fewer groups than 3N: every group once


def test_protocol_study_has_one_hit_per_visualization(analysis_dir, tmp_path):
    spec, hits = create_study(analysis_dir, tmp_path / "s", CreateOptions(top_n=2, top_m=3, assignments_per_hit=3, attention_checks=2))
    trees = json.loads((analysis_dir / "trees.json").read_text())
    label = sorted((g for g in trees["groups"] if g["grouping"] == "label"), key=lambda g: -g["ber"])
    real = [h for h in hits if not h.is_attention_check]
    assert len(real) == 2 * 6 * 3  # 2 groupings x (top+middle+bottom 2) x 3 features
    first = [h for h in real if h.grouping == "label" and h.class_name == label[0]["class"]]
    assert [h.feature for h in first] == [f["feature"] for f in label[0]["selected_features"][:3]]
    assert len({(h.grouping, h.class_name, h.feature) for h in real}) == len(real)
    checks = [h for h in hits if h.is_attention_check]
    assert [h.check_id for h in checks] == ["check-01", "check-02"]
    assert hits[0].is_attention_check is False and hits[-1].is_attention_check is False
    # The folder holds everything a study needs; the images are copies.
    study = tmp_path / "s"
    assert load_study_file(study).settings.assignments_per_hit == 3
    assert [h.key for h in load_hits(study)] == [h.key for h in hits]
    for h in hits:
        for section in "ABC":
            copied = study / h.images[section]
            original = analysis_dir / "visualizations" / f"feature_{h.feature}" / f"{section}.png"
            assert copied.read_bytes() == original.read_bytes()


def test_items_csv_replaces_the_protocol(analysis_dir, tmp_path):
    items = tmp_path / "items.csv"
    items.write_text("grouping,class,feature\nlabel,Shirt,3\nprediction,Coat,3\nlabel,Bag,7\n")
    _, hits = create_study(analysis_dir, tmp_path / "s", CreateOptions(items_csv=items))
    assert [(h.grouping, h.class_name, h.feature) for h in hits] == [("label", "Shirt", 3), ("prediction", "Coat", 3), ("label", "Bag", 7)]
    items.write_text("grouping,class,feature\nlabel,Shirt,3\nmisc,Coat,3\n")
    with pytest.raises(BarlowError, match="items.csv line 3, column grouping: 'misc' must be"):
        create_study(analysis_dir, tmp_path / "s2", CreateOptions(items_csv=items))
    assert not (tmp_path / "s2" / "study.yaml").exists()


def test_missing_visualizations_name_features_and_command(tmp_path, analysis_factory):
    analysis = analysis_factory(tmp_path / "a", visualize=[0, 1, 2])
    items = tmp_path / "items.csv"
    items.write_text("grouping,class,feature\nlabel,Shirt,1\nlabel,Shirt,5\nlabel,Coat,9\n")
    with pytest.raises(BarlowError) as info:
        create_study(analysis, tmp_path / "s", CreateOptions(items_csv=items))
    message = str(info.value)
    assert "5,9" in message and f"barlow visualize --analysis {analysis} --feature-ids 5,9" in message
    assert not any((tmp_path / "s").glob("*.yaml"))


def test_refuses_to_overwrite_a_study(analysis_dir, tmp_path):
    create_study(analysis_dir, tmp_path / "s", CreateOptions(top_n=1, top_m=1))
    with pytest.raises(BarlowError, match="already holds a study"):
        create_study(analysis_dir, tmp_path / "s", CreateOptions(top_n=1, top_m=1))


def test_cli_create_then_export_empty(analysis_dir, tmp_path, capsys):
    out = tmp_path / "study"
    assert main(["study", "create", "--analysis", str(analysis_dir), "--out", str(out), "--top-n", "1", "--top-m", "2",
                 "--assignments", "2", "--reward", "0.5", "--attention-checks", "1", "--title", "Describe a feature"]) == 0
    printed = capsys.readouterr().out
    assert "12 HITs + 1 attention checks" in printed and (out / "study.sqlite").is_file()
    spec = load_study_file(out)
    assert spec.settings.reward == "0.50" and spec.settings.title == "Describe a feature"
    assert main(["study", "export", str(out), "--format", "mturk-csv", "--out", str(tmp_path / "b.csv")]) == 0
    header = next(csv.reader(open(tmp_path / "b.csv")))
    assert header[:4] == ["HITId", "HITKey", "AssignmentId", "WorkerId"] and "Answer.useful_view" in header
    assert main(["study", "create", "--analysis", str(tmp_path / "nope"), "--out", str(tmp_path / "x")]) == 2
    assert "analysis folder" in capsys.readouterr().err
