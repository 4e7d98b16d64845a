import itertools
import math

import numpy as np
import pytest
from scipy import stats

from isac_ae import Scenario
from isac_ae.baselines import BaselineSystem
from isac_ae.evaluation import clopper_pearson, evaluate, h0_scores, pareto_front, threshold_for_pfa

from .helpers import Z


@pytest.mark.parametrize("pfa", [1e-2, 1e-1])
def test_empirical_pfa_within_binomial_bounds(pfa):
    sc = Scenario(pfa=pfa)
    n = 100_000
    result = evaluate(BaselineSystem(sc, 0.5, 0.0), n, seed=11)
    absent = n - result.targets
    # The threshold is itself estimated from n H0 snapshots: its exceedance
    # probability has variance ~ pfa (1 - pfa) / n, added to the test's own.
    tol = Z * math.sqrt(pfa * (1 - pfa) * (1 / absent + 1 / n))
    assert abs(result.pfa - pfa) < tol
    assert result.pfa_ci_low <= result.pfa <= result.pfa_ci_high


def test_threshold_rule_never_exceeds_pfa_on_its_own_set(rng):
    h0 = rng.exponential(size=10_001)
    for pfa in (1e-3, 1e-2, 0.37):
        thr = threshold_for_pfa(h0, pfa)
        assert np.mean(h0 > thr) <= pfa
        assert np.mean(h0 >= thr) > pfa  # and is the smallest such threshold


def test_h0_scores_do_not_depend_on_the_beam():
    sc = Scenario()
    a = h0_scores(BaselineSystem(sc, 1.0, 0.0), 5000, seed=4)
    b = h0_scores(BaselineSystem(sc, 0.0, 1.0), 5000, seed=4)
    np.testing.assert_array_equal(a, b)


def test_clopper_pearson_matches_scipy():
    for k, n in ((0, 50), (3, 1000), (500, 1000), (1000, 1000)):
        ref = stats.binomtest(k, n).proportion_ci(0.95, method="exact")
        assert clopper_pearson(k, n) == pytest.approx((ref.low, ref.high), abs=1e-12)


def test_pareto_front_against_brute_force(rng):
    ser, pd = rng.random(60), rng.random(60)
    pd[5] = np.nan
    front = pareto_front(ser, pd, larger_is_better=True)
    for i in range(60):
        dominated = any(
            ser[j] <= ser[i] and pd[j] >= pd[i] and (ser[j] < ser[i] or pd[j] > pd[i])
            for j in range(60) if not np.isnan(pd[j])
        )
        assert front[i] == (not dominated and not np.isnan(pd[i]))
    rmse_front = pareto_front(ser, -pd, larger_is_better=False)
    np.testing.assert_array_equal(front, rmse_front)


def test_trade_off_ends_behave_as_the_paper_says():
    """rho = 1 (radar beam) detects best; rho = 0 (comm beam) communicates best."""
    sc = Scenario()
    radar, comm = (evaluate(BaselineSystem(sc, rho, 0.0), 50_000, seed=2) for rho in (1.0, 0.0))
    assert radar.pd > comm.pd + 0.3 and radar.rmse_deg < comm.rmse_deg
    assert comm.ser < radar.ser / 5


def test_same_seed_same_result():
    sc = Scenario()
    a, b = (evaluate(BaselineSystem(sc, 0.3, 1.0), 20_000, seed=8).to_dict() for _ in range(2))
    assert a == b
    with pytest.raises(ValueError, match="samples"):
        evaluate(BaselineSystem(sc, 0.3, 1.0), 0, seed=8)
