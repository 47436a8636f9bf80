"""barlow extract: outputs per the shared contract, resume after an interruption, predictions sources."""

import json

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image

from analysis_core.artifacts.errors import BarlowError
from analysis_core.datasets import load_dataset
from analysis_core.datasets.base import ImageDataset
from analysis_core.extraction import extract
from analysis_core.models import SmallCNN, load_model, save_checkpoint
from barlow.cli import main

N = 600
CHUNK = 100


@pytest.fixture(scope="module")
def fmnist():
    return load_dataset("fashion-mnist")


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory, fmnist):
    folder = tmp_path_factory.mktemp("ckpt")
    paths = []
    for seed in (0, 1):
        torch.manual_seed(seed)
        model = SmallCNN(width=8, classes=fmnist.classes)
        # Random BatchNorm statistics make the two models disagree on most images.
        for module in model.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.running_mean.uniform_(-0.2, 0.2)
        paths.append(folder / f"m{seed}.pt")
        save_checkpoint(model, paths[-1])
    return paths


def file_dataset(fmnist, fail_at=None):
    """The first N test images through the generic per-image path (no in-memory fast path)."""
    state = {"fail_at": fail_at}

    def load(i):
        if state["fail_at"] is not None and i >= state["fail_at"]:
            raise RuntimeError("simulated interruption")
        return fmnist.images_uint8[i].float() / 255

    data = ImageDataset(spec="fashion-mnist-head", classes=fmnist.classes, filenames=fmnist.filenames[:N],
                        labels=fmnist.labels[:N], load_image=load)
    return data, state


class CountingModel(torch.nn.Module):
    """Counts the images each forward pass sees, to show finished chunks are not recomputed."""

    def __init__(self, model):
        super().__init__()
        self.model = model
        self.seen = 0
        for name in ("num_features", "num_classes", "input_shape", "classes", "source"):
            setattr(self, name, getattr(model, name))

    def forward(self, x):
        self.seen += len(x)
        return self.model(x)


def test_outputs_follow_the_contract(tmp_path, fmnist, checkpoints):
    features_model, inspect_model = load_model(str(checkpoints[0])), load_model(str(checkpoints[1]))
    data, _ = file_dataset(fmnist)
    manifest = extract(data, features_model, tmp_path, inspect_model=inspect_model, features_spec="robust.pt",
                       inspect_spec="standard.pt", batch_size=CHUNK, progress=False)
    features = np.load(tmp_path / "features.npy")
    assert features.dtype == np.float32 and features.shape == (N, 16)
    x = fmnist.images_uint8[:N].float() / 255
    with torch.no_grad():
        expected = features_model(x).features.numpy()
        logits = inspect_model(x).logits
    np.testing.assert_allclose(features, expected, rtol=1e-5, atol=1e-6)
    meta = pd.read_csv(tmp_path / "metadata.csv")
    assert list(meta.columns) == ["Filenames", "Predictions", "Labels", "label_id", "prediction_id", "confidence"]
    assert meta["prediction_id"].tolist() == logits.argmax(1).tolist()
    np.testing.assert_allclose(meta["confidence"], torch.softmax(logits, 1).max(1).values.numpy(), rtol=1e-5)
    assert meta["Labels"].tolist() == [fmnist.classes[i] for i in fmnist.labels[:N]]
    assert meta["Predictions"][0] == fmnist.classes[meta["prediction_id"][0]]
    on_disk = json.loads((tmp_path / "manifest.json").read_text())
    assert on_disk == manifest
    assert manifest["features_model"] == "robust.pt" and manifest["inspect_model"] == "standard.pt"
    assert manifest["classes"] == fmnist.classes and manifest["n_images"] == N and manifest["n_features"] == 16
    assert manifest["feature_map_shape"] == [16, 7, 7]
    assert len(manifest["checkpoints"]["features_model"]["sha256"]) == 64
    assert manifest["n_failures"] == int((meta["label_id"] != meta["prediction_id"]).sum())
    assert not (tmp_path / ".extract-partial").exists()


def test_resume_after_interruption_is_byte_identical(tmp_path, fmnist, checkpoints):
    model = load_model(str(checkpoints[0]))
    whole = tmp_path / "whole"
    data, _ = file_dataset(fmnist)
    extract(data, model, whole, inspect_model=model, features_spec="m", inspect_spec="m", batch_size=CHUNK, progress=False)

    part = tmp_path / "part"
    data, state = file_dataset(fmnist, fail_at=350)
    with pytest.raises(RuntimeError, match="simulated interruption"):
        extract(data, model, part, inspect_model=model, features_spec="m", inspect_spec="m", batch_size=CHUNK,
                progress=False)
    # Nothing that looks complete after the interruption.
    assert not (part / "features.npy").exists() and not (part / "manifest.json").exists()
    assert json.loads((part / ".extract-partial" / "progress.json").read_text())["done_chunks"] == [0, 1, 2]

    state["fail_at"] = None
    counting = CountingModel(model)
    manifest = extract(data, counting, part, inspect_model=counting, features_spec="m", inspect_spec="m",
                       batch_size=CHUNK, progress=False)
    assert counting.seen == N - 300 + 1  # the three unfinished chunks, plus one probe image for the map shape
    assert manifest["resumed_chunks"] == 3
    assert (part / "features.npy").read_bytes() == (whole / "features.npy").read_bytes()
    assert (part / "metadata.csv").read_bytes() == (whole / "metadata.csv").read_bytes()


def test_changed_inputs_do_not_resume_a_stale_run(tmp_path, fmnist, checkpoints):
    first, second = load_model(str(checkpoints[0])), load_model(str(checkpoints[1]))
    data, state = file_dataset(fmnist, fail_at=250)
    with pytest.raises(RuntimeError):
        extract(data, first, tmp_path, inspect_model=first, features_spec="a", inspect_spec="a", batch_size=CHUNK,
                progress=False)
    state["fail_at"] = None
    extract(data, second, tmp_path, inspect_model=second, features_spec="b", inspect_spec="b", batch_size=CHUNK,
            progress=False)
    with torch.no_grad():
        expected = second(fmnist.images_uint8[:N].float() / 255).features.numpy()
    np.testing.assert_allclose(np.load(tmp_path / "features.npy"), expected, rtol=1e-5, atol=1e-6)


def test_class_count_mismatch_is_refused(tmp_path, fmnist):
    data, _ = file_dataset(fmnist)
    three = SmallCNN(width=4, num_classes=3, classes=["x", "y", "z"]).eval()
    with pytest.raises(BarlowError, match="3 outputs but the data set has 10 classes"):
        extract(data, three, tmp_path, inspect_model=three, features_spec="t", inspect_spec="t", progress=False)


def write_csv_dataset(root, fmnist, n=40):
    (root / "images").mkdir(parents=True)
    rows = []
    for i in range(n):
        Image.fromarray(fmnist.images_uint8[i, 0].numpy()).save(root / "images" / f"img{i:03d}.png")
        prediction = fmnist.classes[(int(fmnist.labels[i]) + (i % 3 == 0)) % 10]  # every third one wrong
        rows.append({"Filenames": f"img{i:03d}.png", "Predictions": prediction, "Labels": fmnist.classes[fmnist.labels[i]]})
    pd.DataFrame(rows).to_csv(root / "metadata.csv", index=False)
    (root / "classes.txt").write_text("\n".join(fmnist.classes) + "\n")
    return pd.DataFrame(rows)


def test_cli_barlow_csv_predictions_without_inspect_model(tmp_path, fmnist, checkpoints):
    rows = write_csv_dataset(tmp_path / "data", fmnist)
    out = tmp_path / "out"
    status = main(["extract", "--dataset", f"barlow-csv:{tmp_path / 'data'}", "--features-model",
                   str(checkpoints[0]), "--out", str(out), "--batch-size", "16"])
    assert status == 0
    meta = pd.read_csv(out / "metadata.csv")
    assert meta["Predictions"].tolist() == rows["Predictions"].tolist()
    assert meta["Filenames"].tolist() == rows["Filenames"].tolist()
    assert meta["confidence"].isna().all()
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["inspect_model"] is None and manifest["predictions_source"] == "dataset metadata.csv"
    # The 28x28 model made extract decode the files at 28x28, one channel.
    assert manifest["transform"] == {"resize": 28, "crop": 28, "channels": 1}
    assert manifest["n_failures"] == 14
    # PNG decoding reproduces the idx pixels exactly, so features match the in-memory images.
    model = load_model(str(checkpoints[0]))
    with torch.no_grad():
        expected = model(fmnist.images_uint8[:40].float() / 255).features.numpy()
    np.testing.assert_allclose(np.load(out / "features.npy"), expected, rtol=1e-5, atol=1e-6)


def test_cli_bad_csv_is_one_clear_line(tmp_path, capsys, checkpoints):
    (tmp_path / "metadata.csv").write_text("Filenames,Labels\na.png,cat\n")
    status = main(["extract", "--dataset", f"barlow-csv:{tmp_path}", "--features-model", str(checkpoints[0]),
                   "--out", str(tmp_path / "out")])
    assert status == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("barlow: error:") and "lacks column(s) Predictions" in err and "\n" not in err
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_default_fashion_mnist_extraction_with_shipped_models(tmp_path):
    out = tmp_path / "fmnist"
    assert main(["extract", "--dataset", "fashion-mnist", "--out", str(out)]) == 0
    features = np.load(out / "features.npy", mmap_mode="r")
    assert features.shape == (10_000, 128) and features.dtype == np.float32
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["features_model"] == "fmnist-robust" and manifest["inspect_model"] == "fmnist-standard"
    assert manifest["dataset"] == "fashion-mnist" and manifest["n_images"] == 10_000
    meta = pd.read_csv(out / "metadata.csv")
    assert len(meta) == 10_000 and (meta["Labels"].value_counts() == 1000).all()
    # The standard model's test accuracy from its model card (91.7 %).
    assert abs(manifest["accuracy"] - 0.917) < 0.002 and manifest["n_failures"] == (meta["label_id"] != meta["prediction_id"]).sum()


def test_file_batches_equal_the_per_image_tensors_for_rgb(tmp_path):
    """Files travel as uint8 batches and become floats in the loop: same values and layout
    as the data set's own per-image tensors, channels in RGB order."""
    from analysis_core.datasets import ImageTransform
    from analysis_core.extraction import _batches

    rng = np.random.default_rng(0)
    for k in range(7):
        folder = tmp_path / ("cat" if k % 2 else "dog")
        folder.mkdir(exist_ok=True)
        Image.fromarray(rng.integers(0, 256, (40, 30, 3), dtype=np.uint8)).save(folder / f"{k}.png")
    data = load_dataset(f"imagefolder:{tmp_path}", ImageTransform(32, 24, 3))
    batches = dict(_batches(data, [0, 1], 4, workers=0, pin=False))
    got = torch.cat([batches[0], batches[1]])
    expected = torch.stack([data[i][0] for i in range(len(data))])
    assert got.shape == (7, 3, 24, 24) and got.is_contiguous()
    assert torch.equal(got, expected)
