"""The published reviews' pooled results, audited for internal consistency.

For each row of ``data/published_syntheses.csv`` with an estimate and a 95% CI:

* **p from the CI** (Altman & Bland 2011, BMJ 343:d2304, "How to obtain the P value from a
  confidence interval"): on the analysis scale (natural log for OR and RR), SE = (u - l) /
  (2 x 1.96), z = Est / SE, two-sided p from the normal distribution. Their closed-form
  approximation p = exp(-0.717 z - 0.416 z^2) is reported beside it (``p_altman_bland``).
* **rounding**: every printed number stands for an interval of half a unit in its last digit
  (1.67 for [1.665, 1.675]). The recomputed p is given as the range that these intervals allow,
  and the printed p (itself rounded, or a bound such as "<.001") is consistent when the two ranges
  meet.
* **symmetry**: a Wald interval is symmetric about its estimate on the analysis scale (log for
  ratios). The CI is called asymmetric only when no values within the rounding of the printed
  numbers make it symmetric.
* **null**: a 95% CI that excludes the null (0 for differences, 1 for ratios) goes with p < .05.

``verdict`` says in plain words which printed numbers cannot all be right, and why.
"""
from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
from scipy import stats

from . import schemas
from .validate import load

__all__ = ["audit_published_syntheses", "p_from_ci", "p_altman_bland", "AUDIT_COLUMNS"]

Z95 = 1.96  # as in Altman & Bland's box; the printed CIs are 95% intervals
RATIO_MEASURES = ("OR", "RR", "HR")

AUDIT_COLUMNS = (
    "synthesis_id", "review", "outcome", "comparison", "measure", "printed", "p_reported",
    "scale", "se", "z", "p_from_ci", "p_altman_bland", "p_from_ci_low", "p_from_ci_high",
    "p_consistent", "ci_excludes_null", "ci_below", "ci_above", "ci_symmetric",
    "ci_centre", "p_at_ci_centre", "consistent", "verdict",
)


def p_altman_bland(z: float) -> float:
    """Altman & Bland's (2011) approximation to the two-sided p of a normal z: exp(-0.717 z - 0.416 z^2)."""
    z = abs(z)
    return math.exp(-0.717 * z - 0.416 * z * z)


def _p_normal(z: float) -> float:
    return float(2 * stats.norm.sf(abs(z)))


def p_from_ci(estimate: float, ci_low: float, ci_high: float, ratio: bool) -> tuple[float, float, float]:
    """(SE, z, two-sided p) of an estimate and its 95% CI; on the log scale when ``ratio``.

    Altman & Bland 2011: SE = (u - l) / (2 x 1.96), z = Est / SE.
    """
    if ratio:
        if min(estimate, ci_low, ci_high) <= 0:
            raise ValueError("a ratio and its CI must be positive")
        estimate, ci_low, ci_high = math.log(estimate), math.log(ci_low), math.log(ci_high)
    if not ci_low < ci_high:
        raise ValueError(f"CI lower limit {ci_low} is not below the upper limit {ci_high}")
    se = (ci_high - ci_low) / (2 * Z95)
    z = estimate / se
    return se, z, _p_normal(z)


def _half_unit(text: str) -> float:
    """Half a unit in the last printed digit: "1.67" -> 0.005, "4" -> 0.5."""
    decimals = len(text.split(".")[1]) if "." in text else 0
    return 0.5 * 10 ** (-decimals)


def _interval(text: str) -> tuple[float, float]:
    value, half = schemas.printed_value(text), _half_unit(text)
    return value - half, value + half


def _p_interval(text: str) -> tuple[float, float]:
    """The values of p that a printed p stands for: "<.001" -> (0, .001); ".05" -> (.045, .055)."""
    relation, value = schemas.p_bound(text)
    if relation in ("<", "<="):
        return 0.0, value
    if relation in (">", ">="):
        return value, 1.0
    digits = text.strip().lstrip("=").strip()
    half = _half_unit(digits)
    return max(0.0, value - half), min(1.0, value + half)


def _fmt(value: float, digits: int = 3) -> str:
    return f"{value:.{digits}f}"


def _fmt_p(value: float) -> str:
    return "<0.001" if value < 0.001 else f"{value:.3f}"


def _shown_p(text: str) -> str:
    """A printed p as it reads in a sentence: ".05" -> "= .05", "<.001" -> "< .001"."""
    relation, _ = schemas.p_bound(text)
    digits = text.strip().lstrip("<>=").strip()
    return f"{relation} {digits}"


def _wald(centre: float, se: float, ratio: bool, side: int) -> float:
    limit = centre + side * Z95 * se
    return math.exp(limit) if ratio else limit


def _audit_row(row: pd.Series) -> dict:
    measure = str(row["measure"])
    printed = ""
    if row["estimate"]:
        printed = f"{measure} {row['estimate']}"
        if row["ci_low"] and row["ci_high"]:
            printed += f" (95% CI {row['ci_low']} to {row['ci_high']})"
        if row["p_reported"]:
            printed += f", P {_shown_p(row['p_reported'])}"
    record = {column: None for column in AUDIT_COLUMNS}
    record.update(synthesis_id=row["synthesis_id"], review=row["review"], outcome=row["outcome"],
                  comparison=row["comparison"], measure=measure or None, printed=printed or None,
                  p_reported=row["p_reported"] or None)
    if not row["estimate"]:
        record["verdict"] = "No pooled estimate is printed; nothing to check."
        return record
    if not (row["ci_low"] and row["ci_high"]):
        record["verdict"] = ("No confidence interval is printed, so the P value cannot be "
                             "recomputed from the abstract.")
        return record

    ratio = measure in RATIO_MEASURES
    scale = math.log if ratio else (lambda v: v)
    null = 1.0 if ratio else 0.0
    record["scale"] = "log" if ratio else "linear"
    estimate = schemas.printed_value(row["estimate"])
    low, high = schemas.printed_value(row["ci_low"]), schemas.printed_value(row["ci_high"])
    se, z, p = p_from_ci(estimate, low, high, ratio)
    record.update(se=se, z=z, p_from_ci=p, p_altman_bland=p_altman_bland(z))

    # Ranges allowed by rounding, on the analysis scale.
    e_lo, e_hi = (scale(v) for v in _interval(row["estimate"]))
    l_lo, l_hi = (scale(v) for v in _interval(row["ci_low"]))
    h_lo, h_hi = (scale(v) for v in _interval(row["ci_high"]))
    se_min, se_max = (h_lo - l_hi) / (2 * Z95), (h_hi - l_lo) / (2 * Z95)
    abs_e_min = 0.0 if e_lo <= 0 <= e_hi else min(abs(e_lo), abs(e_hi))
    abs_e_max = max(abs(e_lo), abs(e_hi))
    p_low, p_high = _p_normal(abs_e_max / se_min), _p_normal(abs_e_min / se_max)
    record.update(p_from_ci_low=p_low, p_from_ci_high=p_high)

    # Symmetry: (upper - est) - (est - lower) = upper + lower - 2 est can be 0 within rounding?
    est_s, low_s, high_s = scale(estimate), scale(low), scale(high)
    below, above = est_s - low_s, high_s - est_s
    gap_min, gap_max = h_lo + l_lo - 2 * e_hi, h_hi + l_hi - 2 * e_lo
    symmetric = gap_min <= 0 <= gap_max
    centre = (low_s + high_s) / 2
    p_centre = _p_normal(centre / se)
    record.update(ci_below=below, ci_above=above, ci_symmetric=symmetric,
                  ci_centre=math.exp(centre) if ratio else centre, p_at_ci_centre=p_centre)
    excludes_null = low > null or high < null
    record["ci_excludes_null"] = excludes_null

    sentences, problems = [], []
    scale_words = "on the log scale" if ratio else ""
    if excludes_null:
        sentences.append(f"The CI excludes {null:g}, so a test that matches it gives p < .05.")
    else:
        sentences.append(f"The CI includes {null:g}, so a test that matches it gives p >= .05.")
    if symmetric:
        sentences.append(f"The CI is symmetric about the estimate {scale_words}".rstrip()
                         + " within the rounding of the printed numbers.")
    else:
        back = "OR" if measure == "OR" else measure
        centre_text = f"{back} {math.exp(centre):.2f}" if ratio else f"{centre:.2f}"
        sentences.append(
            f"The CI is not symmetric about the estimate {scale_words}".replace("  ", " ").rstrip()
            + f": it reaches {_fmt(below)} below and {_fmt(above)} above it, more than rounding "
              f"allows, so it is not a Wald interval centred on {row['estimate']}; its centre is "
              f"{centre_text}, for which p = {_fmt_p(p_centre)}. A Wald interval of the same "
              f"width centred on {row['estimate']} would run from {_wald(est_s, se, ratio, -1):.2f} "
              f"to {_wald(est_s, se, ratio, 1):.2f}.")
        problems.append("the estimate and its CI")
    p_sentence = (f"p recomputed from the CI (Altman & Bland 2011) is {_fmt_p(p)} "
                  f"({_fmt_p(p_low)} to {_fmt_p(p_high)} allowing for rounding)")
    if row["p_reported"]:
        reported_low, reported_high = _p_interval(row["p_reported"])
        consistent_p = p_low <= reported_high and reported_low <= p_high
        record["p_consistent"] = consistent_p
        shown = _shown_p(row["p_reported"])
        if consistent_p:
            sentences.append(p_sentence + f", in line with the printed P {shown}.")
        else:
            sentences.append(p_sentence + f", which the printed P {shown} cannot be.")
            problems.append("the P value and the CI")
        if excludes_null and reported_low >= 0.05:
            sentences.append(f"The printed P {shown} says not significant while the CI excludes "
                             f"{null:g}.")
            problems.append("the P value and the CI's exclusion of the null")
        elif excludes_null and reported_high > 0.05 and reported_low < 0.05:
            sentences.append(f"The printed P {shown} fits a CI that excludes {null:g} only if p "
                             f"lay between {reported_low:g} and .05 before rounding.")
        elif not excludes_null and reported_high <= 0.05:
            sentences.append(f"The printed P {shown} says significant while the CI includes "
                             f"{null:g}.")
            problems.append("the P value and the CI's inclusion of the null")
    else:
        sentences.append(p_sentence + "; no P value is printed.")
    record["consistent"] = not problems
    if problems:
        sentences.insert(0, "Cannot all be right: " + "; ".join(dict.fromkeys(problems)) + ".")
    else:
        sentences.insert(0, "Consistent.")
    record["verdict"] = " ".join(sentences)
    return record


def audit_published_syntheses(data_dir: Path | str | None = None) -> pd.DataFrame:
    """One row per published pooled result: the checks above and a plain-words ``verdict``.

    Columns (:data:`AUDIT_COLUMNS`): synthesis_id, review, outcome, comparison, measure,
    printed (the result as printed), p_reported, scale ("log"/"linear"), se, z, p_from_ci
    (normal), p_altman_bland (their approximation), p_from_ci_low / p_from_ci_high (range under
    rounding), p_consistent, ci_excludes_null, ci_below / ci_above (distance of the limits from
    the estimate on the analysis scale), ci_symmetric (within rounding), ci_centre (back on the
    printed scale), p_at_ci_centre, consistent (False when some printed numbers cannot all be
    right; None when nothing can be checked), verdict. Numbers are plain floats or None.
    """
    table = load(None, "published_syntheses", data_dir)
    records = [_audit_row(row) for _, row in table.iterrows()]
    # object columns, so that a missing number stays None instead of becoming NaN
    return pd.DataFrame({column: pd.Series([record[column] for record in records], dtype=object)
                         for column in AUDIT_COLUMNS})
