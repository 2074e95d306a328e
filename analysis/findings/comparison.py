"""This review's results beside the published reviews', with a computed verdict and the words.

For every published result (``data/published_syntheses.csv``) the matching analysis here is the
one its ``analysis`` column names. The verdict is computed, never typed:

* **not comparable** when nothing here answers it (no matching analysis, or no study here), when
  the published review prints no estimate, when the two estimates relate different things
  (``association``), when their measures cannot be put on one scale (a mean difference in the
  units of one scale against a standardised one), or when the published scope is a subgroup that
  no study here falls in;
* **comparable** when outcome, association, scope, population and measure agree and both sides
  pool at least two studies;
* **partly comparable** otherwise, with every difference named (scope wider or narrower,
  a single study here, an r here derived from an odds ratio, a time point not printed...).

Comparative words come from the verdict and the overlap of the 95% intervals only
(:func:`comparative_sentence`): "larger"/"smaller" only for comparable results whose intervals
do not overlap; overlapping intervals of comparable results are "in line with"; results that are
only partly comparable are "set beside" each other with the overlap stated as a fact; results
that are not comparable get no comparative word at all.

A published r printed with its P but no CI gets the interval its P implies (Fisher z:
SE = atanh(r) / z_p; the effective sample size is (z_p / atanh r)^2 + 3), flagged as derived.
"""
from __future__ import annotations

import math
from typing import Any

import pandas as pd
from scipy import stats

from analysis import review
from analysis.pooling import display_rules, synthesis
from analysis.io.columns import p_bound, printed_value
from analysis.measures import measure
from analysis.io.validate import load

__all__ = ["COMPARISON_COLUMNS", "published_comparison_table", "comparative_sentence",
           "r_from_odds_ratio", "interval_from_r_and_p", "VERDICTS"]

VERDICTS = ("comparable", "partly comparable", "not comparable")
_FAMILIES = {"r": "association", "OR": "association", "SMD": "standardised",
             "MD": "raw units", "RR": "ratio"}
# Measures that one stated conversion puts on a common scale (r from OR through d).
_CONVERTIBLE = {("OR", "r"), ("r", "OR")}
# What each analysis of this review relates (its association).
_ASSOCIATION = {"q1": "depressive symptoms and web-based help seeking", "q2": "intervention effect"}
_SPECIAL_ASSOCIATION = {("q1", "webhelp_empowerment"): "web-based help seeking and empowerment"}

COMPARISON_COLUMNS = (
    "synthesis_id", "review", "published_outcome", "published", "published_measure",
    "published_k", "published_ci_derived", "analysis", "analysis_label", "k_here", "here",
    "here_measure", "here_r_display", "verdict", "reason", "ci_overlap", "sentence",
)


def r_from_odds_ratio(odds_ratio: float) -> float:
    """r for display from an odds ratio: d = ln(OR) sqrt(3) / pi, r = d / sqrt(d^2 + 4)
    (Borenstein et al. 2009, eqs. 7.1 and 7.5 with equal groups: the largest r an OR allows)."""
    d = math.log(odds_ratio) * math.sqrt(3) / math.pi
    return d / math.sqrt(d * d + 4)


def interval_from_r_and_p(r: float, p: float) -> tuple[float, float, float]:
    """(low, high, effective N) of a correlation printed with a two-sided P and no CI (Fisher z)."""
    z_p = float(stats.norm.isf(p / 2))
    se = abs(math.atanh(r)) / z_p
    half = 1.959963984540054 * se
    return math.tanh(math.atanh(r) - half), math.tanh(math.atanh(r) + half), (z_p / math.atanh(r)) ** 2 + 3


def _printed(row: dict) -> str:
    if not row["estimate"]:
        return "no estimate printed"
    text = f"{row['measure']} = {display_rules.printed_number(row['estimate'])}"
    if row["ci_low"] and row["ci_high"]:
        text += (f" (95% CI {display_rules.printed_number(row['ci_low'])} to "
                 f"{display_rules.printed_number(row['ci_high'])})")
    if row["p_reported"]:
        text += f", P {row['p_reported'] if row['p_reported'][0] in '<>=' else '= ' + row['p_reported']}"
    return text


def _interval(row: dict) -> tuple[float | None, float | None, float | None, bool]:
    """(estimate, low, high, derived) of a published row on its printed scale."""
    if not row["estimate"]:
        return None, None, None, False
    estimate = printed_value(row["estimate"])
    if row["ci_low"] and row["ci_high"]:
        return estimate, printed_value(row["ci_low"]), printed_value(row["ci_high"]), False
    if row["measure"] == "r" and row["p_reported"]:
        relation, p = p_bound(row["p_reported"])
        if relation in ("", "="):
            low, high, _ = interval_from_r_and_p(estimate, p)
            return estimate, low, high, True
    return estimate, None, None, False


def _here(analysis: str, results: pd.DataFrame) -> tuple[Any, dict | None]:
    question, outcome = analysis.split("/", 1)
    spec = synthesis.analysis_spec(question, outcome)
    match = results[(results["question"] == question) & (results["outcome"] == outcome)]
    return spec, (match.iloc[0].to_dict() if len(match) else None)


def _scope_result(spec: Any, scope: str) -> dict | None:
    """This review's result for one subgroup (a form of help seeking, an intervention type):
    pooled where it holds two or more effects, else the single study's own estimate and 95% CI."""
    analysis = review.current().pooled(spec.question, spec.outcome).as_dict()
    rows = analysis["effect_sizes"]
    rows = rows[rows["subgroup"].astype(str) == scope] if len(rows) else rows
    if rows.empty:
        return None
    scale = str(rows["measure"].iloc[0])
    back = measure(scale).back_transform
    record = {"measure": measure(scale).reader, "k": int(len(rows)),
              "pooled": len(rows) >= 2}
    if len(rows) >= 2:
        groups = analysis["subgroups"].set_index("subgroup")
        record.update({key: groups.loc[scope, key] for key in ("estimate", "ci_low", "ci_high")})
    else:
        yi, vi = float(rows["yi"].iloc[0]), float(rows["vi"].iloc[0])
        half = synthesis._Z975 * math.sqrt(vi)
        record.update(estimate=back(yi), ci_low=back(yi - half), ci_high=back(yi + half))
    return record


def _verdict(row: dict, spec: Any, mine: dict | None, subgroups: pd.DataFrame | None) -> tuple[str, list[str]]:
    reasons: list[str] = []
    if spec is None:
        return "not comparable", ["no analysis of this review answers it"]
    k_here = int(mine["k"]) if mine else 0
    if k_here == 0:
        return "not comparable", ["no study in this review reports it"]
    if not row["estimate"]:
        return "not comparable", ["the published review prints no estimate"]
    association = _SPECIAL_ASSOCIATION.get((spec.question, spec.outcome), _ASSOCIATION[spec.question])
    if row["association"] != association:
        return "not comparable", [f"the published estimate relates {row['association']}; this "
                                  f"analysis relates {association}"]
    theirs, ours = row["measure"], mine["measure"]
    if theirs != ours and (theirs, ours) not in _CONVERTIBLE:
        return "not comparable", [f"the published result is a {theirs} "
                                  f"({_FAMILIES.get(theirs, theirs)}), this analysis pools {ours}"]
    if theirs != ours:
        reasons.append(f"the published result is an {theirs}; this review pools {ours}, shown as "
                       f"r only through the equal-groups conversion (the largest r an OR allows)")
    population = spec.population_group or "all"
    if row["population"] != population:
        reasons.append(f"population: {row['population']} there, {population} here")
    present = set(subgroups["subgroup"]) if subgroups is not None and len(subgroups) else set()
    if row["scope"] != "all":
        if row["scope"] not in present:
            return "not comparable", [f"the published result covers {row['scope'].replace('_', ' ')} "
                                      f"only, and no study here falls in it"]
        # compared with this review's studies of the same scope only (the matching subgroup)
        k_here = int(subgroups.set_index("subgroup").loc[row["scope"], "k"])
    elif len(present) == 1 and spec.question == "q1":
        reasons.append(f"scope: every form there; here only {next(iter(present)).replace('_', ' ')}")
    if k_here < 2:
        reasons.append("a single study here, not pooled")
    if not row["k_reported"]:
        reasons.append("the number of studies behind the published result is not printed")
    if not row["timepoint"] and spec.question == "q2":
        reasons.append("the published time point is not printed")
    return ("comparable" if not reasons else "partly comparable"), reasons


def _overlap(a_low: Any, a_high: Any, b_low: Any, b_high: Any) -> bool | None:
    values = [synthesis._plain(v) for v in (a_low, a_high, b_low, b_high)]
    if any(v is None for v in values):
        return None
    return not (values[1] < values[2] or values[3] < values[0])


def comparative_sentence(record: dict) -> str:
    """The sentence the book prints for one row of :func:`published_comparison_table`.

    Every comparative word comes from the verdict and ``ci_overlap``; nothing is typed.
    """
    name = record["review"].split(" (")[0]
    if record["verdict"] == "not comparable":
        return f"Not compared with {name} ({record['published_outcome']}): {record['reason']}."
    here = record["here"]
    if record["verdict"] == "partly comparable":
        overlap = {True: "the two intervals overlap", False: "the two intervals do not overlap",
                   None: "no interval is available on one side"}[record["ci_overlap"]]
        if record["published_ci_derived"] and record["ci_overlap"] is not None:
            overlap += " (the published interval derived from its P)"
        return (f"Set beside {name}'s {record['published']}, this review's {here} is only partly "
                f"comparable ({record['reason']}); {overlap}.")
    if record["ci_overlap"] is None:
        return f"{name}: {record['published']}; this review: {here}; no interval on one side."
    if record["ci_overlap"]:
        return f"This review's {here} is in line with {name}'s {record['published']} (the intervals overlap)."
    word = "larger" if record["_here_estimate"] > record["_published_estimate"] else "smaller"
    return (f"This review's {here} is {word} than {name}'s {record['published']} "
            f"(the intervals do not overlap).")


def published_comparison_table(results: pd.DataFrame | None = None) -> pd.DataFrame:
    """Every published result beside its matching analysis, with verdict, reason and sentence.

    ``results`` defaults to the review's primary results (``Review.primary_results``). Published numbers are
    shown exactly as printed; this review's with the decimals of its measure.
    """
    if results is None:
        results = review.current().primary_results.copy()
    published = load(None, "published_syntheses")
    records = []
    for row in published.astype(object).where(published.notna(), "").to_dict("records"):
        row = {key: ("" if value is None else str(value)) for key, value in row.items()}
        spec, mine, subgroups = None, None, None
        if row["analysis"]:
            spec, mine = _here(row["analysis"], results)
            if mine and int(mine["k"]) >= 1:
                subgroups = review.current().pooled(spec.question, spec.outcome).as_dict()["subgroups"]
        verdict, reasons = _verdict(row, spec, mine, subgroups)
        if mine and row["scope"] != "all" and subgroups is not None \
                and row["scope"] in set(subgroups["subgroup"]):
            mine = {**mine, **_scope_result(spec, row["scope"])}
        p_est, p_low, p_high, derived = _interval(row)
        here, here_r, ci_overlap, here_estimate = "not estimated", None, None, None
        if mine and synthesis._plain(mine["estimate"]) is not None:
            measure = mine["measure"]
            fmt = lambda v: display_rules.format_estimate(measure, v)  # noqa: E731
            scope = "" if row["scope"] == "all" else f"{row['scope'].replace('_', ' ')}: "
            here = (f"{scope}{measure} = {fmt(mine['estimate'])} (95% CI {fmt(mine['ci_low'])} to "
                    f"{fmt(mine['ci_high'])}; k = {mine['k']})")
            low, high, here_estimate = mine["ci_low"], mine["ci_high"], mine["estimate"]
            if measure == "OR":
                here_r = r_from_odds_ratio(mine["estimate"])
                if row["measure"] == "r":
                    low, high = r_from_odds_ratio(low), r_from_odds_ratio(high)
                    here_estimate = here_r
                    here += (f", shown as r = {display_rules.format_estimate('r', here_r)} "
                             f"({display_rules.format_estimate('r', low)} to "
                             f"{display_rules.format_estimate('r', high)})")
            if verdict != "not comparable" and row["measure"] in (measure, "r"):
                ci_overlap = _overlap(low, high, p_low, p_high)
        record = {
            "synthesis_id": row["synthesis_id"], "review": row["review"],
            "published_outcome": row["outcome"], "published": _printed(row),
            "published_measure": row["measure"] or None,
            "published_k": int(row["k_reported"]) if row["k_reported"] else None,
            "published_ci_derived": derived,
            "analysis": row["analysis"] or None, "analysis_label": spec.label if spec else None,
            "k_here": int(mine["k"]) if mine else 0, "here": here,
            "here_measure": mine["measure"] if mine else None, "here_r_display": here_r,
            "verdict": verdict, "reason": "; ".join(reasons), "ci_overlap": ci_overlap,
            "_here_estimate": here_estimate, "_published_estimate": p_est,
        }
        record["sentence"] = comparative_sentence(record)
        records.append(record)
    return pd.DataFrame({column: pd.Series([r[column] for r in records], dtype=object)
                         for column in COMPARISON_COLUMNS}, columns=list(COMPARISON_COLUMNS))
