"""L2 PGD, training and evaluation commands."""

import json

import pytest
import torch

from analysis_core.attacks import l2_pgd, project_l2, random_l2
from analysis_core.datasets import load_dataset
from analysis_core.models import SmallCNN, load_model
from barlow.cli import main


def test_projection_and_random_start_stay_in_the_ball():
    delta = torch.randn(8, 1, 28, 28) * 3
    norms = project_l2(delta, 1.5).flatten(1).norm(dim=1)
    assert torch.all(norms <= 1.5 + 1e-5)
    small = torch.full((1, 1, 2, 2), 0.1)
    assert torch.equal(project_l2(small, 1.5), small)  # inside the ball: unchanged
    start = random_l2(torch.Size([64, 1, 28, 28]), 2.0, "cpu", torch.Generator().manual_seed(0))
    assert torch.all(start.flatten(1).norm(dim=1) <= 2.0 + 1e-5)


def test_pgd_respects_eps_and_pixel_range_and_hurts_the_model():
    torch.manual_seed(0)
    model = SmallCNN(width=8).eval()
    data = load_dataset("fashion-mnist")
    x = data.images_uint8[:64].float() / 255
    with torch.no_grad():
        y = model(x).logits.argmax(1)  # attack the model's own predictions
    adv = l2_pgd(model, x, y, eps=1.0, steps=10)
    assert torch.all((adv - x).flatten(1).norm(dim=1) <= 1.0 + 1e-4)
    assert adv.min() >= 0 and adv.max() <= 1
    with torch.no_grad():
        flipped = (model(adv).logits.argmax(1) != y).float().mean()
    assert flipped > 0.5


def test_shipped_robust_model_resists_pgd_better_than_standard():
    data = load_dataset("fashion-mnist")
    x, y = data.images_uint8[:100].float() / 255, torch.from_numpy(data.labels[:100])
    accuracy = {}
    for name in ("fmnist-robust", "fmnist-standard"):
        model = load_model(name)
        adv = l2_pgd(model, x, y, eps=1.5, steps=5, generator=torch.Generator().manual_seed(0))
        with torch.no_grad():
            accuracy[name] = float((model(adv).logits.argmax(1) == y).float().mean())
    assert accuracy["fmnist-robust"] > 0.5 > accuracy["fmnist-standard"] + 0.2, accuracy


def test_train_then_evaluate_writes_checkpoint_and_card(tmp_path):
    try:
        load_dataset("fashion-mnist:train")
    except Exception as exc:  # noqa: BLE001 - only the availability of the split matters here
        pytest.skip(f"Fashion-MNIST training split not available: {exc}")
    out = tmp_path / "tiny.pt"
    assert main(["train", "--out", str(out), "--limit", "512", "--epochs", "2", "--width", "8",
                 "--eps", "1.0", "--fast", "--batch-size", "64"]) == 0
    card = json.loads(out.with_suffix(".json").read_text())
    assert card["kind"] == "robust" and card["training"]["eps"] == 1.0 and len(card["history"]) == 2
    assert card["training"]["attack"] == "L2 one-step random start"
    model = load_model(str(out))
    assert model.num_features == 16
    assert main(["evaluate", "--model", str(out), "--eps", "1.0", "--steps", "2", "--limit", "100",
                 "--card", str(out.with_suffix(".json"))]) == 0
    evaluation = json.loads(out.with_suffix(".json").read_text())["evaluation"][0]
    assert evaluation["n_images"] == 100 and 0 <= evaluation["robust_accuracy"] <= evaluation["clean_accuracy"]
    # After 2 epochs on 512 images the model beats chance (10 %) clearly.
    assert evaluation["clean_accuracy"] > 0.3


def test_train_rejects_bad_options(tmp_path, capsys):
    assert main(["train", "--out", str(tmp_path / "m.pth"), "--epochs", "1"]) == 2
    assert "--out must name a .pt file" in capsys.readouterr().err
    assert main(["train", "--out", str(tmp_path / "m.pt"), "--eps", "-1"]) == 2
