"""Weighted least squares for the engine's models: the design matrix (moderators, or the
intercept alone) and the quantities of the weighted projection P = W - W X (X'WX)^-1 X'W
that tau² estimators need (y'Py, y'PPy, trace(P), trace(PP), ...), without forming any
k-by-k matrix: everything is O(k p²), so k = 100,000 costs milliseconds.
"""
from __future__ import annotations

import sys

import numpy as np

__all__ = ["InterceptOnly", "design_matrix", "vdot", "WeightedLeastSquares", "centred"]


class InterceptOnly:
    """The design of an intercept-only model; lets every P quantity use O(k) sums."""

    __slots__ = ("shape",)

    def __init__(self, k: int):
        self.shape = (k, 1)


def design_matrix(X, k: int, intercept: bool):
    """The design of k studies and its term names: :class:`InterceptOnly` without moderators,
    else the moderators (array, Series or DataFrame), checked, with an intercept column first."""
    if X is None:
        return InterceptOnly(k), ["intercept"]
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
def vdot(a: np.ndarray, b: np.ndarray) -> float:
    """Inner product of two vectors by einsum's own loop rather than BLAS: on a shared
    machine a multithreaded BLAS call can stall for milliseconds waiting for its threads."""
    if a.size < 4096:  # BLAS stays single-threaded and is fastest here
        return float(np.dot(a, b))
    return float(np.einsum("i,i->", a, b))


class WeightedLeastSquares:
    """Quantities of P = W - W X (X'WX)^-1 X'W without forming any k-by-k matrix."""

    __slots__ = ("X", "w", "A_inv", "beta", "_resid", "ones", "sw", "_y", "_y2", "_sy", "tau2_fit")

    def __init__(self, y: np.ndarray, w: np.ndarray, X, y2: np.ndarray | None = None):
        """``y2``: y² precomputed, given only for centred y; intercept-only sums then need
        no temporary arrays (allocating them dominates the cost at large k)."""
        self.X, self.w = X, w
        self.ones = isinstance(X, InterceptOnly)
        self._y, self._y2 = y, y2
        if self.ones:
            self.sw = sw = float(w.sum())
            self._sy = float(vdot(w, y))
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
            return float(vdot(self.w, self._y2)) - self._sy * float(self.beta[0])
        r = self.resid
        return float(vdot(self.w, r * r))

    def yPPy(self) -> float:
        if self.ones and self._y2 is not None:
            w2 = self.w * self.w
            mu = float(self.beta[0])
            return (float(vdot(w2, self._y2)) - 2 * mu * float(vdot(w2, self._y))
                    + mu * mu * float(w2.sum()))
        wr = self.w * self.resid
        return float(vdot(wr, wr))

    def _xtdx(self, d: np.ndarray) -> np.ndarray:
        return (self.X.T * d) @ self.X

    def trP(self) -> float:
        if self.ones:
            return self.sw - float(vdot(self.w, self.w)) / self.sw
        return float(self.w.sum() - np.trace(self.A_inv @ self._xtdx(self.w**2)))

    def trPP(self) -> float:
        w = self.w
        if self.ones:
            w2 = w * w
            s2, s3, sw = float(w2.sum()), float(vdot(w2, w)), self.sw
            return s2 - 2 * s3 / sw + (s2 / sw) ** 2
        M2 = self.A_inv @ self._xtdx(w**2)
        return float((w**2).sum() - 2 * np.trace(self.A_inv @ self._xtdx(w**3)) + np.trace(M2 @ M2))

    def diag_PP(self) -> np.ndarray:
        """Diagonal of P P: w_i² - 2 w_i³ G_ii + w_i² (G W² G)_ii with G = X A^-1 X'."""
        w, X, Ai = self.w, self.X, self.A_inv
        if self.ones:
            sw = self.sw
            return w**2 - 2 * w**3 / sw + w**2 * float(vdot(w, w)) / sw**2
        XAi = X @ Ai
        G_diag = np.einsum("ij,ij->i", XAi, X)
        GW2G_diag = np.einsum("ij,ij->i", XAi @ self._xtdx(w**2), XAi)
        return w**2 - 2 * w**3 * G_diag + w**2 * GW2G_diag

    def tr_PVPV(self, v: np.ndarray) -> float:
        """trace(P V P V) = sum(PV * t(PV)), with P the weighted projection."""
        w, Ai = self.w, self.A_inv
        b = w * v
        if self.ones:
            m = float(vdot(b, w)) / self.sw
            return float(vdot(b, b)) - 2 * float(vdot(b * b, w)) / self.sw + m * m
        M = Ai @ self._xtdx(b * w)
        return float((b**2).sum() - 2 * np.trace(Ai @ self._xtdx(b**2 * w)) + np.trace(M @ M))


def centred(y: np.ndarray, X: np.ndarray) -> np.ndarray:
    """metafor centres yi before computing Q and tau²: harmless rounding-wise and
    mathematically neutral when the model has an intercept. Without an intercept centring
    would change Q, so yi is then used as is (metafor 3.8 centres regardless)."""
    if isinstance(X, InterceptOnly) or np.all(X[:, 0] == 1.0):
        return y - float(y.sum()) / y.size  # = y.mean(): the same pairwise sum, less overhead
    return y
