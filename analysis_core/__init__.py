"""Barlow's analysis side: models, data, robust features, failure trees, visualization."""

__version__ = "0.1.0"
