"""analysis.engine.effects against metafor's escalc() (tests/reference/effects_escalc.json, produced
once by tests/reference/effects_escalc.R with metafor 3.8-1) and textbook worked examples.

Datasets (as shipped with metafor):
* molloy2014: Molloy GJ, O'Carroll RE, Ferguson E (2014) Conscientiousness and medication
  adherence: a meta-analysis. Ann Behav Med 47:92-101.
* mcdaniel1994: McDaniel MA, Whetzel DL, Schmidt FL, Maurer SD (1994) The validity of
  employment interviews. J Appl Psychol 79:599-616.
* bcg: Colditz GA et al. (1994) Efficacy of BCG vaccine in the prevention of tuberculosis.
  JAMA 271:698-702.
* nielweise2007: Niel-Weise BS, Stijnen T, van den Broek PJ (2007) Anti-infective-treated
  central venous catheters. Intensive Care Med 33:2058-2068 (single- and double-zero tables).
* hine1989: Hine LK et al. (1989) Arch Intern Med 149:2694-2698.
* normand1999: Normand SLT (1999) Meta-analysis: formulating, evaluating, combining, and
  reporting. Stat Med 18:321-359.
* hackshaw1998: Hackshaw AK, Law MR, Wald NJ (1997) BMJ 315:980-988 (ORs with 95% CIs).
Worked examples: Borenstein M, Hedges LV, Higgins JPT, Rothstein HR (2009) Introduction to
Meta-Analysis, Wiley, chapters 6 and 7.
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from numpy.testing import assert_allclose

from analysis.engine import effects as E
from tolerances import TOL, printed

CASES = json.loads((Path(__file__).parent / "reference" / "effects_escalc.json").read_text())["cases"]
CF = TOL["closed_form"]


def _check(case: str, res, *, yi_transform=None):
    ref = CASES[case]
    yi = np.asarray(ref["yi"], dtype=float)
    vi = np.asarray(ref["vi"], dtype=float)
    got_y = np.asarray(res.yi if yi_transform is None else yi_transform(res.yi), dtype=float)
    np.testing.assert_array_equal(np.isnan(got_y), np.isnan(yi))
    assert_allclose(got_y, yi, **CF, equal_nan=True)
    assert_allclose(np.asarray(res.vi, float), vi, **CF, equal_nan=True)


@pytest.mark.parametrize("case", ["zcor_molloy2014", "zcor_mcdaniel1994"])
def test_fisher_z_matches_escalc_zcor(case):
    i = CASES[case]["inputs"]
    res = E.correlation_to_z(i["ri"], i["ni"])
    _check(case, res)
    assert res.measure == "ZCOR"
    assert_allclose(E.fisher_z_to_r(res.yi), i["ri"], **CF)


@pytest.mark.parametrize("measure,func", [("rr", E.log_risk_ratio), ("or", E.log_odds_ratio),
                                          ("rd", E.risk_difference)])
def test_two_by_two_matches_escalc_bcg(measure, func):
    i = CASES[f"{measure}_bcg"]["inputs"]
    _check(f"{measure}_bcg", func(i["ai"], i["n1i"], i["ci"], i["n2i"]))


def test_risk_difference_matches_escalc_hine1989():
    i = CASES["rd_hine1989"]["inputs"]
    _check("rd_hine1989", E.risk_difference(i["ai"], i["n1i"], i["ci"], i["n2i"]))


ZERO_CASES = sorted(c for c in CASES if "nielweise2007" in c)


@pytest.mark.parametrize("case", ZERO_CASES)
def test_zero_cells_follow_escalc_add_to_drop00(case):
    """Niel-Weise et al. (2007) has five single-zero tables and one double-zero table."""
    i = CASES[case]["inputs"]
    func = {"or": E.log_odds_ratio, "rr": E.log_risk_ratio, "rd": E.risk_difference}[case[:2]]
    args = (i["ai"], i["n1i"], i["ci"], i["n2i"])
    kwargs = dict(add=i["add"], to=i["to"], drop00=i["drop00"], labels=i["labels"])
    if i["drop00"]:
        with pytest.warns(RuntimeWarning, match=r"1 table\(s\) with no events .* left out .*: Yucel 2004"):
            res = func(*args, **kwargs)
    else:
        res = func(*args, **kwargs)
    _check(case, res)


def test_double_zero_table_is_nan_only_in_its_row():
    with pytest.warns(RuntimeWarning, match="Trial 2"):
        res = E.log_odds_ratio([3, 0, 5], [20, 30, 25], [1, 0, 2], [21, 28, 24],
                               labels=["Trial 1", "Trial 2", "Trial 3"])
    assert np.isnan(res.yi[1]) and np.isnan(res.vi[1])
    assert np.isfinite(res.yi[[0, 2]]).all()


def test_mean_difference_and_hedges_g_match_escalc_normand1999():
    i = CASES["md_normand1999"]["inputs"]
    args = (i["m1i"], i["sd1i"], i["n1i"], i["m2i"], i["sd2i"], i["n2i"])
    _check("md_normand1999", E.mean_difference(*args))
    # escalc(measure="SMD") with its default vtype="LS": exact J, vi = 1/n1 + 1/n2 + g²/(2N)
    _check("smd_normand1999", E.hedges_g(*args))


def test_d_to_log_or_matches_escalc_d2orl():
    i = CASES["d2orl_normand1999"]["inputs"]
    m1, sd1, n1, m2, sd2, n2 = (np.asarray(i[k], float) for k in ("m1i", "sd1i", "n1i", "m2i", "sd2i", "n2i"))
    sp = np.sqrt(((n1 - 1) * sd1**2 + (n2 - 1) * sd2**2) / (n1 + n2 - 2))
    d = (m1 - m2) / sp
    _check("d2orl_normand1999", E.d_to_log_or(d, E.d_variance(d, n1, n2)))


def test_log_or_to_d_matches_escalc_or2dl():
    i = CASES["or2dl_bcg"]["inputs"]
    _check("or2dl_bcg", E.log_or_to_d(*E.log_odds_ratio(i["ai"], i["n1i"], i["ci"], i["n2i"])))


def test_d_from_t_with_hedges_correction_matches_escalc_smd_ti():
    i = CASES["smd_from_t_normand1999"]["inputs"]
    n1, n2 = np.asarray(i["n1i"], float), np.asarray(i["n2i"], float)
    d = E.d_from_t(i["ti"], n1, n2)
    g = d.yi * E.hedges_correction(n1 + n2 - 2)
    _check("smd_from_t_normand1999", E.EffectSize(g, E.d_variance(g, n1, n2)))
    # F(1, df) = t²: same d once the sign is supplied
    f = E.d_from_f(np.square(i["ti"]), n1, n2, sign=np.sign(i["ti"]))
    assert_allclose(f.yi, d.yi, **CF)
    assert_allclose(f.vi, d.vi, **CF)


def test_phi_from_chi_square_matches_escalc_phi():
    i = CASES["phi_bcg"]["inputs"]
    ref = np.asarray(CASES["phi_bcg"]["yi"], float)
    res = E.r_from_chi2(i["chi2"], i["n"], sign=np.sign(ref))
    assert_allclose(res.yi, ref, **CF)
    assert_allclose(res.vi, (1 - ref**2) ** 2 / (np.asarray(i["n"], float) - 1), **CF)


def test_ratio_from_ci_hackshaw1998():
    i = CASES["or_ci_hackshaw1998"]["inputs"]
    res = E.ratio_from_ci(i["or"], i["or_lb"], i["or_ub"], labels=i["labels"])
    _check("or_ci_hackshaw1998", res)
    # metafor's shipped yi and vi for this dataset were derived the same way
    assert_allclose(res.yi, i["printed_yi"], **CF)
    assert_allclose(res.vi, i["printed_vi"], **CF)
    asym = E.ci_asymmetry(i["or"], i["or_lb"], i["or_ub"])
    assert np.all(np.abs(asym) < 0.2)  # two-decimal rounding of the printed ORs


def test_difference_from_ci_cochrane_formula():
    """Cochrane Handbook 6.5.2.2: SE = (upper - lower) / 3.92 for a 95% CI (z = 1.96)."""
    res = E.difference_from_ci(-2.5, -4.46, -0.54)
    assert_allclose(math.sqrt(res.vi), 3.92 / 3.919927969080108, **CF)
    assert res.yi == -2.5


def test_combine_arms_equals_pooled_raw_data():
    """Cochrane Handbook 6.5.2.10: the combined mean and SD equal those of the pooled data."""
    rng = np.random.default_rng(2009)
    a, b = rng.normal(10, 3, 37), rng.normal(12.5, 4, 52)
    n, m, sd = E.combine_arms(a.size, a.mean(), a.std(ddof=1), b.size, b.mean(), b.std(ddof=1))
    both = np.concatenate([a, b])
    assert n == 89
    assert_allclose([m, sd], [both.mean(), both.std(ddof=1)], **CF)
    assert E.combine_arm_events(12, 40, 9, 38) == (21.0, 78.0)
    assert E.split_shared_control(100, events=30) == (50.0, 15.0)
    assert E.split_shared_control(90, n_comparisons=3) == (30.0,)


# Borenstein et al. (2009) ch. 6-7 worked examples, printed to 4 decimals.
def test_borenstein_worked_examples():
    z = E.correlation_to_z(0.50, 100)  # ch. 6: z = 0.5493, Vz = 0.0103
    assert_allclose([z.yi, z.vi], [0.5493, 0.0103], **printed(4))
    d = E.log_or_to_d(0.9069, 0.0676)  # ch. 7: d = 0.5000, Vd = 0.0205
    assert_allclose([d.yi, d.vi], [0.5000, 0.0205], **printed(4))
    r = E.d_to_r(0.5000, 0.0205)  # ch. 7, n1 = n2 (a = 4): r = 0.2425, Vr = 0.0043
    assert_allclose([r.yi, r.vi], [0.2425, 0.0043], **printed(4))
    d2 = E.r_to_d(0.50, 0.0058)  # ch. 7: d = 1.1547, Vd = 0.0550
    assert_allclose([d2.yi, d2.vi], [1.1547, 0.0550], **printed(4))
    lor = E.d_to_log_or(0.5000, 0.0205)  # ch. 7: log OR = 0.9069, V = 0.0674
    assert_allclose([lor.yi, lor.vi], [0.9069, 0.0674], **printed(4))


def test_scalars_in_scalars_out_and_unpacking():
    res = E.hedges_g(10.0, 2.0, 20, 9.0, 2.5, 22)
    assert isinstance(res.yi, float) and isinstance(res.vi, float)
    yi, vi = res
    assert (yi, vi) == (res.yi, res.vi)
    assert isinstance(E.fisher_z(0.3), float)


# --------------------------------------------------------------------------- bad input
@pytest.mark.parametrize("call,message", [
    (lambda: E.correlation_to_z([0.2, 1.2], [50, 60], labels=["A 2001", "B 2003"]),
     r"B 2003: correlation r = 1\.2 is outside \(-1, 1\)"),
    (lambda: E.correlation_to_z([0.2, 0.3], [50, 3], labels=["A", "B"]),
     r"B: n = 3 is 3 or less"),
    (lambda: E.hedges_g([1, 2], [1.0, 0.0], [10, 10], [0, 0], [1, 1], [10, 10]),
     r"study 2: standard deviation sd1 = 0 is not positive"),
    (lambda: E.mean_difference(1, -1.0, 10, 0, 1, 10), r"study 1: standard deviation sd1 = -1"),
    (lambda: E.log_odds_ratio([5, 12], [10, 10], [3, 4], [10, 10], labels=["X", "Y"]),
     r"Y: treatment events 12 exceed the group size 10"),
    (lambda: E.log_risk_ratio([5], [10], [-1], [10]), r"study 1: control events -1 are negative"),
    (lambda: E.ratio_from_ci(2.5, 1.1, 2.0, labels=["Z 1999"]),
     r"Z 1999: CI \[1\.1, 2\] does not contain its estimate 2\.5"),
    (lambda: E.ratio_from_ci(0.0, -0.1, 2.0), r"non-positive ratio 0"),
    (lambda: E.difference_from_ci(1.0, 2.0, 1.5), r"CI lower limit 2 is not below the upper limit 1\.5"),
    (lambda: E.log_or_to_d(0.3, 0.0), r"study 1: variance = 0\.0 is not positive"),
    (lambda: E.correlation_to_z([0.1, float("nan")], [20, 30]), r"study 2: r is nan"),
    (lambda: E.mean_difference([1, 2], [1, 1], [10, 10], [0, 0], [1, 1], [10, 10, 10]),
     r"inputs have different lengths"),
    (lambda: E.log_odds_ratio([0], [10], [2], [10], to="none"), r"zero cells with to='none'"),
    (lambda: E.d_from_f(4.0, 10, 10, sign=0), r"sign = 0 must be \+1 or -1"),
    (lambda: E.r_from_chi2(150.0, 100), r"chi-square 150 exceeds N = 100"),
])
def test_bad_input_names_study_and_problem(call, message):
    with pytest.raises(ValueError, match=message):
        call()
