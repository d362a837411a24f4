"""The data report made before tuning: token lengths and truncation per backend, label balance, near duplicates
and train/test overlap, and its terminal text (`harness data check`)."""
from harness.common.lazy import lazy_exports

__getattr__, __dir__ = lazy_exports(__name__, {"report": ["data_report"], "text": ["exit_status", "report_lines"]})
