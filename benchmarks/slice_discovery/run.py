"""Run every slicer on every task, print the tables and write the results folder."""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import numpy as np

from . import domino_env
from .cache import MLP_EPOCHS, Cache
from .metrics import best_slice
from .slicers import BarlowSlicer, DominoMixture, FailureDirections, KMeansFailures, SpotlightSlicer
from .tasks import FAMILIES, SUBCLASSES, default_tasks, eval_set, shuffle_failures

KS = (10, 25, 100)


def slicers(n_slices: int, seed: int, depth: int, permutations: int) -> dict:
    """Every method with the same number of slices and the same seed."""
    return {
        "barlow": lambda: BarlowSlicer(n_slices, depth=depth, honest=True, permutations=permutations, seed=seed),
        "barlow-in-sample": lambda: BarlowSlicer(n_slices, depth=depth, honest=False, seed=seed),
        "barlow-margin-order": lambda: BarlowSlicer(n_slices, depth=depth, permutations=permutations, seed=seed, order="margin"),
        "barlow-auto-depth": lambda: BarlowSlicer(n_slices, depth="auto", honest=True, permutations=permutations, seed=seed),
        "domino (paper)": lambda: DominoMixture(n_slices, seed=seed),
        "spotlight (paper)": lambda: SpotlightSlicer(n_slices, seed=seed),
        "failure-directions": lambda: FailureDirections(seed=seed),
        "kmeans-failures": lambda: KMeansFailures(n_slices, seed=seed),
    }


def run_task(spec, data: dict, cache: Cache, methods: dict) -> list[dict]:
    test_images, test_sub = data["test"]
    ev = eval_set(spec, test_sub)
    probs = cache.test_probs(spec, *data["train"], test_images, ev.artefact)
    if spec.family == "null":
        probs = shuffle_failures(ev.labels, probs, np.random.default_rng([spec.seed, 99]))
    X = cache.features(test_images)
    if ev.artefact.any():
        X = np.where(ev.artefact[:, None], cache.features(test_images, spec.artefact), X)
    fit, score = ev.fit, ~ev.fit
    rows = []
    for name, make in methods.items():
        start = time.perf_counter()
        slicer = make().fit(X[fit], ev.labels[fit], probs[fit])
        scores = slicer.score(X[score], ev.labels[score], probs[score])
        seconds = time.perf_counter() - start
        row = {"task": spec.name, "family": spec.family, "method": name, "seconds": seconds,
               "reported": int(slicer.reported), "error_rate": float((probs[score].argmax(1) != ev.labels[score]).mean())}
        if isinstance(slicer, BarlowSlicer):
            row["groups"] = slicer.groups_
            row["valid_groups"] = slicer.valid_groups_
            row["significant_groups"] = slicer.significant_groups_
        if spec.family != "null":
            in_slice = ev.in_slice[score]
            row["slice_size"] = int(in_slice.sum())
            row["slice_error_rate"] = float((probs[score].argmax(1) != ev.labels[score])[in_slice].mean())
            row.update(best_slice(scores, in_slice, KS))
            if isinstance(slicer, BarlowSlicer):
                target_class = int(np.bincount(ev.labels[ev.in_slice]).argmax())
                row["valid_in_slice_class"] = target_class in slicer.valid_classes()
        rows.append(row)
    return rows


def summary_tables(frame):
    """Per family and overall: mean precision-at-k and AUROC per method; null tasks: false slices."""
    slices = frame[frame["family"] != "null"]
    metrics = [f"precision_at_{k}" for k in KS] + ["auroc"]
    by_family = slices.groupby(["family", "method"], sort=False)[metrics].mean().round(3)
    overall = slices.groupby("method", sort=False)[metrics + ["seconds"]].mean().round(3)
    null = frame[frame["family"] == "null"]
    barlow_only = lambda column: column.sum(min_count=1)  # noqa: E731 - NaN for methods without groups
    null_table = null.groupby("method", sort=False).agg(
        tasks=("task", "count"), slices_handed_over=("reported", "sum"),
        groups=("groups", barlow_only), groups_with_valid_mode=("valid_groups", barlow_only),
        groups_significant_permutation=("significant_groups", barlow_only))
    return by_family, overall, null_table


def markdown(frame) -> str:
    """A DataFrame (its index as the first columns) as a Markdown table."""
    frame = frame.reset_index()
    cells = [["–" if isinstance(v, float) and v != v else f"{v:.3f}" if isinstance(v, float) else str(v) for v in row]
             for row in frame.itertuples(index=False)]
    lines = ["| " + " | ".join(map(str, frame.columns)) + " |", "|" + "---|" * len(frame.columns)]
    return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in cells]) + "\n"


def versions() -> dict:
    import sklearn
    import torch

    import analysis_core

    return {"python": platform.python_version(), "numpy": np.__version__, "scikit-learn": sklearn.__version__,
            "torch": torch.__version__, "barlow": getattr(analysis_core, "__version__", "unknown"),
            "platform": platform.platform()}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description="dcbench-style slice discovery on Fashion-MNIST: Barlow vs peers")
    parser.add_argument("--cache", default="runs/slice-discovery-cache", help="cache folder for models and features")
    parser.add_argument("--out", default="docs/results/slice-discovery", help="results folder")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--slices", type=int, default=5, help="slices per method (the same k for all)")
    parser.add_argument("--depth", type=int, default=1, help="Barlow tree depth")
    parser.add_argument("--permutations", type=int, default=100)
    parser.add_argument("--tasks", nargs="*", default=None, help="run only tasks whose name starts with one of these")
    parser.add_argument("--methods", nargs="*", default=None)
    parser.add_argument("--skip-domino-install", action="store_true",
                        help="do not try to install the Domino package (the result of the last try is kept)")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    import pandas as pd

    from analysis_core.datasets.fashion_mnist import load_fashion_mnist_arrays

    import torch

    args = parse_args(argv)
    torch.set_num_threads(1)
    start = time.perf_counter()
    cache = Cache(args.cache)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    domino = domino_env.load_or_try(Path(args.cache), out, skip=args.skip_domino_install)
    print(f"domino package: {domino['status']}")
    data = {"train": load_fashion_mnist_arrays("train"), "test": load_fashion_mnist_arrays("test")}
    tasks = default_tasks(args.seed)
    if args.tasks:
        tasks = [t for t in tasks if any(t.name.startswith(p) for p in args.tasks)]
    methods = slicers(args.slices, args.seed, args.depth, args.permutations)
    if args.methods:
        methods = {k: v for k, v in methods.items() if k in args.methods}
    rows = []
    for i, spec in enumerate(tasks, 1):
        t0 = time.perf_counter()
        rows += run_task(spec, data, cache, methods)
        print(f"[{i}/{len(tasks)}] {spec.name}: {time.perf_counter() - t0:.1f}s", flush=True)
    frame = pd.DataFrame(rows)
    by_family, overall, null_table = summary_tables(frame)
    pd.set_option("display.width", 200)
    print("\nMean over slice tasks, per family (best predicted slice per true slice):\n", by_family.to_string())
    print("\nMean over all slice tasks:\n", overall.to_string())
    print("\nNull tasks (no slice): slices handed to a user; Barlow: groups with a valid (significant) failure mode:\n",
          null_table.to_string())
    total = time.perf_counter() - start
    print(f"\ntotal {total:.0f}s")
    frame.to_csv(out / "per_task.csv", index=False, float_format="%.4f")
    by_family.to_csv(out / "by_family.csv")
    overall.to_csv(out / "overall.csv")
    null_table.to_csv(out / "null_tasks.csv")
    (out / "tables.md").write_text(
        "## Mean over all slice tasks\n\n" + markdown(overall) + "\n## Per family\n\n" + markdown(by_family)
        + "\n## Null tasks\n\n" + markdown(null_table) + f"\nTotal wall time: {total:.0f} s.\n")
    run_info = {"seed": args.seed, "slices": args.slices, "barlow_depth": args.depth, "permutations": args.permutations,
                "mlp_epochs": MLP_EPOCHS, "tasks": [t.name for t in tasks], "task_descriptions": {t.name: t.description for t in tasks},
                "subclasses": list(SUBCLASSES), "families": list(FAMILIES), "seconds_total": round(total, 1),
                "versions": versions(), "domino": domino}
    (out / "run.json").write_text(json.dumps(run_info, indent=2) + "\n")
    return 0
