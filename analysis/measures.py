"""The table of effect measures: analysis scale, back-transform, null, axis labels, decimals.

Every module that turns a pooled number into something a reader sees looks the measure up
here, so a scale is defined once. Effects are pooled on the analysis scale and shown on the
reader's scale: Fisher's z as r (r = tanh z; Borenstein et al. 2009, Introduction to
Meta-Analysis, eq. 6.3), log odds ratios as odds ratios on a log axis, standardised mean
differences as they are. The prediction interval is back-transformed the same way (metafor's
``predict(..., transf=)`` does the same).

P values have one style throughout the book (APA: no leading zero, three decimals, "< .001").
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable

__all__ = ["Measure", "MEASURES", "measure", "canonical_measure", "p_value", "p_text"]


@dataclass(frozen=True)
class Measure:
    """One effect measure, from the analysis scale to what readers see."""

    name: str  # analysis scale: "ZCOR", "logOR", "SMD"
    reader: str  # the measure readers see: "r", "OR", "SMD"
    back_transform: Callable[[float], float]  # analysis scale -> reader's scale
    null: float  # no effect, on the reader's scale
    log_axis: bool  # ratio measures are drawn on a log axis
    axis_label: str  # reader's-scale axis title
    model_axis_label: str  # analysis-scale axis title (funnel plots)
    plot_scale: str  # name of the scale in analysis.figures.effect_axis: "r", "exp", "identity"
    decimals: int  # decimals shown for estimates and intervals
    favours: tuple[str, str]  # words under the left and right side of a forest plot

    def to_reader(self, value: Any) -> float | None:
        """The reader's-scale value of an analysis-scale number (None for a missing one)."""
        number = finite_or_none(value)
        return None if number is None else self.back_transform(number)


def _identity(value: float) -> float:
    return value


MEASURES: dict[str, Measure] = {
    "ZCOR": Measure("ZCOR", "r", math.tanh, 0.0, False, "Correlation r", "Fisher's z", "r", 2,
                    ("Negative association", "Positive association")),
    "logOR": Measure("logOR", "OR", math.exp, 1.0, True, "Odds ratio", "Log odds ratio", "exp", 2,
                     ("Favours control", "Favours intervention")),
    "SMD": Measure("SMD", "SMD", _identity, 0.0, False, "Standardised mean difference",
                   "Standardised mean difference", "identity", 2,
                   ("Favours control", "Favours intervention")),
}

# Spellings of an analysis scale that effect-size tables may use for the same thing.
_ALIASES = {
    "zcor": "ZCOR", "z": "ZCOR", "fisher_z": "ZCOR", "fisher z": "ZCOR", "zr": "ZCOR",
    "logor": "logOR", "log_or": "logOR", "lnor": "logOR", "or": "logOR", "log or": "logOR",
    "smd": "SMD", "g": "SMD", "hedges_g": "SMD", "d": "SMD",
}


def canonical_measure(name: Any) -> str:
    """The registry's name of an analysis scale spelled any accepted way (unknown: unchanged)."""
    text = str(name).strip()
    return _ALIASES.get(text.lower(), text)


def measure(name: str) -> Measure:
    """The measure of an analysis scale ("ZCOR", "logOR", "SMD", or an accepted spelling)."""
    key = canonical_measure(name)
    if key not in MEASURES:
        raise KeyError(f"unknown measure {name!r}; known: {', '.join(MEASURES)}")
    return MEASURES[key]


def finite_or_none(value: Any) -> float | None:
    """A plain float, or None for a missing or non-finite value."""
    if value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def p_value(p: Any) -> str:
    """A p value in the book's one style: ".032", "< .001"; "–" when missing."""
    number = finite_or_none(p)
    if number is None:
        return "–"
    if number < 0.001:
        return "< .001"
    return f"{number:.3f}".lstrip("0")


def p_text(p: Any) -> str:
    """"p = .032" or "p < .001" ("p = NA" when missing), for figures and sentences."""
    shown = p_value(p)
    if shown == "–":
        return "p = NA"
    return f"p {shown}" if shown.startswith("<") else f"p = {shown}"
