"""What an extraction's manifest says about its features' origin, for the summaries that describe them.

A ``torchvision:ARCH`` spec without a weights file runs on random weights (useful for plumbing
tests only). Its features are not robust features, so ``barlow analyze`` and ``barlow report``
must not present failure modes found in them as if they were. Torch-free: the report uses it.
"""

from __future__ import annotations

RANDOM_WEIGHTS = "random initialization"  # the warning models/loading.py records in model.source


def random_weights(manifest: dict) -> bool:
    """True when the features model of this extraction ran with random (untrained) weights."""
    if manifest.get("features_random_weights"):
        return True
    checkpoint = (manifest.get("checkpoints") or {}).get("features_model") or {}
    return checkpoint.get("warning") == RANDOM_WEIGHTS


def random_weights_warning(manifest: dict) -> str | None:
    """The sentence summaries print instead of calling the features robust, or None."""
    if not random_weights(manifest):
        return None
    return (
        f"WARNING: these features come from {manifest.get('features_model') or 'a model'} with RANDOM weights "
        "(no weights file): they are not robust features, and the failure modes below describe an "
        "untrained network, not your model's failures."
    )
