"""The engine's models (analysis.engine.tau2, meta_analysis, meta_regression, subgroups, robust,
multilevel) against metafor 3.8-1 (reference values in tests/reference/models_metafor.json,
produced once by tests/reference/models_metafor.R; R is never called here).

Datasets (as shipped with metafor):
* bcg_rr: Colditz GA et al. (1994) Efficacy of BCG vaccine in the prevention of
  tuberculosis. JAMA 271:698-702 (log risk ratios).
* raudenbush1985: Raudenbush SW (1984) Magnitude of teacher expectancy effects on pupil IQ.
  J Educ Psychol 76:85-97; Raudenbush & Bryk (1985) J Educ Stat 10:75-98 (SMDs).
* molloy2014_zcor: Molloy GJ, O'Carroll RE, Ferguson E (2014) Conscientiousness and
  medication adherence: a meta-analysis. Ann Behav Med 47:92-101 (Fisher z).
* normand1999_md: Normand SLT (1999) Meta-analysis: formulating, evaluating, combining,
  and reporting. Stat Med 18:321-359 (mean differences, length of stay).
* hine1989_rd: Hine LK et al. (1989) Meta-analytic evidence against prophylactic use of
  lidocaine in acute myocardial infarction. Arch Intern Med 149:2694-2698 (risk differences).
* hackshaw1998: Hackshaw AK, Law MR, Wald NJ (1997) The accumulated evidence on lung cancer
  and environmental tobacco smoke. BMJ 315:980-988 (log odds ratios).
* konstantopoulos2011: Konstantopoulos S (2011) Fixed effects and variance components
  estimation in three-level meta-analysis. Res Synth Methods 2:61-76.
"""
from __future__ import annotations

import json
import math
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose

from analysis.engine.meta_analysis import meta_analysis
from analysis.engine.meta_regression import meta_regression
from analysis.engine.multilevel import multilevel_meta_analysis
from analysis.engine.robust import robust_variance
from analysis.engine.subgroups import subgroup_analysis
from analysis.engine.tau2 import estimate_tau2
from tolerances import TOL

REF = json.loads((Path(__file__).parent / "reference" / "models_metafor.json").read_text())
DATA = REF["datasets"]
CLOSED = ("FE", "DL", "HS", "HE", "SJ")


def _tols(method: str):
    if method in CLOSED:
        return TOL["closed_form"], TOL["closed_form"]
    return TOL["iterative_tau2"], TOL["iterative_derived"]


def _fit(key):
    ds, method, test = key.split("|")
    d = DATA[ds]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return meta_analysis(d["yi"], d["vi"], method=method, test="z" if test == "z" else "knha",
                               knha_floor=test == "adhoc")


@pytest.mark.parametrize("key", sorted(REF["fits"]))
def test_meta_analysis_matches_metafor(key):
    """rma(yi, vi, method=, test=) with predict() and confint(), every estimator."""
    rec = REF["fits"][key]
    method = key.split("|")[1]
    tau_tol, tol = _tols(method)
    res = _fit(key)
    assert res.k == rec["k"]
    assert_allclose(res.tau2, rec["tau2"], **tau_tol)
    for name in ("estimate", "se", "statistic", "ci_low", "ci_high", "q", "i2", "h2", "weights"):
        assert_allclose(getattr(res, name), rec[name], **tol, err_msg=name)
    for name in ("pval", "q_pval"):  # p-values can be tiny: compare relative only
        assert_allclose(getattr(res, name), rec[name], rtol=1e-8, atol=0, err_msg=name)
    if method != "FE":
        assert_allclose(res.se_tau2, rec["se_tau2"], **tol, err_msg="se_tau2")
        assert_allclose([res.pi_low, res.pi_high], [rec["pi_low"], rec["pi_high"]], **tol)
        # Q-profile bounds come from uniroot() in metafor and from its port here.
        assert_allclose(res.tau2_ci, rec["tau2_ci"], **TOL["iterative_tau2"], err_msg="tau2_ci")
        assert_allclose(res.i2_ci, rec["i2_ci"], **TOL["iterative_derived"], err_msg="i2_ci")
        assert_allclose(res.h2_ci, rec["h2_ci"], **TOL["iterative_derived"], err_msg="h2_ci")
    else:
        # metafor's predict() for a common-effect model gives no PI; here it equals the CI.
        assert (res.pi_low, res.pi_high) == (res.ci_low, res.ci_high)


@pytest.mark.parametrize("key", sorted(k for k in REF["fits"] if k.endswith("|z")))
def test_estimate_tau2_matches_metafor(key):
    ds, method, _ = key.split("|")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        tau2 = estimate_tau2(DATA[ds]["yi"], DATA[ds]["vi"], method)
    assert_allclose(tau2, REF["fits"][key]["tau2"], **_tols(method)[0])
    assert isinstance(tau2, float)


def test_pm_and_q_profile_are_exact_not_just_within_uniroot_tolerance():
    """uniroot() stops at tol = eps^0.25 (~1.2e-4); reproducing R's zeroin step by step gives
    the very same root, far inside that tolerance (BCG data, Colditz et al. 1994)."""
    rec = REF["fits"]["bcg_rr|PM|z"]
    res = _fit("bcg_rr|PM|z")
    assert abs(res.tau2 - rec["tau2"]) < 1e-12
    assert max(abs(a - b) for a, b in zip(res.tau2_ci, rec["tau2_ci"])) < 1e-10


def test_knapp_hartung_floor_differs_from_plain_when_q_below_one():
    """Hackshaw et al. (1997) data: little heterogeneity, so the ad hoc floor max(1, q)
    widens the Knapp-Hartung interval; both match metafor (test="knha" / "adhoc")."""
    plain, floor = _fit("hackshaw1998|DL|knha"), _fit("hackshaw1998|DL|adhoc")
    ref_plain, ref_floor = REF["fits"]["hackshaw1998|DL|knha"], REF["fits"]["hackshaw1998|DL|adhoc"]
    assert_allclose(plain.se, ref_plain["se"], **TOL["closed_form"])
    assert_allclose(floor.se, ref_floor["se"], **TOL["closed_form"])
    assert ref_floor["se"] >= ref_plain["se"]


def test_summary_names_method_and_test():
    res = _fit("bcg_rr|REML|knha")
    line = res.summary()
    assert line.startswith("REML, Knapp-Hartung, k = 13: -0.71 [")
    assert "tau² = 0.313" in line and "I² = 92%" in line
    assert _fit("bcg_rr|DL|adhoc").summary().startswith("DL, Knapp-Hartung (ad hoc floor), k = 13")
    assert _fit("bcg_rr|FE|z").summary().startswith("Common-effect (inverse variance), z test, k = 13")


def test_study_table_and_to_dict():
    res = _fit("bcg_rr|REML|z")
    table = res.study_table()
    assert list(table.columns) == ["label", "yi", "vi", "se", "ci_low", "ci_high", "weight"]
    assert_allclose(table["weight"].sum(), 100.0, **TOL["closed_form"])
    assert_allclose(table["weight"], REF["fits"]["bcg_rr|REML|z"]["weights"], **TOL["iterative_derived"])
    assert_allclose(table["ci_high"] - table["yi"], 1.959963984540054 * np.sqrt(table["vi"]), **TOL["closed_form"])
    d = res.to_dict()
    json.dumps(d)  # plain Python values only
    assert type(d["estimate"]) is float and type(d["k"]) is int and type(d["method"]) is str
    assert d["tau2_ci_low"] == res.tau2_ci[0] and d["labels"][0] == "study 1"


def test_higgins_prediction_interval_uses_t_with_k_minus_2():
    """Higgins, Thompson & Spiegelhalter (2009) / Cochrane Handbook 10.10.4.3:
    mu ± t(k-2) sqrt(se² + tau²); the half-width ratio to the default (z) PI is t/z."""
    d = DATA["bcg_rr"]
    default = meta_analysis(d["yi"], d["vi"])
    higgins = meta_analysis(d["yi"], d["vi"], pi_method="higgins")
    assert default.pi_method == "metafor" and higgins.pi_df == 11
    ratio = (higgins.pi_high - higgins.estimate) / (default.pi_high - default.estimate)
    assert_allclose(ratio, 2.200985160082949 / 1.959963984540054, **TOL["closed_form"])  # qt(.975,11)/qnorm(.975)


@pytest.mark.parametrize("key", sorted(REF["regressions"]))
def test_meta_regression_matches_metafor(key):
    """rma(yi, vi, mods = ~ ablat + year) on the BCG trials (Colditz et al. 1994)."""
    rec = REF["regressions"][key]
    _, method, test = key.split("|")
    d = DATA["bcg_rr"]
    X = pd.DataFrame(rec["X"], columns=["ablat", "year"])
    res = meta_regression(d["yi"], d["vi"], X, method=method, test=test)
    tol = TOL["ill_conditioned"]
    table = res.coefficients
    assert list(table["term"]) == ["intercept", "ablat", "year"]
    for ours, theirs in (("estimate", "coef"), ("se", "se"), ("statistic", "statistic"),
                         ("ci_low", "ci_low"), ("ci_high", "ci_high"), ("pval", "pval")):
        assert_allclose(table[ours].to_numpy(), rec[theirs], **tol, err_msg=ours)
    assert_allclose(res.tau2, rec["tau2"], **TOL["iterative_tau2"])
    for name in ("qm", "qm_pval", "qe", "qe_pval", "i2", "h2", "r2"):
        assert_allclose(getattr(res, name), rec[name], **tol, err_msg=name)
    assert res.qm_df[0] == 2 and (res.qm_df[1] == 10 if test == "knha" else res.qm_df[1] is None)
    json.dumps(res.to_dict())
    assert res.summary().startswith(("REML meta-regression", "DL meta-regression",
                                     "ML meta-regression", "Common-effect"))


def test_subgroups_match_metafor():
    """BCG trials by allocation (Colditz et al. 1994): per-group REML, test for subgroup
    differences = rma(est, sei, mods=~group, method="FE") QM; mixed model with one tau²."""
    rec = REF["subgroups"]["bcg_alloc|REML"]
    d = DATA["bcg_rr"]
    res = subgroup_analysis(d["yi"], d["vi"], rec["groups"])
    assert list(res.groups) == ["random", "alternate", "systematic"]
    for g, r in res.groups.items():
        assert_allclose(r.estimate, rec["group_estimates"][g], **TOL["iterative_derived"])
        assert_allclose(r.se, rec["group_se"][g], **TOL["iterative_derived"])
        assert_allclose(r.tau2, rec["group_tau2"][g], **TOL["iterative_tau2"])
    assert_allclose(res.q_between, rec["q_between"], **TOL["iterative_derived"])
    assert res.df_between == rec["df_between"] == 2
    assert_allclose(res.p_between, rec["p_between"], **TOL["iterative_derived"])
    assert_allclose(res.moderator.qm, rec["mixed_qm"], **TOL["iterative_derived"])
    assert_allclose(res.moderator.tau2, rec["mixed_tau2"], **TOL["iterative_tau2"])
    assert list(res.table()["group"]) == ["random", "alternate", "systematic"]
    json.dumps(res.to_dict())


def test_subgroup_with_one_study_is_pooled_as_common_effect():
    d = DATA["bcg_rr"]
    groups = ["a"] * 12 + ["b"]
    res = subgroup_analysis(d["yi"], d["vi"], groups)
    single = res.groups["b"]
    assert single.method == "FE" and single.k == 1
    assert single.estimate == d["yi"][12]
    assert_allclose(single.se, math.sqrt(d["vi"][12]), **TOL["closed_form"])


@pytest.mark.parametrize("key", sorted(REF["robust"]))
def test_cluster_robust_matches_metafor(key):
    """robust(rma(...), cluster = district) on Konstantopoulos (2011): CR1, t(n - p)."""
    rec = REF["robust"][key]
    d = DATA["konstantopoulos2011"]
    if "year" in key:
        fit = meta_regression(d["yi"], d["vi"], pd.Series(d["year"], name="year", dtype=float))
    else:
        fit = meta_analysis(d["yi"], d["vi"])
    rb = robust_variance(fit, d["district"])
    assert rb.df == rec["df"] and rb.n_clusters == rec["n_clusters"]
    for name in ("se", "statistic", "pval", "ci_low", "ci_high"):
        assert_allclose(rb.coefficients[name].to_numpy(), rec[name], **TOL["ill_conditioned"], err_msg=name)
    if "qm" in rec:
        assert_allclose(rb.qm, rec["qm"], **TOL["ill_conditioned"])
        assert_allclose(rb.qm_pval, rec["qm_pval"], **TOL["ill_conditioned"])


def test_three_level_model_matches_rma_mv():
    """rma.mv(yi, vi, random = ~ 1 | district/school) (Konstantopoulos 2011)."""
    rec = REF["multilevel"]
    d = DATA["konstantopoulos2011"]
    res = multilevel_meta_analysis(d["yi"], d["vi"], d["district"])
    assert res.converged and res.n_clusters == 11
    assert_allclose(res.sigma2, rec["sigma2"], **TOL["optimizer"])
    assert_allclose(res.loglik, rec["logLik"], **TOL["optimizer"])
    for name in ("estimate", "se", "ci_low", "ci_high"):
        assert_allclose(res.coefficients[name].iloc[0], rec[name], **TOL["optimizer"], err_msg=name)


# --------------------------------------------------------------------------- bad input
def test_non_positive_variance_names_the_study():
    with pytest.raises(ValueError, match=r"Trial B: sampling variance vi = 0\.0 is not positive"):
        meta_analysis([0.1, 0.2, 0.3], [0.01, 0.0, 0.02], labels=["Trial A", "Trial B", "Trial C"])
    with pytest.raises(ValueError, match=r"study 3: sampling variance vi = -0\.1 is not positive"):
        estimate_tau2([0.1, 0.2, 0.3], [0.01, 0.02, -0.1])


def test_missing_values_are_errors_not_silent_nan():
    with pytest.raises(ValueError, match=r"study 2: effect size yi is nan"):
        meta_analysis([0.1, float("nan"), 0.3], [0.01, 0.02, 0.03])
    with pytest.raises(ValueError, match=r"study 1: sampling variance vi is nan"):
        meta_analysis([0.1, 0.2], [float("nan"), 0.02])


def test_length_mismatch():
    with pytest.raises(ValueError, match=r"yi has 3 values but vi has 2"):
        meta_analysis([0.1, 0.2, 0.3], [0.01, 0.02])
    with pytest.raises(ValueError, match=r"labels has 1 entries but there are 2 studies"):
        meta_analysis([0.1, 0.2], [0.01, 0.02], labels=["only one"])


@pytest.mark.parametrize("method", ["DL", "REML", "ML", "PM", "HS", "SJ", "HE", "EB"])
def test_too_few_studies_for_random_effects(method):
    with pytest.raises(ValueError, match=rf"method {method} \(random effects\) needs at least 2 studies .*k = 1"):
        meta_analysis([0.3], [0.01], method=method)


def test_other_argument_errors():
    with pytest.raises(ValueError, match=r"unknown tau² method 'XYZ'"):
        estimate_tau2([0.1, 0.2], [0.01, 0.02], "XYZ")
    with pytest.raises(ValueError, match=r"unknown test 'wald'"):
        meta_analysis([0.1, 0.2], [0.01, 0.02], test="wald")
    with pytest.raises(ValueError, match=r"needs k >= 3 \(k = 2\)"):
        meta_analysis([0.1, 0.2], [0.01, 0.02], pi_method="higgins")
    with pytest.raises(ValueError, match=r"at least 2 subgroups"):
        subgroup_analysis([0.1, 0.2], [0.01, 0.02], ["x", "x"])
    with pytest.raises(ValueError, match=r"number of clusters \(1\) must be larger"):
        robust_variance(meta_analysis([0.1, 0.2, 0.4], [0.01, 0.02, 0.03]), ["s", "s", "s"])
    with pytest.raises(ValueError, match=r"not of full column rank"):
        meta_regression([0.1, 0.2, 0.4, 0.5], [0.01, 0.02, 0.03, 0.04], np.ones(4))


def test_common_effect_allows_a_single_study():
    res = meta_analysis([0.3], [0.04], method="FE")
    assert res.estimate == 0.3 and res.q_df == 0 and res.i2 == 0.0
    assert_allclose(res.se, 0.2, **TOL["closed_form"])


def test_correlations_pooled_on_z_and_reported_as_r():
    """Molloy et al. (2014): metafor's REML estimate and CI on the z scale, back-transformed."""
    d, rec = DATA["molloy2014_zcor"], REF["fits"]["molloy2014_zcor|REML|z"]
    on_r = meta_analysis(d["yi"], d["vi"]).on_scale(np.tanh)
    assert_allclose([on_r["estimate"], on_r["ci_low"], on_r["ci_high"]],
                    np.tanh([rec["estimate"], rec["ci_low"], rec["ci_high"]]), **TOL["iterative_derived"])
    assert type(on_r["estimate"]) is float
