"""Former name of :mod:`analysis_core.failure_analysis`, kept so that code written against it runs.

"analysis" named three things (this module, the analysis output folder and the crowd-study
analysis in ``study.analysis``); the failure analysis now lives in
``analysis_core.failure_analysis``. Import from there in new code.
"""

from analysis_core.failure_analysis import (  # noqa: F401  (re-exported)
    FAILURE_MODE_COLUMNS,
    GROUPING_CHOICES,
    GROUPINGS,
    HOLDOUT_COLUMNS,
    AnalysisConfig,
    AnalysisResult,
    GroupResult,
    SkippedGroup,
    analyze_files,
    config_dict,
    failure_modes_table,
    run_analysis,
)
