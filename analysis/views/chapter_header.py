"""The box each chapter opens with: release, data checksum, date of the last search and k."""
from __future__ import annotations

import html

from .blocks import HtmlBlock

__all__ = ["chapter_box", "chapter_box_for"]


def chapter_box(*, release: str, data_fingerprint: str, last_search: str, k_text: str) -> HtmlBlock:
    """The short box each chapter opens with: data version, date of the last search, k."""
    items = [
        ("Release", release),
        ("Data checksum", f"{data_fingerprint} (changes whenever a data file changes)"),
        ("Last search", last_search),
        ("Studies", k_text),
    ]
    html_items = "".join(
        f"<dt>{html.escape(label)}</dt><dd>{html.escape(value)}</dd>" for label, value in items
    )
    html_text = (f'<div class="admonition note review-box"><p class="admonition-title">This version</p>'
                 f'<dl class="review-box-list">{html_items}</dl></div>')
    text = "; ".join(f"{label}: {value}" for label, value in items)
    return HtmlBlock(html_text, text)


def chapter_box_for(question: str | None = None) -> HtmlBlock:
    """The opening box of a chapter, from the release log and the review's held counts."""
    from analysis.versions.release_history import release_status
    from analysis import review

    current = review.current()
    parts = [current.question(question)] if question else current.questions
    status = release_status()
    release = status["label"] if status else "not yet released"
    k_text = "; ".join(f"k = {part.included_studies} (question {part.question.number})" for part in parts)
    return chapter_box(release=release, data_fingerprint=current.fingerprint[:12],
                       last_search=current.last_search, k_text=k_text)
