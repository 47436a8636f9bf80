"""Standard and L2-adversarial training of a SmallCNN on Fashion-MNIST (in-memory tensors)."""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

from analysis_core.attacks import l2_pgd
from analysis_core.models.small_cnn import SmallCNN


@dataclass
class TrainConfig:
    epochs: int = 5
    batch_size: int = 128
    lr: float = 0.1
    momentum: float = 0.9
    weight_decay: float = 5e-4
    eps: float = 0.0  # L2 radius in [0, 1] pixel space; 0 = standard training
    steps: int = 7  # PGD steps per batch; 1 with fast=True is Wong et al.'s one-step attack
    fast: bool = False
    width: int = 64
    seed: int = 0
    limit: int | None = None  # train on the first N images only (smoke tests)


@dataclass
class TrainResult:
    model: SmallCNN
    history: list[dict] = field(default_factory=list)
    wall_time_s: float = 0.0


def attack_for(config: TrainConfig):
    """The training-time attack as (steps, step_size), or None for standard training."""
    if config.eps <= 0:
        return None
    if config.fast:
        return 1, 1.25 * config.eps
    return config.steps, 2.5 * config.eps / config.steps


def train_model(
    images: torch.Tensor,
    labels: torch.Tensor,
    classes: list[str],
    config: TrainConfig,
    progress: bool = True,
) -> TrainResult:
    """Train a fresh SmallCNN; ``images`` are uint8 N x 1 x 28 x 28, ``labels`` int64 N.

    SGD with a one-cycle learning rate; random horizontal flips; each batch is replaced by
    its L2 PGD adversarial version when ``config.eps > 0``.
    """
    from tqdm import tqdm

    torch.manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    gen = torch.Generator().manual_seed(config.seed)
    if config.limit:
        images, labels = images[: config.limit], labels[: config.limit]
    n = len(labels)
    model = SmallCNN(in_channels=images.shape[1], num_classes=len(classes), width=config.width,
                     image_size=images.shape[-1], classes=classes)
    optimizer = torch.optim.SGD(model.parameters(), lr=config.lr, momentum=config.momentum,
                                weight_decay=config.weight_decay, nesterov=True)
    steps_per_epoch = math.ceil(n / config.batch_size)
    total = config.epochs * steps_per_epoch
    warmup = max(1, total // 4)
    # Triangular one-cycle schedule: linear warm-up to lr over a quarter of the steps, then
    # linear decay to zero (works for any number of steps, unlike OneCycleLR on tiny runs).
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda t: min((t + 1) / warmup, max(0.0, (total - t) / max(1, total - warmup)))
    )
    attack = attack_for(config)
    history = []
    start = time.perf_counter()
    for epoch in range(config.epochs):
        order = torch.from_numpy(rng.permutation(n))
        model.train()
        total_loss, correct, seen = 0.0, 0, 0
        bar = tqdm(range(steps_per_epoch), desc=f"epoch {epoch + 1}/{config.epochs}", disable=not progress,
                   unit="batch", leave=False)
        for b in bar:
            idx = order[b * config.batch_size:(b + 1) * config.batch_size]
            x = images[idx].float().div_(255.0)
            y = labels[idx]
            flip = torch.rand(len(idx), generator=gen) < 0.5
            x[flip] = x[flip].flip(-1)
            if attack is not None:
                # BatchNorm statistics should come from the clean/adversarial training batches,
                # not from the attack's probing passes: attack in eval mode.
                model.eval()
                x = l2_pgd(model, x, y, config.eps, steps=attack[0], step_size=attack[1], generator=gen)
                model.train()
            logits = model(x).logits
            loss = F.cross_entropy(logits, y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            scheduler.step()
            total_loss += float(loss.detach()) * len(idx)
            correct += int((logits.argmax(1) == y).sum())
            seen += len(idx)
            bar.set_postfix(loss=f"{total_loss / seen:.3f}", acc=f"{correct / seen:.3f}")
        history.append({"epoch": epoch + 1, "train_loss": total_loss / seen, "train_acc": correct / seen,
                        "elapsed_s": round(time.perf_counter() - start, 1)})
        if progress:
            tqdm.write(f"epoch {epoch + 1}: loss {total_loss / seen:.4f}, "
                       f"{'adversarial ' if attack else ''}train acc {correct / seen:.4f}")
    model.eval()
    return TrainResult(model=model, history=history, wall_time_s=time.perf_counter() - start)


@torch.no_grad()
def _predict(model, x: torch.Tensor) -> torch.Tensor:
    return model(x).logits.argmax(1)


def evaluate_model(
    model,
    dataset,
    eps: float = 0.0,
    steps: int = 20,
    batch_size: int = 250,
    limit: int | None = None,
    seed: int = 0,
    progress: bool = True,
) -> dict:
    """Clean accuracy, and L2 PGD robust accuracy at ``eps`` (``steps`` steps, step 2.5*eps/steps)."""
    from tqdm import tqdm

    model.eval()
    gen = torch.Generator().manual_seed(seed)
    n = len(dataset) if limit is None else min(limit, len(dataset))
    clean = robust = 0
    for start in tqdm(range(0, n, batch_size), desc="evaluate", unit="batch", disable=not progress):
        items = [dataset[i] for i in range(start, min(start + batch_size, n))]
        x = torch.stack([it[0] for it in items])
        y = torch.tensor([it[1] for it in items])
        clean += int((_predict(model, x) == y).sum())
        if eps > 0:
            with torch.enable_grad():
                adv = l2_pgd(model, x, y, eps, steps=steps, generator=gen)
            robust += int((_predict(model, adv) == y).sum())
    result = {"n_images": n, "clean_accuracy": clean / n}
    if eps > 0:
        result.update({"eps": eps, "pgd_steps": steps, "pgd_step_size": 2.5 * eps / steps,
                       "robust_accuracy": robust / n})
    return result


def config_dict(config: TrainConfig) -> dict:
    return asdict(config)
