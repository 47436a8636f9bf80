"""Models: a uniform interface returning logits, penultimate features and the spatial map.

``load_model(spec)`` builds any supported model; ``SmallCNN`` is the small 28 x 28 network
the shipped Fashion-MNIST models use.
"""

from analysis_core.models.base import FeatureModel, ModelOutput
from analysis_core.models.checkpoint import load_checkpoint, save_checkpoint
from analysis_core.models.loading import SPEC_HELP, load_model
from analysis_core.models.small_cnn import SmallCNN

__all__ = ["FeatureModel", "ModelOutput", "SmallCNN", "SPEC_HELP", "load_checkpoint", "load_model", "save_checkpoint"]
