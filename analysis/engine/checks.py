"""Input checks shared by the engine's models: effect sizes and sampling variances, study
labels (made unique as metafor does), the tau² method, the test and the confidence level.

One check for every model (and the Bayesian one), so that a bad study is named the same way
whichever model finds it. The sensitivity analyses word theirs as metafor's functions do
(:mod:`analysis.engine.sensitivity_checks`).
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

__all__ = [
    "TAU2_METHODS",
    "FIXED_METHODS",
    "METHOD_NAMES",
    "unique_labels",
    "effect_arrays",
    "validate_effects",
    "check_method",
    "check_test",
    "check_level",
    "check_enough_studies",
]

TAU2_METHODS = ("FE", "EE", "DL", "REML", "ML", "PM", "HS", "SJ", "HE", "EB")
FIXED_METHODS = ("FE", "EE")
METHOD_NAMES = {
    "FE": "Common-effect (inverse variance)",
    "EE": "Equal-effects (inverse variance)",
    "DL": "DerSimonian-Laird",
    "REML": "REML",
    "ML": "ML",
    "PM": "Paule-Mandel",
    "HS": "Hunter-Schmidt",
    "SJ": "Sidik-Jonkman",
    "HE": "Hedges",
    "EB": "Empirical Bayes",
}


class _DefaultLabels(Sequence):
    """"study 1", ..., "study k" without building k strings up front (k may be 10^5)."""

    def __init__(self, k: int):
        self._k = k

    def __len__(self) -> int:
        return self._k

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [f"study {j + 1}" for j in range(*i.indices(self._k))]
        if i < 0:
            i += self._k
        if not 0 <= i < self._k:
            raise IndexError(i)
        return f"study {i + 1}"

    def __eq__(self, other):
        return list(self) == list(other)


def unique_labels(labels: Sequence[Any]) -> list[str]:
    """Study labels made unique as metafor's ``.make.unique()`` does: every label that
    occurs more than once gets ".1", ".2", ... in order ("Guckin 1992.1", "Guckin 1992.2");
    labels that occur once are kept."""
    out = [str(x) for x in labels]
    counts: dict[str, int] = {}
    for name in out:
        counts[name] = counts.get(name, 0) + 1
    seen: dict[str, int] = {}
    for i, name in enumerate(out):
        if counts[name] > 1:
            seen[name] = seen.get(name, 0) + 1
            out[i] = f"{name}.{seen[name]}"
    return out


def _labels_or_default(labels: Sequence[Any] | None, k: int) -> Sequence[str]:
    if labels is None:
        return _DefaultLabels(k)
    out = unique_labels(labels)
    if len(out) != k:
        raise ValueError(f"labels has {len(out)} entries but there are {k} studies")
    return out


def effect_arrays(yi, vi, *, what: str) -> tuple[np.ndarray, np.ndarray]:
    """yi and vi as flat float arrays of one length, at least one study; their values are
    the caller's to check."""
    y = np.asarray(yi, dtype=float).ravel()
    v = np.asarray(vi, dtype=float).ravel()
    if y.shape != v.shape:
        raise ValueError(f"{what}: yi has {y.size} values but vi has {v.size}")
    if y.size == 0:
        raise ValueError(f"{what}: no studies given (k = 0)")
    return y, v


def validate_effects(yi, vi, labels=None, *, what: str = "meta-analysis"):
    """Check effect sizes and sampling variances once; return float arrays and labels."""
    y, v = effect_arrays(yi, vi, what=what)
    k = y.size
    names = _labels_or_default(labels, k)
    if np.isfinite(y).all() and np.isfinite(v).all() and (v > 0).all():
        return y, v, names
    problems = []
    for i in np.flatnonzero(~np.isfinite(y)):
        problems.append(f"{names[i]}: effect size yi is {y[i]} (must be a finite number)")
    for i in np.flatnonzero(~np.isfinite(v)):
        problems.append(f"{names[i]}: sampling variance vi is {v[i]} (must be a finite number)")
    for i in np.flatnonzero(np.isfinite(v) & (v <= 0)):
        problems.append(f"{names[i]}: sampling variance vi = {float(v[i])!r} is not positive")
    if problems:
        raise ValueError(f"{what}: " + "; ".join(problems))
    return y, v, names


def check_method(method: str, allowed: Sequence[str] = TAU2_METHODS) -> str:
    """The method's name in capitals, if it is one of ``allowed``."""
    m = str(method).upper()
    if m not in allowed:
        raise ValueError(f"unknown tau² method {method!r}; choose one of {', '.join(allowed)}")
    return m


def check_enough_studies(method: str, k: int, p: int = 1) -> None:
    """Too few studies for a method is an error, never a silent zero."""
    if method in FIXED_METHODS:
        if k < p:
            raise ValueError(f"method {method} needs at least {p} studies (k = {k})")
        return
    if k - p < 1:
        raise ValueError(
            f"method {method} (random effects) needs at least {p + 1} studies to estimate tau² "
            f"(k = {k}, {p} coefficient{'s' if p > 1 else ''})"
        )


def check_test(test: str) -> str:
    """"z" or "knha" (Knapp-Hartung, also spelt "hksj", "kh", "knapp-hartung")."""
    t = str(test).lower()
    if t in ("hksj", "kh", "knapp-hartung"):
        t = "knha"
    if t not in ("z", "knha"):
        raise ValueError(f"unknown test {test!r}; choose 'z' or 'knha' (Knapp-Hartung)")
    return t


def check_level(level: float) -> float:
    """A confidence level in (0, 1); 95 is read as 0.95."""
    level = float(level)
    if level > 1:  # allow 95 as well as 0.95, as metafor does
        level = level / 100
    if not 0 < level < 1:
        raise ValueError(f"level must lie between 0 and 1 (got {level})")
    return level
