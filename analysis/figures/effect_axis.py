"""The effect axis of the forest-like figures: the reader's scale of the plotted numbers, the
axis limits and ticks, and an interval line clipped to the axis with an arrow where it runs off.

A result's numbers are on the model scale (log OR, Fisher z, SMD); a :class:`Scale` maps them
to the reader's scale (OR on a log axis, r, SMD).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
from matplotlib import ticker
from matplotlib.lines import Line2D

from analysis.figures.style import finite


@dataclass(frozen=True)
class Scale:
    """A back-transformation from the model scale to the reader's, with its no-effect value."""

    name: str
    forward: Callable[[np.ndarray], np.ndarray]  # model scale -> reader's scale
    null: float  # no-effect value on the reader's scale
    log_axis: bool


SCALES = {
    "identity": Scale("identity", lambda x: np.asarray(x, dtype=float), 0.0, False),
    "exp": Scale("exp", lambda x: np.exp(np.asarray(x, dtype=float)), 1.0, True),
    # Fisher z back to r: r = tanh(z) (Borenstein et al. 2009, Introduction to Meta-Analysis, eq. 6.3)
    "r": Scale("r", lambda x: np.tanh(np.asarray(x, dtype=float)), 0.0, False),
}
# Reader's-scale measures -> scale of the plotted numbers when they are already back-transformed.
MEASURE_SCALE = {"OR": "exp", "RR": "exp", "HR": "exp", "r": "identity", "SMD": "identity",
                 "MD": "identity", "RD": "identity", "g": "identity", "d": "identity"}


def named_scale(name: str) -> Scale:
    """The scale called ``name`` ("identity", "exp", "r"); an unknown name is an error."""
    if name not in SCALES:
        raise ValueError(f"scale {name!r} is not one of {sorted(SCALES)}")
    return SCALES[name]


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


def apply_axis_scale(ax, scale: Scale, lo: float, hi: float) -> None:
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


def axis_limits(model_values: Sequence[float], ci_values: Sequence[float], scale: Scale,
                xlim: tuple[float, float] | None) -> tuple[float, float]:
    """Axis limits on the reader's scale.

    ``ci_values`` are (low, high) pairs in sequence. The core range holds every point estimate,
    the pooled interval and the null; intervals widen it by at most the larger of the core's
    width and the median interval width on each side, so one very wide interval does not
    squash the rest (it runs off the axis and gets an arrow instead).
    """
    if xlim is not None:
        return float(xlim[0]), float(xlim[1])
    core = [v for v in model_values if finite(v)] + [0.0]  # 0: the null on every model scale
    lo, hi = min(core), max(core)
    span = max(hi - lo, 0.2)
    pairs = [(a, b) for a, b in zip(ci_values[0::2], ci_values[1::2]) if finite(a) and finite(b)]
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


def draw_interval(ax, y: float, low: float, high: float, lo_lim: float, hi_lim: float, *,
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
