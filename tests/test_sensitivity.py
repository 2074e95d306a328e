"""The sensitivity analyses and small-study tests (analysis.engine.influence, cumulative, gosh,
permutation, small_study, trim_and_fill) against metafor 3.8-1 (reference values in
tests/reference/sensitivity_metafor.json, produced once by tests/reference/sensitivity_metafor.R
with control threshold 1e-10; R is never called here).

Datasets (as shipped with metafor):
* bcg: Colditz GA et al. (1994) Efficacy of BCG vaccine in the prevention of tuberculosis.
  JAMA 271:698-702 (13 trials, log risk ratios; metafor's dat.bcg).
* hackshaw: Hackshaw AK, Law MR, Wald NJ (1997) The accumulated evidence on lung cancer and
  environmental tobacco smoke. BMJ 315:980-988 (37 studies, log odds ratios; dat.hackshaw1998).
* mcdaniel: McDaniel MA et al. (1994) The validity of employment interviews: a comprehensive
  review and meta-analysis. J Appl Psychol 79:599-616 (160 correlations as Fisher z;
  dat.mcdaniel1994).
"""
from __future__ import annotations

import itertools
import json
import math
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from analysis.engine.cumulative import cumulative_meta_analysis
from analysis.engine.gosh import gosh
from analysis.engine.influence import baujat, influence_diagnostics, leave_one_out
from analysis.engine.meta_analysis import meta_analysis
from analysis.engine.permutation import permutation_test
from analysis.engine import small_study
from analysis.engine.small_study import begg_test, egger_test, funnel_contours, pet_peese
from analysis.engine.trim_and_fill import trim_and_fill
from tolerances import TOL

REF = json.loads((Path(__file__).parent / "reference" / "sensitivity_metafor.json").read_text())
BCG_Y = np.array(REF["bcg"]["yi"])
BCG_V = np.array(REF["bcg"]["vi"])
BCG_YEAR = REF["bcg"]["year"]
BCG_ABLAT = np.array(REF["bcg"]["ablat"], dtype=float)
HS_Y = np.array(REF["hackshaw"]["yi"])
HS_V = np.array(REF["hackshaw"]["vi"])
DATA = {"bcg": (BCG_Y, BCG_V), "hackshaw": (HS_Y, HS_V),
        "mcdaniel": (np.array(REF["mcdaniel"]["yi"]), np.array(REF["mcdaniel"]["vi"]))}
# the R script's control = list(threshold = 1e-10, maxiter = 1000)
CTRL = {"threshold": REF["control"]["threshold"], "maxiter": REF["control"]["maxiter"]}
FITS = list(REF["fits"])  # REML_z, DL_z, FE_z, REML_knha, PM_z
FIT_COLUMNS = ["estimate", "se", "pval", "ci_low", "ci_high", "q", "q_pval", "tau2", "i2", "h2"]


def _tol(method: str) -> dict:
    return TOL["closed_form"] if method in ("FE", "DL") else TOL["iterative_derived"]


def _spec(name: str) -> tuple[str, str]:
    method, test = name.split("_")
    return method, test


# --------------------------------------------------------------------------- leave-one-out
@pytest.mark.parametrize("name", FITS)
def test_leave_one_out_matches_metafor_leave1out(name):
    method, test = _spec(name)
    ref = REF["fits"][name]["leave1out"]
    table = leave_one_out(BCG_Y, BCG_V, method=method, test=test, **CTRL)
    assert list(table.columns) == ["study", "estimate", "se", "statistic", "pval", "ci_low",
                                   "ci_high", "q", "q_pval", "tau2", "i2", "h2"]
    for col in FIT_COLUMNS:
        assert_allclose(table[col], ref[col], **_tol(method), err_msg=col)


def test_leave_one_out_with_default_control_matches_single_fits_of_models():
    # Same algorithm and stopping rule (threshold 1e-5) as analysis.engine.meta_analysis,
    # which follows metafor step by step: the vectorised fits agree with one-by-one fits.
    table = leave_one_out(HS_Y, HS_V, method="REML", test="knha")
    for i in range(HS_Y.size):
        keep = np.arange(HS_Y.size) != i
        one = meta_analysis(HS_Y[keep], HS_V[keep], method="REML", test="knha")
        assert table["tau2"][i] == pytest.approx(one.tau2, abs=1e-12)
        assert table["estimate"][i] == pytest.approx(one.estimate, rel=1e-11)
        assert table["ci_low"][i] == pytest.approx(one.ci_low, rel=1e-11)
        assert table["i2"][i] == pytest.approx(one.i2, rel=1e-10)


def test_leave_one_out_names_the_omitted_study():
    labels = REF["bcg"]["labels"]
    table = leave_one_out(BCG_Y, BCG_V, labels=labels, method="DL")
    assert list(table["study"]) == labels


# --------------------------------------------------------------------------- influence
@pytest.mark.parametrize("name", FITS)
def test_influence_diagnostics_match_metafor_influence(name):
    method, test = _spec(name)
    ref = REF["fits"][name]["influence"]
    table = influence_diagnostics(BCG_Y, BCG_V, method=method, test=test, **CTRL)
    for col in ("rstudent", "dffits", "cook_d", "cov_r", "tau2_del", "qe_del", "hat",
                "weight", "dfbetas"):
        assert_allclose(table[col], ref[col], **_tol(method), err_msg=col)
    assert_array_equal(table["influential"].to_numpy(), np.array(ref["influential"]))


def test_influence_flags_studies_under_the_common_effect_model():
    # metafor marks three BCG trials as influential in the FE model (reference above);
    # the rule is not vacuous on this dataset.
    table = influence_diagnostics(BCG_Y, BCG_V, method="FE")
    assert table["influential"].sum() == sum(REF["fits"]["FE_z"]["influence"]["influential"]) == 3


# --------------------------------------------------------------------------- Baujat
@pytest.mark.parametrize("name", FITS)
def test_baujat_matches_metafor(name):
    method, test = _spec(name)
    ref = REF["fits"][name]["baujat"]
    table = baujat(BCG_Y, BCG_V, method=method, test=test, **CTRL)
    assert_allclose(table["x"], ref["x"], **_tol(method))
    assert_allclose(table["y"], ref["y"], **_tol(method))


# --------------------------------------------------------------------------- cumulative
@pytest.mark.parametrize("name", FITS)
def test_cumulative_by_year_matches_metafor_cumul(name):
    method, test = _spec(name)
    ref = REF["fits"][name]["cumul"]
    labels = [str(i + 1) for i in range(BCG_Y.size)]
    table = cumulative_meta_analysis(BCG_Y, BCG_V, BCG_YEAR, labels=labels, method=method,
                                       test=test, **CTRL)
    assert list(table["study"]) == ref["slab"]  # stable order of tied years, as R's order()
    assert list(table["k"]) == list(range(1, BCG_Y.size + 1))
    assert list(table["order"]) == sorted(BCG_YEAR)
    for col in FIT_COLUMNS:
        assert_allclose(table[col], ref[col], **_tol(method), err_msg=col)


def test_cumulative_decreasing_reverses_distinct_years_and_keeps_ties_in_order():
    labels = [str(i + 1) for i in range(BCG_Y.size)]
    up = cumulative_meta_analysis(BCG_Y, BCG_V, BCG_YEAR, labels=labels, method="DL")
    down = cumulative_meta_analysis(BCG_Y, BCG_V, BCG_YEAR, labels=labels, method="DL",
                                      decreasing=True)
    assert list(down["order"]) == sorted(BCG_YEAR, reverse=True)
    # pooling all studies does not depend on the order
    assert down["estimate"].iloc[-1] == pytest.approx(up["estimate"].iloc[-1], rel=1e-12)


# --------------------------------------------------------------------------- GOSH
@pytest.mark.parametrize("method", ["FE", "DL", "REML"])
def test_gosh_every_subset_of_six_trials_matches_metafor(method):
    ref = REF["gosh"][method]
    result = gosh(BCG_Y[:6], BCG_V[:6], method=method, **CTRL)
    assert result.exact and len(result.table) == 63
    codes = (result.included.to_numpy() * (2 ** np.arange(6))).sum(axis=1)
    assert_array_equal(codes, ref["incl"])  # same subsets in the same order
    for col in ("k", "q", "i2", "h2", "tau2", "estimate"):
        assert_allclose(result.table[col], ref[col], **_tol(method), err_msg=col)


def test_gosh_random_subsets_are_reproducible_and_fit_their_studies():
    y, v = HS_Y[:20], HS_V[:20]
    a = gosh(y, v, method="FE", max_subsets=500, seed=7)
    b = gosh(y, v, method="FE", max_subsets=500, seed=7)
    assert not a.exact and len(a.table) == 500
    pd.testing.assert_frame_equal(a.table, b.table)
    assert (a.table["k"].diff().dropna() >= 0).all()  # ordered by size, as metafor
    for i in (0, 137, 499):
        rows = a.included.iloc[i].to_numpy()
        one = meta_analysis(y[rows], v[rows], method="FE")
        assert a.table["estimate"][i] == pytest.approx(one.estimate, rel=1e-12)
        assert a.table["k"][i] == rows.sum()


# --------------------------------------------------------------------------- permutation
@pytest.mark.parametrize("method", ["REML", "DL", "FE"])
def test_exact_permutation_test_matches_metafor_permutest(method):
    ref = REF["permutest"][method]
    y, v = BCG_Y[:6], BCG_V[:6]
    res = permutation_test(y, v, method=method, **CTRL)
    assert res.exact and res.n_perm == ref["int_only"]["n_perm"] == 64
    assert res.perm_pval == pytest.approx(ref["int_only"]["pval"], abs=1e-12)
    assert res.coefficients["statistic"][0] == pytest.approx(ref["int_only"]["zval"], rel=1e-8)
    res = permutation_test(y, v, X=BCG_ABLAT[:6], method=method, **CTRL)
    assert res.exact and res.n_perm == ref["mods"]["n_perm"] == 360
    assert_allclose(res.coefficients["statistic"], ref["mods"]["zval"], rtol=1e-8)
    assert_allclose(res.coefficients["perm_pval"], ref["mods"]["pval"], atol=1e-12)
    assert res.qm == pytest.approx(ref["mods"]["QM"], rel=1e-8)
    assert res.qm_perm_pval == pytest.approx(ref["mods"]["QMp"], abs=1e-12)


def test_permutation_pvalue_equals_brute_force_enumeration_with_single_fits():
    # Exact test for k = 9: all 512 sign patterns, each refitted one by one with
    # analysis.engine.meta_analysis; the p-value is the share with |z| >= observed |z| (Follmann &
    # Proschan 1999), which the vectorised enumeration must reproduce exactly.
    y, v = HS_Y[:9], HS_V[:9]
    observed = meta_analysis(y, v, method="REML").statistic
    z = [meta_analysis(np.array(s) * y, v, method="REML").statistic
         for s in itertools.product((1.0, -1.0), repeat=9)]
    expected = np.mean(np.abs(z) >= abs(observed) - math.sqrt(np.finfo(float).eps))
    res = permutation_test(y, v, n_perm=1000, method="REML")
    assert res.exact and res.n_perm == 512
    assert res.perm_pval == expected


def test_random_permutations_are_deterministic_and_close_to_the_exact_pvalue():
    y, v = HS_Y[:12], HS_V[:12]
    exact = permutation_test(y, v, method="REML", exact=True)
    a = permutation_test(y, v, n_perm=3000, seed=11, method="REML")
    b = permutation_test(y, v, n_perm=3000, seed=11, method="REML")
    assert not a.exact and a.n_perm == 3000
    assert a.to_dict() == b.to_dict()
    # Monte Carlo error of a proportion from 3000 draws: 4 standard errors
    se = math.sqrt(exact.perm_pval * (1 - exact.perm_pval) / 3000)
    assert abs(a.perm_pval - exact.perm_pval) < 4 * se
    c = permutation_test(HS_Y[:20], HS_V[:20], X=np.arange(20.0), n_perm=200, seed=1)
    d = permutation_test(HS_Y[:20], HS_V[:20], X=np.arange(20.0), n_perm=200, seed=1)
    assert c.to_dict() == d.to_dict() and not c.exact


# --------------------------------------------------------------------------- trim and fill
@pytest.mark.parametrize("name", list(REF["trimfill"]))
def test_trim_and_fill_matches_metafor_trimfill(name):
    ref = REF["trimfill"][name]
    parts = name.split("_")
    y, v = DATA[parts[0]]
    side = parts[3] if len(parts) > 3 else None
    res = trim_and_fill(y, v, method=parts[1], estimator=parts[2], side=side,
                          threshold=CTRL["threshold"])
    assert res.k0 == ref["k0"] and res.side == ref["side"]
    assert_array_equal(res.data["filled"].to_numpy(), np.array(ref["fill"]))
    assert_allclose(res.data["yi"], ref["yi"], **TOL["closed_form"])
    assert_allclose(res.data["vi"], ref["vi"], **TOL["closed_form"])
    tol = _tol(parts[1])
    for attr in ("estimate", "se", "tau2", "se_k0"):
        assert_allclose(getattr(res, attr), ref[attr], **tol, err_msg=attr)
    if "ci_low" in ref:
        assert_allclose([res.ci_low, res.ci_high, res.pval],
                        [ref["ci_low"], ref["ci_high"], ref["pval"]], **tol)
    if parts[2] == "R0":
        assert res.p_k0 == pytest.approx(ref["p_k0"], abs=1e-15)


def test_trim_and_fill_fills_studies_in_the_bcg_example():
    # not vacuous: metafor fills 4 studies on the right with the FE model and 7 on the left
    # for the passive smoking studies
    assert REF["trimfill"]["bcg_FE_L0"]["k0"] == 4
    assert REF["trimfill"]["hackshaw_REML_L0"]["k0"] == 7
    res = trim_and_fill(BCG_Y, BCG_V, method="FE")
    assert res.data["filled"].sum() == 4 and res.fit.k == 17


# --------------------------------------------------------------------------- Egger, Begg
@pytest.mark.parametrize("dataset", ["bcg", "hackshaw"])
@pytest.mark.parametrize("method", ["REML", "FE", "DL"])
def test_egger_rma_variant_matches_metafor_regtest(dataset, method):
    ref = REF["regtest"][f"{dataset}_rma_{method}"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # k = 13 is fine; no warning expected anyway
        res = egger_test(*DATA[dataset], method=method, **CTRL)
    tol = _tol(method)
    for attr, key in (("statistic", "zval"), ("pval", "pval"), ("slope", "slope"),
                      ("limit_estimate", "est"), ("limit_ci_low", "ci_low"),
                      ("limit_ci_high", "ci_high")):
        assert_allclose(getattr(res, attr), ref[key], **tol, err_msg=attr)
    assert_allclose(res.tau2, ref["tau2"], **TOL["iterative_tau2"])


@pytest.mark.parametrize("dataset", ["bcg", "hackshaw"])
def test_egger_classical_lm_variant_matches_metafor_regtest_lm(dataset):
    ref = REF["regtest"][f"{dataset}_lm"]
    res = egger_test(*DATA[dataset])
    assert res.lm_df == ref["dfs"]
    for attr, key in (("lm_statistic", "tval"), ("lm_pval", "pval"), ("lm_slope", "slope"),
                      ("lm_limit_estimate", "est"), ("lm_limit_ci_low", "ci_low"),
                      ("lm_limit_ci_high", "ci_high")):
        assert_allclose(getattr(res, attr), ref[key], **TOL["closed_form"], err_msg=attr)


@pytest.mark.parametrize("dataset", ["bcg", "hackshaw"])
def test_begg_matches_metafor_ranktest(dataset):
    ref = REF["ranktest"][dataset]
    res = begg_test(*DATA[dataset])
    assert res.exact
    assert res.tau == pytest.approx(ref["tau"], abs=1e-12)
    assert res.pval == pytest.approx(ref["pval"], abs=1e-12)


def test_begg_exact_distribution_against_a_hand_enumeration():
    # Kendall's exact null distribution for n = 5 by listing all 120 orderings.
    n = 5
    concordant = [sum(1 for i in range(n) for j in range(i + 1, n) if p[i] < p[j])
                  for p in itertools.permutations(range(n))]
    for s_stat in range(-10, 11, 2):  # S = C - D with C + D = 10
        c = (s_stat + 10) // 2
        if c > 5:
            p = np.mean(np.array(concordant) >= c)
        else:
            p = np.mean(np.array(concordant) <= c)
        assert small_study._kendall_exact_pval(n, s_stat) == pytest.approx(min(1.0, 2 * p), abs=1e-14)


@pytest.mark.parametrize("dataset", ["bcg", "hackshaw", "mcdaniel"])
def test_pet_peese_matches_weighted_lm_in_r(dataset):
    ref = REF["petpeese"][dataset]
    res = pet_peese(*DATA[dataset])
    for part in ("pet", "peese"):
        for attr in ("estimate", "se", "pval"):
            assert_allclose(getattr(res, f"{part}_{attr}"), ref[part][attr], **TOL["closed_form"])
    # conditional rule: PEESE when PET's intercept is significant at 5%
    expected = "PEESE" if ref["pet"]["pval"] < 0.05 else "PET"
    assert res.chosen == expected
    assert res.estimate == getattr(res, f"{expected.lower()}_estimate")


def test_pet_peese_rule_chooses_both_branches_across_datasets():
    # R reference: PET intercept p = 0.40 (BCG) and 0.95 (passive smoking) -> PET;
    # p = 7.6e-12 (employment interviews) -> PEESE.
    chosen = {d: pet_peese(*DATA[d]).chosen for d in DATA}
    assert chosen == {"bcg": "PET", "hackshaw": "PET", "mcdaniel": "PEESE"}


# --------------------------------------------------------------------------- funnel contours
def test_funnel_contours_are_normal_quantiles():
    table = funnel_contours(0.2, 0.5, levels=(0.90, 0.95, 0.99), n=11)
    assert set(table["level"]) == {0.90, 0.95, 0.99}
    row = table[(table["level"] == 0.95) & np.isclose(table["se"], 0.5)].iloc[0]
    # qnorm(0.975) = 1.959963984540054 (R)
    assert row["upper"] == pytest.approx(0.2 + 1.959963984540054 * 0.5, abs=1e-14)
    row = table[(table["level"] == 0.99) & np.isclose(table["se"], 0.5)].iloc[0]
    assert row["lower"] == pytest.approx(0.2 - 2.5758293035489004 * 0.5, abs=1e-14)  # qnorm(0.995)
    with pytest.raises(ValueError, match="levels"):
        funnel_contours(0, 1, levels=(95,))


# --------------------------------------------------------------------------- guards
def test_small_study_tests_warn_below_ten_studies_and_refuse_too_few():
    y, v = BCG_Y[:6], BCG_V[:6]
    for fn in (egger_test, begg_test, pet_peese):
        with pytest.warns(UserWarning, match="k = 6"):
            assert fn(y, v).k_sufficient is False
    # Egger's random-effects variant and PET-PEESE need k >= 3; the rank test is defined
    # from k = 2, as in metafor (tests/test_gaps.py checks its values)
    for fn in (egger_test, pet_peese):
        with pytest.raises(ValueError, match=r"k = 2"):
            fn(y[:2], v[:2])
    with pytest.raises(ValueError, match=r"k = 1"):
        begg_test(y[:1], v[:1])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert egger_test(BCG_Y, BCG_V).k_sufficient is True


def test_too_few_studies_for_the_method_raise_naming_k():
    with pytest.raises(ValueError, match=r"k = 1"):
        leave_one_out(BCG_Y[:1], BCG_V[:1])
    with pytest.raises(ValueError, match=r"k = 2"):
        influence_diagnostics(BCG_Y[:2], BCG_V[:2], method="REML")
    with pytest.raises(ValueError, match=r"k = 2"):
        trim_and_fill(BCG_Y[:2], BCG_V[:2])


def test_bad_input_names_the_study():
    v = BCG_V.copy()
    v[3] = 0.0
    labels = REF["bcg"]["labels"]
    for fn in (leave_one_out, influence_diagnostics, baujat, gosh, egger_test):
        with pytest.raises(ValueError, match=labels[3].split()[0]):
            fn(BCG_Y, v, labels=labels)
    with pytest.raises(ValueError, match="unknown tau"):
        leave_one_out(BCG_Y, BCG_V, method="XYZ")
    with pytest.raises(ValueError, match="order has 3 values"):
        cumulative_meta_analysis(BCG_Y, BCG_V, [1, 2, 3])


def test_results_convert_to_plain_python_values():
    values = {}
    values.update(egger_test(BCG_Y, BCG_V).to_dict())
    values.update(begg_test(BCG_Y, BCG_V).to_dict())
    values.update(trim_and_fill(BCG_Y, BCG_V).to_dict())
    values.update(pet_peese(BCG_Y, BCG_V).to_dict())
    values.update(permutation_test(BCG_Y[:6], BCG_V[:6]).to_dict())
    values.update(gosh(BCG_Y[:6], BCG_V[:6]).to_dict())
    for name, value in values.items():
        assert type(value) in (float, int, str, bool, type(None)), name


def test_fits_that_do_not_converge_are_reported_not_silent():
    # one Fisher scoring step is not enough for REML on the BCG data
    with pytest.warns(RuntimeWarning, match="did not converge"):
        table = leave_one_out(BCG_Y, BCG_V, method="REML", maxiter=1)
    assert table["tau2"].isna().any()
    with pytest.raises(ValueError, match="did not converge for the observed data"):
        permutation_test(BCG_Y[:6], BCG_V[:6], method="REML", maxiter=1)
    # with a 1e-10 threshold, 100 iterations are too few for 2 of the 360 orderings
    with pytest.warns(RuntimeWarning, match="did not converge in 2 of 360"):
        permutation_test(BCG_Y[:6], BCG_V[:6], X=BCG_ABLAT[:6], method="REML",
                           threshold=1e-10, maxiter=100)
    with pytest.warns(RuntimeWarning, match="did not converge"):
        gosh(BCG_Y[:6], BCG_V[:6], method="REML", maxiter=1)


def test_tables_and_results_name_the_method():
    table = leave_one_out(BCG_Y, BCG_V, method="REML", test="knha")
    assert table.attrs["summary"] == "Leave-one-out (REML, Knapp-Hartung, k = 13)"
    assert influence_diagnostics(BCG_Y, BCG_V, method="DL").attrs["method"] == "DL"
    assert "FE" in gosh(BCG_Y[:6], BCG_V[:6]).summary()
    assert "64 exact permutations" in permutation_test(BCG_Y[:6], BCG_V[:6]).summary()
    assert egger_test(BCG_Y, BCG_V).summary().startswith("Egger's test (REML")
    assert "L0, REML" in trim_and_fill(BCG_Y, BCG_V).summary()
