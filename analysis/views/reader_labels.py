"""What readers see instead of the codebook's column ids: "Participants", not ``n``.

The mapping is data (``analysis/views/column_labels.csv``: column_id, label), so a new column gets a
label by adding a row. Every table of the book passes its headers through :func:`reader_label`;
downloads keep the column ids, which is what scripts reading the CSV expect.
"""
from __future__ import annotations

import csv
from functools import lru_cache
from pathlib import Path

import pandas as pd

__all__ = ["LABELS_FILE", "column_labels", "raw_column_ids", "reader_label", "reader_columns"]

LABELS_FILE = Path(__file__).with_name("column_labels.csv")


@lru_cache(maxsize=1)
def column_labels() -> dict[str, str]:
    """column id -> reader label, from :data:`LABELS_FILE` (one label per id)."""
    labels: dict[str, str] = {}
    with LABELS_FILE.open(encoding="utf-8", newline="") as handle:
        for line, row in enumerate(csv.DictReader(handle), start=2):
            column, label = (row.get("column_id") or "").strip(), (row.get("label") or "").strip()
            if not column or not label:
                raise ValueError(f"{LABELS_FILE.name}, row {line}: column_id and label are both required")
            if column in labels:
                raise ValueError(f"{LABELS_FILE.name}, row {line}: column_id {column!r} listed twice")
            labels[column] = label
    return labels


def raw_column_ids() -> frozenset[str]:
    """Column ids that must never reach a page as they are (their label differs from the id)."""
    return frozenset(column for column, label in column_labels().items() if column != label)


def reader_label(column) -> str:
    """The reader's label of a column id; a header that is not an id is returned as it is."""
    return column_labels().get(str(column), str(column))


def reader_columns(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame with reader labels as headers (a second column with the same label is
    numbered: "Outcome (2)"; the column id never shows)."""
    seen: dict[str, int] = {}
    names = []
    for column in frame.columns:
        label = reader_label(column)
        seen[label] = seen.get(label, 0) + 1
        names.append(label if seen[label] == 1 else f"{label} ({seen[label]})")
    return frame.set_axis(names, axis=1)
