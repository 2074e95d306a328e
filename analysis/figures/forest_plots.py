"""Forest plots of one meta-analysis as RevMan draws them: study rows, the pooled diamond, the
prediction interval, the heterogeneity and overall-effect lines beneath, and optionally one
block per subgroup with the test for subgroup differences; with the alt text built from the
same result.

Layout follows Cochrane's RevMan forest plot (Cochrane Handbook v6.4, chapter 10, figure 10.2.a)
and metafor's ``forest.rma`` (Viechtbauer 2010, J Stat Softw 36(3)).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import numpy as np
from matplotlib.lines import Line2D
from matplotlib.patches import Polygon, Rectangle
from matplotlib.transforms import blended_transform_factory
from scipy import stats

from analysis.figures.effect_axis import apply_axis_scale, axis_limits, draw_interval, named_scale
from analysis.figures.style import (FONT_SIZE, POOLED_COLOUR, PREDICTION_COLOUR, STUDY_COLOUR,
                                    finite, fmt, new_figure, style_axis, with_ci)
from analysis.measures import p_text
from analysis.pooling import display_rules

LABEL_CHARS = 24  # forest-plot label column, in characters; longer labels wrap onto more rows


# --------------------------------------------------------------------------- the texts beneath the plot
def fmt_p(p: Any) -> str:
    """"p = .032" or "p < .001": the book's one p-value style (:mod:`analysis.measures`)."""
    return p_text(p)


def fmt_tau2(tau2: Any) -> str:
    if not finite(tau2):
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
    return int(getattr(result, "k", 0)) >= 2 and finite(getattr(result, "estimate", None))


# --------------------------------------------------------------------------- the pooled diamond
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


# --------------------------------------------------------------------------- study rows
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
                         "" if not finite(w) else f"{float(w):.1f}%",
                         (yi[i], yi[i] - z * se[i], yi[i] + z * se[i], w)))
    return rows


def _require_studies(result: Any, what: str) -> None:
    if int(getattr(result, "k", 0)) < 1 or len(np.atleast_1d(getattr(result, "yi", []))) < 1:
        raise ValueError(f"{what}: no studies to draw (k = 0); say 'no studies' in the text instead")


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

    ``result``: a ``MetaResult`` (models.meta_analysis) or :func:`unpooled` studies; its ``yi``,
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
    sc = named_scale(scale)
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
            row.effect = with_ci(est, low, high)
        elif row.kind == "pi":
            low, high = (float(sc.forward(v)) for v in row.values)
            row.effect = f"[{fmt(low)}, {fmt(high)}]"

    # axis limits from everything drawn
    points = [r.values[0] for r in rows if r.kind in ("study", "subtotal", "total")]
    points += [v for r in rows if r.kind in ("subtotal", "total") for v in r.values[1:3]]
    cis = [v for r in rows if r.kind in ("study", "pi") for v in
           (r.values[1:3] if r.kind == "study" else r.values)]
    lo_lim, hi_lim = axis_limits(points, cis, sc, xlim)

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
    fig, ax, own = new_figure(fig_width, height, ax)
    if own:
        fig.subplots_adjust(left=left_in / fig_width, right=(left_in + plot_in) / fig_width,
                            bottom=footer_h / height, top=1 - header_h / height)
    style_axis(ax)
    ax.set_ylim(-(n_rows - 0.5), 0.5)
    apply_axis_scale(ax, sc, lo_lim, hi_lim)

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

    max_w = max([r.values[3] for r in rows if r.kind == "study" and finite(r.values[3])] or [1.0])
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
            draw_interval(ax, y, low, high, lo_lim, hi_lim, colour="black")
            w = row.values[3]
            size_pt = 4.0 + 8.0 * math.sqrt(w / max_w) if finite(w) else 6.0
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
    sc = named_scale(scale)
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
