"""Are Barlow's significance calls calibrated? Null calibration and power on real features.

Features: the shipped robust Fashion-MNIST model (``fmnist-robust``) on the Fashion-MNIST test
split (10 classes x 1,000 images x 128 features), the model's own predictions.

* NULL: in each label group the model's failure flags are shuffled among the group's rows
  (``--shuffles`` times, each a new set of 10 groups), so no failure mode exists. For each depth
  the script runs the default analysis (honest cross-fitting + permutation test) and reports the
  fraction of groups called significant / valid, in-sample (the paper's numbers with a binomial
  test of the leaf against BER and Benjamini-Hochberg across leaves, as Barlow reported before)
  vs honest. Goal: <= 5 % at alpha = 0.05 for every honest call.
* POWER: in each label group one feature is planted (rows in its lowest 40 % fail with
  probability 0.5, the others 0.12, as ``benchmarks/analysis_scale.py`` does), ``--planted``
  times with different features. Reports how often the honest procedure finds the planted mode.

    python benchmarks/null_calibration.py                       # depths 1-3, 10 shuffles, 100 permutations
    python benchmarks/null_calibration.py --shuffles 3 --depths 1 2 --images 3000   # quick
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from analysis_core.failure_analysis import AnalysisConfig, run_analysis
from analysis_core.leaf_stats import benjamini_hochberg, binomial_p_greater


def shipped_features(n_images: int):
    """(features, labels, predictions) of the shipped robust model on the first test images."""
    from analysis_core.datasets import load_dataset
    from analysis_core.extraction import features_in_memory
    from analysis_core.models.loading import load_model

    return features_in_memory(load_dataset("fashion-mnist"), load_model("fmnist-robust"), n_images)


def with_failures(labels: np.ndarray, failure: np.ndarray, rng) -> np.ndarray:
    """Predictions that are wrong exactly where ``failure`` is set (another class, at random)."""
    n_classes = int(labels.max()) + 1
    wrong = (labels + rng.integers(1, n_classes, len(labels))) % n_classes
    return np.where(failure, wrong, labels)


def measure(X, labels, failure, config: AnalysisConfig) -> dict:
    """Fractions of groups (and leaves) called significant / valid, in-sample vs honest."""
    rng = np.random.default_rng(config.seed)
    result = run_analysis(X, labels.astype(str), with_failures(labels, failure, rng).astype(str), config, progress=False)
    t = result.failure_modes.copy()
    alpha = config.alpha
    # What Barlow reported before issue 11: an in-sample binomial test per leaf, BH across leaves.
    t["in_p"] = binomial_p_greater(t["n_fail_leaf"], t["n_leaf"], t["ber"])
    t["in_q"] = benjamini_hochberg(t["in_p"])
    by_group = t.groupby("class")
    in_top = t[t["iv_rank"] == 1]
    top = t[t["rank"] == 1]
    return {
        "groups": len(in_top),
        "in_top_p": float((in_top["in_p"] < alpha).mean()),
        "in_any_q": float(by_group["in_q"].min().le(alpha).mean()),
        "in_top_valid": float(in_top["valid_in_sample"].mean()),
        "in_any_valid": float(by_group["valid_in_sample"].any().mean()),
        "in_leaf_q": float((t["in_q"] <= alpha).mean()),
        "h_top_p": float((top["honest_p_value"] < alpha).mean()),
        "h_any_q": float(by_group["significant"].any().mean()),
        "h_top_valid": float(top["valid"].mean()),
        "h_any_valid": float(by_group["valid"].any().mean()),
        "h_leaf_q": float(t["significant"].mean()),
        "group_p": float((top["group_p_value"] < alpha).mean()),
        "group_q": float((top["group_q_value"] <= alpha).mean()),
        "table": t,
        "result": result,
    }


def pooled(parts: list[dict]) -> dict:
    groups = sum(p["groups"] for p in parts)
    keys = [k for k in parts[0] if k not in ("groups", "table", "result")]
    return {"groups": groups, **{k: sum(p[k] * p["groups"] for p in parts) / groups for k in keys}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=10000)
    parser.add_argument("--depths", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--shuffles", type=int, default=10, help="null data sets (10 label groups each)")
    parser.add_argument("--planted", type=int, default=5, help="planted data sets (10 label groups each)")
    parser.add_argument("--permutations", type=int, default=100)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--mi", default="fast")
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    start = time.perf_counter()
    X, labels, predictions = shipped_features(args.images)
    real_failure = labels != predictions
    print(f"features: {X.shape[0]} images x {X.shape[1]} (fmnist-robust), model error rate "
          f"{real_failure.mean():.3f}, extracted in {time.perf_counter() - start:.0f}s")

    header = (f"{'depth':>5} {'groups':>6} | in-sample: {'top p':>6} {'any q':>6} {'top valid':>9} {'any valid':>9} "
              f"{'leaves q':>8} | honest: {'top p':>6} {'any q':>6} {'top valid':>9} {'any valid':>9} {'leaves q':>8} "
              f"| perm test: {'p<a':>5} {'q<=a':>5} | s/group")
    print("\nNULL (failures shuffled within each label group): fraction of groups called significant / valid "
          f"at alpha {0.05}")
    print(header)
    for depth in args.depths:
        config = AnalysisConfig(grouping="label", depth=depth, mi=args.mi, folds=args.folds,
                                permutations=args.permutations, jobs=args.jobs, seed=args.seed)
        parts, t0 = [], time.perf_counter()
        for s in range(args.shuffles):
            rng = np.random.default_rng([args.seed, depth, s])
            failure = real_failure.copy()
            for c in np.unique(labels):
                rows = np.flatnonzero(labels == c)
                failure[rows] = rng.permutation(failure[rows])
            parts.append(measure(X, labels, failure, config))
        r = pooled(parts)
        sec = (time.perf_counter() - t0) / r["groups"]
        print(f"{depth:>5} {r['groups']:>6} | {'':>10} {r['in_top_p']:>6.1%} {r['in_any_q']:>6.1%} {r['in_top_valid']:>9.1%} "
              f"{r['in_any_valid']:>9.1%} {r['in_leaf_q']:>8.1%} | {'':>7} {r['h_top_p']:>6.1%} {r['h_any_q']:>6.1%} "
              f"{r['h_top_valid']:>9.1%} {r['h_any_valid']:>9.1%} {r['h_leaf_q']:>8.1%} | {'':>10} "
              f"{r['group_p']:>5.1%} {r['group_q']:>5.1%} | {sec:.2f}")

    print("\nPOWER (one planted feature per label group: its lowest 40% fail at 0.5, the rest at 0.12)")
    print(f"{'depth':>5} {'groups':>6} | {'perm q<=a':>9} {'top leaf valid+sig':>18} {'root = planted':>14} "
          f"{'top ER in-sample':>16} {'top ER honest':>13} {'BER':>5}")
    for depth in args.depths:
        config = AnalysisConfig(grouping="label", depth=depth, mi=args.mi, folds=args.folds,
                                permutations=args.permutations, jobs=args.jobs, seed=args.seed)
        sig, valid_sig, root, er_in, er_h, ber, groups = 0, 0, 0, [], [], [], 0
        for s in range(args.planted):
            rng = np.random.default_rng([args.seed, 100 + depth, s])
            failure = np.zeros(len(labels), dtype=bool)
            planted = {}
            for c in np.unique(labels):
                rows = np.flatnonzero(labels == c)
                candidates = np.flatnonzero(np.quantile(X[rows], 0.4, axis=0) < np.quantile(X[rows], 0.6, axis=0))
                f = int(rng.choice(candidates))
                planted[str(c)] = f
                x = X[rows, f]
                rate = np.where(x <= np.quantile(x, 0.4), 0.5, 0.12)
                failure[rows] = rng.random(len(rows)) < rate
            part = measure(X, labels, failure, config)
            top = part["table"][part["table"]["rank"] == 1]
            for group in part["result"].groups:
                row = top[top["class"] == group.class_name].iloc[0]
                groups += 1
                sig += bool(row["group_q_value"] <= config.alpha)
                valid_sig += bool(row["valid"] and row["significant"])
                root += group.tree.nodes_[0]["feature"] == planted[group.class_name]
                er_in.append(row["er"])
                er_h.append(row["honest_er"])
                ber.append(row["ber"])
        print(f"{depth:>5} {groups:>6} | {sig / groups:>9.1%} {valid_sig / groups:>18.1%} {root / groups:>14.1%} "
              f"{np.mean(er_in):>16.3f} {np.nanmean(er_h):>13.3f} {np.mean(ber):>5.3f}")
    print(f"\ntotal {time.perf_counter() - start:.0f}s")


if __name__ == "__main__":
    main()
