"""Display helpers for the book's chapters: tables, figures, downloads and glued numbers.

Everything a chapter shows goes through here so that every page escapes untrusted text
(titles and abstracts come from search exports), every figure carries alt text, and every
number glued into the prose is a plain Python value (numpy scalars would print their repr).
"""
from __future__ import annotations

import base64
import hashlib
import html
import io
import math
import numbers
from typing import Any, Iterable

import pandas as pd

__all__ = [
    "HtmlBlock",
    "chapter_box",
    "data_version",
    "download_link",
    "fmt_ci",
    "fmt_num",
    "fmt_p",
    "glue_value",
    "plain",
    "searchable_table",
    "show_figure",
    "static_table",
]


class HtmlBlock:
    """A piece of HTML with a plain-text twin, displayed by Jupyter as both.

    The text twin is what nbval compares when a reviewer re-executes a chapter and what a
    terminal shows; the HTML is what the book renders.
    """

    def __init__(self, html_text: str, plain_text: str):
        self.html_text = html_text
        self.plain_text = plain_text

    def _repr_html_(self) -> str:
        return self.html_text

    def __repr__(self) -> str:
        return self.plain_text


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
    """A p value as journals print it: "< .001" below one in a thousand."""
    p = plain(p)
    if p is None:
        return "–"
    if p < 0.001:
        return "< .001"
    return f"{p:.3f}".lstrip("0")


def glue_value(name: str, value: Any, display: bool = False) -> Any:
    """Glue a number or string for the prose, always as a plain Python value."""
    from myst_nb import glue

    value = plain(value)
    glue(name, value, display=display)
    return value


def _escape_cell(value: Any, digits: int) -> str:
    value = plain(value)
    if value is None:
        return ""
    if isinstance(value, float):
        return html.escape(fmt_num(value, digits))
    return html.escape(str(value))


def _table_html(frame: pd.DataFrame, table_id: str, digits: int, caption: str | None) -> str:
    header = "".join(f'<th scope="col">{html.escape(str(column))}</th>' for column in frame.columns)
    rows = []
    for record in frame.itertuples(index=False):
        cells = "".join(f"<td>{_escape_cell(value, digits)}</td>" for value in record)
        rows.append(f"<tr>{cells}</tr>")
    caption_html = f"<caption>{html.escape(caption)}</caption>" if caption else ""
    return (
        f'<table class="review-table" id="{html.escape(table_id)}">{caption_html}'
        f"<thead><tr>{header}</tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )


def _table_text(frame: pd.DataFrame, digits: int) -> str:
    shown = frame.copy()
    for column in shown.columns:
        shown[column] = [
            fmt_num(v, digits) if isinstance(plain(v), float) else ("" if plain(v) is None else str(v))
            for v in shown[column]
        ]
    return shown.to_string(index=False)


def static_table(frame: pd.DataFrame, *, table_id: str, caption: str | None = None,
                 digits: int = 2) -> HtmlBlock:
    """A plain HTML table with every cell escaped."""
    html_text = _table_html(frame, table_id, digits, caption)
    return HtmlBlock(f'<div class="review-table-wrap">{html_text}</div>', _table_text(frame, digits))


def download_link(frame: pd.DataFrame, filename: str, label: str | None = None) -> HtmlBlock:
    """A link that downloads the table as CSV, embedded in the page so it works offline."""
    payload = frame.to_csv(index=False).encode("utf-8")
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
    html_text = (
        f'<div class="review-table-wrap searchable" data-table="{html.escape(table_id)}">'
        f'<label class="review-filter">Filter rows: <input type="search" '
        f'aria-controls="{html.escape(table_id)}" data-filter-for="{html.escape(table_id)}"></label>'
        f"{_table_html(frame, table_id, digits, caption)}</div>"
    )
    if filename:
        html_text += download_link(frame, filename).html_text
    return HtmlBlock(html_text, _table_text(frame, digits))


def show_figure(figure, alt: str, caption: str | None = None, *, close: bool = True) -> HtmlBlock:
    """Embed a matplotlib figure as a PNG with its alt text (and a caption)."""
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    # A fixed dpi and no metadata timestamps keep the bytes identical between executions.
    figure.savefig(buffer, format="png", dpi=110, bbox_inches="tight", metadata={"Software": None})
    if close:
        plt.close(figure)
    encoded = base64.b64encode(buffer.getvalue()).decode("ascii")
    caption_html = f"<figcaption>{html.escape(caption)}</figcaption>" if caption else ""
    html_text = (
        f'<figure class="review-figure"><img src="data:image/png;base64,{encoded}" '
        f'alt="{html.escape(alt, quote=True)}"/>{caption_html}</figure>'
    )
    text = f"[Figure: {alt}]" + (f" {caption}" if caption else "")
    return HtmlBlock(html_text, text)


def data_version(paths: Iterable) -> str:
    """A short fingerprint of the data files a chapter reads (first 12 hex digits of SHA-256)."""
    digest = hashlib.sha256()
    for path in sorted(paths, key=str):
        digest.update(str(path.name).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def chapter_box(*, release: str, data_fingerprint: str, last_search: str, k_text: str) -> HtmlBlock:
    """The short box each chapter opens with: data version, date of the last search, k."""
    items = [
        ("Release", release),
        ("Data version", data_fingerprint),
        ("Last search", last_search),
        ("Studies", k_text),
    ]
    html_items = "".join(
        f"<dt>{html.escape(label)}</dt><dd>{html.escape(value)}</dd>" for label, value in items
    )
    html_text = f'<div class="admonition note review-box"><dl class="review-box-list">{html_items}</dl></div>'
    text = "; ".join(f"{label}: {value}" for label, value in items)
    return HtmlBlock(html_text, text)
