"""Display rules: subgroup tests, prediction intervals, decimals, published numbers as printed.

Reference: tests/reference/routes_metafor.json (routes_metafor.R, metafor 3.8-1): question 1
pooled by the log odds ratio route, with metafor's prediction interval and the t(k - 2) one
written out (Higgins, Thompson & Spiegelhalter 2009; Cochrane Handbook v6.4 sec. 10.10.4.3).
"""
from __future__ import annotations

import json
import math

import matplotlib.pyplot as plt
import pytest

from analysis import review
from analysis.pooling import display_rules, synthesis
from analysis.engine.meta_analysis import meta_analysis
from analysis.engine.subgroups import subgroup_analysis
from analysis.figures import forest_plots
from analysis.io.paths import REPO_ROOT

REF = json.loads((REPO_ROOT / "tests/reference/routes_metafor.json").read_text())["cases"]
TOL = 1e-8  # REML is iterative


@pytest.mark.parametrize("sizes, shown", [
    ({"a": 2, "b": 3}, True), ({"a": 1, "b": 4}, False), ({"a": 5}, False), ({}, False)])
def test_subgroup_difference_test_needs_two_studies_in_every_subgroup(sizes, shown):
    assert display_rules.show_subgroup_test(sizes) is shown
    assert (display_rules.subgroup_test_note(sizes) == "") is shown


def test_question_1_pooled_by_the_log_odds_ratio_route_matches_metafor():
    # metafor on the effect sizes escalc gives for the printed numbers of the five studies
    # (tests/reference/routes_metafor.R); the same five effect sizes from the data, whatever
    # else the review holds, are R's to 1e-8, and the engine pools R's exactly as rma does.
    ref = REF["q1_log_or_route"]
    data = review.current().pooled("q1", "depression_webhelp").as_dict()["effect_sizes"].set_index("study_id")
    for study, yi, vi in zip(ref["studies"], ref["yi"], ref["vi"]):
        assert data.loc[study, "yi"] == pytest.approx(yi, abs=TOL) and data.loc[study, "vi"] == pytest.approx(vi, abs=TOL)
    result = meta_analysis(ref["yi"], ref["vi"], method="REML", test="knha")
    assert result.estimate == pytest.approx(ref["estimate"], abs=TOL)
    assert result.se == pytest.approx(ref["se"], abs=TOL)
    assert result.tau2 == pytest.approx(ref["tau2"], abs=TOL)
    intervals = display_rules.prediction_intervals(result)
    assert intervals.shown and intervals.df == 3
    assert intervals.shown_low == pytest.approx(ref["pi_low_t_k_minus_2"], abs=TOL)
    assert intervals.shown_high == pytest.approx(ref["pi_high_t_k_minus_2"], abs=TOL)
    # metafor's own interval is kept for the methods panel
    assert intervals.metafor_low == pytest.approx(ref["pi_low_metafor"], abs=TOL)
    row = synthesis.pool(synthesis.analysis_spec("q1", "depression_webhelp"),
                         _effect_table(ref)).as_dict()
    low, high = display_rules.prediction_interval_of_row(row)
    assert (low, high) == pytest.approx((math.exp(ref["pi_low_t_k_minus_2"]),
                                         math.exp(ref["pi_high_t_k_minus_2"])), rel=1e-8)


def _effect_table(ref):
    import pandas as pd

    k = len(ref["yi"])
    return pd.DataFrame({"study_id": ref["studies"], "label": ref["studies"], "year": [2000 + i for i in range(k)],
                         "outcome": ["depression_webhelp"] * k, "subgroup": ["all"] * k,
                         "measure": ["logOR"] * k, "yi": ref["yi"], "vi": ref["vi"], "n": [None] * k,
                         "flags": [""] * k, "scenario": ["primary"] * k})


def test_no_prediction_interval_below_three_studies():
    fit = meta_analysis([0.1, 0.3], [0.02, 0.03], method="REML", test="knha")
    intervals = display_rules.prediction_intervals(fit)
    assert not intervals.shown and intervals.shown_low is None
    assert display_rules.prediction_interval_of_row({"k": 2, "measure": "OR",
                                                     "estimate_model_scale": 0.1,
                                                     "se_model_scale": 0.1, "tau2": 0.0}) is None


def test_forest_plot_leaves_out_a_subgroup_test_with_single_study_subgroups():
    row = review.current().pooled("q1", "depression_webhelp").as_dict()
    rows = row["effect_sizes"]
    subgroup = subgroup_analysis(rows["yi"].to_numpy(float), rows["vi"].to_numpy(float),
                                        rows["subgroup"].astype(str).to_numpy(), method="REML",
                                        test="knha", labels=list(rows["label"]))
    fig = forest_plots.forest_plot(row["result"], scale="exp", labels=list(rows["label"]), subgroup=subgroup)
    texts = " ".join(t.get_text() for ax in fig.axes for t in ax.texts)
    plt.close(fig)
    assert "Test for subgroup differences: Q" not in texts
    assert "not shown (a subgroup has fewer than two studies)" in texts


def test_decimals_by_measure_and_published_numbers_as_printed():
    assert display_rules.format_estimate("OR", 2.8834) == "2.88"
    assert display_rules.format_estimate("SMD", -0.0586) == "\u22120.06"
    assert display_rules.printed_number("0.245") == "0.245"  # never re-rounded to 0.24
    assert display_rules.printed_number("") == "–"
