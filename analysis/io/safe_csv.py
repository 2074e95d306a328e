"""CSV files written for people stay text when a spreadsheet opens them.

A cell that begins with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is read by
spreadsheet programs as a formula (``=HYPERLINK(...)``, ``=cmd|...``, ``+SUM(...)``), which
can run commands or leak data. Such text cells get a leading apostrophe, the neutralisation
OWASP recommends ("CSV Injection", https://owasp.org/www-community/attacks/CSV_Injection);
numbers are numbers and are left alone. Data tables under data/ are not changed: only the
forms and downloads that people open.
"""
from __future__ import annotations

import re

import pandas as pd

__all__ = ["FORMULA_STARTS", "neutralise", "neutralised_frame", "csv_for_people"]

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# a number written as text ("-0.71", "+3") is read as that number, never as a formula
_PLAIN_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")


def neutralise(value: object) -> object:
    """``'=1+1`` for ``=1+1``; any other value unchanged (numbers, also written as text such
    as ``-0.71``; None; plain text). A
    carriage return inside text becomes a line feed, which the CSV writer quotes (a bare
    carriage return would end the row in some readers)."""
    if not isinstance(value, str):
        return value
    if value.startswith(FORMULA_STARTS) and not _PLAIN_NUMBER.fullmatch(value):
        value = "'" + value
    return value.replace("\r\n", "\n").replace("\r", "\n")


def neutralised_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy whose text cells (and column names) are neutralised; numeric columns as they are."""
    out = frame.copy()
    for column in out.columns:
        if not (pd.api.types.is_numeric_dtype(out[column]) or pd.api.types.is_bool_dtype(out[column])):
            out[column] = out[column].map(neutralise)
    out.columns = [neutralise(str(c)) for c in out.columns]
    return out


def csv_for_people(frame: pd.DataFrame, **to_csv) -> str:
    """The CSV text of ``frame`` with every text cell neutralised."""
    return neutralised_frame(frame).to_csv(index=False, lineterminator="\n", **to_csv)
