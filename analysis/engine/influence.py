"""Case deletion: leave-one-out (metafor ``leave1out()``), influence diagnostics
(``influence.rma.uni()``: Viechtbauer & Cheung 2010, Res Synth Methods 1:112-125) and Baujat
plot data (Baujat et al. 2002, Stat Med 21:2641-2652; ``baujat()``), all from the k
left-out fits computed at once."""
from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from .batched_fits import BATCH_CELLS, fit_masked_rows, fit_one, fit_table, label_table, warn_failed
from .checks import check_method
from .sensitivity_checks import (COMMON_EFFECT_METHODS, SENSITIVITY_METHODS, check_sensitivity_test,
                                 min_k_model, require_k, validate_studies)
from .tau2 import DEFAULT_MAXITER, DEFAULT_THRESHOLD

if TYPE_CHECKING:  # pandas and scipy load only inside the functions that use them
    import pandas as pd

__all__ = ["leave_one_out", "influence_diagnostics", "baujat"]

_DBL_EPS = float(np.finfo(float).eps)


def _leave_one_out_mask(k: int):
    def rows(start, stop):
        M = np.ones((stop - start, k), dtype=bool)
        M[np.arange(stop - start), np.arange(start, stop)] = False
        return M
    return rows


# ============================================================================ leave-one-out
def leave_one_out(yi, vi, *, labels=None, method: str = "REML", test: str = "z",
                  level: float = 0.95, threshold: float = DEFAULT_THRESHOLD, maxiter: int = DEFAULT_MAXITER) -> pd.DataFrame:
    """The model refitted without each study in turn (metafor ``leave1out()``).

    Returns one row per omitted study with columns ``study`` (the omitted study), ``estimate``,
    ``se``, ``statistic`` (z, or t for Knapp-Hartung), ``pval``, ``ci_low``, ``ci_high``,
    ``q`` and ``q_pval`` (Cochran's Q of the remaining studies), ``tau2``, ``i2`` (%) and ``h2``.
    ``test``: "z", "knha" (Knapp & Hartung 2003) or "adhoc" (Knapp-Hartung with the floor).
    """
    import pandas as pd

    m, t = check_method(method, SENSITIVITY_METHODS), check_sensitivity_test(test)
    y, v, names = validate_studies(yi, vi, labels, what="leave-one-out")
    require_k(y.size, 2, "leave-one-out")
    fits = fit_masked_rows(y, v, _leave_one_out_mask(y.size), y.size, method=m, test=t,
                            level=level, threshold=threshold, maxiter=maxiter)
    warn_failed(fits, names, "leave-one-out")
    table = pd.DataFrame({"study": pd.array(names, dtype="string"), **fit_table(fits)})
    return label_table(table, "Leave-one-out", m, t, y.size)


# ============================================================================ influence
def _deleted_fits(y, v, method, test, level, threshold, maxiter=DEFAULT_MAXITER):
    return fit_masked_rows(y, v, _leave_one_out_mask(y.size), y.size, method=method,
                            test=test, level=level, threshold=threshold, maxiter=maxiter)


def influence_diagnostics(yi, vi, *, labels=None, method: str = "REML", test: str = "z",
                          threshold: float = DEFAULT_THRESHOLD, maxiter: int = DEFAULT_MAXITER) -> pd.DataFrame:
    """Case-deletion diagnostics of Viechtbauer & Cheung (2010), as ``influence.rma.uni()``.

    Columns (one row per study): ``study``; ``rstudent`` (externally studentized residual,
    (y_i - mu_(-i)) / sqrt(v_i s_(-i) + Var(mu_(-i)) + tau²_(-i) s_(-i)), s the Knapp-Hartung
    factor or 1); ``dffits``; ``cook_d`` (Cook's distance, (mu - mu_(-i))² / Var(mu));
    ``cov_r`` (covariance ratio Var(mu_(-i)) / Var(mu)); ``tau2_del`` and ``qe_del`` (tau²
    and Q without the study); ``hat`` (leverage w_i / sum w); ``weight`` (%); ``dfbetas``;
    ``influential``: metafor's rule, any of |DFFITS| > 3 sqrt(p / (k - p)), the chi²(1)
    probability of Cook's distance > 0.5, hat > 3 p / k, or |DFBETAS| > 1.
    """
    m, t = check_method(method, SENSITIVITY_METHODS), check_sensitivity_test(test)
    y, v, names = validate_studies(yi, vi, labels, what="influence diagnostics")
    k = y.size
    require_k(k, 3 if m not in COMMON_EFFECT_METHODS else 2, f"influence diagnostics ({m})")
    table = _influence(y, v, names, m, t, threshold, maxiter)[0]
    return label_table(table, "Influence diagnostics", m, t, k)


def _influence(y, v, names, m, t, threshold, maxiter=DEFAULT_MAXITER, level=0.95):
    import pandas as pd
    from scipy import stats

    k, p = y.size, 1
    full = fit_one(y, v, m, t, level, threshold, maxiter=maxiter)
    dele = _deleted_fits(y, v, m, t, level, threshold, maxiter)
    warn_failed(dele, names, "influence diagnostics")
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
    block = max(1, BATCH_CELLS // k)
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
           threshold: float = DEFAULT_THRESHOLD, maxiter: int = DEFAULT_MAXITER) -> pd.DataFrame:
    """Baujat et al. (2002) plot data, as metafor ``baujat()``.

    Columns: ``study``; ``x`` = (y_i - mu)² / (v_i + tau²), the study's contribution to Q (its
    squared Pearson residual); ``y`` = (mu_(-i) - mu)² / Var(mu_(-i)), its influence on the
    pooled estimate.
    """
    import pandas as pd

    m, t = check_method(method, SENSITIVITY_METHODS), check_sensitivity_test(test)
    y, v, names = validate_studies(yi, vi, labels, what="Baujat")
    require_k(y.size, min_k_model(m) + 1, f"Baujat ({m})")
    full = fit_one(y, v, m, t, threshold=threshold, maxiter=maxiter)
    dele = _deleted_fits(y, v, m, t, 0.95, threshold, maxiter)
    warn_failed(dele, names, "Baujat")
    mu = full.beta[0, 0]
    x = (y - mu) ** 2 / (full.tau2[0] + v)
    yy = (dele.beta[:, 0] - mu) ** 2 / dele.vb[:, 0, 0]
    table = pd.DataFrame({"study": pd.array(names, dtype="string"), "x": x, "y": yy})
    return label_table(table, "Baujat", m, t, y.size)
