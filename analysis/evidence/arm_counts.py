"""Participants (and events) per arm of each effect size, as RevMan prints them beside a forest plot.

The effect-size table keeps one row per study and outcome; its ``extraction_ids`` name the
extraction rows it came from. The counts are read back from those rows: intervention arms
combined into one (their events and totals add up, as the primary analysis combines them) and the
shared control counted once. A count the source did not print stays blank ("–"): it is never
back-calculated from a percentage.
"""
from __future__ import annotations

import math
from typing import Any

import pandas as pd

__all__ = ["arm_columns", "study_arm_counts"]

_MISSING = "\u2013"


def _number(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(number) else number


def _int_text(value: float | None) -> str:
    return _MISSING if value is None else f"{int(round(value)):,}"


def study_arm_counts(extraction_rows: pd.DataFrame) -> dict:
    """Events and totals of the (combined) intervention arm and of the control arm.

    ``extraction_rows``: the extraction rows of one effect size. Returns a dict with keys
    ``events_t``, ``n_t``, ``events_c``, ``n_c`` (floats or None). Totals add up across
    intervention arms only when every arm has its count; the control arm must be the same in
    every row (a shared control), else its counts are None.
    """
    def total(column: str) -> float | None:
        values = [_number(v) for v in extraction_rows.get(column, pd.Series(dtype=object))]
        if not values or any(v is None for v in values):
            return None
        return float(sum(values))

    def shared(column: str) -> float | None:
        values = {_number(v) for v in extraction_rows.get(column, pd.Series(dtype=object))}
        return values.pop() if len(values) == 1 else None

    return {"events_t": total("events_t"), "n_t": total("n_t"),
            "events_c": shared("events_c"), "n_c": shared("n_c")}


def arm_columns(question: str, effect_rows: pd.DataFrame, *, binary: bool,
                arm_names: tuple[str, str] = ("Intervention", "Control"),
                data_dir=None) -> dict[str, list[str]]:
    """Forest-plot columns for ``effect_rows`` (rows of :func:`analysis.evidence.extraction.effect_sizes`).

    Binary outcomes: "<arm>\\nevents/total" per arm ("9/111"); other outcomes: "<arm>\\nN".
    Where the extraction rows have no per-arm counts at all (correlational studies), the
    single column "N" carries the effect size's participants. Returns ``{}`` when no row
    has any count, so the plot draws no empty column.
    """
    from . import extraction

    table = extraction.load(question, "extraction", data_dir)
    by_id = table.set_index("extraction_id")
    first, second = arm_names
    if binary:
        headers = (f"{first}\nevents/total", f"{second}\nevents/total")
    else:
        headers = (f"{first}\nN", f"{second}\nN")
    cells: dict[str, list[str]] = {headers[0]: [], headers[1]: []}
    any_arm = False
    for ids in effect_rows["extraction_ids"]:
        wanted = [i for i in str(ids).split() if i in by_id.index]
        counts = study_arm_counts(by_id.loc[wanted]) if wanted else {}
        arms = []
        for events_key, n_key in (("events_t", "n_t"), ("events_c", "n_c")):
            events, n = counts.get(events_key), counts.get(n_key)
            any_arm = any_arm or n is not None
            if binary:
                arms.append(_MISSING if n is None and events is None
                            else f"{_int_text(events)}/{_int_text(n)}")
            else:
                arms.append(_int_text(n))
        cells[headers[0]].append(arms[0])
        cells[headers[1]].append(arms[1])
    if any_arm:
        return cells
    totals = [_int_text(_number(n)) for n in effect_rows["n"]]
    return {"N": totals} if any(t != _MISSING for t in totals) else {}
