"""Agreement between two reviewers: Cohen's kappa with its confidence interval, and whether two
printed numbers agree within the precision they are printed with.

Kappa (Cohen J. A coefficient of agreement for nominal scales. Educ Psychol Meas 1960;20:37-46):
kappa = (p_o - p_e) / (1 - p_e), p_o the observed and p_e the chance-expected agreement from the
two reviewers' marginal proportions. Its large-sample standard error, not assuming kappa = 0, is
the one of Fleiss JL, Cohen J, Everitt BS (Large sample standard errors of kappa and weighted
kappa. Psychol Bull 1969;72:323-327), as given in Fleiss JL, Levin B, Paik MC (Statistical
Methods for Rates and Proportions, 3rd ed., Wiley 2003, eq. 18.13):

    var(kappa) = [ sum_i p_ii (1 - (p_i. + p_.i)(1 - kappa))^2
                   + (1 - kappa)^2 sum_{i != j} p_ij (p_.i + p_j.)^2
                   - (kappa - p_e (1 - kappa))^2 ] / (n (1 - p_e)^2)

and the confidence interval is kappa +/- z_(1 - alpha/2) SE (Wald), cut at -1 and 1.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist
from typing import Sequence

from analysis.io.columns import p_bound, printed_value

__all__ = ["KappaResult", "cohen_kappa_ci", "printed_numbers_agree"]


@dataclass(frozen=True)
class KappaResult:
    """Cohen's kappa of two reviewers over ``n`` items, with its Wald confidence interval.

    ``kappa``, ``se``, ``ci_low``, ``ci_high`` are None when kappa is undefined (no items, or
    both reviewers used one and the same category: p_e = 1); ``note`` then says why.
    """

    n: int
    agreement: float | None
    expected: float | None
    kappa: float | None
    se: float | None
    ci_low: float | None
    ci_high: float | None
    level: float
    categories: tuple[str, ...]
    note: str = ""


def cohen_kappa_ci(first: Sequence[str], second: Sequence[str], level: float = 0.95) -> KappaResult:
    """Cohen's kappa of two equally long sequences of category labels, with its CI."""
    if len(first) != len(second):
        raise ValueError(f"the two reviewers rated {len(first)} and {len(second)} items; "
                         "kappa needs the same items")
    n = len(first)
    categories = tuple(sorted(set(first) | set(second)))
    if n == 0:
        return KappaResult(0, None, None, None, None, None, None, level, categories, "no items rated by both")
    index = {c: i for i, c in enumerate(categories)}
    k = len(categories)
    counts = [[0] * k for _ in range(k)]
    for a, b in zip(first, second):
        counts[index[a]][index[b]] += 1
    p = [[counts[i][j] / n for j in range(k)] for i in range(k)]
    rows = [sum(p[i]) for i in range(k)]
    cols = [sum(p[i][j] for i in range(k)) for j in range(k)]
    observed = sum(counts[i][i] for i in range(k)) / n
    expected = sum(rows[i] * cols[i] for i in range(k))
    if math.isclose(expected, 1.0):
        return KappaResult(n, observed, expected, None, None, None, None, level, categories,
                           "both reviewers used one and the same category: kappa undefined")
    kappa = (observed - expected) / (1.0 - expected)
    diagonal = sum(p[i][i] * (1.0 - (rows[i] + cols[i]) * (1.0 - kappa)) ** 2 for i in range(k))
    off = (1.0 - kappa) ** 2 * sum(p[i][j] * (cols[i] + rows[j]) ** 2
                                   for i in range(k) for j in range(k) if i != j)
    variance = (diagonal + off - (kappa - expected * (1.0 - kappa)) ** 2) / (n * (1.0 - expected) ** 2)
    se = math.sqrt(max(variance, 0.0))
    z = NormalDist().inv_cdf(0.5 + level / 2.0)
    note = ""
    if len(set(first)) == 1 or len(set(second)) == 1:
        note = ("one reviewer used a single category: kappa is 0 or undefined by construction and its "
                "interval degenerate; read the percentage agreement")
    # kappa cannot leave [-1, 1]; the Wald interval is cut there
    return KappaResult(n, observed, expected, kappa, se, max(-1.0, kappa - z * se),
                       min(1.0, kappa + z * se), level, categories, note)


def _decimals(text: str) -> int:
    text = text.strip().lstrip("<>=")
    return len(text.split(".", 1)[1]) if "." in text else 0


def printed_numbers_agree(first: str, second: str, kind: str = "printed") -> bool:
    """Whether two numbers as printed stand for the same value at the coarser printed precision.

    The tolerance is half a unit of the coarser of the two precisions: "26" and "26.0" agree;
    ".24" and "0.24" agree; "4.7" and "4.71" agree (4.71 printed to one decimal is 4.7); "4.7"
    and "4.8" do not. p values ("<.05") also compare their relation. Whole numbers (``kind`` "int") must be equal. Text that is not a number agrees only
    when identical.
    """
    a, b = first.strip(), second.strip()
    if a == b:
        return True
    try:
        if kind == "printed_p":
            rel_a, x = p_bound(a)
            rel_b, y = p_bound(b)
            if rel_a != rel_b:
                return False
        elif kind == "int":
            return int(a) == int(b)
        else:
            x, y = printed_value(a), printed_value(b)
    except ValueError:
        return False
    tolerance = 0.5 * 10.0 ** (-min(_decimals(a), _decimals(b)))
    return abs(x - y) <= tolerance + 1e-12
