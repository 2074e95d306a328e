"""The review's syntheses (analysis.pooling.synthesis) against metafor.

Reference values: tests/reference/synthesis_metafor.json, produced once by
tests/reference/synthesis_metafor.R with R 4.2.2 and metafor 3.8.1 (Viechtbauer 2010,
J Stat Softw 36(3)) from metafor's own example data sets: dat.molloy2014 (correlations,
Fisher z), dat.bcg (odds ratios) and dat.normand1999 (standardised mean differences).
Estimates and intervals are metafor's ``predict(res, transf=)``, i.e. on the reader's scale.
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd
import pytest

from analysis.evidence import extraction
from analysis import review
from analysis.pooling import synthesis

REFERENCE = json.loads((Path(__file__).parent / "reference" / "synthesis_metafor.json").read_text())
DATASETS = REFERENCE["datasets"]
Q1 = synthesis.analysis_spec("q1", "webhelp_empowerment")  # correlations, pooled as Fisher z
ITERATIVE = 1e-8  # REML tau² is iterative (metafor's threshold 1e-5 on the step, converged further)
CLOSED = 1e-10  # DerSimonian-Laird is closed form


def _frame(dataset: dict, question: str, outcome: str, subgroups=None) -> pd.DataFrame:
    k = len(dataset["yi"])
    return pd.DataFrame({
        "study_id": dataset["study_id"], "label": dataset["study_id"], "year": dataset["year"],
        "outcome": [outcome] * k,
        "subgroup": subgroups or ["all"] * k,
        "measure": [dataset["measure"]] * k, "yi": dataset["yi"], "vi": dataset["vi"],
        "n": dataset["n"], "flags": [""] * k, "scenario": ["primary"] * k,
    })


@pytest.fixture
def reference_review(monkeypatch):
    """The review's analyses run on metafor's example data instead of data/.

    q1 web help seeking: dat.molloy2014[1:5] (r); q2 behaviour: dat.bcg[1:4] (OR);
    q2 intentions: dat.normand1999[1:3] (SMD); q2 attitudes: one study only; the other
    outcomes have none. Scenario "drop_first" drops each question's first row.
    """
    smd = DATASETS["smd"]
    tables = {
        "q1": _frame(DATASETS["zcor"], "q1", Q1.outcome,
                     subgroups=["forums", "forums", "search", "search", "self-help"]),
        "q2": pd.concat([
            _frame(DATASETS["logor"], "q2", "behaviour"),
            _frame(smd, "q2", "intentions"),
            _frame({**smd, **{key: smd[key][:1] for key in ("study_id", "year", "yi", "vi", "n")}},
                   "q2", "attitudes"),
        ], ignore_index=True),
    }

    def load(question, scenario):
        table = tables[question].copy()
        if scenario == "drop_first":
            table = table[table.groupby("outcome").cumcount() > 0].reset_index(drop=True)
        table["scenario"] = scenario
        return table

    # The review object asks extraction for each scenario's effect sizes; a fresh review is
    # built on these tables and forgotten afterwards, so no other test sees them.
    monkeypatch.setattr(extraction, "effect_sizes",
                        lambda question, scenario="primary", data_dir=None: load(question, scenario))
    monkeypatch.setattr(extraction, "scenarios", lambda question, data_dir=None: ["primary", "drop_first"])
    review.clear_cache()
    yield tables
    review.clear_cache()


def _compare(row: dict, expected: dict, tolerance: float) -> None:
    for key in ("estimate", "ci_low", "ci_high", "pi_low", "pi_high", "estimate_model_scale",
                "se_model_scale", "tau2", "i2", "q", "q_pval", "pval"):
        assert row[key] == pytest.approx(expected[key], rel=tolerance, abs=tolerance), key
        assert type(row[key]) is float, key


@pytest.mark.parametrize("question, outcome, dataset", [
    ("q1", Q1.outcome, "zcor"), ("q2", "behaviour", "logor"), ("q2", "intentions", "smd")])
def test_primary_model_matches_metafor_on_the_readers_scale(reference_review, question, outcome, dataset):
    expected = DATASETS[dataset]["primary"]
    row = review.current().pooled(question, outcome).as_dict()
    assert (row["method"], row["test"], row["k"]) == ("REML", "knha", expected["k"])
    _compare(row, expected, ITERATIVE)
    assert row["pooled"] is True
    assert row["n"] == sum(DATASETS[dataset]["n"])


@pytest.mark.parametrize("question, outcome, dataset", [
    ("q1", Q1.outcome, "zcor"), ("q2", "behaviour", "logor"), ("q2", "intentions", "smd")])
def test_dersimonian_laird_sensitivity_matches_metafor(reference_review, question, outcome, dataset):
    row = review.current().pooled(question, outcome, model="dl_z").as_dict()
    assert (row["method"], row["test"]) == ("DL", "z")
    _compare(row, DATASETS[dataset]["dl_z"], CLOSED)


def test_readers_scale_is_r_for_correlations_and_or_for_odds_ratios(reference_review):
    q1 = review.current().pooled("q1", Q1.outcome).as_dict()
    assert q1["measure"] == "r" and q1["estimate"] == pytest.approx(math.tanh(q1["estimate_model_scale"]), abs=CLOSED)
    q2 = review.current().pooled("q2", "behaviour").as_dict()
    assert q2["measure"] == "OR" and q2["estimate"] == pytest.approx(math.exp(q2["estimate_model_scale"]), rel=CLOSED)
    assert "REML, Knapp-Hartung" in q2["model"] and "k = 4" in q2["model"]


def test_one_or_no_study_is_not_pooled_and_says_so(reference_review):
    one = review.current().pooled("q2", "attitudes").as_dict()
    none = review.current().pooled("q2", "stigma").as_dict()
    assert (one["k"], one["pooled"], none["k"], none["pooled"]) == (1, False, 0, False)
    for row in (one, none):
        assert row["model"].startswith("not pooled")
        assert all(row[key] is None for key in ("tau2", "i2", "pval"))
    # one study: its own estimate and Wald interval are reported, not pooled (Handbook 14.1.4)
    yi, vi = float(one["effect_sizes"]["yi"].iloc[0]), float(one["effect_sizes"]["vi"].iloc[0])
    assert one["estimate"] == pytest.approx(yi, abs=1e-12)
    assert one["ci_low"] == pytest.approx(yi - 1.959963984540054 * math.sqrt(vi), abs=1e-12)
    assert none["estimate"] is None
    assert "Edinburgh" in one["model"] and "at least two" in one["model"]
    assert none["n"] is None and none["studies"] == ""


def test_results_table_has_one_row_per_outcome_scenario_and_model(reference_review):
    table = review.current().results.copy()
    assert list(table.columns) == list(synthesis.RESULT_COLUMNS)
    # every analysis: primary data (primary model + DL/z) and the drop_first scenario.
    assert len(table) == 3 * len(synthesis.ANALYSES)
    keys = table[["question", "outcome", "scenario", "model_name"]].apply(tuple, axis=1)
    assert keys.is_unique
    for value in table.to_numpy().ravel():
        assert value is None or type(value) in (str, bool, int, float), type(value)
        assert not (isinstance(value, float) and math.isnan(value))
    primary_only = review.current().primary_results.copy()
    assert len(primary_only) == len(synthesis.ANALYSES)
    assert set(primary_only["scenario"]) == {"primary"} and set(primary_only["model_name"]) == {"primary"}


def test_sensitivity_scenario_pools_fewer_studies(reference_review):
    dropped = review.current().pooled("q1", Q1.outcome, scenario="drop_first").as_dict()
    assert dropped["k"] == 4 and "ChristensenSmith1995" not in dropped["studies"]
    assert dropped["estimate"] != review.current().pooled("q1", Q1.outcome).as_dict()["estimate"]


@pytest.mark.parametrize("question, outcome, dataset", [
    ("q1", Q1.outcome, "zcor"), ("q2", "behaviour", "logor"), ("q2", "intentions", "smd")])
def test_cumulative_meta_analysis_matches_metafor_cumul(reference_review, question, outcome, dataset):
    expected = DATASETS[dataset]["cumulative"]
    table = review.current().question(question).sensitivity(outcome, "cumulative")
    assert list(table["added"]) == DATASETS[dataset]["study_id"]
    for column in ("estimate", "ci_low", "ci_high"):
        assert [float(v) for v in table[column]] == pytest.approx(expected[column], rel=ITERATIVE, abs=ITERATIVE)
    assert table["pooled"].tolist() == [False] + [True] * (len(table) - 1)


def test_subgroups_pool_only_where_two_or_more(reference_review):
    groups = review.current().pooled("q1", Q1.outcome).as_dict()["subgroups"].set_index("subgroup")
    assert groups.loc["forums", "k"] == 2 and groups.loc["forums", "pooled"] is True
    assert groups.loc["self-help", "pooled"] is False and groups.loc["self-help", "estimate"] is None
    assert groups.loc["forums", "subgroup_by"] == "form of web-based help seeking"


def test_effect_size_on_the_wrong_scale_is_refused_naming_the_study(reference_review, monkeypatch):
    table = reference_review["q1"].copy()
    table.loc[2, "measure"] = "SMD"
    with pytest.raises(ValueError, match="Axelssonetal2009.*measure 'SMD'.*pools ZCOR"):
        synthesis.run_analysis("q1", Q1.outcome, effect_sizes=table)


def test_missing_variance_is_refused_naming_the_study(reference_review, monkeypatch):
    table = reference_review["q1"].copy()
    table.loc[1, "vi"] = float("nan")
    with pytest.raises(ValueError, match="Christensenetal1999 has no usable vi"):
        synthesis.run_analysis("q1", Q1.outcome, effect_sizes=table)


def test_unknown_outcome_is_a_clear_error():
    with pytest.raises(KeyError, match="no analysis defined for question 'q1', outcome 'sleep'"):
        synthesis.analysis_spec("q1", "sleep")


def test_rows_of_one_study_count_its_participants_once(reference_review, monkeypatch):
    table = reference_review["q1"].copy()
    table.loc[1, "study_id"] = table.loc[0, "study_id"]  # two comparisons of one sample
    row = synthesis.run_analysis("q1", Q1.outcome, effect_sizes=table)
    n = DATASETS["zcor"]["n"]
    assert (row["k"], row["k_studies"], row["n"]) == (5, 4, max(n[0], n[1]) + sum(n[2:]))


def test_published_estimates_are_set_beside_this_reviews(reference_review):
    # Values as printed in the abstracts: Bizzotto et al. 2023 (J Med Internet Res 25:e36964)
    # "r=0.089; P=.009"; Ni et al. 2025 (BMC Psychiatry 25:528) "OR = 1.67, 95% CI: 1.05, 2.94".
    table = review.current().comparison.copy().set_index(["question", "outcome"])
    q1 = table.loc[("q1", "depression_webhelp")]
    assert (q1["published_measure"], q1["published_estimate"], q1["published_p"]) == ("r", 0.089, ".009")
    assert q1["published_ci_low"] is None and "online support groups" in q1["note"]
    behaviour = table.loc[("q2", "behaviour")]
    assert (behaviour["published_estimate"], behaviour["published_ci_low"], behaviour["published_ci_high"]) == (1.67, 1.05, 2.94)
    assert behaviour["estimate"] == pytest.approx(DATASETS["logor"]["primary"]["estimate"], rel=ITERATIVE)
    assert table.loc[("q2", "stigma"), "estimate"] is None


def test_every_outcome_in_the_review_data_has_an_analysis():
    # An outcome in data/ without an entry in ANALYSES would silently drop out of the book.
    for question in ("q1", "q2"):
        defined = {spec.outcome for spec in synthesis.ANALYSES if spec.question == question}
        for scenario in review.current().question(question).scenarios:
            outcomes = set(review.current().question(question).effect_sizes(scenario)["outcome"])
            assert outcomes <= defined, (question, scenario, outcomes - defined)


def test_results_on_the_review_data_pool_every_effect_size_once():
    table = review.current().results.copy()
    loaded = {}
    for record in table.to_dict("records"):
        key = (record["question"], record["scenario"])
        effects = loaded.setdefault(key, review.current().question(key[0]).effect_sizes(key[1])) if key not in loaded else loaded[key]
        spec = synthesis.analysis_spec(record["question"], record["outcome"])
        rows = effects[effects["outcome"] == (spec.source_outcome or spec.outcome)]
        if spec.population_group is not None:
            rows = rows[rows["population_group"] == spec.population_group]
        assert record["k"] == len(rows)
        assert record["pooled"] is (len(rows) >= 2)
        assert (record["estimate"] is None) is (len(rows) == 0)
        assert record["studies"].split("; ") == list(dict.fromkeys(rows.sort_values(["year", "study_id"])["study_id"])) or not len(rows)


def test_arms_compared_with_a_split_control_add_up_to_the_trial():
    # Shafran 2019 (10/138 information only, 9/111 regular and 9/57 open monitoring): with the
    # control split between the two comparisons, the rows hold 111 + 69 and 57 + 69 people,
    # which together are the trial's 306; the sensitivity analysis must not report fewer
    # participants than the primary one that combines the arms.
    primary = review.current().pooled("q2", "behaviour").as_dict()
    split = review.current().pooled("q2", "behaviour", "shared_control_combined").as_dict()
    assert split["k"] > primary["k"]
    assert split["n"] == primary["n"]
    rows = split["effect_sizes"]
    shafran = pd.to_numeric(rows.loc[rows["study_id"] == "Shafran2019", "n"])
    assert sorted(shafran.tolist()) == [126, 180]
