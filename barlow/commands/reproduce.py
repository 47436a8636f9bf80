"""barlow reproduce: rerun the paper's experiments (sections 6-9) from one config."""

from __future__ import annotations

import argparse

HELP = "rerun the paper's experiments (sections 6-9) from one config, locally or on a Dask cluster"
DESCRIPTION = """\
Rerun the paper's protocol from one YAML config and write a reproduction report:
  extract   robust features + every inspected model's predictions, in shards (one task each)
  analyze   failure trees per inspected model x depth (section 7, Table 1), in-sample and honest
  visualize the features that sections 6, 8 and 9 show
  section6  Figure 6/7-style failure modes;  section8  the crowd study, ready to serve
  section9  the practitioner review study (when this Barlow has the failure-review kind)
  report    report.md and report.html: each claim of sections 7-8, the paper's number, ours, holds or not
A step whose settings and inputs did not change is reused, so an interrupted run resumes.

Shipped configs: configs/fashion-mnist.yaml (the shipped data and models) and
configs/paper-imagenet.yaml (ImageNet train split, MadryLab robust ResNet-50, torchvision
ResNet-50: set IMAGENET and CHECKPOINTS, see the file).

examples:
  barlow reproduce configs/fashion-mnist.yaml --out runs/reproduce-fmnist
  barlow reproduce configs/fashion-mnist.yaml --out runs/quick --set data.subset=2000 --scheduler local
  IMAGENET=/data/ILSVRC2012 CHECKPOINTS=~/ckpt barlow reproduce configs/paper-imagenet.yaml \\
      --out runs/imagenet --scheduler tcp://scheduler:8786
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("config", metavar="CONFIG", help="YAML config (or the name of a shipped one: fashion-mnist, paper-imagenet)")
    parser.add_argument("--out", required=True, metavar="DIR", help="output folder; rerunning with the same folder reuses finished steps")
    parser.add_argument("--scheduler", metavar="WHERE", help="in-process, local (a new Dask LocalCluster) or tcp://HOST:PORT of a running "
                                                             "Dask scheduler (default: the config's execution.scheduler)")
    parser.add_argument("--workers", type=int, metavar="N", help="worker processes of a local cluster (default: the config's)")
    parser.add_argument("--device", help="torch device for extraction and visualization, e.g. cuda (default: the config's)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="override one config entry, e.g. --set data.subset=2000 or --set inspected_models.standard.spec=PATH (repeatable)")
    parser.add_argument("--publish", metavar="DIR", help="also copy the report, tables, figures and manifests (no feature matrices, "
                                                         "no study images) to DIR, e.g. docs/results/NAME")
    parser.add_argument("--estimate", action="store_true", help="check the inputs, print the time and disk estimate and stop")
    parser.add_argument("--force", action="store_true", help="recompute every step even if its results are up to date")


def run(args: argparse.Namespace) -> int:
    import shlex
    import subprocess
    import sys
    import time
    from pathlib import Path

    from analysis_core.reproduction.config import load_config
    from analysis_core.reproduction.data import check_inputs
    from analysis_core.reproduction.estimate import check_disk, estimate
    from analysis_core.reproduction.execution import make_executor
    from barlow.reproduce import extraction_done, publish_results, run_reproduction

    overrides = list(args.set)
    if args.scheduler:
        overrides.append(f"execution.scheduler={args.scheduler}")
    if args.workers is not None:
        overrides.append(f"execution.workers={args.workers}")
    if args.device:
        overrides.append(f"execution.device={args.device}")
    config = load_config(args.config, overrides)
    out = Path(args.out)
    check_inputs(config)
    start = time.perf_counter()
    if args.estimate or args.force or not extraction_done(config, out):
        est = estimate(config, out)
        print(est.describe(), flush=True)
        check_disk(est)
        if args.estimate:
            return 0
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10,
                                cwd=Path(__file__).resolve().parent).stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        commit = None
    executor = make_executor(config.execution.scheduler, config.execution.workers, config.execution.threads_per_worker)
    try:
        command = "barlow reproduce " + " ".join(shlex.quote(a) for a in sys.argv[2:]) if sys.argv[1:2] == ["reproduce"] else None
        result = run_reproduction(config, out, executor, force=args.force, commit=commit, command=command)
    finally:
        executor.close()
    outcomes = result["timings"]
    print(f"report: {result['report'].resolve()}")
    if args.publish:
        copied = publish_results(out, Path(args.publish))
        print(f"published {len(copied)} file(s) to {args.publish}")
    print(f"total {time.perf_counter() - start:.1f} s (" + ", ".join(
        f"{name} {'reused' if o['reused'] else str(o['seconds']) + ' s'}" for name, o in outcomes.items()) + ")")
    return 0
