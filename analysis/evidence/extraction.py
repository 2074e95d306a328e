"""Effect sizes on the analysis scale, computed from the statistics as printed.

Nothing here is typed in: every number comes from ``data/<question>/extraction.csv`` (as
printed, with its excerpt) through the formulas of :mod:`analysis.engine.effects`. Every assumption
the data force is a row of ``data/<question>/assumptions.csv``; each names a sensitivity
scenario that goes without it: ``effect_sizes(question, scenario=<assumption_id>)``.

One route per pooled measure. The ``swap_route`` row of each assumptions table names the route
every study of the primary analysis takes to the pooled scale, and its scenario takes every study
by the alternative route, so measures of different families are never mixed; a conversion that
changes the family inside a route is named in the effect's ``method`` and its flags.

Question 1 (primary: every association as a log odds ratio; alternative: every one as r, pooled
as Fisher z): see :mod:`analysis.evidence.conversions` for the conversions of each printed statistic.

Question 2 (primary: help-seeking behaviour as log odds ratios; alternative: every trial as a
standardised mean difference, d = ln OR sqrt(3) / pi, printed d values as printed):

* events per arm -> log OR with its large-sample variance (Borenstein et al. 2009, ch. 5;
  Cochrane Handbook v6.4, sec. 6.4.1.2);
* arms sharing one control (Cochrane Handbook v6.4, sec. 23.3.4): the primary analysis
  combines the intervention arms (events and totals added; for printed d values, the
  sample-size-weighted mean of d); the scenario ``shared_control_combined`` instead enters
  each arm against an equal share of the control group, so no control participant counts
  twice;
* a risk difference with its CI and per-arm percentages but no arm sizes (Kravitz 2013):
  log OR from the percentages; variance from the effective equal arm size n that makes
  p1 q1 / n + p2 q2 / n equal the squared standard error read from the CI (Cochrane Handbook
  v6.4, sec. 6.5.2.3 for the standard error from a CI); its scenario gives the log OR the z of
  the printed risk difference instead (SE = |log OR| / z), which needs no arm sizes;
* a d printed by another review -> log OR = d pi / sqrt(3), var = var(d) pi^2 / 3
  (Borenstein et al. 2009, eqs. 7.9-7.10), var(d) = (n1 + n2) / (n1 n2) + d^2 / (2 (n1 + n2))
  (eq. 4.20).

One effect per study per analysis: the Sorkin 2021 models come from one sample; Model 1 is
used and Model 3 is its scenario (assumption ``sorkin_model1``).
"""
from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from analysis.engine import effects
from analysis.io import schemas
from .conversions import (GENERATION_Z, ROUTE_MEASURES, _count, _flags, _q1, _value, _where,
                          conversion_checks, population_group)
from analysis.io.validate import load

__all__ = ["effect_sizes", "scenarios", "scenario_descriptions", "assumptions", "not_analysed",
           "conversion_checks", "population_group", "primary_route", "EFFECT_COLUMNS",
           "ROUTE_MEASURES", "GENERATION_Z"]

EFFECT_COLUMNS: tuple[str, ...] = (
    "study_id", "label", "year", "outcome", "timepoint", "subgroup", "comparison", "measure",
    "yi", "vi", "n", "flags", "assumptions", "scenario", "extraction_ids", "method",
    "population_group",
)

# Conversions of one study that a swap_conversion assumption can name.
CONVERSIONS: tuple[str, ...] = ("two_by_two_from_shares", "test_based_se", "design_effect_2",
                                "equal_arms_from_rd_ci")
DEFAULT_ROUTE = "log_odds_ratio"

# What a scenario does, in the words of the sensitivity tables.
SCENARIO_KINDS = {
    "drop_studies": "removes studies only",
    "split_shared_control": "tests the assumption",
    "swap_comparison": "tests the assumption",
    "swap_route": "tests the assumption",
    "swap_conversion": "tests the assumption",
}


def assumptions(question: str, data_dir: Path | str | None = None) -> pd.DataFrame:
    """The assumptions table of a question (``data/<question>/assumptions.csv``), validated."""
    return load(question, "assumptions", data_dir)


def scenarios(question: str, data_dir: Path | str | None = None) -> list[str]:
    """``["primary"]`` followed by one scenario per assumption (its assumption_id)."""
    return ["primary"] + [str(a) for a in assumptions(question, data_dir)["assumption_id"]]


def primary_route(question: str, data_dir: Path | str | None = None) -> dict[str, str]:
    """The route of the primary analysis and its alternative, from the swap_route assumption.

    Returns {"route", "alternative", "assumption_id", "description", "rationale"}; without a
    swap_route row every study takes the log odds ratio route and there is no alternative.
    """
    table = assumptions(question, data_dir)
    rows = table[table["scenario_action"] == "swap_route"]
    if len(rows) > 1:
        raise ValueError(f"{schemas.question_folder(question)}/assumptions.csv: more than one "
                         f"swap_route row ({', '.join(rows['assumption_id'])}); one route per question")
    if rows.empty:
        return {"route": DEFAULT_ROUTE, "alternative": "", "assumption_id": "", "description": "",
                "rationale": ""}
    row = rows.iloc[0]
    for column in ("method_used", "method_alternative"):
        if row[column] not in ROUTE_MEASURES:
            raise ValueError(f"{schemas.question_folder(question)}/assumptions.csv "
                             f"{row['assumption_id']}: {column} {row[column]!r} is not a route "
                             f"({', '.join(ROUTE_MEASURES)})")
    return {"route": str(row["method_used"]), "alternative": str(row["method_alternative"]),
            "assumption_id": str(row["assumption_id"]), "description": str(row["description"]),
            "rationale": str(row["rationale"])}


def scenario_descriptions(question: str, data_dir: Path | str | None = None) -> pd.DataFrame:
    """What each scenario changes, in words: columns scenario, assumption, change, kind.

    A scenario is named after the assumption it goes without ("primary" keeps them all).
    ``kind`` says whether it tests its assumption (another route, conversion or comparison, or
    the shared control split) or only removes the studies that rest on it.
    """
    studies = load(question, "studies", data_dir).set_index("study_id")["label"]
    records = [{"scenario": "primary", "assumption": "",
                "change": "every assumption of assumptions.csv applied", "kind": "primary"}]
    for _, row in assumptions(question, data_dir).iterrows():
        labels = ", ".join(str(studies.get(s, s)) for s in str(row["studies"]).split())
        action = row["scenario_action"]
        if action == "drop_studies":
            change = f"without {labels} (removes studies only)"
        elif action == "split_shared_control":
            change = f"shared control split between the arms instead of arms combined ({labels})"
        elif action == "swap_route":
            change = (f"every study by the {_words(row['method_alternative'])} route instead of "
                      f"the {_words(row['method_used'])} route")
        elif action == "swap_conversion":
            change = (f"{labels}: {_words(row['method_alternative'])} instead of "
                      f"{_words(row['method_used'])}")
        else:
            change = (f"{labels}: {row['comparison_alternative']} instead of "
                      f"{row['comparison_used']}")
        records.append({"scenario": str(row["assumption_id"]),
                        "assumption": str(row["description"]), "change": change,
                        "kind": SCENARIO_KINDS[action]})
    return pd.DataFrame.from_records(records, columns=["scenario", "assumption", "change", "kind"])


_METHOD_WORDS = {
    "log_odds_ratio": "log odds ratio", "correlation": "correlation (Fisher z)",
    "standardised_mean_difference": "standardised mean difference",
    "two_by_two_from_shares": "2x2 table rebuilt from printed percentages and group shares",
    "test_based_se": "standard error from the printed test statistic",
    "design_effect_2": "variance doubled (design effect 2)",
    "equal_arms_from_rd_ci": "variance from the risk-difference CI with equal arms",
}


def _words(name: str) -> str:
    return _METHOD_WORDS.get(str(name), str(name).replace("_", " "))


# ----------------------------------------------------------------------------- question 2

def _kravitz_style(row: pd.Series, where: str, conversion: str | None = None) -> tuple[float, float, str]:
    """log OR and variance from per-arm percentages and a risk difference with its CI.

    ``conversion`` "test_based_se": the log OR gets the z statistic of the printed risk
    difference (SE = |log OR| / z), which needs no arm sizes."""
    scale = 100.0 if row["rd_unit"] == "percentage_points" else 1.0
    p1, p2 = _value(row, "pct_t", where) / 100.0, _value(row, "pct_c", where) / 100.0
    rd = effects.difference_from_ci(_value(row, "rd_value", where) / scale,
                                    _value(row, "ci_low", where) / scale,
                                    _value(row, "ci_high", where) / scale)
    # Effective equal arm size: p1 q1 / n + p2 q2 / n = var(RD).
    n_eff = (p1 * (1 - p1) + p2 * (1 - p2)) / float(rd.vi)
    yi = math.log(p1 / (1 - p1)) - math.log(p2 / (1 - p2))
    if conversion == "test_based_se":
        z = float(rd.yi) / math.sqrt(float(rd.vi))
        return yi, effects.test_based_variance(yi, z), (
            f"log OR from printed percentages; SE = |log OR| / z with the z of the printed "
            f"risk difference (z = {z:.3f})")
    vi = 1 / (n_eff * p1 * (1 - p1)) + 1 / (n_eff * p2 * (1 - p2))
    return yi, vi, (f"log OR from printed percentages; variance from the RD CI with equal "
                    f"effective arm sizes (n = {n_eff:.1f} per arm)")


def _q2_group(question: str, rows: pd.DataFrame, split: bool,
              conversions: dict[str, str] | None = None) -> list[dict]:
    """Effect sizes of the analysable comparisons of one study, outcome and time point."""
    where = _where(question, rows)
    kinds = set(rows["statistic_type"])
    base = {"study_id": rows["study_id"].iloc[0], "outcome": _q2_outcome(rows.iloc[0]),
            "timepoint": rows["timepoint"].iloc[0], "measure": "logOR"}
    out = []
    if len(rows) == 1:
        for _, row in rows.iterrows():
            if row["statistic_type"] == "percentages_rd_ci":
                yi, vi, method = _kravitz_style(row, where,
                                                (conversions or {}).get(row["study_id"]))
                n = None
            elif row["statistic_type"] == "events":
                es = effects.log_odds_ratio(_count(row, "events_t", where), _count(row, "n_t", where),
                                            _count(row, "events_c", where), _count(row, "n_c", where))
                yi, vi, n = float(es.yi), float(es.vi), _count(row, "n_t", where) + _count(row, "n_c", where)
                method = "log OR from events per arm"
            elif row["statistic_type"] == "d_secondary":
                n1, n2 = _count(row, "n_t", where), _count(row, "n_c", where)
                d = _value(row, "d", where)
                es = effects.d_to_log_or(d, float(effects.d_variance(d, n1, n2)))
                yi, vi, n = float(es.yi), float(es.vi), n1 + n2
                method = "d (secondary source) -> log OR (Hasselblad-Hedges; measure family changed)"
            else:  # analysis.io.extraction_tables.Q2_CONVERTED lists what reaches this point; check refuses the rest
                raise ValueError(f"{where}: statistic_type {row['statistic_type']!r} has no "
                                 f"conversion to a log odds ratio")
            out.append({**base, "subgroup": row["intervention_type"],
                        "comparison": row["comparison_id"], "yi": yi, "vi": vi, "n": n,
                        "flags": _flags(row.to_frame().T, []),
                        "extraction_ids": row["extraction_id"], "method": method})
        return out
    if kinds == {"events"}:
        n_c, e_c = _count(rows.iloc[0], "n_c", where), _count(rows.iloc[0], "events_c", where)
        if split:
            n_share, e_share = effects.split_shared_control(n_c, events=e_c, n_comparisons=len(rows))
            for _, row in rows.iterrows():
                es = effects.log_odds_ratio(_count(row, "events_t", where), _count(row, "n_t", where),
                                            float(e_share), float(n_share))
                out.append({**base, "subgroup": row["intervention_type"],
                            "comparison": row["comparison_id"], "yi": float(es.yi),
                            "vi": float(es.vi), "n": _count(row, "n_t", where) + float(n_share),
                            "flags": _flags(row.to_frame().T, ["shared_control_split"]),
                            "extraction_ids": row["extraction_id"],
                            "method": "log OR from events; control split equally (Handbook 23.3.4)"})
            return out
        events, total = 0, 0
        for _, row in rows.iterrows():
            events, total = effects.combine_arm_events(events, total, _count(row, "events_t", where),
                                                       _count(row, "n_t", where))
        es = effects.log_odds_ratio(int(events), int(total), e_c, n_c)
        out.append({**base, "subgroup": " + ".join(dict.fromkeys(rows["intervention_type"])),
                    "comparison": " + ".join(rows["comparison_id"]), "yi": float(es.yi),
                    "vi": float(es.vi), "n": int(total) + n_c,
                    "flags": _flags(rows, ["shared_control_combined"]),
                    "extraction_ids": " ".join(rows["extraction_id"]),
                    "method": "log OR from events; intervention arms combined (Handbook 23.3.4)"})
        return out
    if kinds == {"d_secondary"}:
        n_c = _count(rows.iloc[0], "n_c", where)
        arms = [(_value(row, "d", where), _count(row, "n_t", where), row) for _, row in rows.iterrows()]
        if split:
            for d, n_t, row in arms:
                share = n_c / len(arms)
                es = effects.d_to_log_or(d, float(effects.d_variance(d, n_t, share)))
                out.append({**base, "subgroup": row["intervention_type"],
                            "comparison": row["comparison_id"], "yi": float(es.yi),
                            "vi": float(es.vi), "n": n_t + share,
                            "flags": _flags(row.to_frame().T, ["shared_control_split"]),
                            "extraction_ids": row["extraction_id"],
                            "method": "d (secondary source) -> log OR (measure family changed); "
                                      "control split equally"})
            return out
        n_t = sum(n for _, n, _ in arms)
        d = sum(d * n for d, n, _ in arms) / n_t
        es = effects.d_to_log_or(d, float(effects.d_variance(d, n_t, n_c)))
        out.append({**base, "subgroup": " + ".join(dict.fromkeys(rows["intervention_type"])),
                    "comparison": " + ".join(rows["comparison_id"]), "yi": float(es.yi),
                    "vi": float(es.vi), "n": n_t + n_c,
                    "flags": _flags(rows, ["shared_control_combined"]),
                    "extraction_ids": " ".join(rows["extraction_id"]),
                    "method": "d (secondary source), arms combined as the n-weighted mean d -> "
                              "log OR (measure family changed)"})
        return out
    raise ValueError(f"{where}: arms sharing a control have different statistic types "
                     f"({', '.join(sorted(kinds))}); add a rule for combining them")


def _q2_outcome(row: pd.Series) -> str:
    """The analysis an effect belongs to: the outcome, with a suffix for follow-up time points."""
    return row["outcome"] if row["timepoint_group"] == "post" else f"{row['outcome']}_follow_up"


def _analysable_q2(extraction: pd.DataFrame) -> pd.DataFrame:
    return extraction[extraction["statistic_type"] != "percentages_only"]


def not_analysed(question: str, data_dir: Path | str | None = None) -> pd.DataFrame:
    """Extraction rows that give no effect size, with the reason (extraction_id, study_id, reason)."""
    extraction = load(question, "extraction", data_dir)
    records = []
    if schemas.question_folder(question) == "q2_interventions":
        for _, row in extraction[extraction["statistic_type"] == "percentages_only"].iterrows():
            records.append({"extraction_id": row["extraction_id"], "study_id": row["study_id"],
                            "comparison": row["comparison_id"],
                            "reason": "percentages only: neither arm sizes nor a CI are printed"})
    table = assumptions(question, data_dir)
    for _, assumption in table[table["scenario_action"] == "swap_comparison"].iterrows():
        for study in str(assumption["studies"]).split():
            rows = extraction[(extraction["study_id"] == study)
                              & (extraction["comparison_id"] == assumption["comparison_alternative"])]
            for _, row in rows.iterrows():
                records.append({"extraction_id": row["extraction_id"], "study_id": study,
                                "comparison": row["comparison_id"],
                                "reason": f"same sample as {assumption['comparison_used']}; used only "
                                          f"in scenario {assumption['assumption_id']}"})
    return pd.DataFrame.from_records(records, columns=["extraction_id", "study_id", "comparison", "reason"])


# ----------------------------------------------------------------------------- public

def effect_sizes(question: str, scenario: str = "primary",
                 data_dir: Path | str | None = None) -> pd.DataFrame:
    """One row per effect size on the analysis scale, for one data scenario.

    ``question``: "q1" or "q2". ``scenario``: "primary" or an assumption_id of
    ``data/<question>/assumptions.csv``: that data set without that assumption (its studies
    dropped, the shared control split, or the alternative comparison used).

    Columns (:data:`EFFECT_COLUMNS`): study_id, label ("Gould 2002"), year (int), outcome
    (q1: outcome_id such as "depression_webhelp"; q2: "behaviour", or "behaviour_follow_up"
    for later time points), timepoint, subgroup (q1: form of web-based help seeking; q2:
    intervention type), comparison, measure ("ZCOR" Fisher z, or "logOR"), yi, vi (floats),
    n (participants in the effect, or None when not printed), flags, assumptions (ids applied),
    scenario, extraction_ids (space-separated), method (how it was computed).

    Raises DataError for invalid tables, KeyError for an unknown scenario, ValueError naming
    file, study and extraction rows when a statistic cannot be converted.
    """
    folder = schemas.question_folder(question)
    table = assumptions(question, data_dir)
    known = ["primary"] + list(table["assumption_id"])
    if scenario not in known:
        raise KeyError(f"unknown scenario {scenario!r} for {folder}; known: {', '.join(known)}")
    extraction = load(question, "extraction", data_dir)
    studies = load(question, "studies", data_dir).set_index("study_id")
    routes = primary_route(question, data_dir)

    dropped: set[str] = set()
    split = False
    chosen: dict[str, str] = {}
    conversions: dict[str, str] = {}
    route = routes["route"]
    for _, assumption in table.iterrows():
        affected = str(assumption["studies"]).split()
        active = assumption["assumption_id"] == scenario
        action = assumption["scenario_action"]
        if action == "swap_comparison":
            use = assumption["comparison_alternative"] if active else assumption["comparison_used"]
            chosen.update({study: use for study in affected})
        elif action == "swap_conversion":
            use = assumption["method_alternative"] if active else assumption["method_used"]
            if use not in CONVERSIONS:
                raise ValueError(f"{folder}/assumptions.csv {assumption['assumption_id']}: "
                                 f"{use!r} is not a conversion ({', '.join(CONVERSIONS)})")
            conversions.update({study: use for study in affected})
        elif active and action == "swap_route":
            route = routes["alternative"]
        elif active and action == "drop_studies":
            dropped.update(affected)
        elif active and action == "split_shared_control":
            split = True
    extraction = extraction[~extraction["study_id"].isin(dropped)]

    if folder == "q1_webhelp":
        records = _q1(question, extraction, chosen, route, conversions)
    else:
        records = []
        usable = _analysable_q2(extraction)
        for _, rows in usable.groupby(["study_id", "outcome", "timepoint_group", "arm_group"],
                                      sort=False):
            records += _q2_group(question, rows, split, conversions)
        if route == "standardised_mean_difference":
            records = [_log_or_record_as_smd(record) for record in records]
        elif route != "log_odds_ratio":
            raise ValueError(f"{folder}: route {route!r} is not available for trials")
        for record in records:
            record["population_group"] = ""

    applied: dict[str, list[str]] = {}
    for _, assumption in table.iterrows():
        if assumption["assumption_id"] == scenario:
            continue
        for study in str(assumption["studies"]).split():
            applied.setdefault(study, []).append(str(assumption["assumption_id"]))
    for record in records:
        study = studies.loc[record["study_id"]]
        record["label"] = str(study["label"])
        record["year"] = int(study["year"])
        record["assumptions"] = " ".join(applied.get(record["study_id"], []))
        # The flags name every assumption the row rests on, beside the extraction's own flags.
        record["flags"] = "; ".join(part for part in (record["flags"], record["assumptions"].replace(" ", "; "))
                                    if part)
        record["scenario"] = scenario
        if record["n"] is not None:
            record["n"] = float(record["n"]) if record["n"] != int(record["n"]) else int(record["n"])
    frame = pd.DataFrame.from_records(records, columns=list(EFFECT_COLUMNS))
    frame["yi"] = frame["yi"].astype(float)
    frame["vi"] = frame["vi"].astype(float)
    # participants stay plain ints (or None where not printed), never a float NaN
    frame["n"] = pd.Series([record["n"] for record in records], dtype=object, index=frame.index)
    order = frame.sort_values(["outcome", "year", "study_id"], kind="stable").index
    # a study whose two extractions still disagree is pooled with the flag stated (analysis.reviewers.reconcile)
    from analysis.reviewers.reconcile import add_pooling_flags
    return add_pooling_flags(frame.loc[order].reset_index(drop=True), question, data_dir)


def _log_or_record_as_smd(record: dict) -> dict:
    """One trial's log OR on the SMD scale (Hasselblad-Hedges, d = ln OR sqrt(3) / pi); a d
    printed by the source comes back exactly as printed, since both conversions are linear."""
    d = effects.log_or_to_d(record["yi"], record["vi"])
    method = record["method"]
    if "d (secondary source)" in method:
        method = method.split(" -> log OR")[0].replace("arms combined as the n-weighted mean d",
                                                      "arms combined as the n-weighted mean d") \
            + " (as printed)"
    else:
        method += " -> d (Hasselblad-Hedges; measure family changed)"
    return {**record, "measure": "SMD", "yi": float(d.yi), "vi": float(d.vi), "method": method}
