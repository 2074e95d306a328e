"""Tables on the page: every cell escaped, headers in the reader's words, a CSV download.

Titles and abstracts come from search exports, so no cell reaches a page unescaped; a table too
wide for the text column is drawn as one card per row.
"""
from __future__ import annotations

import base64
import html
from typing import Any

import pandas as pd

from .blocks import HtmlBlock
from .number_format import fmt_num, plain

__all__ = ["download_link", "fits_as_table", "searchable_table", "static_table"]


def _escape_cell(value: Any, digits: int) -> str:
    value = plain(value)
    if value is None:
        return ""
    if isinstance(value, bool):  # readers see "yes", not Python's "True"
        return "yes" if value else "no"
    if isinstance(value, float):
        return html.escape(fmt_num(value, digits))
    return html.escape(str(value))


def _table_html(frame: pd.DataFrame, table_id: str, digits: int, caption: str | None) -> str:
    from .reader_labels import reader_columns

    frame = reader_columns(frame)  # readers see labels, never the codebook's column ids
    header = "".join(f'<th scope="col">{html.escape(str(column))}</th>' for column in frame.columns)
    rows = []
    labels = [html.escape(str(column), quote=True) for column in frame.columns]
    for record in frame.itertuples(index=False):
        cells = "".join(f'<td data-label="{label}">{_escape_cell(value, digits)}</td>'
                        for label, value in zip(labels, record))
        rows.append(f"<tr>{cells}</tr>")
    caption_html = f"<caption>{html.escape(caption)}</caption>" if caption else ""
    # A table too wide for the text column is shown as one card per row (label: value), which
    # fits any page width; the stylesheet does the same for every table on a phone.
    classes = "review-table" + ("" if fits_as_table(frame, digits) else " review-table-stacked")
    return (
        f'<table class="{classes}" id="{html.escape(table_id)}">{caption_html}'
        f"<thead><tr>{header}</tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )


def _table_text(frame: pd.DataFrame, digits: int) -> str:
    from .reader_labels import reader_columns

    shown = reader_columns(frame)
    for column in shown.columns:
        shown[column] = [
            fmt_num(v, digits) if isinstance(plain(v), float) else ("" if plain(v) is None else str(v))
            for v in shown[column]
        ]
    return shown.to_string(index=False)


# The text column at a 1280 px window, and the width of one character of table text there
# (half an em of its 0.85 em font): a table whose columns cannot fit is drawn as cards.
TEXT_COLUMN_PX = 680
TABLE_CHAR_PX = 6.8
WRAP_CHARS = 16  # a long cell wraps to about this many characters per line
BREAK_CHARS = 20  # a longer word (a URL, an id) is broken where it must


def fits_as_table(frame: pd.DataFrame, digits: int = 2) -> bool:
    """Whether the table fits the text column with its long cells wrapped.

    Each column needs its longest word (up to BREAK_CHARS) or up to WRAP_CHARS characters of
    its longest cell, whichever is more, plus its padding."""
    from .reader_labels import reader_label

    needed = 0.0
    for column in frame.columns:
        cells = [_escape_cell(v, digits) for v in frame[column]] + [reader_label(column)]
        longest_word = max((len(word) for cell in cells for word in str(cell).split()), default=0)
        longest_cell = max((len(str(cell)) for cell in cells), default=0)
        # a word longer than BREAK_CHARS breaks anywhere (review.css: overflow-wrap: anywhere)
        needed += max(min(longest_word, BREAK_CHARS), min(longest_cell, WRAP_CHARS)) * TABLE_CHAR_PX + 12
    return needed <= TEXT_COLUMN_PX


def static_table(frame: pd.DataFrame, *, table_id: str, caption: str | None = None,
                 digits: int = 2) -> HtmlBlock:
    """A plain HTML table with every cell escaped."""
    html_text = _table_html(frame, table_id, digits, caption)
    return HtmlBlock(f'<div class="review-table-wrap">{html_text}</div>', _table_text(frame, digits))


def download_link(frame: pd.DataFrame, filename: str, label: str | None = None) -> HtmlBlock:
    """A link that downloads the table as CSV, embedded in the page so it works offline.

    Text that a spreadsheet would run as a formula is neutralised (:mod:`analysis.io.safe_csv`)."""
    from analysis.io.safe_csv import csv_for_people

    payload = csv_for_people(frame).encode("utf-8")
    encoded = base64.b64encode(payload).decode("ascii")
    label = label or f"Download {filename}"
    html_text = (
        f'<p class="review-download"><a download="{html.escape(filename)}" '
        f'href="data:text/csv;charset=utf-8;base64,{encoded}">{html.escape(label)}</a> '
        f"({len(frame)} rows, CSV)</p>"
    )
    return HtmlBlock(html_text, f"[{label}: {filename}, {len(frame)} rows]")


def searchable_table(frame: pd.DataFrame, *, table_id: str, caption: str | None = None,
                     digits: int = 2, filename: str | None = None) -> HtmlBlock:
    """A table readers can filter and sort (the book's `_static/review_tables.js`), with a CSV link.

    Without JavaScript it is still a complete, readable table.
    """
    rows = len(frame)
    html_text = (
        f'<div class="review-table-wrap searchable" data-table="{html.escape(table_id)}">'
        f'<div class="review-table-tools"><label class="review-filter">Filter rows: <input type="search" '
        f'aria-controls="{html.escape(table_id)}" data-filter-for="{html.escape(table_id)}"></label> '
        f'<span class="review-row-count" aria-live="polite">{rows} row{"" if rows == 1 else "s"}</span>'
        f'<span class="review-sort-hint">Click a column heading to sort.</span></div>'
        f'<div class="review-table-scroll">{_table_html(frame, table_id, digits, caption)}</div></div>'
    )
    if filename:
        html_text += download_link(frame, filename).html_text
    return HtmlBlock(html_text, _table_text(frame, digits))
