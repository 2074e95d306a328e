"""The language of the schemas: column kinds, :class:`Column`, :class:`TableSchema`, row rules,
and how a printed statistic is read as a number.

Every table schema (:mod:`analysis.io.search_tables`, :mod:`analysis.io.extraction_tables`,
:mod:`analysis.io.reviewer_tables`, :mod:`analysis.io.plan_tables`) is written in these terms and
:mod:`analysis.io.validate` applies them.

Printed statistics are kept as text exactly as printed (".24", "4.70", "<.05"): their kind is
``printed`` (a plain decimal number as printed) or ``printed_p`` (a printed p value, which may
carry "<" or ">"). :func:`printed_value` turns such text into a float when a number is needed.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Callable

__all__ = [
    "Column", "TableSchema", "RowIssue", "RowRule", "RECORD_ID", "YES_NO", "printed_value",
    "p_bound", "is_finite", "squeeze_printed", "cell_number", "require", "ci_rule",
    "positive_ratio", "either", "statistic_rule",
]

# A record id: R0001... for the first identification round; "<export file stem>:<position>"
# for records of later searches (analysis.search.records gives them).
RECORD_ID = r"R\d{4}|[A-Za-z0-9_.\-]+:\d+"

YES_NO = ("yes", "no")

_PRINTED = re.compile(r"^-?(\d+(\.\d*)?|\.\d+)$")
_PRINTED_P = re.compile(r"^(<|>|<=|>=|=)?(0?\.\d+|0|1(\.0*)?)$")


def printed_value(text: str) -> float:
    """The number a printed decimal stands for: ".24" -> 0.24, "-6.7" -> -6.7.

    Raises ValueError for anything else (empty text, "<.05", "n/a"), so a missing number is
    never silently a NaN.
    """
    text = str(text).strip()
    if not _PRINTED.match(text):
        raise ValueError(f"not a printed number: {text!r}")
    return float(text)


def p_bound(text: str) -> tuple[str, float]:
    """A printed p value as (relation, value): "<.001" -> ("<", 0.001); ".009" -> ("=", 0.009)."""
    match = _PRINTED_P.match(str(text).strip().replace(" ", ""))
    if not match:
        raise ValueError(f"not a printed p value: {text!r}")
    relation = match.group(1) or "="
    return relation, float(match.group(2))


def is_finite(value: float) -> bool:
    """Neither NaN nor infinite."""
    return not (math.isnan(value) or math.isinf(value))


def squeeze_printed(text: str) -> str:
    """Text as printed values are compared with an excerpt: without spaces, every kind of minus
    sign as "-"."""
    return re.sub(r"\s+", "", text).replace("\u2212", "-").replace("\u2013", "-")


@dataclass(frozen=True)
class Column:
    """One column: its kind (how its text is read), whether it is required, and its limits.

    kinds: ``text``; ``id`` (no spaces); ``int``; ``number``; ``printed`` (a decimal as
    printed, kept as text); ``printed_p``; ``year``; ``date`` (YYYY-MM-DD); ``doi``; ``url``;
    ``yesno``; ``ids`` (space-separated ids); ``url_or_label`` (a URL, or a
    description in square brackets where the search result showed none).
    """

    name: str
    kind: str = "text"
    required: bool = False
    allowed: tuple[str, ...] | None = None
    low: float | None = None  # lower limit of the number
    high: float | None = None  # upper limit of the number
    low_open: bool = False  # True: the value must be > low (not >=)
    high_open: bool = False
    pattern: str | None = None  # a regular expression the whole text must match
    unique: bool = False
    in_excerpt: bool = False  # a printed value that must appear verbatim in the row's excerpt


@dataclass(frozen=True)
class RowIssue:
    """A problem found by a row rule: the column it concerns and the message."""

    column: str | None
    message: str


RowRule = Callable[[dict[str, str]], list[RowIssue]]


@dataclass(frozen=True)
class TableSchema:
    """A table: file name, columns (in order), key columns and row rules."""

    name: str
    file: str  # path relative to the question folder (or to data/ for global tables)
    columns: tuple[Column, ...]
    key: tuple[str, ...] = ()  # columns that together identify a row
    row_rules: tuple[RowRule, ...] = field(default=())
    raw: bool = False  # kept byte-identical as received; never edited

    def column(self, name: str) -> Column:
        for column in self.columns:
            if column.name == name:
                return column
        raise KeyError(name)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(column.name for column in self.columns)


# ----------------------------------------------------------------------------- rules that tables share

def cell_number(row: dict[str, str], name: str) -> float | None:
    """The number in a column, or None when empty or unreadable (reported by the column check)."""
    text = row.get(name, "")
    if text == "":
        return None
    try:
        return printed_value(text)
    except ValueError:
        return None


def require(row: dict[str, str], names: tuple[str, ...], why: str) -> list[RowIssue]:
    """An issue for each of ``names`` left empty, "required when <why>"."""
    return [RowIssue(name, f"required when {why}") for name in names if row.get(name, "") == ""]


def ci_rule(estimate: str, low: str = "ci_low", high: str = "ci_high") -> RowRule:
    """The printed CI must be ordered and contain its printed estimate."""
    def rule(row: dict[str, str]) -> list[RowIssue]:
        value, lo, hi = cell_number(row, estimate), cell_number(row, low), cell_number(row, high)
        if value is None or lo is None or hi is None:
            return []
        if lo > hi:
            return [RowIssue(low, f"{low} {row[low]} is above {high} {row[high]}")]
        if not lo <= value <= hi:
            return [RowIssue(estimate, f"{estimate} {row[estimate]} is outside its CI "
                                       f"({row[low]} to {row[high]})")]
        return []
    return rule


def either(*names: str) -> RowRule:
    """At least one of ``names`` (the row's source) must be given."""
    def rule(row: dict[str, str]) -> list[RowIssue]:
        if all(row.get(name, "") == "" for name in names):
            return [RowIssue(names[0], f"one of {', '.join(names)} is required (the source)")]
        return []
    return rule


def statistic_rule(requirements: dict[str, tuple[str, ...]]) -> RowRule:
    """The columns each ``statistic_type`` needs (``requirements``) must be given."""
    def rule(row: dict[str, str]) -> list[RowIssue]:
        kind = row.get("statistic_type", "")
        if kind not in requirements:
            return []  # the vocabulary check reports it
        return require(row, requirements[kind], f"statistic_type is {kind}")
    return rule


def positive_ratio(*names: str) -> RowRule:
    """Each of ``names``, where given, is a ratio and so above 0."""
    def rule(row: dict[str, str]) -> list[RowIssue]:
        return [RowIssue(name, f"{name} {row[name]} must be > 0 (a ratio)")
                for name in names if (cell_number(row, name) is not None and cell_number(row, name) <= 0)]
    return rule
