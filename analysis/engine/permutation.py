"""Permutation tests of a meta-analysis or meta-regression (Follmann & Proschan 1999,
Biometrics 55:1131; Higgins & Thompson 2004), as metafor ``permutest()``."""
from __future__ import annotations

import math
import warnings
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from .batched_fits import BATCH_CELLS, TEST_NAMES, concat_fits, fit_many
from .gosh import subset_masks
from .checks import check_method
from .sensitivity_checks import (SENSITIVITY_METHODS, check_sensitivity_test, min_k_model, require_k,
                                 validate_studies)
from .tau2 import DEFAULT_MAXITER, DEFAULT_THRESHOLD

if TYPE_CHECKING:  # pandas loads only inside the function that uses it
    import pandas as pd

__all__ = ["PermutationResult", "permutation_test"]

_DBL_EPS = float(np.finfo(float).eps)
# permutest(): observed statistics are compared with a tolerance of sqrt(eps).
_COMPTOL = _DBL_EPS ** 0.5


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
        return (f"Permutation test ({self.method}, {TEST_NAMES[self.test]}, k = {self.k}; "
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
                     threshold: float = DEFAULT_THRESHOLD, maxiter: int = DEFAULT_MAXITER,
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

    m, t = check_method(method, SENSITIVITY_METHODS), check_sensitivity_test(test)
    y, v, names = validate_studies(yi, vi, labels, what="permutation test")
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
    require_k(k, min_k_model(m, p) + (1 if t != "z" else 0), f"permutation test ({m}, p = {p})")
    observed = fit_many(y[None], v, None if Xd is None else Xd[None], np.ones((1, k)),
                         method=m, test=t, threshold=threshold, maxiter=maxiter, qm=True, need_q=False)
    if observed.failed[0]:
        raise ValueError(f"permutation test: the {m} estimate of tau² did not converge for the "
                         f"observed data (k = {k}); increase maxiter")
    rng = np.random.default_rng(seed)
    block = max(1, BATCH_CELLS // k)
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
                return np.where(subset_masks(k, np.arange(start, stop, dtype=np.int64)), -1.0, 1.0)
        else:
            n_fits = n_perm
            all_signs = rng.choice(np.array([-1, 1], dtype=np.int8), size=(n_perm, k))
            all_signs[0] = 1  # the observed data count as one permutation, as in metafor

            def signs_of(start, stop):
                return all_signs[start:stop].astype(float)
        parts = []
        for start in range(0, n_fits, block):
            signs = signs_of(start, min(start + block, n_fits))
            parts.append(fit_many(signs * y, v, None, np.ones(signs.shape), **fit_args))
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
            parts.append(fit_many(np.broadcast_to(y, perms.shape[:2]), v, perms,
                                   np.ones(perms.shape[:2]), qm=True, **fit_args))
    fits = concat_fits(parts)
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
