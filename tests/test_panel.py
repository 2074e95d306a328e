"""The small-k inference panel (analysis.pooling.panel): frequentist rows against metafor
(tests/reference/gaps_metafor.json, "panel"), Bayesian rows against analysis.engine.bayes, the
thresholds and priors read from data/, and the verdict."""
from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose

from analysis.pooling import panel as P
from analysis.engine.bayes import TauPrior, bayes_meta_analysis
from analysis.io.problems import DataError
from tests.tolerances import TOL

REF = json.loads((Path(__file__).parent / "reference" / "gaps_metafor.json").read_text())["panel"]
DATA = Path(__file__).parents[1] / "data"
HN = [("hn", TauPrior("half_normal", scale=0.5))]


def _row(table, method):
    return table.set_index("method").loc[method]


@pytest.mark.parametrize("case", ["bcg4", "bcg3", "bcg2"])
def test_frequentist_rows_match_metafor(case):
    ref = REF[case]
    res = P.small_k_panel(ref["yi"], ref["vi"], measure="logOR", priors=HN)
    table = res.table()
    for method, key in (("Common effect (z)", "common"), ("DerSimonian-Laird (z)", "dl"),
                        ("REML with Hartung-Knapp", "hksj"),
                        ("REML with Hartung-Knapp and ad hoc floor", "hksj_adhoc")):
        row, r = _row(table, method), ref[key]
        assert_allclose([row["estimate"], row["ci_low"], row["ci_high"]],
                        [r["estimate"], r["ci_low"], r["ci_high"]], **TOL["iterative_derived"])
        assert_allclose(row["tau"] ** 2, r["tau2"], **TOL["iterative_tau2"])
        if key == "common":
            assert r["pi_low"] == [] and np.isnan(row["pi_low"])  # metafor: no PI for a CE model
        else:
            assert_allclose([row["pi_low"], row["pi_high"]], [r["pi_low"], r["pi_high"]],
                            **TOL["iterative_derived"])
    pred = res.prediction_table().set_index("method")
    for method, key in (("REML, z prediction", "pred_z"), ("REML, t(k - 1) prediction", "pred_t1"),
                        ("REML, t(k - 2) prediction", "pred_t2")):
        if ref[key]:
            assert_allclose(pred.loc[method, ["pi_low", "pi_high"]].to_numpy(float),
                            [ref[key]["pi_low"], ref[key]["pi_high"]], **TOL["iterative_derived"])
        else:  # k = 2: t(0) does not exist
            assert np.isnan(pred.loc[method, "pi_low"])


def test_new_study_probabilities_from_t_k_minus_2():
    ref = REF["bcg4"]
    threshold = P.Threshold(0.0, 0.2, +1)
    pred = P.small_k_panel(ref["yi"], ref["vi"], measure="logOR", threshold=threshold,
                           priors=HN).prediction_table().set_index("method")
    row = pred.loc["REML, t(k - 2) prediction"]
    # R: 1 - pt((0 - mu) / s, k - 2) = pt((mu - 0) / s, k - 2); likewise at 0.2
    assert_allclose([row["p_new_beyond_null"], row["p_new_beyond_mid"]], ref["p_new_t2"],
                    **TOL["iterative_derived"])
    # the other direction of interest: P(new < null) = 1 - P(new > null)
    lower = P.small_k_panel(ref["yi"], ref["vi"], measure="logOR", priors=HN,
                            threshold=P.Threshold(0.0, 0.2, -1)).prediction_table()
    assert_allclose(_row(lower, "REML, t(k - 2) prediction")["p_new_beyond_null"],
                    1 - ref["p_new_t2"][0], **TOL["iterative_derived"])


def test_bayesian_rows_are_the_posterior():
    ref = REF["bcg4"]
    threshold = P.Threshold(0.0, 0.2, -1)
    prior = TauPrior("half_cauchy", scale=0.5)
    res = P.small_k_panel(ref["yi"], ref["vi"], measure="logOR", threshold=threshold,
                          priors=[("hc", prior)])
    post = bayes_meta_analysis(ref["yi"], ref["vi"], prior=prior)
    row = res.table().iloc[-1]
    assert row["method"] == "Bayesian (half-cauchy(0.5) prior for tau)"
    assert_allclose([row["estimate"], row["ci_low"], row["ci_high"], row["pi_low"], row["pi_high"]],
                    [post.mu.median, post.mu.ci_low, post.mu.ci_high, post.theta_new.ci_low,
                     post.theta_new.ci_high], rtol=0, atol=1e-12)
    assert_allclose([row["p_effect_beyond_null"], row["p_effect_beyond_mid"],
                     row["p_new_beyond_null"], row["p_new_beyond_mid"]],
                    [1 - post.prob_mu_above(0.0), 1 - post.prob_mu_above(-0.2),
                     1 - post.prob_new_above(0.0), 1 - post.prob_new_above(-0.2)],
                    rtol=0, atol=1e-12)


def test_verdict_holds_or_names_the_methods_that_differ():
    ref = REF["bcg4"]
    # BCG trials 1-4: every method puts the effect below no effect, and excludes it
    res = P.small_k_panel(ref["yi"], ref["vi"], measure="logOR", priors=HN)
    t = res.table()
    assert res.holds == (t["direction"].nunique() == 1 and t["excludes_null"].nunique() == 1)
    # a case where the common-effect interval excludes 0 but Hartung-Knapp's does not
    y, v = [0.30, 0.05, 0.45], [0.01, 0.02, 0.03]
    res = P.small_k_panel(y, v, measure="SMD", priors=HN)
    t = res.table()
    assert bool(t.loc[0, "excludes_null"]) != bool(_row(t, "REML with Hartung-Knapp and ad hoc floor")["excludes_null"])
    assert not res.holds
    assert res.verdict.startswith("depends on the method: the interval excludes no effect under ")
    for method in t["method"]:
        assert method in res.verdict
    # all agree: holds, worded for readers
    res = P.small_k_panel([0.5, 0.6, 0.55], [0.001, 0.001, 0.001], measure="SMD", priors=HN)
    assert res.holds and res.verdict == ("holds under every method: the pooled effect lies above "
                                         "no effect and every interval excludes no effect")


def test_hksj_narrower_than_common_effect_is_flagged():
    # nearly identical estimates: the Knapp-Hartung factor q is far below 1
    y, v = [0.30, 0.301, 0.299, 0.3], [0.04, 0.05, 0.03, 0.06]
    res = P.small_k_panel(y, v, measure="SMD", priors=HN)
    t = res.table().set_index("method")
    width = lambda m: t.loc[m, "ci_high"] - t.loc[m, "ci_low"]  # noqa: E731
    assert res.hksj_narrower_than_fe == (width("REML with Hartung-Knapp") < width("Common effect (z)"))
    assert res.hksj_narrower_than_fe
    assert any("ad hoc floor" in note for note in res.notes)
    assert width("REML with Hartung-Knapp and ad hoc floor") >= width("Common effect (z)") - 1e-12


def test_k2_leaves_out_the_improper_prior_and_refuses_k1():
    res = P.small_k_panel([0.3, 0.1], [0.05, 0.08], measure="SMD",
                          priors=[("u", TauPrior("uniform")), ("hn", TauPrior("half_normal", scale=0.5))])
    assert not any("uniform" in m for m in res.table()["method"])
    assert any("improper" in note for note in res.notes)
    with pytest.raises(ValueError, match="k = 1"):
        P.small_k_panel([0.3], [0.05], measure="SMD", priors=HN)


def test_result_is_frozen_and_tables_are_dataframes():
    res = P.small_k_panel(REF["bcg4"]["yi"], REF["bcg4"]["vi"], measure="logOR", priors=HN)
    with pytest.raises(dataclasses.FrozenInstanceError):
        res.verdict = "x"  # type: ignore[misc]
    assert isinstance(res.table(), pd.DataFrame) and list(res.table().columns) == list(P._COLUMNS)


def test_thresholds_are_read_and_put_on_the_analysis_scale():
    raw = pd.read_csv(DATA / "thresholds.csv", dtype=str)
    got = P.load_thresholds()
    assert set(got) == set(zip(raw["question"], raw["outcome"]))
    for _, row in raw.iterrows():
        th = got[(row["question"], row["outcome"])]
        mid = float(row["mid"])
        expected = {("ZCOR", "r"): math.atanh(mid), ("logOR", "SMD"): mid * math.pi / math.sqrt(3),
                    ("SMD", "SMD"): mid}[(row["measure"], row["mid_scale"])]
        assert th.mid == pytest.approx(expected, abs=1e-15)
        assert th.direction == (1 if row["direction"] == "positive" else -1)
        assert th.mid_point == pytest.approx(th.null + th.direction * expected, abs=1e-15)


def test_every_analysis_has_a_threshold_and_priors():
    from analysis.pooling.synthesis import ANALYSES

    thresholds = P.load_thresholds()
    for spec in ANALYSES:
        assert (spec.question, spec.outcome) in thresholds
        priors = P.load_priors(spec.analysis_measure)
        assert {row["role"] for _, _, row in priors} >= {"weakly_informative", "heavy_tailed"}


def test_a_bad_prior_table_names_file_row_and_column(tmp_path):
    text = (DATA / "priors.csv").read_text(encoding="utf-8").splitlines()
    header = text[0].split(",")
    bad = text[1].split(",")
    bad[header.index("scale")] = "-1"
    (tmp_path / "priors.csv").write_text("\n".join([text[0], ",".join(bad)] + text[2:]) + "\n",
                                         encoding="utf-8")
    with pytest.raises(DataError) as info:
        P.load_priors(data_dir=tmp_path)
    problem = info.value.problems[0]
    assert (problem.file, problem.row, problem.column) == ("priors.csv", 2, "scale")


def test_footnote_states_the_verdict_and_the_probability_ranges():
    ref = REF["bcg4"]
    priors = HN + [("hc", TauPrior("half_cauchy", scale=0.5))]
    res = P.small_k_panel(ref["yi"], ref["vi"], measure="logOR", priors=priors,
                          threshold=P.Threshold(0.0, 0.2, -1))
    note = res.footnote()
    assert res.verdict in note and "(2 priors)" in note
    p = sorted(r.p_effect_beyond_mid for r in res.rows if math.isfinite(r.p_effect_beyond_mid))
    assert f"{p[0]:.2f}" in note and f"{p[-1]:.2f}" in note


def test_dependent_effects_add_a_cr2_row_and_independent_ones_do_not():
    from analysis.engine.meta_analysis import meta_analysis
    from analysis.engine.robust import cluster_robust_cr2

    d = json.loads((Path(__file__).parent / "reference" / "robust_clubsandwich.json").read_text())["bcg"]
    res = P.small_k_panel(d["yi"], d["vi"], measure="logOR", priors=HN, clusters=d["cluster"])
    method = "REML with cluster-robust CR2 (3 clusters)"
    row = _row(res.table(), method)
    cr2 = cluster_robust_cr2(meta_analysis(d["yi"], d["vi"]), d["cluster"]).coefficients.iloc[0]
    assert_allclose([row["estimate"], row["ci_low"], row["ci_high"]],
                    [cr2["estimate"], cr2["ci_low"], cr2["ci_high"]], rtol=0, atol=1e-14)
    assert method in res.verdict or res.holds
    alone = P.small_k_panel(d["yi"], d["vi"], measure="logOR", priors=HN,
                            clusters=[str(i) for i in range(len(d["yi"]))])
    assert not any("CR2" in m for m in alone.table()["method"])


def test_engine_tables_are_in_the_codebook():
    from analysis.io import plan_tables

    codebook = (DATA / "README.md").read_text(encoding="utf-8")
    for schema in plan_tables.ENGINE_TABLES.values():
        assert f"`{schema.file}`" in codebook, schema.file
        assert [c for c in schema.names if f"`{c}`" not in codebook] == []
