"""Contour-enhanced funnel plots, with study labels placed so that none overlaps another, and
their alt text."""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np
from matplotlib.patches import Patch
from scipy import stats

from analysis.figures.style import (FIG_WIDTH, FONT_SIZE, GREY, OKABE_ITO, STUDY_COLOUR, fmt,
                                    new_figure)

_Z975 = float(stats.norm.isf(0.025))


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
    fig, ax, own = new_figure(FIG_WIDTH, 5.0, ax)
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
