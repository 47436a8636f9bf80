"""``barlow train``: train a small CNN (standard or L2-adversarial) and write a checkpoint + model card."""

from __future__ import annotations

import argparse

from analysis_core.artifacts.options import DATASET_SPEC_HELP, QUIET_HELP

HELP = "train a small CNN on Fashion-MNIST, standard or L2 PGD adversarial (robust)"
DESCRIPTION = """\
Train a SmallCNN (4 conv layers, global average pool over a 7x7 map) on a 28x28 data set.
With --eps > 0 every batch is replaced by its L2 PGD adversarial version (Madry et al.:
random start, normalized-gradient steps of 2.5*eps/steps, projection, clamp to [0, 1]);
--fast uses one random-start step of 1.25*eps instead (Wong et al.).

Writes the checkpoint (loadable with torch.load(weights_only=True) and 'barlow extract
--features-model PATH') and a model card (JSON) beside it with the exact command, seed,
epochs and wall time; 'barlow evaluate --card' adds the accuracies.

examples:
  barlow train --out data/models/fmnist-standard.pt --epochs 4
  barlow train --out data/models/fmnist-robust.pt --eps 1.5 --steps 3 --epochs 6
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", required=True, help="checkpoint file to write (.pt); the card goes to the same name with .json")
    parser.add_argument("--dataset", default="fashion-mnist:train", help=f"training data set spec: {DATASET_SPEC_HELP} (default: %(default)s)")
    parser.add_argument("--eps", type=float, default=0.0, help="L2 radius of adversarial training in [0,1] pixel space; 0 = standard (default: %(default)s)")
    parser.add_argument("--steps", type=int, default=7, help="PGD steps per batch (default: %(default)s)")
    parser.add_argument("--fast", action="store_true", help="one-step random-start attack (Wong et al.) instead of PGD")
    parser.add_argument("--epochs", type=int, default=5, help="training epochs (default: %(default)s)")
    parser.add_argument("--width", type=int, default=64, help="channels of the middle layers; the map has 2*width (default: %(default)s)")
    parser.add_argument("--batch-size", type=int, default=128, help="batch size (default: %(default)s)")
    parser.add_argument("--lr", type=float, default=0.1, help="peak learning rate of the one-cycle schedule (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default: %(default)s)")
    parser.add_argument("--limit", type=int, default=None, help="train on the first N images only (for quick trials)")
    parser.add_argument("--quiet", action="store_true", help=QUIET_HELP)


def run(args: argparse.Namespace) -> int:
    import datetime
    import json
    import platform
    import shlex
    import sys
    from pathlib import Path

    import torch

    from analysis_core import __version__
    from analysis_core.artifacts.atomic import atomic_path
    from analysis_core.artifacts.errors import BarlowError
    from analysis_core.datasets import load_dataset
    from analysis_core.models import save_checkpoint
    from analysis_core.training import TrainConfig, config_dict, train_model

    if args.epochs < 1 or args.batch_size < 1 or args.steps < 1 or args.eps < 0 or args.width < 2:
        raise BarlowError("--epochs, --batch-size, --steps must be >= 1, --width >= 2 and --eps >= 0")
    out = Path(args.out)
    if out.suffix != ".pt":
        raise BarlowError(f"--out must name a .pt file, got {out}")
    dataset = load_dataset(args.dataset)
    if getattr(dataset, "images_uint8", None) is not None:
        images = dataset.images_uint8
    else:
        images = torch.stack([(dataset[i][0] * 255).round().to(torch.uint8) for i in range(len(dataset))])
    if tuple(images.shape[-2:]) != (28, 28):
        raise BarlowError(f"barlow train trains 28x28 models; {args.dataset} has {tuple(images.shape[-2:])} images")
    labels = torch.from_numpy(dataset.labels)
    config = TrainConfig(epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, eps=args.eps,
                         steps=args.steps, fast=args.fast, width=args.width, seed=args.seed, limit=args.limit)
    print(f"training on {len(labels) if not args.limit else min(args.limit, len(labels))} images of {args.dataset} "
          f"({'standard' if args.eps == 0 else f'L2 adversarial, eps={args.eps}'})", file=sys.stderr)
    result = train_model(images, labels, dataset.classes, config, progress=not args.quiet)
    card = {
        "name": out.stem,
        "command": "barlow train " + " ".join(shlex.quote(a) for a in sys.argv[2:]) if sys.argv[1:2] == ["train"] else None,
        "kind": "standard" if args.eps == 0 else "robust",
        "architecture": {"arch": "smallcnn", **result.model.arch_kwargs,
                         "num_features": result.model.num_features, "feature_map": "7x7 after the last ReLU"},
        "training": {**config_dict(config), "dataset": args.dataset,
                     "attack": None if args.eps == 0 else ("L2 one-step random start" if args.fast else f"L2 PGD-{args.steps}, random start")},
        "history": result.history,
        "wall_time_s": round(result.wall_time_s, 1),
        "trained_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "environment": {"barlow": __version__, "torch": torch.__version__, "python": platform.python_version(),
                        "threads": torch.get_num_threads(), "machine": platform.machine()},
        "classes": dataset.classes,
    }
    save_checkpoint(result.model, out, extra={k: card[k] for k in ("command", "kind", "wall_time_s")} | {"seed": args.seed, "epochs": args.epochs, "eps": args.eps})
    with atomic_path(out.with_suffix(".json")) as tmp:
        tmp.write_text(json.dumps(card, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {out} and {out.with_suffix('.json')} ({result.wall_time_s / 60:.1f} min)", file=sys.stderr)
    return 0
