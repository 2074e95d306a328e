"""Effect sizes on the analysis scale, computed from the statistics as printed.

Nothing here is typed in: every number comes from ``data/<question>/extraction.csv`` (as
printed, with its excerpt) through the formulas of :mod:`analysis.effects`. Every assumption
the data force is a row of ``data/<question>/assumptions.csv``; each names a sensitivity
scenario that goes without it: ``effect_sizes(question, scenario=<assumption_id>)``.

Question 1 (correlations, pooled as Fisher's z, as Bizzotto et al. 2023 pooled r):

* chi-square with N -> phi = sqrt(chi2 / N), signed by the printed direction (Borenstein et
  al. 2009, Introduction to Meta-Analysis, ch. 7), z = atanh(phi), var = 1 / (N - 3)
  (Borenstein et al. 2009, eqs. 6.2-6.3);
* odds ratio with its 95% CI -> log OR with variance from the CI (Cochrane Handbook v6.4,
  sec. 6.3.2) -> d (Hasselblad & Hedges: d = ln(OR) sqrt(3) / pi; Borenstein et al. 2009,
  eqs. 7.1-7.2) -> r with a = 4, i.e. equal group sizes (eqs. 7.5-7.6) -> z = atanh(r) with
  var(z) = var(r) / (1 - r^2)^2 (delta method, since d/dr atanh(r) = 1 / (1 - r^2)); the
  variance thus keeps the precision of the printed CI rather than a sample size that was not
  printed for the model.

Question 2 (help-seeking behaviour as log odds ratios):

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
  v6.4, sec. 6.5.2.3 for the standard error from a CI);
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

from scipy import stats

from . import effects, schemas
from .validate import load

__all__ = ["effect_sizes", "scenarios", "scenario_descriptions", "assumptions", "not_analysed",
           "conversion_checks", "population_group", "primary_route", "EFFECT_COLUMNS",
           "ROUTE_MEASURES", "GENERATION_Z"]

EFFECT_COLUMNS: tuple[str, ...] = (
    "study_id", "label", "year", "outcome", "timepoint", "subgroup", "comparison", "measure",
    "yi", "vi", "n", "flags", "assumptions", "scenario", "extraction_ids", "method",
    "population_group",
)

# Row flags of the extraction tables that are carried into the effect-size table.
_FLAG_COLUMNS = ("adjusted", "depression_combined_with_anxiety", "secondary_source")

# The routes a study can take to the pooled scale, and the analysis scale each one pools on.
ROUTE_MEASURES: dict[str, str] = {
    "log_odds_ratio": "logOR",
    "correlation": "ZCOR",
    "standardised_mean_difference": "SMD",
}
# Conversions of one study that a swap_conversion assumption can name.
CONVERSIONS: tuple[str, ...] = ("two_by_two_from_shares", "test_based_se", "design_effect_2",
                                "equal_arms_from_rd_ci")
DEFAULT_ROUTE = "log_odds_ratio"
GENERATION_Z = "Generation Z"
GENERATION_Z_FIRST_BIRTH_YEAR = 1997  # Pew Research Center (Dimock 2019): born 1997-2012

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


def _value(row: pd.Series, column: str, where: str) -> float:
    text = str(row[column])
    try:
        return schemas.printed_value(text)
    except ValueError:
        raise ValueError(f"{where}: column {column} has no usable number ({text!r})") from None


def _count(row: pd.Series, column: str, where: str) -> int:
    value = row[column]
    if pd.isna(value):
        raise ValueError(f"{where}: column {column} is empty")
    return int(value)


def _where(question: str, rows: pd.DataFrame) -> str:
    ids = ", ".join(str(i) for i in rows["extraction_id"])
    return f"{schemas.question_folder(question)}/extraction.csv {rows['study_id'].iloc[0]} ({ids})"


def _flags(rows: pd.DataFrame, extra: list[str]) -> str:
    flags = []
    for column in _FLAG_COLUMNS:
        if column in rows.columns and (rows[column] == "yes").any():
            flags.append(column)
    return "; ".join(flags + extra)


# ----------------------------------------------------------------------------- question 1

def _printed_or_none(row: pd.Series, column: str) -> float | None:
    text = str(row.get(column, "") if not pd.isna(row.get(column, "")) else "")
    return schemas.printed_value(text) if text.strip() else None


def _rebuilt_table(row: pd.Series, where: str) -> tuple[tuple[float, float, float, float], float] | None:
    """The 2x2 table (help seekers / depressed row first) rebuilt from printed percentages and
    group shares, and the N the shares apply to; None when the row does not print them."""
    p1, p2 = _printed_or_none(row, "pct_group1"), _printed_or_none(row, "pct_group2")
    share1 = _printed_or_none(row, "group1_share_pct")
    if p1 is None or p2 is None or share1 is None:
        return None
    total = row["chi2_n"] if not pd.isna(row.get("chi2_n")) else row.get("n")
    if total is None or pd.isna(total):
        raise ValueError(f"{where}: percentages and a group share need the N they apply to "
                         f"(chi2_n or n)")
    total = float(total)
    share2 = _printed_or_none(row, "group2_share_pct")
    share2 = 100.0 - share1 if share2 is None else share2
    cells = effects.two_by_two_from_percentages(p1, p2, share1 / 100 * total, share2 / 100 * total)
    return cells, total


def _check_direction(row: pd.Series, value: float, where: str) -> None:
    sign = 1 if row["direction"] == "positive" else -1
    if value * sign < 0:
        raise ValueError(f"{where}: the printed percentages give an association of sign "
                         f"{'+' if value > 0 else '-'}, but direction is {row['direction']}")


def _test_z(row: pd.Series, where: str) -> tuple[float, str]:
    """The z statistic a row prints: sqrt(chi2), or the bound a printed p allows."""
    chi2 = _printed_or_none(row, "chi2")
    if chi2 is not None:
        return math.sqrt(chi2), f"the printed chi-square ({row['chi2']})"
    text = str(row.get("p_value", "") or "")
    if text and not pd.isna(row.get("p_value")):
        relation, value = schemas.p_bound(text)
        # "<.05" allows any z above 1.96: the least precise estimate it allows is at the bound.
        return float(stats.norm.isf(value / 2)), f"the printed p ({text}, taken at its bound)"
    raise ValueError(f"{where}: a test-based standard error needs a printed chi-square or p")


def _q1_log_or(row: pd.Series, where: str, conversion: str | None) -> tuple[float, float, int | None, str]:
    """(log OR, variance, n, method) of one q1 row: the log odds ratio route."""
    kind = row["statistic_type"]
    rebuilt = _rebuilt_table(row, where)
    if rebuilt is not None:
        (a, b, c, d), total = rebuilt
        yi = math.log(a * d / (b * c))
        _check_direction(row, yi, where)
        vi = 1 / a + 1 / b + 1 / c + 1 / d
        n = int(round(a + b + c + d))
        method = ("log OR of the 2x2 table rebuilt from the printed percentages and group shares "
                  f"of N = {total:g} (Woolf variance)")
        if conversion == "test_based_se":
            z, source = _test_z(row, where)
            vi = effects.test_based_variance(yi, z)
            method = f"log OR from the printed percentages; SE = |log OR| / z from {source}"
        elif conversion == "design_effect_2":
            vi *= 2
            method += "; variance doubled (design effect 2)"
        return yi, vi, n, method
    if kind == "OR_CI":
        log_or = effects.ratio_from_ci(_value(row, "or_value", where), _value(row, "ci_low", where),
                                       _value(row, "ci_high", where))
        n = None if pd.isna(row["n"]) else int(row["n"])
        return float(log_or.yi), float(log_or.vi), n, "log OR with variance from its 95% CI"
    # Statistics of another family reach the log OR through d: named, never silent.
    z, var_z, n, method = _q1_z(row, where, None)
    r = math.tanh(z)
    var_r = var_z * (1 - r ** 2) ** 2
    d = effects.r_to_d(r, var_r)
    log_or = effects.d_to_log_or(float(d.yi), float(d.vi))
    return (float(log_or.yi), float(log_or.vi), n,
            f"{method} -> d -> log OR (Hasselblad-Hedges; measure family changed)")


def _q1_z(row: pd.Series, where: str, conversion: str | None) -> tuple[float, float, int | None, str]:
    """(z, var z, n, method) of one q1 extraction row: the correlation route."""
    kind = row["statistic_type"]
    sign = 1 if row["direction"] == "positive" else -1
    if kind == "chi2":
        n = _count(row, "chi2_n", where)
        phi = effects.r_from_chi2(_value(row, "chi2", where), n, sign=sign)
        z = effects.correlation_to_z(float(phi.yi), n)
        return float(z.yi), float(z.vi), n, "phi from chi-square and N; Fisher z, var 1/(N-3)"
    if kind == "percentages":
        rebuilt = _rebuilt_table(row, where)
        if rebuilt is None:
            raise ValueError(f"{where}: percentages need group1_share_pct to rebuild the 2x2 table")
        cells, _ = rebuilt
        phi = effects.phi_from_two_by_two(*cells)
        _check_direction(row, phi, where)
        n = int(round(sum(cells)))
        z = effects.correlation_to_z(phi, n)
        vi = float(z.vi) * (2 if conversion == "design_effect_2" else 1)
        return (float(z.yi), vi, n, "phi of the 2x2 table rebuilt from printed percentages and "
                "group shares; Fisher z, var 1/(N-3)")
    if kind == "OR_CI":
        log_or = effects.ratio_from_ci(_value(row, "or_value", where), _value(row, "ci_low", where),
                                       _value(row, "ci_high", where))
        d = effects.log_or_to_d(float(log_or.yi), float(log_or.vi))
        n = None if pd.isna(row["n"]) else int(row["n"])
        n1 = None if pd.isna(row.get("n1")) else int(row["n1"])
        if n1 is not None and n is not None and 0 < n1 < n:
            r = effects.d_to_r(float(d.yi), float(d.vi), n1, n - n1)
            split = f"printed group split {n1}/{n}"
        else:
            r = effects.d_to_r(float(d.yi), float(d.vi))
            split = "a = 4, equal groups"
        r_value, r_var = float(r.yi), float(r.vi)
        z = float(effects.fisher_z(r_value))
        return (z, r_var / (1 - r_value ** 2) ** 2, n,
                f"log OR from the CI -> d (Hasselblad-Hedges) -> r ({split}) -> Fisher z (delta method)")
    if kind in ("r", "beta"):
        n = _count(row, "n", where)
        z = effects.correlation_to_z(_value(row, "r", where), n)
        return float(z.yi), float(z.vi), n, "Fisher z of r, var 1/(N-3)"
    if kind in ("t", "F", "means_sds"):
        n1, n2 = _count(row, "n1", where), _count(row, "n2", where)
        if kind == "t":
            d = effects.d_from_t(_value(row, "t", where), n1, n2)
        elif kind == "F":
            d = effects.d_from_f(_value(row, "f", where), n1, n2, sign=sign)
        else:
            d = effects.hedges_g(_value(row, "m1", where), _value(row, "sd1", where), n1,
                                 _value(row, "m2", where), _value(row, "sd2", where), n2)
        r = effects.d_to_r(float(d.yi), float(d.vi), n1, n2)
        z = effects.correlation_to_z(float(r.yi), n1 + n2)
        return float(z.yi), float(z.vi), n1 + n2, f"d from {kind} -> r (group sizes) -> Fisher z"
    raise ValueError(f"{where}: statistic_type {kind!r} has no conversion to a correlation")


def population_group(row: pd.Series) -> str:
    """The generation of a sample from its printed ages and year of data collection.

    Birth years run from data_year - age_max to data_year - age_min; the sample counts as
    Generation Z when the birth year at the middle of that range is 1997 or later (Pew Research
    Center's boundary: born 1997-2012). Without printed ages or year: "not classifiable".
    """
    values = [row.get(c) for c in ("age_min", "age_max", "data_year")]
    if any(v is None or pd.isna(v) or str(v) == "" for v in values):
        return "not classifiable"
    age_min, age_max, year = (float(v) for v in values)
    middle = year - (age_min + age_max) / 2
    return GENERATION_Z if middle >= GENERATION_Z_FIRST_BIRTH_YEAR else "older generations"


def _q1(question: str, extraction: pd.DataFrame, chosen: dict[str, str], route: str,
        conversions: dict[str, str]) -> list[dict]:
    records = []
    for _, row in extraction.iterrows():
        study = row["study_id"]
        if study in chosen and row["comparison_id"] != chosen[study]:
            continue
        where = _where(question, extraction[extraction["extraction_id"] == row["extraction_id"]])
        convert = _q1_log_or if route == "log_odds_ratio" else _q1_z
        try:
            yi, var, n, method = convert(row, where, conversions.get(study))
        except ValueError as error:
            message = str(error)
            raise ValueError(message if message.startswith(where) else f"{where}: {message}") from None
        records.append({
            "study_id": study, "outcome": row["outcome_id"], "timepoint": "",
            "subgroup": row["help_seeking_form"], "comparison": row["comparison_id"],
            "measure": ROUTE_MEASURES[route], "yi": yi, "vi": var, "n": n,
            "flags": _flags(row.to_frame().T, []), "population_group": population_group(row),
            "extraction_ids": row["extraction_id"], "method": method,
        })
    return records


def conversion_checks(question: str = "q1", data_dir: Path | str | None = None) -> pd.DataFrame:
    """Every 2x2 table rebuilt from printed percentages, checked against the printed test.

    Columns: extraction_id, study_id, comparison, n_group1, n_group2 (from the printed shares),
    odds_ratio, chi2_rebuilt (Pearson, no continuity correction), chi2_printed (or None),
    n_implied (the N at which the rebuilt table gives the printed chi-square: the chi-square of
    a table with fixed proportions grows linearly with N).
    """
    extraction = load(question, "extraction", data_dir)
    records = []
    for _, row in extraction.iterrows():
        where = _where(question, extraction[extraction["extraction_id"] == row["extraction_id"]])
        if "group1_share_pct" not in row or _rebuilt_table(row, where) is None:
            continue
        (a, b, c, d), total = _rebuilt_table(row, where)
        chi2 = effects.pearson_chi2(a, b, c, d)
        printed = _printed_or_none(row, "chi2")
        records.append({"extraction_id": row["extraction_id"], "study_id": row["study_id"],
                        "comparison": row["comparison_id"], "n_group1": a + b, "n_group2": c + d,
                        "odds_ratio": a * d / (b * c), "chi2_rebuilt": chi2, "chi2_printed": printed,
                        "n_implied": None if printed is None else (a + b + c + d) * printed / chi2})
    columns = ["extraction_id", "study_id", "comparison", "n_group1", "n_group2", "odds_ratio",
               "chi2_rebuilt", "chi2_printed", "n_implied"]
    return pd.DataFrame({column: pd.Series([record[column] for record in records], dtype=object)
                         for column in columns}, columns=columns)


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
            else:
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
    return frame.loc[order].reset_index(drop=True)


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
