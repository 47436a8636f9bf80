"""MadryLab robustness-library checkpoints, torchvision weight files and entry points."""

import argparse
import sys
import textwrap

import pytest
import torch
import torchvision

from analysis_core.artifacts.errors import BarlowError
from analysis_core.models import load_model

MEAN = torch.tensor([0.4, 0.5, 0.6]).view(3, 1, 1)
STD = torch.tensor([0.2, 0.25, 0.3]).view(3, 1, 1)


def madry_layout(net: torch.nn.Module, key: str = "model") -> dict:
    """What robustness.train.train_model saves: model + attacker duplicate + normalizers."""
    state = {}
    for k, v in net.state_dict().items():
        state[f"module.model.{k}"] = v
        state[f"module.attacker.model.{k}"] = v.clone()
    state["module.normalizer.new_mean"] = MEAN
    state["module.normalizer.new_std"] = STD
    state["module.attacker.normalize.new_mean"] = MEAN
    state["module.attacker.normalize.new_std"] = STD
    return {key: state, "epoch": 89}


@pytest.fixture(scope="module")
def madry_file(tmp_path_factory, resnet18):
    """One MadryLab-layout file for the tests that only read it (writing 90 MB takes time)."""
    path = tmp_path_factory.mktemp("madry") / "resnet18_l2_eps3.ckpt"
    torch.save(madry_layout(resnet18), path)
    return path


@pytest.fixture(scope="module")
def resnet18():
    torch.manual_seed(0)
    net = torchvision.models.resnet18(num_classes=7).eval()
    # Non-trivial BatchNorm statistics, so a load that forgot buffers would show.
    for module in net.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_(-0.1, 0.1)
            module.running_var.uniform_(0.5, 1.5)
    return net


def test_madry_checkpoint_round_trip(madry_file, resnet18):
    model = load_model(f"madry-resnet18:{madry_file}")
    x = torch.rand(2, 3, 64, 64)
    out = model(x)
    with torch.no_grad():
        expected = resnet18((x - MEAN) / STD)
    assert torch.allclose(out.logits, expected, atol=1e-5)
    assert torch.allclose(model.mean.flatten(), MEAN.flatten())
    assert out.feature_map.shape == (2, 512, 2, 2)
    assert torch.allclose(out.features, out.feature_map.mean(dim=(2, 3)))
    assert model.source["prefix"] == "module.model." and model.source["epoch"] == 89
    assert model.source["normalizer"] == "module.normalizer"
    assert model.num_features == 512 and model.num_classes == 7


def test_attacker_only_checkpoint_under_state_dict_key_loads(tmp_path, resnet18):
    state = {f"module.attacker.model.{k}": v for k, v in resnet18.state_dict().items()}
    torch.save({"state_dict": state}, tmp_path / "a.pt")
    model = load_model(f"madry-resnet18:{tmp_path / 'a.pt'}")
    assert model.source["prefix"] == "module.attacker.model."
    # No normalizer in the file: ImageNet statistics are the documented default.
    assert torch.allclose(model.mean.flatten(), torch.tensor([0.485, 0.456, 0.406]))


def test_wrong_architecture_is_named(madry_file):
    with pytest.raises(BarlowError, match=r"does not fit torchvision resnet50.*looks like resnet18"):
        load_model(f"madry-resnet50:{madry_file}")
    # A bare path is read as the usual ImageNet ResNet-50, with the same check.
    with pytest.raises(BarlowError, match=r"looks like resnet18"):
        load_model(str(madry_file))


def test_wrong_shape_is_reported(tmp_path, resnet18):
    ckpt = madry_layout(resnet18)
    ckpt["model"]["module.model.layer1.0.conv1.weight"] = torch.zeros(64, 64, 5, 5)
    torch.save(ckpt, tmp_path / "bad.ckpt")
    with pytest.raises(BarlowError, match=r"shape mismatch.*layer1\.0\.conv1\.weight"):
        load_model(f"madry-resnet18:{tmp_path / 'bad.ckpt'}")


def test_missing_keys_are_reported(tmp_path, resnet18):
    ckpt = madry_layout(resnet18)
    del ckpt["model"]["module.model.fc.bias"]
    torch.save(ckpt, tmp_path / "bad.ckpt")
    with pytest.raises(BarlowError, match=r"1 missing keys \(e\.g\. fc\.bias\)"):
        load_model(f"madry-resnet18:{tmp_path / 'bad.ckpt'}")


def test_pickled_checkpoint_needs_trust(tmp_path, resnet18):
    ckpt = madry_layout(resnet18)
    ckpt["schedule"] = argparse.Namespace(lr=0.1)  # an arbitrary Python object, as old dill files hold
    path = tmp_path / "old.pt"
    torch.save(ckpt, path)
    with pytest.raises(BarlowError, match="--trust-checkpoint"):
        load_model(f"madry-resnet18:{path}")
    model = load_model(f"madry-resnet18:{path}", trust_checkpoint=True)
    assert model.num_classes == 7


def test_torchvision_weights_file(tmp_path, resnet18):
    path = tmp_path / "r18.pth"
    torch.save(resnet18.state_dict(), path)
    model = load_model(f"torchvision:resnet18:{path}")
    x = torch.rand(2, 3, 32, 32)
    with torch.no_grad():
        expected = resnet18((x - model.mean) / model.std)
    assert torch.allclose(model(x).logits, expected, atol=1e-5)
    with pytest.raises(BarlowError, match="unsupported torchvision architecture"):
        load_model("torchvision:vgg16")


def test_entry_point_model(tmp_path, monkeypatch):
    (tmp_path / "my_models.py").write_text(textwrap.dedent("""
        import torchvision
        def small():
            net = torchvision.models.resnet18(num_classes=5)
            return net, "avgpool", "layer4", {"input_shape": (3, 64, 64), "classes": list("abcde")}
        def wrong():
            net = torchvision.models.resnet18(num_classes=5)
            return net, "fc", "layer4", {"input_shape": (3, 64, 64)}
    """))
    monkeypatch.syspath_prepend(str(tmp_path))
    model = load_model("entrypoint:my_models:small")
    out = model(torch.rand(2, 3, 64, 64))
    assert out.feature_map.shape == (2, 512, 2, 2) and out.logits.shape == (2, 5)
    assert torch.allclose(out.features, out.feature_map.mean(dim=(2, 3)))
    assert model.classes == list("abcde")
    with pytest.raises(BarlowError, match="not the global average pool"):
        load_model("entrypoint:my_models:wrong")
    with pytest.raises(BarlowError, match="has no function"):
        load_model("entrypoint:my_models:absent")
    sys.modules.pop("my_models", None)
