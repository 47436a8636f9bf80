"""barlow reproduce end to end on a reduced Fashion-MNIST config: in-process, on a Dask
LocalCluster with 2 workers (number for number the same), after a killed worker, and rerun."""

import json
import os
import signal
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analysis_core.reproduction.execution import InProcessExecutor, make_executor
from barlow.reproduce import run_reproduction

NUMBER_FILES = [
    "section7/table.csv", "section7/per_class.csv", "section7/honest_per_class.csv", "section7/honest_table.csv",
    "section6/examples.csv", "section8/study/items.csv",
    "extraction/standard/metadata.csv", "extraction/robust/metadata.csv",
]


@pytest.fixture(scope="module")
def in_process(tmp_path_factory):
    from analysis_core.reproduction.config import load_config
    from tests.reproduction.conftest import SMALL

    config = load_config("fashion-mnist", SMALL)
    out = tmp_path_factory.mktemp("in-process")
    lines = []
    result = run_reproduction(config, out, InProcessExecutor(), log=lines.append)
    return config, out, result, lines


@pytest.fixture(scope="module")
def cluster():
    executor = make_executor("local", workers=2, threads_per_worker=1)
    yield executor
    executor.close()


def _trees(path: Path) -> dict:
    trees = json.loads(path.read_text())
    trees.pop("inputs")  # absolute paths of the run's own folder
    return trees


def test_in_process_run_writes_every_section(in_process):
    config, out, result, lines = in_process
    for name in ("standard", "robust"):
        manifest = json.loads((out / "extraction" / name / "manifest.json").read_text())
        assert manifest["n_images"] == 600 and manifest["features_model"] == "fmnist-robust"
        assert manifest["inspect_model"] == f"fmnist-{name}" and manifest["subset"]["of"] == 10_000
    table = pd.read_csv(out / "section7" / "table.csv")
    assert sorted(set(zip(table["model"], table["depth"]))) == [("robust", 1), ("standard", 1)]
    assert set(table["grouping"]) == {"label", "prediction"}
    assert ((table["mean_aler_minus_ber"] > 0) & (table["mean_aler_minus_ber"] < 1)).all()
    honest = pd.read_csv(out / "section7" / "honest_table.csv")
    assert len(honest) == len(table) and honest["fraction_top_leaf_valid"].between(0, 1).all()
    examples = pd.read_csv(out / "section6" / "examples.csv", keep_default_na=False)
    drawn = examples[examples["figure"] != ""]
    assert set(drawn["grouping"]) == {"label", "prediction"}
    assert all((out / "section6" / f).is_file() for f in drawn["figure"])
    assert drawn["sentence"].str.contains(r"When feature\[\d+\]").all()
    items = pd.read_csv(out / "section8" / "study" / "items.csv")
    # top/middle/bottom 1 class per grouping x 2 features
    assert len(items) == 2 * 3 * 2 and (out / "section8" / "study" / "study.yaml").is_file()
    # Section 9: one failure-review HIT per class group's tree.
    hits = pd.read_csv(out / "section9" / "study" / "hits.csv")
    assert len(hits) > 0 and (out / "section9" / "study" / "study.yaml").is_file()
    report = (out / "report.md").read_text()
    for claim in ("Label grouping gives better trees", "Inspecting the robust model", "Robust model, every tree",
                  "1,200 visualizations"):
        assert claim in report
    html = (out / "report.html").read_text()
    assert html.count("<img") >= len(drawn) + 3 and "<script" not in html


def test_sharded_features_equal_a_single_machine_extract(in_process, tmp_path):
    from analysis_core.extraction import extract
    from analysis_core.models import load_model
    from analysis_core.reproduction.data import load_data

    config, out, _, _ = in_process
    robust, standard = load_model("fmnist-robust"), load_model("fmnist-standard")
    extract(load_data(config.data), robust, tmp_path, inspect_model=standard, features_spec="fmnist-robust",
            inspect_spec="fmnist-standard", batch_size=config.data.batch_size, progress=False)
    assert (tmp_path / "features.npy").read_bytes() == (out / "extraction" / "standard" / "features.npy").read_bytes()
    assert (tmp_path / "metadata.csv").read_bytes() == (out / "extraction" / "standard" / "metadata.csv").read_bytes()


def test_local_cluster_run_equals_in_process_number_for_number(in_process, cluster, tmp_path):
    config, reference, _, _ = in_process
    lines = []
    run_reproduction(config, tmp_path, cluster, log=lines.append)
    assert any("Dask at" in line and "2 worker(s)" in line for line in lines)
    for name in ("standard", "robust"):
        assert (tmp_path / "extraction" / name / "features.npy").read_bytes() == (reference / "extraction" / name / "features.npy").read_bytes()
    for name in NUMBER_FILES:
        assert (tmp_path / name).read_bytes() == (reference / name).read_bytes(), name
    for cell in sorted((reference / "analysis").iterdir()):
        assert _trees(tmp_path / "analysis" / cell.name / "trees.json") == _trees(cell / "trees.json"), cell.name


def _kill_worker_in_shard_1(marker_dir: str):
    def after_batch(task, rows_done):
        marker = Path(marker_dir) / "killed"
        if task.index == 1 and not marker.exists():
            # Half-way through the shard: the worker dies before writing anything of it.
            marker.write_text(str(os.getpid()))
            os.kill(os.getpid(), signal.SIGKILL)
    return after_batch


def test_a_killed_workers_shard_is_redone_without_duplicate_rows(in_process, cluster, tmp_path):
    import cloudpickle

    from analysis_core.reproduction.shards import extract_sharded

    config, reference, _, _ = in_process
    # The hook is defined here, in a module the workers cannot import: send it by value.
    cloudpickle.register_pickle_by_value(sys.modules[__name__])
    outputs = extract_sharded(config, tmp_path, cluster, log=lambda _: None, after_batch=_kill_worker_in_shard_1(str(tmp_path)))
    killed_pid = int((tmp_path / "killed").read_text())
    assert killed_pid != os.getpid()
    with pytest.raises(ProcessLookupError):
        os.kill(killed_pid, 0)  # that worker process is gone
    features = np.load(outputs["standard"] / "features.npy")
    assert features.shape == (600, 128)
    assert features.tobytes() == np.load(reference / "extraction" / "standard" / "features.npy").tobytes()
    metadata = pd.read_csv(outputs["robust"] / "metadata.csv")
    assert len(metadata) == 600 and metadata["Filenames"].is_unique
    assert metadata.equals(pd.read_csv(reference / "extraction" / "robust" / "metadata.csv"))


def test_rerun_reuses_every_step(in_process):
    config, out, _, _ = in_process
    before = {p: p.stat().st_mtime_ns for p in out.rglob("*.csv")}
    lines = []
    result = run_reproduction(config, out, InProcessExecutor(), log=lines.append)
    assert all(step["reused"] for step in result["timings"].values()), result["timings"]
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*.csv")} == before


def test_published_results_hold_every_file_the_report_links_and_no_matrices(in_process, tmp_path):
    import re

    from barlow.reproduce import publish_results

    _, out, _, _ = in_process
    publish_results(out, tmp_path)
    links = re.findall(r"\]\(([^)]+)\)", (tmp_path / "report.md").read_text())
    assert links and all((tmp_path / link).is_file() for link in links)
    assert re.findall(r'src="([^"]+)"', (tmp_path / "report.html").read_text()) == links
    assert not list(tmp_path.rglob("*.npy")) and not list(tmp_path.rglob("*.sqlite"))
    assert (tmp_path / "section7" / "table.csv").read_bytes() == (out / "section7" / "table.csv").read_bytes()
    # Nothing published names this machine's folders (run folder, shipped data).
    from analysis_core.artifacts.resources import data_dir

    local = (str(out.resolve()), str(data_dir().resolve()))
    published = [p for p in tmp_path.rglob("*") if p.is_file() and p.suffix != ".png"]
    assert published and not [p for p in published if any(root in p.read_text(encoding="utf-8") for root in local)]
