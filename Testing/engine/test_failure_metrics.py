"""The failure-detection benchmark's metrics (benchmarks/trust/fd_metrics.py) against hand computations."""
import sys

import numpy as np
import pytest
from conftest import ROOT

sys.path.insert(0, str(ROOT / "benchmarks" / "trust"))
from fd_metrics import Logistic, aurc, auroc, sens_spec, spearman, threshold_at_specificity  # noqa: E402


def test_aurc_is_the_mean_selective_risk_over_coverages():
    score = np.array([0.1, 0.4, 0.2, 0.9])
    risk = np.array([0.0, 0.5, 0.1, 1.0])
    # kept in score order: risks 0, 0.1, 0.5, 1 → selective risks 0, 0.05, 0.2, 0.4
    assert aurc(score, risk) == pytest.approx((0 + 0.05 + 0.2 + 0.4) / 4)
    assert aurc(-score, risk) > aurc(score, risk)          # the reversed ranking is worse


def test_auroc_spearman_and_flag_rates():
    score = np.array([0.9, 0.5, 0.5, 0.1])
    failed = np.array([True, True, False, False])
    # pairs (failed, good): (0.9, 0.5) 1, (0.9, 0.1) 1, (0.5, 0.5) 0.5, (0.5, 0.1) 1 → 3.5 / 4
    assert auroc(score, failed) == pytest.approx(0.875)
    assert auroc(score, np.zeros(4, bool)) is None
    assert spearman(np.array([1, 2, 3, 4.0]), np.array([4, 3, 2, 1.0])) == pytest.approx(-1.0)
    assert sens_spec(score > 0.4, failed) == (1.0, 0.5)
    good = np.arange(10.0)
    assert threshold_at_specificity(good, np.zeros(10, bool), 0.9) == 8.0   # 9 of 10 at or below


def test_logistic_separates_a_separable_set():
    x = np.array([[0.0], [1.0], [2.0], [3.0]])
    y = np.array([0.0, 0.0, 1.0, 1.0])
    s = Logistic(l2=0.1).fit(x, y).score(x)
    assert np.all(np.diff(s) > 0) and s[1] < 0 < s[2]


def test_the_default_flag_is_chosen_among_scores_within_the_time_budget_of_the_slowest_case():
    """Issue 26: the default path's added time ≤ 10 % of a segmentation, for the slowest case too, in
    CPU seconds; the feature distances drop out of the choice when only their encoder pass breaks it."""
    from fd_report import DEFAULT_PATH, FEATURE_SCORES, in_budget, time_shares

    def case(seg, scores, features):
        return {"seconds": {"total": 9.0, "tta": 5.0, "scores": 9.0, "features": 9.0,   # wall: ignored
                            "cpu": {"segmentation": seg, "scores": scores, "features": features}}}

    cheap = [case(1.0, 0.05, 0.03), case(2.0, 0.1, 0.08)]
    t = time_shares(cheap)
    np.testing.assert_allclose(t["all"], [0.05, 0.05])
    np.testing.assert_allclose(t["no_features"], [0.02, 0.01])
    assert in_budget(cheap) == set(DEFAULT_PATH)
    slow_features = cheap + [case(0.5, 0.08, 0.05)]        # 16 % with the feature pass, 6 % without
    assert in_budget(slow_features) == set(DEFAULT_PATH) - set(FEATURE_SCORES)
    assert in_budget(slow_features + [case(0.5, 0.2, 0.05)]) == set()
    np.testing.assert_allclose(time_shares(cheap, "wall")["all"], [2.25, 2.25])   # 9 s of 9 − 5 s
