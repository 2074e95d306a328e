"""Cluster-robust inference with the CR2 small-sample correction and Satterthwaite degrees of
freedom, for dependent effect sizes such as intervention arms that share a control arm.

CR2 (Bell & McCaffrey 2002; Tipton 2015, Psychol Methods 20:375; Pustejovsky & Tipton 2018,
J Bus Econ Stat 36:672), as R's ``clubSandwich::vcovCR(fit, cluster, type = "CR2")`` for a
``metafor::rma.uni`` fit: the working model gives each effect size the variance
phi_i = v_i + tau² and the weight w_i = 1 / phi_i; with M = (X'WX)^-1, residuals e = y - X b
and, for cluster j, S_j = Phi_j - X_j M X_j' (the working variance of e_j),

    A_j = Phi_j^1/2 (Phi_j^1/2 S_j Phi_j^1/2)^-1/2 Phi_j^1/2,
    V_CR2 = M [sum_j X_j' W_j A_j e_j e_j' A_j W_j X_j] M,

so that V_CR2 is unbiased when the working model is right. Degrees of freedom for a
coefficient c'b (Pustejovsky & Tipton 2018, sec. 3.2): with e = (I - H) y, c'V c =
sum_j (g_j' y)² for g_j = (I - H)_j' A_j W_j X_j M c, and under the working model
df = (sum_j g_j' Phi g_j)² / sum_i sum_j (g_i' Phi g_j)².

Tests and intervals use t(df). Beside CR1 (``analysis.engine.models.robust_variance``, metafor's
``robust()``), CR2 with Satterthwaite df is what the Cochrane-adjacent methods literature
recommends when there are few clusters (Tipton 2015).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from .models import MetaResult, RegressionResult

__all__ = ["CR2Result", "cluster_robust_cr2"]


@dataclass(frozen=True, eq=False)
class CR2Result:
    """CR2 cluster-robust coefficients: ``coefficients`` has term, estimate, se, statistic,
    df (Satterthwaite), pval, ci_low, ci_high; ``vb`` the CR2 variance matrix."""

    coefficients: pd.DataFrame
    vb: np.ndarray = field(repr=False)
    n_clusters: int = 0
    method: str = ""
    level: float = 0.95

    @property
    def estimate(self) -> float:
        return float(self.coefficients["estimate"].iloc[0])

    @property
    def se(self) -> float:
        return float(self.coefficients["se"].iloc[0])

    @property
    def df(self) -> float:
        return float(self.coefficients["df"].iloc[0])

    def summary(self, digits: int = 2) -> str:
        row = self.coefficients.iloc[0]
        return (f"{self.method}, cluster-robust (CR2, Satterthwaite t({row['df']:.1f})), "
                f"{self.n_clusters} clusters: {row['estimate']:.{digits}f} "
                f"[{row['ci_low']:.{digits}f}, {row['ci_high']:.{digits}f}]")


def _inv_sqrt_psd(a: np.ndarray) -> np.ndarray:
    """Symmetric inverse square root, over the positive eigenvalues (a generalised inverse
    where S_j is singular, as clubSandwich's matrix_power does)."""
    vals, vecs = np.linalg.eigh((a + a.T) / 2)
    tol = np.finfo(float).eps * max(a.shape) * max(vals.max(), 0.0)
    inv = np.where(vals > tol, 1.0 / np.sqrt(np.where(vals > tol, vals, 1.0)), 0.0)
    return (vecs * inv) @ vecs.T


def cluster_robust_cr2(result, cluster, *, level: float | None = None) -> CR2Result:
    """CR2 variance and Satterthwaite t tests for a :class:`~analysis.engine.models.MetaResult` or
    :class:`~analysis.engine.models.RegressionResult` with effect sizes grouped by ``cluster``."""
    if isinstance(result, MetaResult):
        X = np.ones((result.k, 1))
        terms = ["intercept"]
        beta = np.array([result.estimate])
    elif isinstance(result, RegressionResult):
        X, terms, beta = np.asarray(result.X, dtype=float), list(result.terms), np.asarray(result.beta)
    else:
        raise TypeError("cluster_robust_cr2() takes a MetaResult or RegressionResult")
    level = result.level if level is None else level
    y, v, tau2 = result.yi, result.vi, float(result.tau2)
    cl = pd.Series(list(cluster))
    if len(cl) != y.size:
        raise ValueError(f"cluster has {len(cl)} entries but there are {y.size} effect sizes")
    if cl.isna().any():
        bad = [result.labels[i] for i in np.flatnonzero(cl.isna().to_numpy())]
        raise ValueError(f"CR2 cluster-robust variance: missing cluster for {', '.join(bad)}")
    codes, uniques = pd.factorize(cl)
    n_cl, (k, p) = len(uniques), X.shape
    if n_cl < 2:
        raise ValueError(f"CR2 cluster-robust variance needs at least 2 clusters (got {n_cl})")
    phi = v + tau2
    w = 1.0 / phi
    M = np.linalg.inv((X.T * w) @ X)
    e = y - X @ beta
    H = X @ M @ (X.T * w)  # hat matrix of the weighted fit
    I_H = np.eye(k) - H
    members = [np.flatnonzero(codes == j) for j in range(n_cl)]
    # per cluster: A_j' W_j X_j (n_j, p), so that the cluster's score is X_j' W_j A_j e_j
    WAX = []
    for idx in members:
        root = np.sqrt(phi[idx])
        S = np.diag(phi[idx]) - X[idx] @ M @ X[idx].T
        A = (root[:, None] * _inv_sqrt_psd(root[:, None] * S * root[None, :])) * root[None, :]
        WAX.append(A.T @ (w[idx][:, None] * X[idx]))
    meat = np.zeros((p, p))
    for idx, block in zip(members, WAX):
        u = block.T @ e[idx]
        meat += np.outer(u, u)
    vb = M @ meat @ M
    se = np.sqrt(np.diag(vb))
    # Satterthwaite df per coefficient: g_j = (I - H)_j' A_j' W_j X_j M c
    df = np.empty(p)
    for c in range(p):
        G = np.zeros((k, n_cl))
        for j, (idx, block) in enumerate(zip(members, WAX)):
            G[:, j] = I_H[idx].T @ (block @ M[:, c])
        PG = G.T @ (phi[:, None] * G)  # g_i' Phi g_j
        df[c] = np.trace(PG) ** 2 / np.sum(PG * PG)
    stat = beta / se
    crit = stats.t.isf((1 - level) / 2, df)
    table = pd.DataFrame({
        "term": pd.array(terms, dtype="string"), "estimate": beta, "se": se, "statistic": stat,
        "df": df, "pval": 2 * stats.t.sf(np.abs(stat), df), "ci_low": beta - crit * se,
        "ci_high": beta + crit * se,
    })
    return CR2Result(coefficients=table, vb=vb, n_clusters=n_cl, method=result.method,
                     level=level)
