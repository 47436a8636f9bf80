"""Failure analysis at ImageNet scale: the original algorithm vs Barlow's default, in one run.

Makes synthetic ImageNet-shaped data (by default 1000 classes x 1300 images x 2048 non-negative
features, ~10.6 GB as a memory-mapped .npy in a temporary folder) with one planted feature per
class whose low values raise the failure rate, then

* runs the ORIGINAL algorithm - k-NN mutual information (scikit-learn) + tree, one group after
  another - on a sample of label groups,
* runs Barlow's DEFAULT (fast MI) serially on the same sample, for a like-for-like per-group ratio,
* runs the DEFAULT on ALL groups, both groupings, with --jobs processes (what `barlow analyze` does),

and prints seconds per group, the speed ratios, and the fraction of label groups whose root split
uses the planted feature.

    python benchmarks/analysis_scale.py                          # full ImageNet shape (~10-15 min)
    python benchmarks/analysis_scale.py --classes 50 --per-class 500 --features 512   # quick
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from analysis_core.failure_analysis import AnalysisConfig, run_analysis
from analysis_core.failure_tree import FailureTree
from analysis_core.artifacts import load_features


def make_data(folder: Path, n_classes: int, per_class: int, n_features: int, seed: int):
    """Write features.npy class by class (rows sorted by label, like ImageNet's train folder)."""
    from numpy.lib.format import open_memmap
    from tqdm import tqdm

    rng = np.random.default_rng(seed)
    n = n_classes * per_class
    features = open_memmap(folder / "features.npy", mode="w+", dtype=np.float32, shape=(n, n_features))
    planted = rng.integers(0, n_features, n_classes)
    labels = np.repeat(np.arange(n_classes), per_class)
    failure = np.zeros(n, dtype=bool)
    for c in tqdm(range(n_classes), desc="synthetic data", unit="class", file=sys.stderr):
        block = rng.standard_normal((per_class, n_features), dtype=np.float32)
        block += 0.3
        np.maximum(block, 0, out=block)  # ReLU-like: ~38% exact zeros
        x = block[:, planted[c]]
        # "<=" keeps the mode when more than 40% of the values are tied at zero.
        rate = np.where(x <= np.quantile(x, 0.4), 0.5, 0.12)
        failure[c * per_class : (c + 1) * per_class] = rng.random(per_class) < rate
        features[c * per_class : (c + 1) * per_class] = block
    features.flush()
    del features
    wrong = (labels + 1 + rng.integers(0, n_classes - 1, n)) % n_classes
    predictions = np.where(failure, wrong, labels)
    return labels.astype(str), predictions.astype(str), planted


def time_serial(features, labels, predictions, classes, mi: str, depth: int, top_k: int):
    roots, seconds = [], []
    for c in classes:
        rows = np.flatnonzero(labels == str(c))
        start = time.perf_counter()
        X = np.array(features[rows[0] : rows[-1] + 1])
        tree = FailureTree(depth=depth, top_k=top_k, mi=mi).fit(X, labels[rows] != predictions[rows])
        seconds.append(time.perf_counter() - start)
        roots.append(tree.nodes_[0]["feature"])
    return np.array(roots), float(np.mean(seconds))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--classes", type=int, default=1000)
    parser.add_argument("--per-class", type=int, default=1300)
    parser.add_argument("--features", type=int, default=2048)
    parser.add_argument("--depth", type=int, default=3)
    parser.add_argument("--top-k", type=int, default=20)
    parser.add_argument("--sample", type=int, default=5, help="label groups run with the original k-NN algorithm")
    parser.add_argument("--jobs", type=int, default=2, help="processes for the default run on all groups")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workdir", default=None, help="folder for the synthetic features (default: a temp folder)")
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="barlow-bench-", dir=args.workdir))
    try:
        start = time.perf_counter()
        labels, predictions, planted = make_data(workdir, args.classes, args.per_class, args.features, args.seed)
        print(f"data: {args.classes} classes x {args.per_class} images x {args.features} features "
              f"({args.classes * args.per_class * args.features * 4 / 2**30:.1f} GiB), "
              f"made in {time.perf_counter() - start:.0f}s")

        start = time.perf_counter()
        features = load_features(workdir / "features.npy")  # memory-mapped, scanned for NaN/inf
        print(f"load + NaN/inf check: {time.perf_counter() - start:.1f}s")

        sample = np.random.default_rng(args.seed).choice(args.classes, min(args.sample, args.classes), replace=False)
        knn_roots, knn_sec = time_serial(features, labels, predictions, sample, "knn", args.depth, args.top_k)
        fast_roots, fast_sec = time_serial(features, labels, predictions, sample, "fast", args.depth, args.top_k)

        config = AnalysisConfig(grouping="both", depth=args.depth, top_k=args.top_k, mi="fast", jobs=args.jobs)
        start = time.perf_counter()
        result = run_analysis(features, labels, predictions, config, progress=True)
        wall = time.perf_counter() - start
        n_groups = len(result.groups) + len(result.skipped)
        all_sec = wall / max(n_groups, 1)
        label_roots = {int(g.class_name): g.tree.nodes_[0]["feature"] for g in result.groups if g.grouping == "label"}
        default_recovery = np.mean([label_roots.get(c) == planted[c] for c in range(args.classes)])

        print(f"\noriginal (knn MI + tree, serial), {len(sample)} label groups: {knn_sec:.3f} s/group; "
              f"planted feature at root in {np.mean(knn_roots == planted[sample]):.0%}")
        print(f"default (fast MI + tree, serial), same groups:           {fast_sec:.4f} s/group; "
              f"planted feature at root in {np.mean(fast_roots == planted[sample]):.0%}")
        print(f"default, all {n_groups} groups (both groupings, depth {args.depth}, --jobs {args.jobs}): "
              f"{wall:.1f}s wall = {all_sec:.4f} s/group; planted feature at root in {default_recovery:.1%} "
              f"of {args.classes} label groups")
        print(f"speed ratio per group, serial vs serial:        {knn_sec / fast_sec:.0f}x")
        print(f"speed ratio per group, original vs whole run:   {knn_sec / all_sec:.0f}x")
        print(f"original algorithm on all {n_groups} groups would take ~{knn_sec * n_groups / 3600:.1f} h serially")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
