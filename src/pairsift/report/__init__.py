"""``pairsift report``: one self-contained HTML page of a run's scores, selections and samples."""

from pairsift.report.build import ReportSummary, build_report
from pairsift.report.config import ReportConfig

__all__ = ["ReportConfig", "ReportSummary", "build_report"]
