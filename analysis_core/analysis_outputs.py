"""Former name of :mod:`analysis_core.failure_analysis_outputs`, kept so that code written against it runs."""

from analysis_core.failure_analysis_outputs import format_summary, skipped_table, trees_document, write_analysis  # noqa: F401
