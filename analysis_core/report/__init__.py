"""The failure report: an HTML page per group over an analysis folder, with an index."""

from analysis_core.report.context import ReportData, load_report_data, summary_paragraph
from analysis_core.report.render import build_report, write_report

__all__ = ["ReportData", "build_report", "load_report_data", "summary_paragraph", "write_report"]
