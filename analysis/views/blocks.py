"""The book's displayable block, HTML with a plain-text twin, and the paragraphs made of one
computed sentence.

Every table, figure and sentence a chapter shows is an :class:`HtmlBlock`; this module imports
nothing of the pipeline, so any view can build on it.
"""
from __future__ import annotations

import html

__all__ = ["HtmlBlock", "certainty_sentence", "note"]


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


def note(text: str) -> HtmlBlock:
    """A computed sentence shown as a paragraph of the page."""
    return HtmlBlock(f'<p class="review-note">{html.escape(text)}</p>', text)


def certainty_sentence(question: str, text: str) -> HtmlBlock:
    """A sentence that leads with the certainty of a question's evidence, marked for the
    landing page's first screen (the browser test looks for ``data-question`` there)."""
    short = question.split("_", 1)[0]
    return HtmlBlock(f'<p class="review-certainty" data-question="{html.escape(short, quote=True)}">'
                     f"{html.escape(text)}</p>", text)
