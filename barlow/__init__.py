"""Barlow's application layer: the ``barlow`` command, its subcommands, the demo and ``reproduce``.

It sits above two libraries that never import it: :mod:`analysis_core` (models, data,
features, failure trees, visualization, experiments) and :mod:`study` (crowd studies).
The libraries meet only at :mod:`analysis_core.artifacts`, the files one step hands to the next.
"""

from analysis_core import __version__

__all__ = ["__version__"]
