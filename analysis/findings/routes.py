"""Which route each pooled measure takes, its alternative beside it, and what each scenario tests.

The route is data: the ``swap_route`` row of ``data/<question>/assumptions.csv`` names the route
of the primary analysis (``method_used``) and its alternative (``method_alternative``); the
scenario named after that row pools every study by the alternative route
(:func:`analysis.evidence.extraction.effect_sizes`). This module sets the two results side by side and
lists every sensitivity scenario with what it does. A scenario that leaves fewer than two
effect sizes cannot test anything and says so instead of showing a result.
"""
from __future__ import annotations

import pandas as pd

from analysis import review
from analysis.pooling import display_rules, synthesis
from analysis.evidence import extraction
from .comparison import r_from_odds_ratio

__all__ = ["route_comparison", "route_statement", "sensitivity_table", "CANNOT_BE_TESTED"]

CANNOT_BE_TESTED = "cannot be tested"
_ROUTE_WORDS = {
    "log_odds_ratio": "every study as a log odds ratio",
    "correlation": "every study as a correlation r (pooled as Fisher z)",
    "standardised_mean_difference": "every study as a standardised mean difference",
}


def _result_text(row: dict) -> str:
    measure = row["measure"]
    fmt = lambda v: display_rules.format_estimate(measure, v)  # noqa: E731
    if synthesis._plain(row["estimate"]) is None:
        return "no study"
    text = (f"{measure} {fmt(row['estimate'])} (95% CI {fmt(row['ci_low'])} to "
            f"{fmt(row['ci_high'])}; k = {row['k']})")
    if not row["pooled"]:
        text += ", a single study, not pooled"
    return text


def route_comparison(question: str, outcome: str) -> pd.DataFrame:
    """The primary route's result and the alternative route's, one row each.

    Columns: role ("primary", "alternative"), route, rule (in words), measure, k, estimate,
    ci_low, ci_high (reader's scale), r_display (r from the pooled OR, equal groups; None for
    other measures), result (text).
    """
    routes = extraction.primary_route(question)
    rows = [("primary", routes["route"], "primary")]
    if routes["alternative"]:
        rows.append(("alternative", routes["alternative"], routes["assumption_id"]))
    records = []
    for role, route, scenario in rows:
        result = review.current().pooled(question, outcome, scenario).as_dict()
        r_display = None
        if result["measure"] == "OR" and synthesis._plain(result["estimate"]) is not None:
            r_display = r_from_odds_ratio(result["estimate"])
        records.append({
            "role": role, "route": route, "rule": _ROUTE_WORDS.get(route, route),
            "measure": result["measure"], "k": result["k"], "estimate": result["estimate"],
            "ci_low": result["ci_low"], "ci_high": result["ci_high"], "r_display": r_display,
            "result": _result_text(result),
        })
    return synthesis.object_frame(records, list(records[0]))


def route_statement(question: str, outcome: str) -> str:
    """One sentence for the pooling chapter: which route is primary, its rule, and both results."""
    table = route_comparison(question, outcome).set_index("role")
    primary = table.loc["primary"]
    text = f"Primary route: {primary['rule']}; pooled result {primary['result']}"
    spec = synthesis.analysis_spec(question, outcome)
    published = synthesis.published_row(review.current().published, spec.published_id)
    if primary["r_display"] is not None and published.get("measure") == "r":
        text += (f", shown as r = {display_rules.format_estimate('r', primary['r_display'])} "
                 f"for display only (equal groups, the largest r an odds ratio allows)")
    text += "."
    if "alternative" in table.index:
        other = table.loc["alternative"]
        text += f" Alternative route: {other['rule']}; pooled result {other['result']}."
    return text


def sensitivity_table(question: str, outcome: str) -> pd.DataFrame:
    """Every data scenario of one analysis: what it changes, whether it tests its assumption or
    only removes studies, and its result, or "cannot be tested" when fewer than two effect sizes
    remain.

    Columns: scenario, change, kind, k, result, tested (bool).
    """
    descriptions = extraction.scenario_descriptions(question).set_index("scenario")
    primary_k = review.current().pooled(question, outcome).as_dict()["k"]
    records = []
    for scenario in review.current().question(question).scenarios:
        result = review.current().pooled(question, outcome, scenario).as_dict()
        change = str(descriptions.loc[scenario, "change"])
        kind = str(descriptions.loc[scenario, "kind"])
        tested = result["k"] >= 2
        if tested or scenario == "primary":
            text = _result_text(result)
        elif primary_k < 2:
            text = f"{CANNOT_BE_TESTED}: the analysis itself has k = {primary_k}"
        else:
            text = f"{CANNOT_BE_TESTED}: k = {result['k']} after this change"
        records.append({"scenario": scenario, "change": change, "kind": kind,
                        "k": result["k"], "result": text, "tested": tested})
    return synthesis.object_frame(records, ["scenario", "change", "kind", "k", "result", "tested"])


def generation_table(question: str = "q1") -> pd.DataFrame:
    """How each study's sample is classified by generation, from its printed ages and year.

    Columns: study, ages, data_year, born (range of birth years), group. Generation Z: the
    birth year at the middle of the range is 1997 or later (:func:`analysis.evidence.extraction.population_group`).
    """
    from analysis.io.validate import load

    extraction_table = load(question, "extraction")
    studies = load(question, "studies").set_index("study_id")["label"]
    records = []
    for study, rows in extraction_table.groupby("study_id", sort=False):
        row = rows.iloc[0]
        printed = all(not pd.isna(row.get(c)) for c in ("age_min", "age_max", "data_year"))
        records.append({
            "study": str(studies.get(study, study)),
            "ages": f"{int(row['age_min'])}-{int(row['age_max'])}" if printed else "not printed",
            "data_year": int(row["data_year"]) if not pd.isna(row.get("data_year")) else None,
            "born": (f"{int(row['data_year']) - int(row['age_max'])}-"
                     f"{int(row['data_year']) - int(row['age_min'])}") if printed else "not known",
            "group": extraction.population_group(row),
        })
    return synthesis.object_frame(records, ["study", "ages", "data_year", "born", "group"])


def generation_z_statement() -> str:
    """The Generation Z result in words, beside Bizzotto et al.'s, with no comparative word."""
    from .comparison import published_comparison_table

    row = review.current().pooled("q1", "depression_webhelp_generation_z").as_dict()
    groups = generation_table("q1")
    members = list(groups.loc[groups["group"] == extraction.GENERATION_Z, "study"])
    unknown = int((groups["group"] == "not classifiable").sum())
    if row["k"] == 0:
        text = "No study here samples Generation Z (born 1997 or later, from printed ages and year)"
    else:
        text = (f"Generation Z (born 1997 or later, from each sample's printed ages and year): "
                f"{', '.join(members)}; {_result_text(row)}")
    text += (f"; {unknown} stud{'y prints' if unknown == 1 else 'ies print'} no ages and cannot be "
             f"classified.")
    comparison = published_comparison_table().set_index("synthesis_id")
    if "bizzotto2023_genz" in comparison.index:
        text += " " + comparison.loc["bizzotto2023_genz", "sentence"]
    return text
