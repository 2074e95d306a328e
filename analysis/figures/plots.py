"""The review's figures: forest plots, funnel, cumulative, leave-one-out, Baujat, GOSH, the
comparison with the published reviews, and risk-of-bias plots.

Every plot function takes an optional matplotlib ``ax`` (``None`` creates a figure sized for its
content) and returns the :class:`~matplotlib.figure.Figure`. Nothing is random: the GOSH
marginals use deterministic histograms. Colours come from the Okabe-Ito palette (Okabe M, Ito K.
Color Universal Design, 2008), which stays distinguishable under the common forms of colour
blindness; risk-of-bias judgements are also drawn as symbols, so colour is never the only cue.

Each figure has a companion ``<name>_alt_text(...)`` that builds, from the same data, the sentence
a screen reader needs; :func:`alt_text` dispatches on the plot function.

Layout follows Cochrane's RevMan forest plot (Cochrane Handbook v6.4, chapter 10, figure 10.2.a)
and metafor's ``forest.rma`` (Viechtbauer 2010, J Stat Softw 36(3)).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib import ticker
from matplotlib.lines import Line2D
from matplotlib.patches import Patch, Polygon, Rectangle
from matplotlib.transforms import blended_transform_factory
from scipy import stats

from analysis.pooling import display_rules
from analysis.measures import p_text

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

# Risk-of-bias judgement -> (fill colour, symbol, legend text), after robvis
# (McGuinness LA, Higgins JPT. Res Synth Methods 2021;12:55-61) with Okabe-Ito colours.
ROB_STYLE: dict[str, tuple[str, str, str]] = {
    "low": (OKABE_ITO["bluish_green"], "+", "Low"),
    "some concerns": (OKABE_ITO["yellow"], "\u2212", "Some concerns"),
    "high": (OKABE_ITO["vermillion"], "\u00d7", "High"),
    "no information": ("#BBBBBB", "?", "No information"),
    "yes": (OKABE_ITO["bluish_green"], "+", "Yes (criterion met)"),
    # "Unclear" (JBI) is not "some concerns" (RoB 2): each judgement has its own colour.
    "unclear": (OKABE_ITO["sky_blue"], "?", "Unclear"),
    "no": (OKABE_ITO["vermillion"], "\u00d7", "No (criterion not met)"),
    "not applicable": ("#DDDDDD", "\u2013", "Not applicable"),
}
ROB_HATCH = {"low": "", "yes": "", "some concerns": "//", "unclear": "..", "high": "xx", "no": "xx",
             "no information": "", "not applicable": ""}

# Sizes for the page: the book shows a figure at the width of its text column, about 680 px
# at a 1280 px window, and every text must then read at 10 px or more. A figure W inches wide
# with text of F points shows that text at F * 680 / (72 W) px, so 9 pt text needs W <= 8.5 in.
DISPLAY_COLUMN_PX = 680
FONT_SIZE = 9
FIG_WIDTH = 8.0  # inches
LABEL_CHARS = 24  # forest-plot label column, in characters; longer labels wrap onto more rows
_Z975 = float(stats.norm.isf(0.025))


# --------------------------------------------------------------------------- scales and numbers
@dataclass(frozen=True)
class _Scale:
    name: str
    forward: Callable[[np.ndarray], np.ndarray]  # model scale -> reader's scale
    null: float  # no-effect value on the reader's scale
    log_axis: bool


_SCALES = {
    "identity": _Scale("identity", lambda x: np.asarray(x, dtype=float), 0.0, False),
    "exp": _Scale("exp", lambda x: np.exp(np.asarray(x, dtype=float)), 1.0, True),
    # Fisher z back to r: r = tanh(z) (Borenstein et al. 2009, Introduction to Meta-Analysis, eq. 6.3)
    "r": _Scale("r", lambda x: np.tanh(np.asarray(x, dtype=float)), 0.0, False),
}
# Reader's-scale measures -> scale of the plotted numbers when they are already back-transformed.
_MEASURE_SCALE = {"OR": "exp", "RR": "exp", "HR": "exp", "r": "identity", "SMD": "identity",
                  "MD": "identity", "RD": "identity", "g": "identity", "d": "identity"}
_LOG_MEASURES = {"OR", "RR", "HR"}


def _scale(name: str) -> _Scale:
    if name not in _SCALES:
        raise ValueError(f"scale {name!r} is not one of {sorted(_SCALES)}")
    return _SCALES[name]


def _finite(value: Any) -> bool:
    try:
        return value is not None and math.isfinite(float(value))
    except (TypeError, ValueError):
        return False


def fmt(value: Any, digits: int = 2) -> str:
    """A number for a figure: fixed decimals, a true minus sign; "NA" when missing."""
    if not _finite(value):
        return "NA"
    text = f"{float(value):.{digits}f}"
    if text.startswith("-") and float(text) == 0:
        text = text[1:]
    return text.replace("-", "\u2212")


def fmt_p(p: Any) -> str:
    """"p = .032" or "p < .001": the book's one p-value style (:mod:`analysis.measures`)."""
    return p_text(p)


def fmt_tau2(tau2: Any) -> str:
    if not _finite(tau2):
        return "NA"
    tau2 = float(tau2)
    if tau2 == 0:
        return "0"
    return "< 0.001" if tau2 < 0.001 else f"{tau2:.3f}"


def heterogeneity_text(result: Any) -> str:
    """"Heterogeneity: τ² = 0.052; I² = 43%; Q = 7.02 (df = 4), p = 0.13" from a result."""
    if int(getattr(result, "k", 0)) < 2:
        return "Heterogeneity: not applicable (one study)"
    return (f"Heterogeneity: \u03c4\u00b2 = {fmt_tau2(result.tau2)}; I\u00b2 = {float(result.i2):.0f}%; "
            f"Q = {fmt(result.q)} (df = {int(result.q_df)}), {fmt_p(result.q_pval)}")


def overall_test_text(result: Any, prefix: str = "Test for overall effect") -> str:
    """"Test for overall effect: z = 2.31 (p = 0.02)", or t(df) with Knapp-Hartung."""
    if getattr(result, "test", "z") == "knha":
        df = getattr(result, "df", None)
        df = int(result.k) - 1 if df is None else df
        stat = f"t({df:g}) = {fmt(result.statistic)}"
    else:
        stat = f"z = {fmt(result.statistic)}"
    return f"{prefix}: {stat} ({fmt_p(result.pval)})"


def model_text(result: Any) -> str:
    method = str(getattr(result, "method", ""))
    test = "Knapp-Hartung" if getattr(result, "test", "z") == "knha" else "z"
    fixed = method in ("FE", "EE", "CE")
    return "common effect" if fixed else f"random effects, {method}, {test}"


def _pooled(result: Any) -> bool:
    return int(getattr(result, "k", 0)) >= 2 and _finite(getattr(result, "estimate", None))


def _with_ci(est: float, low: float, high: float, digits: int = 2) -> str:
    if not (_finite(low) and _finite(high)):
        return fmt(est, digits)
    return f"{fmt(est, digits)} [{fmt(low, digits)}, {fmt(high, digits)}]"


def _new_figure(width: float, height: float, ax=None):
    if ax is not None:
        return ax.figure, ax, False
    fig = plt.figure(figsize=(width, height), dpi=100)
    return fig, fig.add_subplot(), True


def _style_axis(ax) -> None:
    for side in ("top", "right", "left"):
        ax.spines[side].set_visible(False)
    ax.tick_params(axis="x", labelsize=FONT_SIZE)
    ax.set_yticks([])


def _log_ticks(lo: float, hi: float) -> list[float]:
    nice = [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50, 100, 200,
            500, 1000]
    ticks = [t for t in nice if lo <= t <= hi]
    if len(ticks) < 3:  # a narrow axis: finer ticks around 1
        fine = [0.5, 0.6, 0.7, 0.8, 0.9, 1, 1.25, 1.5, 1.75, 2]
        ticks = [t for t in fine if lo <= t <= hi]
        return ticks if len(ticks) <= 6 else ticks[::2] if 1 in ticks[::2] else ticks[1::2]
    if len(ticks) > 7:  # keep labels apart: every other one, always with 1
        ticks = [t for t in ticks if t in (0.001, 0.01, 0.1, 1, 10, 100, 1000)
                 or t in (0.5, 2) and len(ticks) <= 9]
    return ticks


def _tick_label(value: float) -> str:
    return f"{value:g}".replace("-", "\u2212")


def _apply_axis_scale(ax, scale: _Scale, lo: float, hi: float) -> None:
    """Limits (reader's scale) and ticks in reader's units; log axis for ratio measures."""
    if scale.log_axis:
        ax.set_xscale("log")
        ax.set_xlim(lo, hi)
        ax.xaxis.set_major_locator(ticker.FixedLocator(_log_ticks(lo, hi)))
        ax.xaxis.set_major_formatter(ticker.FuncFormatter(lambda v, _: _tick_label(v)))
        ax.xaxis.set_minor_locator(ticker.NullLocator())
    else:
        ax.set_xlim(lo, hi)
        ax.xaxis.set_major_locator(ticker.MaxNLocator(nbins=6))
        ax.xaxis.set_major_formatter(ticker.FuncFormatter(lambda v, _: _tick_label(round(v, 6))))


def _limits(model_values: Sequence[float], ci_values: Sequence[float], scale: _Scale,
            xlim: tuple[float, float] | None) -> tuple[float, float]:
    """Axis limits on the reader's scale.

    ``ci_values`` are (low, high) pairs in sequence. The core range holds every point estimate,
    the pooled interval and the null; intervals widen it by at most the larger of the core's
    width and the median interval width on each side, so one very wide interval does not
    squash the rest (it runs off the axis and gets an arrow instead).
    """
    if xlim is not None:
        return float(xlim[0]), float(xlim[1])
    core = [v for v in model_values if _finite(v)] + [0.0]  # 0: the null on every model scale
    lo, hi = min(core), max(core)
    span = max(hi - lo, 0.2)
    pairs = [(a, b) for a, b in zip(ci_values[0::2], ci_values[1::2]) if _finite(a) and _finite(b)]
    if pairs:
        reach = max(span, float(np.median([b - a for a, b in pairs])))
        lo = max(min(lo, min(a for a, _ in pairs)), lo - reach)
        hi = min(max(hi, max(b for _, b in pairs)), hi + reach)
    pad = 0.06 * (hi - lo)
    lo, hi = lo - pad, hi + pad
    if scale.name == "exp":  # symmetric around OR = 1, as RevMan draws ratio axes
        half = max(abs(lo), abs(hi))
        lo, hi = -half, half
    if scale.name == "r":
        lo, hi = max(lo, math.atanh(-0.99)), min(hi, math.atanh(0.99))
    return float(scale.forward(lo)), float(scale.forward(hi))


def _interval(ax, y: float, low: float, high: float, lo_lim: float, hi_lim: float, *,
              colour: str, lw: float = 1.1, gid: str = "study_ci") -> int:
    """An interval line clipped to the axis, with an arrow where it runs off; returns arrows drawn."""
    arrows = 0
    a, b = max(low, lo_lim), min(high, hi_lim)
    if a < b:
        ax.add_line(Line2D([a, b], [y, y], color=colour, lw=lw, gid=gid, solid_capstyle="butt"))
    for off, edge, marker in ((low < lo_lim, lo_lim, "<"), (high > hi_lim, hi_lim, ">")):
        if off:
            ax.add_line(Line2D([edge], [y], marker=marker, markersize=5, color=colour,
                               linestyle="none", gid="ci_arrow", clip_on=False))
            arrows += 1
    return arrows


def _diamond(ax, y: float, low: float, est: float, high: float, *, height: float = 0.32,
             face: str = POOLED_COLOUR, gid: str = "pooled_diamond",
             limits: tuple[float, float] | None = None) -> Polygon:
    """The pooled estimate's diamond; cut flat at the axis limits, with an arrow, if wider."""
    lo_lim, hi_lim = limits if limits is not None else (low, high)
    if low >= lo_lim and high <= hi_lim:
        points = [(low, y), (est, y + height), (high, y), (est, y - height)]
    else:
        def half_height(x: float, end: float) -> float:
            # the diamond's half height at x on the side running from the estimate to ``end``
            return height * (x - end) / (est - end) if est != end else height
        a, b = max(low, lo_lim), min(high, hi_lim)
        left = [(a, y)] if a == low else [(a, y - half_height(a, low)), (a, y + half_height(a, low))]
        right = [(b, y)] if b == high else [(b, y + half_height(b, high)), (b, y - half_height(b, high))]
        points = left + [(est, y + height)] + right + [(est, y - height)]
        for off, edge, marker in ((low < lo_lim, lo_lim, "<"), (high > hi_lim, hi_lim, ">")):
            if off:
                ax.add_line(Line2D([edge], [y], marker=marker, markersize=5, color=POOLED_COLOUR,
                                   linestyle="none", gid="ci_arrow", clip_on=False))
    patch = Polygon(points, closed=True, facecolor=face, edgecolor=POOLED_COLOUR, lw=0.8, gid=gid,
                    zorder=3)
    ax.add_patch(patch)
    return patch


# --------------------------------------------------------------------------- forest plot
@dataclass
class UnpooledStudies:
    """Study rows shown without a pooled estimate (k = 1, or when pooling is not sensible).

    Has the attributes :func:`forest_plot` reads from a ``MetaResult``; ``estimate`` is NaN.
    """

    yi: np.ndarray
    vi: np.ndarray
    labels: list[str]
    level: float = 0.95
    reason: str = ""
    k: int = field(init=False)
    weights: np.ndarray = field(init=False)
    estimate: float = float("nan")

    def __post_init__(self):
        self.yi = np.asarray(self.yi, dtype=float)
        self.vi = np.asarray(self.vi, dtype=float)
        self.k = int(self.yi.size)
        self.weights = np.full(self.k, np.nan)
        self.labels = [str(x) for x in self.labels]


def unpooled(yi, vi, labels=None, *, level: float = 0.95, reason: str = "") -> UnpooledStudies:
    """Studies to draw in a forest plot without a pooled diamond (says "not pooled")."""
    yi = np.atleast_1d(np.asarray(yi, dtype=float))
    labels = [f"Study {i + 1}" for i in range(yi.size)] if labels is None else list(labels)
    return UnpooledStudies(yi, vi, labels, level, reason)


@dataclass
class _Row:
    kind: str
    label: str = ""
    year: str = ""
    effect: str = ""
    weight: str = ""
    values: tuple = ()
    bold: bool = False
    italic: bool = False


def _study_rows(result, labels, years, weight_of, z) -> list[_Row]:
    rows = []
    yi = np.asarray(result.yi, dtype=float)
    se = np.sqrt(np.asarray(result.vi, dtype=float))
    for i in range(yi.size):
        label = str(labels[i])
        w = weight_of(label, i)
        rows.append(_Row("study", label, years.get(label, ""), "",
                         "" if not _finite(w) else f"{float(w):.1f}%",
                         (yi[i], yi[i] - z * se[i], yi[i] + z * se[i], w)))
    return rows


def _require_studies(result: Any, what: str) -> None:
    if int(getattr(result, "k", 0)) < 1 or len(np.atleast_1d(getattr(result, "yi", []))) < 1:
        raise ValueError(f"{what}: no studies to draw (k = 0); say 'no studies' in the text instead")


def _short(text: str, width: int = 34) -> str:
    return text if len(text) <= width else text[: width - 1] + "\u2026"


def _wrapped(text: str, width: int) -> list[str]:
    """A label broken into lines at word (or slash) boundaries: never cut, never truncated."""
    import textwrap

    spaced = text.replace("/", "/\u200b")  # lets long slash-joined names break after a slash
    lines = textwrap.wrap(spaced, width=width, break_long_words=False, break_on_hyphens=True)
    return [line.replace("\u200b", "") for line in lines] or [""]


def _label_has_year(labels: Sequence[str], year_map: Mapping[str, str]) -> bool:
    """True when every study label already ends with its year ("Gould 2002"): no Year column."""
    return bool(year_map) and all(not year_map.get(lab) or str(lab).endswith(year_map[lab])
                                  for lab in labels)


def forest_plot(result: Any, *, labels: Sequence[str] | None = None,
                years: Sequence[Any] | None = None, scale: str = "identity",
                subgroup: Any = None, measure_label: str = "Odds ratio",
                favours: tuple[str, str] | None = ("Favours control", "Favours intervention"),
                xlim: tuple[float, float] | None = None,
                columns: Mapping[str, Sequence[str]] | None = None, ax=None):
    """A RevMan-style forest plot of one meta-analysis.

    ``result``: a ``MetaResult`` (analysis.engine.meta_analysis.meta_analysis) or :func:`unpooled` studies; its ``yi``,
    ``vi`` are on the model scale (log OR, Fisher z, SMD). ``scale`` maps them to the reader's
    scale: "identity" (SMD, MD), "exp" (log OR -> OR on a log axis), "r" (Fisher z -> r).
    ``labels``/``years`` default to ``result.labels`` and no years. ``subgroup``: a
    ``SubgroupResult`` (``groups`` name -> MetaResult, ``q_between``, ``df_between``,
    ``p_between``) draws one block per subgroup with its own diamond and the test for subgroup
    differences. ``xlim`` fixes the axis (reader's scale); study intervals beyond it end in arrows.
    ``columns``: extra text columns drawn between the study label and the plot, as RevMan draws
    each arm's events/total or N: header -> one string per study, in the order of ``labels``
    (a header may hold a line break).

    Rows: study label, year, effect [95% CI] and weight as text, squares sized by weight, the
    pooled diamond, the prediction interval as a separate bar, and beneath the axis the
    heterogeneity line (τ², I², Q, p) and the test for the overall effect. Study intervals are
    Wald intervals yi ± z·sqrt(vi) at ``result.level``.
    """
    sc = _scale(scale)
    _require_studies(result, "forest_plot")
    level = float(getattr(result, "level", 0.95))
    z = float(stats.norm.isf((1 - level) / 2))
    labels = list(labels) if labels is not None else [str(x) for x in result.labels]
    if len(labels) != int(result.k):
        raise ValueError(f"forest_plot: {len(labels)} labels for {int(result.k)} studies")
    year_map = {}
    if years is not None:
        if len(years) != len(labels):
            raise ValueError(f"forest_plot: {len(years)} years for {len(labels)} studies")
        year_map = {lab: ("" if y is None or (isinstance(y, float) and math.isnan(y)) else str(y))
                    for lab, y in zip(labels, years)}
    if _label_has_year(labels, year_map):
        year_map = {}
    columns = dict(columns or {})
    for header, cells in columns.items():
        if len(cells) != len(labels):
            raise ValueError(f"forest_plot: column {header!r} has {len(cells)} cells for {len(labels)} studies")
    cell_of = {header: dict(zip(labels, (str(c) for c in cells))) for header, cells in columns.items()}
    overall_weight = {lab: float(w) for lab, w in zip(labels, np.asarray(result.weights, float))}
    pooled = _pooled(result)
    pct = f"{level * 100:g}%"

    rows: list[_Row] = []
    if subgroup is not None:
        for name, group in subgroup.groups.items():
            shown = str(name).replace("_", " ")
            for line in _wrapped(shown[:1].upper() + shown[1:], LABEL_CHARS):
                rows.append(_Row("group", line, bold=True))
            g_labels = [str(x) for x in group.labels]
            # study rows carry weights in the whole analysis (RevMan shows overall weights)
            rows += _study_rows(group, g_labels, year_map,
                                lambda lab, i, g=group: overall_weight.get(lab, np.nan), z)
            g_pooled = _pooled(group)
            g_weight = sum(overall_weight.get(lab, 0.0) for lab in g_labels)
            if g_pooled:
                rows.append(_Row("subtotal", f"Subtotal (k = {int(group.k)})", "", "",
                                 f"{g_weight:.1f}%", (group.estimate, group.ci_low, group.ci_high),
                                 bold=True))
                for line in _wrapped(heterogeneity_text(group).replace("Heterogeneity: ", ""),
                                     LABEL_CHARS + 8):
                    rows.append(_Row("note", line, italic=True))
                rows.append(_Row("note", overall_test_text(group), italic=True))
            else:
                rows.append(_Row("note", "Subtotal: single study, not pooled", italic=True))
            rows.append(_Row("blank"))
    else:
        rows += _study_rows(result, labels, year_map, lambda lab, i: result.weights[i], z)
        rows.append(_Row("blank"))
    if pooled:
        rows.append(_Row("total", f"Total (k = {int(result.k)})", "", "", "100.0%",
                         (result.estimate, result.ci_low, result.ci_high), bold=True))
        rows.append(_Row("note", f"({model_text(result)})", italic=True))
        intervals = display_rules.prediction_intervals(result)
        if intervals.shown:
            # t(k - 2), as the display rules require; metafor's own interval is in the methods
            rows.append(_Row("pi", f"{pct} prediction interval, t(k − 2)", "", "", "",
                             (intervals.shown_low, intervals.shown_high)))
        else:
            rows.append(_Row("note", "Prediction interval: not estimable with k < 3", italic=True))
    else:
        why = getattr(result, "reason", "") or f"k = {int(result.k)}"
        text = why[:1].upper() + why[1:] if "pooled" in why.lower() else f"Not pooled ({why})"
        rows.append(_Row("note", text, bold=True))

    # effect text on the reader's scale
    for row in rows:
        if row.kind in ("study", "subtotal", "total"):
            est, low, high = (float(sc.forward(v)) for v in row.values[:3])
            row.effect = _with_ci(est, low, high)
        elif row.kind == "pi":
            low, high = (float(sc.forward(v)) for v in row.values)
            row.effect = f"[{fmt(low)}, {fmt(high)}]"

    # axis limits from everything drawn
    points = [r.values[0] for r in rows if r.kind in ("study", "subtotal", "total")]
    points += [v for r in rows if r.kind in ("subtotal", "total") for v in r.values[1:3]]
    cis = [v for r in rows if r.kind in ("study", "pi") for v in
           (r.values[1:3] if r.kind == "study" else r.values)]
    lo_lim, hi_lim = _limits(points, cis, sc, xlim)

    footer_lines = [heterogeneity_text(result) if pooled else "Heterogeneity: not applicable",
                    overall_test_text(result) if pooled else "Test for overall effect: not applicable"]
    if subgroup is not None:
        sizes = {name: int(group.k) for name, group in subgroup.groups.items()}
        if display_rules.show_subgroup_test(sizes):
            footer_lines.append(f"Test for subgroup differences: Q = {fmt(subgroup.q_between)} "
                                f"(df = {int(subgroup.df_between)}), {fmt_p(subgroup.p_between)}")
        else:
            footer_lines.append("Test for subgroup differences: not shown (a subgroup has fewer "
                                "than two studies)")

    n_rows = len(rows)
    two_line_header = any("\n" in header for header in columns)
    row_h, header_h = 0.25, 0.42 + (0.17 if two_line_header else 0.0)
    first_footer_pt = 44 if favours else 26  # below the tick labels (and the favours labels)
    footer_pt = first_footer_pt + 14 + 13 * len(footer_lines)
    footer_h = footer_pt / 72 + 0.08
    height = header_h + n_rows * row_h + footer_h
    # Widths in inches: label, year, one per extra column, the plot, effect and weight.
    label_in = LABEL_CHARS * FONT_SIZE * 0.58 / 72 + 0.15
    year_in = 0.55 if year_map else 0.0
    column_in = [max(0.8, 0.58 * FONT_SIZE / 72 * max(len(part) for part in header.split("\n")) + 0.15)
                 for header in columns]
    plot_in, right_in = 2.0, 2.4
    left_in = label_in + year_in + sum(column_in)
    fig_width = left_in + plot_in + right_in
    fig, ax, own = _new_figure(fig_width, height, ax)
    if own:
        fig.subplots_adjust(left=left_in / fig_width, right=(left_in + plot_in) / fig_width,
                            bottom=footer_h / height, top=1 - header_h / height)
    _style_axis(ax)
    ax.set_ylim(-(n_rows - 0.5), 0.5)
    _apply_axis_scale(ax, sc, lo_lim, hi_lim)

    # text columns in axes-fraction x (they sit outside the axes, left and right)
    if own:
        left, width = left_in / fig_width, plot_in / fig_width
    else:
        left, width = ax.get_position().x0, ax.get_position().width
    fig_w_in = fig.get_figwidth()
    def col(inches: float) -> float:
        return (inches / fig_w_in - left) / width
    x_label = col(0.05)
    x_year = col(label_in + year_in - 0.1)
    x_columns = []
    edge = label_in + year_in
    for w in column_in:
        edge += w
        x_columns.append(col(edge - 0.15))
    x_effect = col(left_in + plot_in + right_in - 0.72)
    x_weight = col(left_in + plot_in + right_in - 0.02)
    text_tf = blended_transform_factory(ax.transAxes, ax.transData)
    header = dict(xycoords="axes fraction", textcoords="offset points", va="bottom",
                  fontsize=FONT_SIZE, fontweight="bold", annotation_clip=False)
    ax.annotate("Study", (x_label, 1), (0, 6), ha="left", **header)
    if year_map:
        ax.annotate("Year", (x_year, 1), (0, 6), ha="right", **header)
    for title, x in zip(columns, x_columns):
        ax.annotate(title, (x, 1), (0, 6), ha="right", multialignment="right", **header)
    ax.annotate(f"{measure_label} [{pct} CI]", (x_effect, 1), (0, 6), ha="right", **header)
    if any(r.weight for r in rows):
        ax.annotate("Weight", (x_weight, 1), (0, 6), ha="right", **header)
    ax.annotate(measure_label, (0.5, 1), (0, 6), ha="center", **{**header, "fontweight": "normal"})

    max_w = max([r.values[3] for r in rows if r.kind == "study" and _finite(r.values[3])] or [1.0])
    for i, row in enumerate(rows):
        y = -i
        weight = "bold" if row.bold else "normal"
        style = "italic" if row.italic else "normal"
        size = FONT_SIZE
        if row.label:
            ax.text(x_label, y, row.label, transform=text_tf, ha="left", va="center", fontsize=size,
                    fontweight=weight, fontstyle=style, clip_on=False)
        if row.year and year_map:
            ax.text(x_year, y, row.year, transform=text_tf, ha="right", va="center",
                    fontsize=FONT_SIZE, clip_on=False)
        if row.kind == "study":
            for title, x in zip(columns, x_columns):
                ax.text(x, y, cell_of[title].get(row.label, ""), transform=text_tf, ha="right",
                        va="center", fontsize=FONT_SIZE, clip_on=False)
        if row.effect:
            ax.text(x_effect, y, row.effect, transform=text_tf, ha="right", va="center",
                    fontsize=FONT_SIZE, fontweight=weight, clip_on=False,
                    color=PREDICTION_COLOUR if row.kind == "pi" else "black")
        if row.weight:
            ax.text(x_weight, y, row.weight, transform=text_tf, ha="right", va="center",
                    fontsize=FONT_SIZE, fontweight=weight, clip_on=False)
        if row.kind == "study":
            est, low, high = (float(sc.forward(v)) for v in row.values[:3])
            _interval(ax, y, low, high, lo_lim, hi_lim, colour="black")
            w = row.values[3]
            size_pt = 4.0 + 8.0 * math.sqrt(w / max_w) if _finite(w) else 6.0
            if lo_lim <= est <= hi_lim:
                ax.add_line(Line2D([est], [y], marker="s", markersize=size_pt, color=STUDY_COLOUR,
                                   markeredgecolor=STUDY_COLOUR, linestyle="none", gid="study_marker",
                                   zorder=3))
        elif row.kind in ("subtotal", "total"):
            est, low, high = (float(sc.forward(v)) for v in row.values)
            _diamond(ax, y, low, est, high, face="white" if row.kind == "subtotal" else POOLED_COLOUR,
                     gid="subgroup_diamond" if row.kind == "subtotal" else "pooled_diamond",
                     limits=(lo_lim, hi_lim))
        elif row.kind == "pi":
            low, high = (float(sc.forward(v)) for v in row.values)
            a, b = max(low, lo_lim), min(high, hi_lim)
            ax.add_patch(Rectangle((a, y - 0.11), b - a, 0.22, facecolor=PREDICTION_COLOUR,
                                   edgecolor=PREDICTION_COLOUR, alpha=0.85, gid="prediction_interval",
                                   zorder=3))
            for off, edge, marker in ((low < lo_lim, lo_lim, "<"), (high > hi_lim, hi_lim, ">")):
                if off:
                    ax.add_line(Line2D([edge], [y], marker=marker, markersize=5,
                                       color=PREDICTION_COLOUR, linestyle="none", gid="ci_arrow",
                                       clip_on=False))
    ax.axvline(sc.null, color="black", lw=0.8, zorder=1, gid="null_line")

    below = dict(xycoords="axes fraction", textcoords="offset points", va="top",
                 fontsize=FONT_SIZE, annotation_clip=False)
    if favours:
        ax.annotate(favours[0], (0.5, 0), (-8, -20), ha="right", **below)
        ax.annotate(favours[1], (0.5, 0), (8, -20), ha="left", **below)
    for j, line in enumerate(footer_lines):
        ax.annotate(line, (x_label, 0), (0, -first_footer_pt - 13 * j), ha="left",
                    **{**below, "fontsize": FONT_SIZE})
    fig.forest_rows = [r.kind for r in rows]  # for readers of the figure object (tests, alt text)
    return fig


def forest_plot_alt_text(result: Any, *, scale: str = "identity", measure_label: str = "Odds ratio",
                         subgroup: Any = None, labels: Sequence[str] | None = None, **_: Any) -> str:
    """The sentence a screen reader needs for :func:`forest_plot`, built from the same result."""
    sc = _scale(scale)
    _require_studies(result, "forest_plot")
    k = int(result.k)
    values = sc.forward(np.asarray(result.yi, dtype=float))
    name = measure_label.lower()
    studies = "1 study" if k == 1 else f"{k} studies"
    text = (f"Forest plot of {studies}; study estimates ({name}) range from {fmt(values.min())} "
            f"to {fmt(values.max())}.")
    if k == 1:
        text = f"Forest plot of 1 study with {name} {fmt(values[0])}."
    if _pooled(result):
        est, low, high = (float(sc.forward(v)) for v in (result.estimate, result.ci_low, result.ci_high))
        level = f"{float(result.level) * 100:g}%"
        text += (f" Pooled {name} {fmt(est)} ({level} CI {fmt(low)} to {fmt(high)}; "
                 f"{model_text(result)}, {fmt_p(result.pval)}).")
        intervals = display_rules.prediction_intervals(result)
        if intervals.shown:
            text += (f" Prediction interval {fmt(float(sc.forward(intervals.shown_low)))} to "
                     f"{fmt(float(sc.forward(intervals.shown_high)))}.")
        text += f" I\u00b2 = {float(result.i2):.0f}%."
    else:
        text += " Not pooled."
    if subgroup is not None:
        text += f" {len(subgroup.groups)} subgroups"
        sizes = {name: int(group.k) for name, group in subgroup.groups.items()}
        text += (f"; test for subgroup differences {fmt_p(subgroup.p_between)}."
                 if display_rules.show_subgroup_test(sizes) else
                 "; no test for subgroup differences (a subgroup has fewer than two studies).")
    return text


# --------------------------------------------------------------------------- funnel plot
def funnel_plot(yi, vi, estimate: float, contours: bool = True, ax=None, *,
                measure_label: str = "Log odds ratio", labels: Sequence[str] | None = None):
    """Contour-enhanced funnel plot (Peters JL et al. J Clin Epidemiol 2008;61:991-996).

    x: effect on the model scale (``measure_label``); y: standard error, inverted (most precise at
    the top). Shaded regions mark where a study's two-sided p, testing against no effect (0), lies
    in 0.05-0.10 and 0.01-0.05 and below 0.01; dashed lines are the pseudo 95% limits around
    ``estimate`` (estimate ± 1.96 SE).
    """
    y = np.asarray(yi, dtype=float)
    se = np.sqrt(np.asarray(vi, dtype=float))
    fig, ax, own = _new_figure(FIG_WIDTH, 5.0, ax)
    se_max = float(se.max()) * 1.1 if se.size else 1.0
    grid = np.linspace(0, se_max, 200)
    reach = max(float(np.abs(y).max()) if y.size else 1.0, 2.6 * se_max, abs(estimate) + 2 * se_max)
    reach *= 1.12  # a margin, so that no point (or its label) sits on the frame
    handles = []
    if contours:
        # (z from, z to, shade, label): darker = smaller p
        bands = [(stats.norm.isf(0.05), stats.norm.isf(0.025), "#E3E3E3", "0.05 < p < 0.10"),
                 (stats.norm.isf(0.025), stats.norm.isf(0.005), "#C4C4C4", "0.01 < p < 0.05"),
                 (stats.norm.isf(0.005), None, "#A3A3A3", "p < 0.01")]
        for z_from, z_to, shade, label in bands:
            inner = z_from * grid
            outer = z_to * grid if z_to is not None else np.full_like(grid, reach * 1.2)
            for sign in (1, -1):
                ax.fill_betweenx(grid, sign * inner, sign * outer, color=shade, lw=0, gid="p_contour")
            handles.append(Patch(facecolor=shade, label=label))
        handles.insert(0, Patch(facecolor="white", edgecolor="#BBBBBB", label="p > 0.10"))
    ax.plot(estimate - _Z975 * grid, grid, ls="--", color="black", lw=0.8)
    ax.plot(estimate + _Z975 * grid, grid, ls="--", color="black", lw=0.8,
            label="Pseudo 95% limits")
    ax.axvline(estimate, color=OKABE_ITO["vermillion"], lw=1.2, label="Pooled estimate")
    ax.axvline(0, color="black", lw=0.6, ls=":")
    ax.scatter(y, se, s=36, color=STUDY_COLOUR, edgecolor="white", zorder=4, label="Studies",
               gid="funnel_points")
    ax.set_ylim(se_max, 0)
    ax.set_xlim(-reach, reach)
    ax.set_xlabel(measure_label, fontsize=FONT_SIZE + 1)
    ax.set_ylabel("Standard error", fontsize=FONT_SIZE + 1)
    ax.tick_params(labelsize=FONT_SIZE)
    line_handles, _ = ax.get_legend_handles_labels()
    ax.legend(handles=handles + line_handles, fontsize=FONT_SIZE, loc="upper left",
              bbox_to_anchor=(1.02, 1.0), frameon=False)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    if own:
        fig.subplots_adjust(left=0.09, right=0.74, top=0.95, bottom=0.11)
    if labels is not None:
        _label_points(ax, y, se, [str(lab) for lab in labels])
    return fig


def _label_points(ax, x, y, labels: Sequence[str]) -> None:
    """Label points so that no two labels overlap: each label is tried right, left, above and
    below its point, then moved further down in steps, and takes the first free place."""
    fig = ax.figure
    renderer = fig.canvas.get_renderer()
    from matplotlib.transforms import Bbox

    # Points are obstacles too: a label may not cover another study's marker.
    centres = ax.transData.transform(np.column_stack([x, y]))
    placed = [Bbox.from_bounds(cx - 5, cy - 5, 10, 10) for cx, cy in centres]
    candidates = [(6, 0, "left", "center"), (-6, 0, "right", "center"), (0, 7, "center", "bottom"),
                  (0, -7, "center", "top")]
    candidates += [(6, -11 * step, "left", "center") for step in range(1, 8)]
    candidates += [(-6, -11 * step, "right", "center") for step in range(1, 8)]
    for xi, yi, text in sorted(zip(x, y, labels), key=lambda item: (item[1], item[0])):
        for dx, dy, ha, va in candidates:
            note = ax.annotate(text, (xi, yi), (dx, dy), textcoords="offset points", ha=ha, va=va,
                               fontsize=FONT_SIZE, gid="point_label",
                               arrowprops=None if abs(dy) < 8 else dict(arrowstyle="-", lw=0.5, color=GREY))
            box = note.get_window_extent(renderer).expanded(1.05, 1.15)
            inside = ax.get_window_extent(renderer).contains(box.x0, box.y0) and \
                ax.get_window_extent(renderer).contains(box.x1, box.y1)
            if inside and not any(box.overlaps(other) for other in placed):
                placed.append(box)
                break
            note.remove()
        else:  # no free place: keep the first one rather than drop a label
            note = ax.annotate(text, (xi, yi), (6, 0), textcoords="offset points", ha="left",
                               va="center", fontsize=FONT_SIZE, gid="point_label")
            placed.append(note.get_window_extent(renderer))


def funnel_plot_alt_text(yi, vi, estimate: float, contours: bool = True, *,
                         measure_label: str = "Log odds ratio", **_: Any) -> str:
    y = np.asarray(yi, dtype=float)
    se = np.sqrt(np.asarray(vi, dtype=float))
    z = np.abs(y) / se
    sig = int((z > _Z975).sum())
    text = (f"Contour-enhanced funnel plot of {y.size} studies: {measure_label.lower()} against "
            f"standard error ({fmt(se.min())} to {fmt(se.max())}), pooled estimate {fmt(estimate)}.")
    text += f" {sig} of {y.size} studies lie in the shaded region where p < 0.05."
    left = int((y < estimate).sum())
    text += f" {left} studies lie left and {y.size - left} right of the pooled estimate."
    return text


# --------------------------------------------------------------------------- row plots
def _label_column(frame: pd.DataFrame, candidates: Sequence[str]) -> str:
    for name in candidates:
        if name in frame.columns:
            return name
    raise ValueError(f"expected one of the columns {list(candidates)}; got {list(frame.columns)}")


def _reader_scale_of(frame: pd.DataFrame, measure: str | None) -> _Scale:
    if measure is None and "measure" in frame.columns and len(frame):
        measure = str(frame["measure"].iloc[0])
    return _SCALES[_MEASURE_SCALE.get(str(measure), "identity")], (measure or "")


def _row_forest(frame: pd.DataFrame, labels: list[str], *, measure: str | None, scale: str | None,
                title_left: str, reference: float | None, reference_label: str,
                extra: list[str] | None, extra_title: str, ax, gid: str, axis_title: str | None = None):
    """Rows of point estimates with intervals.

    With ``scale`` None the values are on the reader's scale already and ``measure`` (or the
    frame's ``measure`` column) picks the axis (OR: log axis); with ``scale`` ("identity", "exp",
    "r") they are on the model scale and are mapped to the reader's scale here.
    """
    if scale is not None:
        model = _scale(scale)
        sc = _SCALES["exp"] if model.log_axis else _SCALES["identity"]
        measure = measure or ""
        convert = model.forward
        if reference is not None:
            reference = float(model.forward(reference))
    else:
        sc, measure = _reader_scale_of(frame, measure)
        convert = lambda v: np.asarray(v, dtype=float)  # noqa: E731
    est = convert(frame["estimate"].astype(float).to_numpy())
    low = convert(frame["ci_low"].astype(float).to_numpy())
    high = convert(frame["ci_high"].astype(float).to_numpy())
    n = len(frame)
    # limits: transform to the model-like scale for the ratio case so spans are symmetric
    to_model = np.log if sc.log_axis else (lambda v: np.asarray(v, dtype=float))
    pts = list(to_model(est[np.isfinite(est)]))
    if reference is not None:
        pts.append(float(to_model(reference)))
    cis = [float(v) for a, b in zip(low, high) if np.isfinite(a) and np.isfinite(b)
           for v in (to_model(a), to_model(b))]
    model_scale = _SCALES["exp"] if sc.log_axis else _SCALES["identity"]
    lo_lim, hi_lim = _limits(pts, cis, model_scale, None)
    row_h, header_h = 0.3, 0.45
    footer_h = (0.75 if reference is not None else 0.5) + 0.22
    height = header_h + n * row_h + footer_h
    fig, ax, own = _new_figure(FIG_WIDTH, height, ax)
    if own:
        fig.subplots_adjust(left=0.30, right=0.68, bottom=footer_h / height, top=1 - header_h / height)
    _style_axis(ax)
    ax.set_ylim(-(n - 0.5), 0.5)
    _apply_axis_scale(ax, sc, lo_lim, hi_lim)
    left, width = (0.30, 0.38) if own else (ax.get_position().x0, ax.get_position().width)
    def col(fig_x: float) -> float:
        return (fig_x - left) / width
    tf = blended_transform_factory(ax.transAxes, ax.transData)
    header = dict(xycoords="axes fraction", textcoords="offset points", va="bottom",
                  fontsize=FONT_SIZE, fontweight="bold", annotation_clip=False)
    ax.annotate(title_left, (col(0.012), 1), (0, 6), ha="left", **header)
    name = measure or "Estimate"
    ax.annotate(f"{name} [95% CI]", (col(0.86), 1), (0, 6), ha="right", **header)
    if extra is not None:
        ax.annotate(extra_title, (col(0.985), 1), (0, 6), ha="right", **header)
    for i in range(n):
        y = -i
        ax.text(col(0.012), y, labels[i], transform=tf, ha="left", va="center",
                fontsize=FONT_SIZE, clip_on=False)
        ax.text(col(0.86), y, _with_ci(est[i], low[i], high[i]), transform=tf, ha="right",
                va="center", fontsize=FONT_SIZE, clip_on=False)
        if extra is not None:
            ax.text(col(0.985), y, extra[i], transform=tf, ha="right", va="center",
                    fontsize=FONT_SIZE, clip_on=False)
        if np.isfinite(low[i]) and np.isfinite(high[i]):
            _interval(ax, y, low[i], high[i], lo_lim, hi_lim, colour="black")
        if np.isfinite(est[i]):
            ax.add_line(Line2D([est[i]], [y], marker="o", markersize=6, color=STUDY_COLOUR,
                               linestyle="none", gid=gid, zorder=3))
    ax.axvline(sc.null, color="black", lw=0.8, zorder=1, gid="null_line")
    # The axis says what it shows (the header above names only the measure).
    ax.set_xlabel(axis_title or f"{name} (95% CI)", fontsize=FONT_SIZE, labelpad=3)
    if reference is not None and np.isfinite(reference):
        ax.axvline(reference, color=OKABE_ITO["vermillion"], lw=1.0, ls="--", gid="reference_line")
        ax.annotate(reference_label, (0.5, 0), (0, -38), xycoords="axes fraction",
                    textcoords="offset points", ha="center", va="top", fontsize=FONT_SIZE,
                    color=OKABE_ITO["vermillion"], annotation_clip=False)
    return fig


def cumulative_forest_plot(cumulative_df: pd.DataFrame, ax=None, *, measure: str | None = None,
                           scale: str | None = None, axis_title: str | None = None):
    """Cumulative meta-analysis: the pooled estimate after each study is added (oldest first).

    ``cumulative_df`` has ``added`` (or ``study``/``label``), ``estimate``, ``ci_low``,
    ``ci_high``, optionally ``year``, ``k`` and ``measure``. Values on the reader's scale (as
    ``synthesis.cumulative_by_study`` returns; "OR" in ``measure`` draws a log axis), or on the
    model scale (as ``analysis.engine.cumulative.cumulative_meta_analysis`` returns) with ``scale`` naming the
    back-transformation ("exp", "r", "identity") and ``measure`` the label.
    """
    label_col = _label_column(cumulative_df, ("label", "added", "study", "study_id"))
    # the year a study was added: ``year``, or the sort key ``order`` when it holds years
    year_col = "year" if "year" in cumulative_df.columns else None
    if year_col is None and "order" in cumulative_df.columns:
        order = pd.to_numeric(cumulative_df["order"], errors="coerce")
        year_col = "order" if order.notna().all() and (order > 1000).all() else None
    labels = []
    for _, row in cumulative_df.iterrows():
        text = f"+ {row[label_col]}"
        if (year_col is not None and _finite(row[year_col])
                and not str(row[label_col]).endswith(str(int(float(row[year_col]))))):
            text += f" ({int(float(row[year_col]))})"
        labels.append(text)
    extra = None
    if "k" in cumulative_df.columns:
        extra = [f"{int(k)}" for k in cumulative_df["k"]]
    return _row_forest(cumulative_df, labels, measure=measure, scale=scale, title_left="Study added",
                       reference=None, reference_label="", extra=extra, extra_title="k", ax=ax,
                       gid="cumulative_point", axis_title=axis_title)


def _reader_values(frame: pd.DataFrame, scale: str | None, measure: str | None):
    if scale is None:
        _, measure = _reader_scale_of(frame, measure)
        convert = lambda v: np.asarray(v, dtype=float)  # noqa: E731
    else:
        convert = _scale(scale).forward
    return ({c: convert(frame[c].astype(float).to_numpy()) for c in ("estimate", "ci_low", "ci_high")},
            measure or "estimate")


def cumulative_forest_plot_alt_text(cumulative_df: pd.DataFrame, *, measure: str | None = None,
                                    scale: str | None = None, **_) -> str:
    values, measure = _reader_values(cumulative_df, scale, measure)
    label_col = _label_column(cumulative_df, ("label", "added", "study", "study_id"))
    labels = cumulative_df[label_col].tolist()
    return (f"Cumulative forest plot of {len(cumulative_df)} steps, adding studies from "
            f"{labels[0]} to {labels[-1]}; the {measure} moves from "
            f"{fmt(values['estimate'][0])} to {fmt(values['estimate'][-1])} "
            f"(final 95% CI {fmt(values['ci_low'][-1])} to {fmt(values['ci_high'][-1])}).")


def leave_one_out_plot(loo_df: pd.DataFrame, ax=None, *, measure: str | None = None,
                       scale: str | None = None, full_estimate: float | None = None,
                       axis_title: str | None = None):
    """Leave-one-out analysis: the pooled estimate with each study omitted in turn.

    ``loo_df`` has the omitted study (``study``/``omitted``/``label``), ``estimate``, ``ci_low``,
    ``ci_high`` and optionally ``i2`` (shown as a column), as ``analysis.engine.influence.leave_one_out``
    returns. ``scale`` ("exp", "r", "identity") maps model-scale values to the reader's scale
    (None: already on it); ``full_estimate`` (same scale as the frame) draws the all-studies
    estimate as a dashed line.
    """
    label_col = _label_column(loo_df, ("omitted", "label", "study", "study_id", "left_out"))
    labels = [f"Omitting {x}" for x in loo_df[label_col]]
    extra = [f"{float(v):.0f}%" if _finite(v) else "NA" for v in loo_df["i2"]] if "i2" in loo_df else None
    return _row_forest(loo_df, labels, measure=measure, scale=scale, title_left="Study omitted",
                       reference=full_estimate, reference_label="dashed: estimate with all studies",
                       extra=extra, extra_title="I\u00b2", ax=ax, gid="loo_point", axis_title=axis_title)


def leave_one_out_plot_alt_text(loo_df: pd.DataFrame, *, measure: str | None = None,
                                scale: str | None = None, full_estimate: float | None = None,
                                **_) -> str:
    values, measure = _reader_values(loo_df, scale, measure)
    label_col = _label_column(loo_df, ("omitted", "label", "study", "study_id", "left_out"))
    est = values["estimate"]
    lo_i, hi_i = int(est.argmin()), int(est.argmax())
    names = loo_df[label_col].tolist()
    text = (f"Leave-one-out plot of {len(loo_df)} analyses; the {measure} ranges from "
            f"{fmt(est[lo_i])} (omitting {names[lo_i]}) to {fmt(est[hi_i])} (omitting {names[hi_i]}).")
    if full_estimate is not None:
        full = full_estimate if scale is None else float(_scale(scale).forward(full_estimate))
        text += f" With all studies: {fmt(full)}."
    return text


def baujat_plot(baujat_df: pd.DataFrame, ax=None):
    """Baujat plot (Baujat B et al. Stat Med 2002;21:2641-2652): each study's contribution to
    the Q statistic (x) against its influence on the pooled estimate (y), labelled by study."""
    label_col = _label_column(baujat_df, ("label", "study", "study_id"))
    x = baujat_df["x"].astype(float).to_numpy()
    y = baujat_df["y"].astype(float).to_numpy()
    fig, ax, own = _new_figure(7.0, 5.0, ax)
    ax.scatter(x, y, s=40, color=STUDY_COLOUR, edgecolor="white", zorder=3, gid="baujat_points")
    ax.set_xlabel("Contribution to overall heterogeneity (Q)", fontsize=FONT_SIZE + 1)
    ax.set_ylabel("Influence on the pooled estimate", fontsize=FONT_SIZE + 1)
    ax.margins(0.12)
    ax.tick_params(labelsize=FONT_SIZE)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    if own:
        fig.tight_layout()
    span = x.max() - x.min() if x.max() > x.min() else 1.0
    notes = []
    for xi, yi_, lab in zip(x, y, baujat_df[label_col]):
        # labels to the right, or to the left for points in the right fifth of the axis
        right = xi <= x.min() + 0.8 * span
        notes.append(ax.annotate(str(lab), (xi, yi_), (6 if right else -6, 4),
                                 textcoords="offset points", ha="left" if right else "right",
                                 va="center", fontsize=FONT_SIZE,
                                 arrowprops=dict(arrowstyle="-", color=GREY, lw=0.5,
                                                 shrinkA=1, shrinkB=4)))
    _declutter(fig, notes)
    return fig


def _declutter(fig, notes) -> None:
    """Move point labels whose boxes overlap to the first free offset nearby (deterministic)."""
    from matplotlib.text import Text

    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    placed = []
    order = sorted(range(len(notes)), key=lambda i: (-notes[i].xy[1], notes[i].xy[0]))
    for i in order:
        note = notes[i]
        dx, dy = note.xyann
        candidates = [(dx, dy + step) for step in (0, -12, 12, -24, 24, -36, 36, -48, 48)]
        candidates += [(-dx, dy + step) for step in (0, -12, 12, -24, 24)]
        for offset in candidates:
            note.xyann = offset
            note.set_ha("left" if offset[0] > 0 else "right")
            box = Text.get_window_extent(note, renderer)  # the text alone, not its leader line
            if not any(box.overlaps(other) for other in placed):
                break
        else:
            note.xyann = (dx, dy)
            note.set_ha("left" if dx > 0 else "right")
            box = Text.get_window_extent(note, renderer)
        placed.append(box)


def baujat_plot_alt_text(baujat_df: pd.DataFrame, **_) -> str:
    label_col = _label_column(baujat_df, ("label", "study", "study_id"))
    i = int(baujat_df["x"].astype(float).to_numpy().argmax())
    j = int(baujat_df["y"].astype(float).to_numpy().argmax())
    return (f"Baujat plot of {len(baujat_df)} studies. {baujat_df[label_col].iloc[i]} contributes most "
            f"to heterogeneity ({fmt(baujat_df['x'].iloc[i])}); {baujat_df[label_col].iloc[j]} has the "
            f"largest influence on the pooled estimate ({fmt(baujat_df['y'].iloc[j])}).")


def gosh_plot(gosh_df: pd.DataFrame, ax=None, *, measure_label: str = "Pooled estimate", bins: int = 30):
    """GOSH plot (Olkin I, Dahabreh IJ, Trikalinos TA. Res Synth Methods 2012;3:214-223): the
    pooled estimate against I² for every subset of studies, with marginal histograms.

    ``gosh_df`` has ``estimate`` and ``i2`` (percent) per subset, or is a
    ``analysis.engine.gosh.GoshResult`` (its ``table`` is used); drawing is deterministic.
    """
    gosh_df = getattr(gosh_df, "table", gosh_df)
    est = gosh_df["estimate"].astype(float).to_numpy()
    i2 = gosh_df["i2"].astype(float).to_numpy()
    fig, ax, own = _new_figure(7.0, 6.0, ax)
    alpha = 0.6 if est.size < 200 else max(0.08, 60 / est.size)
    ax.scatter(est, i2, s=10, color=STUDY_COLOUR, alpha=alpha, lw=0, gid="gosh_points")
    ax.set_xlabel(measure_label, fontsize=FONT_SIZE + 1)
    ax.set_ylabel("I\u00b2 (%)", fontsize=FONT_SIZE + 1)
    ax.tick_params(labelsize=FONT_SIZE)
    top = ax.inset_axes([0, 1.02, 1, 0.18], sharex=ax)
    right = ax.inset_axes([1.02, 0, 0.18, 1], sharey=ax)
    top.hist(est, bins=bins, color=STUDY_COLOUR, alpha=0.8, gid="gosh_marginal_x")
    right.hist(i2, bins=bins, orientation="horizontal", color=STUDY_COLOUR, alpha=0.8,
               gid="gosh_marginal_y")
    for marginal in (top, right):
        marginal.axis("off")
    if own:
        fig.subplots_adjust(left=0.1, right=0.8, bottom=0.1, top=0.8)
    return fig


def gosh_plot_alt_text(gosh_df: pd.DataFrame, *, measure_label: str = "Pooled estimate", **_) -> str:
    gosh_df = getattr(gosh_df, "table", gosh_df)
    est = gosh_df["estimate"].astype(float)
    i2 = gosh_df["i2"].astype(float)
    return (f"GOSH plot of {len(gosh_df)} subsets of studies: {measure_label.lower()} from "
            f"{fmt(est.min())} to {fmt(est.max())} and I\u00b2 from {i2.min():.0f}% to {i2.max():.0f}%.")


# --------------------------------------------------------------------------- this review vs published
def _comparison_rows(table: pd.DataFrame) -> list[dict]:
    rows = []
    for _, r in table.iterrows():
        outcome = str(r.get("outcome_label") or r.get("outcome"))
        mine_k = r.get("k")
        k_text = f"k = {int(float(mine_k))}" if _finite(mine_k) and float(mine_k) > 0 else "no studies"
        rows.append(dict(outcome=outcome, source=f"This review ({k_text})", measure=r.get("measure"),
                         estimate=r.get("estimate"), ci_low=r.get("ci_low"), ci_high=r.get("ci_high"),
                         p=None))
        if r.get("published_review"):
            review = str(r["published_review"]).split(" (")[0]
            rows.append(dict(outcome=outcome, source=review,
                             measure=r.get("published_measure") or r.get("measure"),
                             estimate=r.get("published_estimate"), ci_low=r.get("published_ci_low"),
                             ci_high=r.get("published_ci_high"), p=r.get("published_p")))
    return rows


def estimates_comparison_plot(table: pd.DataFrame, ax=None):
    """This review's pooled estimates beside the published reviews' (Bizzotto 2023, Ni 2025).

    ``table`` is the review's ``Review.comparison``: one row per outcome with this review's
    ``measure, k, estimate, ci_low, ci_high`` and ``published_review, published_measure,
    published_estimate, published_ci_low, published_ci_high, published_p``. One panel per
    outcome (own scale: OR on a log axis); a value without a printed CI is a point alone.
    Outcomes with no estimate on either side are left out. With ``ax`` given, ``table`` must
    describe one outcome.
    """
    rows = [r for r in _comparison_rows(table)]
    outcomes = list(dict.fromkeys(r["outcome"] for r in rows
                                  if any(_finite(x["estimate"]) for x in rows if x["outcome"] == r["outcome"])))
    if not outcomes:
        raise ValueError("estimates_comparison_plot: no outcome has an estimate to draw")
    if ax is not None and len(outcomes) > 1:
        raise ValueError(f"estimates_comparison_plot draws {len(outcomes)} panels; pass ax=None "
                         f"or a table with one outcome")
    heights = [sum(1 for r in rows if r["outcome"] == o) for o in outcomes]
    if ax is None:
        panel_h = [0.42 * h + 0.45 for h in heights]  # rows plus the outcome's title row
        gap, bottom_pad, top_pad = 0.45, 0.35, 0.1  # inches; the gap holds the tick labels
        height = sum(panel_h) + gap * (len(outcomes) - 1) + bottom_pad + top_pad
        fig = plt.figure(figsize=(FIG_WIDTH, height), dpi=100)
        grid = fig.add_gridspec(len(outcomes), 1, height_ratios=panel_h,
                                hspace=gap / (sum(panel_h) / len(panel_h)))
        axes = [fig.add_subplot(grid[i]) for i in range(len(outcomes))]
        fig.subplots_adjust(left=0.30, right=0.66, top=1 - top_pad / height, bottom=bottom_pad / height)
        left, width = 0.30, 0.36
    else:
        fig, axes = ax.figure, [ax]
        left, width = ax.get_position().x0, ax.get_position().width
    def col(fig_x: float) -> float:
        return (fig_x - left) / width
    for axis, outcome in zip(axes, outcomes):
        part = [r for r in rows if r["outcome"] == outcome]
        measures = [str(r["measure"]) for r in part if r["measure"]]
        measure = measures[0] if measures else ""
        sc = _SCALES[_MEASURE_SCALE.get(measure, "identity")]
        to_model = np.log if sc.log_axis else (lambda v: float(v))
        pts = [float(to_model(float(r["estimate"]))) for r in part if _finite(r["estimate"])]
        cis = [float(to_model(float(r[c]))) for r in part if _finite(r["ci_low"]) and _finite(r["ci_high"])
               for c in ("ci_low", "ci_high")]
        lo, hi = _limits(pts, cis, _SCALES["exp"] if sc.log_axis else _SCALES["identity"], None)
        _style_axis(axis)
        axis.set_ylim(-(len(part) - 0.4), 0.9)
        _apply_axis_scale(axis, sc, lo, hi)
        tf = blended_transform_factory(axis.transAxes, axis.transData)
        axis.text(col(0.012), 0.55, outcome, transform=tf, ha="left", va="center",
                  fontsize=FONT_SIZE, fontweight="bold", clip_on=False)
        axis.text(col(0.985), 0.55, f"{measure} [95% CI]", transform=tf, ha="right", va="center",
                  fontsize=FONT_SIZE, fontweight="bold", clip_on=False)
        for i, r in enumerate(part):
            y = -i - 0.25
            mine = r["source"].startswith("This review")
            colour = STUDY_COLOUR if mine else OKABE_ITO["orange"]
            axis.text(col(0.03), y, r["source"], transform=tf, ha="left", va="center",
                      fontsize=FONT_SIZE, clip_on=False)
            if _finite(r["estimate"]):
                est = float(r["estimate"])
                low = float(r["ci_low"]) if _finite(r["ci_low"]) else float("nan")
                high = float(r["ci_high"]) if _finite(r["ci_high"]) else float("nan")
                digits = 3 if str(r["measure"]) == "r" else 2
                text = _with_ci(est, low, high, digits)
                if not (_finite(low) and _finite(high)):
                    text += " (no CI printed" + (f"; p = {r['p']}" if r["p"] else "") + ")"
                if str(r["measure"]) != measure:
                    # another measure is never drawn on this axis (an MD on an SMD axis)
                    text += f" ({r['measure']}: another scale, not drawn)"
                else:
                    if _finite(low) and _finite(high):
                        _interval(axis, y, low, high, lo, hi, colour=colour)
                    axis.add_line(Line2D([est], [y], marker="D" if mine else "o", markersize=7,
                                         color=colour, linestyle="none", zorder=3,
                                         gid="this_review_point" if mine else "published_point"))
            else:
                text = "not estimated"
            axis.text(col(0.985), y, text, transform=tf, ha="right", va="center",
                      fontsize=FONT_SIZE, clip_on=False)
        # the null line stops below the outcome's title row
        y0, y1 = axis.get_ylim()
        axis.axvline(sc.null, ymax=(0.15 - y0) / (y1 - y0), color="black", lw=0.8, zorder=1)
    return fig


def estimates_comparison_plot_alt_text(table: pd.DataFrame, **_) -> str:
    parts = []
    rows = _comparison_rows(table)
    for outcome in dict.fromkeys(r["outcome"] for r in rows):
        bits = []
        for r in rows:
            if r["outcome"] != outcome:
                continue
            if _finite(r["estimate"]):
                digits = 3 if str(r["measure"]) == "r" else 2
                value = f"{r['measure']} {fmt(r['estimate'], digits)}"
                if _finite(r["ci_low"]) and _finite(r["ci_high"]):
                    value += (f" (95% CI {fmt(r['ci_low'], digits)} to "
                              f"{fmt(r['ci_high'], digits)})")
            else:
                value = "not estimated"
            bits.append(f"{r['source']}: {value}")
        parts.append(f"{outcome}: " + "; ".join(bits))
    return "Comparison of this review's pooled estimates with the published reviews. " + ". ".join(parts) + "."


# --------------------------------------------------------------------------- risk of bias
def _rob_frame(rob_df: pd.DataFrame) -> tuple[pd.DataFrame, list[str], list[str], str]:
    from analysis.evidence.rob import TOOLS  # local import: rob imports nothing from here

    for column in ("study_id", "domain", "judgement"):
        if column not in rob_df.columns:
            raise ValueError(f"risk-of-bias frame lacks column {column!r}")
    tool = str(rob_df["tool"].iloc[0]) if "tool" in rob_df.columns and len(rob_df) else ""
    order = list(TOOLS.get(tool, {}).keys()) or list(dict.fromkeys(rob_df["domain"]))
    domains = [d for d in order if d in set(rob_df["domain"])]
    studies = list(dict.fromkeys(rob_df["study_id"]))
    unknown = sorted(set(rob_df["judgement"]) - set(ROB_STYLE))
    if unknown:
        raise ValueError(f"risk-of-bias judgement(s) {unknown} have no plotting style "
                         f"(known: {sorted(ROB_STYLE)})")
    return rob_df, studies, domains, tool


def _legend_order(rob_df: pd.DataFrame, tool: str) -> list[tuple[str, bool]]:
    """(judgement, is_overall) in the tool's order: domain answers first, then overall ones."""
    from analysis.evidence.rob import DOMAIN_JUDGEMENTS, OVERALL_JUDGEMENTS

    domain_values = set(rob_df.loc[rob_df["domain"] != "Overall", "judgement"])
    overall_values = set(rob_df.loc[rob_df["domain"] == "Overall", "judgement"])
    vocabulary = DOMAIN_JUDGEMENTS.get(tool, tuple(ROB_STYLE))
    order = [(j, False) for j in vocabulary if j in domain_values]
    order += [(j, False) for j in ROB_STYLE if j in domain_values and (j, False) not in order]
    shared = set(vocabulary) & set(OVERALL_JUDGEMENTS)
    order += [(j, True) for j in OVERALL_JUDGEMENTS if j in overall_values
              and not (j in shared and (j, False) in order)]
    return order


def _rob_legend_label(judgement: str, overall: bool, tool: str) -> str:
    from analysis.evidence.rob import OVERALL_JUDGEMENTS, DOMAIN_JUDGEMENTS

    colour, symbol, text = ROB_STYLE[judgement]
    vocabulary = DOMAIN_JUDGEMENTS.get(tool, ())
    if overall and judgement not in vocabulary:
        text = f"{text} (overall)"
    return f"{symbol}  {text}"


def _rob_legend_handles(rob_df: pd.DataFrame, tool: str) -> list[Line2D]:
    handles = []
    for j, overall in _legend_order(rob_df, tool):
        colour = ROB_STYLE[j][0]
        handles.append(Line2D([], [], marker="o", markersize=11, markerfacecolor=colour,
                              markeredgecolor="#444444", linestyle="none",
                              label=_rob_legend_label(j, overall, tool)))
    return handles


def _tool_title(tool: str) -> str:
    from analysis.evidence.rob import TOOL_NAMES

    return TOOL_NAMES.get(tool, tool or "Risk of bias")


def _domain_key_text(domains: Sequence[str], tool: str) -> str:
    from analysis.evidence.rob import TOOLS

    labels = TOOLS.get(tool, {})
    return "\n".join(f"{d}: {labels.get(d, d)}" for d in domains if d != "Overall")


def rob_traffic_light(rob_df: pd.DataFrame, ax=None):
    """Traffic-light plot as robvis draws it: studies as rows, domains as columns, one circle per
    judgement with its colour and symbol (+ low/yes, − some concerns, × high/no, ? no
    information/unclear), the overall judgement in the last column, and a key to the domains.

    ``rob_df``: :func:`analysis.evidence.rob.load_risk_of_bias` (RoB 2 or the JBI cross-sectional
    checklist; the tool is named in the title).
    """
    rob_df, studies, domains, tool = _rob_frame(rob_df)
    judgement = {(s, d): j for s, d, j in zip(rob_df["study_id"], rob_df["domain"], rob_df["judgement"])}
    n_s, n_d = len(studies), len(domains)
    key = _domain_key_text(domains, tool)
    key_lines = key.count("\n") + 1
    height = 0.9 + 0.42 * n_s + 0.17 * key_lines + 0.25
    width = max(6.0, min(FIG_WIDTH, 2.4 + 0.62 * n_d + 2.3))
    fig, ax, own = _new_figure(width, height, ax)
    for i, s in enumerate(studies):
        for j, d in enumerate(domains):
            value = judgement.get((s, d))
            if value is None:
                continue
            colour, symbol, _ = ROB_STYLE[value]
            ax.scatter([j], [i], s=420, color=colour, edgecolor="#444444", lw=0.6, zorder=3,
                       gid=f"rob_{value.replace(' ', '_')}")
            ax.text(j, i, symbol, ha="center", va="center", fontsize=12, fontweight="bold",
                    color="black", zorder=4)
    ax.set_xlim(-0.6, n_d - 0.4)
    ax.set_ylim(n_s - 0.5, -0.5)
    ax.set_xticks(range(n_d), domains, fontsize=FONT_SIZE)
    ax.xaxis.tick_top()
    ax.set_yticks(range(n_s), studies, fontsize=FONT_SIZE)
    ax.tick_params(length=0)
    for j in range(n_d + 1):
        ax.axvline(j - 0.5, color="#DDDDDD", lw=0.6, zorder=0)
    for i in range(n_s + 1):
        ax.axhline(i - 0.5, color="#DDDDDD", lw=0.6, zorder=0)
    if "Overall" in domains:
        ax.axvline(domains.index("Overall") - 0.5, color="#777777", lw=1.0, zorder=1)
    for side in ax.spines.values():
        side.set_visible(False)
    ax.set_title(_tool_title(tool), fontsize=FONT_SIZE + 1, pad=22, loc="left")
    ax.legend(handles=_rob_legend_handles(rob_df, tool), title="Judgement",
              fontsize=FONT_SIZE, title_fontsize=FONT_SIZE, loc="upper left",
              bbox_to_anchor=(1.02, 1.0), frameon=False, labelspacing=0.9)
    ax.annotate(key, (0, 0), (0, -8), xycoords="axes fraction", textcoords="offset points",
                ha="left", va="top", fontsize=FONT_SIZE, annotation_clip=False)
    if own:
        key_h = (0.17 * key_lines + 0.2) / height
        fig.subplots_adjust(left=1.4 / width, right=1 - 2.3 / width, top=1 - 0.7 / height,
                            bottom=key_h)
    return fig


def rob_traffic_light_alt_text(rob_df: pd.DataFrame, **_) -> str:
    rob_df, studies, domains, tool = _rob_frame(rob_df)
    parts = []
    for s in studies:
        rows = rob_df[rob_df["study_id"] == s]
        overall = rows.loc[rows["domain"] == "Overall", "judgement"]
        parts.append(f"{s}: overall {overall.iloc[0] if len(overall) else 'not given'}")
    return (f"Traffic-light plot of risk of bias ({tool}) for {len(studies)} studies across "
            f"{len([d for d in domains if d != 'Overall'])} domains. " + "; ".join(parts) + ".")


def rob_summary(rob_df: pd.DataFrame, ax=None):
    """Summary plot as robvis draws it: for each domain, a horizontal bar split by the share of
    studies with each judgement (unweighted), each segment with its colour, hatching and symbol."""
    import textwrap

    from analysis.evidence.rob import TOOLS

    rob_df, studies, domains, tool = _rob_frame(rob_df)
    labels = TOOLS.get(tool, {})
    order = _legend_order(rob_df, tool)
    judgements_in_order = list(dict.fromkeys(j for j, _ in order))
    row_labels = ["\n".join(textwrap.wrap(f"{d}: {labels.get(d, d)}" if d != "Overall" else
                                          labels.get(d, d), 44)) for d in domains]
    legend_h = 0.26 * math.ceil(len(order) / 3) + 0.1
    height = 0.45 + 0.5 * len(domains) + 0.65 + legend_h
    fig, ax, own = _new_figure(FIG_WIDTH, height, ax)
    for i, d in enumerate(domains):
        counts = rob_df.loc[rob_df["domain"] == d, "judgement"].value_counts()
        total = int(counts.sum())
        start = 0.0
        for j in judgements_in_order:
            share = 100.0 * counts.get(j, 0) / total if total else 0.0
            if share <= 0:
                continue
            colour, symbol, _ = ROB_STYLE[j]
            ax.barh(i, share, left=start, color=colour, edgecolor="#444444", lw=0.6,
                    hatch=ROB_HATCH.get(j, ""), height=0.68, gid=f"rob_bar_{j.replace(' ', '_')}")
            if share >= 8:
                ax.text(start + share / 2, i, symbol, ha="center", va="center", fontsize=11,
                        fontweight="bold", bbox=dict(boxstyle="circle,pad=0.15", fc="white",
                                                     ec="none", alpha=0.9))
            start += share
    ax.set_yticks(range(len(domains)), row_labels, fontsize=FONT_SIZE)
    ax.set_ylim(len(domains) - 0.5, -0.5)
    if "Overall" in domains:
        ax.axhline(domains.index("Overall") - 0.5, color="#777777", lw=1.0)
    ax.set_xlim(0, 100)
    ax.xaxis.set_major_formatter(ticker.PercentFormatter(100))
    ax.tick_params(labelsize=FONT_SIZE)
    ax.set_xlabel(f"Share of studies (n = {len(studies)})", fontsize=FONT_SIZE)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.set_title(_tool_title(tool), fontsize=FONT_SIZE + 1, loc="left")
    handles = [Patch(facecolor=ROB_STYLE[j][0], edgecolor="#444444", hatch=ROB_HATCH.get(j, ""),
                     label=_rob_legend_label(j, overall, tool)) for j, overall in order]
    if own:
        fig.legend(handles=handles, fontsize=FONT_SIZE, loc="lower center", ncol=3,
                   bbox_to_anchor=(0.5, 0.02), frameon=False)
        fig.subplots_adjust(left=0.38, right=0.97, top=1 - 0.45 / height,
                            bottom=(0.65 + legend_h) / height)
    else:
        ax.legend(handles=handles, fontsize=FONT_SIZE, loc="upper left",
                  bbox_to_anchor=(1.02, 1.0), frameon=False)
    return fig


def rob_summary_alt_text(rob_df: pd.DataFrame, **_) -> str:
    rob_df, studies, domains, tool = _rob_frame(rob_df)
    worst = []
    for d in domains:
        counts = rob_df.loc[rob_df["domain"] == d, "judgement"].value_counts()
        bad = int(counts.get("high", 0) + counts.get("no", 0))
        if bad:
            worst.append(f"{d} ({bad} of {len(studies)})")
    text = (f"Summary bar chart of risk of bias ({tool}) for {len(studies)} studies across "
            f"{len(domains)} domains including the overall judgement.")
    text += (" Judged high risk or criterion not met: " + ", ".join(worst) + ".") if worst else \
        " No domain was judged high risk."
    return text


# --------------------------------------------------------------------------- dispatcher
_ALT_TEXT: dict[Callable, Callable[..., str]] = {
    forest_plot: forest_plot_alt_text,
    funnel_plot: funnel_plot_alt_text,
    cumulative_forest_plot: cumulative_forest_plot_alt_text,
    leave_one_out_plot: leave_one_out_plot_alt_text,
    baujat_plot: baujat_plot_alt_text,
    gosh_plot: gosh_plot_alt_text,
    estimates_comparison_plot: estimates_comparison_plot_alt_text,
    rob_traffic_light: rob_traffic_light_alt_text,
    rob_summary: rob_summary_alt_text,
}


def alt_text(plot: Callable, *args: Any, **kwargs: Any) -> str:
    """The alt text of ``plot(*args, **kwargs)``: ``alt_text(forest_plot, result, scale="exp")``."""
    kwargs.pop("ax", None)
    if plot not in _ALT_TEXT:
        raise ValueError(f"no alt text defined for {getattr(plot, '__name__', plot)!r}")
    return _ALT_TEXT[plot](*args, **kwargs)
