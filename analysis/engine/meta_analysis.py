"""Univariate meta-analysis: common-effect and random-effects pooling as ``metafor::rma.uni()``
(Viechtbauer 2010, J Stat Softw 36(3)), with heterogeneity statistics and the result object.

Formulas for I², H² (Higgins & Thompson 2002, with the "typical" sampling variance of
Viechtbauer 2010 eq. 9), Knapp & Hartung (2003) and the prediction interval (Riley et al.
2011, BMJ 342:d549; metafor's ``predict.rma()``) are given where they are computed. The
fixed-effects part given tau² (:func:`fit_model`) and the heterogeneity statistics
(:func:`heterogeneity`) serve meta-regression too.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

import numpy as np

from .checks import FIXED_METHODS, METHOD_NAMES, check_level, check_method, check_test, validate_effects
from .distributions import chi2_sf, norm_cdf, norm_isf
from .tau2 import DEFAULT_TOL, Tau2Fit, fit_tau2, q_profile_bounds
from .wls import InterceptOnly, WeightedLeastSquares, centred

if TYPE_CHECKING:  # pandas and scipy load only inside the functions that use them
    import pandas as pd

__all__ = ["MetaResult", "meta_analysis", "fit_model", "heterogeneity"]

_DBL_EPS = np.finfo(float).eps


def _fmt(x: float, digits: int = 2) -> str:
    return f"{x:.{digits}f}"


@dataclass
class MetaResult:
    """One pooled analysis. Intervals are at ``level``; I² is in percent; ``weights`` in
    percent summing to 100. ``tau2_ci``, ``tau_ci``, ``i2_ci``, ``h2_ci`` are Q-profile
    intervals (metafor ``confint()``), computed on first access; with k = 1 they are NaN
    (there is no heterogeneity to bound)."""

    k: int
    method: str
    test: str
    level: float
    estimate: float
    se: float
    statistic: float
    pval: float
    ci_low: float
    ci_high: float
    pi_low: float
    pi_high: float
    tau2: float
    se_tau2: float
    i2: float
    h2: float
    q: float
    q_df: int
    q_pval: float
    yi: np.ndarray = field(repr=False)
    vi: np.ndarray = field(repr=False)
    weights: np.ndarray = field(repr=False)
    labels: list[str] = field(repr=False)
    df: float | None = None
    knha_floor: bool = False
    pi_method: str = "metafor"
    pi_df: float | None = None
    typical_vi: float = field(default=float("nan"), repr=False)
    s2w: float = 1.0  # Knapp-Hartung factor (1 for the z test), metafor's res$s2w
    ci_tol: float = field(default=DEFAULT_TOL, repr=False)  # root-finding tolerance of tau2_ci

    @cached_property
    def tau2_ci(self) -> tuple[float, float]:
        if self.k < 2:
            return (float("nan"), float("nan"))
        return q_profile_bounds(self.yi, self.vi, InterceptOnly(self.k), self.level, self.tau2, tol=self.ci_tol)

    def fitstats(self, reml: bool | None = None) -> dict[str, float]:
        """Log-likelihood, deviance, AIC, BIC and AICc as ``metafor::fitstats()``: the
        restricted (REML) versions for REML fits, the ML versions otherwise (``reml`` chooses).
        ML: ll = -k/2 log 2pi - 1/2 sum log(v + tau²) - RSS/2, deviance against the
        saturated model; REML: ll = -(k - 1)/2 log 2pi + 1/2 log|X'X| - 1/2 sum log(v + tau²)
        - 1/2 log|X'WX| - RSS/2 and deviance -2 ll. Parameters: mu, plus tau² unless the
        model is common-effect."""
        reml = (self.method == "REML") if reml is None else bool(reml)
        k, p = self.k, 1
        w = 1.0 / (self.vi + self.tau2)
        mu = float((w * self.yi).sum() / w.sum())
        rss = float((w * (self.yi - mu) ** 2).sum())
        sum_log = float(np.log(self.vi + self.tau2).sum())
        parms = p + (0 if self.method in FIXED_METHODS else 1)
        if reml:
            ll = (-0.5 * (k - p) * math.log(2 * math.pi) + 0.5 * math.log(k) - 0.5 * sum_log
                  - 0.5 * math.log(float(w.sum())) - 0.5 * rss)
            dev, n = -2 * ll, k - p
        else:
            ll = -0.5 * k * math.log(2 * math.pi) - 0.5 * sum_log - 0.5 * rss
            saturated = float((-0.5 * np.log(2 * math.pi * self.vi)).sum())
            dev, n = (-2 * (ll - saturated) if k > p else 0.0), k
        big = max(n, parms + 2)
        return {"loglik": ll, "deviance": dev, "aic": -2 * ll + 2 * parms,
                "bic": -2 * ll + parms * math.log(n),
                "aicc": -2 * ll + 2 * parms * big / (big - parms - 1)}

    @property
    def tau_ci(self) -> tuple[float, float]:
        lb, ub = self.tau2_ci
        return (math.sqrt(lb), math.sqrt(ub))

    @property
    def i2_ci(self) -> tuple[float, float]:
        vt = self.typical_vi
        return tuple(100 * b / (vt + b) for b in self.tau2_ci)

    @property
    def h2_ci(self) -> tuple[float, float]:
        vt = self.typical_vi
        return tuple(b / vt + 1 for b in self.tau2_ci)

    @property
    def tau(self) -> float:
        return math.sqrt(self.tau2)

    @property
    def test_label(self) -> str:
        if self.test == "knha":
            return "Knapp-Hartung (ad hoc floor)" if self.knha_floor else "Knapp-Hartung"
        return "z test"

    def summary(self, digits: int = 2) -> str:
        """One line naming the method, e.g. 'REML, Knapp-Hartung, k = 5: 0.23 [0.10, 0.36]; ...'."""
        name = self.method if self.method not in FIXED_METHODS else METHOD_NAMES[self.method]
        head = f"{name}, {self.test_label}, k = {self.k}: "
        body = f"{_fmt(self.estimate, digits)} [{_fmt(self.ci_low, digits)}, {_fmt(self.ci_high, digits)}]"
        tail = f"; tau² = {self.tau2:.{digits + 1}g}; I² = {self.i2:.0f}%"
        if self.k >= 3 and self.method not in FIXED_METHODS:
            tail += f"; PI [{_fmt(self.pi_low, digits)}, {_fmt(self.pi_high, digits)}]"
        return head + body + tail

    def on_scale(self, transform) -> dict[str, float]:
        """Estimate, CI and PI back-transformed for reporting, e.g. ``np.tanh`` for Fisher z
        to r (Borenstein et al. 2009 eq. 6.5) or ``np.exp`` for log ratios. Plain floats."""
        return {name: float(transform(getattr(self, name)))
                for name in ("estimate", "ci_low", "ci_high", "pi_low", "pi_high")}

    def study_table(self) -> pd.DataFrame:
        """Per-study rows: label, yi, vi, se, ci_low, ci_high (normal, at ``level``), weight (%)."""
        import pandas as pd

        se = np.sqrt(self.vi)
        z = norm_isf((1 - self.level) / 2)
        return pd.DataFrame({
            "label": pd.array(self.labels, dtype="string"),
            "yi": self.yi, "vi": self.vi, "se": se,
            "ci_low": self.yi - z * se, "ci_high": self.yi + z * se,
            "weight": self.weights,
        })

    def to_dict(self) -> dict:
        """Plain Python values only (floats, ints, str, lists), e.g. for glue or JSON."""
        out: dict[str, Any] = {}
        for name in ("k", "q_df"):
            out[name] = int(getattr(self, name))
        for name in ("method", "test", "pi_method"):
            out[name] = str(getattr(self, name))
        out["knha_floor"] = bool(self.knha_floor)
        for name in ("level", "estimate", "se", "statistic", "pval", "ci_low", "ci_high",
                     "pi_low", "pi_high", "tau2", "se_tau2", "i2", "h2", "q", "q_pval"):
            out[name] = float(getattr(self, name))
        out["tau"] = float(self.tau)
        out["s2w"] = float(self.s2w)
        out["df"] = None if self.df is None else float(self.df)
        for name in ("tau2_ci", "tau_ci", "i2_ci", "h2_ci"):
            lo, hi = getattr(self, name)
            out[f"{name}_low"], out[f"{name}_high"] = float(lo), float(hi)
        out["yi"] = [float(x) for x in self.yi]
        out["vi"] = [float(x) for x in self.vi]
        out["weights"] = [float(x) for x in self.weights]
        out["labels"] = [str(x) for x in self.labels]
        out["summary"] = self.summary()
        return out


def meta_analysis(yi, vi, *, method: str = "REML", test: str = "z", knha_floor: bool = False,
                  level: float = 0.95, labels=None, pi_method: str = "metafor",
                  ci_tol: float = DEFAULT_TOL, **options) -> MetaResult:
    """Pool ``yi`` with sampling variances ``vi`` as ``metafor::rma(yi, vi, method=, test=)``.

    ``test``: "z" (normal) or "knha" (Knapp & Hartung 2003: variance scaled by
    q = sum w_i (y_i - mu)² / (k - 1) and t(k - 1) quantiles); ``knha_floor=True`` uses
    max(1, q) (metafor's test="adhoc"; Jackson et al. 2017).

    Prediction interval (``pi_method``): "metafor" (default) is ``predict.rma()`` of
    metafor 3.8: mu ± crit * sqrt(se² + tau²) with crit the same quantile as the CI, i.e.
    the normal quantile for test="z" and t(k - 1) for Knapp-Hartung. "higgins" uses
    t(k - 2) (Higgins, Thompson & Spiegelhalter 2009; Cochrane Handbook v6.3 sec 10.10.4.3)
    and needs k >= 3. For common-effect models tau² = 0 and the PI equals the CI.

    ``options`` are passed to the tau² estimator (see :func:`estimate_tau2`); ``ci_tol`` is
    the root-finding tolerance of the Q-profile interval ``tau2_ci`` (``confint(res,
    control=list(tol=))``).
    """
    m = check_method(method)
    t = check_test(test)
    level = check_level(level)
    if pi_method not in ("metafor", "higgins"):
        raise ValueError(f"unknown pi_method {pi_method!r}; choose 'metafor' or 'higgins'")
    y, v, names = validate_effects(yi, vi, labels, what=f"meta-analysis ({m})")
    k = y.size
    if t == "knha" and k < 2:
        raise ValueError(f"Knapp-Hartung test needs at least 2 studies (k = {k})")
    if pi_method == "higgins" and k < 3:
        raise ValueError(f"the Higgins prediction interval uses t(k - 2) and needs k >= 3 (k = {k})")
    X = InterceptOnly(k)
    fit = fit_model(y, v, X, m, t, knha_floor, level, **options)
    tau2 = fit["tau2"]
    est, se = float(fit["beta"][0]), float(fit["se"][0])

    alpha = 1 - level
    if pi_method == "higgins":
        from scipy import special

        pi_crit, pi_df = float(-special.stdtrit(k - 2, alpha / 2)), float(k - 2)
    else:
        pi_crit, pi_df = fit["crit"], fit["ddf"]
    half = pi_crit * math.sqrt(se**2 + tau2)

    het = heterogeneity(y, v, X, m, tau2, level, fit["wls"].tau2_fit)
    w = fit["wls"].w  # 1 / (v + tau²), already computed
    return MetaResult(
        k=k, method=m, test=t, level=level, estimate=est, se=se,
        statistic=float(fit["zval"][0]), pval=float(fit["pval"][0]),
        ci_low=float(fit["ci_low"][0]), ci_high=float(fit["ci_high"][0]),
        pi_low=est - half, pi_high=est + half,
        tau2=tau2, se_tau2=fit["se_tau2"], **het,
        yi=y, vi=v, weights=100 * w / w.sum(), labels=names,
        df=fit["ddf"], knha_floor=bool(knha_floor), pi_method=pi_method, pi_df=pi_df,
        s2w=float(fit["s2w"]), ci_tol=float(ci_tol),
    )


def fit_model(y, v, X, method, test, knha_floor, level, **options) -> dict:
    """Fixed-effects part of rma.uni given tau² (weights 1/(v + tau²))."""
    k, p = X.shape
    tfit = fit_tau2(y, v, X, method, **options)
    tau2 = tfit.tau2
    fit = WeightedLeastSquares(y, 1.0 / (v + tau2), X)
    vb = fit.A_inv.copy()
    s2w = 1.0
    fit.tau2_fit = tfit
    if test == "knha":
        if k - p < 1:
            raise ValueError(f"Knapp-Hartung test needs k > {p} studies (k = {k})")
        rss = fit.yPy()
        s2w = 0.0 if rss <= _DBL_EPS else rss / (k - p)
        if knha_floor:
            s2w = max(1.0, s2w)
        vb = s2w * vb
    alpha = 1 - level
    if fit.ones and test != "knha":  # one coefficient, z test: scalars, no array round trips
        se_1 = math.sqrt(float(vb[0, 0]))
        beta_1 = float(fit.beta[0])
        crit = norm_isf(alpha / 2)
        z_1 = beta_1 / se_1
        return {"tau2": tau2, "se_tau2": tfit.se_tau2, "beta": fit.beta, "vb": vb,
                "se": np.array([se_1]), "zval": np.array([z_1]),
                "pval": np.array([2 * norm_cdf(-abs(z_1))]), "crit": crit, "ddf": None, "s2w": s2w,
                "ci_low": np.array([beta_1 - crit * se_1]), "ci_high": np.array([beta_1 + crit * se_1]),
                "wls": fit}
    se = np.sqrt(np.diag(vb))
    zval = fit.beta / se
    if test == "knha":
        from scipy import special

        ddf = float(k - p)
        pval = 2 * special.stdtr(ddf, -np.abs(zval))
        crit = float(-special.stdtrit(ddf, alpha / 2))
    else:  # plain math: a z test must not pay for importing scipy
        ddf = None
        pval = np.array([2 * norm_cdf(-abs(float(z))) for z in zval])
        crit = norm_isf(alpha / 2)
    return {"tau2": tau2, "se_tau2": tfit.se_tau2, "beta": fit.beta, "vb": vb, "se": se,
            "zval": zval, "pval": pval, "crit": crit, "ddf": ddf, "s2w": s2w,
            "ci_low": fit.beta - crit * se, "ci_high": fit.beta + crit * se, "wls": fit}


def heterogeneity(y, v, X, method, tau2, level, tau2_fit: Tau2Fit | None = None) -> dict:
    """Q test, I², H² (metafor i2def 1) and the typical within-study variance. The
    common-effect fit behind Q is reused from ``tau2_fit`` when its estimator made it (DL, HS)."""
    k, p = X.shape
    if k <= p:
        return {"q": 0.0, "q_df": 0, "q_pval": 1.0, "i2": 0.0, "h2": 1.0, "typical_vi": float("nan")}
    if tau2_fit is not None and tau2_fit.q_fe is not None:
        q_fe, trp_fe = tau2_fit.q_fe, tau2_fit.trp_fe
    else:
        yc = centred(y, X)
        fe = WeightedLeastSquares(yc, 1.0 / v, X, yc * yc if isinstance(X, InterceptOnly) else None)
        q_fe, trp_fe = fe.yPy(), fe.trP()
    q = max(0.0, q_fe)
    df = k - p
    q_pval = chi2_sf(df, q)
    vt = df / trp_fe  # "typical" within-study variance, Viechtbauer 2010 eq. 9
    if method in FIXED_METHODS:
        i2 = max(0.0, 100 * (q - df) / q) if q > 0 else 0.0
        h2 = q / df
    else:
        i2 = 100 * tau2 / (vt + tau2)
        h2 = tau2 / vt + 1
    return {"q": q, "q_df": df, "q_pval": q_pval, "i2": i2, "h2": h2, "typical_vi": vt}
