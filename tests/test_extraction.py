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

from analysis import extraction, validate
from analysis.paths import REPO_ROOT

REF = json.loads((REPO_ROOT / "tests/reference/extraction_metafor.json").read_text())["cases"]
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


def test_q1_chi_square_matches_metafor_zcor():
    gould = row(extraction.effect_sizes("q1"), "Gould2002")
    assert gould["measure"] == "ZCOR"
    assert gould["yi"] == pytest.approx(REF["gould2002_zcor"]["yi"], abs=TOL)
    assert gould["vi"] == pytest.approx(REF["gould2002_zcor"]["vi"], abs=TOL)
    assert gould["n"] == 519 and gould["label"] == "Gould 2002" and gould["year"] == 2002


@pytest.mark.parametrize("study, index, scenario", [
    ("Younes2015", 0, "primary"), ("Gunn2016", 1, "primary"), ("Sorkin2021", 2, "primary"),
    ("Sorkin2021", 3, "sorkin_model1"),
])
def test_q1_odds_ratio_to_fisher_z(study, index, scenario):
    y, v = REF["or_from_ci"]["yi"][index], REF["or_from_ci"]["vi"][index]
    z, vz = z_from_log_or(y, v)
    effect = row(extraction.effect_sizes("q1", scenario), study)
    assert effect["yi"] == pytest.approx(z, abs=TOL)
    assert effect["vi"] == pytest.approx(vz, abs=TOL)


def test_q1_sorkin_uses_one_model_per_scenario():
    primary = extraction.effect_sizes("q1")
    assert row(primary, "Sorkin2021")["comparison"] == "model1"
    assert row(primary, "Sorkin2021")["extraction_ids"] == "E04"
    assert row(extraction.effect_sizes("q1", "sorkin_model1"), "Sorkin2021")["comparison"] == "model3"


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
    assert extraction.scenarios("q1") == [
        "primary", "gould_chi2_total_n", "or_to_r_equal_groups", "adjusted_or",
        "depression_with_anxiety", "gunn_conference_abstract", "sorkin_model1"]
    assert extraction.scenarios("q2") == [
        "primary", "shared_control_combined", "kravitz_rd_equal_arms",
        "kravitz_service_use_proxy", "secondary_source"]


@pytest.mark.parametrize("question, scenario, gone", [
    ("q1", "adjusted_or", {"Younes2015", "Sorkin2021"}),
    ("q1", "or_to_r_equal_groups", {"Younes2015", "Gunn2016", "Sorkin2021"}),
    ("q2", "secondary_source", {"Christensen2006"}),
    ("q2", "kravitz_rd_equal_arms", {"Kravitz2013"}),
])
def test_drop_scenarios_remove_exactly_their_studies(question, scenario, gone):
    primary = set(extraction.effect_sizes(question)["study_id"])
    assert set(extraction.effect_sizes(question, scenario)["study_id"]) == primary - gone


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
    assert younes["assumptions"] == "or_to_r_equal_groups adjusted_or depression_with_anxiety"
    assert younes["flags"] == "adjusted; depression_combined_with_anxiety"
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


def test_unconvertible_statistic_names_file_study_and_row(tmp_path, monkeypatch):
    shutil.copytree(REPO_ROOT / "data", tmp_path / "data")
    monkeypatch.setenv("REVIEW_DATA_DIR", str(tmp_path / "data"))
    path = tmp_path / "data/q1_webhelp/extraction.csv"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("3.8,1,519,<.05", "3.8,1,3,<.05"), encoding="utf-8")
    # check (and so every reader) refuses what the conversion could not use, naming the cell
    with pytest.raises(validate.DataError, match="extraction.csv:2:chi2_n: chi2_n 3 is 3 or less"):
        extraction.effect_sizes("q1")
    path.write_text(text.replace("3.8,1,519,<.05", "3.8,1,4,<.05").replace("chi2_n", "chi2_n", 1),
                    encoding="utf-8")
    assert validate.check_all() == []  # chi2 3.8 <= N 4: converts
    extraction.effect_sizes("q1")


def test_invalid_table_raises_data_error(tmp_path, monkeypatch):
    shutil.copytree(REPO_ROOT / "data", tmp_path / "data")
    monkeypatch.setenv("REVIEW_DATA_DIR", str(tmp_path / "data"))
    path = tmp_path / "data/q2_interventions/extraction.csv"
    path.write_text(path.read_text(encoding="utf-8").replace(",111,138,", ",111,-138,", 1),
                    encoding="utf-8")
    with pytest.raises(validate.DataError, match="n_c: -138 is out of range: must be > 0"):
        extraction.effect_sizes("q2")


def test_scenario_descriptions_say_what_changes():
    table = extraction.scenario_descriptions("q1")
    assert list(table["scenario"]) == extraction.scenarios("q1")
    changes = dict(zip(table["scenario"], table["change"]))
    assert changes["adjusted_or"] == "without Younes 2015, Sorkin 2021"
    assert changes["sorkin_model1"] == "Sorkin 2021: model3 instead of model1"
    q2 = dict(zip(*extraction.scenario_descriptions("q2")[["scenario", "change"]].T.values))
    assert q2["shared_control_combined"] == ("shared control split between the arms instead of "
                                             "arms combined (Shafran 2019, Christensen 2006)")
