"""The statistics of human ratings, as the core computes and records them."""
from __future__ import annotations

import json

import krippendorff
import numpy as np
import pytest

from harness.evaluation.ratings import record_ratings
from harness.stats.agreement import (
    alpha_interval,
    alpha_of_resamples,
    kappa_interval,
    kappa_of_resamples,
    pairable,
    resample_counts,
)
from harness.stats.methods import bootstrap_ci, cohen_kappa, reliability, sign_test_p, wilcoxon_p, wilson_ci
from harness.stats.methods import krippendorff_alpha as alpha
from reports.sheets import export_sheets, import_ratings, sheets_status

from .test_sheets_support import fill_csv, key_items, prefers_tuned, run_dir, varied  # noqa: F401


def test_cohen_kappa_against_hand_computed_values():
    # 2×2 table [[20, 5], [10, 15]]: observed agreement 0.7, chance 0.5 → 0.4 (weights don't matter with two categories)
    a = [0] * 25 + [1] * 25
    b = [0] * 20 + [1] * 5 + [0] * 10 + [1] * 15
    assert cohen_kappa(a, b, [0, 1], quadratic=False) == pytest.approx(0.4)
    assert cohen_kappa(a, b, [0, 1], quadratic=True) == pytest.approx(0.4)
    # three categories, one near miss: Σw·O = 1/12, Σw·E = 3.75/9 (by hand) → 1 − 0.2
    assert cohen_kappa([1, 2, 3], [1, 3, 3], [1, 2, 3], quadratic=True) == pytest.approx(0.8)
    # quadratic kappa equals 2·cov / (var_a + var_b + (mean_a − mean_b)²) with population moments
    rng = np.random.default_rng(1)
    a, b = rng.integers(1, 6, 200), rng.integers(1, 6, 200)
    b[:120] = a[:120]
    expected = 2 * np.cov(a, b, bias=True)[0, 1] / (a.var() + b.var() + (a.mean() - b.mean()) ** 2)
    assert cohen_kappa(a, b, [1, 2, 3, 4, 5], quadratic=True) == pytest.approx(expected)
    assert cohen_kappa([1, 2, 3], [1, 3, 3], [1, 2, 3], quadratic=False) == pytest.approx(0.5)
    assert cohen_kappa([2, 2], [2, 2], [1, 2, 3], quadratic=True) is None  # no variation: undefined


def test_wilcoxon_handles_all_zero_and_empty_differences():
    assert wilcoxon_p([0, 0, 0]) == 1.0
    assert wilcoxon_p([]) is None
    assert wilcoxon_p([4] * 10) == pytest.approx(2 / 2**10)


def test_intervals_and_sign_test():
    rng = np.random.default_rng(0)
    assert bootstrap_ci([3], rng) == (3.0, 3.0) and bootstrap_ci([], rng) is None
    lo, hi = bootstrap_ci([1, 2, 3, 4, 5] * 4, rng)
    assert lo < 3 < hi
    assert wilson_ci(10, 10)[1] == 1.0 and wilson_ci(0, 10)[0] == 0.0 and wilson_ci(0, 0) is None
    lo, hi = wilson_ci(5, 10)
    assert lo == pytest.approx(0.2366, abs=1e-3) and hi == pytest.approx(0.7634, abs=1e-3)
    assert sign_test_p(0, 0) is None and sign_test_p(5, 5) == 1.0


def test_alpha_is_undefined_without_pairs_or_variation():
    nan = np.nan
    assert alpha([[1, 2, 3]], "ordinal", range(1, 6)) is None  # one rater
    assert alpha([[1, nan], [nan, 2]], "ordinal", range(1, 6)) is None  # no item rated twice
    assert alpha([[3, 3], [3, 3]], "ordinal", range(1, 6)) is None  # nothing varies
    assert alpha([[1, 2, 5], [1, 2, 5]], "ordinal", range(1, 6)) == 1.0
    assert [reliability(v) for v in (0.9, 0.8, 0.7, 0.5, None)] == ["reliable", "reliable", "tentative", "unreliable", None]


def _matrix(rng, level: str, raters: int, items: int, k: int) -> np.ndarray:
    """Raters who agree on the first half of the items and guess on the rest; a fifth of the cells unrated."""
    m = rng.integers(0, k, (raters, items)).astype(float)
    m[:, : items // 2] = m[0, : items // 2]
    m[rng.random((raters, items)) < 0.2] = np.nan
    return m


@pytest.mark.parametrize("level, raters, k", [("ordinal", 2, 5), ("ordinal", 3, 5), ("nominal", 3, 4),
                                              ("interval", 2, 5)])
def test_every_bootstrap_alpha_equals_the_krippendorff_package(level, raters, k):
    rng = np.random.default_rng(7)
    matrix = _matrix(rng, level, raters, 40, k)
    data = pairable(matrix)
    counts = resample_counts(data.shape[1], rng, 60)
    assert (counts.sum(axis=1) == data.shape[1]).all()
    ours = alpha_of_resamples(data, level, range(k), counts)
    for row, value in zip(counts, ours):
        resampled = data[:, np.repeat(np.arange(data.shape[1]), row)]
        assert value == pytest.approx(krippendorff.alpha(reliability_data=resampled, level_of_measurement=level,
                                                         value_domain=list(range(k))), abs=1e-12)
    # Every item drawn once is the sample itself.
    (whole,) = alpha_of_resamples(data, level, range(k), np.ones((1, data.shape[1]), dtype=int))
    assert whole == pytest.approx(alpha(matrix, level, range(k)), abs=1e-12)
    low, high = alpha_interval(matrix, level, range(k), np.random.default_rng(0))
    assert low < alpha(matrix, level, range(k)) < high


@pytest.mark.parametrize("quadratic", [True, False])
def test_every_bootstrap_kappa_equals_cohen_kappa(quadratic):
    rng = np.random.default_rng(3)
    a = rng.integers(1, 6, 60)
    b = a.copy()
    b[:25] = rng.integers(1, 6, 25)
    counts = resample_counts(60, rng, 60)
    for row, value in zip(counts, kappa_of_resamples(a, b, [1, 2, 3, 4, 5], quadratic, counts)):
        assert value == pytest.approx(cohen_kappa(np.repeat(a, row), np.repeat(b, row), [1, 2, 3, 4, 5], quadratic))
    low, high = kappa_interval(a, b, [1, 2, 3, 4, 5], quadratic, np.random.default_rng(0))
    assert low < cohen_kappa(a, b, [1, 2, 3, 4, 5], quadratic) < high


def test_agreement_intervals_at_the_edges():
    rng = np.random.default_rng(0)
    same = np.array([[1, 2, 5, 3], [1, 2, 5, 3]], dtype=float)
    assert alpha_interval(same, "ordinal", range(1, 6), rng) == (1.0, 1.0)  # perfect agreement in every resample
    assert kappa_interval([1, 2, 5, 3], [1, 2, 5, 3], range(1, 6), True, rng) == (1.0, 1.0)
    assert alpha_interval([[1, np.nan], [np.nan, 2]], "ordinal", range(1, 6), rng) is None  # no item rated twice
    assert alpha_interval([[3, 3], [3, 3]], "ordinal", range(1, 6), rng) is None  # nothing varies, ever
    assert kappa_interval([], [], range(1, 6), True, rng) is None


def test_disagreeing_raters_raise_a_warning(run_dir, tmp_path):
    done = export_sheets(run_dir, per_suite=5, raters=["r1", "r2"], formats=["csv"])
    items = key_items(run_dir)
    opposite = lambda item, row: str(6 - int(varied(item, row))) if item["kind"] == "pointwise" else "B"  # noqa: E731
    import_ratings(run_dir, [fill_csv(done.folder / "pointwise-r1.csv", tmp_path / "a.csv", varied, items),
                             fill_csv(done.folder / "pointwise-r2.csv", tmp_path / "b.csv", opposite, items)])
    summary = record_ratings(run_dir)
    scores = summary.agreement.scores
    assert scores.alpha < 0 and scores.reliability == "unreliable" and scores.kappa < 0
    assert scores.warning and "0.667" in scores.warning and summary.warnings == [scores.warning]
    assert set(scores.by_criterion) == {"helpfulness", "correctness", "fluency", "adequacy"}
    assert summary.agreement.preferences is None and summary.preferences == []


def test_ties_and_both_bad_count_half(run_dir, tmp_path):
    done = export_sheets(run_dir, per_suite=8, raters=["r1", "r2", "r3"], formats=["csv"])
    items = key_items(run_dir)
    import_ratings(run_dir, [fill_csv(done.folder / f"pairwise-lora-{r}.csv", tmp_path / f"{r}.csv", answer, items)
                             for r, answer in (("r1", varied), ("r2", varied), ("r3", prefers_tuned))])
    summary = record_ratings(run_dir)
    (pref,) = summary.preferences
    assert pref.n == 48 and pref.wins + pref.ties + pref.losses + pref.both_bad == 48
    assert pref.win_rate == pytest.approx((pref.wins + (pref.ties + pref.both_bad) / 2) / 48)
    assert pref.ci_low < pref.win_rate < pref.ci_high
    agree = summary.agreement.preferences
    assert agree.level_of_measurement == "nominal" and agree.raters == 3 and agree.kappa is None
    assert agree.alpha is not None and agree.alpha < 1
    assert summary.scores == [] and summary.differences == []


def test_status_before_and_after(run_dir, tmp_path):
    status = sheets_status(run_dir)
    assert not status["exported"] and "no rating sheets exported yet" in status["message"]
    done = export_sheets(run_dir, per_suite=2, raters=["r1"], formats=["csv", "html"])
    status = sheets_status(run_dir)
    assert status["exported"] and status["n_ratings"] == 0
    assert status["message"] == f"no ratings imported yet; sheets are in {done.folder}"
    (export,) = status["exports"]
    assert sorted(export["files"]) == sorted(p.relative_to(run_dir).as_posix() for p in done.files)
    (done.folder / "pointwise-r1.html").unlink()
    assert sheets_status(run_dir)["exports"][0]["missing"] == [f"sheets/{done.folder.name}/pointwise-r1.html"]
    import_ratings(run_dir, [fill_csv(done.folder / "pointwise-r1.csv", tmp_path / "a.csv", varied, key_items(run_dir))])
    assert sheets_status(run_dir)["message"] == "20 ratings from 1 rater(s) imported"
    summary = record_ratings(run_dir)
    json.dumps(summary.model_dump(mode="json"))
    assert summary.agreement.scores.note == "one rater: agreement needs at least two"
    assert summary.scores_by_suite[0].suite == "agent_tools"


def test_summary_is_reproducible(run_dir, tmp_path):
    done = export_sheets(run_dir, per_suite=5, raters=["r1"], formats=["csv"])
    import_ratings(run_dir, [fill_csv(done.folder / "pointwise-r1.csv", tmp_path / "a.csv", varied, key_items(run_dir))])
    assert record_ratings(run_dir) == record_ratings(run_dir)


def test_report_shows_the_ratings(run_dir, tmp_path):
    from reports import render_report

    assert "No human ratings imported yet" in render_report(run_dir).read_text(encoding="utf-8")
    done = export_sheets(run_dir, per_suite=6, raters=["r1", "r2"], formats=["csv"])
    items = key_items(run_dir)
    import_ratings(run_dir, [fill_csv(done.folder / f"pairwise-lora-{r}.csv", tmp_path / f"{r}.csv", prefers_tuned, items)
                             for r in ("r1", "r2")])
    (pref,) = record_ratings(run_dir).preferences
    html = render_report(run_dir).read_text(encoding="utf-8")
    assert pref.win_rate == 1.0
    assert "A/B preferences" in html and "lora vs base" in html and "1.00" in html and "Krippendorff" in html
