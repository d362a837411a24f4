"""A judge metric measured against the run's human raters: its calibration per criterion, recorded on each
`JudgeResult` whenever ratings are imported, and read by the gates on judge metrics and by the report."""
from harness.common.lazy import lazy_exports

__getattr__, __dir__ = lazy_exports(__name__, {
    "assemble": ["attach_calibration", "calibrate", "output_lengths", "self_judged"],
})
