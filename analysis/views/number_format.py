"""The book's one style for printed numbers, and plain Python values for glue and tables.

Every number a chapter prints goes through :func:`fmt_num` (an en dash for a missing value, a
true minus sign), and every value glued into the prose is a plain Python value (numpy scalars
would print their repr).
"""
from __future__ import annotations

import math
import numbers
from typing import Any

import pandas as pd

from analysis.measures import p_value

__all__ = ["fmt_ci", "fmt_num", "fmt_p", "plain"]


def plain(value: Any) -> Any:
    """Convert numpy/pandas scalars to plain Python values (NaN and None become None)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        number = float(value)
        return None if math.isnan(number) else number
    try:
        if pd.isna(value):
            return None
    except (TypeError, ValueError):
        pass
    return value


def fmt_num(value: Any, digits: int = 2) -> str:
    """A number for prose and tables; missing values print as an en dash."""
    value = plain(value)
    if value is None:
        return "–"
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:.{digits}f}".replace("-", "−")


def fmt_ci(low: Any, high: Any, digits: int = 2) -> str:
    """A confidence interval as printed in the book: "0.12 to 0.34"."""
    if plain(low) is None or plain(high) is None:
        return "–"
    return f"{fmt_num(low, digits)} to {fmt_num(high, digits)}"


def fmt_p(p: Any) -> str:
    """A p value in the book's one style (:func:`analysis.measures.p_value`): ".032", "< .001"."""
    return p_value(p)
