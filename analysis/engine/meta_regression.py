"""Mixed-effects meta-regression, as ``metafor::rma(yi, vi, mods = X)``: coefficients, the
omnibus test of the moderators, residual heterogeneity and the R² of tau²."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from .checks import FIXED_METHODS, METHOD_NAMES, check_level, check_method, check_test, validate_effects
from .coefficients import coefficient_records
from .distributions import chi2_sf
from .meta_analysis import fit_model, heterogeneity
from .tau2 import fit_tau2
from .wls import InterceptOnly, WeightedLeastSquares, design_matrix, vdot

if TYPE_CHECKING:  # pandas and scipy load only inside the functions that use them
    import pandas as pd

__all__ = ["RegressionResult", "meta_regression"]


@dataclass
class RegressionResult:
    """Mixed-effects meta-regression (``metafor::rma(yi, vi, mods=X)``).

    ``coefficients``: DataFrame with columns term, estimate, se, statistic, pval, ci_low,
    ci_high. ``qm``/``qm_df``/``qm_pval``: omnibus test of all moderators (chi²(m) for
    test="z"; F(m, k - p) for Knapp-Hartung). ``qe``: test of residual heterogeneity.
    ``r2``: percent of tau² accounted for, max(0, 100 (tau²_0 - tau²) / tau²_0) with tau²_0
    from the intercept-only model by the same method (Raudenbush 2009; metafor's R²);
    for common-effect models the adjusted R² of the weighted least-squares fit.
    """

    k: int
    p: int
    method: str
    test: str
    level: float
    coefficients: pd.DataFrame
    qm: float
    qm_df: tuple
    qm_pval: float
    tau2: float
    se_tau2: float
    qe: float
    qe_df: int
    qe_pval: float
    i2: float
    h2: float
    r2: float | None
    beta: np.ndarray = field(repr=False)
    vb: np.ndarray = field(repr=False)
    X: np.ndarray = field(repr=False)
    yi: np.ndarray = field(repr=False)
    vi: np.ndarray = field(repr=False)
    labels: list[str] = field(repr=False)
    terms: list[str] = field(repr=False)
    btt: list[int] = field(repr=False)
    df: float | None = None
    knha_floor: bool = False

    @property
    def weights(self) -> np.ndarray:
        """Inverse-variance weights 1/(vi + tau²) (not normalised)."""
        return 1.0 / (self.vi + self.tau2)

    def summary(self, digits: int = 2) -> str:
        test = ("Knapp-Hartung (ad hoc floor)" if self.knha_floor else "Knapp-Hartung") \
            if self.test == "knha" else "z test"
        if self.test == "knha":
            qm = f"F({self.qm_df[0]}, {self.qm_df[1]}) = {self.qm:.{digits}f}"
        else:
            qm = f"QM({self.qm_df[0]}) = {self.qm:.{digits}f}"
        r2 = "" if self.r2 is None else f"; R² = {self.r2:.0f}%"
        return (f"{METHOD_NAMES[self.method] if self.method in FIXED_METHODS else self.method} "
                f"meta-regression, {test}, k = {self.k}: {qm}, p = {self.qm_pval:.3g}; "
                f"tau² = {self.tau2:.{digits + 1}g}{r2}")

    def to_dict(self) -> dict:
        out: dict[str, Any] = {"k": int(self.k), "p": int(self.p), "method": self.method,
                               "test": self.test, "level": float(self.level),
                               "qm": float(self.qm), "qm_pval": float(self.qm_pval),
                               "qm_df": [None if d is None else int(d) for d in self.qm_df],
                               "tau2": float(self.tau2), "se_tau2": float(self.se_tau2),
                               "qe": float(self.qe), "qe_df": int(self.qe_df),
                               "qe_pval": float(self.qe_pval), "i2": float(self.i2),
                               "h2": float(self.h2),
                               "r2": None if self.r2 is None else float(self.r2),
                               "summary": self.summary()}
        out["coefficients"] = coefficient_records(self.coefficients)
        return out


def _wls_adj_r2(y, w, X) -> float:
    """Adjusted R² of lm(y ~ X, weights = w) with an intercept (R's summary.lm)."""
    k, p = X.shape
    fit = WeightedLeastSquares(y, w, X)
    rss = fit.yPy()
    ybar = vdot(w, y) / w.sum()
    fitted = X @ fit.beta
    mss = float(vdot(w, (fitted - ybar) ** 2))
    r2 = mss / (mss + rss)
    return 1 - (1 - r2) * ((k - 1) / (k - p))


def meta_regression(yi, vi, X, *, method: str = "REML", test: str = "z", intercept: bool = True,
                    knha_floor: bool = False, level: float = 0.95, labels=None,
                    **options) -> RegressionResult:
    """Mixed-effects meta-regression of ``yi`` on moderators ``X`` (array k x q, Series or
    DataFrame; column names become term names), as ``metafor::rma(yi, vi, mods = X)``.
    The omnibus test covers every coefficient except the intercept."""
    import pandas as pd
    from scipy import stats

    m = check_method(method)
    t = check_test(test)
    level = check_level(level)
    y, v, names = validate_effects(yi, vi, labels, what=f"meta-regression ({m})")
    Xm, terms = design_matrix(X, y.size, intercept)
    k, p = Xm.shape
    if k <= p:
        raise ValueError(f"meta-regression ({m}) with {p} coefficients needs more than {p} studies (k = {k})")
    fit = fit_model(y, v, Xm, m, t, knha_floor, level, **options)
    tau2 = fit["tau2"]
    btt = list(range(1, p)) if intercept else list(range(p))
    if not btt:
        raise ValueError("meta-regression needs at least one moderator besides the intercept")
    b = fit["beta"][btt]
    vb = fit["vb"][np.ix_(btt, btt)]
    qm = float(b @ np.linalg.solve(vb, b))
    mdf = len(btt)
    if t == "knha":
        qm = qm / mdf
        qm_df = (mdf, k - p)
        qm_pval = float(stats.f.sf(qm, mdf, k - p))
    else:
        qm_df = (mdf, None)
        qm_pval = chi2_sf(mdf, qm)
    het = heterogeneity(y, v, Xm, m, tau2, level)
    r2 = None
    if intercept:
        if m in FIXED_METHODS:
            r2 = 0.0 if np.var(y) == 0 else max(0.0, 100 * _wls_adj_r2(y, 1.0 / v, Xm))
        else:
            tau2_0 = fit_tau2(y, v, InterceptOnly(k), m, **options).tau2
            r2 = 0.0 if tau2_0 == 0 else max(0.0, 100 * (tau2_0 - tau2) / tau2_0)
    table = pd.DataFrame({
        "term": pd.array(terms, dtype="string"), "estimate": fit["beta"], "se": fit["se"],
        "statistic": fit["zval"], "pval": fit["pval"],
        "ci_low": fit["ci_low"], "ci_high": fit["ci_high"],
    })
    return RegressionResult(
        k=k, p=p, method=m, test=t, level=level, coefficients=table, qm=qm, qm_df=qm_df,
        qm_pval=qm_pval, tau2=tau2, se_tau2=fit["se_tau2"], qe=het["q"], qe_df=het["q_df"],
        qe_pval=het["q_pval"], i2=het["i2"], h2=het["h2"], r2=r2, beta=fit["beta"],
        vb=fit["vb"], X=Xm, yi=y, vi=v, labels=names, terms=terms, btt=btt, df=fit["ddf"],
        knha_floor=bool(knha_floor),
    )
