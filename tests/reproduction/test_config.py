"""The reproduction config: shipped files, environment variables, overrides and clear errors."""

import pytest
import yaml

from analysis_core.artifacts.errors import BarlowError
from analysis_core.reproduction.config import config_from_dict, load_config, resolve_config_path
from analysis_core.reproduction.data import missing_files, subset_rows


def test_shipped_fashion_mnist_config_names_the_papers_comparison():
    config = load_config("configs/fashion-mnist.yaml")
    assert config.features_model.spec == "fmnist-robust"
    # Section 7 compares which model is inspected; features come from the robust one for both.
    assert {m.name: m.spec for m in config.inspected_models} == {"standard": "fmnist-standard", "robust": "fmnist-robust"}
    assert config.analysis.depths == [1, 2, 3] and config.analysis.delta == 0.1 and config.analysis.tau == 0.2
    assert config.section8.inspected == "robust" and config.section6.inspected == "standard"
    assert missing_files(config) == []


def test_paper_config_reads_paths_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("IMAGENET", str(tmp_path / "ilsvrc"))
    monkeypatch.setenv("CHECKPOINTS", str(tmp_path / "ckpt"))
    config = load_config("paper-imagenet")
    assert config.data.dataset == f"imagenet:{tmp_path / 'ilsvrc'}:train"
    assert config.features_model.spec == f"madry-resnet50:{tmp_path / 'ckpt'}/resnet50_l2_eps3.ckpt"
    assert config.inspected("standard").spec == f"torchvision:resnet50:{tmp_path / 'ckpt'}/resnet50-0676ba61.pth"
    problems = missing_files(config)
    # The data set and each distinct checkpoint, each with where to get it.
    assert len(problems) == 3
    assert "ilsvrc/train" in problems[0] and "image-net.org" in problems[0]
    assert "resnet50_l2_eps3.ckpt" in problems[1] and "huggingface.co/madrylab" in problems[1]
    assert "resnet50-0676ba61.pth" in problems[2] and "download.pytorch.org" in problems[2]


def test_overrides_address_sections_and_models_by_name():
    config = load_config("fashion-mnist", ["data.subset=500", "analysis.depths=[1, 2, 3]", "inspected_models.standard.spec=fmnist-robust",
                                           "execution.scheduler=tcp://10.0.0.1:8786"])
    assert config.data.subset == 500 and config.analysis.depths == [1, 2, 3]
    assert config.inspected("standard").spec == "fmnist-robust"
    assert config.execution.scheduler == "tcp://10.0.0.1:8786"


@pytest.mark.parametrize(("override", "message"), [
    ("analysis.depht=2", "unknown key.*depht"),
    ("analysis.depths=[1, 4]", "analysis.depths must be an integer from 1 to 3, got 4"),
    ("execution.shard_size=100", "multiple of data.batch_size"),
    ("execution.scheduler=somewhere", "scheduler must be"),
    ("section6.inspected=nobody", "inspected model 'nobody'"),
    ("section9.depth=3", "section9.depth 3 is not among"),
    ("nonsense", "--set must look like"),
])
def test_bad_config_values_are_named(override, message):
    with pytest.raises(BarlowError, match=message):
        load_config("fashion-mnist", ["analysis.depths=[1, 2]", override])


def test_config_files_with_the_old_assignments_key_still_load():
    # Configs written before the rename say section8.assignments; it means assignments_per_hit.
    raw = yaml.safe_load(resolve_config_path("fashion-mnist").read_text())
    old = {**raw, "section8": {"inspected": "robust", "assignments": 3}}
    assert config_from_dict(old).section8.assignments_per_hit == 3
    with pytest.raises(BarlowError, match="assignments is the old name of assignments_per_hit"):
        load_config("fashion-mnist", ["section8.assignments=3"])


def test_unset_variable_without_default_is_named(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("name: x\ndata: {dataset: 'imagefolder:${NO_SUCH_VARIABLE_HERE}'}\nfeatures_model: fmnist-robust\n"
                    "inspected_models: [{name: robust, spec: fmnist-robust}]\nsection6: {inspected: robust}\n")
    with pytest.raises(BarlowError, match="NO_SUCH_VARIABLE_HERE is not set"):
        load_config(str(path))
    with pytest.raises(BarlowError, match="not found"):
        load_config(str(tmp_path / "missing.yaml"))


def test_subset_rows_are_evenly_spaced_and_complete():
    assert subset_rows(10, None) is None and subset_rows(10, 20) is None
    rows = subset_rows(10_000, 600)
    assert len(rows) == 600 and rows[0] == 0 and rows[-1] == 9_999 and (rows[1:] > rows[:-1]).all()
