"""GOSH, the graphical display of study heterogeneity (Olkin, Dahabreh & Trikalinos 2012, Res
Synth Methods 3:214-223; metafor ``gosh()``): the model fitted to every subset of studies, or
to a random sample of subsets."""
from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from .batched_fits import fit_many
from .checks import check_method
from .sensitivity_checks import COMMON_EFFECT_METHODS, SENSITIVITY_METHODS, require_k, validate_studies
from .tau2 import DEFAULT_MAXITER, DEFAULT_THRESHOLD

if TYPE_CHECKING:  # pandas and scipy load only inside the functions that use them
    import pandas as pd

__all__ = ["GoshResult", "gosh", "subset_masks"]


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


def subset_masks(k: int, codes: np.ndarray) -> np.ndarray:
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
         seed: int | None = 0, threshold: float = DEFAULT_THRESHOLD, maxiter: int = DEFAULT_MAXITER, chunk: int = 65_536) -> GoshResult:
    """Fit the model to every non-empty subset of studies (Olkin et al. 2012; metafor ``gosh()``).

    All 2^k - 1 subsets of size >= 1 when that is at most ``max_subsets`` (metafor's default
    10^6); otherwise ``max_subsets`` random subsets: a size j drawn with probability
    proportional to Binomial(k, 1/2) on 1..k, then j studies at random (metafor's scheme,
    with numpy's generator seeded by ``seed``). FE and DL use closed forms over all subsets;
    REML/ML are fitted in vectorised batches of ``chunk`` subsets.
    """
    import pandas as pd
    from scipy import stats

    m = check_method(method, SENSITIVITY_METHODS)
    y, v, names = validate_studies(yi, vi, labels, what="GOSH")
    k = y.size
    require_k(k, 2, "GOSH")
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
        M = subset_masks(k, codes[start:stop]) if exact else incl[start:stop]
        if m in COMMON_EFFECT_METHODS or m == "DL":
            kk, q, i2, h2, tau2, est = _gosh_closed_form(y, v, M, dl=m == "DL")
        else:
            fits = fit_many(np.broadcast_to(y, M.shape), v, None, M, method=m,
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
        included = pd.DataFrame(subset_masks(k, codes), columns=names)
    else:
        included = pd.DataFrame(incl, columns=names)
    return GoshResult(table, included, bool(exact), m, k)
