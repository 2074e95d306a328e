"""Figures as the book shows them: inline SVG at full column width, numbered, enlargeable.

Why inline SVG with real text (``svg.fonttype = "none"``): the text stays sharp at any zoom,
readers can select and search it, and the browser test can measure the size at which every
label is drawn. Each figure's SVG ids are prefixed with its number, so that two figures on one
page never share an id (matplotlib names every group ``figure_1``, ``text_1``, ...).

Numbering is computed: the first figure a chapter shows is Figure 1 (each chapter runs in its own
kernel, so the counter starts afresh; :func:`restart_numbering` resets it by hand). Analyses are
numbered as RevMan numbers them, "Analysis <question>.<outcome>", from the order of
:data:`analysis.pooling.synthesis.ANALYSES`.
"""
from __future__ import annotations

import html
import io
import itertools
import re

__all__ = ["analysis_number", "analysis_caption", "figure_html", "next_figure_number",
           "restart_numbering", "smallest_text_px", "svg_markup"]

_counter = itertools.count(1)


def restart_numbering() -> None:
    """Start figure numbers again at 1 (a chapter's kernel starts at 1 on its own)."""
    global _counter
    _counter = itertools.count(1)


def next_figure_number() -> int:
    return next(_counter)


def analysis_number(question: str, outcome: str) -> str:
    """RevMan's "comparison.outcome" number of an analysis, e.g. "1.1", from ANALYSES' order."""
    from analysis.pooling.synthesis import ANALYSES

    questions = list(dict.fromkeys(spec.question for spec in ANALYSES))
    short = question.split("_", 1)[0]
    if short not in questions:
        raise KeyError(f"unknown question {question!r}; known: {', '.join(questions)}")
    outcomes = [spec.outcome for spec in ANALYSES if spec.question == short]
    for position, spec in enumerate((s for s in ANALYSES if s.question == short), start=1):
        if outcome == spec.outcome or outcome in spec.aliases:
            return f"{questions.index(short) + 1}.{position}"
    raise KeyError(f"unknown outcome {outcome!r} of {short}; known: {', '.join(outcomes)}")


_QUESTION_TITLES = {"q1": "web-based help seeking and depressive symptoms",
                    "q2": "interventions to improve help seeking"}


def analysis_caption(question: str, outcome: str) -> str:
    """RevMan-style heading of an analysis: "Analysis 2.1. Question 2 (...), outcome 1: ..."."""
    from analysis.pooling.synthesis import analysis_spec

    number = analysis_number(question, outcome)
    short = question.split("_", 1)[0]
    spec = analysis_spec(short, outcome)
    comparison, position = number.split(".")
    return (f"Analysis {number}. Question {comparison} ({_QUESTION_TITLES.get(short, short)}), "
            f"outcome {position}: {spec.label}.")


def svg_markup(figure, prefix: str) -> str:
    """The figure as an inline ``<svg>`` element whose ids all start with ``prefix``."""
    import matplotlib

    buffer = io.StringIO()
    # Fixed hash salt and no date: the same figure gives the same bytes on every execution.
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "review"}):
        figure.savefig(buffer, format="svg", bbox_inches="tight", pad_inches=0.08,
                       metadata={"Date": None, "Creator": None})
    text = buffer.getvalue()
    text = text[text.index("<svg"):]
    text = re.sub(r"<metadata>.*?</metadata>\s*", "", text, flags=re.S)
    text = re.sub(r'\bid="([^"]+)"', lambda m: f'id="{prefix}-{m.group(1)}"', text)
    text = re.sub(r'(xlink:href|href)="#([^"]+)"', lambda m: f'{m.group(1)}="#{prefix}-{m.group(2)}"', text)
    text = re.sub(r"url\(#([^)]+)\)", lambda m: f"url(#{prefix}-{m.group(1)})", text)
    return text


def figure_html(figure, alt: str, caption: str | None, number: int) -> tuple[str, str]:
    """HTML and plain text of figure ``number``: inline SVG, its alt text, "Figure n." caption.

    The SVG is labelled for screen readers (``role="img"`` with the alt text); the button under
    it (added by ``_static/review_tables.js``) opens the figure at its full size, which on a
    phone scrolls sideways instead of shrinking the text.
    """
    prefix = f"fig{number}"
    svg = svg_markup(figure, prefix)
    label = html.escape(alt, quote=True)
    svg = svg.replace("<svg ", f'<svg role="img" aria-label="{label}" class="review-svg" ', 1)
    # The title element is what browsers show on hover and what older screen readers read.
    svg = re.sub(r"(<svg[^>]*>)", lambda m: m.group(1) + f"<title>{html.escape(alt)}</title>", svg, count=1)
    heading = f"Figure {number}."
    caption_html = (f'<figcaption><span class="review-figure-number">{heading}</span> '
                    f"{html.escape(caption or '')}</figcaption>")
    html_text = (
        f'<figure class="review-figure" id="figure-{number}">'
        f'<div class="review-figure-canvas">{svg}</div>{caption_html}</figure>'
    )
    text = f"{heading} {caption or ''}".rstrip() + f" [Figure: {alt}]"
    return html_text, text


def smallest_text_px(figure, column_px: float) -> float:
    """The size in px at which the figure's smallest text shows when the figure is drawn at
    ``column_px`` wide (as the book draws it, cropped to its content like ``svg_markup``)."""
    from matplotlib.text import Text

    renderer = figure.canvas.get_renderer()
    width_pt = (figure.get_tightbbox(renderer).width + 2 * 0.08) * 72
    sizes = [t.get_fontsize() for t in figure.findobj(Text) if t.get_visible() and t.get_text().strip()]
    return min(sizes) * column_px / width_pt if sizes else float("inf")
