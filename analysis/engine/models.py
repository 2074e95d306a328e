"""Meta-analytic models: common-effect and random-effects pooling, heterogeneity,
subgroups, meta-regression and cluster-robust inference.

Every estimator follows the algorithm of ``metafor::rma.uni()`` (Viechtbauer 2010,
J Stat Softw 36(3); metafor 3.8-1 source) step by step, including its starting values,
step rule and stopping rule, so that results agree with metafor to floating-point
precision rather than merely to the convergence tolerance:

* ``DL``  DerSimonian & Laird (1986), generalised to meta-regression (Raudenbush 2009).
* ``HE``  Hedges (1983) / Hedges & Olkin (1985) method of moments (unweighted).
* ``HS``  Hunter & Schmidt (2004) estimator, ``(Q - k) / sum(w)`` as metafor computes it.
* ``SJ``  Sidik & Jonkman (2005) two-step estimator started at the population variance of yi.
* ``ML``, ``REML``  Fisher scoring (Viechtbauer 2005, J Educ Behav Stat 30:261) from the
  HE estimate truncated at zero, step halving at the boundary, stopping when the change is
  at most ``threshold`` (1e-5), followed by metafor's log-likelihood check at tau2 = 0.
* ``EB``  empirical Bayes (Morris 1983; Berkey et al. 1995) by metafor's scoring update.
* ``PM``  Paule & Mandel (1982): generalised Q equal to k - p, solved with Brent's zeroin
  exactly as R's ``uniroot()`` does (same bracket, tolerance eps^0.25 and iteration cap).

Formulas for I², H² (Higgins & Thompson 2002, with the "typical" sampling variance of
Viechtbauer 2010 eq. 9), the Q-profile interval for tau² (Viechtbauer 2007, Stat Med 26:37),
Knapp & Hartung (2003) and the prediction interval (Riley et al. 2011, BMJ 342:d549;
metafor's ``predict.rma()``) are given where they are computed. Everything is O(k p²):
no k-by-k matrix is formed, so k = 100,000 costs milliseconds.
"""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from functools import cached_property
import sys
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from .distributions import chi2_sf, norm_cdf, norm_isf

if TYPE_CHECKING:  # pandas and scipy load only inside the functions that use them
    import pandas as pd

__all__ = [
    "TAU2_METHODS",
    "MetaResult",
    "SubgroupResult",
    "RegressionResult",
    "RobustResult",
    "estimate_tau2",
    "meta_analysis",
    "q_profile_tau2_ci",
    "subgroup_analysis",
    "meta_regression",
    "robust_variance",
    "MultilevelResult",
    "multilevel_meta_analysis",
    "r_uniroot",
    "unique_labels",
]

TAU2_METHODS = ("FE", "EE", "DL", "REML", "ML", "PM", "HS", "SJ", "HE", "EB")
_FIXED = ("FE", "EE")
_METHOD_NAMES = {
    "FE": "Common-effect (inverse variance)",
    "EE": "Equal-effects (inverse variance)",
    "DL": "DerSimonian-Laird",
    "REML": "REML",
    "ML": "ML",
    "PM": "Paule-Mandel",
    "HS": "Hunter-Schmidt",
    "SJ": "Sidik-Jonkman",
    "HE": "Hedges",
    "EB": "Empirical Bayes",
}
_DBL_EPS = np.finfo(float).eps
# metafor's rma.uni() control defaults (metafor 3.8-1).
_THRESHOLD = 1e-5
_TOL = _DBL_EPS ** 0.25
_MAXITER = 100
# ``converged=True``: iterate until tau² moves by less than this (Fisher scoring) and find
# the Paule-Mandel root to this tolerance, instead of metafor's defaults above, which stop
# up to about 1e-6 from the converged value; for comparisons with peers that converge further.
CONVERGED_THRESHOLD = 1e-12


# --------------------------------------------------------------------------- input checks
class _DefaultLabels(Sequence):
    """"study 1", ..., "study k" without building k strings up front (k may be 10^5)."""

    def __init__(self, k: int):
        self._k = k

    def __len__(self) -> int:
        return self._k

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [f"study {j + 1}" for j in range(*i.indices(self._k))]
        if i < 0:
            i += self._k
        if not 0 <= i < self._k:
            raise IndexError(i)
        return f"study {i + 1}"

    def __eq__(self, other):
        return list(self) == list(other)


def unique_labels(labels: Sequence[Any]) -> list[str]:
    """Study labels made unique as metafor's ``.make.unique()`` does: every label that
    occurs more than once gets ".1", ".2", ... in order ("Guckin 1992.1", "Guckin 1992.2");
    labels that occur once are kept."""
    out = [str(x) for x in labels]
    counts: dict[str, int] = {}
    for name in out:
        counts[name] = counts.get(name, 0) + 1
    seen: dict[str, int] = {}
    for i, name in enumerate(out):
        if counts[name] > 1:
            seen[name] = seen.get(name, 0) + 1
            out[i] = f"{name}.{seen[name]}"
    return out


def _labels_or_default(labels: Sequence[Any] | None, k: int) -> Sequence[str]:
    if labels is None:
        return _DefaultLabels(k)
    out = unique_labels(labels)
    if len(out) != k:
        raise ValueError(f"labels has {len(out)} entries but there are {k} studies")
    return out


def _validate(yi, vi, labels=None, *, what: str = "meta-analysis"):
    """Check effect sizes and sampling variances once; return float arrays and labels."""
    y = np.asarray(yi, dtype=float).ravel()
    v = np.asarray(vi, dtype=float).ravel()
    if y.shape != v.shape:
        raise ValueError(f"{what}: yi has {y.size} values but vi has {v.size}")
    k = y.size
    if k == 0:
        raise ValueError(f"{what}: no studies given (k = 0)")
    names = _labels_or_default(labels, k)
    if np.isfinite(y).all() and np.isfinite(v).all() and (v > 0).all():
        return y, v, names
    problems = []
    for i in np.flatnonzero(~np.isfinite(y)):
        problems.append(f"{names[i]}: effect size yi is {y[i]} (must be a finite number)")
    for i in np.flatnonzero(~np.isfinite(v)):
        problems.append(f"{names[i]}: sampling variance vi is {v[i]} (must be a finite number)")
    for i in np.flatnonzero(np.isfinite(v) & (v <= 0)):
        problems.append(f"{names[i]}: sampling variance vi = {float(v[i])!r} is not positive")
    if problems:
        raise ValueError(f"{what}: " + "; ".join(problems))
    return y, v, names


def _check_method(method: str) -> str:
    m = str(method).upper()
    if m not in TAU2_METHODS:
        raise ValueError(f"unknown tau² method {method!r}; choose one of {', '.join(TAU2_METHODS)}")
    return m


def _min_k(method: str, k: int, p: int = 1) -> None:
    """Too few studies for a method is an error, never a silent zero."""
    if method in _FIXED:
        if k < p:
            raise ValueError(f"method {method} needs at least {p} studies (k = {k})")
        return
    if k - p < 1:
        raise ValueError(
            f"method {method} (random effects) needs at least {p + 1} studies to estimate tau² "
            f"(k = {k}, {p} coefficient{'s' if p > 1 else ''})"
        )


class _Ones:
    """The design of an intercept-only model; lets every P quantity use O(k) sums."""

    __slots__ = ("shape",)

    def __init__(self, k: int):
        self.shape = (k, 1)


def _design(X, k: int, intercept: bool):
    if X is None:
        return _Ones(k), ["intercept"]
    pd = sys.modules.get("pandas")  # not imported yet: X cannot be a pandas object
    if pd is not None and isinstance(X, pd.Series):
        names = [str(X.name) if X.name is not None else "x1"]
        M = X.to_numpy(dtype=float).reshape(-1, 1)
    elif pd is not None and isinstance(X, pd.DataFrame):
        names = [str(c) for c in X.columns]
        M = X.to_numpy(dtype=float)
    else:
        M = np.asarray(X, dtype=float)
        if M.ndim == 1:
            M = M.reshape(-1, 1)
        names = [f"x{j + 1}" for j in range(M.shape[1])]
    if M.shape[0] != k:
        raise ValueError(f"moderator matrix X has {M.shape[0]} rows but there are {k} studies")
    if not np.all(np.isfinite(M)):
        bad = sorted(set(np.argwhere(~np.isfinite(M))[:, 0].tolist()))
        raise ValueError(f"moderator matrix X has missing or infinite values in rows {bad}")
    if intercept:
        M = np.column_stack([np.ones(k), M])
        names = ["intercept"] + names
    if np.linalg.matrix_rank(M) < M.shape[1]:
        raise ValueError("moderator matrix X is not of full column rank (redundant moderators)")
    return M, names


# --------------------------------------------------------------------------- linear algebra
def _vdot(a: np.ndarray, b: np.ndarray) -> float:
    """Inner product of two vectors by einsum's own loop rather than BLAS: on a shared
    machine a multithreaded BLAS call can stall for milliseconds waiting for its threads."""
    if a.size < 4096:  # BLAS stays single-threaded and is fastest here
        return float(np.dot(a, b))
    return float(np.einsum("i,i->", a, b))


class _WLS:
    """Quantities of P = W - W X (X'WX)^-1 X'W without forming any k-by-k matrix."""

    __slots__ = ("X", "w", "A_inv", "beta", "_resid", "ones", "sw", "_y", "_y2", "_sy", "tau2_fit")

    def __init__(self, y: np.ndarray, w: np.ndarray, X, y2: np.ndarray | None = None):
        """``y2``: y² precomputed, given only for centred y; intercept-only sums then need
        no temporary arrays (allocating them dominates the cost at large k)."""
        self.X, self.w = X, w
        self.ones = isinstance(X, _Ones)
        self._y, self._y2 = y, y2
        if self.ones:
            self.sw = sw = float(w.sum())
            self._sy = float(_vdot(w, y))
            self.A_inv = np.array([[1.0 / sw]])
            self.beta = np.array([self._sy / sw])
            self._resid = None
        else:
            XtW = X.T * w
            self.A_inv = np.linalg.inv(XtW @ X)
            self.beta = self.A_inv @ (XtW @ y)
            self._resid = y - X @ self.beta

    @property
    def resid(self) -> np.ndarray:
        if self._resid is None:
            self._resid = self._y - self.beta[0]
        return self._resid

    def yPy(self) -> float:
        if self.ones and self._y2 is not None:
            return float(_vdot(self.w, self._y2)) - self._sy * float(self.beta[0])
        r = self.resid
        return float(_vdot(self.w, r * r))

    def yPPy(self) -> float:
        if self.ones and self._y2 is not None:
            w2 = self.w * self.w
            mu = float(self.beta[0])
            return (float(_vdot(w2, self._y2)) - 2 * mu * float(_vdot(w2, self._y))
                    + mu * mu * float(w2.sum()))
        wr = self.w * self.resid
        return float(_vdot(wr, wr))

    def _xtdx(self, d: np.ndarray) -> np.ndarray:
        return (self.X.T * d) @ self.X

    def trP(self) -> float:
        if self.ones:
            return self.sw - float(_vdot(self.w, self.w)) / self.sw
        return float(self.w.sum() - np.trace(self.A_inv @ self._xtdx(self.w**2)))

    def trPP(self) -> float:
        w = self.w
        if self.ones:
            w2 = w * w
            s2, s3, sw = float(w2.sum()), float(_vdot(w2, w)), self.sw
            return s2 - 2 * s3 / sw + (s2 / sw) ** 2
        M2 = self.A_inv @ self._xtdx(w**2)
        return float((w**2).sum() - 2 * np.trace(self.A_inv @ self._xtdx(w**3)) + np.trace(M2 @ M2))

    def diag_PP(self) -> np.ndarray:
        """Diagonal of P P: w_i² - 2 w_i³ G_ii + w_i² (G W² G)_ii with G = X A^-1 X'."""
        w, X, Ai = self.w, self.X, self.A_inv
        if self.ones:
            sw = self.sw
            return w**2 - 2 * w**3 / sw + w**2 * float(_vdot(w, w)) / sw**2
        XAi = X @ Ai
        G_diag = np.einsum("ij,ij->i", XAi, X)
        GW2G_diag = np.einsum("ij,ij->i", XAi @ self._xtdx(w**2), XAi)
        return w**2 - 2 * w**3 * G_diag + w**2 * GW2G_diag

    def tr_PVPV(self, v: np.ndarray) -> float:
        """trace(P V P V) = sum(PV * t(PV)), with P the weighted projection."""
        w, Ai = self.w, self.A_inv
        b = w * v
        if self.ones:
            m = float(_vdot(b, w)) / self.sw
            return float(_vdot(b, b)) - 2 * float(_vdot(b * b, w)) / self.sw + m * m
        M = Ai @ self._xtdx(b * w)
        return float((b**2).sum() - 2 * np.trace(Ai @ self._xtdx(b**2 * w)) + np.trace(M @ M))


def _centred(y: np.ndarray, X: np.ndarray) -> np.ndarray:
    """metafor centres yi before computing Q and tau²: harmless rounding-wise and
    mathematically neutral when the model has an intercept. Without an intercept centring
    would change Q, so yi is then used as is (metafor 3.8 centres regardless)."""
    if isinstance(X, _Ones) or np.all(X[:, 0] == 1.0):
        return y - float(y.sum()) / y.size  # = y.mean(): the same pairwise sum, less overhead
    return y


def _qe(y: np.ndarray, v: np.ndarray, X: np.ndarray, tau2: float) -> float:
    """Generalised Q: sum of weighted squared residuals at weights 1/(v + tau2)."""
    return _WLS(y, 1.0 / (v + tau2), X).yPy()


def _qe_function(y: np.ndarray, v: np.ndarray, X):
    """tau2 -> generalised Q, for root finding. Intercept-only: with yc = y - mean(y),
    Q = sum w yc² - (sum w yc)² / sum w: one division and one matrix-vector product per
    call (the three sums in a single pass over [1, yc, yc²] instead of three passes)."""
    if not isinstance(X, _Ones):
        return lambda tau2: _qe(y, v, X, tau2)
    sums_of = np.empty((3, y.size))  # at large k fresh pages cost more than the arithmetic:
    sums_of[0] = 1.0  # yc and yc² are written straight into their rows
    yc = np.subtract(y, float(y.sum()) / y.size, out=sums_of[1])
    np.multiply(yc, yc, out=sums_of[2])
    w = np.empty_like(v)  # rewritten in place at every call

    def q(tau2: float) -> float:
        np.add(v, tau2, out=w)
        np.divide(1.0, w, out=w)
        sw, a, b = (sums_of @ w).tolist()
        return max(b - a * a / sw, 0.0)

    q.sums_of = sums_of  # reused by the converged Paule-Mandel search
    q.w = w  # the weights of the last call
    return q


def r_uniroot(f, lower: float, upper: float, *, tol: float = _TOL, maxiter: int = 1000,
              f_lower: float | None = None, f_upper: float | None = None) -> float:
    """Root of ``f`` in [lower, upper] by Brent's zeroin, a line-by-line port of R's
    ``R_zeroin2`` (R src/library/stats/src/zeroin.c, itself from netlib c/brent.shar),
    so that roots found by metafor through ``uniroot()`` are reproduced exactly."""
    fa = f(lower) if f_lower is None else f_lower
    fb = f(upper) if f_upper is None else f_upper
    if fa * fb > 0:
        raise ValueError("f() values at end points not of opposite sign")
    a, b = lower, upper
    c, fc = a, fa
    if fa == 0.0:
        return a
    if fb == 0.0:
        return b
    remaining = maxiter + 1
    while remaining:
        remaining -= 1
        prev_step = b - a
        if abs(fc) < abs(fb):
            a, b, c = b, c, b
            fa, fb, fc = fb, fc, fb
        tol_act = 2 * _DBL_EPS * abs(b) + tol / 2
        new_step = (c - b) / 2
        if abs(new_step) <= tol_act or fb == 0.0:
            return b
        if abs(prev_step) >= tol_act and abs(fa) > abs(fb):
            cb = c - b
            if a == c:
                t1 = fb / fa
                p = cb * t1
                q = 1.0 - t1
            else:
                q = fa / fc
                t1 = fb / fc
                t2 = fb / fa
                p = t2 * (cb * q * (q - t1) - (b - a) * (t1 - 1.0))
                q = (q - 1.0) * (t1 - 1.0) * (t2 - 1.0)
            if p > 0:
                q = -q
            else:
                p = -p
            if p < (0.75 * cb * q - abs(tol_act * q) / 2) and p < abs(prev_step * q / 2):
                new_step = p / q
        if abs(new_step) < tol_act:
            new_step = tol_act if new_step > 0 else -tol_act
        a, fa = b, fb
        b += new_step
        fb = f(b)
        if (fb > 0 and fc > 0) or (fb < 0 and fc < 0):
            c, fc = a, fa
    raise RuntimeError("root search did not converge within the iteration limit")


# --------------------------------------------------------------------------- tau² estimation
@dataclass
class _Tau2Fit:
    tau2: float
    se_tau2: float
    iterations: int = 0
    q_fe: float | None = None  # Q and trace(P) at tau² = 0 when the estimator computed them,
    trp_fe: float | None = None  # so that the heterogeneity statistics need no second fit


def _pm_newton(sums_of: np.ndarray, v: np.ndarray, target: float, upper: float, tol: float,
               maxiter: int) -> float | None:
    """Root of Q(tau²) = target on [0, upper] (Q(0) > target > Q(upper)) by Newton's method
    kept inside the bracket (bisection when a step would leave it), for the converged mode:
    Q'(tau²) = -sum w² (y - mu)² comes from the same pass as Q, and Newton needs about a
    third of Brent's evaluations to reach 1e-12. None when it has not converged in
    ``maxiter`` steps (the caller then uses Brent). ``sums_of``: the rows 1, yc, yc² (yc the
    centred effect sizes), as built by ``_qe_function``."""
    k = sums_of.shape[1]
    weights = np.empty((2, k))  # rows w and w², rewritten in place at every step
    lo, hi, t = 0.0, upper, 0.0
    for _ in range(maxiter):
        np.add(v, t, out=weights[0])
        np.divide(1.0, weights[0], out=weights[0])
        np.multiply(weights[0], weights[0], out=weights[1])
        (sw, sw2), (swy, sw2y), (swy2, sw2y2) = (sums_of @ weights.T).tolist()
        mu = swy / sw
        f = swy2 - swy * mu - target
        slope = -(sw2y2 - 2 * mu * sw2y + mu * mu * sw2)
        if f > 0:
            lo = t
        else:
            hi = t
        step = -f / slope if slope < 0 else math.inf
        new = t + step
        if not lo < new < hi:
            new = 0.5 * (lo + hi)
        if abs(new - t) <= tol:
            return new
        t = new
    return None


def _half_range_bound(y: np.ndarray) -> float:
    """An upper bound on median(|y - median(y)|) from two O(k) passes and no sort: at least
    half the points, plus the middle one, lie on the side of the median nearer its extreme,
    hence within (max - min) / 2 of it. Widened by 1e-12 so rounding in the median's own
    arithmetic cannot push the median absolute deviation past it."""
    return 0.5 * (float(y.max()) - float(y.min())) * (1 + 1e-12)


def _mad(y: np.ndarray) -> float:
    med = np.median(y)
    return float(1.4826 * np.median(np.abs(y - med)))


def _fit_tau2(y: np.ndarray, v: np.ndarray, X: np.ndarray, method: str, *,
              threshold: float = _THRESHOLD, tol: float = _TOL, maxiter: int = _MAXITER,
              stepadj: float = 1.0, tau2_init: float | None = None,
              tau2_max: float | None = None, ll0check: bool = True,
              converged: bool = False) -> _Tau2Fit:
    k, p = X.shape
    if converged:
        threshold = min(threshold, CONVERGED_THRESHOLD)
        tol = min(tol, CONVERGED_THRESHOLD)
    if method in _FIXED:
        return _Tau2Fit(0.0, float("nan"))
    _min_k(method, k, p)
    yc = _centred(y, X)
    yc2 = yc * yc if isinstance(X, _Ones) and method != "PM" else None  # PM builds its own

    if method == "HS":
        fe = _WLS(yc, 1.0 / v, X, yc2)
        sw = float(fe.w.sum())
        q_fe, trP = fe.yPy(), fe.trP()
        tau2 = max(0.0, (q_fe - k) / sw)
        se = math.sqrt(1 / sw**2 * (2 * (k - p) + 4 * tau2 * trP + 2 * tau2**2 * fe.trPP()))
        return _Tau2Fit(tau2, se, q_fe=q_fe, trp_fe=trP)

    if method == "DL":
        fe = _WLS(yc, 1.0 / v, X, yc2)
        trP, q_fe = fe.trP(), fe.yPy()
        tau2 = max(0.0, (q_fe - (k - p)) / trP)
        se = math.sqrt(1 / trP**2 * (2 * (k - p) + 4 * tau2 * trP + 2 * tau2**2 * fe.trPP()))
        return _Tau2Fit(tau2, se, q_fe=q_fe, trp_fe=trP)

    if method == "SJ":
        tau2_0 = float(np.var(y)) if tau2_init is None else float(tau2_init)
        fit = _WLS(yc, 1.0 / (v + tau2_0), X, yc2)
        tau2 = max(0.0, tau2_0 * fit.yPy() / (k - p))
        trPVPV = fit.tr_PVPV(v)
        sum_PV_P = float(_vdot(v, fit.diag_PP()))
        se = math.sqrt(tau2_0**2 / (k - p) ** 2
                       * (2 * trPVPV + 4 * tau2 * sum_PV_P + 2 * tau2**2 * fit.trPP()))
        return _Tau2Fit(tau2, se)

    if method == "PM":
        target = k - p
        if tau2_max is not None:
            upper = float(tau2_max)
        elif 1.4826 * _half_range_bound(y) <= math.sqrt(10.0):
            upper = 100.0  # 10 mad(y)² cannot exceed 100: no median needed
        else:
            upper = max(100.0, 10 * _mad(y) ** 2)
        qfun = _qe_function(yc, v, X)
        q_at_zero = qfun(0.0) - target
        q_fe = trp_fe = None
        if isinstance(X, _Ones):  # Q and trace(P) of the common-effect fit, from weights 1/v
            q_fe, w0 = q_at_zero + target, qfun.w
            sw0 = float(w0.sum())
            trp_fe = sw0 - float(_vdot(w0, w0)) / sw0
        if q_at_zero < 0:
            tau2 = 0.0
        else:
            q_at_max = qfun(upper) - target
            if q_at_max > 0:
                raise ValueError(f"method PM: no root of the generalised Q below tau2_max = {upper}")
            newton = (_pm_newton(qfun.sums_of, v, target, upper, tol, maxiter)
                      if converged and isinstance(X, _Ones) else None)
            tau2 = newton if newton is not None else r_uniroot(
                lambda t: qfun(t) - target, 0.0, upper, tol=tol, maxiter=maxiter,
                f_lower=q_at_zero, f_upper=q_at_max)
        tau2 = max(0.0, tau2)
        w = 1.0 / (v + tau2)
        se = math.sqrt(2 * k**2 / (k - p) / w.sum() ** 2)
        return _Tau2Fit(tau2, se, q_fe=q_fe, trp_fe=trp_fe)

    # HE: needed as such and as the starting value of ML, REML and EB.
    if isinstance(X, _Ones):
        rss = float(yc2.sum())  # yc is centred: the OLS residuals
        trPV = float(v.sum()) * (1 - 1 / k)
    else:
        ols = _WLS(yc, np.ones(k), X)
        rss = ols.yPy()
        XtX_inv = ols.A_inv
        h_diag = np.einsum("ij,jk,ik->i", X, XtX_inv, X)
        trPV = float(v.sum() - _vdot(h_diag, v))
    tau2_he = (rss - trPV) / (k - p)
    if method == "HE":
        tau2 = max(0.0, tau2_he)
        # trace(PV PV) for the unweighted projection P = I - H.
        if isinstance(X, _Ones):
            m = float(v.sum()) / k
            trPVPV = float(_vdot(v, v)) * (1 - 2 / k) + m * m
        else:
            XtVX = (X.T * v) @ X
            XtV2X = (X.T * v**2) @ X
            M = XtX_inv @ XtVX
            trPVPV = float((v**2).sum() - 2 * np.trace(XtX_inv @ XtV2X) + np.trace(M @ M))
        se = math.sqrt(1 / (k - p) ** 2 * (2 * trPVPV + 4 * tau2 * trPV + 2 * tau2**2 * (k - p)))
        return _Tau2Fit(tau2, se)

    # ML, REML, EB: metafor's Fisher scoring / EB update.
    tau2 = max(0.0, tau2_he) if tau2_init is None else float(tau2_init)
    change = threshold + 1
    iterations = 0
    buf = np.empty_like(v)  # weights, rewritten in place at each step
    sums = _ScoringSums(yc, yc2) if isinstance(X, _Ones) else None
    while change > threshold:
        iterations += 1
        old = tau2
        if sums is not None:
            adj = sums.adjustment(v, tau2, method, k, p)
        else:
            np.add(v, tau2, out=buf)
            np.divide(1.0, buf, out=buf)
            fit = _WLS(yc, buf, X, yc2)
            if method == "ML":
                adj = (fit.yPPy() - fit.w.sum()) / (fit.w**2).sum()
            elif method == "REML":
                adj = (fit.yPPy() - fit.trP()) / fit.trPP()
            else:  # EB
                adj = (fit.yPy() * k / (k - p) - k) / fit.w.sum()
        adj = float(adj) * stepadj
        if math.isnan(adj):
            adj = 0.0
        while tau2 + adj < 0.0:
            adj /= 2
        tau2 = tau2 + adj
        change = abs(old - tau2)
        if iterations > maxiter:
            raise ValueError(f"method {method}: Fisher scoring did not converge in {maxiter} iterations")
    if method in ("ML", "REML") and ll0check and tau2 > threshold:
        ll0 = _loglik(y, v, X, 0.0, reml=method == "REML")
        ll = _loglik(y, v, X, tau2, reml=method == "REML")
        if ll0 - ll > tol:
            warnings.warn(f"method {method}: Fisher scoring may have stopped at a local maximum; "
                          "tau² set to 0 as metafor does", RuntimeWarning, stacklevel=3)
            tau2 = 0.0
    tau2 = max(0.0, tau2)
    w = 1.0 / (v + tau2)
    if method == "ML":
        se = math.sqrt(2 / (w**2).sum())
    elif method == "REML":
        se = math.sqrt(2 / _WLS(yc, w, X, yc2).trPP())
    else:
        se = math.sqrt(2 * k**2 / (k - p) / w.sum() ** 2)
    return _Tau2Fit(tau2, se, iterations)


class _ScoringSums:
    """Every sum one Fisher-scoring step of an intercept-only model needs, from one
    matrix product of the rows [1, yc, yc²] with the columns [w, w², w³]: nine sums in a
    single pass instead of about ten passes and two temporary arrays per step."""

    __slots__ = ("rows", "powers")

    def __init__(self, yc: np.ndarray, yc2: np.ndarray):
        self.rows = np.empty((3, yc.size))
        self.rows[0] = 1.0
        self.rows[1] = yc
        self.rows[2] = yc2
        self.powers = np.empty((3, yc.size))  # w, w², w³, rewritten in place at every step

    def adjustment(self, v: np.ndarray, tau2: float, method: str, k: int, p: int) -> float:
        w, w2, w3 = self.powers
        np.add(v, tau2, out=w)
        np.divide(1.0, w, out=w)
        np.multiply(w, w, out=w2)
        np.multiply(w2, w, out=w3)
        (sw, sw2, sw3), (swy, sw2y, _), (swy2, sw2y2, _) = (self.rows @ self.powers.T).tolist()
        mu = swy / sw
        if method == "EB":
            return ((swy2 - swy * mu) * k / (k - p) - k) / sw
        ypPy = sw2y2 - 2 * mu * sw2y + mu * mu * sw2  # y'PPy
        if method == "ML":
            return (ypPy - sw) / sw2
        tr_p = sw - sw2 / sw
        tr_pp = sw2 - 2 * sw3 / sw + (sw2 / sw) ** 2
        return (ypPy - tr_p) / tr_pp


def _loglik(y, v, X, tau2, *, reml: bool) -> float:
    """Log-likelihood as metafor's ll0 check computes it (REML without the |X'X| term)."""
    k, p = X.shape
    fit = _WLS(y, 1.0 / (v + tau2), X)
    rss = fit.yPy()
    if not reml:
        return -0.5 * k * math.log(2 * math.pi) - 0.5 * np.log(v + tau2).sum() - 0.5 * rss
    logdet = math.log(fit.sw) if fit.ones else np.linalg.slogdet((X.T * fit.w) @ X)[1]
    return float(-0.5 * (k - p) * math.log(2 * math.pi) - 0.5 * np.log(v + tau2).sum()
                 - 0.5 * logdet - 0.5 * rss)


def estimate_tau2(yi, vi, method: str = "REML", *, X=None, intercept: bool = True,
                  labels=None, **options) -> float:
    """Between-study variance tau² by ``method``, as ``metafor::rma(yi, vi, method=...)$tau2``.

    methods: "FE"/"EE" (0), "DL", "REML", "ML", "PM", "HS", "SJ", "HE", "EB".
    ``X``: optional moderators (the intercept is added unless ``intercept=False``).
    ``options``: metafor's control values ``threshold`` (1e-5), ``tol`` (eps^0.25),
    ``maxiter`` (100), ``stepadj`` (1), ``tau2_init``, ``tau2_max``, ``ll0check`` (True);
    ``converged=True`` lowers ``threshold`` and ``tol`` to ``CONVERGED_THRESHOLD`` (1e-12),
    the converged value rather than metafor's default stopping point.
    Raises ValueError for bad input or too few studies (k < 2 for random effects).
    """
    m = _check_method(method)
    y, v, _ = _validate(yi, vi, labels, what=f"estimate_tau2({m})")
    Xm, _ = _design(X, y.size, intercept)
    return float(_fit_tau2(y, v, Xm, m, **options).tau2)


# --------------------------------------------------------------------------- Q profile
def q_profile_tau2_ci(yi, vi, *, X=None, intercept: bool = True, level: float = 0.95,
                      tau2_estimate: float = 0.0, tol: float = _TOL,
                      maxiter: int = 1000) -> tuple[float, float]:
    """Q-profile confidence interval for tau² (Viechtbauer 2007), as ``confint.rma.uni()``:
    the tau² values at which the generalised Q equals the chi²(k - p) quantiles, searched by
    ``uniroot`` on [0, max(100, 10 tau2_estimate)]; a bound that does not exist is 0."""
    y, v, _ = _validate(yi, vi, None, what="Q-profile interval")
    Xm, _ = _design(X, y.size, intercept)
    return _q_profile(y, v, Xm, level, tau2_estimate, tol, maxiter)


def _q_profile(y, v, X, level, tau2_estimate, tol=_TOL, maxiter=1000):
    k, p = X.shape
    if k - p < 1:
        raise ValueError(f"Q-profile interval needs k > {p} studies (k = {k})")
    from scipy import special

    alpha = 1 - level
    lo_bound = min(0.0, tau2_estimate)
    hi_bound = max(100.0, 10 * tau2_estimate, 10 * lo_bound)
    crit_u = float(special.chdtri(k - p, alpha / 2))
    crit_l = float(special.chdtri(k - p, 1 - alpha / 2))
    qfun = _qe_function(y, v, X)
    q_max = qfun(hi_bound)
    q_min = qfun(lo_bound)
    f = lambda t, obj: qfun(t) - obj  # noqa: E731
    if q_min < crit_l:
        lb = ub = lo_bound
    else:
        if q_max > crit_l:
            ub = hi_bound
        else:
            ub = r_uniroot(lambda t: f(t, crit_l), lo_bound, hi_bound, tol=tol, maxiter=maxiter)
        lb = None
    if q_max > crit_u:
        lb = ub = hi_bound
    elif q_min < crit_u:
        lb = lo_bound
    else:
        lb = r_uniroot(lambda t: f(t, crit_u), lo_bound, hi_bound, tol=tol, maxiter=maxiter)
    return float(lb), float(ub)


# --------------------------------------------------------------------------- result objects
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
    ci_tol: float = field(default=_TOL, repr=False)  # root-finding tolerance of tau2_ci

    @cached_property
    def tau2_ci(self) -> tuple[float, float]:
        if self.k < 2:
            return (float("nan"), float("nan"))
        return _q_profile(self.yi, self.vi, _Ones(self.k), self.level, self.tau2, tol=self.ci_tol)

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
        parms = p + (0 if self.method in _FIXED else 1)
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
        name = self.method if self.method not in _FIXED else _METHOD_NAMES[self.method]
        head = f"{name}, {self.test_label}, k = {self.k}: "
        body = f"{_fmt(self.estimate, digits)} [{_fmt(self.ci_low, digits)}, {_fmt(self.ci_high, digits)}]"
        tail = f"; tau² = {self.tau2:.{digits + 1}g}; I² = {self.i2:.0f}%"
        if self.k >= 3 and self.method not in _FIXED:
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


def _check_test(test: str) -> str:
    t = str(test).lower()
    if t in ("hksj", "kh", "knapp-hartung"):
        t = "knha"
    if t not in ("z", "knha"):
        raise ValueError(f"unknown test {test!r}; choose 'z' or 'knha' (Knapp-Hartung)")
    return t


def _check_level(level: float) -> float:
    level = float(level)
    if level > 1:  # allow 95 as well as 0.95, as metafor does
        level = level / 100
    if not 0 < level < 1:
        raise ValueError(f"level must lie between 0 and 1 (got {level})")
    return level


def meta_analysis(yi, vi, *, method: str = "REML", test: str = "z", knha_floor: bool = False,
                  level: float = 0.95, labels=None, pi_method: str = "metafor",
                  ci_tol: float = _TOL, **options) -> MetaResult:
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
    m = _check_method(method)
    t = _check_test(test)
    level = _check_level(level)
    if pi_method not in ("metafor", "higgins"):
        raise ValueError(f"unknown pi_method {pi_method!r}; choose 'metafor' or 'higgins'")
    y, v, names = _validate(yi, vi, labels, what=f"meta-analysis ({m})")
    k = y.size
    if t == "knha" and k < 2:
        raise ValueError(f"Knapp-Hartung test needs at least 2 studies (k = {k})")
    if pi_method == "higgins" and k < 3:
        raise ValueError(f"the Higgins prediction interval uses t(k - 2) and needs k >= 3 (k = {k})")
    X = _Ones(k)
    fit = _fit_model(y, v, X, m, t, knha_floor, level, **options)
    tau2 = fit["tau2"]
    est, se = float(fit["beta"][0]), float(fit["se"][0])

    alpha = 1 - level
    if pi_method == "higgins":
        from scipy import special

        pi_crit, pi_df = float(-special.stdtrit(k - 2, alpha / 2)), float(k - 2)
    else:
        pi_crit, pi_df = fit["crit"], fit["ddf"]
    half = pi_crit * math.sqrt(se**2 + tau2)

    het = _heterogeneity(y, v, X, m, tau2, level, fit["wls"].tau2_fit)
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


def _fit_model(y, v, X, method, test, knha_floor, level, **options) -> dict:
    """Fixed-effects part of rma.uni given tau² (weights 1/(v + tau²))."""
    k, p = X.shape
    tfit = _fit_tau2(y, v, X, method, **options)
    tau2 = tfit.tau2
    fit = _WLS(y, 1.0 / (v + tau2), X)
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


def _heterogeneity(y, v, X, method, tau2, level, tau2_fit: _Tau2Fit | None = None) -> dict:
    """Q test, I², H² (metafor i2def 1) and the typical within-study variance. The
    common-effect fit behind Q is reused from ``tau2_fit`` when its estimator made it (DL, HS)."""
    k, p = X.shape
    if k <= p:
        return {"q": 0.0, "q_df": 0, "q_pval": 1.0, "i2": 0.0, "h2": 1.0, "typical_vi": float("nan")}
    if tau2_fit is not None and tau2_fit.q_fe is not None:
        q_fe, trp_fe = tau2_fit.q_fe, tau2_fit.trp_fe
    else:
        yc = _centred(y, X)
        fe = _WLS(yc, 1.0 / v, X, yc * yc if isinstance(X, _Ones) else None)
        q_fe, trp_fe = fe.yPy(), fe.trP()
    q = max(0.0, q_fe)
    df = k - p
    q_pval = chi2_sf(df, q)
    vt = df / trp_fe  # "typical" within-study variance, Viechtbauer 2010 eq. 9
    if method in _FIXED:
        i2 = max(0.0, 100 * (q - df) / q) if q > 0 else 0.0
        h2 = q / df
    else:
        i2 = 100 * tau2 / (vt + tau2)
        h2 = tau2 / vt + 1
    return {"q": q, "q_df": df, "q_pval": q_pval, "i2": i2, "h2": h2, "typical_vi": vt}


# --------------------------------------------------------------------------- meta-regression
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
        return (f"{_METHOD_NAMES[self.method] if self.method in _FIXED else self.method} "
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
        out["coefficients"] = [
            {key: (str(val) if key == "term" else float(val)) for key, val in row.items()}
            for row in self.coefficients.to_dict(orient="records")
        ]
        return out


def _wls_adj_r2(y, w, X) -> float:
    """Adjusted R² of lm(y ~ X, weights = w) with an intercept (R's summary.lm)."""
    k, p = X.shape
    fit = _WLS(y, w, X)
    rss = fit.yPy()
    ybar = _vdot(w, y) / w.sum()
    fitted = X @ fit.beta
    mss = float(_vdot(w, (fitted - ybar) ** 2))
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

    m = _check_method(method)
    t = _check_test(test)
    level = _check_level(level)
    y, v, names = _validate(yi, vi, labels, what=f"meta-regression ({m})")
    Xm, terms = _design(X, y.size, intercept)
    k, p = Xm.shape
    if k <= p:
        raise ValueError(f"meta-regression ({m}) with {p} coefficients needs more than {p} studies (k = {k})")
    fit = _fit_model(y, v, Xm, m, t, knha_floor, level, **options)
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
    het = _heterogeneity_nocis(y, v, Xm, m, tau2)
    r2 = None
    if intercept:
        if m in _FIXED:
            r2 = 0.0 if np.var(y) == 0 else max(0.0, 100 * _wls_adj_r2(y, 1.0 / v, Xm))
        else:
            tau2_0 = _fit_tau2(y, v, _Ones(k), m, **options).tau2
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


def _heterogeneity_nocis(y, v, X, method, tau2) -> dict:
    k, p = X.shape
    fe = _WLS(_centred(y, X), 1.0 / v, X)
    q = max(0.0, fe.yPy())
    df = k - p
    vt = df / fe.trP()
    if method in _FIXED:
        i2 = max(0.0, 100 * (q - df) / q) if q > 0 else 0.0
        h2 = q / df
    else:
        i2 = 100 * tau2 / (vt + tau2)
        h2 = tau2 / vt + 1
    return {"q": q, "q_df": df, "q_pval": chi2_sf(df, q), "i2": i2, "h2": h2}


# --------------------------------------------------------------------------- subgroups
@dataclass
class SubgroupResult:
    """Subgroup analysis. ``groups``: one MetaResult per subgroup (own tau² each).
    ``q_between``/``df_between``/``p_between``: test for subgroup differences as RevMan 5
    and Borenstein et al. (2009, ch. 19, "separate estimates of tau²") compute it: a
    common-effect Q across the subgroup estimates with weights 1/se², chi²(G - 1) --
    identical to metafor's ``rma(est, sei=se, mods=~group, method="FE")`` QM.
    ``moderator``: the alternative mixed-effects test with one pooled tau² (metafor
    ``rma(yi, vi, mods=~factor(group))``), as a RegressionResult."""

    method: str
    test: str
    groups: dict[str, MetaResult]
    q_between: float
    df_between: int
    p_between: float
    moderator: RegressionResult | None

    def table(self) -> pd.DataFrame:
        import pandas as pd

        rows = [{"group": g, "k": r.k, "estimate": r.estimate, "se": r.se, "ci_low": r.ci_low,
                 "ci_high": r.ci_high, "tau2": r.tau2, "i2": r.i2, "method": r.method}
                for g, r in self.groups.items()]
        df = pd.DataFrame(rows)
        df["group"] = df["group"].astype("string")
        return df

    def summary(self, digits: int = 2) -> str:
        return (f"Subgroups ({self.method}, separate tau² per subgroup), {len(self.groups)} groups: "
                f"Q between = {self.q_between:.{digits}f}, df = {self.df_between}, "
                f"p = {self.p_between:.3g}")

    def to_dict(self) -> dict:
        return {"method": self.method, "test": self.test, "q_between": float(self.q_between),
                "df_between": int(self.df_between), "p_between": float(self.p_between),
                "groups": {g: r.to_dict() for g, r in self.groups.items()},
                "moderator": None if self.moderator is None else self.moderator.to_dict(),
                "summary": self.summary()}


def subgroup_analysis(yi, vi, groups, *, method: str = "REML", test: str = "z",
                      level: float = 0.95, labels=None, **options) -> SubgroupResult:
    """Pool each subgroup separately (its own tau²) and test for subgroup differences.

    A subgroup with a single study cannot estimate tau²; it is pooled as a common-effect
    model (tau² = 0, metafor's behaviour for k = 1) and the MetaResult says so in ``method``.
    Groups keep their order of first appearance.
    """
    import pandas as pd

    m = _check_method(method)
    t = _check_test(test)
    y, v, names = _validate(yi, vi, labels, what="subgroup analysis")
    g = [str(x) for x in (groups.tolist() if hasattr(groups, "tolist") else list(groups))]
    if len(g) != y.size:
        raise ValueError(f"groups has {len(g)} entries but there are {y.size} studies")
    if any(x in ("", "nan", "None", "<NA>") for x in g):
        bad = [names[i] for i, x in enumerate(g) if x in ("", "nan", "None", "<NA>")]
        raise ValueError(f"subgroup analysis: missing subgroup for {', '.join(bad)}")
    order = list(dict.fromkeys(g))
    if len(order) < 2:
        raise ValueError(f"subgroup analysis needs at least 2 subgroups (found {len(order)})")
    ga = np.array(g, dtype=object)
    results: dict[str, MetaResult] = {}
    for name in order:
        ix = np.flatnonzero(ga == name)
        sub_method = m if ix.size >= 2 else "FE"
        sub_test = t if ix.size >= 2 else "z"
        results[name] = meta_analysis(y[ix], v[ix], method=sub_method, test=sub_test, level=level,
                                      labels=[names[i] for i in ix], **options)
    est = np.array([r.estimate for r in results.values()])
    w = 1.0 / np.array([r.se for r in results.values()]) ** 2
    pooled = _vdot(w, est) / w.sum()
    q_between = float(_vdot(w, (est - pooled) ** 2))
    df_between = len(order) - 1
    dummies = pd.DataFrame({f"group[{name}]": (ga == name).astype(float) for name in order[1:]})
    moderator = None
    if y.size > len(order):
        moderator = meta_regression(y, v, dummies, method=m, test=t, level=level, labels=names, **options)
    return SubgroupResult(method=m, test=t, groups=results, q_between=q_between,
                          df_between=df_between, p_between=chi2_sf(df_between, q_between),
                          moderator=moderator)


# --------------------------------------------------------------------------- cluster-robust
@dataclass
class RobustResult:
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

    @property
    def estimate(self) -> float:
        return float(self.coefficients["estimate"].iloc[0])

    @property
    def se(self) -> float:
        return float(self.coefficients["se"].iloc[0])

    def summary(self, digits: int = 2) -> str:
        row = self.coefficients.iloc[0]
        return (f"{self.method}, cluster-robust (CR1, t({self.df})), {self.n_clusters} clusters: "
                f"{row['estimate']:.{digits}f} [{row['ci_low']:.{digits}f}, {row['ci_high']:.{digits}f}]")

    def to_dict(self) -> dict:
        return {"df": int(self.df), "n_clusters": int(self.n_clusters), "tau2": float(self.tau2),
                "method": self.method,
                "qm": None if self.qm is None else float(self.qm),
                "qm_pval": None if self.qm_pval is None else float(self.qm_pval),
                "coefficients": [{key: (str(val) if key == "term" else float(val))
                                  for key, val in row.items()}
                                 for row in self.coefficients.to_dict(orient="records")],
                "summary": self.summary()}


def robust_variance(result, cluster, *, adjust: bool = True) -> RobustResult:
    """Cluster-robust variance for a :class:`MetaResult` or :class:`RegressionResult`.

    V = (X'WX)^-1 [sum_c X_c' W_c e_c e_c' W_c X_c] (X'WX)^-1 with W = 1/(vi + tau²) and
    e the residuals, times n/(n - p) when ``adjust`` (metafor's default "CR1"; Hedges,
    Tipton & Johnson 2010). The bread is (X'WX)^-1 also for Knapp-Hartung fits (metafor
    would carry the Knapp-Hartung factor into it; tests are t(n - p) either way).
    """
    import pandas as pd
    from scipy import stats

    if isinstance(result, MetaResult):
        X = np.ones((result.k, 1))
        terms, btt = ["intercept"], []
        beta = np.array([result.estimate])
    elif isinstance(result, RegressionResult):
        X, terms, btt, beta = result.X, list(result.terms), list(result.btt), result.beta
    else:
        raise TypeError("robust_variance() takes a MetaResult or RegressionResult")
    y, v, tau2, level = result.yi, result.vi, result.tau2, result.level
    cl = pd.Series(list(cluster))
    if len(cl) != y.size:
        raise ValueError(f"cluster has {len(cl)} entries but there are {y.size} studies")
    if cl.isna().any():
        bad = [result.labels[i] for i in np.flatnonzero(cl.isna().to_numpy())]
        raise ValueError(f"cluster-robust variance: missing cluster for {', '.join(bad)}")
    codes, uniques = pd.factorize(cl)
    n = len(uniques)
    p = X.shape[1]
    dfs = n - p
    if dfs <= 0:
        raise ValueError(f"number of clusters ({n}) must be larger than the number of coefficients ({p})")
    w = 1.0 / (v + tau2)
    A_inv = np.linalg.inv((X.T * w) @ X)
    e = y - X @ beta
    scores = X * (w * e)[:, None]  # rows: X_i w_i e_i
    per_cluster = np.zeros((n, p))
    np.add.at(per_cluster, codes, scores)
    meat = per_cluster.T @ per_cluster
    vb = A_inv @ meat @ A_inv
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
                        qm_pval=qm_pval, tau2=float(tau2), method=result.method)


# --------------------------------------------------------------------------- three-level model
@dataclass
class MultilevelResult:
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

    @property
    def estimate(self) -> float:
        return float(self.coefficients["estimate"].iloc[0])

    @property
    def se(self) -> float:
        return float(self.coefficients["se"].iloc[0])

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
                "coefficients": [{key: (str(val) if key == "term" else float(val))
                                  for key, val in row.items()}
                                 for row in self.coefficients.to_dict(orient="records")],
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
    level = _check_level(level)
    y, v, names = _validate(yi, vi, labels, what="three-level model")
    cl = pd.Series(list(cluster))
    if len(cl) != y.size:
        raise ValueError(f"cluster has {len(cl)} entries but there are {y.size} effect sizes")
    if cl.isna().any():
        bad = [names[i] for i in np.flatnonzero(cl.isna().to_numpy())]
        raise ValueError(f"three-level model: missing cluster for {', '.join(bad)}")
    codes, uniques = pd.factorize(cl)
    Xm, terms = _design(X, y.size, intercept)
    if isinstance(Xm, _Ones):
        Xm = np.ones((y.size, 1))
    k, p = Xm.shape
    if len(uniques) < 2 or k - p < 2:
        raise ValueError(f"three-level model needs at least 2 clusters and k > p + 1 (k = {k}, "
                         f"{len(uniques)} clusters)")
    model = _ThreeLevel(y, v, Xm, codes, len(uniques))
    start = _fit_tau2(y, v, Xm, "REML").tau2
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
