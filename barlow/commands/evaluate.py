"""``barlow evaluate``: clean and L2 PGD robust accuracy of a model on a data set."""

from __future__ import annotations

import argparse

from analysis_core.artifacts.options import DATASET_SPEC_HELP as DATASET_HELP
from analysis_core.artifacts.options import MODEL_SPEC_HELP as MODEL_HELP
from analysis_core.artifacts.options import QUIET_HELP

HELP = "measure a model's clean accuracy and L2 PGD robust accuracy"
DESCRIPTION = """\
Clean accuracy and, with --eps > 0, robust accuracy under an untargeted L2 PGD attack
(random start, --steps normalized-gradient steps of 2.5*eps/steps, projection onto the
eps ball, clamp to [0, 1]) on a data set. Prints JSON; --card adds the figures (and the
exact command) to a model card written by 'barlow train'.

examples:
  barlow evaluate --model fmnist-robust --eps 1.5 --steps 20
  barlow evaluate --model data/models/fmnist-robust.pt --eps 1.5 --card data/models/fmnist-robust.json
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", required=True, help=f"model spec: {MODEL_HELP}")
    parser.add_argument("--dataset", default="fashion-mnist", help=f"data set spec: {DATASET_HELP} (default: %(default)s, the test split)")
    parser.add_argument("--eps", type=float, default=0.0, help="L2 radius in [0,1] pixel space; 0 = clean accuracy only (default: %(default)s)")
    parser.add_argument("--steps", type=int, default=20, help="PGD steps (default: %(default)s)")
    parser.add_argument("--batch-size", type=int, default=250, help="batch size (default: %(default)s)")
    parser.add_argument("--limit", type=int, default=None, help="evaluate the first N images only")
    parser.add_argument("--seed", type=int, default=0, help="seed of the attack's random start (default: %(default)s)")
    parser.add_argument("--device", default="cpu", help="cpu or cuda (default: %(default)s)")
    parser.add_argument("--trust-checkpoint", action="store_true", help="allow pickled (non weights-only) checkpoints from a trusted source")
    parser.add_argument("--card", default=None, help="model card JSON to update with the results")
    parser.add_argument("--out", default=None, help="also write the results to this JSON file")
    parser.add_argument("--quiet", action="store_true", help=QUIET_HELP)


def run(args: argparse.Namespace) -> int:
    import json
    import shlex
    import sys
    import time
    from pathlib import Path

    from analysis_core.artifacts.atomic import atomic_path
    from analysis_core.artifacts.errors import BarlowError
    from analysis_core.artifacts.json_files import read_json
    from analysis_core.datasets import ImageTransform, load_dataset
    from analysis_core.models import load_model
    from analysis_core.training import evaluate_model

    if args.eps < 0 or args.steps < 1 or args.batch_size < 1:
        raise BarlowError("--eps must be >= 0, --steps and --batch-size >= 1")
    model = load_model(args.model, device="cpu", trust_checkpoint=args.trust_checkpoint)
    dataset = load_dataset(args.dataset, ImageTransform.for_input_shape(model.input_shape))
    if model.classes is not None and len(model.classes) != len(dataset.classes):
        raise BarlowError(f"model {args.model} has {len(model.classes)} classes but {args.dataset} has {len(dataset.classes)}")
    start = time.perf_counter()
    result = evaluate_model(model, dataset, eps=args.eps, steps=args.steps, batch_size=args.batch_size, progress=not args.quiet,
                            limit=args.limit, seed=args.seed)
    result = {"model": args.model, "dataset": args.dataset, **result,
              "wall_time_s": round(time.perf_counter() - start, 1),
              "command": "barlow evaluate " + " ".join(shlex.quote(a) for a in sys.argv[2:]) if sys.argv[1:2] == ["evaluate"] else None}
    text = json.dumps(result, indent=2)
    print(text)
    if args.out:
        with atomic_path(args.out) as tmp:
            tmp.write_text(text + "\n", encoding="utf-8")
    if args.card:
        card_path = Path(args.card)
        if not card_path.is_file():
            raise BarlowError(f"model card not found: {card_path}")
        card = read_json(card_path)
        evaluations = [e for e in card.get("evaluation", []) if (e.get("eps"), e.get("dataset")) != (result.get("eps"), args.dataset)]
        card["evaluation"] = evaluations + [result]
        with atomic_path(card_path) as tmp:
            tmp.write_text(json.dumps(card, indent=2) + "\n", encoding="utf-8")
    return 0
