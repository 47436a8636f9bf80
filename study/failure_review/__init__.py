"""The failure-review study kind (paper section 9): people judge failure modes, not features.

Each HIT shows one failure mode (a valid leaf of a failure tree; or a group's whole tree,
the practitioner protocol) and asks what the failures have in common, whether the feature
behind it is part of the main object, a separate object or the background (core or
spurious), how confident the reviewer is and which action items they would take; a
survey closes each reviewer's session.
"""

from analysis_core.artifacts.review_file import REVIEW_KIND as KIND

__all__ = ["KIND"]
