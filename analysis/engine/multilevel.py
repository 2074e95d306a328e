"""Three-level random-effects model (effect sizes nested in clusters), by REML, as
``metafor::rma.mv(yi, vi, random = ~ 1 | cluster/es)``."""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from .checks import check_level, validate_effects
from .coefficients import CoefficientTable, coefficient_records
from .tau2 import fit_tau2
from .wls import InterceptOnly, design_matrix

if TYPE_CHECKING:  # pandas and scipy load only inside the functions that use them
    import pandas as pd

__all__ = ["MultilevelResult", "multilevel_meta_analysis"]


@dataclass
class MultilevelResult(CoefficientTable):
    """Three-level model (effect sizes within clusters), ``metafor::rma.mv(yi, vi,
    random = ~ 1 | cluster/es, method = "REML")``. ``sigma2 = (between clusters, within
    clusters)``; ``coefficients`` as in RegressionResult; ``loglik`` is metafor's REML
    log-likelihood (including its 0.5 log|X'X| term)."""

    k: int
    n_clusters: int
    test: str
    level: float
    sigma2: tuple[float, float]
    coefficients: pd.DataFrame
    vb: np.ndarray = field(repr=False)
    loglik: float = float("nan")
    converged: bool = True

    def summary(self, digits: int = 2) -> str:
        row = self.coefficients.iloc[0]
        test = "Knapp-Hartung-type t" if self.test == "t" else "z test"
        return (f"Three-level REML, {test}, k = {self.k} in {self.n_clusters} clusters: "
                f"{row['estimate']:.{digits}f} [{row['ci_low']:.{digits}f}, {row['ci_high']:.{digits}f}]; "
                f"sigma² = {self.sigma2[0]:.{digits + 1}g} (between), {self.sigma2[1]:.{digits + 1}g} (within)")

    def to_dict(self) -> dict:
        return {"k": int(self.k), "n_clusters": int(self.n_clusters), "test": self.test,
                "level": float(self.level), "sigma2_between": float(self.sigma2[0]),
                "sigma2_within": float(self.sigma2[1]), "loglik": float(self.loglik),
                "coefficients": coefficient_records(self.coefficients),
                "summary": self.summary()}


class _ThreeLevel:
    """REML for V = diag(v) + s1 Z Z' + s2 I (Z: cluster indicators), in O(k p²) through
    the Sherman-Morrison inverse of each cluster's block."""

    def __init__(self, y, v, X, codes, n):
        self.y, self.v, self.X, self.codes, self.n = y, v, X, codes, n
        k, p = X.shape
        self.const = -0.5 * (k - p) * math.log(2 * math.pi) + 0.5 * np.linalg.slogdet(X.T @ X)[1]

    def _csum(self, a):
        out = np.zeros((self.n,) + a.shape[1:])
        np.add.at(out, self.codes, a)
        return out

    def _vinv(self, a, d, c):
        """V^-1 a for a (k,) or (k, p)."""
        ad = a / (d if a.ndim == 1 else d[:, None])
        cs = self._csum(ad)
        corr = (c[:, None] * cs if a.ndim > 1 else c * cs)[self.codes]
        return ad - (corr / (d if a.ndim == 1 else d[:, None]))

    def parts(self, s):
        s1, s2 = s
        d = self.v + s2
        S = self._csum(1.0 / d)
        c = s1 / (1 + s1 * S)
        B = self._vinv(self.X, d, c)
        A = self.X.T @ B
        A_inv = np.linalg.inv(A)
        beta = A_inv @ (B.T @ self.y)
        r = self.y - self.X @ beta
        Pr = self._vinv(r, d, c)
        return d, S, c, B, A, A_inv, beta, Pr

    def negll(self, s):
        d, S, c, B, A, A_inv, beta, Pr = self.parts(s)
        r = self.y - self.X @ beta
        logdetV = np.log(d).sum() + np.log1p(s[0] * S).sum()
        ll = self.const - 0.5 * (logdetV + np.linalg.slogdet(A)[1] + float(r @ Pr))
        # gradient of the REML log-likelihood (Harville 1977)
        tr_vinv = float((1 / d).sum() - (c[self.codes] / d**2).sum())
        trP = tr_vinv - float(np.trace(A_inv @ (B.T @ B)))
        Bc = self._csum(B)
        one_P_one = float((S / (1 + s[0] * S)).sum() - np.einsum("ij,jk,ik->", Bc, A_inv, Bc))
        g2 = -0.5 * (trP - float(Pr @ Pr))
        g1 = -0.5 * (one_P_one - float((self._csum(Pr) ** 2).sum()))
        return -ll, -np.array([g1, g2])


def multilevel_meta_analysis(yi, vi, cluster, *, X=None, intercept: bool = True, test: str = "z",
                             level: float = 0.95, labels=None) -> MultilevelResult:
    """Three-level random-effects model by REML: effect sizes (level 2, variance sigma²_within)
    nested in clusters such as studies (level 3, sigma²_between) (Konstantopoulos 2011;
    Cheung 2014), as ``rma.mv(yi, vi, random = ~ 1 | cluster/es)``. The REML likelihood
    is maximised by L-BFGS-B with its analytic gradient on sigma² >= 0; results agree with
    metafor's optimiser to its convergence tolerance (about 1e-6 relative), not to 1e-10.
    ``test="t"`` uses t(k - p) like rma.mv(test="t")."""
    import pandas as pd
    from scipy import stats

    from scipy.optimize import minimize

    if test not in ("z", "t"):
        raise ValueError("test must be 'z' or 't' for the three-level model")
    level = check_level(level)
    y, v, names = validate_effects(yi, vi, labels, what="three-level model")
    cl = pd.Series(list(cluster))
    if len(cl) != y.size:
        raise ValueError(f"cluster has {len(cl)} entries but there are {y.size} effect sizes")
    if cl.isna().any():
        bad = [names[i] for i in np.flatnonzero(cl.isna().to_numpy())]
        raise ValueError(f"three-level model: missing cluster for {', '.join(bad)}")
    codes, uniques = pd.factorize(cl)
    Xm, terms = design_matrix(X, y.size, intercept)
    if isinstance(Xm, InterceptOnly):
        Xm = np.ones((y.size, 1))
    k, p = Xm.shape
    if len(uniques) < 2 or k - p < 2:
        raise ValueError(f"three-level model needs at least 2 clusters and k > p + 1 (k = {k}, "
                         f"{len(uniques)} clusters)")
    model = _ThreeLevel(y, v, Xm, codes, len(uniques))
    start = fit_tau2(y, v, Xm, "REML").tau2
    best = None
    for init in ([start / 2, start / 2], [start, 1e-4], [1e-4, start]):
        opt = minimize(model.negll, np.maximum(init, 1e-4), jac=True, method="L-BFGS-B",
                       bounds=[(0, None), (0, None)],
                       options={"ftol": 1e-15, "gtol": 1e-10, "maxiter": 1000})
        if best is None or opt.fun < best.fun:
            best = opt
    # restart from the best point: L-BFGS-B may stop early on a flat ridge
    opt = minimize(model.negll, best.x, jac=True, method="L-BFGS-B", bounds=[(0, None), (0, None)],
                   options={"ftol": 1e-15, "gtol": 1e-10, "maxiter": 1000})
    converged = bool(best.success or opt.success)
    if opt.fun < best.fun:
        best = opt
    s = np.maximum(best.x, 0.0)
    d, S, c, B, A, A_inv, beta, _ = model.parts(s)
    se = np.sqrt(np.diag(A_inv))
    stat = beta / se
    alpha = 1 - level
    if test == "t":
        crit = float(stats.t.isf(alpha / 2, k - p))
        pval = 2 * stats.t.sf(np.abs(stat), k - p)
    else:
        crit = float(stats.norm.isf(alpha / 2))
        pval = 2 * stats.norm.sf(np.abs(stat))
    table = pd.DataFrame({"term": pd.array(terms, dtype="string"), "estimate": beta, "se": se,
                          "statistic": stat, "pval": pval, "ci_low": beta - crit * se,
                          "ci_high": beta + crit * se})
    return MultilevelResult(k=k, n_clusters=len(uniques), test=test, level=level,
                            sigma2=(float(s[0]), float(s[1])), coefficients=table, vb=A_inv,
                            loglik=-float(best.fun), converged=converged)
