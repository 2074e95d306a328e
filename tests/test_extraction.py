"""Effect sizes from the printed statistics, against metafor 3.8-1 and the textbook formulas.

Reference values: tests/reference/extraction_metafor.json, written once by
tests/reference/extraction_metafor.R (escalc for Fisher z and 2x2 log odds ratios; the Wald
back-calculation of a log OR and of a risk difference from a 95% CI written out in base R).
Conversions are checked against the closed forms of Borenstein et al. 2009, Introduction to
Meta-Analysis, ch. 7 (eqs. 7.1-7.2, 7.5-7.6, 7.9-7.10) and eq. 4.20 for var(d).
"""
from __future__ import annotations

import json
import math
import shutil

import pytest

from analysis.evidence import extraction
from analysis.reviewers import reconcile
from analysis.io.problems import DataError
from analysis.io.paths import REPO_ROOT

REF = json.loads((REPO_ROOT / "tests/reference/extraction_metafor.json").read_text())["cases"]
# 2x2 tables rebuilt from printed percentages and the correlation route: routes_metafor.R
ROUTES = json.loads((REPO_ROOT / "tests/reference/routes_metafor.json").read_text())["cases"]
TOL = 1e-10


def row(table, study_id, outcome=None):
    rows = table[table["study_id"] == study_id]
    if outcome is not None:
        rows = rows[rows["outcome"] == outcome]
    assert len(rows) == 1, rows
    return rows.iloc[0]


def z_from_log_or(y: float, v: float) -> tuple[float, float]:
    """log OR -> d (eqs. 7.1-7.2) -> r with a = 4 (eqs. 7.5-7.6) -> Fisher z (delta method)."""
    d, vd = y * math.sqrt(3) / math.pi, v * 3 / math.pi ** 2
    r, vr = d / math.sqrt(d ** 2 + 4), 16 * vd / (d ** 2 + 4) ** 3
    return math.atanh(r), vr / (1 - r ** 2) ** 2


def test_q1_primary_route_is_the_log_odds_ratio_for_every_study():
    primary = extraction.effect_sizes("q1")
    assert set(primary["measure"]) == {"logOR"}
    assert extraction.primary_route("q1")["route"] == "log_odds_ratio"
    assert extraction.primary_route("q1")["alternative"] == "correlation"


def test_q1_gould_table_rebuilt_from_percentages_matches_metafor():
    gould = row(extraction.effect_sizes("q1"), "Gould2002")
    assert gould["yi"] == pytest.approx(ROUTES["gould2002_or"]["yi"], abs=TOL)
    assert gould["vi"] == pytest.approx(ROUTES["gould2002_or"]["vi"], abs=TOL)
    assert gould["n"] == 519 and gould["label"] == "Gould 2002" and gould["year"] == 2002
    # its scenario takes the standard error from the printed chi-square instead
    alternative = row(extraction.effect_sizes("q1", "gould_group_sizes"), "Gould2002")
    assert alternative["yi"] == pytest.approx(gould["yi"], abs=TOL)
    assert alternative["vi"] == pytest.approx(ROUTES["gould2002_or"]["test_based_vi"], abs=TOL)


def test_q1_rebuilt_table_is_checked_against_the_printed_chi_square():
    checks = extraction.conversion_checks("q1").set_index("extraction_id")
    chi2 = ROUTES["gould2002_or"]["chi2"]
    assert checks.loc["E01", "chi2_rebuilt"] == pytest.approx(chi2, abs=TOL)
    assert checks.loc["E01", "chi2_printed"] == 3.8
    assert checks.loc["E01", "n_implied"] == pytest.approx(519 * 3.8 / chi2, abs=1e-9)


def test_q1_rideout_group_sizes_from_printed_shares_and_their_scenario():
    rideout = row(extraction.effect_sizes("q1"), "Rideout2018")
    assert rideout["yi"] == pytest.approx(ROUTES["rideout2018_or"]["yi"], abs=TOL)
    assert rideout["vi"] == pytest.approx(ROUTES["rideout2018_or"]["vi"], abs=TOL)
    doubled = row(extraction.effect_sizes("q1", "rideout_group_sizes"), "Rideout2018")
    assert doubled["vi"] == pytest.approx(2 * ROUTES["rideout2018_or"]["vi"], abs=TOL)


@pytest.mark.parametrize("study, index, scenario", [
    ("Younes2015", 0, "primary"), ("Gunn2016", 1, "primary"), ("Sorkin2021", 2, "primary"),
    ("Sorkin2021", 3, "sorkin_model1"),
])
def test_q1_odds_ratio_enters_as_printed(study, index, scenario):
    effect = row(extraction.effect_sizes("q1", scenario), study)
    assert effect["yi"] == pytest.approx(REF["or_from_ci"]["yi"][index], abs=TOL)
    assert effect["vi"] == pytest.approx(REF["or_from_ci"]["vi"][index], abs=TOL)


def test_q1_correlation_route_matches_metafor():
    route = extraction.effect_sizes("q1", "log_or_route")
    assert set(route["measure"]) == {"ZCOR"}
    gould = row(route, "Gould2002")
    assert (gould["yi"], gould["vi"]) == pytest.approx(
        (REF["gould2002_zcor"]["yi"], REF["gould2002_zcor"]["vi"]), abs=TOL)
    younes = row(route, "Younes2015")  # printed split 105 of 1214: r 0.13, not 0.23
    assert (younes["yi"], younes["vi"]) == pytest.approx(
        (ROUTES["younes2015_split_z"]["yi"], ROUTES["younes2015_split_z"]["vi"]), abs=TOL)
    assert math.tanh(younes["yi"]) == pytest.approx(0.1319, abs=1e-4)
    rideout = row(route, "Rideout2018")
    assert (rideout["yi"], rideout["vi"]) == pytest.approx(
        (ROUTES["rideout2018_zphi"]["yi"], ROUTES["rideout2018_zphi"]["vi"]), abs=TOL)
    for study, index in (("Gunn2016", 1), ("Sorkin2021", 2)):  # no split printed: a = 4
        z, vz = z_from_log_or(REF["or_from_ci"]["yi"][index], REF["or_from_ci"]["vi"][index])
        assert (row(route, study)["yi"], row(route, study)["vi"]) == pytest.approx((z, vz), abs=TOL)


def test_q1_sorkin_uses_one_model_per_scenario():
    primary = extraction.effect_sizes("q1")
    assert row(primary, "Sorkin2021")["comparison"] == "model1"
    assert row(primary, "Sorkin2021")["extraction_ids"] == "E04"
    assert row(extraction.effect_sizes("q1", "sorkin_model1"), "Sorkin2021")["comparison"] == "model3"


def test_q1_generation_is_computed_from_printed_ages_and_year():
    groups = dict(zip(*extraction.effect_sizes("q1")[["study_id", "population_group"]].T.values))
    # Gould: ages 13-19 in 1999 -> born 1980-1986; Rideout: 14-22 in 2018 -> born 1996-2004
    assert groups["Gould2002"] == "older generations" and groups["Rideout2018"] == "Generation Z"
    assert groups["Sorkin2021"] == "not classifiable"  # ages not printed


def test_q2_shared_control_combined_matches_metafor():
    shafran = row(extraction.effect_sizes("q2"), "Shafran2019", "behaviour")
    assert shafran["yi"] == pytest.approx(REF["shafran2019_combined"]["yi"], abs=TOL)
    assert shafran["vi"] == pytest.approx(REF["shafran2019_combined"]["vi"], abs=TOL)
    assert shafran["n"] == 306  # 111 + 57 + 138: every participant once
    assert shafran["extraction_ids"] == "E01 E02"


def test_q2_split_control_matches_metafor_and_counts_control_once():
    split = extraction.effect_sizes("q2", "shared_control_combined")
    shafran = split[split["study_id"] == "Shafran2019"]
    assert list(shafran["yi"]) == pytest.approx(REF["shafran2019_split"]["yi"], abs=TOL)
    assert list(shafran["vi"]) == pytest.approx(REF["shafran2019_split"]["vi"], abs=TOL)
    assert sum(shafran["n"]) == 306


def test_q2_risk_difference_with_percentages_only():
    """Kravitz 2013: log OR from 17.5% vs 16.3%; variance from the RD CI with equal arms."""
    p1, p2 = 0.175, 0.163
    var_rd = REF["kravitz2013_rd_ci"]["vi"] / 100 ** 2  # percentage points -> proportions
    n_eff = (p1 * (1 - p1) + p2 * (1 - p2)) / var_rd
    kravitz = row(extraction.effect_sizes("q2"), "Kravitz2013")
    assert kravitz["yi"] == pytest.approx(math.log(p1 / (1 - p1)) - math.log(p2 / (1 - p2)), abs=TOL)
    assert kravitz["vi"] == pytest.approx(1 / (n_eff * p1 * (1 - p1)) + 1 / (n_eff * p2 * (1 - p2)),
                                          abs=TOL)
    assert kravitz["n"] is None  # arm sizes are not printed
    assert kravitz["comparison"] == "DEV_vs_control"


def test_q2_secondary_source_d_combined_then_log_or():
    """Christensen 2006 post-test: d .24 (n 121) and -.01 (n 136) against one control (157)."""
    d = (121 * 0.24 + 136 * -0.01) / 257
    vd = (257 + 157) / (257 * 157) + d ** 2 / (2 * (257 + 157))
    christensen = row(extraction.effect_sizes("q2"), "Christensen2006", "behaviour")
    assert christensen["yi"] == pytest.approx(d * math.pi / math.sqrt(3), abs=TOL)
    assert christensen["vi"] == pytest.approx(vd * math.pi ** 2 / 3, abs=TOL)
    assert "secondary_source" in christensen["flags"]


def test_scenarios_are_primary_then_assumption_ids():
    for question in ("q1", "q2"):
        ids = list(extraction.assumptions(question)["assumption_id"])
        assert extraction.scenarios(question) == ["primary"] + ids


@pytest.mark.parametrize("question, scenario, gone", [
    ("q1", "adjusted_or", {"Younes2015", "Sorkin2021"}),
    ("q1", "rideout_report", {"Rideout2018"}),
    ("q2", "secondary_source", {"Christensen2006"}),
    ("q2", "kravitz_service_use_proxy", {"Kravitz2013"}),
])
def test_drop_scenarios_remove_exactly_their_studies(question, scenario, gone):
    primary = set(extraction.effect_sizes(question)["study_id"])
    assert set(extraction.effect_sizes(question, scenario)["study_id"]) == primary - gone


def test_q2_kravitz_scenario_tests_the_equal_arms_assumption():
    """The alternative gives the log OR the z of the printed risk difference (1.1, -6.7 to 8.9)."""
    primary = row(extraction.effect_sizes("q2"), "Kravitz2013")
    other = row(extraction.effect_sizes("q2", "kravitz_rd_equal_arms"), "Kravitz2013")
    z = REF["kravitz2013_rd_ci"]["yi"] / math.sqrt(REF["kravitz2013_rd_ci"]["vi"])
    assert other["yi"] == pytest.approx(primary["yi"], abs=TOL)
    assert other["vi"] == pytest.approx((primary["yi"] / z) ** 2, abs=TOL)


def test_q2_standardised_mean_difference_route_returns_printed_d():
    route = extraction.effect_sizes("q2", "log_or_route")
    assert set(route["measure"]) == {"SMD"}
    christensen = row(route, "Christensen2006", "behaviour")
    assert christensen["yi"] == pytest.approx((121 * 0.24 + 136 * -0.01) / 257, abs=TOL)
    shafran = row(route, "Shafran2019", "behaviour")
    expected = REF["shafran2019_combined"]["yi"] * math.sqrt(3) / math.pi
    assert shafran["yi"] == pytest.approx(expected, abs=TOL)


@pytest.mark.parametrize("question", ["q1", "q2"])
def test_no_two_scenarios_give_the_same_data(question):
    # two assumptions resting on one scenario print "without X" twice and test nothing new
    seen = {}
    for scenario in extraction.scenarios(question):
        table = extraction.effect_sizes(question, scenario)
        key = tuple(map(tuple, table[["study_id", "outcome", "measure", "yi", "vi"]].round(12).to_numpy()))
        assert key not in seen, (scenario, seen.get(key))
        seen[key] = scenario
    assert extraction.scenario_descriptions(question)["change"].is_unique


@pytest.mark.parametrize("question", ["q1", "q2"])
def test_flags_name_every_assumption_a_row_rests_on(question):
    # the extraction chapter says the flags name every assumption; hold the table to that
    table = extraction.assumptions(question)
    for record in extraction.effect_sizes(question).to_dict("records"):
        flags = set(record["flags"].split("; "))
        for assumption in table.to_dict("records"):
            if record["study_id"] in assumption["studies"].split():
                assert assumption["assumption_id"] in flags, (record["study_id"], assumption["assumption_id"])


@pytest.mark.parametrize("question", ["q1", "q2"])
def test_removing_scenarios_say_so(question):
    table = extraction.scenario_descriptions(question).set_index("scenario")
    actions = extraction.assumptions(question).set_index("assumption_id")["scenario_action"]
    for scenario, action in actions.items():
        only_removes = action == "drop_studies"
        assert (table.loc[scenario, "kind"] == "removes studies only") is only_removes
        assert ("removes studies only" in table.loc[scenario, "change"]) is only_removes


@pytest.mark.parametrize("question", ["q1", "q2"])
def test_one_effect_per_study_and_outcome_except_when_splitting(question):
    for scenario in extraction.scenarios(question):
        table = extraction.effect_sizes(question, scenario)
        counts = table.groupby(["study_id", "outcome"]).size()
        if scenario == "shared_control_combined":
            continue
        assert counts.max() == 1, (scenario, counts)


def test_assumptions_recorded_on_each_effect():
    younes = row(extraction.effect_sizes("q1"), "Younes2015")
    assert younes["assumptions"] == "log_or_route adjusted_or depression_with_anxiety"
    # the two-reviewer flags follow the reconciliation state, which tests/test_reconcile.py checks
    reconciliation_flags = (reconcile.NOT_RECONCILED, reconcile.SECOND_EXTRACTION_MISSING)
    flags = [f for f in younes["flags"].split("; ") if f not in reconciliation_flags]
    assert flags == ["adjusted", "depression_combined_with_anxiety", "log_or_route", "adjusted_or",
                     "depression_with_anxiety"]
    dropped = row(extraction.effect_sizes("q1", "depression_with_anxiety"), "Gunn2016")
    assert dropped["scenario"] == "depression_with_anxiety"


def test_not_analysed_rows_say_why():
    table = extraction.not_analysed("q2")
    assert table.to_dict("records") == [{
        "extraction_id": "E04", "study_id": "Kravitz2013", "comparison": "IMCP_vs_control",
        "reason": "percentages only: neither arm sizes nor a CI are printed"}]


def test_unknown_scenario_is_a_clear_error():
    with pytest.raises(KeyError, match="unknown scenario 'drop_everything' for q1_webhelp"):
        extraction.effect_sizes("q1", "drop_everything")


def test_a_statistic_that_cannot_be_converted_is_refused_naming_file_row_and_column(tmp_path, monkeypatch):
    # chi-square with N = 3: phi's Fisher-z variance 1/(N - 3) is undefined, so the table is
    # refused when read (as `check` refuses it), never half-converted.
    shutil.copytree(REPO_ROOT / "data", tmp_path / "data")
    monkeypatch.setenv("REVIEW_DATA_DIR", str(tmp_path / "data"))
    path = tmp_path / "data/q1_webhelp/extraction.csv"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("3.8,1,519,<.05", "3.8,1,3,<.05"), encoding="utf-8")
    with pytest.raises(DataError) as caught:
        extraction.effect_sizes("q1", "log_or_route")
    assert "q1_webhelp/extraction.csv:2:chi2_n: chi2_n 3 is 3 or less" in str(caught.value)


def test_invalid_table_raises_data_error(tmp_path, monkeypatch):
    shutil.copytree(REPO_ROOT / "data", tmp_path / "data")
    monkeypatch.setenv("REVIEW_DATA_DIR", str(tmp_path / "data"))
    path = tmp_path / "data/q2_interventions/extraction.csv"
    path.write_text(path.read_text(encoding="utf-8").replace(",111,138,", ",111,-138,", 1),
                    encoding="utf-8")
    with pytest.raises(DataError, match="n_c: -138 is out of range: must be > 0"):
        extraction.effect_sizes("q2")


def test_scenario_descriptions_say_what_changes():
    table = extraction.scenario_descriptions("q1")
    assert list(table["scenario"]) == extraction.scenarios("q1")
    changes = dict(zip(table["scenario"], table["change"]))
    assert changes["adjusted_or"] == "without Younes 2015, Sorkin 2021 (removes studies only)"
    assert changes["sorkin_model1"] == "Sorkin 2021: model3 instead of model1"
    q2 = dict(zip(*extraction.scenario_descriptions("q2")[["scenario", "change"]].T.values))
    assert q2["shared_control_combined"] == ("shared control split between the arms instead of "
                                             "arms combined (Shafran 2019, Christensen 2006)")


def test_a_conversion_named_for_a_row_it_does_not_fit_is_refused(tmp_path, monkeypatch):
    import pandas as pd

    shutil.copytree(REPO_ROOT / "data", tmp_path / "data")
    monkeypatch.setenv("REVIEW_DATA_DIR", str(tmp_path / "data"))
    path = tmp_path / "data/q1_webhelp/assumptions.csv"
    raw = pd.read_csv(path, dtype=str, keep_default_na=False)
    raw.loc[raw["assumption_id"] == "rideout_group_sizes", "studies"] = "Sorkin2021"
    raw.to_csv(path, index=False)
    # Sorkin 2021 prints an odds ratio with its CI: a design effect for a rebuilt table does not fit
    with pytest.raises(ValueError, match="Sorkin2021.*conversion design_effect_2 applies to a 2x2 table"):
        extraction.effect_sizes("q1", "rideout_group_sizes")
