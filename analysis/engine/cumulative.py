"""Cumulative meta-analysis (Lau et al. 1992, NEJM 327:248-254), as metafor ``cumul()``: the
model refitted as studies are added in order."""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from .batched_fits import fit_masked_rows, fit_table, label_table, warn_failed
from .checks import check_method
from .sensitivity_checks import SENSITIVITY_METHODS, check_sensitivity_test, validate_studies
from .tau2 import DEFAULT_MAXITER, DEFAULT_THRESHOLD

if TYPE_CHECKING:  # pandas loads only inside the function that uses it
    import pandas as pd

__all__ = ["cumulative_meta_analysis"]


def cumulative_meta_analysis(yi, vi, order=None, *, labels=None, method: str = "REML",
                             test: str = "z", level: float = 0.95, decreasing: bool = False,
                             threshold: float = DEFAULT_THRESHOLD, maxiter: int = DEFAULT_MAXITER) -> pd.DataFrame:
    """Cumulative meta-analysis (Lau et al. 1992), as metafor ``cumul(res, order=order)``.

    ``order``: values to sort studies by (e.g. publication year); ties keep the given order
    (R's stable ``order()``); None keeps the given order. Row j pools the first j studies.
    Columns: ``study`` (the study added), ``order`` (its sort value), ``k``, ``estimate``,
    ``se``, ``statistic``, ``pval``, ``ci_low``, ``ci_high``, ``q``, ``q_pval``, ``tau2``,
    ``i2``, ``h2``. With one study tau² = 0 and the z test are used, as in metafor.
    """
    import pandas as pd

    m, t = check_method(method, SENSITIVITY_METHODS), check_sensitivity_test(test)
    y, v, names = validate_studies(yi, vi, labels, what="cumulative meta-analysis")
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

    fits = fit_masked_rows(ys, vs, first_j, k, method=m, test=t, level=level,
                            threshold=threshold, maxiter=maxiter)
    names_sorted = [names[i] for i in idx]
    warn_failed(fits, names_sorted, "cumulative meta-analysis")
    table = pd.DataFrame({"study": pd.array(names_sorted, dtype="string"),
                          "order": [shown[i] for i in idx], "k": fits.k.astype(int),
                          **fit_table(fits)})
    return label_table(table, "Cumulative meta-analysis", m, t, k)
