"""The alt text of any figure of the review: each plot function has a companion
``<name>_alt_text(...)`` that builds, from the same data, the sentence a screen reader needs;
:func:`alt_text` finds the companion of a plot function and calls it."""
from __future__ import annotations

from typing import Any, Callable

from analysis.figures.comparison_plots import (estimates_comparison_plot,
                                               estimates_comparison_plot_alt_text)
from analysis.figures.forest_plots import forest_plot, forest_plot_alt_text
from analysis.figures.funnel_plots import funnel_plot, funnel_plot_alt_text
from analysis.figures.rob_plots import (rob_summary, rob_summary_alt_text, rob_traffic_light,
                                        rob_traffic_light_alt_text)
from analysis.figures.sensitivity_plots import (baujat_plot, baujat_plot_alt_text,
                                                cumulative_forest_plot,
                                                cumulative_forest_plot_alt_text, gosh_plot,
                                                gosh_plot_alt_text, leave_one_out_plot,
                                                leave_one_out_plot_alt_text)


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
