"""The statistics: intervals, paired tests and agreement (`methods`), bootstrap intervals of agreement
(`agreement`), a judge measured against human raters (`calibration`), and comparisons of two states'
predictions on one metric, chosen by the metric's declared kind (`compare`)."""
from harness.common.lazy import lazy_exports

__getattr__, __dir__ = lazy_exports(__name__, {
    "agreement": ["alpha_interval", "kappa_interval"],
    "calibration": ["flip_share", "judge_agreement", "length_bias", "spearman", "to_scale", "verdict"],
    "compare": ["compare", "compare_across_seeds", "finalize", "value_interval"],
    "methods": ["bootstrap_ci", "cohen_kappa", "krippendorff_alpha", "reliability", "sign_test_p", "wilcoxon_p",
                "wilson_ci"],
})
