"""The look every figure of the review shares: colours, text sizes, a new figure sized for the
page, the bare RevMan axis, and how a number is printed on a figure.

Every plot function (:mod:`~analysis.figures.forest_plots`, :mod:`~analysis.figures.funnel_plots`,
:mod:`~analysis.figures.sensitivity_plots`, :mod:`~analysis.figures.comparison_plots`,
:mod:`~analysis.figures.rob_plots`) takes an optional matplotlib ``ax`` (``None`` creates a
figure sized for its content) and returns the :class:`~matplotlib.figure.Figure`. Nothing is
random. Colours come from the Okabe-Ito palette (Okabe M, Ito K. Color Universal Design, 2008),
which stays distinguishable under the common forms of colour blindness; risk-of-bias judgements
are also drawn as symbols, so colour is never the only cue.

Layout follows Cochrane's RevMan forest plot (Cochrane Handbook v6.4, chapter 10, figure 10.2.a)
and metafor's ``forest.rma`` (Viechtbauer 2010, J Stat Softw 36(3)).
"""
from __future__ import annotations

import math
from typing import Any

import matplotlib.pyplot as plt

# Labels are data (study labels, outcome names typed by authors): "US$ 5 and $ 10" must print
# as written, not as mathtext between two dollar signs, and "$\\foo$" must not stop a chapter.
# Every text of the review's figures is plain text; nothing here uses mathtext.
plt.rcParams["text.parse_math"] = False

# Okabe-Ito palette.
OKABE_ITO: dict[str, str] = {
    "black": "#000000",
    "orange": "#E69F00",
    "sky_blue": "#56B4E9",
    "bluish_green": "#009E73",
    "yellow": "#F0E442",
    "blue": "#0072B2",
    "vermillion": "#D55E00",
    "reddish_purple": "#CC79A7",
}
PALETTE: list[str] = [OKABE_ITO[k] for k in ("blue", "orange", "bluish_green", "vermillion",
                                              "reddish_purple", "sky_blue", "yellow", "black")]
STUDY_COLOUR = OKABE_ITO["blue"]
POOLED_COLOUR = OKABE_ITO["black"]
PREDICTION_COLOUR = OKABE_ITO["vermillion"]
GREY = "#8C8C8C"

# Sizes for the page: the book shows a figure at the width of its text column, about 680 px
# at a 1280 px window, and every text must then read at 10 px or more. A figure W inches wide
# with text of F points shows that text at F * 680 / (72 W) px, so 9 pt text needs W <= 8.5 in.
DISPLAY_COLUMN_PX = 680
FONT_SIZE = 9
FIG_WIDTH = 8.0  # inches


def finite(value: Any) -> bool:
    """True for a number that is not None, NaN or infinite (text that parses as one counts)."""
    try:
        return value is not None and math.isfinite(float(value))
    except (TypeError, ValueError):
        return False


def fmt(value: Any, digits: int = 2) -> str:
    """A number for a figure: fixed decimals, a true minus sign; "NA" when missing."""
    if not finite(value):
        return "NA"
    text = f"{float(value):.{digits}f}"
    if text.startswith("-") and float(text) == 0:
        text = text[1:]
    return text.replace("-", "\u2212")


def with_ci(est: float, low: float, high: float, digits: int = 2) -> str:
    """"0.49 [0.34, 0.70]"; the estimate alone when the interval is missing."""
    if not (finite(low) and finite(high)):
        return fmt(est, digits)
    return f"{fmt(est, digits)} [{fmt(low, digits)}, {fmt(high, digits)}]"


def new_figure(width: float, height: float, ax=None):
    """(figure, axes, own): the given ``ax`` and its figure, or a new figure of this size in
    inches; ``own`` says whether the caller may lay out the figure."""
    if ax is not None:
        return ax.figure, ax, False
    fig = plt.figure(figsize=(width, height), dpi=100)
    return fig, fig.add_subplot(), True


def style_axis(ax) -> None:
    """The RevMan axis: an x axis only, no frame, no y ticks (rows are labelled in text)."""
    for side in ("top", "right", "left"):
        ax.spines[side].set_visible(False)
    ax.tick_params(axis="x", labelsize=FONT_SIZE)
    ax.set_yticks([])
