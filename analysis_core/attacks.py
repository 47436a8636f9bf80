"""L2 projected gradient descent (Madry et al.): random start, normalized-gradient steps, projection."""

from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F


def _l2_norm(t: torch.Tensor) -> torch.Tensor:
    return t.flatten(1).norm(dim=1).view(-1, *([1] * (t.dim() - 1)))


def project_l2(delta: torch.Tensor, eps: float) -> torch.Tensor:
    """Scale each example's perturbation back onto the L2 ball of radius ``eps`` if outside it."""
    norms = _l2_norm(delta)
    return delta * torch.clamp(eps / (norms + 1e-12), max=1.0)


def random_l2(shape: torch.Size, eps: float, device, generator: torch.Generator | None = None) -> torch.Tensor:
    """Uniform samples from the L2 ball of radius ``eps`` (Gaussian direction, radius ~ U^(1/d))."""
    direction = torch.randn(shape, device=device, generator=generator)
    direction = direction / (_l2_norm(direction) + 1e-12)
    dims = direction[0].numel()
    radius = torch.rand((shape[0],) + (1,) * (len(shape) - 1), device=device, generator=generator) ** (1.0 / dims)
    return direction * radius * eps


def logits_of(model: torch.nn.Module) -> Callable[[torch.Tensor], torch.Tensor]:
    """Accept both FeatureModels (ModelOutput) and plain classifiers (a logits tensor)."""

    def call(x: torch.Tensor) -> torch.Tensor:
        out = model(x)
        return out.logits if hasattr(out, "logits") else out

    return call


def l2_pgd(
    model: torch.nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor,
    eps: float,
    steps: int = 10,
    step_size: float | None = None,
    random_start: bool = True,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Untargeted L2 PGD on the cross-entropy loss; returns adversarial images in [0, 1].

    Each step moves ``step_size`` along the per-example L2-normalized gradient, projects
    the perturbation onto the ``eps`` ball and clamps the image to [0, 1]. The default step
    size is ``2.5 * eps / steps`` (Madry et al.). With ``steps=1`` and ``step_size=1.25*eps``
    this is the fast one-step random-start attack of Wong et al.
    """
    if eps <= 0 or steps <= 0:
        return images.detach().clone()
    step_size = 2.5 * eps / steps if step_size is None else step_size
    forward = logits_of(model)
    x0 = images.detach()
    delta = random_l2(x0.shape, eps, x0.device, generator) if random_start else torch.zeros_like(x0)
    delta = (x0 + delta).clamp_(0, 1) - x0
    for _ in range(steps):
        delta.requires_grad_(True)
        loss = F.cross_entropy(forward(x0 + delta), labels)
        (grad,) = torch.autograd.grad(loss, delta)
        with torch.no_grad():
            delta = delta + step_size * grad / (_l2_norm(grad) + 1e-12)
            delta = project_l2(delta, eps)
            delta = (x0 + delta).clamp_(0, 1) - x0
    return (x0 + delta).detach()
