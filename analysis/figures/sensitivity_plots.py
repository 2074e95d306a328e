"""Sensitivity figures: the cumulative forest plot and the leave-one-out plot (rows of pooled
estimates with intervals), the Baujat plot and the GOSH plot, each with its alt text."""
from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd
from matplotlib.lines import Line2D
from matplotlib.transforms import blended_transform_factory

from analysis.figures.effect_axis import (MEASURE_SCALE, SCALES, Scale, apply_axis_scale,
                                          axis_limits, draw_interval, named_scale)
from analysis.figures.style import (FIG_WIDTH, FONT_SIZE, GREY, OKABE_ITO, STUDY_COLOUR, finite,
                                    fmt, new_figure, style_axis, with_ci)


# --------------------------------------------------------------------------- rows of pooled estimates
def _label_column(frame: pd.DataFrame, candidates: Sequence[str]) -> str:
    for name in candidates:
        if name in frame.columns:
            return name
    raise ValueError(f"expected one of the columns {list(candidates)}; got {list(frame.columns)}")


def _reader_scale_of(frame: pd.DataFrame, measure: str | None) -> Scale:
    if measure is None and "measure" in frame.columns and len(frame):
        measure = str(frame["measure"].iloc[0])
    return SCALES[MEASURE_SCALE.get(str(measure), "identity")], (measure or "")


def _row_forest(frame: pd.DataFrame, labels: list[str], *, measure: str | None, scale: str | None,
                title_left: str, reference: float | None, reference_label: str,
                extra: list[str] | None, extra_title: str, ax, gid: str, axis_title: str | None = None):
    """Rows of point estimates with intervals.

    With ``scale`` None the values are on the reader's scale already and ``measure`` (or the
    frame's ``measure`` column) picks the axis (OR: log axis); with ``scale`` ("identity", "exp",
    "r") they are on the model scale and are mapped to the reader's scale here.
    """
    if scale is not None:
        model = named_scale(scale)
        sc = SCALES["exp"] if model.log_axis else SCALES["identity"]
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
    model_scale = SCALES["exp"] if sc.log_axis else SCALES["identity"]
    lo_lim, hi_lim = axis_limits(pts, cis, model_scale, None)
    row_h, header_h = 0.3, 0.45
    footer_h = (0.75 if reference is not None else 0.5) + 0.22
    height = header_h + n * row_h + footer_h
    fig, ax, own = new_figure(FIG_WIDTH, height, ax)
    if own:
        fig.subplots_adjust(left=0.30, right=0.68, bottom=footer_h / height, top=1 - header_h / height)
    style_axis(ax)
    ax.set_ylim(-(n - 0.5), 0.5)
    apply_axis_scale(ax, sc, lo_lim, hi_lim)
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
        ax.text(col(0.86), y, with_ci(est[i], low[i], high[i]), transform=tf, ha="right",
                va="center", fontsize=FONT_SIZE, clip_on=False)
        if extra is not None:
            ax.text(col(0.985), y, extra[i], transform=tf, ha="right", va="center",
                    fontsize=FONT_SIZE, clip_on=False)
        if np.isfinite(low[i]) and np.isfinite(high[i]):
            draw_interval(ax, y, low[i], high[i], lo_lim, hi_lim, colour="black")
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
    model scale (as ``sensitivity.cumulative_meta_analysis`` returns) with ``scale`` naming the
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
        if (year_col is not None and finite(row[year_col])
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
        convert = named_scale(scale).forward
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
    ``ci_high`` and optionally ``i2`` (shown as a column), as ``sensitivity.leave_one_out``
    returns. ``scale`` ("exp", "r", "identity") maps model-scale values to the reader's scale
    (None: already on it); ``full_estimate`` (same scale as the frame) draws the all-studies
    estimate as a dashed line.
    """
    label_col = _label_column(loo_df, ("omitted", "label", "study", "study_id", "left_out"))
    labels = [f"Omitting {x}" for x in loo_df[label_col]]
    extra = [f"{float(v):.0f}%" if finite(v) else "NA" for v in loo_df["i2"]] if "i2" in loo_df else None
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
        full = full_estimate if scale is None else float(named_scale(scale).forward(full_estimate))
        text += f" With all studies: {fmt(full)}."
    return text


# --------------------------------------------------------------------------- Baujat plot
def baujat_plot(baujat_df: pd.DataFrame, ax=None):
    """Baujat plot (Baujat B et al. Stat Med 2002;21:2641-2652): each study's contribution to
    the Q statistic (x) against its influence on the pooled estimate (y), labelled by study."""
    label_col = _label_column(baujat_df, ("label", "study", "study_id"))
    x = baujat_df["x"].astype(float).to_numpy()
    y = baujat_df["y"].astype(float).to_numpy()
    fig, ax, own = new_figure(7.0, 5.0, ax)
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


# --------------------------------------------------------------------------- GOSH plot
def gosh_plot(gosh_df: pd.DataFrame, ax=None, *, measure_label: str = "Pooled estimate", bins: int = 30):
    """GOSH plot (Olkin I, Dahabreh IJ, Trikalinos TA. Res Synth Methods 2012;3:214-223): the
    pooled estimate against I² for every subset of studies, with marginal histograms.

    ``gosh_df`` has ``estimate`` and ``i2`` (percent) per subset, or is a
    ``sensitivity.GoshResult`` (its ``table`` is used); drawing is deterministic.
    """
    gosh_df = getattr(gosh_df, "table", gosh_df)
    est = gosh_df["estimate"].astype(float).to_numpy()
    i2 = gosh_df["i2"].astype(float).to_numpy()
    fig, ax, own = new_figure(7.0, 6.0, ax)
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
