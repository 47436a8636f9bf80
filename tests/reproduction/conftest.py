"""A reduced Fashion-MNIST reproduction: 600 of the 10,000 shipped test images, five shards (the
shipped config reads the training split, which the test suite does not need)."""

import pytest

# Small enough for the test suite, large enough that every class group gets a tree.
SMALL = [
    "data.dataset=fashion-mnist:test", "data.subset=600", "data.batch_size=64", "execution.shard_size=128", "analysis.depths=[1]",
    "section9.depth=1", "visualization.k=2", "visualization.iterations=2", "visualization.leaf_samples=3",
    "section8.top_n=1", "section8.top_m=2", "analysis.permutations=10",
]


@pytest.fixture
def small_config():
    from analysis_core.reproduction.config import load_config

    return load_config("fashion-mnist", SMALL)
