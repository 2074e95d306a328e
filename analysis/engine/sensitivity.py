"""Sensitivity analyses and small-study effects for a univariate meta-analysis.

Sensitivity: leave-one-out (metafor ``leave1out()``), influence diagnostics
(``influence.rma.uni()``: Viechtbauer & Cheung 2010, Res Synth Methods 1:112-125), Baujat plot
data (Baujat et al. 2002, Stat Med 21:2641-2652; ``baujat()``), GOSH over subsets (Olkin,
Dahabreh & Trikalinos 2012, Res Synth Methods 3:214-223; ``gosh()``), cumulative
meta-analysis (Lau et al. 1992, NEJM 327:248-254; ``cumul()``) and permutation tests
(Follmann & Proschan 1999, Biometrics 55:1131; Higgins & Thompson 2004; ``permutest()``).

Small-study effects: Egger's regression test (Egger et al. 1997, BMJ 315:629-634; metafor
``regtest()``), Begg & Mazumdar's rank correlation (1994, Biometrics 50:1088-1101;
``ranktest()``), trim-and-fill (Duval & Tweedie 2000, Biometrics 56:455-463 and JASA
95:89-98; ``trimfill()``), PET-PEESE (Stanley & Doucouliagos 2014, Res Synth Methods
5:60-78) and contour-enhanced funnel plot data (Peters et al. 2008, J Clin Epidemiol
61:991-996). The Cochrane Handbook (v6.3, sec. 13.3.5.4) advises against these tests with
fewer than 10 studies: they still run, but the result says ``k_sufficient = False`` and a
warning is issued.

Speed: every analysis that refits the model many times (k left-out fits, 2^k - 1 subsets,
thousands of permutations) fits all of them at once. Each fit is a row of a (fits x studies)
array; a study left out of a fit has weight zero. Fixed-effect and DerSimonian-Laird fits
are closed forms; REML and ML run metafor's Fisher scoring (start at the Hedges estimate,
step halving at zero, stop when the change is at most ``threshold``, log-likelihood check
at tau2 = 0) on every row simultaneously, with the traces of P = W - W X (X'WX)^-1 X'W
computed from p-by-p matrices so that no k-by-k matrix is ever formed. The remaining
estimators (PM, HS, SJ, EB) are fitted one by one with :func:`analysis.engine.models.estimate_tau2`.
"""
from __future__ import annotations

import math
import warnings
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

if TYPE_CHECKING:  # pandas and scipy load only inside the functions that use them
    import pandas as pd

__all__ = [
    "leave_one_out",
    "influence_diagnostics",
    "baujat",
    "gosh",
    "GoshResult",
    "cumulative_meta_analysis",
    "permutation_test",
    "PermutationResult",
    "egger_test",
    "EggerResult",
    "begg_test",
    "BeggResult",
    "trim_and_fill",
    "TrimFillResult",
    "pet_peese",
    "PetPeeseResult",
    "funnel_contours",
    "MIN_K_SMALL_STUDY_TESTS",
]

_DBL_EPS = float(np.finfo(float).eps)
_FIXED = ("FE", "EE", "CE")
_VECTORISED = _FIXED + ("DL", "HE", "REML", "ML")
_OTHER = ("PM", "HS", "SJ", "EB")
_METHODS = _VECTORISED + _OTHER
# metafor 3.8-1 control defaults for rma.uni().
_THRESHOLD = 1e-5
_MAXITER = 100
_LL_TOL = _DBL_EPS ** 0.25
# permutest(): observed statistics are compared with a tolerance of sqrt(eps).
_COMPTOL = _DBL_EPS ** 0.5
# Cochrane Handbook v6.3 sec. 13.3.5.4: tests for funnel plot asymmetry need at least 10 studies.
MIN_K_SMALL_STUDY_TESTS = 10


# ============================================================================ input checks
def _labels(labels: Sequence[Any] | None, k: int) -> list[str]:
    if labels is None:
        return [f"Study {i + 1}" for i in range(k)]
    from .models import unique_labels  # metafor's .make.unique(): "A.1", "A.2"

    names = unique_labels(labels)
    if len(names) != k:
        raise ValueError(f"{len(names)} labels given for {k} studies")
    return names


def _validate(yi, vi, labels=None, *, what: str) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Float arrays of effect sizes and sampling variances; a ValueError names each bad study."""
    y = np.asarray(yi, dtype=float).ravel()
    v = np.asarray(vi, dtype=float).ravel()
    if y.shape != v.shape:
        raise ValueError(f"{what}: yi has {y.size} values but vi has {v.size}")
    if y.size == 0:
        raise ValueError(f"{what}: no studies given (k = 0)")
    names = _labels(labels, y.size)
    problems = [f"{names[i]}: effect size yi is {y[i]} (must be a finite number)"
                for i in np.flatnonzero(~np.isfinite(y))]
    problems += [f"{names[i]}: sampling variance vi is {v[i]} (must be a positive finite number)"
                 for i in np.flatnonzero(~np.isfinite(v) | (v <= 0))]
    if problems:
        raise ValueError(f"{what}: " + "; ".join(problems))
    return y, v, names


def _check_method(method: str) -> str:
    m = str(method).upper()
    if m not in _METHODS:
        raise ValueError(f"unknown tau² method {method!r}; choose one of {', '.join(_METHODS)}")
    return m


def _check_test(test: str) -> str:
    t = str(test).lower()
    if t in ("hksj", "kh", "knapp-hartung"):
        t = "knha"
    if t not in ("z", "knha", "adhoc"):
        raise ValueError(f"unknown test {test!r}; choose 'z', 'knha' or 'adhoc' "
                         "(Knapp-Hartung with the ad hoc floor)")
    return t


def _require_k(k: int, minimum: int, what: str) -> None:
    if k < minimum:
        raise ValueError(f"{what} needs at least {minimum} studies (k = {k})")


def _min_k_model(method: str, p: int = 1) -> int:
    """Studies a fit needs: p for a common-effect model, p + 1 to estimate tau²."""
    return p if method in _FIXED else p + 1


# ============================================================================ batched fits
def _inv_small(A: np.ndarray) -> np.ndarray:
    """Inverse of a stack of p-by-p matrices (closed form for p = 1 and 2)."""
    p = A.shape[-1]
    if p == 1:
        return 1.0 / A
    if p == 2:
        a, b, c, d = A[..., 0, 0], A[..., 0, 1], A[..., 1, 0], A[..., 1, 1]
        det = a * d - b * c
        out = np.empty_like(A)
        out[..., 0, 0], out[..., 0, 1] = d / det, -b / det
        out[..., 1, 0], out[..., 1, 1] = -c / det, a / det
        return out
    return np.linalg.inv(A)


def _shared(a: np.ndarray) -> np.ndarray:
    """A (B, k) array whose rows are one broadcast vector becomes that (k,) vector, so that
    per-row arithmetic broadcasts it instead of copying it B times."""
    a = np.asarray(a, dtype=float)
    if a.ndim == 2 and a.shape[0] > 0 and a.strides[0] == 0:
        return a[0]
    return a


def _rows(a, idx, shared_ndim: int = 1):
    """Rows ``idx`` of a per-fit array; a shared array (ndim == shared_ndim) or None is kept."""
    return a if a is None or a.ndim == shared_ndim else a[idx]


def _wls(Y: np.ndarray, W: np.ndarray, X: np.ndarray | None):
    """Weighted least squares in every row: beta (B, p), (X'WX)^-1 (B, p, p), residuals (B, k).

    ``X is None`` means intercept only (closed form); otherwise X is (B, k, p) or (k, p).
    """
    if X is None:
        sw = W.sum(axis=1)
        # einsum rather than W @ Y: a threaded BLAS matrix-vector product is no faster here
        # and much slower on a busy machine
        beta = np.einsum("bk,k->b" if Y.ndim == 1 else "bk,bk->b", W, Y) / sw
        return beta[:, None], (1.0 / sw)[:, None, None], Y - beta[:, None]
    XW = X * W[:, :, None]
    A = _inv_small(np.einsum("bkp,bkq->bpq", XW, np.broadcast_to(X, XW.shape)))
    beta = np.einsum("bpq,bq->bp", A, np.einsum("bkp,bk->bp", XW, np.broadcast_to(Y, W.shape)))
    resid = Y - np.einsum("kp,bp->bk" if X.ndim == 2 else "bkp,bp->bk", X, beta)
    return beta, A, resid


def _traces(W: np.ndarray, X: np.ndarray | None, A: np.ndarray):
    """tr(P) and tr(PP) for P = W - W X A X'W, A = (X'WX)^-1, from p-by-p products:
    tr(P) = sum w - tr(A X'W²X); tr(PP) = sum w² - 2 tr(A X'W³X) + tr((A X'W²X)²)."""
    W2 = W * W
    if X is None:
        a = A[:, 0, 0]
        s2 = W2.sum(axis=1)
        s3 = np.einsum("bk,bk->b", W2, W)
        return W.sum(axis=1) - a * s2, s2 - 2 * a * s3 + (a * s2) ** 2
    Xb = np.broadcast_to(X, W.shape + (X.shape[-1],))
    AB2 = A @ np.einsum("bk,bkp,bkq->bpq", W2, Xb, Xb)
    AB3 = A @ np.einsum("bk,bkp,bkq->bpq", W2 * W, Xb, Xb)
    trP = W.sum(axis=1) - np.trace(AB2, axis1=1, axis2=2)
    trPP = W2.sum(axis=1) - 2 * np.trace(AB3, axis1=1, axis2=2) + np.einsum("bij,bji->b", AB2, AB2)
    return trP, trPP


def _loglik(Y, V, X, M, tau2, kk, p, reml: bool) -> np.ndarray:
    """Log-likelihood as metafor's ll0 check computes it (REML without the |X'X| term)."""
    VT = V + tau2[:, None]
    W = M / VT
    beta, A, e = _wls(Y, W, X)
    rss = np.einsum("bk,bk,bk->b", W, e, e)
    if V.ndim == 1 and not tau2.any():
        logv = np.einsum("bk,k->b", M, np.log(V))
    else:
        logv = np.einsum("bk,bk->b", M, np.log(VT))
    if not reml:
        return -0.5 * kk * math.log(2 * math.pi) - 0.5 * logv - 0.5 * rss
    logdet = -np.linalg.slogdet(A)[1]
    return -0.5 * (kk - p) * math.log(2 * math.pi) - 0.5 * logv - 0.5 * logdet - 0.5 * rss


def _tau2_many(Y, V, X, M, method: str, *, threshold: float, maxiter: int,
               ll0check: bool = True, tol: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """tau² of every row (metafor's algorithm per method) and a flag for rows that failed.

    Rows with one study get tau² = 0 as in ``rma.uni()`` (k = 1 is fitted as common effect).
    """
    B, k = M.shape
    p = 1 if X is None else X.shape[-1]
    kk = M.sum(axis=1)
    tau2 = np.zeros(B)
    failed = np.zeros(B, dtype=bool)
    if method in _FIXED:
        return tau2, failed
    single = kk == 1
    rows = np.flatnonzero(~single)
    if rows.size == 0:
        return tau2, failed

    def take(a, idx):
        """Rows of a per-fit design (B, k, p); a shared design (k, p) or None is kept."""
        return _rows(a, idx, shared_ndim=2)

    Yr, Vr, Mr, Xr, kr = _rows(Y, rows), _rows(V, rows), M[rows], take(X, rows), kk[rows]
    if method == "DL":
        W = Mr / Vr
        beta, A, e = _wls(Yr, W, Xr)
        trP, _ = _traces(W, Xr, A)
        tau2[rows] = np.maximum(0.0, ((W * e * e).sum(axis=1) - (kr - p)) / trP)
        return tau2, failed
    if method in _OTHER:
        from . import models  # fitted one by one: not a speed path
        for j, b in enumerate(rows):
            sel = Mr[j] > 0
            Xj = None if Xr is None else (Xr[j] if Xr.ndim == 3 else Xr)[sel]
            try:
                yj = np.broadcast_to(Yr, Mr.shape)[j]
                vj = np.broadcast_to(Vr, Mr.shape)[j]
                extra = {} if tol is None else {"tol": tol}
                tau2[b] = models.estimate_tau2(yj[sel], vj[sel], method, X=Xj,
                                               intercept=Xj is None, threshold=threshold,
                                               maxiter=maxiter, **extra)
            except ValueError:
                tau2[b], failed[b] = np.nan, True
        return tau2, failed
    # Hedges (HE) estimator: the answer for HE, the starting value for ML and REML.
    beta, A, e = _wls(Yr, Mr, Xr)
    rss = (Mr * e * e).sum(axis=1)
    if Xr is None:
        trPV = (Mr * Vr).sum(axis=1) * (1 - 1 / kr)
    else:
        Xb = np.broadcast_to(Xr, Mr.shape + (p,))
        XVX = np.einsum("bk,bkp,bkq->bpq", Mr * Vr, Xb, Xb)
        trPV = (Mr * Vr).sum(axis=1) - np.trace(A @ XVX, axis1=1, axis2=2)
    he = (rss - trPV) / (kr - p)
    if method == "HE":
        tau2[rows] = np.maximum(0.0, he)
        return tau2, failed
    t = np.maximum(0.0, he)
    active = np.arange(rows.size)
    iteration = 0
    while active.size:
        iteration += 1
        if iteration > maxiter:
            failed[rows[active]] = True
            t[active] = np.nan
            break
        ta = t[active]
        Wa = Mr[active] / (_rows(Vr, active) + ta[:, None])
        Xa = take(Xr, active)
        beta, A, e = _wls(_rows(Yr, active), Wa, Xa)
        trP, trPP = _traces(Wa, Xa, A)
        PY = Wa * e
        if method == "REML":
            adj = ((PY * PY).sum(axis=1) - trP) / trPP
        else:  # ML
            adj = ((PY * PY).sum(axis=1) - Wa.sum(axis=1)) / (Wa * Wa).sum(axis=1)
        adj = np.where(np.isnan(adj), 0.0, adj)
        # metafor halves the step until tau² stays >= 0; from tau² = 0 a negative step halves
        # down to (minus) zero.
        adj = np.where((ta == 0) & (adj < 0), 0.0, adj)
        negative = ta + adj < 0
        while negative.any():
            adj = np.where(negative, adj / 2, adj)
            negative = ta + adj < 0
        new = ta + adj
        t[active] = new
        active = active[np.abs(ta - new) > threshold]
    if ll0check:
        check = np.flatnonzero(~failed[rows] & (t > threshold))
        if check.size:
            Xc = take(Xr, check)
            args = (_rows(Yr, check), _rows(Vr, check), Xc, Mr[check])
            reml = method == "REML"
            ll0 = _loglik(*args, np.zeros(check.size), kr[check], p, reml)
            ll = _loglik(*args, t[check], kr[check], p, reml)
            stuck = check[ll0 - ll > _LL_TOL]
            t[stuck] = 0.0
    tau2[rows] = np.where(np.isnan(t), np.nan, np.maximum(0.0, t))
    return tau2, failed


@dataclass
class _Fits:
    """Results of B fits (one per row); arrays of shape (B,) unless noted."""
    k: np.ndarray
    beta: np.ndarray  # (B, p)
    vb: np.ndarray  # (B, p, p), includes the Knapp-Hartung factor
    se: np.ndarray  # (B, p)
    stat: np.ndarray  # (B, p)
    pval: np.ndarray  # (B, p)
    ci_low: np.ndarray  # (B, p)
    ci_high: np.ndarray  # (B, p)
    tau2: np.ndarray
    s2w: np.ndarray
    ddf: np.ndarray
    qe: np.ndarray
    qe_pval: np.ndarray
    i2: np.ndarray
    h2: np.ndarray
    failed: np.ndarray
    qm: np.ndarray | None = None


def _fit_many(Y, V, X, M, *, method: str, test: str = "z", level: float = 0.95,
              threshold: float = _THRESHOLD, maxiter: int = _MAXITER, tau2=None,
              qm: bool = False, need_q: bool = True, tol: float | None = None) -> _Fits:
    """Fit ``rma.uni(yi, vi, mods=X, method, test)`` on every row of Y (B, k).

    V: (k,) or (B, k) sampling variances; X: None (intercept only), (k, p) or (B, k, p);
    M: (B, k) 0/1 inclusion weights. Formulas as in ``rma.uni()`` of metafor 3.8-1: GLS
    estimate with weights 1/(v + tau²); Knapp & Hartung (2003) factor s2w = sum w e² / (k - p)
    (floored at 1 for test "adhoc"); Q with weights 1/v; I² = 100 tau² / (tau² + vt) with the
    typical variance vt = (k - p) / tr(P) (Higgins & Thompson 2002; Viechtbauer 2010 eq. 9),
    and I² = (Q - (k - p)) / Q for common-effect models.
    """
    from scipy import stats

    Y = np.asarray(Y, dtype=float)
    M = np.asarray(M, dtype=float)
    Y = _shared(Y)
    V = _shared(V)
    B = M.shape[0]
    p = 1 if X is None else X.shape[-1]
    kk = M.sum(axis=1)
    if tau2 is None:
        tau2, failed = _tau2_many(Y, V, X, M, method, threshold=threshold, maxiter=maxiter,
                                  tol=tol)
    else:
        tau2 = np.broadcast_to(np.asarray(tau2, dtype=float), (B,)).copy()
        failed = np.zeros(B, dtype=bool)
    t_safe = np.where(np.isnan(tau2), 0.0, tau2)
    W = M / (V + t_safe[:, None])
    beta, A, e = _wls(Y, W, X)
    s2w = np.ones(B)
    single = kk == 1
    if test in ("knha", "adhoc"):
        rss = (W * e * e).sum(axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            s2w = np.where(rss <= _DBL_EPS, 0.0, rss / (kk - p))
        if test == "adhoc":
            s2w = np.maximum(s2w, 1.0)
        s2w[single] = 1.0  # metafor switches to test = "z" when k = 1
    vb = A * s2w[:, None, None]
    se = np.sqrt(np.diagonal(vb, axis1=1, axis2=2))
    with np.errstate(divide="ignore", invalid="ignore"):
        stat = beta / se
    ddf = np.where((test != "z") & ~single, kk - p, np.inf)
    use_t = np.isfinite(ddf)[:, None]
    df_col = np.where(np.isfinite(ddf), ddf, 1.0)[:, None]
    pval = np.where(use_t, 2 * stats.t.sf(np.abs(stat), df_col), 2 * stats.norm.sf(np.abs(stat)))
    crit = np.where(use_t[:, 0], stats.t.isf((1 - level) / 2, df_col[:, 0]),
                    stats.norm.isf((1 - level) / 2))[:, None]
    ci_low, ci_high = beta - crit * se, beta + crit * se
    qe = np.zeros(B)
    qe_pval = np.ones(B)
    i2 = np.zeros(B)
    h2 = np.ones(B)
    if need_q:
        multi = kk > p
        W0 = M / V
        if method in _FIXED:
            e0, A0 = e, A
        else:
            _, A0, e0 = _wls(Y, W0, X)
        qe = np.maximum(0.0, (W0 * e0 * e0).sum(axis=1))
        df_q = np.maximum(kk - p, 1)
        qe_pval = np.where(multi, stats.chi2.sf(qe, df_q), 1.0)
        with np.errstate(divide="ignore", invalid="ignore"):
            if method in _FIXED:
                i2 = np.maximum(0.0, 100 * (qe - (kk - p)) / qe)
                h2 = qe / (kk - p)
            else:
                trP0, _ = _traces(W0, X, A0)
                vt = (kk - p) / trP0
                i2 = 100 * tau2 / (vt + tau2)
                h2 = tau2 / vt + 1
        qe = np.where(multi, qe, 0.0)
        i2 = np.where(multi, i2, 0.0)
        h2 = np.where(multi, h2, 1.0)
    qm_values = None
    if qm and p > 1:
        b1 = beta[:, 1:]
        qm_values = np.einsum("bp,bpq,bq->b", b1, np.linalg.inv(vb[:, 1:, 1:]), b1)
        if test != "z":
            qm_values = qm_values / (p - 1)
    if failed.any():
        # A fit whose tau² did not converge has no result: every column of its row is NaN,
        # as metafor's NA rows (never the common-effect values at tau² = 0).
        bad = failed
        beta, se, stat, pval, ci_low, ci_high = (np.where(bad[:, None], np.nan, a) for a in
                                                 (beta, se, stat, pval, ci_low, ci_high))
        vb = np.where(bad[:, None, None], np.nan, vb)
        s2w, qe, qe_pval, i2, h2 = (np.where(bad, np.nan, a) for a in (s2w, qe, qe_pval, i2, h2))
        if qm_values is not None:
            qm_values = np.where(bad, np.nan, qm_values)
    return _Fits(kk, beta, vb, se, stat, pval, ci_low, ci_high, tau2, s2w, ddf, qe, qe_pval,
                 i2, h2, failed, qm_values)


def _warn_failed(fits: _Fits, names: Sequence[str], what: str) -> None:
    bad = np.flatnonzero(fits.failed)
    if bad.size:
        listed = ", ".join(str(names[i]) for i in bad[:10]) + (" ..." if bad.size > 10 else "")
        warnings.warn(f"{what}: the tau² estimate did not converge for {bad.size} fit(s) "
                      f"({listed}); their rows are NaN", RuntimeWarning, stacklevel=3)


def _fit_one(y, v, method, test="z", level=0.95, threshold=_THRESHOLD, X=None,
             maxiter=_MAXITER, tol=None) -> _Fits:
    Xb = None if X is None else X[None]
    return _fit_many(y[None], v, Xb, np.ones((1, y.size)), method=method, test=test,
                     level=level, threshold=threshold, maxiter=maxiter, tol=tol)


# Rows x studies per batch: bounds memory (about 10 arrays of this many floats at once).
_BATCH_CELLS = 4_000_000


def _concat_fits(parts: list[_Fits]) -> _Fits:
    if len(parts) == 1:
        return parts[0]
    merged = {}
    for name in _Fits.__dataclass_fields__:
        values = [getattr(f, name) for f in parts]
        merged[name] = None if values[0] is None else np.concatenate(values)
    return _Fits(**merged)


def _fit_masked_rows(y, v, mask_rows, n_rows: int, **fit_args) -> _Fits:
    """Fit intercept-only models to ``n_rows`` subsets of the same studies in batches;
    ``mask_rows(start, stop)`` gives the inclusion mask (stop - start, k) of a batch."""
    block = max(1, _BATCH_CELLS // max(y.size, 1))
    parts = []
    for start in range(0, n_rows, block):
        M = mask_rows(start, min(start + block, n_rows))
        parts.append(_fit_many(np.broadcast_to(y, M.shape), v, None, M, **fit_args))
    return _concat_fits(parts)


def _leave_one_out_mask(k: int):
    def rows(start, stop):
        M = np.ones((stop - start, k), dtype=bool)
        M[np.arange(stop - start), np.arange(start, stop)] = False
        return M
    return rows


_TEST_NAMES = {"z": "z test", "knha": "Knapp-Hartung", "adhoc": "Knapp-Hartung (ad hoc floor)"}


def _label_table(table: pd.DataFrame, analysis: str, method: str, test: str | None,
                 k: int) -> pd.DataFrame:
    """Record what was fitted in ``table.attrs`` (analysis, method, test, k, a summary line)."""
    parts = [method] + ([_TEST_NAMES[test]] if test else []) + [f"k = {k}"]
    table.attrs.update({"analysis": analysis, "method": method, "test": test, "k": int(k),
                        "summary": f"{analysis} ({', '.join(parts)})"})
    return table


def _fit_table(fits: _Fits) -> dict[str, np.ndarray]:
    return {
        "estimate": fits.beta[:, 0], "se": fits.se[:, 0], "statistic": fits.stat[:, 0],
        "pval": fits.pval[:, 0], "ci_low": fits.ci_low[:, 0], "ci_high": fits.ci_high[:, 0],
        "q": fits.qe, "q_pval": fits.qe_pval, "tau2": fits.tau2, "i2": fits.i2, "h2": fits.h2,
    }


# ============================================================================ leave-one-out
def leave_one_out(yi, vi, *, labels=None, method: str = "REML", test: str = "z",
                  level: float = 0.95, threshold: float = _THRESHOLD, maxiter: int = _MAXITER) -> pd.DataFrame:
    """The model refitted without each study in turn (metafor ``leave1out()``).

    Returns one row per omitted study with columns ``study`` (the omitted study), ``estimate``,
    ``se``, ``statistic`` (z, or t for Knapp-Hartung), ``pval``, ``ci_low``, ``ci_high``,
    ``q`` and ``q_pval`` (Cochran's Q of the remaining studies), ``tau2``, ``i2`` (%) and ``h2``.
    ``test``: "z", "knha" (Knapp & Hartung 2003) or "adhoc" (Knapp-Hartung with the floor).
    """
    import pandas as pd

    m, t = _check_method(method), _check_test(test)
    y, v, names = _validate(yi, vi, labels, what="leave-one-out")
    _require_k(y.size, 2, "leave-one-out")
    fits = _fit_masked_rows(y, v, _leave_one_out_mask(y.size), y.size, method=m, test=t,
                            level=level, threshold=threshold, maxiter=maxiter)
    _warn_failed(fits, names, "leave-one-out")
    table = pd.DataFrame({"study": pd.array(names, dtype="string"), **_fit_table(fits)})
    return _label_table(table, "Leave-one-out", m, t, y.size)


# ============================================================================ influence
def _deleted_fits(y, v, method, test, level, threshold, maxiter=_MAXITER):
    return _fit_masked_rows(y, v, _leave_one_out_mask(y.size), y.size, method=method,
                            test=test, level=level, threshold=threshold, maxiter=maxiter)


def influence_diagnostics(yi, vi, *, labels=None, method: str = "REML", test: str = "z",
                          threshold: float = _THRESHOLD, maxiter: int = _MAXITER) -> pd.DataFrame:
    """Case-deletion diagnostics of Viechtbauer & Cheung (2010), as ``influence.rma.uni()``.

    Columns (one row per study): ``study``; ``rstudent`` (externally studentized residual,
    (y_i - mu_(-i)) / sqrt(v_i s_(-i) + Var(mu_(-i)) + tau²_(-i) s_(-i)), s the Knapp-Hartung
    factor or 1); ``dffits``; ``cook_d`` (Cook's distance, (mu - mu_(-i))² / Var(mu));
    ``cov_r`` (covariance ratio Var(mu_(-i)) / Var(mu)); ``tau2_del`` and ``qe_del`` (tau²
    and Q without the study); ``hat`` (leverage w_i / sum w); ``weight`` (%); ``dfbetas``;
    ``influential``: metafor's rule, any of |DFFITS| > 3 sqrt(p / (k - p)), the chi²(1)
    probability of Cook's distance > 0.5, hat > 3 p / k, or |DFBETAS| > 1.
    """
    m, t = _check_method(method), _check_test(test)
    y, v, names = _validate(yi, vi, labels, what="influence diagnostics")
    k = y.size
    _require_k(k, 3 if m not in _FIXED else 2, f"influence diagnostics ({m})")
    table = _influence(y, v, names, m, t, threshold, maxiter)[0]
    return _label_table(table, "Influence diagnostics", m, t, k)


def _influence(y, v, names, m, t, threshold, maxiter=_MAXITER, level=0.95):
    import pandas as pd
    from scipy import stats

    k, p = y.size, 1
    full = _fit_one(y, v, m, t, level, threshold, maxiter=maxiter)
    dele = _deleted_fits(y, v, m, t, level, threshold, maxiter)
    _warn_failed(dele, names, "influence diagnostics")
    mu, vb = full.beta[0, 0], full.vb[0, 0, 0]
    w = 1.0 / (v + full.tau2[0])
    hat = w / w.sum()
    weight = 100 * hat
    mu_del = dele.beta[:, 0]
    vb_del = dele.vb[:, 0, 0]
    tau2_del, s2w_del = dele.tau2, dele.s2w
    diff = mu - mu_del
    dffits = diff / np.sqrt(s2w_del * hat * (tau2_del + v))
    # Var of the full-data estimate at the deleted tau² (all k studies), as metafor's dfbetas.
    vb_at_del = np.empty(k)
    block = max(1, _BATCH_CELLS // k)
    for start in range(0, k, block):
        stop = min(start + block, k)
        vb_at_del[start:stop] = 1.0 / (1.0 / (v[None, :] + tau2_del[start:stop, None])).sum(axis=1)
    dfbetas = diff / np.sqrt(s2w_del * vb_at_del)
    cook_d = diff ** 2 / vb
    cov_r = vb_del / vb
    resid = y - mu_del
    resid = np.where(np.abs(resid) < 100 * _DBL_EPS, 0.0, resid)
    rstudent = resid / np.sqrt(v * s2w_del + vb_del + tau2_del * s2w_del)
    influential = ((np.abs(dffits) > 3 * math.sqrt(p / (k - p)))
                   | (stats.chi2.cdf(cook_d, df=p) > 0.5)
                   | (hat > 3 * p / k) | (np.abs(dfbetas) > 1))
    table = pd.DataFrame({
        "study": pd.array(names, dtype="string"), "rstudent": rstudent, "dffits": dffits,
        "cook_d": cook_d, "cov_r": cov_r, "tau2_del": tau2_del, "qe_del": dele.qe, "hat": hat,
        "weight": weight, "dfbetas": dfbetas, "influential": influential.astype(bool),
    })
    return table, full, dele


# ============================================================================ Baujat
def baujat(yi, vi, *, labels=None, method: str = "REML", test: str = "z",
           threshold: float = _THRESHOLD, maxiter: int = _MAXITER) -> pd.DataFrame:
    """Baujat et al. (2002) plot data, as metafor ``baujat()``.

    Columns: ``study``; ``x`` = (y_i - mu)² / (v_i + tau²), the study's contribution to Q (its
    squared Pearson residual); ``y`` = (mu_(-i) - mu)² / Var(mu_(-i)), its influence on the
    pooled estimate.
    """
    import pandas as pd

    m, t = _check_method(method), _check_test(test)
    y, v, names = _validate(yi, vi, labels, what="Baujat")
    _require_k(y.size, _min_k_model(m) + 1, f"Baujat ({m})")
    full = _fit_one(y, v, m, t, threshold=threshold, maxiter=maxiter)
    dele = _deleted_fits(y, v, m, t, 0.95, threshold, maxiter)
    _warn_failed(dele, names, "Baujat")
    mu = full.beta[0, 0]
    x = (y - mu) ** 2 / (full.tau2[0] + v)
    yy = (dele.beta[:, 0] - mu) ** 2 / dele.vb[:, 0, 0]
    table = pd.DataFrame({"study": pd.array(names, dtype="string"), "x": x, "y": yy})
    return _label_table(table, "Baujat", m, t, y.size)


# ============================================================================ cumulative
def cumulative_meta_analysis(yi, vi, order=None, *, labels=None, method: str = "REML",
                             test: str = "z", level: float = 0.95, decreasing: bool = False,
                             threshold: float = _THRESHOLD, maxiter: int = _MAXITER) -> pd.DataFrame:
    """Cumulative meta-analysis (Lau et al. 1992), as metafor ``cumul(res, order=order)``.

    ``order``: values to sort studies by (e.g. publication year); ties keep the given order
    (R's stable ``order()``); None keeps the given order. Row j pools the first j studies.
    Columns: ``study`` (the study added), ``order`` (its sort value), ``k``, ``estimate``,
    ``se``, ``statistic``, ``pval``, ``ci_low``, ``ci_high``, ``q``, ``q_pval``, ``tau2``,
    ``i2``, ``h2``. With one study tau² = 0 and the z test are used, as in metafor.
    """
    import pandas as pd

    m, t = _check_method(method), _check_test(test)
    y, v, names = _validate(yi, vi, labels, what="cumulative meta-analysis")
    k = y.size
    if order is None:
        key = np.arange(k, dtype=float)
        shown = list(range(1, k + 1))
    else:
        shown = list(order)
        if len(shown) != k:
            raise ValueError(f"cumulative meta-analysis: order has {len(shown)} values for {k} studies")
        key = pd.Series(shown)
        if key.isna().any():
            bad = [names[i] for i in np.flatnonzero(key.isna().to_numpy())]
            raise ValueError(f"cumulative meta-analysis: missing order value for {', '.join(bad)}")
        key = key.to_numpy()
    # R's order() is stable: ties keep the given order, also when decreasing.
    rank = pd.Series(key).rank(method="dense").to_numpy()
    idx = np.argsort(-rank if decreasing else rank, kind="stable")
    ys, vs = y[idx], v[idx]
    def first_j(start, stop):
        return np.arange(k)[None, :] <= np.arange(start, stop)[:, None]

    fits = _fit_masked_rows(ys, vs, first_j, k, method=m, test=t, level=level,
                            threshold=threshold, maxiter=maxiter)
    names_sorted = [names[i] for i in idx]
    _warn_failed(fits, names_sorted, "cumulative meta-analysis")
    table = pd.DataFrame({"study": pd.array(names_sorted, dtype="string"),
                          "order": [shown[i] for i in idx], "k": fits.k.astype(int),
                          **_fit_table(fits)})
    return _label_table(table, "Cumulative meta-analysis", m, t, k)


# ============================================================================ GOSH
@dataclass
class GoshResult:
    """GOSH (graphical display of study heterogeneity) fits over subsets of studies.

    ``table``: one row per subset with ``k``, ``q``, ``i2``, ``h2``, ``tau2``, ``estimate``
    (ordered by subset size, as metafor); ``included``: boolean DataFrame (same rows, one
    column per study); ``exact``: all subsets (True) or a random sample (False).
    """
    table: pd.DataFrame
    included: pd.DataFrame
    exact: bool
    method: str
    k: int

    def summary(self) -> str:
        kind = "all" if self.exact else "random"
        return (f"GOSH ({self.method}, k = {self.k}): {len(self.table):,} {kind} subsets; "
                f"estimates {self.table['estimate'].min():.2f} to {self.table['estimate'].max():.2f}, "
                f"I² {self.table['i2'].min():.0f}% to {self.table['i2'].max():.0f}%")

    def to_dict(self) -> dict:
        return {"k": int(self.k), "method": self.method, "exact": bool(self.exact),
                "n_subsets": int(len(self.table)),
                "estimate_min": float(self.table["estimate"].min()),
                "estimate_max": float(self.table["estimate"].max()),
                "i2_min": float(self.table["i2"].min()), "i2_max": float(self.table["i2"].max())}


def _subset_masks(k: int, codes: np.ndarray) -> np.ndarray:
    """Inclusion matrix of subset codes: bit j of the code includes study j (expand.grid order)."""
    return ((codes[:, None] >> np.arange(k, dtype=np.int64)) & 1).astype(bool)


def _gosh_closed_form(y, v, M, dl: bool):
    """Common-effect or DerSimonian-Laird fits of many subsets at once (metafor's fast path)."""
    w = 1.0 / v
    Mf = M.astype(float)
    kk = Mf.sum(axis=1)
    sw = np.einsum("bk,k->b", Mf, w)
    swy = np.einsum("bk,k->b", Mf, w * y)
    est = swy / sw
    # Q from centred residuals (not sum w y² - (sum w y)²/sum w) to avoid cancellation.
    q = (Mf * w * (y[None, :] - est[:, None]) ** 2).sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        i2 = np.where(kk > 1, np.maximum(0.0, 100 * (q - (kk - 1)) / q), 0.0)
        h2 = np.where(kk > 1, q / (kk - 1), 1.0)
    q = np.where(kk > 1, q, 0.0)
    tau2 = np.zeros_like(est)
    if dl:
        sw2 = np.einsum("bk,k->b", Mf, w * w)
        with np.errstate(divide="ignore", invalid="ignore"):
            tau2 = np.where(kk > 1, np.maximum(0.0, (q - (kk - 1)) / (sw - sw2 / sw)), 0.0)
        W = Mf / (v[None, :] + tau2[:, None])
        est = (W * y).sum(axis=1) / W.sum(axis=1)
    return kk, q, i2, h2, tau2, est


def gosh(yi, vi, *, labels=None, method: str = "FE", max_subsets: int = 1_000_000,
         seed: int | None = 0, threshold: float = _THRESHOLD, maxiter: int = _MAXITER, chunk: int = 65_536) -> GoshResult:
    """Fit the model to every non-empty subset of studies (Olkin et al. 2012; metafor ``gosh()``).

    All 2^k - 1 subsets of size >= 1 when that is at most ``max_subsets`` (metafor's default
    10^6); otherwise ``max_subsets`` random subsets: a size j drawn with probability
    proportional to Binomial(k, 1/2) on 1..k, then j studies at random (metafor's scheme,
    with numpy's generator seeded by ``seed``). FE and DL use closed forms over all subsets;
    REML/ML are fitted in vectorised batches of ``chunk`` subsets.
    """
    import pandas as pd
    from scipy import stats

    m = _check_method(method)
    y, v, names = _validate(yi, vi, labels, what="GOSH")
    k = y.size
    _require_k(k, 2, "GOSH")
    if max_subsets is None:
        max_subsets = 1_000_000
    max_subsets = int(max_subsets)
    if max_subsets < 2:
        raise ValueError(f"GOSH: max_subsets must be at least 2 (got {max_subsets})")
    n_all = 2.0 ** k - 1
    exact = n_all <= max_subsets
    if exact:
        codes = np.arange(1, 2 ** k, dtype=np.int64)
        sizes = np.bitwise_count(codes.astype(np.uint64)).astype(np.int64)
        codes = codes[np.argsort(sizes, kind="stable")]
        incl = None
    else:
        rng = np.random.default_rng(seed)
        j = np.arange(1, k + 1)
        prob = stats.binom.pmf(j, k, 0.5)
        sizes = rng.choice(j, size=max_subsets, p=prob / prob.sum())
        incl = np.zeros((max_subsets, k), dtype=bool)
        for start in range(0, max_subsets, chunk):
            stop = min(start + chunk, max_subsets)
            ranks = np.argsort(rng.random((stop - start, k)), axis=1)
            incl[start:stop] = np.argsort(ranks, axis=1) < sizes[start:stop, None]
        order = np.argsort(incl.sum(axis=1), kind="stable")
        incl = incl[order]
        codes = None
    n = len(codes) if exact else len(incl)
    out = {name: np.empty(n) for name in ("k", "q", "i2", "h2", "tau2", "estimate")}
    failed = 0
    for start in range(0, n, chunk):
        stop = min(start + chunk, n)
        M = _subset_masks(k, codes[start:stop]) if exact else incl[start:stop]
        if m in _FIXED or m == "DL":
            kk, q, i2, h2, tau2, est = _gosh_closed_form(y, v, M, dl=m == "DL")
        else:
            fits = _fit_many(np.broadcast_to(y, M.shape), v, None, M, method=m,
                             threshold=threshold, maxiter=maxiter)
            failed += int(fits.failed.sum())
            kk, q, i2, h2, tau2, est = (fits.k, fits.qe, fits.i2, fits.h2, fits.tau2,
                                        fits.beta[:, 0])
        for name, values in zip(("k", "q", "i2", "h2", "tau2", "estimate"),
                                (kk, q, i2, h2, tau2, est)):
            out[name][start:stop] = values
    if failed:
        warnings.warn(f"GOSH: tau² did not converge in {failed} subset(s); their rows are NaN",
                      RuntimeWarning, stacklevel=2)
    table = pd.DataFrame(out)
    table["k"] = table["k"].astype(int)
    if exact:
        included = pd.DataFrame(_subset_masks(k, codes), columns=names)
    else:
        included = pd.DataFrame(incl, columns=names)
    return GoshResult(table, included, bool(exact), m, k)


# ============================================================================ permutation
@dataclass
class PermutationResult:
    """Permutation test of a meta-analysis or meta-regression (metafor ``permutest()``).

    ``coefficients``: DataFrame with ``term``, ``estimate``, ``statistic`` and the model-based
    ``pval`` and the permutation ``perm_pval`` per coefficient; ``qm``/``qm_perm_pval``: the
    omnibus test of the moderators (None for an intercept-only model); ``n_perm``: fits used
    (including the observed one); ``exact``: all permutations enumerated.
    """
    coefficients: pd.DataFrame
    qm: float | None
    qm_perm_pval: float | None
    n_perm: int
    exact: bool
    method: str
    test: str
    k: int

    @property
    def perm_pval(self) -> float:
        """Permutation p-value of the intercept-only model, or of the omnibus moderator test."""
        if self.qm_perm_pval is not None:
            return float(self.qm_perm_pval)
        return float(self.coefficients["perm_pval"].iloc[0])

    def summary(self) -> str:
        kind = "exact" if self.exact else "random"
        what = "omnibus moderator test" if self.qm_perm_pval is not None else "pooled estimate"
        return (f"Permutation test ({self.method}, {_TEST_NAMES[self.test]}, k = {self.k}; "
                f"{self.n_perm:,} {kind} permutations): p = {self.perm_pval:.3g} for the {what}")

    def to_dict(self) -> dict:
        out: dict[str, Any] = {"k": int(self.k), "method": self.method, "test": self.test,
                               "n_perm": int(self.n_perm), "exact": bool(self.exact),
                               "perm_pval": self.perm_pval,
                               "qm": None if self.qm is None else float(self.qm),
                               "qm_perm_pval": None if self.qm_perm_pval is None
                               else float(self.qm_perm_pval)}
        for row in self.coefficients.itertuples():
            for col in ("estimate", "statistic", "pval", "perm_pval"):
                out[f"{row.term}_{col}"] = float(getattr(row, col))
        return out


def _multiset_permutations(groups: list[int]):
    """Distinct orderings of a multiset (each tie counted once), lexicographic."""
    items = sorted(groups)
    n = len(items)
    while True:
        yield list(items)
        i = n - 2
        while i >= 0 and items[i] >= items[i + 1]:
            i -= 1
        if i < 0:
            return
        j = n - 1
        while items[j] <= items[i]:
            j -= 1
        items[i], items[j] = items[j], items[i]
        items[i + 1:] = reversed(items[i + 1:])


def permutation_test(yi, vi, X=None, *, n_perm: int = 1000, seed: int | None = 0,
                     method: str = "REML", test: str = "z", labels=None,
                     threshold: float = _THRESHOLD, maxiter: int = _MAXITER,
                     exact: bool = False) -> PermutationResult:
    """Permutation test as metafor ``permutest()`` (Follmann & Proschan 1999).

    Intercept-only model: the signs of yi are flipped at random; with moderators ``X``
    (k values or a k-by-m array; an intercept is added) the rows of X are permuted. The
    p-value is the share of fits whose |statistic| is at least the observed one (minus
    sqrt(eps)); for moderators also the share with QM at least the observed QM. When the
    number of distinct permutations (2^k sign patterns, or k! / prod(ties!) orderings of X)
    is at most ``n_perm`` (or ``exact=True``), all are enumerated and the test is exact;
    otherwise ``n_perm`` random ones are drawn with numpy's generator seeded by ``seed``, and
    the first is replaced by the observed data, as metafor does. Fits run in vectorised
    batches. Fits whose tau² does not converge are left out of the p-values with a warning
    (metafor drops them silently); ``threshold``/``maxiter`` are metafor's control values.

    Returns a :class:`PermutationResult`; ``result.perm_pval`` is the p-value of the
    intercept-only model or of the omnibus moderator test.
    """
    import pandas as pd

    m, t = _check_method(method), _check_test(test)
    y, v, names = _validate(yi, vi, labels, what="permutation test")
    k = y.size
    n_perm = int(n_perm)
    if n_perm < 2:
        raise ValueError(f"permutation test: n_perm must be at least 2 (got {n_perm})")
    if X is None:
        Xd = None
        p = 1
        terms = ["intercept"]
    else:
        if isinstance(X, pd.DataFrame):
            terms = ["intercept"] + [str(c) for c in X.columns]
        elif isinstance(X, pd.Series):
            terms = ["intercept", str(X.name) if X.name is not None else "x1"]
        else:
            terms = None
        Xm = np.asarray(X, dtype=float)
        if Xm.ndim == 1:
            Xm = Xm[:, None]
        if Xm.shape[0] != k:
            raise ValueError(f"permutation test: X has {Xm.shape[0]} rows for {k} studies")
        bad = np.flatnonzero(~np.isfinite(Xm).all(axis=1))
        if bad.size:
            raise ValueError("permutation test: missing or infinite moderator values for "
                             + ", ".join(names[i] for i in bad))
        Xd = np.column_stack([np.ones(k), Xm])
        if np.linalg.matrix_rank(Xd) < Xd.shape[1]:
            raise ValueError("permutation test: the moderators are not of full column rank")
        p = Xd.shape[1]
        if terms is None:
            terms = ["intercept"] + [f"x{j}" for j in range(1, p)]
    _require_k(k, _min_k_model(m, p) + (1 if t != "z" else 0), f"permutation test ({m}, p = {p})")
    observed = _fit_many(y[None], v, None if Xd is None else Xd[None], np.ones((1, k)),
                         method=m, test=t, threshold=threshold, maxiter=maxiter, qm=True, need_q=False)
    if observed.failed[0]:
        raise ValueError(f"permutation test: the {m} estimate of tau² did not converge for the "
                         f"observed data (k = {k}); increase maxiter")
    rng = np.random.default_rng(seed)
    block = max(1, _BATCH_CELLS // k)
    fit_args = dict(method=m, test=t, threshold=threshold, maxiter=maxiter, need_q=False)
    if Xd is None:
        n_exact = 2.0 ** k
        do_exact = bool(exact) or n_exact <= n_perm
        if do_exact:
            if k > 24:
                raise ValueError(f"permutation test: exact enumeration of 2^{k} sign patterns "
                                 f"(k = {k}) is too large; use random permutations")
            n_fits = 2 ** k

            def signs_of(start, stop):
                return np.where(_subset_masks(k, np.arange(start, stop, dtype=np.int64)), -1.0, 1.0)
        else:
            n_fits = n_perm
            all_signs = rng.choice(np.array([-1, 1], dtype=np.int8), size=(n_perm, k))
            all_signs[0] = 1  # the observed data count as one permutation, as in metafor

            def signs_of(start, stop):
                return all_signs[start:stop].astype(float)
        parts = []
        for start in range(0, n_fits, block):
            signs = signs_of(start, min(start + block, n_fits))
            parts.append(_fit_many(signs * y, v, None, np.ones(signs.shape), **fit_args))
    else:
        rows = [tuple(r) for r in Xd]
        group_of = {r: g for g, r in enumerate(dict.fromkeys(sorted(rows)))}
        groups = [group_of[r] for r in rows]
        counts = Counter(groups)
        n_exact = math.factorial(k) / math.prod(math.factorial(c) for c in counts.values())
        do_exact = bool(exact) or n_exact <= n_perm
        if do_exact:
            if n_exact > 1_000_000:
                raise ValueError(f"permutation test: {n_exact:.0f} distinct permutations (k = {k}) "
                                 "are too many to enumerate; use random permutations")
            first_row = {g: groups.index(g) for g in counts}
            index = np.array([[first_row[g] for g in order]
                              for order in _multiset_permutations(groups)], dtype=np.int64)
        else:
            index = np.argsort(rng.random((n_perm, k)), axis=1)
            index[0] = np.arange(k)  # the observed data count as one permutation
        parts = []
        for start in range(0, len(index), block):
            perms = Xd[index[start:start + block]]
            parts.append(_fit_many(np.broadcast_to(y, perms.shape[:2]), v, perms,
                                   np.ones(perms.shape[:2]), qm=True, **fit_args))
    fits = _concat_fits(parts)
    if fits.failed.all():
        raise ValueError(f"permutation test: tau² did not converge in any permuted fit (k = {k}); "
                         "increase maxiter")
    if fits.failed.any():
        warnings.warn(f"permutation test: tau² did not converge in {int(fits.failed.sum())} of "
                      f"{fits.failed.size} permuted fits; they are left out of the p-value "
                      "(as in metafor); a larger maxiter may help", RuntimeWarning, stacklevel=2)
    ok = ~fits.failed
    perm_p = np.array([np.mean(np.abs(fits.stat[ok, j]) >= abs(observed.stat[0, j]) - _COMPTOL)
                       for j in range(p)])
    qm = qm_p = None
    if Xd is not None:
        qm = float(observed.qm[0])
        qm_p = float(np.mean(fits.qm[ok] >= qm - _COMPTOL))
    coefficients = pd.DataFrame({
        "term": pd.array(terms, dtype="string"), "estimate": observed.beta[0],
        "statistic": observed.stat[0], "pval": observed.pval[0], "perm_pval": np.minimum(perm_p, 1.0),
    })
    return PermutationResult(coefficients, qm, qm_p, int(fits.k.size), bool(do_exact), m, t, k)


# ============================================================================ Egger
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
               labels=None, threshold: float = _THRESHOLD, maxiter: int = _MAXITER) -> EggerResult:
    """Egger's regression test for funnel plot asymmetry (Egger et al. 1997; ``regtest()``).

    Random-effects variants need k >= 3 (two coefficients and tau²); the common-effect
    variant and the classical ``lm`` test are computed from k = 2, as metafor does, with NaN
    where a residual degree of freedom is needed (the ``lm`` statistic, p and interval at
    k = 2). Warns and reports ``k_sufficient=False`` below 10 studies; whether to show the
    test is the caller's policy.
    """
    m, t = _check_method(method), _check_test(test)
    y, v, names = _validate(yi, vi, labels, what="Egger's test")
    k = y.size
    _require_k(k, 2 if m in _FIXED else 3, f"Egger's test ({m})")
    sufficient = _small_k_warning(k, "Egger's test")
    sei = np.sqrt(v)
    X = np.column_stack([np.ones(k), sei])
    fit = _fit_one(y, v, m, t, level, threshold, X=X, maxiter=maxiter)
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

    y, v, names = _validate(yi, vi, labels, what="Begg's test")
    k = y.size
    _require_k(k, 2, "Begg's test")
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


# ============================================================================ trim and fill
@dataclass
class TrimFillResult:
    """Trim-and-fill (Duval & Tweedie 2000), as metafor ``trimfill()``.

    ``k0``: estimated number of missing studies (``se_k0`` its standard error; ``p_k0`` the
    p-value of k0 = 0 for R0); ``side``: where studies were missing ("left"/"right");
    ``data``: the observed and filled studies (``study``, ``yi``, ``vi``, ``filled``);
    ``fit``: the model refitted to the filled data (:class:`analysis.engine.models.MetaResult`,
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
                  maxiter: int = 100, threshold: float = _THRESHOLD,
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

    from . import models

    est = str(estimator).upper()
    if est not in ("L0", "R0"):
        raise ValueError(f"unknown trim-and-fill estimator {estimator!r}; choose 'L0' or 'R0'")
    m, t = _check_method(method), _check_test(test)
    y0, v0, names = _validate(yi, vi, labels, what="trim-and-fill")
    k = y0.size
    _require_k(k, 2, "trim-and-fill")
    control = dict(control or {})
    unknown = set(control) - {"threshold", "maxiter", "tol"}
    if unknown:
        raise ValueError(f"trim-and-fill: unknown control value(s) {', '.join(sorted(unknown))}")
    refit = {"threshold": control.get("threshold", _THRESHOLD),
             "maxiter": int(control.get("maxiter", _MAXITER)), "tol": control.get("tol")}

    def fit(yy, vv, X=None, what="the truncated studies"):
        res = _fit_one(yy, vv, m, X=X, **refit)
        if res.failed[0]:
            raise ValueError(f"trim-and-fill: the {m} fit to {what} (k = {yy.size}) did not "
                             f"converge (Fisher scoring did not converge in {refit['maxiter']} "
                             "iterations)")
        return res

    if side is None:
        if m not in _FIXED and k < 3:
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
    if m in _FIXED:
        options = {}
    elif k0 > 0:
        options = dict(control)
    else:
        options = {"threshold": threshold}
    try:
        fit = models.meta_analysis(data["yi"].to_numpy(), data["vi"].to_numpy(), method=m,
                                   test="knha" if t in ("knha", "adhoc") else "z",
                                   knha_floor=t == "adhoc", level=level,
                                   labels=list(data["study"]), **options)
    except ValueError as error:
        raise ValueError(f"trim-and-fill: the fit to the filled data failed: {error}") from None
    return TrimFillResult(k0=k0, se_k0=float(se_k0), p_k0=p_k0, side=side, estimator=est,
                          method=m, data=data, estimate=fit.estimate, se=fit.se,
                          ci_low=fit.ci_low, ci_high=fit.ci_high, pval=fit.pval, tau2=fit.tau2,
                          fit=fit)


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
    y, v, names = _validate(yi, vi, labels, what="PET-PEESE")
    k = y.size
    _require_k(k, 3, "PET-PEESE")
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
