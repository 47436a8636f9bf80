"""``barlow study analyze`` end to end through the CLI entry point."""

import json

import krippendorff
import numpy as np
import pandas as pd
import pytest

from barlow.cli import main
from study.analysis.simulate import simulate_batch


def run(args):
    return main(["study", "analyze", *args])


def test_hand_made_batch_gives_hand_computed_numbers(hand_csv, csv_args, tmp_path):
    out = tmp_path / "out"
    assert run(["--csv", str(hand_csv), *csv_args, "--out", str(out), "--bootstrap", "200"]) == 0
    s = json.loads((out / "summary.json").read_text())
    assert (s["answers"], s["items"], s["workers"]) == (9, 3, 3)
    assert s["tasks_per_worker"]["mean"] == 3
    assert s["time_per_task_seconds"]["median"] == 75

    ease = s["likert"]["ease"]
    # item means 14/3, 5/3, 3 -> two items reach 3
    assert ease["items_mean_at_least_3"] == {"count": 2, "fraction": pytest.approx(2 / 3)}
    assert ease["mean"] == pytest.approx(28 / 9)
    curves = pd.read_csv(out / "likert_curves.csv")
    ease_curve = curves[curves["question"] == "ease"].set_index("threshold")["items_at_least"]
    assert [ease_curve[t] for t in (1.0, 1.6, 1.7, 3.0, 3.1, 4.6, 4.7)] == [3, 3, 2, 2, 1, 1, 0]

    # Krippendorff's alpha from a workers x items matrix built independently of the tool.
    frame = pd.read_csv(hand_csv)
    matrix = frame.pivot(index="WorkerId", columns="Input.feature", values="Answer.ease").to_numpy(float)
    expected_alpha = krippendorff.alpha(reliability_data=matrix, level_of_measurement="ordinal", value_domain=[1, 2, 3, 4, 5])
    assert ease["krippendorff_alpha_ordinal"] == pytest.approx(expected_alpha)

    view = s["choice"]["useful_view"]
    assert {k: v["n"] for k, v in view["distribution"].items()} == {"A": 0, "B": 4, "C": 2, "B and C": 1, "none": 2}
    # item 1 -> B, item 2 -> none, item 3 -> three-way tie
    assert view["fraction_items_majority_none"] == pytest.approx(1 / 3)
    low, high = view["fraction_items_majority_none_ci"]
    assert 0 <= low <= 1 / 3 <= high <= 1
    assert view["majority_ties"]["count"] == 1
    # Fleiss: P_bar = (1/3 + 1/3 + 0) / 3 = 2/9, P_e = (16 + 4 + 1 + 4) / 81 -> kappa = -7/56
    assert view["fleiss_kappa"] == pytest.approx(-0.125)
    for option in view["distribution"].values():
        assert option["ci_low"] <= option["fraction"] <= option["ci_high"]

    items = pd.read_csv(out / "per_item.csv").set_index("Input.feature")
    assert items.loc[33, "useful_view_majority"] == "B | C | B and C"
    # "metal buckle", "a metal buckle", "buckles": pairs 1, 1/2, 1/2
    assert items.loc[11, "description_jaccard"] == pytest.approx(2 / 3)

    descriptions = pd.read_csv(out / "feature_descriptions.csv")
    assert list(descriptions.columns) == ["feature", "description", "n_descriptions", "agreement"]
    row = descriptions.set_index("feature").loc[11]
    assert (row["description"], row["n_descriptions"]) == ("metal buckle", 3)  # tie with "a metal buckle": earliest wins

    for name in ["per_worker.csv", "per_question.csv", "choice_distribution.csv", "figure9a_likert.png",
                 "figure9b_useful_view.png", "summary.html"]:
        assert (out / name).is_file(), name
    html = (out / "summary.html").read_text()
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;" in html
    assert "SECRET" not in html  # no worker ids on the page
    assert "figure9a_likert.png" in html and "figure9b_useful_view.png" in html


def test_simulated_mturk_batch_end_to_end(tmp_path, capsys):
    batch = simulate_batch(n_groups=12, features_per_group=5, raters=5, n_workers=40, n_attention_checks=10, short_items=3, seed=3)
    path = tmp_path / "Batch_1_batch_results.csv"
    batch.to_csv(path, index=False)
    out = tmp_path / "out"
    code = run([
        "--csv", str(path), "--item", "Input.grouping,Input.class,Input.feature",
        "--likert", "Answer.ease,Answer.confidence", "--choice", "Answer.useful_view", "--text", "Answer.description",
        "--raters", "5", "--attention-expect", "Answer.useful_view=Input.expected_useful_view", "--out", str(out),
        "--bootstrap", "300", "--embeddings", "off",
    ])
    assert code == 0
    err = capsys.readouterr().err
    assert "3 of 60 items have fewer than 5 raters (3 items with 4 raters)" in err
    s = json.loads((out / "summary.json").read_text())
    answers = batch[batch["Input.is_attention_check"] == "false"]
    assert s["answers"] == len(answers) == 60 * 5 - 3
    assert s["items"] == 60
    assert s["workers"] == answers["WorkerId"].nunique()
    assert s["tasks_per_worker"]["mean"] == pytest.approx(len(answers) / answers["WorkerId"].nunique())
    shares = answers["Answer.useful_view"].value_counts(normalize=True)
    for option, d in s["choice"]["useful_view"]["distribution"].items():
        assert d["fraction"] == pytest.approx(shares.get(option, 0.0))
    checks = s["attention_checks"]
    check_rows = batch[batch["Input.is_attention_check"] == "true"]
    assert checks["n_answers"] == 10
    assert checks["n_passed"] == int((check_rows["Answer.useful_view"] == "none").sum())
    workers = pd.read_csv(out / "per_worker.csv")
    assert workers["attention_checks"].sum() == 10
    assert set(workers["worker"]) == set(batch["WorkerId"])


def test_bad_input_exits_2_with_one_line_and_writes_nothing(hand_rows, make_csv, csv_args, tmp_path, capsys):
    hand_rows[2][10] = "five"
    out = tmp_path / "out"
    assert run(["--csv", str(make_csv(hand_rows)), *csv_args, "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["barlow: error: " + err[0][len("barlow: error: "):]]
    assert "line 4: 'five'" in err[0]
    assert not out.exists() or not any(out.iterdir())


def test_out_that_is_a_file_is_an_error(hand_csv, csv_args, tmp_path, capsys):
    target = tmp_path / "taken"
    target.write_text("x")
    assert run(["--csv", str(hand_csv), *csv_args, "--out", str(target)]) == 2
    assert "is a file" in capsys.readouterr().err
    assert target.read_text() == "x"


def test_csv_without_item_columns_is_an_error(hand_csv, tmp_path, capsys):
    assert run(["--csv", str(hand_csv), "--likert", "Answer.ease", "--out", str(tmp_path / "o")]) == 2
    assert "--item" in capsys.readouterr().err


def test_rerun_replaces_outputs_and_keeps_other_files(hand_csv, csv_args, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    assert run(["--csv", str(hand_csv), *csv_args, "--out", str(out), "--bootstrap", "100"]) == 0
    assert run(["--csv", str(hand_csv), *csv_args, "--out", str(out), "--bootstrap", "100"]) == 0
    assert (out / "notes.txt").read_text() == "mine"
    assert not [p for p in out.iterdir() if p.name.startswith(".")]


def _tiny_sentence_model(folder):
    """A saved sentence-transformers model made here (no download): static word vectors where
    the words about buckles point the same way and the others are random."""
    from sentence_transformers import SentenceTransformer

    try:
        from sentence_transformers.sentence_transformer.modules import StaticEmbedding
    except ImportError:  # sentence-transformers before 6
        from sentence_transformers.models import StaticEmbedding
    from tokenizers import Tokenizer
    from tokenizers.models import WordLevel
    from tokenizers.pre_tokenizers import Whitespace

    rng = np.random.default_rng(0)
    related = ["metal", "buckle", "buckles", "a"]
    words = ["[UNK]", *related, "nothing", "no", "idea", "noise"]
    tokenizer = Tokenizer(WordLevel({w: i for i, w in enumerate(words)}, unk_token="[UNK]"))
    tokenizer.pre_tokenizer = Whitespace()
    base = rng.normal(size=32)
    weights = np.stack([base + 0.1 * rng.normal(size=32) if w in related else rng.normal(size=32) for w in words]).astype(np.float32)
    SentenceTransformer(modules=[StaticEmbedding(tokenizer, embedding_weights=weights)], device="cpu").save(str(folder))
    return folder


def test_embedding_agreement_with_a_local_model_folder(hand_csv, csv_args, tmp_path):
    pytest.importorskip("sentence_transformers")
    model = _tiny_sentence_model(tmp_path / "model")
    args = [a for a in csv_args if a not in ("--embeddings", "off")]
    out = tmp_path / "out"
    assert run(["--csv", str(hand_csv), *args, "--embeddings", "on", "--embeddings-model", str(model), "--out", str(out), "--bootstrap", "100"]) == 0
    items = pd.read_csv(out / "per_item.csv").set_index("Input.feature")
    # "metal buckle" / "a metal buckle" / "buckles" are closer than "nothing" / "no idea" / "noise"
    assert items.loc[11, "description_cosine"] > 0.9 > items.loc[22, "description_cosine"]
    s = json.loads((out / "summary.json").read_text())
    assert 0 < s["text"]["description"]["mean_embedding_cosine"] <= 1
    assert s["text"]["description"]["mean_jaccard"] is not None  # Jaccard is always there
    assert str(model) in s["text_agreement_method"]["embeddings"]


def test_embeddings_on_without_the_package_is_a_clear_error(hand_csv, csv_args, tmp_path, capsys, monkeypatch):
    import study.analysis.embeddings as embeddings

    monkeypatch.setattr(embeddings, "sentence_transformers_installed", lambda: False)
    args = [a for a in csv_args if a not in ("--embeddings", "off")]
    assert run(["--csv", str(hand_csv), *args, "--embeddings", "on", "--out", str(tmp_path / "out")]) == 2
    assert "pip install 'barlow[embeddings]'" in capsys.readouterr().err
    # auto: the analysis runs with Jaccard only, and says why
    assert run(["--csv", str(hand_csv), *args, "--out", str(tmp_path / "out"), "--bootstrap", "100"]) == 0
    s = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert "not installed; Jaccard only" in s["text_agreement_method"]["embeddings"]


def test_embeddings_model_not_on_disk_is_a_clear_error(hand_csv, csv_args, tmp_path, capsys, monkeypatch):
    pytest.importorskip("sentence_transformers")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    args = [a for a in csv_args if a not in ("--embeddings", "off")]
    missing = tmp_path / "no-model"
    assert run(["--csv", str(hand_csv), *args, "--embeddings", "on", "--embeddings-model", str(missing), "--out", str(tmp_path / "o")]) == 2
    assert f"embedding model folder {missing} not found" in capsys.readouterr().err
    monkeypatch.setenv("HF_HOME", str(tmp_path / "empty-cache"))
    assert run(["--csv", str(hand_csv), *args, "--embeddings", "on", "--embeddings-model", "someone/unknown-model", "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "'someone/unknown-model' is not available offline" in err and "--embeddings-model PATH" in err


def test_analysis_option_puts_descriptions_where_barlow_report_reads_them(hand_csv, csv_args, tmp_path, capsys):
    analysis = tmp_path / "analysis"
    analysis.mkdir()
    assert run(["--csv", str(hand_csv), *csv_args, "--out", str(tmp_path / "o"), "--analysis", str(analysis)]) == 2
    assert "no trees.json" in capsys.readouterr().err
    (analysis / "trees.json").write_text("{}")
    assert run(["--csv", str(hand_csv), *csv_args, "--out", str(tmp_path / "o"), "--analysis", str(analysis), "--bootstrap", "100"]) == 0
    from analysis_core.report.context import read_descriptions

    descriptions = read_descriptions(analysis / "feature_descriptions.csv")
    assert descriptions[11]["description"] == "metal buckle"
    assert descriptions[11]["n_descriptions"] == 3


def test_non_integer_feature_ids_are_reported(hand_rows, make_csv, csv_args, tmp_path, capsys):
    for row in hand_rows:
        row[7] = "f" + row[7]
    assert run(["--csv", str(make_csv(hand_rows)), *csv_args, "--out", str(tmp_path / "o"), "--bootstrap", "100"]) == 0
    assert "3 feature id(s) are not whole numbers (first 'f11')" in capsys.readouterr().err
