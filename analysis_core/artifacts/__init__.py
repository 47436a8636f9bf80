"""The files Barlow's steps hand to each other, each with one typed reader and writer.

Every other module reads and writes these files through this package, so that a file's
layout, its column and key names and its validation live in one place:

- :mod:`.extraction`: ``features.npy``, ``metadata.csv``, ``manifest.json`` (``barlow extract``)
- :mod:`.trees`: ``trees.json`` with typed groups and nodes (``barlow analyze``)
- :mod:`.tables`: ``failure_modes.csv`` and ``skipped.csv`` (``barlow analyze``)
- :mod:`.scores`: ``failure_scores.csv``, per-image membership in each failure mode (``barlow analyze``)
- :mod:`.analysis_folder`: an analysis folder and the extraction it points to
- :mod:`.visualization_index`: ``visualizations/index.json`` and the slug/key names in it
- :mod:`.descriptions`: ``feature_descriptions.csv``
- :mod:`.study_folder`: where a study keeps ``study.yaml``, ``hits.csv``, images and database
- :mod:`.study_items`: a study's ``items.csv`` (both study kinds; also ``study create --items``)
- :mod:`.review_file`: a failure-review study's ``review.json``
- :mod:`.judgements`: ``failure_judgements.csv`` (``barlow study analyze`` -> ``barlow report``)

Beside the files: :mod:`.parameters` (every default and range check of the library and the
command line), :mod:`.options`, :mod:`.errors`, :mod:`.atomic`, :mod:`.json_files`,
:mod:`.csv_records` (typed rows of small CSV files, errors naming line and column).

The package imports only NumPy, pandas and the standard library (never torch), so the
report and the study side start fast.
"""

from analysis_core.artifacts.analysis_folder import (
    FAILURE_MODES_FILE,
    SKIPPED_FILE,
    TREES_FILE,
    VISUALIZATIONS_DIR,
    AnalysisFolder,
    write_analysis_files,
)
from analysis_core.artifacts.descriptions import DESCRIPTIONS_FILE, FeatureDescription, read_descriptions, write_descriptions
from analysis_core.artifacts.extraction import (
    FEATURES_FILE,
    MANIFEST_FILE,
    METADATA_FILE,
    Extraction,
    FeatureTable,
    class_name,
    load_feature_table,
    load_features,
    load_metadata,
    read_manifest,
    validate_features,
    write_manifest,
    write_metadata,
)
from analysis_core.artifacts.scores import FAILURE_SCORES_FILE, read_failure_scores, write_failure_scores
from analysis_core.artifacts.judgements import JUDGEMENTS_FILE, FailureJudgement, read_judgements, write_judgements
from analysis_core.artifacts.review_file import REVIEW_FILE, ReviewDocument, read_review, write_review
from analysis_core.artifacts.study_folder import StudyFolder
from analysis_core.artifacts.study_items import StudyItem, read_items, write_items
from analysis_core.artifacts.tables import read_failure_modes, read_skipped, write_failure_modes, write_skipped
from analysis_core.artifacts.trees import GroupTree, SelectedFeature, TreeNode, TreesDocument, read_trees, write_trees
from analysis_core.artifacts.visualization_index import (
    INDEX_FILE,
    VisualizationIndex,
    group_key,
    group_slugs,
    leaf_key,
    read_visualization_index,
    slugify,
    write_visualization_index,
)

__all__ = [
    "DESCRIPTIONS_FILE",
    "FAILURE_MODES_FILE",
    "FAILURE_SCORES_FILE",
    "FEATURES_FILE",
    "INDEX_FILE",
    "JUDGEMENTS_FILE",
    "MANIFEST_FILE",
    "METADATA_FILE",
    "REVIEW_FILE",
    "SKIPPED_FILE",
    "TREES_FILE",
    "VISUALIZATIONS_DIR",
    "AnalysisFolder",
    "Extraction",
    "FailureJudgement",
    "FeatureDescription",
    "FeatureTable",
    "GroupTree",
    "ReviewDocument",
    "SelectedFeature",
    "StudyFolder",
    "StudyItem",
    "TreeNode",
    "TreesDocument",
    "VisualizationIndex",
    "class_name",
    "group_key",
    "group_slugs",
    "leaf_key",
    "load_feature_table",
    "load_features",
    "load_metadata",
    "read_descriptions",
    "read_failure_modes",
    "read_failure_scores",
    "read_items",
    "read_judgements",
    "read_manifest",
    "read_review",
    "read_skipped",
    "read_trees",
    "read_visualization_index",
    "slugify",
    "validate_features",
    "write_analysis_files",
    "write_descriptions",
    "write_failure_modes",
    "write_failure_scores",
    "write_items",
    "write_judgements",
    "write_manifest",
    "write_metadata",
    "write_review",
    "write_skipped",
    "write_trees",
    "write_visualization_index",
]
