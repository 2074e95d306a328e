"""A pooled result as the prose and the tables state it: the effect with its interval, the
participants, heterogeneity and direction in words, the comparison with a published estimate,
and the small-k inference panel.
"""
from __future__ import annotations

from typing import Any

import pandas as pd

from .blocks import HtmlBlock, note
from .number_format import fmt_ci, fmt_num, plain
from .tables import static_table

__all__ = ["comparison_word", "direction_phrase", "effect_phrase", "heterogeneity_phrase",
           "panel_blocks", "participants_phrase", "results_view"]


def participants_phrase(row: dict) -> str:
    """", N = 720" or ", N = 720 and 1 study that does not print its size": a study without a
    printed sample size is counted as unknown and said so next to the total, never dropped."""
    n, unknown = plain(row.get("n")), plain(row.get("n_unknown")) or 0
    text = f", N = {fmt_num(n)}" if n is not None else ""
    if unknown:
        studies = "study that does not print its size" if unknown == 1 else "studies that do not print their size"
        text += f" and {unknown} {studies}" if n is not None else f", N unknown ({unknown} {studies})"
    return text


def effect_phrase(row: dict, digits: int = 2) -> str:
    """A pooled result as the prose states it: "r = 0.24 (95% CI 0.02 to 0.44; k = 4, N = 8,371)"."""
    k = plain(row.get("k")) or 0
    size = f"k = {k}" + participants_phrase(row)
    if plain(row.get("estimate")) is None:
        return f"not pooled ({size})"
    single = "; a single study, not pooled" if row.get("pooled") is False else ""
    return (f"{row['measure']} = {fmt_num(row['estimate'], digits)} "
            f"(95% CI {fmt_ci(row['ci_low'], row['ci_high'], digits)}; {size}{single})")


def results_view(results: pd.DataFrame) -> pd.DataFrame:
    """A compact, readable view of result rows: one line per data scenario and model.

    Each data scenario is described by what it changes (from the recorded assumptions), and
    each model by its estimator and interval.
    """
    from analysis.pooling import display_rules, synthesis
    from analysis.evidence import extraction

    changes = {}
    for question in results["question"].drop_duplicates():
        for row in extraction.scenario_descriptions(question).itertuples(index=False):
            changes[(question, row.scenario)] = row.change
    rows = []
    for row in results.to_dict("records"):
        model = synthesis.MODELS[row["model_name"]].description if row["model_name"] in synthesis.MODELS else row["model_name"]
        pooled = plain(row["estimate"]) is not None
        rows.append({
            "Outcome": row["outcome_label"],
            "Data scenario": changes.get((row["question"], row["scenario"]), row["scenario"]),
            "Model": model,
            "k": plain(row["k"]),
            "N": int(row["n"]) if plain(row["n"]) is not None else None,
            row["measure"] if results["measure"].nunique() == 1 else "Estimate":
                (f"{fmt_num(row['estimate'])} ({fmt_ci(row['ci_low'], row['ci_high'])})"
                 + ("" if row["pooled"] else ", single study") if pooled else "not pooled"),
            # t(k - 2) and only from k >= 3 (display rules); metafor's is in the methods panel
            "95% PI": (fmt_ci(*display_rules.prediction_interval_of_row(row))
                       if display_rules.prediction_interval_of_row(row) else "–"),
            "τ²": fmt_num(row["tau2"], 3) if pooled else "–",
            "I² (%)": fmt_num(row["i2"], 0) if pooled else "–",
        })
    view = pd.DataFrame(rows)
    if view["Outcome"].nunique() == 1:
        view = view.drop(columns="Outcome")
    return view


def panel_blocks(question: str, outcome: str) -> list[HtmlBlock]:
    """The small-k inference panel of one outcome (analysis.pooling.panel): its robustness verdict in
    words and one row per method, on the reader's scale."""
    import numpy as np

    from analysis import review

    part = review.current().question(question)
    pooled = part.pooled(outcome)
    found = part.sensitivity(outcome, "panel")
    if found is None:
        return [note(f"The small-k panel needs at least two studies; {pooled.spec.label} has "
                     f"k = {pooled.row['k']}.")]
    transform = {"ZCOR": np.tanh, "logOR": np.exp}.get(pooled.scale)
    table = found.table(transform) if transform is not None else found.table()
    digits = pooled.measure.decimals
    view = pd.DataFrame({
        "Method": table["method"],
        pooled.measure.reader: [fmt_num(v, digits) for v in table["estimate"]],
        "95% CI": [fmt_ci(lo, hi, digits) for lo, hi in zip(table["ci_low"], table["ci_high"])],
        "95% prediction interval": [fmt_ci(lo, hi, digits) for lo, hi in zip(table["pi_low"], table["pi_high"])],
        "τ": [fmt_num(v, 2) for v in table["tau"]],
        "P(true effect beyond no effect)": [fmt_num(v, 2) for v in table["p_effect_beyond_null"]],
        "P(true effect beyond the MID)": [fmt_num(v, 2) for v in table["p_effect_beyond_mid"]],
        "P(a new study beyond no effect)": [fmt_num(v, 2) for v in table["p_new_beyond_null"]],
    })
    return [note(f"Across methods, the conclusion {found.verdict}."),
            static_table(view, table_id=f"{question}-{outcome}-panel".replace("_", "-"),
                         caption=f"Small-k inference panel, {pooled.spec.label}")]


def heterogeneity_phrase(i2: Any) -> str:
    """Words for I², from the overlapping bands of the Cochrane Handbook v6.4, section 10.10.2:
    0-40% might not be important, 30-60% moderate, 50-90% substantial, 75-100% considerable
    (each value is given the highest band it reaches)."""
    i2 = plain(i2)
    if i2 is None:
        return "not estimable"
    if i2 >= 75:
        return "considerable"
    if i2 >= 50:
        return "substantial"
    if i2 >= 30:
        return "moderate"
    return "might not be important"


def direction_phrase(row: dict, *, positive: str, negative: str, null: float) -> str:
    """What a pooled estimate says about direction, and whether its 95% CI excludes the null.

    ``positive``/``negative`` name the two directions in the reader's words.
    """
    estimate, low, high = (plain(row.get(key)) for key in ("estimate", "ci_low", "ci_high"))
    if estimate is None:
        return "cannot be pooled"
    side = positive if estimate > null else negative if estimate < null else "no difference"
    stated = f"{row['measure']} = {fmt_num(estimate)}, 95% CI {fmt_ci(low, high)}"
    if low is not None and high is not None and (low > null or high < null):
        return f"points to {side} ({stated}), and the interval excludes no effect"
    return f"points to {side} ({stated}), but the interval includes no effect"


def comparison_word(value: Any, reference: Any, verdict: str | None = None,
                    ci_overlap: bool | None = None) -> str:
    """The comparative word for a pooled estimate against a published one, from the verdict of
    :func:`analysis.findings.comparison.published_comparison_table` and the overlap of the intervals.

    Without a "comparable" verdict there is no comparative word: "not directly comparable".
    Comparable results whose intervals overlap are "in line with" each other; otherwise
    "larger" or "smaller".
    """
    value, reference = plain(value), plain(reference)
    if value is None or reference is None:
        return "not comparable"
    if verdict != "comparable":
        return "not directly comparable"
    if ci_overlap:
        return "in line with"
    return "larger" if value > reference else "smaller"
