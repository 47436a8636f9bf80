import numpy as np
import pytest

from slice_discovery.tasks import (
    CORRELATION_P, NOISY_FLIP, RARE_KEEP, SUPERCLASS_OF, TaskSpec, add_artefact, default_tasks, eval_set,
    shuffle_failures, training_set,
)


def _images(n_per_class=400, seed=0):
    rng = np.random.default_rng(seed)
    subclass = np.repeat(np.arange(10), n_per_class)
    images = rng.integers(0, 200, (len(subclass), 28, 28), dtype=np.uint8)
    return images, subclass


def test_default_tasks_cover_three_families_and_null_tasks_with_unique_names():
    tasks = default_tasks()
    families = [t.family for t in tasks]
    assert families.count("null") >= 6
    assert len(tasks) - families.count("null") >= 24
    assert {"rare", "correlation", "noisy"} <= set(families)
    assert len({t.name for t in tasks}) == len(tasks)


def test_rare_task_keeps_only_a_small_share_of_the_subclass():
    images, subclass = _images()
    images[:, 0, 0] = subclass  # recover each drawn image's subclass from its first pixel
    spec = TaskSpec("rare", target=8, seed=3)
    x, y = training_set(spec, images, subclass, size=len(subclass))
    drawn = x[:, 0, 0]
    assert 0 < (drawn == 8).sum() <= 3 * RARE_KEEP * 400
    assert (drawn == 3).sum() == 400
    assert np.array_equal(y, SUPERCLASS_OF[drawn])
    assert np.array_equal(training_set(spec, images, subclass, size=len(subclass))[0], x)  # seeded


def test_noisy_task_flips_labels_of_one_subclass_only():
    images, subclass = _images()
    spec = TaskSpec("noisy", target=7, seed=0)
    images[:, 0, 0] = subclass
    x, y = training_set(spec, images, subclass, size=len(subclass))
    drawn = x[:, 0, 0]
    wrong = y != SUPERCLASS_OF[drawn]
    assert set(np.unique(drawn[wrong])) == {7}
    assert abs(wrong[drawn == 7].mean() - NOISY_FLIP) < 0.1


def test_correlation_task_marks_the_superclass_in_training_and_half_of_all_images_at_test():
    images, subclass = _images()
    images[:, 1:5, 1:5] = 0
    spec = TaskSpec("correlation", target=1, artefact="patch", seed=0)
    x, y = training_set(spec, images, subclass, size=len(subclass))
    marked = (x[:, 1:5, 1:5] == 255).all(axis=(1, 2))
    assert abs(marked[y == 1].mean() - CORRELATION_P) < 0.05
    assert abs(marked[y != 1].mean() - (1 - CORRELATION_P)) < 0.05
    ev = eval_set(spec, subclass)
    assert abs(ev.artefact.mean() - 0.5) < 0.05
    assert np.array_equal(ev.in_slice, (SUPERCLASS_OF[subclass] == 1) & ~ev.artefact)


def test_eval_halves_split_every_subclass_evenly():
    _, subclass = _images(n_per_class=101)
    ev = eval_set(TaskSpec("rare", target=2, seed=1), subclass)
    for s in range(10):
        assert abs(ev.fit[subclass == s].sum() - 50.5) <= 1
    assert np.array_equal(ev.in_slice, subclass == 2)


def test_null_task_has_no_slice_and_keeps_each_labels_failure_rate():
    _, subclass = _images(n_per_class=50)
    ev = eval_set(TaskSpec("null", seed=0), subclass)
    assert not ev.in_slice.any()
    rng = np.random.default_rng(0)
    probs = rng.dirichlet([1, 1, 1], len(subclass))
    shuffled = shuffle_failures(ev.labels, probs, rng)
    for c in range(3):
        rows = ev.labels == c
        assert (shuffled[rows].argmax(1) != c).sum() == (probs[rows].argmax(1) != c).sum()
    assert not np.array_equal(shuffled, probs)


def test_unknown_artefact_is_refused():
    with pytest.raises(ValueError, match="unknown artefact"):
        add_artefact(np.zeros((1, 28, 28), np.uint8), "blur")
