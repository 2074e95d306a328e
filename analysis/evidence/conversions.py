"""Question 1's conversions: each association to the pooled scale by one route.

Two routes (the ``swap_route`` row of ``data/q1_webhelp/assumptions.csv`` says which is primary):

* **log odds ratio**: an odds ratio printed with its 95% CI enters as log OR with the variance
  read from the CI (Cochrane Handbook v6.4, sec. 6.3.2); percentages in two groups with the
  groups' printed shares of a printed N rebuild the 2x2 table (cells not rounded) and enter as
  its log OR with the Woolf variance, a printed chi-square kept as a check
  (:func:`conversion_checks`). Their alternative conversions (assumption rows of action
  ``swap_conversion``): ``test_based_se``, SE = |log OR| / z with z from the printed
  chi-square or the bound of a printed p; ``design_effect_2``, the variance doubled. A statistic
  of another family (r, t, F, means) reaches the log OR through d and its method says so.
* **correlation**: phi from a chi-square and N, or from the rebuilt 2x2 table; an odds ratio
  through d (Hasselblad-Hedges) to r with the printed group split where printed (a = (n1 + n2)^2 /
  (n1 n2)) and equal groups (a = 4) otherwise (Borenstein et al. 2009, eqs. 7.1-7.6); r pooled as
  Fisher z with var 1 / (N - 3), or, for converted r, var(r) / (1 - r^2)^2 (delta method).

A sample's generation is computed from its printed ages and year of data collection
(:func:`population_group`).
"""
from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
from scipy import stats

from analysis.engine import effects
from analysis.io import schemas
from analysis.io.columns import p_bound, printed_value
from analysis.io.validate import load

__all__ = ["population_group", "conversion_checks", "ROUTE_MEASURES", "GENERATION_Z"]

# Row flags of the extraction tables that are carried into the effect-size table.
_FLAG_COLUMNS = ("adjusted", "depression_combined_with_anxiety", "secondary_source")

# The routes a study can take to the pooled scale, and the analysis scale each one pools on.
ROUTE_MEASURES: dict[str, str] = {
    "log_odds_ratio": "logOR",
    "correlation": "ZCOR",
    "standardised_mean_difference": "SMD",
}
GENERATION_Z = "Generation Z"
GENERATION_Z_FIRST_BIRTH_YEAR = 1997  # Pew Research Center (Dimock 2019): born 1997-2012


def _value(row: pd.Series, column: str, where: str) -> float:
    text = str(row[column])
    try:
        return printed_value(text)
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


def _printed_or_none(row: pd.Series, column: str) -> float | None:
    text = str(row.get(column, "") if not pd.isna(row.get(column, "")) else "")
    return printed_value(text) if text.strip() else None


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
        relation, value = p_bound(text)
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
    if conversion in ("test_based_se", "design_effect_2"):
        raise ValueError(f"{where}: conversion {conversion} applies to a 2x2 table rebuilt from "
                         f"printed percentages and group shares, which this row does not print")
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
