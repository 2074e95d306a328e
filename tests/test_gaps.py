"""Engine behaviour where metafor 3.8 had found silent failures or missing pieces: failed
refits, trim-and-fill's control and small k, k = 2 small-study tests, repeated labels, fit
statistics, s2w and the Q-profile tolerance. References: tests/reference/gaps_metafor.json
(made by tests/reference/gaps_metafor.R; R is never called here)."""
from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest
from numpy.testing import assert_allclose

from analysis.engine.checks import unique_labels
from analysis.engine.cumulative import cumulative_meta_analysis
from analysis.engine.influence import leave_one_out
from analysis.engine.meta_analysis import meta_analysis
from analysis.engine.small_study import begg_test, egger_test
from analysis.engine.trim_and_fill import trim_and_fill
from tests.tolerances import TOL

REF = json.loads((Path(__file__).parent / "reference" / "gaps_metafor.json").read_text())
BCG_Y, BCG_V = np.array(REF["bcg"]["yi"]), np.array(REF["bcg"]["vi"])
NW_Y, NW_V = np.array(REF["nielweise"]["yi"]), np.array(REF["nielweise"]["vi"])
COLUMNS = {"estimate": "estimate", "se": "se", "pval": "pval", "ci_low": "ci_low",
           "ci_high": "ci_high", "tau2": "tau2", "i2": "i2", "q": "q"}


def _ref(values):
    return np.array([np.nan if x is None else x for x in values], dtype=float)


@pytest.mark.parametrize("which", ["nielweise_cumul", "nielweise_l1o"])
def test_a_fit_that_fails_is_nan_in_every_column_like_metafor(which):
    fn = cumulative_meta_analysis if which.endswith("cumul") else leave_one_out
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        table = fn(NW_Y, NW_V)
    ref = REF[which]
    for ours, theirs in COLUMNS.items():
        expected = _ref(ref[theirs])
        got = table[ours].to_numpy(dtype=float)
        np.testing.assert_array_equal(np.isnan(got), np.isnan(expected), err_msg=ours)
        assert_allclose(got[~np.isnan(got)], expected[~np.isnan(expected)],
                        **TOL["iterative_derived"], err_msg=ours)
    if which.endswith("cumul"):
        assert table["estimate"].isna().any()  # the case that was silently common-effect


def _check_trimfill(res, ref):
    assert res.k0 == ref["k0"] and res.side == ref["side"]
    assert_allclose(res.data["yi"], ref["yi"], **TOL["closed_form"])
    assert_allclose(res.data["vi"], ref["vi"], **TOL["closed_form"])
    assert_allclose([res.estimate, res.se, res.ci_low, res.ci_high, res.pval],
                    [ref["estimate"], ref["se"], ref["ci_low"], ref["ci_high"], ref["pval"]],
                    **TOL["iterative_derived"])
    assert_allclose(res.tau2, ref["tau2"], **TOL["iterative_tau2"])


def test_trim_and_fill_passes_its_control_to_every_refit():
    ref = REF["trimfill_control"]
    ctrl = {"threshold": ref["control"]["threshold"], "maxiter": ref["control"]["maxiter"]}
    res = trim_and_fill(BCG_Y, BCG_V, threshold=ctrl["threshold"], control=ctrl)
    _check_trimfill(res, ref)
    assert_allclose(res.fit.i2, ref["i2"], **TOL["iterative_derived"])


def test_trim_and_fill_reml_with_k3_and_k0_2_fits_the_one_study_set():
    ref = REF["trimfill_k3"]
    rows = np.array(ref["rows"]) - 1
    _check_trimfill(trim_and_fill(BCG_Y[rows], BCG_V[rows]), ref)


def test_trim_and_fill_stops_when_a_refit_does_not_converge():
    assert "did not converge" in REF["trimfill_fails"]["error"]
    with pytest.raises(ValueError, match="did not converge"):
        trim_and_fill(BCG_Y, BCG_V, control={"maxiter": 1})
    with pytest.raises(ValueError, match="unknown control"):
        trim_and_fill(BCG_Y, BCG_V, control={"treshold": 1e-8})


def test_k2_small_study_tests_return_what_metafor_returns():
    ref = REF["k2"]
    y, v = BCG_Y[:2], BCG_V[:2]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # fewer than 10 studies
        egger = egger_test(y, v, method="FE")
        begg = begg_test(y, v)
    fe, lm = ref["regtest_fe"], ref["regtest_lm"]
    assert_allclose([egger.statistic, egger.pval, egger.limit_estimate, egger.limit_ci_low,
                     egger.limit_ci_high, egger.slope],
                    [fe["zval"], fe["pval"], fe["est"], fe["ci_low"], fe["ci_high"], fe["slope"]],
                    **TOL["ill_conditioned"])
    assert egger.lm_df == lm["dfs"] == 0
    assert_allclose([egger.lm_limit_estimate, egger.lm_slope], [lm["est"], lm["slope"]],
                    **TOL["ill_conditioned"])
    for name in ("zval", "pval", "ci_low", "ci_high"):
        assert lm[name] is None
    assert np.isnan([egger.lm_statistic, egger.lm_pval, egger.lm_limit_ci_low,
                     egger.lm_limit_ci_high]).all()
    assert (begg.tau, begg.pval) == (ref["ranktest"]["tau"], ref["ranktest"]["pval"])
    _check_trimfill(trim_and_fill(y, v, method="FE"), ref["trimfill_fe"])
    with pytest.raises(ValueError, match="k = 2"):
        egger_test(y, v, method="REML")


def test_repeated_labels_are_made_unique_as_metafor_does():
    given, expected = REF["labels"]["given"], REF["labels"]["made_unique"]
    assert unique_labels(given) == expected
    table = leave_one_out(BCG_Y[:6], BCG_V[:6], labels=given)
    assert list(table["study"]) == expected
    assert meta_analysis(BCG_Y[:6], BCG_V[:6], labels=given).labels == expected


@pytest.mark.parametrize("method", ["REML", "ML", "DL", "FE"])
def test_fit_statistics_match_metafor_fitstats(method):
    ref = REF["fitstats"][method]
    stats = meta_analysis(BCG_Y, BCG_V, method=method).fitstats()
    assert ref["names"] == ["logLik:", "deviance:", "AIC:", "BIC:", "AICc:"]
    assert_allclose([stats[n] for n in ("loglik", "deviance", "aic", "bic", "aicc")],
                    ref["values"], **TOL["iterative_derived"])


def test_knapp_hartung_factor_and_q_profile_tolerance():
    assert_allclose(meta_analysis(BCG_Y, BCG_V, test="knha").s2w, REF["s2w"]["value"],
                    **TOL["iterative_derived"])
    assert meta_analysis(BCG_Y, BCG_V).s2w == 1.0
    ref = REF["tau2_ci"]
    tight = meta_analysis(BCG_Y, BCG_V, ci_tol=ref["tol"][0]).tau2_ci
    loose = meta_analysis(BCG_Y, BCG_V, ci_tol=ref["tol"][1]).tau2_ci
    assert_allclose(tight, ref["tight"], **TOL["iterative_derived"])
    # uniroot stops at the same point as R's for the same tolerance
    assert_allclose(loose, ref["loose"], **TOL["iterative_derived"])
    assert abs(loose[1] - tight[1]) > 1e-4  # the tolerance is really used


def test_trim_and_fill_passes_the_root_finding_tolerance_to_paule_mandel_refits():
    ref = REF["trimfill_pm_tol"]
    y, v = np.array(ref["data_yi"]), np.array(ref["data_vi"])
    res = trim_and_fill(y, v, method="PM", control={"tol": ref["tol"]})
    _check_trimfill(res, ref)
    # without it, the refits stop elsewhere: the tolerance is really used
    assert abs(trim_and_fill(y, v, method="PM").tau2 - ref["tau2"]) > 1e-6
