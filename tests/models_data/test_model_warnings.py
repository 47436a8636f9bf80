"""Random-weight torchvision models are flagged everywhere their features
are described, mismatched images warn, and entry points import from the current folder."""

import json
import textwrap

import numpy as np
import pytest
import torch
from PIL import Image

from analysis_core.datasets.transforms import ImageTransform, input_mismatch
from analysis_core.feature_provenance import random_weights, random_weights_warning
from analysis_core.models import load_model
from barlow.cli import main


def test_torchvision_without_weights_warns_loudly_and_says_so_in_its_source(capsys):
    model = load_model("torchvision:resnet18")
    err = capsys.readouterr().err
    assert "WARNING: torchvision:resnet18 has no weights file" in err and "RANDOM weights" in err
    assert model.source["warning"] == "random initialization"


def colour_folder(root, n=6, size=96):
    rng = np.random.default_rng(0)
    for c in ("cat", "dog"):
        (root / c).mkdir(parents=True)
        for i in range(n // 2):
            Image.fromarray(rng.integers(0, 255, (size, size, 3), dtype=np.uint8)).save(root / c / f"{i}.png")
    return root


def barlow_csv(root, n=30, size=40):
    """A Barlow CSV data set of random colour images with given predictions (every third one wrong)."""
    rng = np.random.default_rng(0)
    (root / "images").mkdir(parents=True)
    lines = ["Filenames,Predictions,Labels"]
    for i in range(n):
        Image.fromarray(rng.integers(0, 255, (size, size, 3), dtype=np.uint8)).save(root / "images" / f"{i}.png")
        label = "cat" if i % 2 else "dog"
        wrong = "dog" if label == "cat" else "cat"
        lines.append(f"images/{i}.png,{wrong if i % 3 == 0 else label},{label}")
    (root / "metadata.csv").write_text("\n".join(lines) + "\n")
    return root


def test_extract_with_random_weights_records_it_and_analyze_and_report_refuse_to_call_it_robust(tmp_path, capsys):
    data = barlow_csv(tmp_path / "photos")
    out = tmp_path / "run"
    assert main(["extract", "--dataset", f"barlow-csv:{data}", "--features-model", "torchvision:resnet18",
                 "--out", str(out), "--batch-size", "8", "--quiet"]) == 0
    assert "RANDOM weights" in capsys.readouterr().err
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["features_random_weights"] is True
    assert manifest["checkpoints"]["features_model"]["warning"] == "random initialization"
    assert random_weights(manifest)

    assert main(["analyze", "--features", str(out / "features.npy"), "--metadata", str(out / "metadata.csv"),
                 "--out", str(tmp_path / "analysis"), "--min-rows", "5", "--permutations", "9", "--quiet"]) == 0
    stdout = capsys.readouterr().out
    assert stdout.startswith("WARNING: these features come from torchvision:resnet18 with RANDOM weights")
    assert "not robust features" in stdout

    assert main(["report", "--analysis", str(tmp_path / "analysis"), "--out", str(tmp_path / "report")]) == 0
    assert "RANDOM weights" in capsys.readouterr().out
    index = (tmp_path / "report" / "index.html").read_text()
    assert 'id="features-warning"' in index and "not robust features" in index


def test_trained_models_get_no_random_weights_warning():
    assert random_weights_warning({"features_model": "fmnist-robust", "checkpoints": {"features_model": {"kind": "barlow"}}}) is None


def test_small_grayscale_model_on_large_colour_photos_warns(tmp_path, capsys):
    data = colour_folder(tmp_path / "photos", n=2, size=224)
    message = input_mismatch(data / "cat" / "0.png", ImageTransform.for_input_shape((1, 28, 28)))
    assert "shrunk from 224x224 to 28x28" in message and "converted from colour to grayscale" in message
    assert input_mismatch(data / "cat" / "0.png", ImageTransform.for_input_shape((3, 224, 224))) is None
    main(["extract", "--dataset", f"imagefolder:{data}", "--features-model", "fmnist-robust",
          "--out", str(tmp_path / "run"), "--quiet"])
    assert "WARNING: the data set's images (e.g. 0.png, 224x224 RGB) are shrunk" in capsys.readouterr().err


def test_entrypoint_module_in_the_current_folder_is_found(tmp_path, monkeypatch):
    import sys

    (tmp_path / "here_model.py").write_text(textwrap.dedent("""
        import torchvision
        def build():
            return torchvision.models.resnet18(num_classes=3), "avgpool", "layer4", {"input_shape": (3, 32, 32)}
    """))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p not in ("", str(tmp_path))])
    try:
        model = load_model("entrypoint:here_model:build")
        assert model(torch.rand(1, 3, 32, 32)).logits.shape == (1, 3)
    finally:
        sys.modules.pop("here_model", None)


def test_entrypoint_with_a_wrong_return_value_says_what_to_return(tmp_path, monkeypatch):
    import sys

    from analysis_core.artifacts.errors import BarlowError

    (tmp_path / "bad_model.py").write_text("def build():\n    return 1, 2\n")
    monkeypatch.chdir(tmp_path)
    try:
        with pytest.raises(BarlowError, match=r"info a dict of optional mean, std, input_shape and classes"):
            load_model("entrypoint:bad_model:build")
    finally:
        sys.modules.pop("bad_model", None)
