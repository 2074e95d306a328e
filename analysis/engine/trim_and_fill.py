"""Trim-and-fill (Duval & Tweedie 2000, Biometrics 56:455-463 and JASA 95:89-98), step by
step as metafor 3.8-1 ``trimfill()``: studies presumed missing are estimated, mirrored and
the model refitted."""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from .batched_fits import fit_one
from .meta_analysis import meta_analysis
from .checks import check_method
from .sensitivity_checks import (COMMON_EFFECT_METHODS, SENSITIVITY_METHODS, check_sensitivity_test,
                                 require_k, validate_studies)
from .tau2 import DEFAULT_MAXITER, DEFAULT_THRESHOLD

if TYPE_CHECKING:  # pandas and scipy load only inside the functions that use them
    import pandas as pd

__all__ = ["TrimFillResult", "trim_and_fill"]


# ============================================================================ trim and fill
@dataclass
class TrimFillResult:
    """Trim-and-fill (Duval & Tweedie 2000), as metafor ``trimfill()``.

    ``k0``: estimated number of missing studies (``se_k0`` its standard error; ``p_k0`` the
    p-value of k0 = 0 for R0); ``side``: where studies were missing ("left"/"right");
    ``data``: the observed and filled studies (``study``, ``yi``, ``vi``, ``filled``);
    ``fit``: the model refitted to the filled data (:class:`analysis.engine.meta_analysis.MetaResult`,
    None when k0 = 0: then the original fit applies and ``estimate`` etc. are its values).
    """
    k0: int
    se_k0: float
    p_k0: float | None
    side: str
    estimator: str
    method: str
    data: pd.DataFrame
    estimate: float
    se: float
    ci_low: float
    ci_high: float
    pval: float
    tau2: float
    fit: Any = field(repr=False, default=None)

    def to_dict(self) -> dict:
        return {"k0": int(self.k0), "se_k0": float(self.se_k0),
                "p_k0": None if self.p_k0 is None else float(self.p_k0), "side": self.side,
                "estimator": self.estimator, "method": self.method,
                "estimate": float(self.estimate), "se": float(self.se),
                "ci_low": float(self.ci_low), "ci_high": float(self.ci_high),
                "pval": float(self.pval), "tau2": float(self.tau2)}

    def summary(self, digits: int = 2) -> str:
        return (f"Trim-and-fill ({self.estimator}, {self.method}): {self.k0} studies filled on the "
                f"{self.side}; adjusted estimate {self.estimate:.{digits}f} "
                f"[{self.ci_low:.{digits}f}, {self.ci_high:.{digits}f}]")


def trim_and_fill(yi, vi, *, estimator: str = "L0", side: str | None = None,
                  method: str = "REML", test: str = "z", level: float = 0.95, labels=None,
                  maxiter: int = 100, threshold: float = DEFAULT_THRESHOLD,
                  control: dict | None = None) -> TrimFillResult:
    """Duval & Tweedie's trim-and-fill, step by step as metafor 3.8-1 ``trimfill()``.

    ``side`` None: estimated from the sign of the slope of the meta-regression of yi on
    sqrt(vi) (negative slope: studies missing on the right). Studies are ranked by
    |y_i - mu| after trimming the k0 most extreme ones and re-estimating mu; L0 =
    (4 S_r - k(k + 1)) / (2k - 1), R0 = k - (longest run of positive ranks) - 1 (Duval &
    Tweedie 2000, eq. 5-6); iterate until k0 is stable; then mirror the k0 trimmed studies
    around the trimmed estimate and refit.

    Two sets of tau² control values, as metafor has: ``threshold`` belongs to the model of
    the observed studies (``rma(..., control=)``; it is the result when k0 = 0), and
    ``control`` (keys ``threshold``, ``maxiter``, ``tol``) is what ``trimfill(res,
    control=)`` passes on to every refit inside the algorithm and to the fit of the filled
    data (default: metafor's defaults). A refit that does not converge stops the
    algorithm with a ValueError naming it, as metafor stops. A truncated set of one study is
    fitted as a common-effect model (tau² = 0), as ``rma()`` does with k = 1. ``maxiter``
    caps the trim-and-fill iterations.
    """
    import pandas as pd
    from scipy import stats

    est = str(estimator).upper()
    if est not in ("L0", "R0"):
        raise ValueError(f"unknown trim-and-fill estimator {estimator!r}; choose 'L0' or 'R0'")
    m, t = check_method(method, SENSITIVITY_METHODS), check_sensitivity_test(test)
    y0, v0, names = validate_studies(yi, vi, labels, what="trim-and-fill")
    k = y0.size
    require_k(k, 2, "trim-and-fill")
    control = dict(control or {})
    unknown = set(control) - {"threshold", "maxiter", "tol"}
    if unknown:
        raise ValueError(f"trim-and-fill: unknown control value(s) {', '.join(sorted(unknown))}")
    refit = {"threshold": control.get("threshold", DEFAULT_THRESHOLD),
             "maxiter": int(control.get("maxiter", DEFAULT_MAXITER)), "tol": control.get("tol")}

    def fit(yy, vv, X=None, what="the truncated studies"):
        res = fit_one(yy, vv, m, X=X, **refit)
        if res.failed[0]:
            raise ValueError(f"trim-and-fill: the {m} fit to {what} (k = {yy.size}) did not "
                             f"converge (Fisher scoring did not converge in {refit['maxiter']} "
                             "iterations)")
        return res

    if side is None:
        if m not in COMMON_EFFECT_METHODS and k < 3:
            raise ValueError(f"trim-and-fill ({m}) estimates the side from a meta-regression "
                             f"on the standard error, which needs k >= 3 (k = {k}); give side")
        X = np.column_stack([np.ones(k), np.sqrt(v0)])
        slope = fit(y0, v0, X, "all studies with the standard error as moderator").beta[0, 1]
        side = "right" if slope < 0 else "left"
    elif side not in ("left", "right"):
        raise ValueError(f"trim-and-fill: side must be 'left' or 'right' (got {side!r})")
    y = -y0 if side == "right" else y0.copy()
    ix = np.argsort(y, kind="stable")
    y, v = y[ix], v0[ix]
    k0, k0_prev, iteration = 0, -1, 0
    se_k0 = 0.0
    beta = 0.0
    while k0 != k0_prev:
        k0_prev = k0
        iteration += 1
        if iteration > maxiter:
            raise ValueError(f"trim-and-fill did not converge in {maxiter} iterations (k = {k})")
        kt = k - k0
        if kt < 1:
            raise ValueError(f"trim-and-fill: {k0} of {k} studies trimmed; nothing left to fit")
        # one study left: its estimate is the study itself, exactly (as rma() with k = 1
        # returns it); a weighted mean can be one ulp off and flip the sign of y - beta
        beta = float(y[0]) if kt == 1 else float(fit(y[:kt], v[:kt]).beta[0, 0])
        yc = y - beta
        ranks = stats.rankdata(np.abs(yc), method="ordinal")
        signed = np.sign(yc) * ranks
        if est == "R0":
            negatives = -signed[signed < 0]
            k0_raw = (k - (negatives.max() if negatives.size else 0)) - 1
            se_k0 = math.sqrt(2 * max(0, k0_raw) + 2)
        else:
            sr = signed[signed > 0].sum()
            k0_raw = (4 * sr - k * (k + 1)) / (2 * k - 1)
            var_sr = (k * (k + 1) * (2 * k + 1) + 10 * k0_raw ** 3 + 27 * k0_raw ** 2
                      + 17 * k0_raw - 18 * k * k0_raw ** 2 - 18 * k * k0_raw
                      + 6 * k ** 2 * k0_raw) / 24
            se_k0 = 4 * math.sqrt(var_sr) / (2 * k - 1) if var_sr > 0 else 0.0
        k0 = max(0, int(np.round(k0_raw)))  # R's round(): half to even, as numpy
        se_k0 = max(0.0, se_k0)
    p_k0 = None
    if est == "R0":
        mm = np.arange(-1, k0)
        p_k0 = float(1 - np.sum([math.comb(int(a + 1), int(a + 1)) * 0.5 ** (a + 2) for a in mm]))
    data = pd.DataFrame({"study": pd.array(names, dtype="string"), "yi": y0, "vi": v0,
                         "filled": False})
    if k0 > 0:
        yc = (yc - beta) if side == "left" else -(yc - beta)
        fill_y = -yc[k - k0:]
        fill_v = v[k - k0:]
        filled = pd.DataFrame({"study": pd.array([f"Filled {i + 1}" for i in range(k0)], dtype="string"),
                               "yi": fill_y, "vi": fill_v, "filled": True})
        data = pd.concat([data, filled], ignore_index=True)
    if m in COMMON_EFFECT_METHODS:
        options = {}
    elif k0 > 0:
        options = dict(control)
    else:
        options = {"threshold": threshold}
    try:
        fit = meta_analysis(data["yi"].to_numpy(), data["vi"].to_numpy(), method=m,
                            test="knha" if t in ("knha", "adhoc") else "z",
                            knha_floor=t == "adhoc", level=level,
                            labels=list(data["study"]), **options)
    except ValueError as error:
        raise ValueError(f"trim-and-fill: the fit to the filled data failed: {error}") from None
    return TrimFillResult(k0=k0, se_k0=float(se_k0), p_k0=p_k0, side=side, estimator=est,
                          method=m, data=data, estimate=fit.estimate, se=fit.se,
                          ci_low=fit.ci_low, ci_high=fit.ci_high, pval=fit.pval, tau2=fit.tau2,
                          fit=fit)
