"""Input checks of the sensitivity analyses and small-study tests: effect sizes, variances and
labels, the tau² methods they fit (metafor's names, "CE" included) and the tests, and how
many studies each needs. Their messages and default labels ("Study 1", ...) are these
analyses' own, as metafor's ``leave1out()``, ``regtest()``, ... name them.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from .checks import effect_arrays, unique_labels  # unique_labels: metafor's .make.unique(): "A.1", "A.2"

__all__ = [
    "COMMON_EFFECT_METHODS",
    "VECTORISED_METHODS",
    "ONE_BY_ONE_METHODS",
    "SENSITIVITY_METHODS",
    "validate_studies",
    "check_sensitivity_test",
    "require_k",
    "min_k_model",
]

COMMON_EFFECT_METHODS = ("FE", "EE", "CE")
VECTORISED_METHODS = COMMON_EFFECT_METHODS + ("DL", "HE", "REML", "ML")
ONE_BY_ONE_METHODS = ("PM", "HS", "SJ", "EB")
SENSITIVITY_METHODS = VECTORISED_METHODS + ONE_BY_ONE_METHODS


def _labels(labels: Sequence[Any] | None, k: int) -> list[str]:
    if labels is None:
        return [f"Study {i + 1}" for i in range(k)]
    names = unique_labels(labels)
    if len(names) != k:
        raise ValueError(f"{len(names)} labels given for {k} studies")
    return names


def validate_studies(yi, vi, labels=None, *, what: str) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Float arrays of effect sizes and sampling variances; a ValueError names each bad study."""
    y, v = effect_arrays(yi, vi, what=what)
    names = _labels(labels, y.size)
    problems = [f"{names[i]}: effect size yi is {y[i]} (must be a finite number)"
                for i in np.flatnonzero(~np.isfinite(y))]
    problems += [f"{names[i]}: sampling variance vi is {v[i]} (must be a positive finite number)"
                 for i in np.flatnonzero(~np.isfinite(v) | (v <= 0))]
    if problems:
        raise ValueError(f"{what}: " + "; ".join(problems))
    return y, v, names


def check_sensitivity_test(test: str) -> str:
    t = str(test).lower()
    if t in ("hksj", "kh", "knapp-hartung"):
        t = "knha"
    if t not in ("z", "knha", "adhoc"):
        raise ValueError(f"unknown test {test!r}; choose 'z', 'knha' or 'adhoc' "
                         "(Knapp-Hartung with the ad hoc floor)")
    return t


def require_k(k: int, minimum: int, what: str) -> None:
    """An error naming ``what`` when there are fewer than ``minimum`` studies."""
    if k < minimum:
        raise ValueError(f"{what} needs at least {minimum} studies (k = {k})")


def min_k_model(method: str, p: int = 1) -> int:
    """Studies a fit needs: p for a common-effect model, p + 1 to estimate tau²."""
    return p if method in COMMON_EFFECT_METHODS else p + 1
