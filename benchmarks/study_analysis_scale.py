"""How long `barlow study analyze` takes on a study of the paper's size.

Generates a seeded, MTurk-shaped batch of 1,200 items x 5 workers (~300 workers with a
skewed number of tasks each, paper-like view shares, 29 items with four answers, 60
attention checks), then times the full analysis (reading and checking the CSV, every
statistic with 2,000 bootstrap resamples, figures, HTML) through the CLI entry point.

The reference, measured in the same run, is the least any analysis must do: read the CSV
with pandas and take per-item means of the Likert columns. The goal is a full run "in
seconds" (under 10 s here on 2 shared cores).

    python benchmarks/study_analysis_scale.py [--items-per-group 10] [--repeats 3]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import pandas as pd

from barlow.cli import main
from study.analysis.simulate import simulate_batch


def timed(repeats: int, fn) -> tuple[float, float]:
    """(first run, best run): the first includes importing matplotlib, statsmodels and nltk."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return times[0], min(times)


def main_benchmark() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--groups", type=int, default=120)
    parser.add_argument("--items-per-group", type=int, default=10)
    parser.add_argument("--workers", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        start = time.perf_counter()
        batch = simulate_batch(n_groups=args.groups, features_per_group=args.items_per_group, n_workers=args.workers, seed=0)
        csv = tmp / "Batch_simulated_batch_results.csv"
        batch.to_csv(csv, index=False)
        print(f"generated {len(batch):,} assignments ({args.groups * args.items_per_group:,} items, "
              f"{batch['WorkerId'].nunique()} workers) in {time.perf_counter() - start:.2f} s")

        def reference() -> None:
            frame = pd.read_csv(csv)
            frame.groupby(["Input.grouping", "Input.class", "Input.feature"])[["Answer.ease", "Answer.confidence"]].mean()

        argv = [
            "study", "analyze", "--csv", str(csv), "--item", "Input.grouping,Input.class,Input.feature",
            "--likert", "Answer.ease,Answer.confidence", "--choice", "Answer.useful_view",
            "--text", "Answer.description", "--raters", "5", "--embeddings", "off",
            "--attention-expect", "Answer.useful_view=Input.expected_useful_view", "--out", str(tmp / "out"),
        ]

        def full() -> None:
            import contextlib
            import io

            with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
                assert main(argv) == 0

        _, t_ref = timed(args.repeats, reference)
        first, t_full = timed(args.repeats, full)
        print(f"reference (read CSV + per-item Likert means): {t_ref:.3f} s")
        print(f"full analysis (statistics, bootstrap, figures, HTML): {t_full:.2f} s best of {args.repeats}, "
              f"{first:.2f} s first run with imports = {t_full / t_ref:.0f}x the reference  "
              f"[goal: under 10 s: {'met' if t_full < 10 else 'NOT met'}]")


if __name__ == "__main__":
    main_benchmark()
