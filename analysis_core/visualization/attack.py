"""Feature attack: change an image to maximize one feature, within an L2 ball.

Projected L2 gradient ascent (Madry et al.), as in Engstrom et al.'s feature
visualizations: each step moves along the normalized gradient of the feature, the change
is projected back onto the epsilon ball around the starting image and clamped to [0, 1].
The original Barlow code used step 1 for 1000 iterations at 224x224 with no projection.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from tqdm import tqdm

from analysis_core.visualization.config import AttackParams, default_attack_params  # noqa: F401  (default_attack_params: re-exported)


@dataclass
class AttackResult:
    images: torch.Tensor  # (n, C, H, W) in [0, 1]
    before: np.ndarray  # feature value on the original images
    after: np.ndarray  # feature value on the attacked images


def _feature_values(model: torch.nn.Module, x: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:
    return model(x).features[torch.arange(len(x), device=x.device), ids]


def feature_attack(
    model: torch.nn.Module,
    images: torch.Tensor,
    features: np.ndarray | list[int],
    params: AttackParams,
    batch_size: int = 128,
    progress: bool = True,
) -> AttackResult:
    """Maximize ``features[i]`` on ``images[i]`` for every i, in batches.

    Images of different features share batches: the objective is the sum over the batch
    of each image's own feature, whose gradient with respect to image i is that of its own
    feature alone (the model is in eval mode, so images do not interact). The iterate with
    the largest feature value seen is kept, so ``after >= before`` always holds.
    """
    if params.eps < 0 or params.step_size <= 0 or params.iterations < 0:
        raise ValueError("attack needs eps >= 0, step_size > 0 and iterations >= 0")
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    all_ids = torch.as_tensor(np.asarray(features, dtype=np.int64))
    outs, befores, afters = [], [], []
    n_batches = math.ceil(len(images) / batch_size)
    bar = tqdm(total=n_batches * (params.iterations + 1), desc="feature attack", unit="step", disable=not progress, leave=False)
    try:
        for start in range(0, len(images), batch_size):
            x0 = images[start : start + batch_size].to(device).float()
            ids = all_ids[start : start + batch_size].to(device)
            x = x0.clone()
            best = x0.clone()
            best_value = torch.full((len(x0),), -math.inf, device=device)
            before = None
            for step in range(params.iterations + 1):
                x.requires_grad_(True)
                with torch.enable_grad():
                    value = _feature_values(model, x, ids)
                    grad = torch.autograd.grad(value.sum(), x)[0] if step < params.iterations else None
                value = value.detach()
                if before is None:
                    before = value.clone()
                better = value > best_value
                best[better] = x.detach()[better]
                best_value = torch.where(better, value, best_value)
                bar.update(1)
                if grad is None:
                    break
                norm = grad.flatten(1).norm(dim=1).clamp_min(1e-12).view(-1, 1, 1, 1)
                x = x.detach() + params.step_size * grad / norm
                delta = x - x0
                delta_norm = delta.flatten(1).norm(dim=1).view(-1, 1, 1, 1)
                delta = delta * torch.clamp(params.eps / delta_norm.clamp_min(1e-12), max=1.0)
                # Clamping x0 + delta into [0, 1] only shrinks each coordinate of delta,
                # because x0 is itself in [0, 1]; the result stays inside the ball.
                x = (x0 + delta).clamp(0.0, 1.0)
            outs.append(best.cpu())
            befores.append(before.cpu())
            afters.append(best_value.cpu())
    finally:
        bar.close()
        model.train(was_training)
    if not outs:
        empty = np.zeros(0, dtype=np.float32)
        return AttackResult(images=images[:0].clone(), before=empty, after=empty)
    return AttackResult(
        images=torch.cat(outs),
        before=torch.cat(befores).numpy().astype(np.float32),
        after=torch.cat(afters).numpy().astype(np.float32),
    )
