"""configs/paper-imagenet.yaml, wired end to end on a tiny fake ImageNet and tiny checkpoints.

The real run needs the ILSVRC2012 training split and two 100-200 MB checkpoints on a GPU;
here the same config reads a three-class ImageNet folder, a MadryLab-layout ResNet-50 (the
features model and the 'robust' inspected model) and a torchvision-layout ResNet-50 (the
'standard' inspected model), whose last layers are set so that each model fails on chosen
images. Only sizes that make the test fast are overridden.
"""

import json

import numpy as np
import pandas as pd
import torch
import torchvision
from PIL import Image

from barlow.cli import main
from tests.models_data.test_madry import madry_layout

WNIDS = ["n01440764", "n01443537", "n01484850"]
PER_CLASS = 10
# 64 x 64 crops: a ResNet-50 on 224 x 224 costs a dozen times more on a CPU.
FAST = [
    "data.transform={resize: 72, crop: 64}", "data.batch_size=8", "execution.shard_size=32", "analysis.min_rows=4",
    "analysis.depths=[1]", "section9.depth=1", "analysis.permutations=5", "visualization.k=2",
    "visualization.iterations=1", "visualization.leaf_samples=2", "visualization.scope=dataset", "section8.top_n=1",
    "section8.top_m=1",
]


def _write_imagenet(root):
    root.mkdir(parents=True)
    (root / "LOC_synset_mapping.txt").write_text(
        "n01440764 tench, Tinca tinca\nn01443537 goldfish, Carassius auratus\nn01484850 great white shark\n")
    rng = np.random.default_rng(0)
    for c, wnid in enumerate(WNIDS):
        folder = root / "train" / wnid
        folder.mkdir(parents=True)
        for i in range(PER_CLASS):
            pixels = rng.integers(0, 256, size=(36, 44, 3), dtype=np.uint8)
            pixels[..., c] = np.clip(pixels[..., c].astype(int) + 90, 0, 255)  # a class colour
            Image.fromarray(pixels).save(folder / f"{wnid}_{i}.JPEG", quality=90)


def _fit_last_layer(net, spec, dataset_spec, targets):
    """Set net.fc so that the loaded model predicts ``targets`` on the data set's images."""
    from analysis_core.datasets import ImageTransform, load_dataset
    from analysis_core.models import load_model

    model = load_model(spec)
    dataset = load_dataset(dataset_spec, ImageTransform(72, 64))
    with torch.inference_mode():
        features = model(torch.stack([dataset[i][0] for i in range(len(dataset))])).features.double()
    design = torch.cat([features, torch.ones(len(features), 1, dtype=torch.float64)], dim=1)
    wanted = torch.nn.functional.one_hot(torch.as_tensor(targets), 3).double() * 20.0
    solution = torch.linalg.lstsq(design, wanted).solution  # exact: 30 rows, 2049 columns
    with torch.no_grad():
        net.fc.weight.copy_(solution[:-1].T.float())
        net.fc.bias.copy_(solution[-1].float())
    return dataset.labels


def test_paper_config_names_missing_files_then_runs_on_tiny_fakes(tmp_path, monkeypatch, capsys):
    imagenet, checkpoints, out = tmp_path / "ilsvrc", tmp_path / "ckpt", tmp_path / "run"
    _write_imagenet(imagenet)
    checkpoints.mkdir()
    monkeypatch.setenv("IMAGENET", str(imagenet))
    monkeypatch.setenv("CHECKPOINTS", str(checkpoints))

    # Without the checkpoints: one clear error naming each missing file and where to get it.
    assert main(["reproduce", "paper-imagenet", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert f"checkpoint {checkpoints}/resnet50_l2_eps3.ckpt" in err and "huggingface.co/madrylab" in err
    assert f"checkpoint {checkpoints}/resnet50-0676ba61.pth" in err and "download.pytorch.org" in err
    assert "ilsvrc/train" not in err  # the data set is there
    assert not out.exists()

    dataset_spec = f"imagenet:{imagenet}:train"
    torch.manual_seed(0)
    robust = torchvision.models.resnet50(num_classes=3).eval()
    madry_path = checkpoints / "resnet50_l2_eps3.ckpt"
    torch.save(madry_layout(robust), madry_path)
    labels = np.repeat(np.arange(3), PER_CLASS)
    robust_targets = np.where(np.arange(len(labels)) % 4 == 1, (labels + 1) % 3, labels)
    _fit_last_layer(robust, f"madry-resnet50:{madry_path}", dataset_spec, robust_targets)
    torch.save(madry_layout(robust), madry_path)
    standard = torchvision.models.resnet50(num_classes=3).eval()
    standard_path = checkpoints / "resnet50-0676ba61.pth"
    torch.save(standard.state_dict(), standard_path)
    standard_targets = np.where(np.arange(len(labels)) % 3 == 0, (labels + 2) % 3, labels)
    _fit_last_layer(standard, f"torchvision:resnet50:{standard_path}", dataset_spec, standard_targets)
    torch.save(standard.state_dict(), standard_path)

    args = ["reproduce", "paper-imagenet", "--out", str(out), "--scheduler", "in-process", "--device", "cpu"]
    for item in FAST:
        args += ["--set", item]
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "estimate: 30 images x 2048 features" in printed and "disk about" in printed

    manifests = {name: json.loads((out / "extraction" / name / "manifest.json").read_text()) for name in ("standard", "robust")}
    assert manifests["robust"]["checkpoints"]["features_model"]["kind"] == "madry"
    assert manifests["standard"]["checkpoints"]["inspect_model"]["kind"] == "torchvision"
    assert manifests["standard"]["dataset"] == dataset_spec and manifests["standard"]["transform"]["crop"] == 64
    for name, targets in (("robust", robust_targets), ("standard", standard_targets)):
        metadata = pd.read_csv(out / "extraction" / name / "metadata.csv")
        assert list(metadata["prediction_id"]) == list(targets)
        assert manifests[name]["accuracy"] == (targets == labels).mean()
    assert np.load(out / "extraction" / "standard" / "features.npy").shape == (30, 2048)
    table = pd.read_csv(out / "section7" / "table.csv")
    assert set(table["model"]) == {"standard", "robust"} and table["n_classes"].gt(0).all()
    assert (out / "section8" / "study" / "study.yaml").is_file()
    # Section 9 either built its review study or says in the report why not (no valid failure mode here).
    assert (out / "section9" / "study" / "study.yaml").is_file() or "Left out:" in (out / "report.md").read_text()
    report = (out / "report.md").read_text()
    assert "madry-resnet50:" in report and "imagenet:" in report and "Label grouping gives better trees" in report
