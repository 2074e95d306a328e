"""GRADE certainty and the summary-of-findings table.

Certainty cases follow the GRADE Handbook (Schünemann H, Brożek J, Guyatt G, Oxman A (eds),
2013), section 5: randomised trials start high and observational studies low; each serious concern
lowers one level and each very serious concern two; observational evidence may be rated up for a
large effect (one level) or a very large effect (two levels); the result stays within very low to
high. Guyatt GH et al. J Clin Epidemiol 2011;64:401-406 (GRADE guidelines 3), Table 2.
"""
from __future__ import annotations

import shutil

import pandas as pd
import pytest

from analysis.evidence import grade
from analysis.findings import grade_computed
from analysis.io.paths import data_dir
from analysis.io.problems import Problem

DOMAINS = list(grade.DOMAINS)


def judgement(design="randomised trials", upgrade="0", **serious):
    row = {"design": design, "studies": "S1 S2", "upgrade_levels": upgrade}
    for domain in DOMAINS:
        row[domain] = serious.get(domain, "not serious")
        row[f"{domain}_reason"] = "reason"
    return row


@pytest.mark.parametrize("row, level, words", [
    # Handbook 5.1: randomised trials without serious limitations are high certainty
    (judgement(), 4, "⊕⊕⊕⊕ high"),
    # one serious concern: moderate
    (judgement(imprecision="serious"), 3, "⊕⊕⊕◯ moderate"),
    # downgraded twice (two domains): low
    (judgement(risk_of_bias="serious", imprecision="serious"), 2, "⊕⊕◯◯ low"),
    # downgraded twice within one domain (very serious): low
    (judgement(risk_of_bias="very serious"), 2, "⊕⊕◯◯ low"),
    # three levels: very low
    (judgement(risk_of_bias="serious", inconsistency="serious", imprecision="serious"), 1,
     "⊕◯◯◯ very low"),
    # more downgrades than levels: stays very low
    (judgement(**{d: "very serious" for d in DOMAINS}), 1, "⊕◯◯◯ very low"),
    # observational studies start low
    (judgement("observational studies"), 2, "⊕⊕◯◯ low"),
    (judgement("observational studies", imprecision="serious"), 1, "⊕◯◯◯ very low"),
    # large effect: rated up one level
    (judgement("observational studies", upgrade="1"), 3, "⊕⊕⊕◯ moderate"),
    # very large effect: rated up two levels, capped at high
    (judgement("observational studies", upgrade="2"), 4, "⊕⊕⊕⊕ high"),
    # rating up and down together (GRADE guidelines 9, Guyatt 2011;64:1311-1316)
    (judgement("observational studies", upgrade="1", risk_of_bias="serious"), 2, "⊕⊕◯◯ low"),
])
def test_certainty_follows_the_handbook(row, level, words):
    assert grade.certainty_level(row) == level
    assert grade.certainty(row) == words


def test_outcome_without_studies_has_no_certainty():
    row = {"design": "randomised trials", "studies": "", **{d: "" for d in DOMAINS}}
    assert grade.certainty_level(row) is None
    assert grade.certainty(row) == "no studies"


def test_certainty_rejects_unknown_judgement():
    with pytest.raises(ValueError, match="imprecision 'moderate'"):
        grade.certainty(judgement(imprecision="moderate"))


def test_downgrade_reasons_list_only_rated_down_domains():
    row = judgement(risk_of_bias="serious", imprecision="very serious")
    row["risk_of_bias_reason"] = "one trial at high risk"
    row["imprecision_reason"] = "few events"
    text = grade.downgrade_reasons(row)
    assert text == "Risk of bias (serious): one trial at high risk. Imprecision (very serious): few events."
    assert grade.downgrade_reasons(judgement()) == "none"


@pytest.mark.parametrize("question", ["q1_webhelp", "q2_interventions"])
def test_review_grade_tables_are_valid(question):
    assert grade.grade_problems(question) == []
    table = grade.load_grade_table(question)
    assert table["outcome"].is_unique
    # the certainty column is computed: re-derive it from the judgements
    for row in table.to_dict("records"):
        assert row["certainty"] == grade.certainty(row)


def test_help_seeking_behaviour_certainty_is_computed_from_its_judgements():
    table = grade.load_grade_table("q2_interventions").set_index("outcome")
    row = table.loc["Help-seeking behaviour (first assessment after the intervention)"]
    downgrades = sum(grade.DOWNGRADE_LEVELS[row[d]] for d in DOMAINS)
    expected = max(1, 4 - downgrades)
    assert row["certainty_level"] == expected


# --------------------------------------------------------------------------- validation
@pytest.fixture
def data_copy(tmp_path):
    for question in ("q1_webhelp", "q2_interventions"):
        target = tmp_path / question
        target.mkdir()
        for name in ("grade.csv", "extraction.csv"):
            shutil.copy(data_dir() / question / name, target / name)
    return tmp_path


def _edit(root, question, line, column, value):
    path = root / question / "grade.csv"
    table = pd.read_csv(path, dtype=str, keep_default_na=False)
    table.loc[line - 2, column] = value
    table.to_csv(path, index=False)


def test_bad_judgement_is_named_by_file_line_and_column(data_copy):
    _edit(data_copy, "q2_interventions", 2, "inconsistency", "moderate")
    problems = grade.grade_problems("q2_interventions", root=data_copy)
    assert problems == [Problem("q2_interventions/grade.csv", 2, "inconsistency", "'moderate' is not "
                                "one of not serious, serious, very serious")]
    with pytest.raises(grade.GradeError, match="grade.csv:2:inconsistency: 'moderate'"):
        grade.load_grade_table("q2_interventions", root=data_copy)


def test_missing_reason_unknown_study_and_duplicate_outcome(data_copy):
    _edit(data_copy, "q2_interventions", 2, "imprecision_reason", "")
    _edit(data_copy, "q2_interventions", 2, "studies", "Shafran2019 Nobody2020")
    first = pd.read_csv(data_copy / "q2_interventions" / "grade.csv", dtype=str).loc[0, "outcome"]
    _edit(data_copy, "q2_interventions", 3, "outcome", first)
    problems = grade.grade_problems("q2_interventions", root=data_copy)
    where = "q2_interventions/grade.csv"
    assert Problem(where, 2, "imprecision_reason", "empty (every judgement needs a reason)") in problems
    assert Problem(where, 2, "studies", "'Nobody2020' is not a study in "
                   "q2_interventions/extraction.csv") in problems
    assert any((p.row, p.column) == (3, "outcome") and "already given on line 2" in p.message
               for p in problems)


def test_judgement_without_studies_and_rating_up_randomised_evidence(data_copy):
    # line 4: an outcome with no studies
    _edit(data_copy, "q2_interventions", 4, "risk_of_bias", "serious")
    _edit(data_copy, "q2_interventions", 2, "upgrade_levels", "1")
    problems = grade.grade_problems("q2_interventions", root=data_copy)
    assert any((p.row, p.column) == (4, "risk_of_bias")
               and p.message.startswith("a judgement is given but no study informs") for p in problems)
    where = "q2_interventions/grade.csv"
    assert Problem(where, 2, "upgrade_levels", "randomised evidence is not rated up") in problems
    assert Problem(where, 2, "upgrade_reason", "empty although the outcome is rated up") in problems


def test_missing_file_and_column(data_copy):
    (data_copy / "q1_webhelp" / "grade.csv").unlink()
    assert str(grade.grade_problems("q1_webhelp", root=data_copy)[0]).startswith(
        "q1_webhelp/grade.csv:-:-: file not found")
    table = pd.read_csv(data_copy / "q2_interventions" / "grade.csv", dtype=str)
    table.drop(columns=["publication_bias_reason"]).to_csv(data_copy / "q2_interventions" / "grade.csv",
                                                           index=False)
    assert grade.grade_problems("q2_interventions", root=data_copy) == [
        Problem("q2_interventions/grade.csv", None, None, "missing column(s) publication_bias_reason")]


# --------------------------------------------------------------------------- summary of findings
def _grade_table():
    rows = [
        {**judgement(risk_of_bias="serious", imprecision="serious"), "outcome": "Behaviour",
         "comments": "abstracts only"},
        {**judgement("observational studies"), "outcome": "Association", "comments": ""},
        {"outcome": "Stigma", "design": "randomised trials", "studies": "", "upgrade_levels": "0",
         **{d: "" for d in DOMAINS}, **{f"{d}_reason": "" for d in DOMAINS},
         "comments": "No studies measured it."},
    ]
    return pd.DataFrame(rows)


def test_summary_of_findings_from_a_hand_built_pooled_table():
    pooled = pd.DataFrame({
        "outcome": ["Behaviour", "Association"], "k": [3, 1], "n": [1234.0, float("nan")],
        "measure": ["OR", "r"], "estimate": [1.3, 0.089], "ci_low": [0.8, 0.02],
        "ci_high": [2.1, 0.16],
    })
    sof = grade.summary_of_findings(pooled, _grade_table())
    assert list(sof.columns) == list(grade.SOF_COLUMNS)
    assert sof["Outcome"].tolist() == ["Behaviour", "Association", "Stigma"]
    behaviour, association, stigma = sof.to_dict("records")
    assert behaviour["k"] == 3 and behaviour["Participants (N)"] == "1,234"
    assert behaviour["Effect (95% CI)"] == "OR 1.30 (0.80 to 2.10)"
    assert behaviour["Certainty"] == "⊕⊕◯◯ low"
    assert behaviour["Reasons for downgrading"].startswith("Risk of bias (serious): reason.")
    assert behaviour["Comments"] == "abstracts only"
    assert association["Participants (N)"] == "not reported"
    assert association["Effect (95% CI)"] == "r 0.09 (0.02 to 0.16) (single study)"
    assert association["Certainty"] == "⊕⊕◯◯ low"
    assert stigma["k"] == 0 and stigma["Effect (95% CI)"] == "no studies"
    assert stigma["Certainty"] == "no studies" and stigma["Comments"] == "No studies measured it."


def test_summary_of_findings_says_not_pooled_and_uses_outcome_labels():
    pooled = pd.DataFrame({
        "outcome": ["behaviour"], "outcome_label": ["Behaviour"], "k": [2], "n": [300],
        "measure": ["OR"], "estimate": [None], "ci_low": [None], "ci_high": [None],
    })
    sof = grade.summary_of_findings(pooled, _grade_table()).set_index("Outcome")
    assert sof.loc["Behaviour", "Effect (95% CI)"] == "not pooled"
    assert sof.loc["Behaviour", "k"] == 2
    assert sof.loc["Association", "Effect (95% CI)"] == "not pooled"


def test_summary_of_findings_rejects_outcomes_without_judgements():
    pooled = pd.DataFrame({"outcome": ["Empowerment"], "k": [2], "n": [10], "measure": ["r"],
                           "estimate": [0.2], "ci_low": [0.1], "ci_high": [0.3]})
    with pytest.raises(ValueError, match=r"\['Empowerment'\] have no GRADE judgements"):
        grade.summary_of_findings(pooled, _grade_table())
    with pytest.raises(ValueError, match="lacks column"):
        grade.summary_of_findings(pooled.drop(columns=["n"]), _grade_table())


def test_negative_effects_use_a_true_minus_sign():
    assert grade.format_effect("SMD", -0.25, -0.5, 0.01) == "SMD \u22120.25 (\u22120.50 to 0.01)"
    assert grade.format_effect("MD", float("nan"), None, None) == "not estimable"


# ----------------------------------------------------------------------------- computed domains

def test_optimal_information_size_from_the_power_formula():
    # N = 4 (1.96 + 0.8416)^2 / 0.2^2 = 784.9 (two groups); r = 0.1: ((z_a + z_b) / atanh .1)^2 + 3
    assert grade_computed.optimal_information_size("SMD") == 785
    assert grade_computed.optimal_information_size("OR") == 785
    assert grade_computed.optimal_information_size("r") == 783
    assert grade_computed.IMPRECISION_THRESHOLDS["OR"] == pytest.approx(1.4372, abs=1e-4)


@pytest.mark.parametrize("ci, n, expected", [
    ((0.90, 1.64), 720, "serious"),          # includes no effect
    ((1.20, 1.50), 9000, "not serious"),     # excludes it, N above the OIS
    ((1.20, 1.50), 300, "serious"),          # excludes it, N below the OIS
    ((0.50, 2.00), 9000, "very serious"),    # appreciable benefit and harm (beyond 1/1.44, 1.44)
])
def test_imprecision_is_computed_from_ci_and_information_size(ci, n, expected):
    assert grade_computed.judge_imprecision("OR", *ci, n).judgement == expected


def test_inconsistency_is_computed_from_i2_overlap_and_prediction_interval():
    apart = grade_computed.judge_inconsistency("OR", [0.1, 1.8], [0.01, 0.01], 95.0, None, None, 1.5, 5.0)
    assert apart.judgement == "very serious" or apart.facts["disjoint"]
    together = grade_computed.judge_inconsistency("OR", [0.1, 0.2, 0.15], [0.05, 0.05, 0.05], 0.0,
                                         0.8, 1.6, 0.95, 1.4)
    assert together.judgement == "not serious" and not together.facts["disjoint"]
    single = grade_computed.judge_inconsistency("OR", [0.1], [0.05], None, None, None, None, None)
    assert single.judgement == "not serious" and "single study" in single.reason.lower()


def test_spread_between_studies_is_counted_once():
    # question 1: inconsistency rated down, so imprecision is judged on the common-effect CI
    computed = grade_computed.computed_judgements("q1_webhelp").set_index(["outcome", "domain"])
    outcome = "Depressive symptoms and web-based help seeking"
    assert computed.loc[(outcome, "inconsistency"), "judgement"] != "not serious"
    assert computed.loc[(outcome, "imprecision"), "facts"]["common_effect_ci"] is True


@pytest.mark.parametrize("question", ["q1_webhelp", "q2_interventions"])
def test_author_words_do_not_contradict_the_computed_judgements(question):
    assert grade_computed.grade_contradictions(question) == []


def test_a_false_claim_in_the_author_words_is_caught(tmp_path, monkeypatch):
    shutil.copytree(data_dir(), tmp_path / "data")
    monkeypatch.setenv("REVIEW_DATA_DIR", str(tmp_path / "data"))
    path = tmp_path / "data" / "q1_webhelp" / "grade.csv"
    import csv

    # some studies' intervals do not overlap (Gunn 2016 and Sorkin 2021), so this claim is false
    with path.open(newline="", encoding="utf-8") as stream:
        reader = csv.DictReader(stream)
        fields, rows = list(reader.fieldnames or []), list(reader)
    first = next(row for row in rows if row["outcome"] == "Depressive symptoms and web-based help seeking")
    first["inconsistency_reason"] = "The studies' intervals overlap. " + first["inconsistency_reason"]
    with path.open("w", newline="", encoding="utf-8") as stream:
        writer = csv.DictWriter(stream, fieldnames=fields, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    problems = grade_computed.grade_contradictions("q1_webhelp")
    assert any("'intervals overlap' contradict" in p.message for p in problems), problems


def test_summary_of_findings_has_footnoted_computed_reasons():
    summary = grade_computed.grade_summary("q2_interventions")
    first = summary.table.iloc[0]
    assert "imprecision [" in first["Reasons for downgrading"]
    number = int(first["Reasons for downgrading"].split("imprecision [")[1].split("]")[0])
    assert summary.footnotes[number - 1].startswith("Imprecision (serious): The 95% CI")
    follow_up = summary.table.set_index("Outcome").loc["Help-seeking behaviour at later follow-up"]
    assert follow_up["Effect (95% CI)"].endswith("(single study)")
