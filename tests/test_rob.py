"""Risk-of-bias tables: the review's judgements load, and bad tables fail with messages that name
the file, line and column.

Overall RoB 2 rules: Sterne JAC et al. BMJ 2019;366:l4898, Table 2 ("low risk of bias: the
study is judged to be at low risk of bias for all domains"; "high risk of bias: ... at high risk
of bias in at least one domain"); a domain without information cannot support an overall low.
"""
from __future__ import annotations

import shutil

import pandas as pd
import pytest

from analysis.evidence import rob
from analysis.io.paths import data_dir
from analysis.io.problems import Problem

QUESTIONS = ("q1_webhelp", "q2_interventions")


@pytest.mark.parametrize("question", QUESTIONS)
def test_review_tables_are_valid(question):
    assert rob.risk_of_bias_problems(question) == []
    table = rob.load_risk_of_bias(question)
    assert set(table.columns) >= set(rob.COLUMNS) | {"domain_label"}
    # every row says what text it rests on: an abstract, or the stored pages of a report
    assert table["basis"].str.startswith(("abstract-level text only",
                                          "survey report pages as stored")).all()


@pytest.mark.parametrize("question, tool, n_domains", [
    ("q2_interventions", rob.ROB2, 6), ("q1_webhelp", rob.JBI_CROSS_SECTIONAL, 9)])
def test_every_included_study_is_appraised_in_every_domain(question, tool, n_domains):
    table = rob.load_risk_of_bias(question)
    studies = pd.read_csv(data_dir() / question / "studies.csv", dtype=str)["study_id"]
    assert set(table["study_id"]) == set(studies)
    assert (table["tool"] == tool).all()
    assert (table.groupby("study_id").size() == n_domains).all()


def test_supports_quote_the_text_or_say_it_is_not_reported():
    table = rob.load_risk_of_bias("q2_interventions")
    domains = table[table["domain"] != "Overall"]
    no_info = domains[domains["judgement"] == "no information"]
    assert (no_info["support"] == rob.NOT_REPORTED).all()
    # a quoted support appears verbatim in the trial's extraction excerpt where the excerpt holds it
    extraction = pd.read_csv(data_dir() / "q2_interventions" / "extraction.csv", dtype=str)
    kravitz_d5 = domains[(domains["study_id"] == "Kravitz2013") & (domains["domain"] == "D5")]
    kravitz = " ".join(extraction.loc[extraction["study_id"] == "Kravitz2013", "excerpt"])
    assert kravitz_d5["support"].iloc[0] in kravitz


def test_wide_table_has_studies_by_domains():
    wide = rob.risk_of_bias_wide(rob.load_risk_of_bias("q2_interventions"))
    assert list(wide.columns) == ["study_id", "D1", "D2", "D3", "D4", "D5", "Overall"]
    assert wide.set_index("study_id").loc["Shafran2019", "Overall"] == "high"


@pytest.mark.parametrize("domains, expected", [
    ({"D1": "low", "D2": "low", "D3": "low", "D4": "low", "D5": "low"}, "low"),
    ({"D1": "low", "D2": "some concerns", "D3": "low", "D4": "low", "D5": "low"}, "some concerns"),
    ({"D1": "low", "D2": "no information", "D3": "low", "D4": "low", "D5": "low"}, "some concerns"),
    ({"D1": "high", "D2": "low", "D3": "low", "D4": "low", "D5": "low"}, "high"),
])
def test_rob2_overall_floor(domains, expected):
    assert rob.rob2_minimum_overall(domains) == expected


@pytest.mark.parametrize("answers, expected", [
    ({f"Q{i}": "yes" for i in range(1, 9)}, "low"),
    ({**{f"Q{i}": "yes" for i in range(1, 9)}, "Q1": "no"}, "some concerns"),  # Q1 is not critical
    ({**{f"Q{i}": "yes" for i in range(1, 9)}, "Q6": "no"}, "high"),
    ({**{f"Q{i}": "yes" for i in range(1, 9)}, "Q7": "unclear"}, "some concerns"),
    ({**{f"Q{i}": "yes" for i in range(1, 9)}, "Q2": "not applicable"}, "low"),
])
def test_jbi_overall_rule(answers, expected):
    assert rob.jbi_overall(answers) == expected


# --------------------------------------------------------------------------- bad input
@pytest.fixture
def data_copy(tmp_path):
    for question in QUESTIONS:
        (tmp_path / question).mkdir()
        for name in ("risk_of_bias.csv", "extraction.csv", "records.csv"):
            shutil.copy(data_dir() / question / name, tmp_path / question / name)
    return tmp_path


def _table(root, question):
    return pd.read_csv(root / question / "risk_of_bias.csv", dtype=str, keep_default_na=False)


def _write(root, question, table):
    table.to_csv(root / question / "risk_of_bias.csv", index=False)


def test_unknown_judgement_names_file_line_and_column(data_copy):
    table = _table(data_copy, "q2_interventions")
    table.loc[2, "judgement"] = "moderate"  # line 4 of the file
    _write(data_copy, "q2_interventions", table)
    problems = rob.risk_of_bias_problems("q2_interventions", root=data_copy)
    assert problems == [Problem("q2_interventions/risk_of_bias.csv", 4, "judgement", "'moderate' is "
                                "not allowed for D3 (allowed: low, some concerns, high, no information)")]
    with pytest.raises(rob.RiskOfBiasError, match="risk_of_bias.csv:4:judgement: 'moderate'"):
        rob.load_risk_of_bias("q2_interventions", root=data_copy)


def test_jbi_answers_are_not_rob2_judgements(data_copy):
    table = _table(data_copy, "q1_webhelp")
    table.loc[0, "judgement"] = "low"  # Q1 takes yes/no/unclear/not applicable
    _write(data_copy, "q1_webhelp", table)
    assert rob.risk_of_bias_problems("q1_webhelp", root=data_copy) == [
        Problem("q1_webhelp/risk_of_bias.csv", 2, "judgement", "'low' is not allowed for Q1 "
                "(allowed: yes, no, unclear, not applicable)")]


def test_unknown_study_domain_tool_and_empty_support(data_copy):
    table = _table(data_copy, "q2_interventions")
    table.loc[0, "study_id"] = "Nobody2020"
    table.loc[1, "domain"] = "D9"
    table.loc[2, "tool"] = "Newcastle-Ottawa"
    table.loc[3, "support"] = ""
    _write(data_copy, "q2_interventions", table)
    problems = rob.risk_of_bias_problems("q2_interventions", root=data_copy)
    where = "q2_interventions/risk_of_bias.csv"
    assert Problem(where, 2, "study_id", "'Nobody2020' is not a study in q2_interventions/extraction.csv") in problems
    assert Problem(where, 3, "domain", "'D9' is not a RoB 2 domain (D1, D2, D3, D4, D5, Overall)") in problems
    assert any((p.file, p.row, p.column) == (where, 4, "tool")
               and p.message.startswith("'Newcastle-Ottawa' is not one of") for p in problems)
    assert Problem(where, 5, "support", "empty") in problems


def test_duplicate_and_missing_domains(data_copy):
    table = _table(data_copy, "q2_interventions")
    table.loc[1, "domain"] = "D1"  # Shafran2019 D2 becomes a second D1
    _write(data_copy, "q2_interventions", table)
    problems = rob.risk_of_bias_problems("q2_interventions", root=data_copy)
    assert problems == [Problem("q2_interventions/risk_of_bias.csv", 3, None,
                                "study 'Shafran2019', domain 'D1' already given on line 2")]
    table = table.drop(index=1)
    _write(data_copy, "q2_interventions", table)
    assert rob.risk_of_bias_problems("q2_interventions", root=data_copy) == [
        Problem("q2_interventions/risk_of_bias.csv", None, None, "study 'Shafran2019' has no row for domain(s) D2")]


def test_overall_cannot_be_milder_than_the_domains(data_copy):
    table = _table(data_copy, "q2_interventions")
    overall = (table["study_id"] == "Shafran2019") & (table["domain"] == "Overall")
    table.loc[overall, "judgement"] = "low"
    _write(data_copy, "q2_interventions", table)
    assert rob.risk_of_bias_problems("q2_interventions", root=data_copy) == [
        Problem("q2_interventions/risk_of_bias.csv", None, None, "study 'Shafran2019' overall 'low' is "
                "less severe than its domains allow (at least 'high')")]


def test_jbi_overall_must_follow_the_stated_rule(data_copy):
    table = _table(data_copy, "q1_webhelp")
    overall = (table["study_id"] == "Gould2002") & (table["domain"] == "Overall")
    table.loc[overall, "judgement"] = "some concerns"
    _write(data_copy, "q1_webhelp", table)
    assert rob.risk_of_bias_problems("q1_webhelp", root=data_copy) == [
        Problem("q1_webhelp/risk_of_bias.csv", None, None, "study 'Gould2002' overall 'some concerns' "
                "does not follow the review's JBI rule, which gives 'high'")]


def test_missing_file_and_columns(data_copy):
    (data_copy / "q1_webhelp" / "risk_of_bias.csv").unlink()
    assert str(rob.risk_of_bias_problems("q1_webhelp", root=data_copy)[0]).startswith(
        "q1_webhelp/risk_of_bias.csv:-:-: file not found")
    table = _table(data_copy, "q2_interventions").drop(columns=["support", "basis"])
    _write(data_copy, "q2_interventions", table)
    assert rob.risk_of_bias_problems("q2_interventions", root=data_copy) == [
        Problem("q2_interventions/risk_of_bias.csv", None, None, "missing column(s) support, basis")]


def test_files_are_not_modified_by_validation(data_copy):
    path = data_copy / "q2_interventions" / "risk_of_bias.csv"
    table = _table(data_copy, "q2_interventions")
    table.loc[0, "judgement"] = "maybe"
    _write(data_copy, "q2_interventions", table)
    before = path.read_bytes()
    with pytest.raises(rob.RiskOfBiasError):
        rob.load_risk_of_bias("q2_interventions", root=data_copy)
    assert path.read_bytes() == before


def test_source_record_must_exist(data_copy):
    table = _table(data_copy, "q1_webhelp")
    table.loc[0, "source_record"] = "R9999"
    _write(data_copy, "q1_webhelp", table)
    assert rob.risk_of_bias_problems("q1_webhelp", root=data_copy) == [
        Problem("q1_webhelp/risk_of_bias.csv", 2, "source_record", "'R9999' is not a record in "
                "q1_webhelp/records.csv")]
