"""The engine's speed paths give the same numbers as the plain computation: the converged
mode reaches the root of the estimating equation, the common-effect Q reused by DL and HS
is the one a separate fit gives, and the bracket that spares Paule-Mandel its medians is an
upper bound on the median absolute deviation."""
import numpy as np
import pytest
from scipy.optimize import brentq

from analysis.engine.meta_analysis import meta_analysis
from analysis.engine import tau2
from analysis.engine.tau2 import estimate_tau2


def _data(k, seed=7):
    rng = np.random.default_rng(seed)
    v = rng.uniform(0.005, 0.2, k)
    return rng.normal(0.3, np.sqrt(v + 0.04)), v


def _reml_score(y, v, t):
    w = 1 / (v + t)
    r = y - (w * y).sum() / w.sum()
    return (w * w * r * r).sum() - (w.sum() - (w * w).sum() / w.sum())


def _pm_equation(y, v, t):
    w = 1 / (v + t)
    return (w * (y - (w * y).sum() / w.sum()) ** 2).sum() - (y.size - 1)


@pytest.mark.parametrize("k", [5, 40, 3000])
def test_converged_mode_reaches_the_root(k):
    y, v = _data(k)
    reml, pm = (brentq(f, 0, 10, xtol=1e-15, rtol=1e-15) if f(0) > 0 else 0.0
                for f in (lambda t: _reml_score(y, v, t), lambda t: _pm_equation(y, v, t)))
    assert k < 10 or min(reml, pm) > 0  # the larger sets test an interior root
    assert estimate_tau2(y, v, "REML", converged=True) == pytest.approx(reml, abs=1e-11)
    assert estimate_tau2(y, v, "PM", converged=True) == pytest.approx(pm, abs=1e-11)
    # the default stops where metafor stops: the same value as before, not the converged one
    assert estimate_tau2(y, v, "PM") == estimate_tau2(y, v, "PM", tol=np.finfo(float).eps ** 0.25)
    res = meta_analysis(y, v, method="REML", converged=True)
    assert res.tau2 == pytest.approx(reml, abs=1e-11)


@pytest.mark.parametrize("method", ["DL", "HS"])
def test_reused_common_effect_q_equals_a_separate_fit(method):
    y, v = _data(25)
    res, fe = meta_analysis(y, v, method=method), meta_analysis(y, v, method="FE")
    assert res.q == fe.q and res.q_pval == fe.q_pval and res.typical_vi == fe.typical_vi


@pytest.mark.parametrize("k", [2, 3, 4, 5, 10, 11, 1000, 1001])
def test_half_range_bounds_the_median_absolute_deviation(k):
    rng = np.random.default_rng(k)
    for _ in range(200):
        y = rng.standard_cauchy(k) if k % 2 else rng.exponential(size=k)
        raw_mad = np.median(np.abs(y - np.median(y)))
        assert raw_mad <= tau2._half_range_bound(y)
