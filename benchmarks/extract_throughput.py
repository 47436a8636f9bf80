"""Extraction throughput: the whole ``barlow extract`` pipeline against the bare forward pass.

Both use the same model, batch size and device in one run. The bare pass runs the model
over tensors already in memory and keeps nothing; the pipeline is ``analysis_core.extraction
.extract`` (load/decode, transform, forward, softmax, write to the memory-mapped file,
progress file, metadata.csv, manifest.json). Goal: pipeline >= 0.9 x bare.

    python benchmarks/extract_throughput.py                      # shipped fmnist-robust, 10,000 images
    python benchmarks/extract_throughput.py --png --workers 1    # decode PNG files through the data loader
    python benchmarks/extract_throughput.py --png --model torchvision:resnet50 --n 256 --batch-size 32 --workers 1
    python benchmarks/extract_throughput.py --device cuda --n 10000
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import torch

from analysis_core.datasets import load_dataset
from analysis_core.extraction import extract
from analysis_core.models import load_model


def bare_forward(model, images: torch.Tensor, batch_size: int, device: str) -> float:
    """Seconds for forward passes over in-memory tensors (copied to the device per batch)."""
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    start = time.perf_counter()
    with torch.inference_mode():
        for lo in range(0, len(images), batch_size):
            model(images[lo:lo + batch_size].to(device, non_blocking=True))
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    return time.perf_counter() - start


def png_dataset(images_uint8: torch.Tensor, labels, classes, folder: Path) -> str:
    """Write the images as PNG files with a Barlow CSV, so the pipeline also decodes files."""
    import pandas as pd
    from PIL import Image

    (folder / "images").mkdir(parents=True)
    rows = []
    for i in range(len(images_uint8)):
        name = f"{i:05d}.png"
        Image.fromarray(images_uint8[i, 0].numpy()).save(folder / "images" / name)
        rows.append({"Filenames": name, "Predictions": classes[labels[i]], "Labels": classes[labels[i]]})
    pd.DataFrame(rows).to_csv(folder / "metadata.csv", index=False)
    (folder / "classes.txt").write_text("\n".join(classes) + "\n")
    return f"barlow-csv:{folder}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="fmnist-robust")
    parser.add_argument("--n", type=int, default=10_000, help="images (default: %(default)s)")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--png", action="store_true", help="pipeline reads PNG files (decode + transform) instead of the idx arrays")
    parser.add_argument("--workers", type=int, default=0, help="data loader processes for --png")
    parser.add_argument("--repeats", type=int, default=3, help="alternating repeats; the best of each is reported")
    args = parser.parse_args()

    from analysis_core.datasets import ImageTransform
    from analysis_core.datasets.base import ImageDataset

    model = load_model(args.model, device=args.device)
    full = load_dataset("fashion-mnist")
    n = min(args.n, len(full))
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        if args.png:
            spec = png_dataset(full.images_uint8[:n], full.labels[:n], full.classes, tmp / "png")
            dataset = load_dataset(spec, ImageTransform.for_input_shape(model.input_shape))
        else:
            dataset = ImageDataset(spec="fashion-mnist", classes=full.classes, filenames=full.filenames[:n],
                                   labels=full.labels[:n], load_image=lambda i: full[i][0])
            dataset.images_uint8 = full.images_uint8[:n]
        # The bare pass gets exactly the pipeline's inputs, decoded beforehand.
        images = torch.stack([dataset[i][0] for i in range(n)])
        bare_forward(model, images[: args.batch_size * 2], args.batch_size, args.device)  # warm-up
        bare_times, pipe_times = [], []
        for r in range(args.repeats):
            bare_times.append(bare_forward(model, images, args.batch_size, args.device))
            start = time.perf_counter()
            # PNG mode takes predictions from the CSV, so models with other classes work too.
            inspect = None if args.png else model
            extract(dataset, model, tmp / f"out{r}", inspect_model=inspect, features_spec=args.model,
                    inspect_spec=None if args.png else args.model, batch_size=args.batch_size, workers=args.workers, device=args.device,
                    progress=False)
            pipe_times.append(time.perf_counter() - start)
    bare, pipe = n / min(bare_times), n / min(pipe_times)
    source = f"PNG files, {args.workers} workers" if args.png else "idx arrays"
    print(f"model {args.model}, {n} images, batch {args.batch_size}, device {args.device}, "
          f"torch threads {torch.get_num_threads()}, pipeline input: {source}")
    print(f"bare forward : {bare:9.1f} images/s")
    print(f"extract      : {pipe:9.1f} images/s")
    print(f"ratio        : {pipe / bare:9.3f}  (goal >= 0.9)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
