"""Between-study variance tau²: the estimators of ``metafor::rma.uni()`` and the Q-profile
confidence interval, each following metafor (3.8-1 source) step by step, including its
starting values, step rule and stopping rule, so that results agree with metafor to
floating-point precision rather than merely to the convergence tolerance:

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

The Q-profile interval for tau² is Viechtbauer (2007, Stat Med 26:37), as ``confint.rma.uni()``.
"""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np

from .checks import FIXED_METHODS, check_enough_studies, check_method, validate_effects
from .wls import InterceptOnly, WeightedLeastSquares, centred, design_matrix, vdot

__all__ = [
    "DEFAULT_THRESHOLD",
    "DEFAULT_TOL",
    "DEFAULT_MAXITER",
    "CONVERGED_THRESHOLD",
    "Tau2Fit",
    "fit_tau2",
    "estimate_tau2",
    "q_profile_tau2_ci",
    "q_profile_bounds",
    "r_uniroot",
]

_DBL_EPS = np.finfo(float).eps
# metafor's rma.uni() control defaults (metafor 3.8-1).
DEFAULT_THRESHOLD = 1e-5
DEFAULT_TOL = _DBL_EPS ** 0.25
DEFAULT_MAXITER = 100
# ``converged=True``: iterate until tau² moves by less than this (Fisher scoring) and find
# the Paule-Mandel root to this tolerance, instead of metafor's defaults above, which stop
# up to about 1e-6 from the converged value; for comparisons with peers that converge further.
CONVERGED_THRESHOLD = 1e-12


def _qe(y: np.ndarray, v: np.ndarray, X: np.ndarray, tau2: float) -> float:
    """Generalised Q: sum of weighted squared residuals at weights 1/(v + tau2)."""
    return WeightedLeastSquares(y, 1.0 / (v + tau2), X).yPy()


def _qe_function(y: np.ndarray, v: np.ndarray, X):
    """tau2 -> generalised Q, for root finding. Intercept-only: with yc = y - mean(y),
    Q = sum w yc² - (sum w yc)² / sum w: one division and one matrix-vector product per
    call (the three sums in a single pass over [1, yc, yc²] instead of three passes)."""
    if not isinstance(X, InterceptOnly):
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


def r_uniroot(f, lower: float, upper: float, *, tol: float = DEFAULT_TOL, maxiter: int = 1000,
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


@dataclass
class Tau2Fit:
    """tau² and its standard error as one estimator found them."""

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


def fit_tau2(y: np.ndarray, v: np.ndarray, X: np.ndarray, method: str, *,
              threshold: float = DEFAULT_THRESHOLD, tol: float = DEFAULT_TOL, maxiter: int = DEFAULT_MAXITER,
              stepadj: float = 1.0, tau2_init: float | None = None,
              tau2_max: float | None = None, ll0check: bool = True,
              converged: bool = False) -> Tau2Fit:
    """tau² of checked arrays and a design (see :func:`design_matrix`) by ``method``, with
    metafor's control values; :func:`estimate_tau2` is the checked entry point."""
    k, p = X.shape
    if converged:
        threshold = min(threshold, CONVERGED_THRESHOLD)
        tol = min(tol, CONVERGED_THRESHOLD)
    if method in FIXED_METHODS:
        return Tau2Fit(0.0, float("nan"))
    check_enough_studies(method, k, p)
    yc = centred(y, X)
    yc2 = yc * yc if isinstance(X, InterceptOnly) and method != "PM" else None  # PM builds its own

    if method == "HS":
        fe = WeightedLeastSquares(yc, 1.0 / v, X, yc2)
        sw = float(fe.w.sum())
        q_fe, trP = fe.yPy(), fe.trP()
        tau2 = max(0.0, (q_fe - k) / sw)
        se = math.sqrt(1 / sw**2 * (2 * (k - p) + 4 * tau2 * trP + 2 * tau2**2 * fe.trPP()))
        return Tau2Fit(tau2, se, q_fe=q_fe, trp_fe=trP)

    if method == "DL":
        fe = WeightedLeastSquares(yc, 1.0 / v, X, yc2)
        trP, q_fe = fe.trP(), fe.yPy()
        tau2 = max(0.0, (q_fe - (k - p)) / trP)
        se = math.sqrt(1 / trP**2 * (2 * (k - p) + 4 * tau2 * trP + 2 * tau2**2 * fe.trPP()))
        return Tau2Fit(tau2, se, q_fe=q_fe, trp_fe=trP)

    if method == "SJ":
        tau2_0 = float(np.var(y)) if tau2_init is None else float(tau2_init)
        fit = WeightedLeastSquares(yc, 1.0 / (v + tau2_0), X, yc2)
        tau2 = max(0.0, tau2_0 * fit.yPy() / (k - p))
        trPVPV = fit.tr_PVPV(v)
        sum_PV_P = float(vdot(v, fit.diag_PP()))
        se = math.sqrt(tau2_0**2 / (k - p) ** 2
                       * (2 * trPVPV + 4 * tau2 * sum_PV_P + 2 * tau2**2 * fit.trPP()))
        return Tau2Fit(tau2, se)

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
        if isinstance(X, InterceptOnly):  # Q and trace(P) of the common-effect fit, from weights 1/v
            q_fe, w0 = q_at_zero + target, qfun.w
            sw0 = float(w0.sum())
            trp_fe = sw0 - float(vdot(w0, w0)) / sw0
        if q_at_zero < 0:
            tau2 = 0.0
        else:
            q_at_max = qfun(upper) - target
            if q_at_max > 0:
                raise ValueError(f"method PM: no root of the generalised Q below tau2_max = {upper}")
            newton = (_pm_newton(qfun.sums_of, v, target, upper, tol, maxiter)
                      if converged and isinstance(X, InterceptOnly) else None)
            tau2 = newton if newton is not None else r_uniroot(
                lambda t: qfun(t) - target, 0.0, upper, tol=tol, maxiter=maxiter,
                f_lower=q_at_zero, f_upper=q_at_max)
        tau2 = max(0.0, tau2)
        w = 1.0 / (v + tau2)
        se = math.sqrt(2 * k**2 / (k - p) / w.sum() ** 2)
        return Tau2Fit(tau2, se, q_fe=q_fe, trp_fe=trp_fe)

    # HE: needed as such and as the starting value of ML, REML and EB.
    if isinstance(X, InterceptOnly):
        rss = float(yc2.sum())  # yc is centred: the OLS residuals
        trPV = float(v.sum()) * (1 - 1 / k)
    else:
        ols = WeightedLeastSquares(yc, np.ones(k), X)
        rss = ols.yPy()
        XtX_inv = ols.A_inv
        h_diag = np.einsum("ij,jk,ik->i", X, XtX_inv, X)
        trPV = float(v.sum() - vdot(h_diag, v))
    tau2_he = (rss - trPV) / (k - p)
    if method == "HE":
        tau2 = max(0.0, tau2_he)
        # trace(PV PV) for the unweighted projection P = I - H.
        if isinstance(X, InterceptOnly):
            m = float(v.sum()) / k
            trPVPV = float(vdot(v, v)) * (1 - 2 / k) + m * m
        else:
            XtVX = (X.T * v) @ X
            XtV2X = (X.T * v**2) @ X
            M = XtX_inv @ XtVX
            trPVPV = float((v**2).sum() - 2 * np.trace(XtX_inv @ XtV2X) + np.trace(M @ M))
        se = math.sqrt(1 / (k - p) ** 2 * (2 * trPVPV + 4 * tau2 * trPV + 2 * tau2**2 * (k - p)))
        return Tau2Fit(tau2, se)

    # ML, REML, EB: metafor's Fisher scoring / EB update.
    tau2 = max(0.0, tau2_he) if tau2_init is None else float(tau2_init)
    change = threshold + 1
    iterations = 0
    buf = np.empty_like(v)  # weights, rewritten in place at each step
    sums = _ScoringSums(yc, yc2) if isinstance(X, InterceptOnly) else None
    while change > threshold:
        iterations += 1
        old = tau2
        if sums is not None:
            adj = sums.adjustment(v, tau2, method, k, p)
        else:
            np.add(v, tau2, out=buf)
            np.divide(1.0, buf, out=buf)
            fit = WeightedLeastSquares(yc, buf, X, yc2)
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
        se = math.sqrt(2 / WeightedLeastSquares(yc, w, X, yc2).trPP())
    else:
        se = math.sqrt(2 * k**2 / (k - p) / w.sum() ** 2)
    return Tau2Fit(tau2, se, iterations)


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
    fit = WeightedLeastSquares(y, 1.0 / (v + tau2), X)
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
    m = check_method(method)
    y, v, _ = validate_effects(yi, vi, labels, what=f"estimate_tau2({m})")
    Xm, _ = design_matrix(X, y.size, intercept)
    return float(fit_tau2(y, v, Xm, m, **options).tau2)


# --------------------------------------------------------------------------- Q profile
def q_profile_tau2_ci(yi, vi, *, X=None, intercept: bool = True, level: float = 0.95,
                      tau2_estimate: float = 0.0, tol: float = DEFAULT_TOL,
                      maxiter: int = 1000) -> tuple[float, float]:
    """Q-profile confidence interval for tau² (Viechtbauer 2007), as ``confint.rma.uni()``:
    the tau² values at which the generalised Q equals the chi²(k - p) quantiles, searched by
    ``uniroot`` on [0, max(100, 10 tau2_estimate)]; a bound that does not exist is 0."""
    y, v, _ = validate_effects(yi, vi, None, what="Q-profile interval")
    Xm, _ = design_matrix(X, y.size, intercept)
    return q_profile_bounds(y, v, Xm, level, tau2_estimate, tol, maxiter)


def q_profile_bounds(y, v, X, level, tau2_estimate, tol=DEFAULT_TOL, maxiter=1000):
    """:func:`q_profile_tau2_ci` of checked arrays and a design."""
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
