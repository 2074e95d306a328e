"""Numbers and sentences glued into a chapter's prose (myst-nb ``glue``), always as plain values.

:func:`count_glue_names` gives every count the review defines the one name the book glues it as.
"""
from __future__ import annotations

from typing import Any

from .number_format import plain

__all__ = ["count_glue_names", "glue_counts", "glue_text", "glue_value"]


def glue_value(name: str, value: Any, display: bool = False) -> Any:
    """Glue a number or string for the prose, always as a plain Python value."""
    from myst_nb import glue

    value = plain(value)
    glue(name, value, display=display)
    return value


class _Text:
    """A glued string that pastes without quotes (its plain-text repr is the string itself)."""

    def __init__(self, text: str):
        self.text = text

    def __repr__(self) -> str:
        return self.text


def glue_text(name: str, text: Any) -> None:
    """Glue a sentence or phrase for the prose."""
    from myst_nb import glue

    glue(name, _Text(str(text)), display=False)


def count_glue_names() -> dict[str, int]:
    """Every count the review defines, under the one name the book glues it as:
    ``<question id>_<count>`` ("q1_unique_records") and ``all_<count>`` for the review's totals."""
    from analysis import review

    current = review.current()
    names: dict[str, int] = {}
    for part in current.questions:
        for key, value in part.counts.items():
            if isinstance(value, int) and not isinstance(value, bool):
                names[f"{part.question.id}_{key}"] = value
        names[f"{part.question.id}_included_studies"] = part.included_studies
    names.update({f"all_{key}": value for key, value in current.totals.items()})
    return names


def glue_counts() -> dict[str, int]:
    """Glue every count of :func:`count_glue_names` for the prose; returns them."""
    names = count_glue_names()
    for name, value in names.items():
        glue_text(name, value)
    return names
