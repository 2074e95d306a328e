"""Which pooled numbers changed between two results tables, and in what order to list them."""
from __future__ import annotations

import math
from typing import Any

import pandas as pd

__all__ = ["COMPARED_COLUMNS", "ROW_KEY", "changed_numbers", "nan_as_none", "ordered_changes",
           "same_number"]


# Numbers compared to decide whether "a pooled number changed".
COMPARED_COLUMNS = ("pooled", "k", "n", "estimate", "ci_low", "ci_high", "pi_low", "pi_high",
                    "tau2", "i2", "q", "pval")
ROW_KEY = ("question", "outcome", "scenario", "model_name")
# Relative tolerance for "the same number": archived values are printed with repr() and read
# back exactly, so only floating-point noise between machines is forgiven.
RELATIVE_TOLERANCE = 1e-9


def same_number(a: Any, b: Any) -> bool:
    """Whether two archived numbers are the same, up to floating-point noise (both missing: yes)."""
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, bool) or isinstance(b, bool):
        return bool(a) == bool(b)
    a, b = float(a), float(b)
    return math.isclose(a, b, rel_tol=RELATIVE_TOLERANCE, abs_tol=1e-12)


def changed_numbers(new: pd.DataFrame, old: pd.DataFrame) -> list[str]:
    """Which pooled numbers differ between two results tables (one line per difference)."""
    def keyed(table: pd.DataFrame) -> dict[tuple, dict]:
        return {tuple(record[c] for c in ROW_KEY): record for record in table.to_dict("records")}

    new_rows, old_rows = keyed(new), keyed(old)
    changes = []
    for key in sorted(set(new_rows) | set(old_rows), key=str):
        label = "/".join(str(part) for part in key)
        if key not in old_rows:
            changes.append(f"{label}: new analysis")
            continue
        if key not in new_rows:
            changes.append(f"{label}: no longer reported")
            continue
        for column in COMPARED_COLUMNS:
            before, after = old_rows[key].get(column), new_rows[key].get(column)
            if not same_number(nan_as_none(after), nan_as_none(before)):
                changes.append(f"{label}: {column} {_shown(nan_as_none(before))} -> "
                               f"{_shown(nan_as_none(after))}")
    return changes


def ordered_changes(changes: list[str]) -> list[str]:
    """Changes with the main results first: primary scenario and model before sensitivity
    analyses, and within a row the estimate and its interval before the other numbers."""
    column_rank = {name: rank for rank, name in enumerate(
        ("estimate", "ci_low", "ci_high", "k", "n", "pi_low", "pi_high", "i2", "tau2", "q",
         "pval", "pooled"))}

    def rank(change: str) -> tuple:
        label, _, rest = change.partition(": ")
        parts = label.split("/")
        primary = len(parts) == 4 and parts[2] == "primary" and parts[3] == "primary"
        column = rest.split(" ", 1)[0]
        return (not primary, parts[:2], column_rank.get(column, len(column_rank)))

    return sorted(changes, key=rank)


def _shown(value: Any) -> str:
    """A number as the release command prints it (six significant digits)."""
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def nan_as_none(value: Any) -> Any:
    """A value as compared and shown: a float NaN (a missing number read by pandas) becomes None."""
    if isinstance(value, float) and math.isnan(value):
        return None
    return value
