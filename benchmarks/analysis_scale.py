"""Failure analysis at ImageNet scale: the original algorithm vs Barlow's estimators, in one run.

Makes synthetic ImageNet-shaped data (by default 1000 classes x 1300 images x 2048 non-negative
features, ~10.6 GB as a memory-mapped .npy in a temporary folder) with one planted feature per
class whose low values raise the failure rate, then, on a sample of label groups, one group
after another:

* the ORIGINAL algorithm - scikit-learn's k-NN ``mutual_info_classif`` + tree,
* Barlow's ``knn`` estimator (the same MI values, all features at once) + tree, checking that it
  selects the identical features in the identical order,
* Barlow's binned ``fast`` estimator + tree,
* the honest extras of the default analysis: 5-fold cross-fitting and a 100-shuffle permutation test,

and finally the DEFAULT analysis on ALL groups, both groupings, with --jobs processes (what
`barlow analyze` does). Prints seconds per group, the speed ratios, and how often the planted
feature is the root split.

    python benchmarks/analysis_scale.py                          # full ImageNet shape
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


def original_tree(X, failure, depth, top_k):
    """The original code's step: scikit-learn's k-NN MI (3 neighbours, random_state 0) + the tree."""
    from sklearn.feature_selection import mutual_info_classif

    from analysis_core.mutual_info import top_features

    mi = mutual_info_classif(X, failure.astype(int), random_state=0)
    selected = top_features(mi, top_k)
    tree = FailureTree(depth=depth, top_k=top_k).fit_tree(np.asarray(X[:, selected], dtype=np.float32), failure)
    return selected, int(selected[tree.tree_.feature[0]])


def time_sample(features, labels, predictions, classes, args):
    """Every step, one sampled label group after another (so each group's timings share the same
    machine load): the original, knn + tree, fast + tree, cross-fitting, the permutation test and the
    whole default analysis of the group (``run_analysis`` on its rows, one process). Returns the
    per-step lists of (root feature, selected features) and mean seconds per group."""
    from analysis_core.honest import cross_fit
    from analysis_core.permutation import permutation_test

    one_group = AnalysisConfig(grouping="label", depth=args.depth, top_k=args.top_k, folds=args.folds,
                               permutations=args.permutations, device=args.device)
    picks = {"original": [], "knn": [], "fast": []}
    seconds = {key: [] for key in ("original", "knn", "fast", "cross-fitting", "permutations", "default")}
    for c in classes:
        rows = np.flatnonzero(labels == str(c))
        X = np.array(features[rows[0] : rows[-1] + 1])
        failure = labels[rows] != predictions[rows]
        for mi in ("original", "knn", "fast"):
            start = time.perf_counter()
            if mi == "original":
                selected, root = original_tree(X, failure, args.depth, args.top_k)
            else:
                tree = FailureTree(depth=args.depth, top_k=args.top_k, mi=mi).fit(X, failure)
                selected, root = tree.selected_features_, tree.nodes_[0]["feature"]
            seconds[mi].append(time.perf_counter() - start)
            picks[mi].append((root, np.asarray(selected)))
        start = time.perf_counter()
        cross_fit(tree, X, failure, args.folds)
        seconds["cross-fitting"].append(time.perf_counter() - start)
        start = time.perf_counter()
        permutation_test(tree, X, failure, args.permutations)
        seconds["permutations"].append(time.perf_counter() - start)
        start = time.perf_counter()
        run_analysis(X, labels[rows], predictions[rows], one_group, progress=False)
        seconds["default"].append(time.perf_counter() - start)
    return picks, {key: float(np.mean(v)) for key, v in seconds.items()}


class PeakMemory:
    """Peak memory of this process and its workers, sampled every 0.2 s while a block runs: resident
    set (which counts the pages of the memory-mapped features that were read: page cache, shared
    and reclaimable) and anonymous memory (``RssAnon`` of /proc/PID/status: what the analysis itself
    allocates); also the CPU seconds the workers used meanwhile, which says how many cores the
    machine actually gave them. Needs psutil and Linux's /proc (else reports nothing)."""

    def __enter__(self):
        import threading

        self.rss = self.anon = 0
        self.cpu: dict[int, float] = {}
        self._cpu_start: dict[int, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    @staticmethod
    def _status_kib(pid: int, field: str) -> int:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
        return 0

    def _sample(self):
        try:
            import psutil
        except ImportError:
            return
        me = psutil.Process()
        while not self._stop.wait(0.2):
            rss = anon = 0
            for proc in [me] + me.children(recursive=True):
                try:
                    times = proc.cpu_times()
                    used = times.user + times.system
                    self._cpu_start.setdefault(proc.pid, used)
                    self.cpu[proc.pid] = used - self._cpu_start[proc.pid]
                    rss += proc.memory_info().rss
                    anon += self._status_kib(proc.pid, "RssAnon") * 1024
                except (psutil.Error, OSError):
                    continue
            self.rss, self.anon = max(self.rss, rss), max(self.anon, anon)

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()

    def describe(self) -> str:
        if not self.rss:
            return "peak memory not measured (needs psutil)"
        return (f"peak memory, main process + workers: {self.rss / 2**30:.2f} GiB resident (includes read pages "
                f"of the memory-mapped features), {self.anon / 2**30:.2f} GiB anonymous (allocated by the analysis); "
                f"CPU used by them meanwhile: {sum(self.cpu.values()):.0f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--classes", type=int, default=1000)
    parser.add_argument("--per-class", type=int, default=1300)
    parser.add_argument("--features", type=int, default=2048)
    parser.add_argument("--depth", type=int, default=3)
    parser.add_argument("--top-k", type=int, default=20)
    parser.add_argument("--sample", type=int, default=5, help="label groups run with the original k-NN algorithm")
    parser.add_argument("--jobs", type=int, default=2, help="processes for the default run on all groups")
    parser.add_argument("--mi", default="fast", help="estimator of the run on all groups (default: fast)")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--permutations", type=int, default=100)
    parser.add_argument("--device", default="cpu", help="--device of the run on all groups (cpu, cuda, torch-cpu)")
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
        # Start the worker processes once, as one `barlow analyze` run does: imports, loading the
        # compiled kernels (compiling them on the very first run after an install); loky keeps the
        # workers for the run below, so that this cost, paid once per run, is reported on its own.
        start = time.perf_counter()
        warm = np.concatenate([np.flatnonzero(labels == c)[:150] for c in np.unique(labels)[:4]])
        run_analysis(np.array(features[warm]), labels[warm], predictions[warm],
                     AnalysisConfig(grouping="both", depth=args.depth, permutations=3, jobs=args.jobs,
                                    device=args.device), progress=False)
        startup = time.perf_counter() - start
        print(f"start-up (worker processes, imports, compiled kernels; once per run): {startup:.1f}s")
        # The same once-per-process cost in this process, for the timed steps below (the first
        # sampled group would otherwise pay for loading or compiling the knn and fast kernels).
        start = time.perf_counter()
        X_warm, fail_warm = np.array(features[warm[:150]]), labels[warm[:150]] != predictions[warm[:150]]
        if 0 < fail_warm.sum() < len(fail_warm):
            for mi in ("knn", "fast"):
                FailureTree(depth=args.depth, top_k=args.top_k, mi=mi).fit(X_warm, fail_warm)
        run_analysis(X_warm, labels[warm[:150]], predictions[warm[:150]],
                     AnalysisConfig(grouping="label", depth=args.depth, permutations=3, device=args.device), progress=False)
        print(f"start-up of this process's kernels (knn, fast; not in the timings below): {time.perf_counter() - start:.1f}s")
        picks, sec = time_sample(features, labels, predictions, sample, args)
        orig_sec, knn_sec, fast_sec = sec["original"], sec["knn"], sec["fast"]
        cf_sec, perm_sec = sec["cross-fitting"], sec["permutations"]
        orig_roots, knn_roots, fast_roots = (np.array([r for r, _ in picks[k]]) for k in ("original", "knn", "fast"))
        same = sum(np.array_equal(a[1], b[1]) for a, b in zip(picks["original"], picks["knn"]))

        config = AnalysisConfig(grouping="both", depth=args.depth, top_k=args.top_k, mi=args.mi, jobs=args.jobs,
                                folds=args.folds, permutations=args.permutations, device=args.device)
        start = time.perf_counter()
        with PeakMemory() as memory:
            result = run_analysis(features, labels, predictions, config, progress=True)
        wall = time.perf_counter() - start
        n_groups = len(result.groups) + len(result.skipped)
        all_sec = wall / max(n_groups, 1)
        label_roots = {int(g.class_name): g.tree.nodes_[0]["feature"] for g in result.groups if g.grouping == "label"}
        default_recovery = np.mean([label_roots.get(c) == planted[c] for c in range(args.classes)])
        significant = result.summary()["label"]["fraction_significant"]

        print(f"\noriginal (sklearn knn MI + tree, serial), {len(sample)} label groups: {orig_sec:.3f} s/group; "
              f"planted feature at root in {np.mean(orig_roots == planted[sample]):.0%}")
        print(f"knn (Barlow, same MI values) + tree, same groups:        {knn_sec:.3f} s/group; "
              f"planted feature at root in {np.mean(knn_roots == planted[sample]):.0%}; "
              f"identical selected features (and order) in {same}/{len(sample)} groups")
        print(f"fast (binned MI) + tree, same groups:                    {fast_sec:.4f} s/group; "
              f"planted feature at root in {np.mean(fast_roots == planted[sample]):.0%}")
        print(f"honest extras per group: {args.folds}-fold cross-fitting {cf_sec:.3f} s, "
              f"{args.permutations}-shuffle permutation test {perm_sec:.3f} s")
        print(f"default analysis of each sampled group alone (one process, right after its original): "
              f"{sec['default']:.3f} s/group -> {orig_sec / sec['default']:.0f}x the original")
        print(f"default ({args.mi} MI + cross-fitting + permutations), all {n_groups} groups (both groupings, depth "
              f"{args.depth}, --jobs {args.jobs}): {wall:.1f}s wall = {all_sec:.4f} s/group; planted feature at root "
              f"in {default_recovery:.1%} of {args.classes} label groups; permutation test significant (BH q <= 0.05) "
              f"in {significant:.1%} of label groups")
        print(memory.describe())
        if memory.cpu:
            print(f"cores busy on average during the run: {sum(memory.cpu.values()) / wall:.2f} "
                  f"(CPU {sum(memory.cpu.values()) / max(n_groups, 1):.3f} s/group)")
        print(f"sequential permutation test: {np.mean([g.permutation['n_permutations'] for g in result.groups]):.1f} "
              f"shuffles per group on average (at most {args.permutations})")
        print(f"speed ratio per group, original vs default run:   {orig_sec / all_sec:.1f}x")
        print(f"speed ratio per group, original vs knn:           {orig_sec / knn_sec:.1f}x")
        print(f"speed ratio per group, original vs fast:          {orig_sec / fast_sec:.0f}x")
        print(f"original algorithm on all {n_groups} groups would take ~{orig_sec * n_groups / 3600:.1f} h serially; "
              f"the default run's per-group wall time at 2000 groups: ~{all_sec * 2000 / 60:.0f} min")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
