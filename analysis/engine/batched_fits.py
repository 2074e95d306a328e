"""Many fits of one univariate model at once, for the analyses that refit it again and again
(k left-out fits, 2^k - 1 subsets, thousands of permutations).

Each fit is a row of a (fits x studies) array; a study left out of a fit has weight zero.
Fixed-effect and DerSimonian-Laird fits are closed forms; REML and ML run metafor's Fisher
scoring (start at the Hedges estimate, step halving at zero, stop when the change is at most
``threshold``, log-likelihood check at tau2 = 0) on every row simultaneously, with the traces
of P = W - W X (X'WX)^-1 X'W computed from p-by-p matrices so that no k-by-k matrix is ever
formed. The remaining estimators (PM, HS, SJ, EB) are fitted one by one with
:func:`analysis.engine.tau2.estimate_tau2`. Also here: the columns and labels every
refitting analysis's table shares.
"""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING, Sequence

import numpy as np

from .sensitivity_checks import COMMON_EFFECT_METHODS, ONE_BY_ONE_METHODS
from .tau2 import DEFAULT_MAXITER, DEFAULT_THRESHOLD, DEFAULT_TOL, estimate_tau2

if TYPE_CHECKING:  # pandas and scipy load only inside the functions that use them
    import pandas as pd

__all__ = [
    "BatchedFits",
    "fit_many",
    "fit_one",
    "fit_masked_rows",
    "concat_fits",
    "warn_failed",
    "BATCH_CELLS",
    "TEST_NAMES",
    "label_table",
    "fit_table",
]

_DBL_EPS = float(np.finfo(float).eps)


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
    if method in COMMON_EFFECT_METHODS:
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
    if method in ONE_BY_ONE_METHODS:
        # fitted one by one: not a speed path
        for j, b in enumerate(rows):
            sel = Mr[j] > 0
            Xj = None if Xr is None else (Xr[j] if Xr.ndim == 3 else Xr)[sel]
            try:
                yj = np.broadcast_to(Yr, Mr.shape)[j]
                vj = np.broadcast_to(Vr, Mr.shape)[j]
                extra = {} if tol is None else {"tol": tol}
                tau2[b] = estimate_tau2(yj[sel], vj[sel], method, X=Xj,
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
            stuck = check[ll0 - ll > DEFAULT_TOL]
            t[stuck] = 0.0
    tau2[rows] = np.where(np.isnan(t), np.nan, np.maximum(0.0, t))
    return tau2, failed


@dataclass
class BatchedFits:
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


def fit_many(Y, V, X, M, *, method: str, test: str = "z", level: float = 0.95,
              threshold: float = DEFAULT_THRESHOLD, maxiter: int = DEFAULT_MAXITER, tau2=None,
              qm: bool = False, need_q: bool = True, tol: float | None = None) -> BatchedFits:
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
        if method in COMMON_EFFECT_METHODS:
            e0, A0 = e, A
        else:
            _, A0, e0 = _wls(Y, W0, X)
        qe = np.maximum(0.0, (W0 * e0 * e0).sum(axis=1))
        df_q = np.maximum(kk - p, 1)
        qe_pval = np.where(multi, stats.chi2.sf(qe, df_q), 1.0)
        with np.errstate(divide="ignore", invalid="ignore"):
            if method in COMMON_EFFECT_METHODS:
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
    return BatchedFits(kk, beta, vb, se, stat, pval, ci_low, ci_high, tau2, s2w, ddf, qe, qe_pval,
                 i2, h2, failed, qm_values)


def warn_failed(fits: BatchedFits, names: Sequence[str], what: str) -> None:
    """Warn, naming the fits (up to ten) whose tau² did not converge."""
    bad = np.flatnonzero(fits.failed)
    if bad.size:
        listed = ", ".join(str(names[i]) for i in bad[:10]) + (" ..." if bad.size > 10 else "")
        warnings.warn(f"{what}: the tau² estimate did not converge for {bad.size} fit(s) "
                      f"({listed}); their rows are NaN", RuntimeWarning, stacklevel=3)


def fit_one(y, v, method, test="z", level=0.95, threshold=DEFAULT_THRESHOLD, X=None,
             maxiter=DEFAULT_MAXITER, tol=None) -> BatchedFits:
    """One fit of all studies (a batch of one row)."""
    Xb = None if X is None else X[None]
    return fit_many(y[None], v, Xb, np.ones((1, y.size)), method=method, test=test,
                     level=level, threshold=threshold, maxiter=maxiter, tol=tol)


# Rows x studies per batch: bounds memory (about 10 arrays of this many floats at once).
BATCH_CELLS = 4_000_000


def concat_fits(parts: list[BatchedFits]) -> BatchedFits:
    """Batches of fits joined into one, rows in order."""
    if len(parts) == 1:
        return parts[0]
    merged = {}
    for name in BatchedFits.__dataclass_fields__:
        values = [getattr(f, name) for f in parts]
        merged[name] = None if values[0] is None else np.concatenate(values)
    return BatchedFits(**merged)


def fit_masked_rows(y, v, mask_rows, n_rows: int, **fit_args) -> BatchedFits:
    """Fit intercept-only models to ``n_rows`` subsets of the same studies in batches;
    ``mask_rows(start, stop)`` gives the inclusion mask (stop - start, k) of a batch."""
    block = max(1, BATCH_CELLS // max(y.size, 1))
    parts = []
    for start in range(0, n_rows, block):
        M = mask_rows(start, min(start + block, n_rows))
        parts.append(fit_many(np.broadcast_to(y, M.shape), v, None, M, **fit_args))
    return concat_fits(parts)


TEST_NAMES = {"z": "z test", "knha": "Knapp-Hartung", "adhoc": "Knapp-Hartung (ad hoc floor)"}


def label_table(table: pd.DataFrame, analysis: str, method: str, test: str | None,
                 k: int) -> pd.DataFrame:
    """Record what was fitted in ``table.attrs`` (analysis, method, test, k, a summary line)."""
    parts = [method] + ([TEST_NAMES[test]] if test else []) + [f"k = {k}"]
    table.attrs.update({"analysis": analysis, "method": method, "test": test, "k": int(k),
                        "summary": f"{analysis} ({', '.join(parts)})"})
    return table


def fit_table(fits: BatchedFits) -> dict[str, np.ndarray]:
    """The columns every refitting analysis's table shares, one value per fit."""
    return {
        "estimate": fits.beta[:, 0], "se": fits.se[:, 0], "statistic": fits.stat[:, 0],
        "pval": fits.pval[:, 0], "ci_low": fits.ci_low[:, 0], "ci_high": fits.ci_high[:, 0],
        "q": fits.qe, "q_pval": fits.qe_pval, "tau2": fits.tau2, "i2": fits.i2, "h2": fits.h2,
    }
