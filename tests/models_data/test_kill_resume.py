"""A real SIGKILL in the middle of 'barlow extract', then a rerun that resumes."""

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
from PIL import Image

from analysis_core.datasets import load_dataset

SLOW_MODEL = textwrap.dedent("""
    import time
    import torch
    from torch import nn

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            torch.manual_seed(0)
            self.conv = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU())
            self.pool = nn.AdaptiveAvgPool2d(1)
            self.fc = nn.Linear(8, 10)

        def forward(self, x):
            time.sleep(0.15)  # slow enough to be killed mid-run
            return self.fc(self.pool(self.conv(x)).flatten(1))

    def slow():
        return Net(), "pool", "conv", {"input_shape": (1, 28, 28), "mean": (0.5,), "std": (0.5,)}
""")


@pytest.fixture()
def setup(tmp_path):
    fmnist = load_dataset("fashion-mnist")
    data = tmp_path / "data"
    (data / "images").mkdir(parents=True)
    lines = ["Filenames,Predictions,Labels"]
    for i in range(160):
        Image.fromarray(fmnist.images_uint8[i, 0].numpy()).save(data / "images" / f"{i:03d}.png")
        name = fmnist.classes[fmnist.labels[i]]
        lines.append(f"{i:03d}.png,{name},{name}")
    (data / "metadata.csv").write_text("\n".join(lines) + "\n")
    (tmp_path / "slow_model.py").write_text(SLOW_MODEL)
    env = {**os.environ, "PYTHONPATH": f"{tmp_path}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    return tmp_path, data, env


def command(data, out):
    return [sys.executable, "-m", "barlow.cli", "extract", "--dataset", f"barlow-csv:{data}",
            "--features-model", "entrypoint:slow_model:slow", "--inspect-model", "entrypoint:slow_model:slow",
            "--out", str(out), "--batch-size", "8"]


def test_sigkill_leaves_nothing_complete_and_rerun_resumes(setup):
    tmp_path, data, env = setup
    out = tmp_path / "out"
    proc = subprocess.Popen(command(data, out), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    progress = out / ".extract-partial" / "progress.json"
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            if len(json.loads(progress.read_text())["done_chunks"]) >= 3:
                break
        except (OSError, ValueError, KeyError):
            pass
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done_before = len(json.loads(progress.read_text())["done_chunks"])
    assert 3 <= done_before < 20, "the run was not killed in the middle"
    assert not (out / "features.npy").exists() and not (out / "manifest.json").exists()

    subprocess.run(command(data, out), env=env, check=True, capture_output=True)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["resumed_chunks"] >= done_before and manifest["n_images"] == 160

    whole = tmp_path / "whole"
    subprocess.run(command(data, whole), env=env, check=True, capture_output=True)
    assert (out / "features.npy").read_bytes() == (whole / "features.npy").read_bytes()
    assert (out / "metadata.csv").read_bytes() == (whole / "metadata.csv").read_bytes()
    assert np.load(out / "features.npy").shape == (160, 8)
