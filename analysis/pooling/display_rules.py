"""Rules for what a result may show, in one place, applied wherever results are drawn or written.

* **Subgroup differences.** A test for subgroup differences is shown only when every subgroup
  holds at least two studies: with one study in a subgroup the test restates the between-study
  heterogeneity and reads as a finding it is not (Cochrane Handbook v6.4, sec. 10.11.3.1, on the
  few-studies caution; Richardson, Garner & Donegan 2019, Cochrane Database Syst Rev ED000142).
* **Prediction intervals.** Shown only from k >= 3, computed with t(k - 2) (Higgins, Thompson &
  Spiegelhalter 2009, J R Stat Soc A 172:137; Cochrane Handbook v6.4, sec. 10.10.4.3). metafor's
  own interval (the CI's quantile: t(k - 1) with Knapp-Hartung, z otherwise) is kept for the
  methods panel. With tau² = 0 the t(k - 2) interval is still wider than the CI; it is never
  drawn for k < 3.
* **Decimals by measure.** r and SMD with 2 decimals, odds and risk ratios with 2, tau² with 3,
  I² as a whole percentage, p with 3 (or "< .001").
* **Published numbers exactly as printed.** A number printed by another review is shown as the
  text of ``data/published_syntheses.csv`` ("0.245" stays "0.245"), never re-rounded.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np
from scipy import special

from analysis.engine.meta_analysis import meta_analysis

__all__ = [
    "MIN_STUDIES_PER_SUBGROUP", "MIN_K_PREDICTION", "DECIMALS", "show_subgroup_test",
    "subgroup_test_note", "PredictionIntervals", "prediction_intervals", "decimals",
    "format_estimate", "printed_number", "prediction_interval_of_row",
]

MIN_STUDIES_PER_SUBGROUP = 2
MIN_K_PREDICTION = 3
DECIMALS: dict[str, int] = {"r": 2, "SMD": 2, "MD": 2, "OR": 2, "RR": 2, "RD": 2, "tau2": 3,
                            "i2": 0, "p": 3}


def show_subgroup_test(subgroup_sizes: Mapping[str, int] | Any) -> bool:
    """True only when there are at least two subgroups and each holds >= 2 studies.

    ``subgroup_sizes``: {subgroup: k}, a Series of k, or a subgroup table with a ``k`` column.
    """
    if hasattr(subgroup_sizes, "columns") and "k" in subgroup_sizes.columns:
        sizes = [int(k) for k in subgroup_sizes["k"]]
    elif hasattr(subgroup_sizes, "values") and not isinstance(subgroup_sizes, dict):
        sizes = [int(k) for k in subgroup_sizes.values]
    else:
        sizes = [int(k) for k in dict(subgroup_sizes).values()]
    return len(sizes) >= 2 and min(sizes) >= MIN_STUDIES_PER_SUBGROUP


def subgroup_test_note(subgroup_sizes: Mapping[str, int] | Any) -> str:
    """Why no test for subgroup differences is shown ("" when it is shown)."""
    if show_subgroup_test(subgroup_sizes):
        return ""
    return ("No test for subgroup differences: it needs at least two studies in every "
            "subgroup; with one, it only restates the heterogeneity between studies.")


@dataclass(frozen=True)
class PredictionIntervals:
    """The prediction interval shown (t(k - 2)) and metafor's, on the analysis scale.

    ``shown_low``/``shown_high`` are None when k < 3 (nothing is shown);
    ``metafor_low``/``metafor_high`` are metafor's ``predict()`` interval for the methods panel.
    """

    k: int
    shown_low: float | None
    shown_high: float | None
    metafor_low: float | None
    metafor_high: float | None
    df: int | None

    @property
    def shown(self) -> bool:
        return self.shown_low is not None


def prediction_intervals(result: Any) -> PredictionIntervals:
    """The intervals of one pooled result (a :class:`analysis.engine.meta_analysis.MetaResult`).

    The t(k - 2) interval is mu +- t(0.975, k - 2) sqrt(se² + tau²) (Higgins et al. 2009).
    """
    k = int(result.k)
    metafor_low = _finite(getattr(result, "pi_low", None))
    metafor_high = _finite(getattr(result, "pi_high", None))
    if k < MIN_K_PREDICTION:
        return PredictionIntervals(k, None, None, metafor_low, metafor_high, None)
    crit = float(-special.stdtrit(k - 2, 0.025))
    half = crit * math.sqrt(float(result.se) ** 2 + float(result.tau2))
    estimate = float(result.estimate)
    return PredictionIntervals(k, estimate - half, estimate + half, metafor_low, metafor_high, k - 2)


def prediction_intervals_of(yi: Any, vi: Any, *, method: str = "REML", test: str = "knha") -> PredictionIntervals:
    """Fit the model and return its :class:`PredictionIntervals` (k >= 2)."""
    fit = meta_analysis(np.asarray(yi, float), np.asarray(vi, float), method=method, test=test)
    return prediction_intervals(fit)


def decimals(measure: str) -> int:
    """Decimals shown for a measure (``DECIMALS``; 2 for anything not listed)."""
    return DECIMALS.get(measure, 2)


def format_estimate(measure: str, value: float | None) -> str:
    """A number on the reader's scale with the measure's decimals and a true minus sign."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    return f"{float(value):.{decimals(measure)}f}".replace("-", "\u2212")


def printed_number(text: str | None) -> str:
    """A published number exactly as printed (its text), with a true minus sign; "–" if absent."""
    if text is None or str(text).strip() == "":
        return "–"
    return str(text).strip().replace("-", "\u2212")


def _finite(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


_ANALYSIS_SCALE = {"r": (math.tanh, "ZCOR"), "OR": (math.exp, "logOR"), "SMD": (float, "SMD")}


def prediction_interval_of_row(row: Mapping[str, Any]) -> tuple[float, float] | None:
    """The t(k - 2) prediction interval of one row of the review's results (``Review.results``), on the reader's
    scale; None when k < 3 or the row is not pooled.

    Uses the row's analysis-scale estimate, its SE and tau²: mu +- t(0.975, k - 2) sqrt(se² + tau²).
    """
    k = int(row.get("k") or 0)
    values = [_finite(row.get(key)) for key in ("estimate_model_scale", "se_model_scale", "tau2")]
    if k < MIN_K_PREDICTION or any(v is None for v in values) or row.get("measure") not in _ANALYSIS_SCALE:
        return None
    estimate, se, tau2 = values
    half = float(-special.stdtrit(k - 2, 0.025)) * math.sqrt(se * se + tau2)
    back = _ANALYSIS_SCALE[row["measure"]][0]
    return back(estimate - half), back(estimate + half)
