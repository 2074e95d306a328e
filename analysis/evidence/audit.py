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

* **digits**: where the centre of an asymmetric interval has the printed estimate's digits in another
  order (1.76 for 1.67), the row says so.
* **effective sample**: an r printed with its P and no CI implies the N at which Fisher's z gives
  that P: N = (z_p / atanh r)^2 + 3.
* **subgroups** (:func:`subgroup_checks`): a pooled estimate is compared with the inverse-variance
  weighted mean of the subgroup estimates printed for the same outcome and time point (SE from each
  CI; common-effect weights 1 / SE^2); an overall estimate beyond every printed subgroup is possible
  only if subgroups that are not printed lie further out.

``verdict`` states the facts in plain words, each with the numbers it rests on; it judges no one.
"""
from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
from scipy import stats

from analysis.io.columns import p_bound, printed_value
from analysis.io.validate import load

__all__ = ["audit_published_syntheses", "p_from_ci", "p_altman_bland", "AUDIT_COLUMNS",
           "effective_sample_size", "subgroup_checks", "AUDIT_FORMULAS", "audit_sentence"]

Z95 = 1.96  # as in Altman & Bland's box; the printed CIs are 95% intervals
RATIO_MEASURES = ("OR", "RR", "HR")

AUDIT_COLUMNS = (
    "synthesis_id", "review", "outcome", "comparison", "measure", "printed", "p_reported",
    "scale", "se", "z", "p_from_ci", "p_altman_bland", "p_from_ci_low", "p_from_ci_high",
    "p_consistent", "ci_excludes_null", "ci_below", "ci_above", "ci_symmetric",
    "ci_centre", "p_at_ci_centre", "digit_swap", "effective_n", "consistent", "verdict",
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
    value, half = printed_value(text), _half_unit(text)
    return value - half, value + half


def _p_interval(text: str) -> tuple[float, float]:
    """The values of p that a printed p stands for: "<.001" -> (0, .001); ".05" -> (.045, .055)."""
    relation, value = p_bound(text)
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
    relation, _ = p_bound(text)
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
        record["verdict"] = ("No confidence interval is printed; the P value is not recomputed "
                             "from an interval.")
        relation, p_value = p_bound(row["p_reported"]) if row["p_reported"] else ("", None)
        if measure == "r" and p_value is not None and relation in ("", "="):
            n = effective_sample_size(printed_value(row["estimate"]), p_value)
            record["effective_n"] = n
            record["verdict"] += (f" r = {row['estimate']} with P = {row['p_reported']} corresponds "
                                  f"to an effective sample of about {n:,.0f} (Fisher z: N = "
                                  f"(z_p / atanh r)^2 + 3).")
        return record

    ratio = measure in RATIO_MEASURES
    scale = math.log if ratio else (lambda v: v)
    null = 1.0 if ratio else 0.0
    record["scale"] = "log" if ratio else "linear"
    estimate = printed_value(row["estimate"])
    low, high = printed_value(row["ci_low"]), printed_value(row["ci_high"])
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
    scale_words = "on the log scale" if ratio else "on its own scale"
    null_words = f"{null:g} (no effect)"
    sentences.append(f"The 95% CI {'excludes' if excludes_null else 'includes'} {null_words}.")
    if symmetric:
        sentences.append(f"The estimate lies at the centre of its CI {scale_words} within the "
                         f"rounding of the printed numbers.")
    else:
        back = measure
        centre_value = math.exp(centre) if ratio else centre
        centre_text = f"{centre_value:.{_decimals(row['estimate'])}f}"
        sentences.append(
            f"The estimate is not at the centre of its CI {scale_words}: the limits lie "
            f"{_fmt(below)} below and {_fmt(above)} above it, beyond what rounding allows. The "
            f"centre is {back} {centre_text}; with it as the estimate, p = {_fmt_p(p_centre)}. A Wald "
            f"interval of the same width centred on {row['estimate']} runs from "
            f"{_wald(est_s, se, ratio, -1):.2f} to {_wald(est_s, se, ratio, 1):.2f}.")
        if _digit_swap(row["estimate"], centre_text):
            record["digit_swap"] = centre_text
            sentences.append(f"{centre_text} has the digits of the printed {row['estimate']} in "
                             f"another order.")
        problems.append("the estimate and its CI")
    p_sentence = (f"p recomputed from the CI (Altman & Bland 2011) is {_fmt_p(p)} "
                  f"({_fmt_p(p_low)} to {_fmt_p(p_high)} within the rounding of the printed numbers)")
    if row["p_reported"]:
        reported_low, reported_high = _p_interval(row["p_reported"])
        consistent_p = p_low <= reported_high and reported_low <= p_high
        record["p_consistent"] = consistent_p
        shown = _shown_p(row["p_reported"])
        if consistent_p:
            sentences.append(p_sentence + f"; the printed P {shown} lies in that range.")
        else:
            note = ""
            if reported_high <= 0.001 < p_low:
                note = (" This P may be that of the test for heterogeneity, which forest plots "
                        "print beside the pooled estimate.")
            sentences.append(p_sentence + f"; the printed P {shown} lies outside that range." + note)
            problems.append("the P value and the CI")
        if excludes_null and reported_low >= 0.05:
            sentences.append(f"A CI that excludes {null:g} corresponds to p < .05; the printed P "
                             f"{shown} is not below .05.")
            problems.append("the P value and the CI's exclusion of the null")
        elif excludes_null and reported_high > 0.05 and reported_low < 0.05:
            sentences.append(f"A CI that excludes {null:g} corresponds to p < .05; the printed P "
                             f"{shown} agrees with it if p lay between {reported_low:g} and .05 "
                             f"before rounding.")
        elif not excludes_null and reported_high <= 0.05:
            sentences.append(f"A CI that includes {null:g} corresponds to p >= .05; the printed P "
                             f"{shown} is below .05.")
            problems.append("the P value and the CI's inclusion of the null")
    else:
        sentences.append(p_sentence + "; no P value is printed.")
    record["consistent"] = not problems
    record["verdict"] = " ".join(sentences)
    return record


def _decimals(text: str) -> int:
    return len(text.split(".")[1]) if "." in text else 0


def _digit_swap(printed: str, other: str) -> bool:
    """True when ``other`` has the same digits as ``printed`` in another order (1.76 vs 1.67)."""
    a, b = printed.replace(".", "").lstrip("0"), other.replace(".", "").lstrip("0")
    return a != b and sorted(a) == sorted(b) and len(a) == len(b)


def effective_sample_size(r: float, p: float) -> float:
    """The N at which a correlation r has two-sided P = p under Fisher's z (SE = 1 / sqrt(N - 3)):
    N = (z_p / atanh r)^2 + 3."""
    z = float(stats.norm.isf(p / 2))
    return (z / math.atanh(r)) ** 2 + 3


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


def subgroup_checks(data_dir: Path | str | None = None) -> pd.DataFrame:
    """Each printed overall estimate against the printed subgroup estimates of the same outcome.

    Rows: one per overall result with at least one printed subgroup (``comparison`` starting
    "subgroup:"), same review, outcome and time point. Columns: synthesis_id, subgroups (ids),
    overall, subgroup_min, subgroup_max, weighted_mean (inverse-variance, SE from each CI),
    beyond_every_subgroup (bool), statement.
    """
    table = load(None, "published_syntheses", data_dir)
    table = table.astype(object).where(table.notna(), "")
    records = []
    for _, overall in table.iterrows():
        if not overall["estimate"] or str(overall["comparison"]).startswith("subgroup:"):
            continue
        same = table[(table["review"] == overall["review"]) & (table["outcome"] == overall["outcome"])
                     & (table["timepoint"] == overall["timepoint"])
                     & table["comparison"].astype(str).str.startswith("subgroup:")
                     & (table["estimate"] != "") & (table["ci_low"] != "")]
        if same.empty:
            continue
        values, weights = [], []
        for _, sub in same.iterrows():
            estimate = printed_value(sub["estimate"])
            se = (printed_value(sub["ci_high"]) - printed_value(sub["ci_low"])) / (2 * Z95)
            values.append(estimate)
            weights.append(1 / se ** 2)
        mean = sum(v * w for v, w in zip(values, weights)) / sum(weights)
        value = printed_value(overall["estimate"])
        beyond = value > max(values) or value < min(values)
        statement = (f"The overall {overall['measure']} {overall['estimate']} "
                     f"{'lies outside' if beyond else 'lies within'} the range of the printed "
                     f"subgroup estimates ({', '.join(str(s) for s in same['estimate'])}); their "
                     f"inverse-variance weighted mean is {mean:.2f}.")
        if beyond:
            statement += (" An overall estimate outside every printed subgroup is possible only if "
                          "subgroups that are not printed lie further out.")
        records.append({"synthesis_id": overall["synthesis_id"],
                        "subgroups": " ".join(same["synthesis_id"]), "overall": value,
                        "subgroup_min": min(values), "subgroup_max": max(values),
                        "weighted_mean": mean, "beyond_every_subgroup": beyond,
                        "statement": statement})
    columns = ["synthesis_id", "subgroups", "overall", "subgroup_min", "subgroup_max",
               "weighted_mean", "beyond_every_subgroup", "statement"]
    return pd.DataFrame({c: pd.Series([r[c] for r in records], dtype=object) for c in columns},
                        columns=columns)


# The formulas of the audit, for the appendix (check, formula, source).
AUDIT_FORMULAS = pd.DataFrame([
    ("SE from a 95% CI", "SE = (upper - lower) / (2 x 1.96), on the log scale for ratios",
     "Altman & Bland 2011, BMJ 343:d2304"),
    ("p from a CI", "z = estimate / SE; p = 2 (1 - Phi(|z|)); approximation exp(-0.717 z - 0.416 z^2)",
     "Altman & Bland 2011, BMJ 343:d2304"),
    ("rounding", "each printed number stands for +-0.5 in its last digit; p is given as the range "
     "these allow", "this review"),
    ("centre of a CI", "(log lower + log upper) / 2 for ratios; a Wald interval is symmetric about "
     "its estimate", "Cochrane Handbook v6.4, sec. 6.3.2"),
    ("effective sample of r and P", "N = (z_p / atanh r)^2 + 3, z_p = Phi^-1(1 - p / 2)",
     "Borenstein et al. 2009, ch. 6 (Fisher z, var 1 / (N - 3))"),
    ("subgroup mean", "sum(w_i est_i) / sum(w_i), w_i = 1 / SE_i^2 with SE_i from each CI",
     "Borenstein et al. 2009, ch. 11 (inverse-variance weights)"),
], columns=["check", "formula", "source"])


def audit_sentence(review_prefix: str, data_dir: Path | str | None = None) -> str:
    """One neutral sentence on a published review's results for its pooling chapter.

    ``review_prefix``: the start of the review's name as ``published_syntheses.csv`` gives it
    ("Bizzotto", "Ni"). The full audit is in the appendix.
    """
    table = audit_published_syntheses(data_dir)
    rows = table[table["review"].astype(str).str.startswith(review_prefix)]
    if rows.empty:
        raise KeyError(f"no published result of a review starting with {review_prefix!r}")
    name = str(rows["review"].iloc[0]).split(" (")[0]
    with_ci = rows[rows["p_from_ci"].notna()]
    if with_ci.empty:
        sizes = [f"{n:,.0f}" for n in rows["effective_n"] if n is not None]
        return (f"{name} print their pooled results without confidence intervals; each r with its "
                f"P corresponds to an effective sample of about {', '.join(sizes)} (appendix: the "
                f"audit of the published syntheses, with its formulas).")
    agree = int(sum(1 for v in with_ci["p_consistent"] if v is True))
    printed_p = int(sum(1 for v in with_ci["p_consistent"] if v is not None))
    off_centre = int(sum(1 for v in with_ci["ci_symmetric"] if v is False))
    return (f"Of the {len(with_ci)} results {name} print with a 95% CI, {printed_p} also print a P; "
            f"the P recomputed from the interval lies in the printed P's range for {agree} of them, "
            f"and {off_centre} interval{'s are' if off_centre != 1 else ' is'} not centred on "
            f"{'their' if off_centre != 1 else 'its'} estimate (appendix: the audit of the "
            f"published syntheses, with its formulas).")
