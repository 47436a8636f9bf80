"""SmallCNN, the Barlow checkpoint format, the shipped models and load_model's spec parsing."""

import pytest
import torch

from analysis_core.artifacts.errors import BarlowError
from analysis_core.datasets import load_dataset
from analysis_core.models import (
    FeatureModel,
    ModelOutput,
    SmallCNN,
    load_model,
    save_checkpoint,
)


def test_small_cnn_features_are_the_pooled_spatial_map():
    torch.manual_seed(0)
    model = SmallCNN(width=16).eval()
    out = model(torch.rand(3, 1, 28, 28))
    assert isinstance(out, ModelOutput) and isinstance(model, FeatureModel)
    assert out.feature_map.shape == (3, 32, 7, 7)
    assert out.features.shape == (3, model.num_features) and out.logits.shape == (3, 10)
    assert torch.allclose(out.features, out.feature_map.mean(dim=(2, 3)))
    assert (out.feature_map >= 0).all()  # after the last ReLU, as CAMs need
    assert model.input_shape == (1, 28, 28)


def test_checkpoint_round_trip_is_weights_only_and_exact(tmp_path):
    torch.manual_seed(1)
    model = SmallCNN(width=8, classes=[f"c{i}" for i in range(10)]).eval()
    path = tmp_path / "m.pt"
    save_checkpoint(model, path, extra={"seed": 1})
    raw = torch.load(path, weights_only=True)  # plain tensors and metadata only
    assert raw["arch"] == "smallcnn" and raw["classes"][3] == "c3"
    loaded = load_model(str(path))
    x = torch.rand(4, 1, 28, 28)
    assert torch.equal(loaded(x).logits, model(x).logits)
    assert loaded.classes == model.classes
    assert len(loaded.source["sha256"]) == 64


def test_checkpoint_with_wrong_shapes_is_refused(tmp_path):
    model = SmallCNN(width=8)
    path = tmp_path / "m.pt"
    save_checkpoint(model, path)
    raw = torch.load(path, weights_only=True)
    raw["arch_kwargs"]["width"] = 16  # claims another width than its weights have
    torch.save(raw, path)
    with pytest.raises(BarlowError, match="does not fit"):
        load_model(str(path))


def test_unknown_spec_and_missing_file_give_clear_errors(tmp_path):
    with pytest.raises(BarlowError, match="unknown model spec"):
        load_model("no-such-model")
    with pytest.raises(BarlowError, match="not found"):
        load_model(f"madry-resnet50:{tmp_path / 'absent.pt'}")
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint at all")
    with pytest.raises(BarlowError, match="cannot read checkpoint"):
        load_model(str(tmp_path / "junk.pt"))


@pytest.mark.parametrize("name", ["fmnist-robust", "fmnist-standard"])
def test_shipped_models_are_accurate_on_the_test_split(name):
    model = load_model(name)
    data = load_dataset("fashion-mnist")
    x = data.images_uint8[:1000].float() / 255
    with torch.no_grad():
        out = model(x)
    accuracy = (out.logits.argmax(1).numpy() == data.labels[:1000]).mean()
    assert accuracy > 0.75, accuracy
    assert model.classes == data.classes
    assert torch.allclose(out.features, out.feature_map.mean(dim=(2, 3)), atol=1e-6)
