"""``barlow extract``: robust features and the inspected model's predictions, written to disk."""

from __future__ import annotations

import argparse

from analysis_core.artifacts.options import DATASET_SPEC_HELP as DATASET_HELP
from analysis_core.artifacts.options import MODEL_SPEC_HELP as MODEL_HELP
from analysis_core.artifacts.options import QUIET_HELP

HELP = "extract robust features and predictions of a data set into features.npy + metadata.csv"
DESCRIPTION = """\
Run the features model (a robust model) and the inspected model over a data set and write
  OUT/features.npy   float32, one row per image in data set order (penultimate features)
  OUT/metadata.csv   Filenames,Predictions,Labels,label_id,prediction_id,confidence
  OUT/manifest.json  models, checkpoint hashes, data set, counts, versions
which is what 'barlow analyze' reads. Work is streamed to a memory-mapped file in chunks of
--batch-size images; an interrupted run resumes from its last finished chunk when rerun with
the same arguments, and the outputs appear only when every image is done.

With --dataset fashion-mnist and no model options, the shipped robust model gives the
features and the shipped standard model is inspected. Without --inspect-model, predictions
come from a barlow-csv data set's Predictions column (for models outside PyTorch), or else
from the features model itself.

examples:
  barlow extract --dataset fashion-mnist --out runs/fmnist
  barlow extract --dataset imagenet:/data/ILSVRC2012:val --features-model madry-resnet50:imagenet_l2_3_0.pt \\
      --inspect-model torchvision:resnet50:resnet50.pth --out runs/imagenet --workers 4 --trust-checkpoint
  barlow extract --dataset barlow-csv:my_images/ --features-model madry-resnet50:resnet50_l2_eps3.ckpt --out runs/mine
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dataset", required=True, help=f"data set spec: {DATASET_HELP}")
    parser.add_argument("--features-model", default=None,
                        help=f"robust model giving the features (default for fashion-mnist: fmnist-robust): {MODEL_HELP}")
    parser.add_argument("--inspect-model", default=None,
                        help="model whose failures are analysed (default for fashion-mnist: fmnist-standard)")
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument("--batch-size", type=int, default=256, help="images per batch and per saved chunk (default: %(default)s)")
    parser.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N (default: %(default)s)")
    parser.add_argument("--workers", type=int, default=0, help="data loading processes for image files (default: %(default)s)")
    parser.add_argument("--restart", action="store_true", help="discard an interrupted run in OUT instead of resuming it")
    parser.add_argument("--trust-checkpoint", action="store_true",
                        help="allow old pickled (dill) checkpoints, e.g. MadryLab's imagenet_l2_3_0.pt; only for files you trust")
    parser.add_argument("--quiet", action="store_true", help=QUIET_HELP)


def run(args: argparse.Namespace) -> int:
    import sys

    import torch

    from analysis_core.artifacts.errors import BarlowError
    from analysis_core.datasets import ImageTransform, load_dataset
    from analysis_core.extraction import extract
    from analysis_core.models import load_model

    if args.batch_size < 1 or args.workers < 0:
        raise BarlowError("--batch-size must be >= 1 and --workers >= 0")
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        raise BarlowError(f"--device {args.device} requested but CUDA is not available here")
    is_fmnist = args.dataset.split(":", 1)[0] == "fashion-mnist"
    features_spec = args.features_model or ("fmnist-robust" if is_fmnist else None)
    if features_spec is None:
        raise BarlowError("--features-model is required for this data set (e.g. madry-resnet50:PATH)")
    features_model = load_model(features_spec, device=args.device, trust_checkpoint=args.trust_checkpoint)
    dataset = load_dataset(args.dataset, ImageTransform.for_input_shape(features_model.input_shape))
    transform = getattr(dataset, "transform", None)
    if transform is not None and dataset.root and len(dataset):
        from pathlib import Path

        from analysis_core.datasets.transforms import input_mismatch

        mismatch = input_mismatch(Path(dataset.root) / dataset.filenames[0], transform)
        if mismatch:
            print(f"WARNING: {mismatch}", file=sys.stderr)
    image_shape = tuple(dataset[0][0].shape)
    if image_shape != tuple(features_model.input_shape):
        raise BarlowError(f"{args.dataset} gives {image_shape} images but {features_spec} expects {tuple(features_model.input_shape)}")

    inspect_spec = args.inspect_model
    if inspect_spec is None and is_fmnist and args.features_model is None:
        inspect_spec = "fmnist-standard"
    if inspect_spec is None and dataset.predictions is None:
        inspect_spec = features_spec
    if inspect_spec is None:
        inspect_model = None
    elif inspect_spec == features_spec:
        inspect_model = features_model
    else:
        inspect_model = load_model(inspect_spec, device=args.device, trust_checkpoint=args.trust_checkpoint)
        if tuple(inspect_model.input_shape) != tuple(features_model.input_shape):
            raise BarlowError(f"{inspect_spec} expects {inspect_model.input_shape} inputs but {features_spec} expects {features_model.input_shape}")
    manifest = extract(dataset, features_model, args.out, inspect_model=inspect_model, features_spec=features_spec,
                       inspect_spec=inspect_spec, batch_size=args.batch_size, workers=args.workers,
                       device=args.device, restart=args.restart, progress=not args.quiet)
    print(f"wrote {manifest['n_images']} x {manifest['n_features']} features to {args.out} "
          f"({manifest['n_failures']} failures, accuracy {manifest['accuracy']:.4f}, {manifest['wall_time_s']:.1f} s)",
          file=sys.stderr)
    return 0
