"""Tables with a header row: CSV (comma or semicolon) and tab-delimited text.

Covers the CSV layouts of Scopus, Web of Science, PubMed, Embase, IEEE Xplore and Springer Link,
Web of Science's tab-delimited ``.txt`` and the review's own hit list; which column feeds which
record field is data (``analysis/search/field_aliases.csv``).

Scopus CSVs of some years carry one cell more than the header on rows that have a second
funding text: the unnamed cell follows ``Funding Text 1`` and is read as ``Funding Text 2``.
Any other row whose number of cells differs from the header's is skipped with its line.
"""
from __future__ import annotations

import csv
import io
import re
from pathlib import Path

from .base import Entries, ExportError, Skipped, read_text

_FUNDING_TEXT = re.compile(r"^Funding Text (\d+)$")


def sniff_delimiter(first_line: str) -> str:
    counts = {delimiter: first_line.count(delimiter) for delimiter in (",", "\t", ";")}
    delimiter = max(counts, key=counts.get)
    return delimiter if counts[delimiter] else ","


def header_of(text: str) -> tuple[list[str], str]:
    """The header row's column names and the delimiter, from the first non-blank line."""
    first = next((line for line in text.splitlines() if line.strip()), "")
    delimiter = sniff_delimiter(first)
    header = next(csv.reader([first], delimiter=delimiter), []) if first else []
    return [h.strip() for h in header], delimiter


def _align_ragged(header: list[str], row: list[str]) -> list[str] | None:
    """A Scopus row with more cells than the header: the extra cells are the funding texts after
    the last named one. None when the row cannot be aligned that way."""
    numbered = [i for i, name in enumerate(header) if _FUNDING_TEXT.match(name)]
    extra = len(row) - len(header)
    if not numbered or extra <= 0:
        return None
    last = numbered[-1]
    number = int(_FUNDING_TEXT.match(header[last]).group(1))
    names = header[:last + 1] + [f"Funding Text {number + k}" for k in range(1, extra + 1)] + header[last + 1:]
    return dict(zip(names, row))


def read(path: Path, delimiter: str | None = None) -> Entries:
    text = read_text(path)
    if delimiter is None:
        delimiter = header_of(text)[1]
    quoting = csv.QUOTE_NONE if delimiter == "\t" else csv.QUOTE_MINIMAL  # WoS .txt is unquoted
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, quoting=quoting, strict=True)
    try:
        header = [h.strip() for h in next(reader)]
    except StopIteration:
        raise ExportError(path, 1, "empty file: no header row") from None
    except csv.Error as err:
        raise ExportError(path, 1, f"header row is not valid CSV ({err})") from None
    while header and not header[-1] and delimiter == "\t":  # WoS rows end with a tab
        header.pop()
    blank = [i + 1 for i, h in enumerate(header) if not h]
    if blank:
        raise ExportError(path, 1, f"header column {blank[0]} has no name")
    if len(set(header)) != len(header):
        repeated = sorted({h for h in header if header.count(h) > 1})
        raise ExportError(path, 1, f"header repeats column name(s) {repeated}")
    rows, skipped = [], []
    line_end = reader.line_num
    while True:
        start = line_end + 1
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as err:
            raise ExportError(path, start, f"not valid CSV ({err}); check quotes") from None
        line_end = reader.line_num
        if not any(cell.strip() for cell in row):
            continue
        while len(row) > len(header) and not row[-1].strip():
            row = row[:-1]  # trailing empty cells (tab-delimited rows end with a tab)
        if delimiter == "\t" and len(row) < len(header):
            row = row + [""] * (len(header) - len(row))  # WoS drops empty trailing cells
        if len(row) == len(header):
            rows.append((start, dict(zip(header, row))))
            continue
        aligned = _align_ragged(header, row)
        if aligned is not None:
            rows.append((start, aligned))
        else:
            skipped.append(Skipped(start, f"expected {len(header)} fields as in the header, found {len(row)}"))
    if not rows:
        if skipped:
            raise ExportError(path, skipped[0].line, skipped[0].reason)
        raise ExportError(path, None, "no record rows after the header")
    return Entries(rows, skipped)
