"""Slice-discovery tasks on Fashion-MNIST in dcbench's three families, plus null tasks.

The inspected model sorts images into three superclasses (tops, footwear, other) of the ten
Fashion-MNIST classes (the subclasses). Each task changes the model's training data so that it
fails on one known slice of the test split:

- ``rare``: one subclass keeps only RARE_KEEP of its training images;
- ``noisy``: NOISY_FLIP of one subclass's training labels name another superclass;
- ``correlation``: an artefact (a small white patch, or dimmed pixels) is on CORRELATION_P of
  one superclass's training images and on 1 - CORRELATION_P of the others; at test it is on a
  random half of all images, independent of the class. The slice is that superclass's test
  images without the artefact;
- ``null``: clean training data, and the test failures are shuffled among the images of each
  superclass, so no image property predicts failure (counts false discoveries).

Everything is a function of the task's seed. Images are uint8 N x 28 x 28 arrays.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SUBCLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")
SUPERCLASSES = ("top", "footwear", "other")
SUPERCLASS_OF = np.array([0, 2, 0, 2, 0, 1, 0, 1, 2, 1])  # by subclass id
ARTEFACTS = ("patch", "dim")
FAMILIES = ("rare", "correlation", "noisy")

RARE_KEEP = 0.02
NOISY_FLIP = 0.6
CORRELATION_P = 0.95
TRAIN_SIZE = 12000


@dataclass(frozen=True)
class TaskSpec:
    """One task: its family, what it changes (a subclass id, or a superclass id and an artefact) and its seed."""

    family: str
    target: int = -1  # subclass (rare, noisy) or superclass (correlation); -1 for null
    artefact: str = ""
    seed: int = 0

    @property
    def name(self) -> str:
        if self.family == "null":
            return f"null-{self.seed}"
        if self.family == "correlation":
            return f"correlation-{SUPERCLASSES[self.target]}-{self.artefact}-{self.seed}"
        return f"{self.family}-{SUBCLASSES[self.target].replace('/', '-').replace(' ', '-').lower()}-{self.seed}"

    @property
    def description(self) -> str:
        if self.family == "rare":
            return f"{SUBCLASSES[self.target]} rare in training ({RARE_KEEP:.0%} kept)"
        if self.family == "noisy":
            return f"{NOISY_FLIP:.0%} of {SUBCLASSES[self.target]} training labels flipped"
        if self.family == "correlation":
            return f"'{self.artefact}' on {CORRELATION_P:.0%} of {SUPERCLASSES[self.target]} training images"
        return "no slice (failures shuffled within each superclass)"


def default_tasks(seed: int = 0) -> list[TaskSpec]:
    """10 rare + 10 noisy (one per subclass), 6 correlation (superclass x artefact), 6 null tasks."""
    tasks = [TaskSpec("rare", s, seed=seed) for s in range(len(SUBCLASSES))]
    tasks += [TaskSpec("correlation", c, a, seed=seed) for c in range(len(SUPERCLASSES)) for a in ARTEFACTS]
    tasks += [TaskSpec("noisy", s, seed=seed) for s in range(len(SUBCLASSES))]
    tasks += [TaskSpec("null", seed=seed + i) for i in range(6)]
    return tasks


def add_artefact(images: np.ndarray, artefact: str) -> np.ndarray:
    """A copy of ``images`` with the artefact: a 4 x 4 white patch in the top-left corner, or pixels at 45 %."""
    out = np.array(images, copy=True)
    if artefact == "patch":
        out[:, 1:5, 1:5] = 255
    elif artefact == "dim":
        out = np.round(out.astype(np.float32) * 0.45).astype(np.uint8)
    else:
        raise ValueError(f"unknown artefact {artefact!r} (choose from {', '.join(ARTEFACTS)})")
    return out


def _rng(spec: TaskSpec, part: int) -> np.random.Generator:
    family = ("null",) + FAMILIES
    artefact = ARTEFACTS.index(spec.artefact) + 1 if spec.artefact else 0
    return np.random.default_rng([spec.seed, family.index(spec.family), spec.target + 1, artefact, part])


def training_set(spec: TaskSpec, images: np.ndarray, subclass: np.ndarray, size: int = TRAIN_SIZE):
    """(images, superclass labels) the inspected model of ``spec`` is trained on."""
    rng = _rng(spec, 0)
    keep = np.ones(len(subclass), dtype=bool)
    if spec.family == "rare":
        target = np.flatnonzero(subclass == spec.target)
        keep[target] = rng.random(len(target)) < RARE_KEEP
    pool = np.flatnonzero(keep)
    rows = np.sort(rng.choice(pool, size=min(size, len(pool)), replace=False))
    x, sub = images[rows], subclass[rows]
    y = SUPERCLASS_OF[sub].copy()
    if spec.family == "noisy":
        target = np.flatnonzero(sub == spec.target)
        flip = target[rng.random(len(target)) < NOISY_FLIP]
        y[flip] = (y[flip] + 1 + rng.integers(0, len(SUPERCLASSES) - 1, len(flip))) % len(SUPERCLASSES)
    if spec.family == "correlation":
        p = np.where(y == spec.target, CORRELATION_P, 1 - CORRELATION_P)
        marked = rng.random(len(y)) < p
        x = x.copy()
        x[marked] = add_artefact(x[marked], spec.artefact)
    return x, y


@dataclass
class EvalSet:
    """The test split as the task presents it: which images carry the artefact, labels, the true slice, the fit/score halves."""

    artefact: np.ndarray  # bool per test image
    labels: np.ndarray  # superclass id
    subclass: np.ndarray
    in_slice: np.ndarray  # bool; all False for a null task
    fit: np.ndarray  # bool: the half the slicers are fitted on (the other half is scored)


def eval_set(spec: TaskSpec, subclass: np.ndarray) -> EvalSet:
    """The test images of ``spec`` (by subclass id of each test image) and their ground truth."""
    rng = _rng(spec, 1)
    n = len(subclass)
    labels = SUPERCLASS_OF[subclass]
    artefact = rng.random(n) < 0.5 if spec.family == "correlation" else np.zeros(n, dtype=bool)
    if spec.family in ("rare", "noisy"):
        in_slice = subclass == spec.target
    elif spec.family == "correlation":
        in_slice = (labels == spec.target) & ~artefact
    else:
        in_slice = np.zeros(n, dtype=bool)
    # Halves stratified by subclass and artefact, so both hold the slice in the same proportion.
    fit = np.zeros(n, dtype=bool)
    strata = subclass * 2 + artefact
    for s in np.unique(strata):
        rows = rng.permutation(np.flatnonzero(strata == s))
        fit[rows[: len(rows) // 2]] = True
    return EvalSet(artefact, labels, subclass, in_slice, fit)


def shuffle_failures(labels: np.ndarray, probs: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Predicted probabilities permuted among the rows of each label: the failure rate per label stays, any structure goes."""
    out = probs.copy()
    for c in np.unique(labels):
        rows = np.flatnonzero(labels == c)
        out[rows] = probs[rng.permutation(rows)]
    return out
