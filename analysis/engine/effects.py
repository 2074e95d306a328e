"""Effect sizes and their sampling variances, from raw data and from what papers print.

Every function accepts scalars or array-likes (broadcast against each other), validates
its input once and returns :class:`EffectSize` ``(yi, vi, measure)``: floats for scalar
input, numpy arrays otherwise. Bad input raises ``ValueError`` naming the study (from
``labels=``, else "study <i>" counting from 1) and the problem; nothing returns a silent NaN
except the documented double-zero 2x2 tables, which are reported with a warning.

Sources: Borenstein, Hedges, Higgins & Rothstein (2009) *Introduction to Meta-Analysis*
(Wiley), chapters 4-7; Cochrane Handbook for Systematic Reviews of Interventions v6.3
(2022), chapters 6 and 10; metafor's ``escalc()`` documentation and source (Viechtbauer
2010, J Stat Softw 36(3); metafor 3.8-1), whose conventions the 2x2 and two-group
measures reproduce exactly.
"""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
from scipy import special, stats

__all__ = [
    "EffectSize", "fisher_z", "fisher_z_to_r", "correlation_to_z",
    "log_odds_ratio", "log_risk_ratio", "risk_difference",
    "mean_difference", "hedges_g", "hedges_correction", "d_variance",
    "ratio_from_ci", "ci_asymmetry", "difference_from_ci",
    "d_from_t", "d_from_f", "r_from_chi2", "d_to_r", "r_to_d", "log_or_to_d", "d_to_log_or",
    "combine_arms", "combine_arm_events", "split_shared_control",
    "two_by_two_from_percentages", "pearson_chi2", "phi_from_two_by_two", "test_based_variance",
]


@dataclass(frozen=True)
class EffectSize:
    """Effect sizes ``yi`` with sampling variances ``vi`` on the analysis scale."""

    yi: Any
    vi: Any
    measure: str = ""

    def __iter__(self):  # allows ``yi, vi = fisher_z(...)``-style unpacking
        yield self.yi
        yield self.vi

    @property
    def sei(self):
        return _out(np.sqrt(np.asarray(self.vi, dtype=float)), np.ndim(self.vi) == 0)


# --------------------------------------------------------------------------- helpers
def _arrays(*values, names: Sequence[str]):
    arrs = []
    for name, value in zip(names, values):
        try:
            a = np.asarray(value, dtype=float)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{name} must be numeric ({exc})") from None
        arrs.append(a)
    scalar = all(a.ndim == 0 for a in arrs)
    try:
        arrs = np.broadcast_arrays(*[np.atleast_1d(a) for a in arrs])
    except ValueError:
        shapes = ", ".join(f"{n} {np.shape(a)}" for n, a in zip(names, arrs))
        raise ValueError(f"inputs have different lengths: {shapes}") from None
    return [a.astype(float).ravel() for a in arrs], scalar


def _labels(labels, k: int) -> list[str]:
    if labels is None:
        return [f"study {i + 1}" for i in range(k)]
    out = [str(x) for x in (labels if not isinstance(labels, str) else [labels])]
    if len(out) != k:
        raise ValueError(f"labels has {len(out)} entries but there are {k} studies")
    return out


def _fail(mask: np.ndarray, names: list[str], message) -> None:
    """Raise one ValueError listing every study where ``mask`` is true."""
    idx = np.flatnonzero(mask)
    if idx.size:
        raise ValueError("; ".join(f"{names[i]}: {message(i)}" for i in idx))


def _finite(arrays: dict[str, np.ndarray], names: list[str]) -> None:
    for key, a in arrays.items():
        _fail(~np.isfinite(a), names, lambda i, a=a, key=key: f"{key} is {a[i]} (a finite number is needed)")


def _out(a: np.ndarray, scalar: bool):
    return float(a[0]) if scalar else a


def _result(yi, vi, measure: str, scalar: bool) -> EffectSize:
    return EffectSize(_out(np.asarray(yi, float), scalar), _out(np.asarray(vi, float), scalar), measure)


def _positive_variance(v, names, what="variance"):
    _fail(~(v > 0), names, lambda i: f"{what} = {float(v[i])!r} is not positive")


# --------------------------------------------------------------------------- correlations
def fisher_z(r, *, labels=None):
    """Fisher's z = atanh(r) (Borenstein et al. 2009 eq. 6.2). Returns float or array."""
    (ra,), scalar = _arrays(r, names=["r"])
    names = _labels(labels, ra.size)
    _finite({"r": ra}, names)
    _fail(~((ra > -1) & (ra < 1)), names, lambda i: f"correlation r = {float(ra[i])!r} is outside (-1, 1)")
    return _out(np.arctanh(ra), scalar)


def fisher_z_to_r(z):
    """Back-transform z to r = tanh(z) (Borenstein et al. 2009 eq. 6.5)."""
    (za,), scalar = _arrays(z, names=["z"])
    return _out(np.tanh(za), scalar)


def correlation_to_z(r, n, *, labels=None) -> EffectSize:
    """Correlation r from n participants -> Fisher z with variance 1/(n - 3)
    (Borenstein et al. 2009 eqs. 6.2-6.3; metafor measure "ZCOR")."""
    (ra, na), scalar = _arrays(r, n, names=["r", "n"])
    names = _labels(labels, ra.size)
    _finite({"r": ra, "n": na}, names)
    _fail(na <= 3, names, lambda i: f"n = {na[i]:g} is 3 or less (Fisher z variance 1/(n - 3) needs n > 3)")
    z = fisher_z(ra, labels=names)
    return _result(z, 1.0 / (na - 3), "ZCOR", scalar)


# --------------------------------------------------------------------------- 2x2 tables
def _two_by_two(ai, n1i, ci, n2i, add, to, drop00, labels, measure):
    (a, n1, c, n2), scalar = _arrays(ai, n1i, ci, n2i, names=["ai", "n1i", "ci", "n2i"])
    names = _labels(labels, a.size)
    _finite({"events (treatment)": a, "total (treatment)": n1, "events (control)": c,
             "total (control)": n2}, names)
    for label, ev, tot in (("treatment", a, n1), ("control", c, n2)):
        _fail(ev < 0, names, lambda i, ev=ev, label=label: f"{label} events {ev[i]:g} are negative")
        _fail(tot <= 0, names, lambda i, tot=tot, label=label: f"{label} group size {tot[i]:g} is not positive")
        _fail(ev > tot, names, lambda i, ev=ev, tot=tot, label=label:
              f"{label} events {ev[i]:g} exceed the group size {tot[i]:g}")
    if to not in ("only0", "all", "if0all", "none"):
        raise ValueError(f"to must be 'only0', 'all', 'if0all' or 'none' (got {to!r})")
    if not (add >= 0):
        raise ValueError(f"add must be a non-negative number (got {add!r})")
    b, d = n1 - a, n2 - c
    # metafor drops tables with no events, or only events, in both arms.
    double = ((a == 0) & (c == 0)) | ((b == 0) & (d == 0))
    if drop00 and double.any():
        listed = ", ".join(names[i] for i in np.flatnonzero(double))
        warnings.warn(f"{measure}: {int(double.sum())} table(s) with no events (or only events) "
                      f"in both arms left out (yi, vi = NaN): {listed}", RuntimeWarning, stacklevel=3)
    keep = ~double if drop00 else np.ones_like(double)
    zero = ((a == 0) | (b == 0) | (c == 0) | (d == 0)) & keep
    if to == "all":
        inc = keep.astype(float)
    elif to == "only0":
        inc = zero.astype(float)
    elif to == "if0all":
        inc = keep.astype(float) if zero.any() else np.zeros_like(a)
    else:
        inc = np.zeros_like(a)
    if to == "none" and zero.any():
        listed = ", ".join(names[i] for i in np.flatnonzero(zero))
        raise ValueError(f"{measure}: zero cells with to='none' give infinite values: {listed}")
    a2, b2, c2, d2 = a + add * inc, b + add * inc, c + add * inc, d + add * inc
    return (a2, b2, c2, d2), keep, scalar


def log_odds_ratio(ai, n1i, ci, n2i, add=0.5, to="only0", drop00=True, *, labels=None) -> EffectSize:
    """Log odds ratio from events ``ai``/``ci`` in groups of ``n1i``/``n2i``.

    yi = log(a d / (b c)), vi = 1/a + 1/b + 1/c + 1/d (Borenstein et al. 2009 eqs. 5.8-5.9;
    Cochrane Handbook 6.4.1.2). Zero cells, as metafor's ``escalc()``: ``add`` (0.5) is added
    to every cell of tables with a zero cell (``to="only0"``), of all tables (``"all"``), of
    all tables if any has a zero (``"if0all"``) or never (``"none"``; a zero cell then raises).
    ``drop00=True`` (the default here; metafor's is FALSE): tables with no events, or only
    events, in both arms carry no information on the odds ratio; they are reported in a
    RuntimeWarning and their yi and vi are NaN so that the caller can leave them out.
    """
    (a, b, c, d), keep, scalar = _two_by_two(ai, n1i, ci, n2i, add, to, drop00, labels, "OR")
    with np.errstate(divide="ignore", invalid="ignore"):
        p1, p2 = a / (a + b), c / (c + d)
        yi = np.log(p1 / (1 - p1)) - np.log(p2 / (1 - p2))
        vi = 1 / a + 1 / b + 1 / c + 1 / d
    return _result(np.where(keep, yi, np.nan), np.where(keep, vi, np.nan), "OR", scalar)


def log_risk_ratio(ai, n1i, ci, n2i, add=0.5, to="only0", drop00=True, *, labels=None) -> EffectSize:
    """Log risk ratio: yi = log(p1 / p2), vi = 1/a - 1/n1 + 1/c - 1/n2 (Borenstein et al.
    2009 eqs. 5.1-5.2; Cochrane Handbook 6.4.1.2). Zero cells and double-zero tables as in
    :func:`log_odds_ratio` (metafor ``escalc(measure="RR")``)."""
    (a, b, c, d), keep, scalar = _two_by_two(ai, n1i, ci, n2i, add, to, drop00, labels, "RR")
    with np.errstate(divide="ignore", invalid="ignore"):
        n1, n2 = a + b, c + d
        yi = np.log(a / n1) - np.log(c / n2)
        vi = 1 / a - 1 / n1 + 1 / c - 1 / n2
    return _result(np.where(keep, yi, np.nan), np.where(keep, vi, np.nan), "RR", scalar)


def risk_difference(ai, n1i, ci, n2i, add=0.5, to="only0", drop00=True, *, labels=None) -> EffectSize:
    """Risk difference p1 - p2 with vi = p1(1-p1)/n1 + p2(1-p2)/n2 (large-sample, metafor
    vtype "LS"; Cochrane Handbook 6.4.1.2). The same zero-cell adjustment as metafor's
    ``escalc(measure="RD")`` is applied (it keeps a table with a zero from having vi = 0);
    double-zero tables as in :func:`log_odds_ratio` (pass ``drop00=False`` to keep them:
    a risk difference of 0 is informative)."""
    (a, b, c, d), keep, scalar = _two_by_two(ai, n1i, ci, n2i, add, to, drop00, labels, "RD")
    n1, n2 = a + b, c + d
    p1, p2 = a / n1, c / n2
    yi = p1 - p2
    vi = p1 * (1 - p1) / n1 + p2 * (1 - p2) / n2
    return _result(np.where(keep, yi, np.nan), np.where(keep, vi, np.nan), "RD", scalar)


# --------------------------------------------------------------------------- continuous outcomes
def _two_groups(m1, sd1, n1, m2, sd2, n2, labels, need_n=1):
    (m1, sd1, n1, m2, sd2, n2), scalar = _arrays(m1, sd1, n1, m2, sd2, n2,
                                                 names=["m1", "sd1", "n1", "m2", "sd2", "n2"])
    names = _labels(labels, m1.size)
    _finite({"m1": m1, "sd1": sd1, "n1": n1, "m2": m2, "sd2": sd2, "n2": n2}, names)
    for key, sd in (("sd1", sd1), ("sd2", sd2)):
        _fail(sd <= 0, names, lambda i, sd=sd, key=key: f"standard deviation {key} = {sd[i]:g} is not positive")
    for key, n in (("n1", n1), ("n2", n2)):
        _fail(n < need_n, names, lambda i, n=n, key=key: f"group size {key} = {n[i]:g} is below {need_n}")
    return (m1, sd1, n1, m2, sd2, n2), names, scalar


def mean_difference(m1, sd1, n1, m2, sd2, n2, *, labels=None) -> EffectSize:
    """Raw mean difference m1 - m2 with vi = sd1²/n1 + sd2²/n2 (Borenstein et al. 2009
    eq. 4.5, unequal variances; metafor ``escalc(measure="MD")``)."""
    (m1, sd1, n1, m2, sd2, n2), _, scalar = _two_groups(m1, sd1, n1, m2, sd2, n2, labels)
    return _result(m1 - m2, sd1**2 / n1 + sd2**2 / n2, "MD", scalar)


def hedges_correction(df):
    """Exact small-sample correction J(m) = Γ(m/2) / (sqrt(m/2) Γ((m-1)/2)) (Hedges 1981),
    as metafor's ``.cmicalc()``; approximately 1 - 3/(4m - 1) (Borenstein et al. eq. 4.22)."""
    (m,), scalar = _arrays(df, names=["df"])
    if np.any(m <= 1):
        raise ValueError(f"Hedges' correction needs more than 1 degree of freedom (got {m[m <= 1][0]:g})")
    j = np.exp(special.gammaln(m / 2) - np.log(np.sqrt(m / 2)) - special.gammaln((m - 1) / 2))
    return _out(j, scalar)


def d_variance(d, n1, n2):
    """Large-sample variance of d: 1/n1 + 1/n2 + d² / (2 (n1 + n2)) (Borenstein et al.
    2009 eq. 4.20; metafor's vtype "LS")."""
    (d, n1, n2), scalar = _arrays(d, n1, n2, names=["d", "n1", "n2"])
    if np.any(n1 <= 0) or np.any(n2 <= 0):
        raise ValueError("group sizes must be positive")
    return _out(1 / n1 + 1 / n2 + d**2 / (2 * (n1 + n2)), scalar)


def hedges_g(m1, sd1, n1, m2, sd2, n2, *, labels=None) -> EffectSize:
    """Standardised mean difference as Hedges' g, metafor ``escalc(measure="SMD")``:

    d = (m1 - m2) / s_pooled with s_pooled² = ((n1-1) sd1² + (n2-1) sd2²) / (n1 + n2 - 2);
    g = J d with the exact correction J(n1 + n2 - 2) of :func:`hedges_correction`;
    vi = 1/n1 + 1/n2 + g² / (2 (n1 + n2)) -- metafor's default vtype "LS" (the large-sample
    variance of Borenstein et al. eq. 4.20 evaluated at g; it is *not* multiplied by J²).
    """
    (m1, sd1, n1, m2, sd2, n2), names, scalar = _two_groups(m1, sd1, n1, m2, sd2, n2, labels)
    _fail(n1 + n2 - 2 <= 1, names, lambda i: "n1 + n2 must exceed 3 for Hedges' correction")
    m = n1 + n2 - 2
    sp = np.sqrt(((n1 - 1) * sd1**2 + (n2 - 1) * sd2**2) / m)
    g = hedges_correction(m) * (m1 - m2) / sp
    return _result(g, 1 / n1 + 1 / n2 + g**2 / (2 * (n1 + n2)), "SMD", scalar)


# --------------------------------------------------------------------------- from printed CIs
def _z_crit(level: float) -> float:
    if not 0 < level < 1:
        raise ValueError(f"level must lie between 0 and 1 (got {level})")
    return float(stats.norm.isf((1 - level) / 2))


def _ci_inputs(estimate, ci_low, ci_high, labels):
    (est, lo, hi), scalar = _arrays(estimate, ci_low, ci_high, names=["estimate", "ci_low", "ci_high"])
    names = _labels(labels, est.size)
    _finite({"estimate": est, "ci_low": lo, "ci_high": hi}, names)
    _fail(~(lo < hi), names, lambda i: f"CI lower limit {lo[i]:g} is not below the upper limit {hi[i]:g}")
    _fail(~((lo <= est) & (est <= hi)), names,
          lambda i: f"CI [{lo[i]:g}, {hi[i]:g}] does not contain its estimate {est[i]:g}")
    return est, lo, hi, names, scalar


def ratio_from_ci(estimate, ci_low, ci_high, level=0.95, *, labels=None) -> EffectSize:
    """A ratio (OR, RR, HR) printed with its CI -> log ratio and variance.

    yi = log(estimate); SE = (log(upper) - log(lower)) / (2 z_(1-alpha/2)) (Cochrane
    Handbook v6.3 sec 6.3.2; Altman & Bland 2011, BMJ 343:d2090). The ratio and both limits
    must be positive and the CI must contain the estimate. Use :func:`ci_asymmetry` to see
    whether the printed CI is symmetric on the log scale (a check on transcription).
    """
    est, lo, hi, names, scalar = _ci_inputs(estimate, ci_low, ci_high, labels)
    for key, a in (("ratio", est), ("CI lower limit", lo), ("CI upper limit", hi)):
        _fail(a <= 0, names, lambda i, a=a, key=key: f"non-positive {key} {a[i]:g} (ratios must be > 0)")
    se = (np.log(hi) - np.log(lo)) / (2 * _z_crit(level))
    return _result(np.log(est), se**2, "log ratio", scalar)


def ci_asymmetry(estimate, ci_low, ci_high, log=True):
    """Relative asymmetry of a printed CI about its estimate:
    ((upper - est) - (est - lower)) / (upper - lower), on the log scale when ``log``.
    0 means symmetric; values beyond about ±0.1 (after rounding) suggest a transcription
    error or a CI that was not computed on that scale."""
    (est, lo, hi), scalar = _arrays(estimate, ci_low, ci_high, names=["estimate", "ci_low", "ci_high"])
    if log:
        if np.any(est <= 0) or np.any(lo <= 0) or np.any(hi <= 0):
            raise ValueError("log-scale asymmetry needs a positive estimate and CI limits")
        est, lo, hi = np.log(est), np.log(lo), np.log(hi)
    if np.any(hi <= lo):
        raise ValueError("CI upper limit must exceed the lower limit")
    return _out(((hi - est) - (est - lo)) / (hi - lo), scalar)


def difference_from_ci(estimate, ci_low, ci_high, level=0.95, *, labels=None) -> EffectSize:
    """A difference (MD, RD, SMD) printed with its CI -> yi and variance,
    SE = (upper - lower) / (2 z_(1-alpha/2)) (Cochrane Handbook v6.3 sec 6.5.2.2). For
    small trials whose CI used t quantiles the Handbook divides by 2 t(n1+n2-2) instead."""
    est, lo, hi, _, scalar = _ci_inputs(estimate, ci_low, ci_high, labels)
    se = (hi - lo) / (2 * _z_crit(level))
    return _result(est, se**2, "difference", scalar)


# --------------------------------------------------------------------------- from test statistics
def d_from_t(t, n1, n2, *, labels=None) -> EffectSize:
    """Cohen's d from an independent-groups t statistic: d = t sqrt(1/n1 + 1/n2)
    (Borenstein et al. 2009 eq. 4.18 rearranged), variance by :func:`d_variance`. Multiply
    by ``hedges_correction(n1 + n2 - 2)`` for g (metafor ``escalc("SMD", ti=...)``)."""
    (t, n1, n2), scalar = _arrays(t, n1, n2, names=["t", "n1", "n2"])
    names = _labels(labels, t.size)
    _finite({"t": t, "n1": n1, "n2": n2}, names)
    _fail((n1 < 2) | (n2 < 2), names, lambda i: f"group sizes {n1[i]:g} and {n2[i]:g} must be at least 2")
    d = t * np.sqrt(1 / n1 + 1 / n2)
    return _result(d, d_variance(d, n1, n2), "d", scalar)


def d_from_f(F, n1, n2, sign=+1, *, labels=None) -> EffectSize:
    """d from F(1, df) comparing two groups: t = sign * sqrt(F), then :func:`d_from_t`.
    F carries no direction, so ``sign`` (+1 or -1, per study) must come from the paper."""
    (F, n1, n2, s), scalar = _arrays(F, n1, n2, sign, names=["F", "n1", "n2", "sign"])
    names = _labels(labels, F.size)
    _finite({"F": F}, names)
    _fail(F < 0, names, lambda i: f"F = {F[i]:g} is negative")
    _fail(~np.isin(s, (-1.0, 1.0)), names, lambda i: f"sign = {s[i]:g} must be +1 or -1")
    res = d_from_t(s * np.sqrt(F), n1, n2, labels=names)
    return _result(res.yi, res.vi, "d", scalar)


def r_from_chi2(chi2, n, sign=+1, *, labels=None) -> EffectSize:
    """phi = sign * sqrt(chi²(1) / N) from a 2x2 Pearson chi-square without continuity
    correction (Borenstein et al. 2009 sec 7; equals metafor's measure "PHI" in magnitude);
    variance (1 - phi²)² / (N - 1), the large-sample variance of a correlation
    (Borenstein et al. eq. 6.1). For pooling use :func:`correlation_to_z`."""
    (c2, n, s), scalar = _arrays(chi2, n, sign, names=["chi2", "n", "sign"])
    names = _labels(labels, c2.size)
    _finite({"chi2": c2, "n": n}, names)
    _fail(c2 < 0, names, lambda i: f"chi-square {c2[i]:g} is negative")
    _fail(n <= 1, names, lambda i: f"N = {n[i]:g} must exceed 1")
    _fail(c2 > n, names, lambda i: f"chi-square {c2[i]:g} exceeds N = {n[i]:g} (|phi| would exceed 1)")
    if not np.all(np.isin(s, (-1.0, 1.0))):
        raise ValueError("sign must be +1 or -1")
    r = s * np.sqrt(c2 / n)
    return _result(r, (1 - r**2) ** 2 / (n - 1), "phi", scalar)


def d_to_r(d, vd, n1=None, n2=None) -> EffectSize:
    """d -> point-biserial r (Borenstein et al. 2009 eqs. 7.5-7.6):
    r = d / sqrt(d² + a), vr = a² vd / (d² + a)³ with a = (n1 + n2)² / (n1 n2), or a = 4
    (equal groups) when n1, n2 are not given."""
    (d, vd), scalar = _arrays(d, vd, names=["d", "vd"])
    _positive_variance(vd, _labels(None, vd.size), "variance of d")
    if n1 is None or n2 is None:
        a = 4.0
    else:
        (g1, g2), _ = _arrays(n1, n2, names=["n1", "n2"])
        if np.any(g1 <= 0) or np.any(g2 <= 0):
            raise ValueError("group sizes must be positive")
        a = (g1 + g2) ** 2 / (g1 * g2)
    return _result(d / np.sqrt(d**2 + a), a**2 * vd / (d**2 + a) ** 3, "r", scalar)


def r_to_d(r, vr) -> EffectSize:
    """r -> d (Borenstein et al. 2009 eqs. 7.3-7.4): d = 2r / sqrt(1 - r²),
    vd = 4 vr / (1 - r²)³."""
    (r, vr), scalar = _arrays(r, vr, names=["r", "vr"])
    names = _labels(None, r.size)
    _fail(~((r > -1) & (r < 1)), names, lambda i: f"correlation r = {float(r[i])!r} is outside (-1, 1)")
    _positive_variance(vr, names, "variance of r")
    return _result(2 * r / np.sqrt(1 - r**2), 4 * vr / (1 - r**2) ** 3, "d", scalar)


def log_or_to_d(yi, vi) -> EffectSize:
    """log OR -> d by Hasselblad & Hedges (1995): d = log OR sqrt(3)/pi, vd = v 3/pi²
    (Borenstein et al. 2009 eqs. 7.1-7.2; metafor measure "OR2DL")."""
    (y, v), scalar = _arrays(yi, vi, names=["yi", "vi"])
    _positive_variance(v, _labels(None, v.size))
    return _result(y * math.sqrt(3) / math.pi, v * 3 / math.pi**2, "d", scalar)


def d_to_log_or(yi, vi) -> EffectSize:
    """d -> log OR (Borenstein et al. 2009 eqs. 7.9-7.10): log OR = d pi/sqrt(3),
    v = vd pi²/3 (metafor measure "D2ORL" with vd from :func:`d_variance`)."""
    (y, v), scalar = _arrays(yi, vi, names=["yi", "vi"])
    _positive_variance(v, _labels(None, v.size))
    return _result(y * math.pi / math.sqrt(3), v * math.pi**2 / 3, "log OR", scalar)


# --------------------------------------------------------------------------- multi-arm studies
def combine_arms(n1, m1, sd1, n2, m2, sd2):
    """Combine two arms into one group (Cochrane Handbook v6.3 sec 6.5.2.10, Table 6.5.a):
    N = N1 + N2, M = (N1 M1 + N2 M2) / N,
    SD = sqrt(((N1-1) SD1² + (N2-1) SD2² + N1 N2 / N (M1² + M2² - 2 M1 M2)) / (N - 1)).
    Returns (N, M, SD) as floats or arrays; the SD equals that of the pooled raw data."""
    (n1, m1, sd1, n2, m2, sd2), scalar = _arrays(n1, m1, sd1, n2, m2, sd2,
                                                 names=["n1", "m1", "sd1", "n2", "m2", "sd2"])
    if np.any(n1 < 1) or np.any(n2 < 1) or np.any(n1 + n2 < 2):
        raise ValueError("each arm needs at least one participant and the combined group two")
    if np.any(sd1 < 0) or np.any(sd2 < 0):
        raise ValueError("standard deviations must not be negative")
    n = n1 + n2
    m = (n1 * m1 + n2 * m2) / n
    sd = np.sqrt(((n1 - 1) * sd1**2 + (n2 - 1) * sd2**2 + n1 * n2 / n * (m1**2 + m2**2 - 2 * m1 * m2)) / (n - 1))
    return _out(n, scalar), _out(m, scalar), _out(sd, scalar)


def combine_arm_events(e1, n1, e2, n2):
    """Combine two arms of a dichotomous outcome: events and totals are added
    (Cochrane Handbook v6.3 sec 23.3.4). Returns (events, total)."""
    (e1, n1, e2, n2), scalar = _arrays(e1, n1, e2, n2, names=["e1", "n1", "e2", "n2"])
    if np.any(e1 < 0) or np.any(e2 < 0):
        raise ValueError("events must not be negative")
    if np.any(e1 > n1) or np.any(e2 > n2):
        raise ValueError("events exceed the arm's total")
    return _out(e1 + e2, scalar), _out(n1 + n2, scalar)


def split_shared_control(n, events=None, n_comparisons=2):
    """Split a control group shared by several comparisons into ``n_comparisons`` parts so
    that no participant is counted twice (Cochrane Handbook v6.3 sec 23.3.4; Higgins et al.).
    Returns the per-comparison n (and events), not rounded: (n_each,) or (n_each, events_each).
    Means and SDs of a split continuous control are unchanged."""
    if int(n_comparisons) != n_comparisons or n_comparisons < 2:
        raise ValueError(f"n_comparisons must be an integer of at least 2 (got {n_comparisons})")
    (na,), scalar = _arrays(n, names=["n"])
    if np.any(na <= 0):
        raise ValueError("control group size must be positive")
    n_each = _out(na / n_comparisons, scalar)
    if events is None:
        return (n_each,)
    (ea,), _ = _arrays(events, names=["events"])
    if np.any(ea < 0) or np.any(ea > na):
        raise ValueError("control events must lie between 0 and the group size")
    return n_each, _out(ea / n_comparisons, scalar)


# --------------------------------------------------------------------------- tables from percentages
def two_by_two_from_percentages(pct1: float, pct2: float, n1: float, n2: float) -> tuple[float, float, float, float]:
    """Cells (a, b, c, d) of a 2x2 table rebuilt from the percentage with the outcome in each
    group and the group sizes: a = p1 n1, b = (1 - p1) n1, c = p2 n2, d = (1 - p2) n2.

    Group sizes may be fractional (a printed share of a printed N); the cells are not rounded,
    so the table reproduces the printed percentages exactly. Every cell must be positive.
    """
    p1, p2 = pct1 / 100.0, pct2 / 100.0
    cells = (p1 * n1, (1 - p1) * n1, p2 * n2, (1 - p2) * n2)
    if min(n1, n2) <= 0 or not all(cell > 0 for cell in cells):
        raise ValueError(f"a 2x2 table needs positive cells; percentages {pct1:g}% and {pct2:g}% "
                         f"with group sizes {n1:g} and {n2:g} give {cells}")
    return cells


def pearson_chi2(a: float, b: float, c: float, d: float) -> float:
    """Pearson chi-square of a 2x2 table without continuity correction:
    N (ad - bc)^2 / ((a + b)(c + d)(a + c)(b + d))."""
    n = a + b + c + d
    return n * (a * d - b * c) ** 2 / ((a + b) * (c + d) * (a + c) * (b + d))


def phi_from_two_by_two(a: float, b: float, c: float, d: float) -> float:
    """phi = (ad - bc) / sqrt((a + b)(c + d)(a + c)(b + d)) (Borenstein et al. 2009, ch. 7)."""
    return (a * d - b * c) / math.sqrt((a + b) * (c + d) * (a + c) * (b + d))


def test_based_variance(estimate: float, z: float) -> float:
    """Variance of an estimate from its test statistic: SE = |estimate| / |z| (Cochrane
    Handbook v6.4 sec. 6.3.2, "obtaining standard errors from ... test statistics"); for a
    chi-square with one degree of freedom z = sqrt(chi2)."""
    if z == 0 or estimate == 0:
        raise ValueError("a test-based standard error needs a non-zero estimate and statistic")
    return (estimate / z) ** 2
