"""Small-study effects: Egger's regression test (Egger et al. 1997, BMJ 315:629-634; metafor
``regtest()``), Begg & Mazumdar's rank correlation (1994, Biometrics 50:1088-1101;
``ranktest()``), PET-PEESE (Stanley & Doucouliagos 2014, Res Synth Methods 5:60-78) and
contour-enhanced funnel plot data (Peters et al. 2008, J Clin Epidemiol 61:991-996).

The Cochrane Handbook (v6.3, sec. 13.3.5.4) advises against these tests with fewer than 10
studies: they still run, but the result says ``k_sufficient = False`` and a warning is issued.
Trim-and-fill is in :mod:`analysis.engine.trim_and_fill`.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from .batched_fits import fit_one
from .checks import check_method
from .sensitivity_checks import (COMMON_EFFECT_METHODS, SENSITIVITY_METHODS, check_sensitivity_test,
                                 require_k, validate_studies)
from .tau2 import DEFAULT_MAXITER, DEFAULT_THRESHOLD

if TYPE_CHECKING:  # pandas and scipy load only inside the functions that use them
    import pandas as pd

__all__ = [
    "MIN_K_SMALL_STUDY_TESTS",
    "egger_test",
    "EggerResult",
    "begg_test",
    "BeggResult",
    "pet_peese",
    "PetPeeseResult",
    "funnel_contours",
]

# Cochrane Handbook v6.3 sec. 13.3.5.4: tests for funnel plot asymmetry need at least 10 studies.
MIN_K_SMALL_STUDY_TESTS = 10


def _small_k_warning(k: int, what: str) -> bool:
    sufficient = k >= MIN_K_SMALL_STUDY_TESTS
    if not sufficient:
        warnings.warn(f"{what} with k = {k} studies: fewer than {MIN_K_SMALL_STUDY_TESTS} "
                      "(Cochrane Handbook sec. 13.3.5.4); the test has low power",
                      UserWarning, stacklevel=3)
    return sufficient


@dataclass
class EggerResult:
    """Egger's regression test in metafor's two forms (``regtest()``).

    ``model="rma"`` (metafor's default, predictor sei): the meta-regression
    yi = b0 + b1 sei with the chosen tau² method and test; ``statistic``/``pval`` test b1 = 0
    and ``limit_estimate`` (b0) is the estimate as sei -> 0. ``lm_*``: the classical Egger
    test, weighted least squares of yi on sei with weights 1/vi and a t(k - 2) test
    (equivalent to regressing yi/sei on 1/sei).
    """
    k: int
    method: str
    test: str
    statistic: float
    pval: float
    slope: float
    limit_estimate: float
    limit_ci_low: float
    limit_ci_high: float
    tau2: float
    lm_statistic: float
    lm_pval: float
    lm_df: int
    lm_slope: float
    lm_limit_estimate: float
    lm_limit_ci_low: float
    lm_limit_ci_high: float
    k_sufficient: bool

    def to_dict(self) -> dict:
        return {name: (v if isinstance(v, (str, bool)) else (int(v) if isinstance(v, (int, np.integer))
                                                              else float(v)))
                for name, v in self.__dict__.items()}

    def summary(self) -> str:
        stat = "z" if self.test == "z" else "t"
        return (f"Egger's test ({self.method} meta-regression on the standard error, k = {self.k}): "
                f"{stat} = {self.statistic:.2f}, p = {self.pval:.3g}")


def _wls_lm(y, x, w, level=0.95):
    """Weighted least squares y ~ 1 + x with weights w, as R's ``lm(weights=w)``."""
    from scipy import stats

    X = np.column_stack([np.ones_like(x), x])
    XtW = X.T * w
    A = np.linalg.inv(XtW @ X)
    beta = A @ (XtW @ y)
    resid = y - X @ beta
    df = y.size - 2
    if df == 0:  # two studies: the line is exact; R's lm() gives NA for what needs sigma
        nan = np.full(2, np.nan)
        return beta, nan, nan, nan, df, float("nan")
    sigma2 = float((w * resid ** 2).sum() / df)
    se = np.sqrt(np.diag(A) * sigma2)
    tval = beta / se
    pval = 2 * stats.t.sf(np.abs(tval), df)
    crit = stats.t.isf((1 - level) / 2, df)
    return beta, se, tval, pval, df, crit


def egger_test(yi, vi, *, method: str = "REML", test: str = "z", level: float = 0.95,
               labels=None, threshold: float = DEFAULT_THRESHOLD, maxiter: int = DEFAULT_MAXITER) -> EggerResult:
    """Egger's regression test for funnel plot asymmetry (Egger et al. 1997; ``regtest()``).

    Random-effects variants need k >= 3 (two coefficients and tau²); the common-effect
    variant and the classical ``lm`` test are computed from k = 2, as metafor does, with NaN
    where a residual degree of freedom is needed (the ``lm`` statistic, p and interval at
    k = 2). Warns and reports ``k_sufficient=False`` below 10 studies; whether to show the
    test is the caller's policy.
    """
    m, t = check_method(method, SENSITIVITY_METHODS), check_sensitivity_test(test)
    y, v, names = validate_studies(yi, vi, labels, what="Egger's test")
    k = y.size
    require_k(k, 2 if m in COMMON_EFFECT_METHODS else 3, f"Egger's test ({m})")
    sufficient = _small_k_warning(k, "Egger's test")
    sei = np.sqrt(v)
    X = np.column_stack([np.ones(k), sei])
    fit = fit_one(y, v, m, t, level, threshold, X=X, maxiter=maxiter)
    if fit.failed[0]:
        raise ValueError(f"Egger's test: the {m} estimate of tau² did not converge (k = {k})")
    beta, se, tval, pval, df, crit = _wls_lm(y, sei, 1.0 / v, level)
    return EggerResult(
        k=k, method=m, test=t, statistic=float(fit.stat[0, 1]), pval=float(fit.pval[0, 1]),
        slope=float(fit.beta[0, 1]), limit_estimate=float(fit.beta[0, 0]),
        limit_ci_low=float(fit.ci_low[0, 0]), limit_ci_high=float(fit.ci_high[0, 0]),
        tau2=float(fit.tau2[0]), lm_statistic=float(tval[1]), lm_pval=float(pval[1]),
        lm_df=int(df), lm_slope=float(beta[1]), lm_limit_estimate=float(beta[0]),
        lm_limit_ci_low=float(beta[0] - crit * se[0]), lm_limit_ci_high=float(beta[0] + crit * se[0]),
        k_sufficient=sufficient)


# ============================================================================ Begg
@dataclass
class BeggResult:
    """Begg & Mazumdar's rank correlation test (``ranktest()``): Kendall's tau between the
    standardised deviates (y_i - mu_FE) / sqrt(v_i - Var(mu_FE)) and v_i."""
    k: int
    tau: float
    pval: float
    exact: bool
    k_sufficient: bool

    def to_dict(self) -> dict:
        return {"k": int(self.k), "tau": float(self.tau), "pval": float(self.pval),
                "exact": bool(self.exact), "k_sufficient": bool(self.k_sufficient)}

    def summary(self) -> str:
        return f"Begg's rank correlation (k = {self.k}): Kendall's tau = {self.tau:.3f}, p = {self.pval:.3g}"


def _kendall_exact_pval(n: int, s_stat: int) -> float:
    """Two-sided exact p-value of Kendall's statistic without ties, as R's
    ``cor.test(method="kendall", exact=TRUE)``: T = number of concordant pairs, whose null
    distribution is that of inversions in a random permutation (Kendall 1970; R's
    ckendall()), built by adding one element at a time; p = min(1, 2 P(T <= q)) if
    q <= n(n - 1)/4, else min(1, 2 P(T >= q))."""
    probs = np.array([1.0])
    for m in range(2, n + 1):
        # the m-th element adds 0..m-1 inversions with equal probability
        csum = np.cumsum(np.concatenate([probs, np.zeros(m - 1)]))
        probs = (csum - np.concatenate([np.zeros(m), csum[:-m]])) / m
    cdf = np.cumsum(probs)
    pairs = n * (n - 1) // 2
    q = int(round((s_stat / pairs + 1) * n * (n - 1) / 4))
    if q > n * (n - 1) / 4:
        p = 1.0 - cdf[q - 1]
    else:
        p = cdf[q]
    return float(min(1.0, 2 * p))


def begg_test(yi, vi, *, labels=None, exact: bool = True) -> BeggResult:
    """Begg & Mazumdar (1994) rank correlation test, as metafor ``ranktest(yi, vi)``.

    Exact p-value (R's cor.test with exact=TRUE) when there are no ties, otherwise the
    normal approximation with the tie-corrected variance of Kendall's S (tau-b). Computed
    from k = 2 as metafor does (tau = ±1, p = 1); warns and reports ``k_sufficient=False``
    below 10 studies.
    """
    from scipy import stats

    y, v, names = validate_studies(yi, vi, labels, what="Begg's test")
    k = y.size
    require_k(k, 2, "Begg's test")
    sufficient = _small_k_warning(k, "Begg's test")
    w = 1.0 / v
    theta = float((w * y).sum() / w.sum())
    vb = 1.0 / w.sum()
    ystar = (y - theta) / np.sqrt(v - vb)
    ties = len(np.unique(ystar)) < k or len(np.unique(v)) < k
    use_exact = exact and not ties
    if use_exact:
        res = stats.kendalltau(ystar, v)
        i, j = np.triu_indices(k, 1)
        s_stat = int(np.sign((ystar[i] - ystar[j]) * (v[i] - v[j])).sum())
        pval = _kendall_exact_pval(k, s_stat)
        tau = float(res.statistic)
    else:
        res = stats.kendalltau(ystar, v, method="asymptotic")
        tau, pval = float(res.statistic), float(res.pvalue)
    return BeggResult(k, tau, pval, bool(use_exact), sufficient)


# ============================================================================ PET-PEESE
@dataclass
class PetPeeseResult:
    """PET-PEESE (Stanley & Doucouliagos 2014): weighted least squares (weights 1/vi) of yi on
    sei (PET) and on vi (PEESE); the intercepts estimate the effect of a study with zero
    standard error. Conditional rule: if PET's intercept differs from zero (p < ``alpha``),
    the PEESE intercept is reported, otherwise the PET intercept."""
    k: int
    pet_estimate: float
    pet_se: float
    pet_pval: float
    pet_ci_low: float
    pet_ci_high: float
    peese_estimate: float
    peese_se: float
    peese_pval: float
    peese_ci_low: float
    peese_ci_high: float
    chosen: str
    estimate: float
    ci_low: float
    ci_high: float
    alpha: float
    one_sided: bool
    k_sufficient: bool

    def to_dict(self) -> dict:
        return {n: (v if isinstance(v, (str, bool)) else (int(v) if n == "k" else float(v)))
                for n, v in self.__dict__.items()}

    def summary(self, digits: int = 2) -> str:
        return (f"PET-PEESE (k = {self.k}): {self.chosen} estimate {self.estimate:.{digits}f} "
                f"[{self.ci_low:.{digits}f}, {self.ci_high:.{digits}f}]")


def pet_peese(yi, vi, *, alpha: float = 0.05, one_sided: bool = False, level: float = 0.95,
              labels=None) -> PetPeeseResult:
    """PET-PEESE with the conditional rule of Stanley & Doucouliagos (2014).

    PET's intercept is tested against zero with its t(k - 2) statistic, two-sided by default
    (``one_sided=True`` halves the p-value: a one-tailed test in the direction of the
    estimate). Needs k >= 3; warns below 10 studies.
    """
    y, v, names = validate_studies(yi, vi, labels, what="PET-PEESE")
    k = y.size
    require_k(k, 3, "PET-PEESE")
    sufficient = _small_k_warning(k, "PET-PEESE")
    w = 1.0 / v
    b1, s1, _, p1, _, c1 = _wls_lm(y, np.sqrt(v), w, level)
    b2, s2, _, p2, _, c2 = _wls_lm(y, v, w, level)
    pet_p = float(p1[0] / 2 if one_sided else p1[0])
    chosen = "PEESE" if pet_p < alpha else "PET"
    b, s, c = (b2, s2, c2) if chosen == "PEESE" else (b1, s1, c1)
    return PetPeeseResult(
        k=k, pet_estimate=float(b1[0]), pet_se=float(s1[0]), pet_pval=pet_p,
        pet_ci_low=float(b1[0] - c1 * s1[0]), pet_ci_high=float(b1[0] + c1 * s1[0]),
        peese_estimate=float(b2[0]), peese_se=float(s2[0]), peese_pval=float(p2[0]),
        peese_ci_low=float(b2[0] - c2 * s2[0]), peese_ci_high=float(b2[0] + c2 * s2[0]),
        chosen=chosen, estimate=float(b[0]), ci_low=float(b[0] - c * s[0]),
        ci_high=float(b[0] + c * s[0]), alpha=float(alpha), one_sided=bool(one_sided),
        k_sufficient=sufficient)


# ============================================================================ funnel
def funnel_contours(estimate: float = 0.0, se_max: float = 1.0, levels=(0.90, 0.95, 0.99),
                    n: int = 101) -> pd.DataFrame:
    """Contours of a (contour-enhanced) funnel plot (Peters et al. 2008; metafor ``funnel()``).

    For each confidence level L, the lines estimate ± z_{(1+L)/2} se for se from 0 to
    ``se_max`` (``n`` points). With ``estimate=0`` the regions between contours are where
    a study's two-sided p-value lies between 1 - L of neighbouring levels (contour-enhanced);
    with the pooled estimate they are the pseudo-confidence funnel. Long format columns:
    ``level``, ``se``, ``lower``, ``upper``.
    """
    import pandas as pd
    from scipy import stats

    if not (np.isfinite(estimate) and np.isfinite(se_max) and se_max > 0):
        raise ValueError(f"funnel contours: need a finite estimate and se_max > 0 (got {estimate}, {se_max})")
    levels = [float(x) for x in levels]
    bad = [x for x in levels if not 0 < x < 1]
    if bad:
        raise ValueError(f"funnel contours: levels must lie in (0, 1), got {bad}")
    if n < 2:
        raise ValueError(f"funnel contours: n must be at least 2 (got {n})")
    se = np.linspace(0.0, float(se_max), int(n))
    parts = []
    for level in sorted(levels):
        z = stats.norm.isf((1 - level) / 2)
        parts.append(pd.DataFrame({"level": level, "se": se, "lower": estimate - z * se,
                                   "upper": estimate + z * se}))
    return pd.concat(parts, ignore_index=True)
