"""A wheel built from the repository runs without the source tree beside it."""

import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(REPO)],
        check=True,
    )
    (path,) = out.glob("barlow-*.whl")
    return path


def test_wheel_carries_the_shipped_folders(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    for shipped in (
        "analysis_core/_shipped/data/models/fmnist-robust.pt",
        "analysis_core/_shipped/data/fashion-mnist/t10k-images-idx3-ubyte.gz",
        "analysis_core/_shipped/data/fashion-mnist/LICENSE",
        "analysis_core/_shipped/templates/report/index.html",
        "analysis_core/_shipped/hit_templates/hit.html",
    ):
        assert shipped in names, f"{shipped} missing from {wheel.name}"
    assert not any(name.startswith(("tests/", "benchmarks/")) for name in names)


def test_installed_wheel_finds_data_models_and_templates(wheel, tmp_path):
    # The venv borrows the test interpreter's torch & co. through a .pth line placed after its
    # own site-packages, so Barlow comes from the wheel. (A --system-site-packages venv made
    # from inside a venv sees the base interpreter's packages, not the outer venv's.) Only the
    # borrowed folder is added: its own .pth files, such as an editable install's, are not run.
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    subprocess.run([str(python), "-m", "pip", "install", "-q", "--no-deps", str(wheel)], check=True)
    own = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                         capture_output=True, text=True, check=True).stdout.strip()
    borrowed = dict.fromkeys(sysconfig.get_paths()[key] for key in ("purelib", "platlib"))
    (Path(own) / "zz_borrowed_test_packages.pth").write_text("".join(f"{path}\n" for path in borrowed))
    probe = """
import analysis_core
import barlow.cli
from analysis_core.artifacts.resources import data_dir, templates_dir, hit_templates_dir
from analysis_core.datasets.fashion_mnist import search_dirs
from analysis_core.models.loading import load_model
print(analysis_core.__file__); print(barlow.cli.__file__)
print(data_dir()); print(templates_dir()); print(hit_templates_dir()); print(search_dirs()[0])
load_model("fmnist-robust")
"""
    # Run from an empty folder so nothing of the checkout is importable by accident.
    result = subprocess.run(
        [str(python), "-c", probe], cwd=tmp_path, capture_output=True, text=True, env={"PATH": str(venv / "bin")}
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.split()
    assert all(line.startswith(str(venv)) for line in lines), lines
    assert (Path(lines[3]) / "report" / "index.html").is_file()
