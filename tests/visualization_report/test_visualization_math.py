import numpy as np
import pytest
import torch

from analysis_core.visualization.attack import feature_attack
from analysis_core.visualization.config import AttackParams, default_attack_params
from analysis_core.visualization.heatmap import channel_maps, shared_normalize
from analysis_core.visualization.pipeline import top_k_for_features
from analysis_core.visualization.render import display_scale, to_rgb_uint8
from analysis_core.visualization.topk import top_k_rows


def features_of(model, dataset) -> np.ndarray:
    with torch.no_grad():
        return model(dataset.images).features.numpy()


@pytest.fixture
def model(tiny_model):
    return tiny_model


@pytest.fixture
def data(tiny_data):
    return tiny_data


def test_top_k_rows_are_the_largest_values_largest_first():
    values = np.array([0.5, 3.0, -1.0, 3.0, 2.0, 0.0])
    assert top_k_rows(values, 3).tolist() == [1, 3, 4]  # tie 1/3 keeps row order
    assert top_k_rows(values, 2, rows=np.array([0, 2, 5])).tolist() == [0, 5]
    assert len(top_k_rows(values, 10)) == 6


def test_chunked_top_k_matches_a_full_sort(model, data):
    X = features_of(model, data)
    ids = [0, 3, 7]
    rows, vals = top_k_for_features(X, ids, 6, chunk_rows=7)
    for i, f in enumerate(ids):
        expected = np.argsort(-X[:, f], kind="stable")[:6]
        assert rows[i].tolist() == expected.tolist()
        assert np.allclose(vals[i], X[expected, f])
        assert np.all(np.diff(vals[i]) <= 0)


def test_heatmap_is_the_feature_channel_of_the_spatial_map(model, data):
    images = data.images[:5]
    feats = np.array([2, 2, 5, 0, 7])
    maps = channel_maps(model, images, feats, batch_size=2)
    with torch.no_grad():
        fmap = model(images).feature_map.numpy()
    for i, f in enumerate(feats):
        np.testing.assert_allclose(maps[i], fmap[i, f], rtol=1e-5, atol=1e-7)
    # Its spatial mean is the feature value itself (global average pooling).
    np.testing.assert_allclose(maps.mean(axis=(1, 2)), features_of(model, data)[np.arange(5), feats], rtol=1e-5)


def test_heatmaps_share_one_scale_across_images():
    maps = np.array([[[0.0, 4.0]], [[1.0, 2.0]]], dtype=np.float32)
    norm = shared_normalize(maps)
    assert norm.max() == 1.0 and norm.min() == 0.0
    # The weaker image stays weaker: its peak is half of the strongest one, not 1.
    np.testing.assert_allclose(norm[1], [[0.25, 0.5]])
    assert np.all(shared_normalize(np.zeros((2, 3, 3))) == 0)


def test_attack_increases_the_feature_and_stays_in_the_eps_ball(model, data):
    images = data.images[:6]
    feats = np.array([1, 1, 4, 4, 6, 6])
    params = AttackParams(eps=2.0, step_size=0.25, iterations=25)
    result = feature_attack(model, images, feats, params, batch_size=4, progress=False)
    assert result.images.shape == images.shape
    delta = (result.images - images).flatten(1).norm(dim=1)
    assert torch.all(delta <= params.eps + 1e-4)
    assert result.images.min() >= 0 and result.images.max() <= 1
    assert np.all(result.after >= result.before)
    assert np.all(result.after > 1.2 * result.before)
    with torch.no_grad():
        out = model(result.images).features.numpy()
        start = model(images).features.numpy()
    np.testing.assert_allclose(out[np.arange(6), feats], result.after, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(start[np.arange(6), feats], result.before, rtol=1e-4, atol=1e-5)


def test_larger_eps_allows_a_larger_increase(model, data):
    images, feats = data.images[:4], np.array([3, 3, 3, 3])
    small = feature_attack(model, images, feats, AttackParams(0.5, 0.1, 20), progress=False)
    large = feature_attack(model, images, feats, AttackParams(4.0, 0.5, 20), progress=False)
    assert large.after.mean() > small.after.mean()


def test_default_attack_scales_with_input_size():
    small = default_attack_params((1, 28, 28))
    big = default_attack_params((3, 224, 224))
    assert small.eps == pytest.approx(11.2)
    assert big.eps > 10 * small.eps
    assert small.step_size * small.iterations == pytest.approx(2.5 * small.eps, rel=1e-3)


def test_small_images_are_upscaled_without_blur():
    img = np.zeros((1, 1, 28, 28), dtype=np.float32)
    img[0, 0, 3, 4] = 1.0
    scale = display_scale(28, 28)
    rgb = to_rgb_uint8(img, scale)
    assert rgb.shape == (1, 28 * scale, 28 * scale, 3)
    block = rgb[0, 3 * scale : 4 * scale, 4 * scale : 5 * scale]
    assert np.all(block == 255)  # the whole enlarged pixel is white ...
    assert set(np.unique(rgb)) == {0, 255}  # ... and no interpolated greys appear
    assert display_scale(224, 224) == 1
