"""The comparison of this review's pooled estimates with the published reviews', one panel per
outcome, and its alt text."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.lines import Line2D
from matplotlib.transforms import blended_transform_factory

from analysis.figures.effect_axis import (MEASURE_SCALE, SCALES, apply_axis_scale, axis_limits,
                                          draw_interval)
from analysis.figures.style import (FIG_WIDTH, FONT_SIZE, OKABE_ITO, STUDY_COLOUR, finite, fmt,
                                    style_axis, with_ci)


def _comparison_rows(table: pd.DataFrame) -> list[dict]:
    rows = []
    for _, r in table.iterrows():
        outcome = str(r.get("outcome_label") or r.get("outcome"))
        mine_k = r.get("k")
        k_text = f"k = {int(float(mine_k))}" if finite(mine_k) and float(mine_k) > 0 else "no studies"
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

    ``table`` is ``synthesis.published_comparison()``: one row per outcome with this review's
    ``measure, k, estimate, ci_low, ci_high`` and ``published_review, published_measure,
    published_estimate, published_ci_low, published_ci_high, published_p``. One panel per
    outcome (own scale: OR on a log axis); a value without a printed CI is a point alone.
    Outcomes with no estimate on either side are left out. With ``ax`` given, ``table`` must
    describe one outcome.
    """
    rows = [r for r in _comparison_rows(table)]
    outcomes = list(dict.fromkeys(r["outcome"] for r in rows
                                  if any(finite(x["estimate"]) for x in rows if x["outcome"] == r["outcome"])))
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
        sc = SCALES[MEASURE_SCALE.get(measure, "identity")]
        to_model = np.log if sc.log_axis else (lambda v: float(v))
        pts = [float(to_model(float(r["estimate"]))) for r in part if finite(r["estimate"])]
        cis = [float(to_model(float(r[c]))) for r in part if finite(r["ci_low"]) and finite(r["ci_high"])
               for c in ("ci_low", "ci_high")]
        lo, hi = axis_limits(pts, cis, SCALES["exp"] if sc.log_axis else SCALES["identity"], None)
        style_axis(axis)
        axis.set_ylim(-(len(part) - 0.4), 0.9)
        apply_axis_scale(axis, sc, lo, hi)
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
            if finite(r["estimate"]):
                est = float(r["estimate"])
                low = float(r["ci_low"]) if finite(r["ci_low"]) else float("nan")
                high = float(r["ci_high"]) if finite(r["ci_high"]) else float("nan")
                digits = 3 if str(r["measure"]) == "r" else 2
                text = with_ci(est, low, high, digits)
                if not (finite(low) and finite(high)):
                    text += " (no CI printed" + (f"; p = {r['p']}" if r["p"] else "") + ")"
                if str(r["measure"]) != measure:
                    # another measure is never drawn on this axis (an MD on an SMD axis)
                    text += f" ({r['measure']}: another scale, not drawn)"
                else:
                    if finite(low) and finite(high):
                        draw_interval(axis, y, low, high, lo, hi, colour=colour)
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
            if finite(r["estimate"]):
                digits = 3 if str(r["measure"]) == "r" else 2
                value = f"{r['measure']} {fmt(r['estimate'], digits)}"
                if finite(r["ci_low"]) and finite(r["ci_high"]):
                    value += (f" (95% CI {fmt(r['ci_low'], digits)} to "
                              f"{fmt(r['ci_high'], digits)})")
            else:
                value = "not estimated"
            bits.append(f"{r['source']}: {value}")
        parts.append(f"{outcome}: " + "; ".join(bits))
    return "Comparison of this review's pooled estimates with the published reviews. " + ". ".join(parts) + "."
