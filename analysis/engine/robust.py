"""Cluster-robust (sandwich) inference for a fitted model, for dependent effect sizes such as
intervention arms that share a control arm: CR2 with Satterthwaite degrees of freedom, and CR1.

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

Tests and intervals use t(df). CR2 with Satterthwaite df is what the Cochrane-adjacent methods
literature recommends when there are few clusters (Tipton 2015).

CR1 (:func:`robust_variance`, as metafor's ``robust()``; Hedges, Tipton & Johnson 2010) is the
simpler sandwich V = M [sum_j X_j' W_j e_j e_j' W_j X_j] M times n/(n - p), with t(n - p) tests.
Both start from the same fitted pieces (design, working weights, bread M, residuals, clusters).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from .coefficients import CoefficientTable, coefficient_records
from .meta_analysis import MetaResult
from .meta_regression import RegressionResult

__all__ = ["CR2Result", "cluster_robust_cr2", "RobustResult", "robust_variance"]


@dataclass(frozen=True, eq=False)
class CR2Result(CoefficientTable):
    """CR2 cluster-robust coefficients: ``coefficients`` has term, estimate, se, statistic,
    df (Satterthwaite), pval, ci_low, ci_high; ``vb`` the CR2 variance matrix."""

    coefficients: pd.DataFrame
    vb: np.ndarray = field(repr=False)
    n_clusters: int = 0
    method: str = ""
    level: float = 0.95

    @property
    def df(self) -> float:
        return float(self.coefficients["df"].iloc[0])

    def summary(self, digits: int = 2) -> str:
        row = self.coefficients.iloc[0]
        return (f"{self.method}, cluster-robust (CR2, Satterthwaite t({row['df']:.1f})), "
                f"{self.n_clusters} clusters: {row['estimate']:.{digits}f} "
                f"[{row['ci_low']:.{digits}f}, {row['ci_high']:.{digits}f}]")


@dataclass(frozen=True, eq=False)
class _ClusteredFit:
    """What both sandwich estimators start from: the fit's design and coefficients, its
    working variances phi_i = v_i + tau² and weights w_i = 1 / phi_i, the bread
    M = (X'WX)^-1, the residuals e = y - X b and the cluster of each effect size."""

    X: np.ndarray
    terms: list[str]
    btt: list[int]  # the moderators' coefficients (the omnibus test's), none for a MetaResult
    beta: np.ndarray
    phi: np.ndarray
    w: np.ndarray
    bread: np.ndarray
    resid: np.ndarray
    codes: np.ndarray  # 0 .. n_clusters - 1, in order of first appearance
    n_clusters: int


def _clustered_fit(result, cluster, *, caller: str, what: str, units: str) -> _ClusteredFit:
    """The pieces of a MetaResult or RegressionResult a sandwich needs; errors name ``caller``
    (a wrong result type), ``units`` (a cluster list of the wrong length) and ``what`` (a
    missing cluster)."""
    if isinstance(result, MetaResult):
        X = np.ones((result.k, 1))
        terms, btt = ["intercept"], []
        beta = np.array([result.estimate])
    elif isinstance(result, RegressionResult):
        X = np.asarray(result.X, dtype=float)
        terms, btt, beta = list(result.terms), list(result.btt), np.asarray(result.beta)
    else:
        raise TypeError(f"{caller}() takes a MetaResult or RegressionResult")
    y = result.yi
    cl = pd.Series(list(cluster))
    if len(cl) != y.size:
        raise ValueError(f"cluster has {len(cl)} entries but there are {y.size} {units}")
    if cl.isna().any():
        bad = [result.labels[i] for i in np.flatnonzero(cl.isna().to_numpy())]
        raise ValueError(f"{what}: missing cluster for {', '.join(bad)}")
    codes, uniques = pd.factorize(cl)
    phi = result.vi + float(result.tau2)
    w = 1.0 / phi
    bread = np.linalg.inv((X.T * w) @ X)
    return _ClusteredFit(X=X, terms=terms, btt=btt, beta=beta, phi=phi, w=w, bread=bread,
                         resid=y - X @ beta, codes=codes, n_clusters=len(uniques))


def _inv_sqrt_psd(a: np.ndarray) -> np.ndarray:
    """Symmetric inverse square root, over the positive eigenvalues (a generalised inverse
    where S_j is singular, as clubSandwich's matrix_power does)."""
    vals, vecs = np.linalg.eigh((a + a.T) / 2)
    tol = np.finfo(float).eps * max(a.shape) * max(vals.max(), 0.0)
    inv = np.where(vals > tol, 1.0 / np.sqrt(np.where(vals > tol, vals, 1.0)), 0.0)
    return (vecs * inv) @ vecs.T


def cluster_robust_cr2(result, cluster, *, level: float | None = None) -> CR2Result:
    """CR2 variance and Satterthwaite t tests for a :class:`~analysis.engine.meta_analysis.MetaResult` or
    :class:`~analysis.engine.meta_regression.RegressionResult` with effect sizes grouped by ``cluster``."""
    fit = _clustered_fit(result, cluster, caller="cluster_robust_cr2", units="effect sizes",
                         what="CR2 cluster-robust variance")
    level = result.level if level is None else level
    X, terms, beta, codes = fit.X, fit.terms, fit.beta, fit.codes
    n_cl, (k, p) = fit.n_clusters, X.shape
    if n_cl < 2:
        raise ValueError(f"CR2 cluster-robust variance needs at least 2 clusters (got {n_cl})")
    phi, w, M, e = fit.phi, fit.w, fit.bread, fit.resid
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


@dataclass
class RobustResult(CoefficientTable):
    """Cluster-robust (sandwich) inference for a fitted model, as ``metafor::robust()``:
    CR1 variance (n/(n - p) small-sample factor), t(n - p) tests and intervals, and for
    meta-regressions an F(m, n - p) omnibus test; n = number of clusters."""

    coefficients: pd.DataFrame
    vb: np.ndarray = field(repr=False)
    df: int = 0
    n_clusters: int = 0
    qm: float | None = None
    qm_df: tuple | None = None
    qm_pval: float | None = None
    tau2: float = 0.0
    method: str = ""

    def summary(self, digits: int = 2) -> str:
        row = self.coefficients.iloc[0]
        return (f"{self.method}, cluster-robust (CR1, t({self.df})), {self.n_clusters} clusters: "
                f"{row['estimate']:.{digits}f} [{row['ci_low']:.{digits}f}, {row['ci_high']:.{digits}f}]")

    def to_dict(self) -> dict:
        return {"df": int(self.df), "n_clusters": int(self.n_clusters), "tau2": float(self.tau2),
                "method": self.method,
                "qm": None if self.qm is None else float(self.qm),
                "qm_pval": None if self.qm_pval is None else float(self.qm_pval),
                "coefficients": coefficient_records(self.coefficients),
                "summary": self.summary()}


def robust_variance(result, cluster, *, adjust: bool = True) -> RobustResult:
    """Cluster-robust variance for a :class:`MetaResult` or :class:`RegressionResult`.

    V = (X'WX)^-1 [sum_c X_c' W_c e_c e_c' W_c X_c] (X'WX)^-1 with W = 1/(vi + tau²) and
    e the residuals, times n/(n - p) when ``adjust`` (metafor's default "CR1"; Hedges,
    Tipton & Johnson 2010). The bread is (X'WX)^-1 also for Knapp-Hartung fits (metafor
    would carry the Knapp-Hartung factor into it; tests are t(n - p) either way).
    """
    fit = _clustered_fit(result, cluster, caller="robust_variance", units="studies",
                         what="cluster-robust variance")
    X, terms, btt, beta, level = fit.X, fit.terms, fit.btt, fit.beta, result.level
    n, p = fit.n_clusters, X.shape[1]
    dfs = n - p
    if dfs <= 0:
        raise ValueError(f"number of clusters ({n}) must be larger than the number of coefficients ({p})")
    scores = X * (fit.w * fit.resid)[:, None]  # rows: X_i w_i e_i
    per_cluster = np.zeros((n, p))
    np.add.at(per_cluster, fit.codes, scores)
    meat = per_cluster.T @ per_cluster
    vb = fit.bread @ meat @ fit.bread
    if adjust:
        vb = vb * n / dfs
    se = np.sqrt(np.diag(vb))
    stat = beta / se
    crit = float(stats.t.isf((1 - level) / 2, dfs))
    table = pd.DataFrame({
        "term": pd.array(terms, dtype="string"), "estimate": beta, "se": se, "statistic": stat,
        "pval": 2 * stats.t.sf(np.abs(stat), dfs), "ci_low": beta - crit * se,
        "ci_high": beta + crit * se,
    })
    qm = qm_df = qm_pval = None
    if btt:
        b = beta[btt]
        qm = float(b @ np.linalg.solve(vb[np.ix_(btt, btt)], b)) / len(btt)
        qm_df = (len(btt), dfs)
        qm_pval = float(stats.f.sf(qm, len(btt), dfs))
    return RobustResult(coefficients=table, vb=vb, df=dfs, n_clusters=n, qm=qm, qm_df=qm_df,
                        qm_pval=qm_pval, tau2=float(result.tau2), method=result.method)
