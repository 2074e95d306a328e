"""Two reviewers: check rules of the new tables, agreement statistics against published values,
the blind forms, and a disagreeing second extraction that flags its study until reconciled."""
from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analysis import review
from analysis.reviewers import agreement, reconcile
from analysis.commands import review_forms
from analysis.views import agreement_report
from analysis.evidence import extraction
from analysis.commands import checks
from analysis.io import schemas, validate
from analysis.__main__ import main
from analysis.io.paths import REPO_ROOT

DATA = REPO_ROOT / "data"
Q2_RECONCILIATION_HEADER = ("study_id,extraction_id,row_key,field,reviewer_a,value_a,reviewer_b,value_b,"
                            "consensus,resolved_by,reason\n")


def _append(path: Path, line: str) -> None:
    path.write_text(path.read_text(encoding="utf-8") + line, encoding="utf-8")


def _rows(path: Path) -> int:
    return len(path.read_text(encoding="utf-8").splitlines())


def problems() -> list[str]:
    return [str(p) for p in checks.check_all()]


# ----------------------------------------------------------------------------- check rules

def test_consensus_without_two_reviewers_is_reported(data_copy):
    path = data_copy / "q2_interventions" / "reconciliation.csv"
    _append(path, "Shafran2019,E01,RM_vs_I/behaviour/post,n_t,reviewer_2,111,,,111,reviewer_2,one reviewer only\n")
    assert problems() == [f"q2_interventions/reconciliation.csv:{_rows(path)}:reviewer_b: a consensus needs "
                          "two different reviewers (reviewer_a and reviewer_b)"]


def test_same_reviewer_twice_is_not_two_reviewers(data_copy):
    path = data_copy / "q2_interventions" / "reconciliation.csv"
    _append(path, "Shafran2019,E01,RM_vs_I/behaviour/post,n_t,reviewer_3,111,reviewer_3,112,111,reviewer_3,x\n")
    assert problems() == [f"q2_interventions/reconciliation.csv:{_rows(path)}:reviewer_b: a consensus needs "
                          "two different reviewers (reviewer_a and reviewer_b)"]


def test_reviewer_id_outside_the_codebook_is_reported(data_copy):
    path = data_copy / "q1_webhelp" / "risk_of_bias_independent.csv"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("Gould2002,JBI analytical cross-sectional,Q1,reviewer_3,",
                                 "Gould2002,JBI analytical cross-sectional,Q1,consensus,", 1), encoding="utf-8")
    row = next(i for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
               if line.startswith("Gould2002,JBI analytical cross-sectional,Q1,consensus,"))
    assert problems() == [f"q1_webhelp/risk_of_bias_independent.csv:{row}:reviewer: 'consensus' does not "
                          "match the pattern reviewer_\\d+"]


def test_consensus_matching_neither_reviewer_needs_a_reason(data_copy):
    path = data_copy / "q2_interventions" / "reconciliation.csv"
    _append(path, "Shafran2019,E01,RM_vs_I/behaviour/post,n_t,reviewer_2,111,reviewer_3,112,110,reviewer_3,\n")
    assert problems() == [f"q2_interventions/reconciliation.csv:{_rows(path)}:reason: the consensus '110' "
                          "matches neither reviewer's value; say why it was chosen"]


def test_independent_value_must_be_in_its_excerpt_and_vocabulary(data_copy):
    path = data_copy / "q1_webhelp" / "extraction_independent.csv"
    text = path.read_text(encoding="utf-8")
    text = text.replace("Gould2002,main/depression_webhelp,chi2,reviewer_3,3.8,",
                        "Gould2002,main/depression_webhelp,chi2,reviewer_3,3.9,", 1)
    text = text.replace("Gould2002,main/depression_webhelp,adjusted,reviewer_3,no,",
                        "Gould2002,main/depression_webhelp,adjusted,reviewer_3,maybe,", 1)
    path.write_text(text, encoding="utf-8")
    lines = path.read_text(encoding="utf-8").splitlines()
    chi2 = next(i for i, line in enumerate(lines, 1) if line.startswith("Gould2002,main/depression_webhelp,chi2,"))
    adjusted = next(i for i, line in enumerate(lines, 1) if line.startswith("Gould2002,main/depression_webhelp,adjusted,"))
    assert sorted(problems()) == sorted([
        f"q1_webhelp/extraction_independent.csv:{chi2}:value: printed value '3.9' of chi2 does not appear "
        "in the excerpt",
        f"q1_webhelp/extraction_independent.csv:{adjusted}:value: 'maybe' is not an allowed value of "
        "adjusted (yes; no; not stated)"])


# ----------------------------------------------------------------------------- agreement

def test_kappa_ci_published_example():
    """statpsych::ci.kappa documentation (Bonett; Fleiss, Levin & Paik 2003): f00 = 31, f01 = 12,
    f10 = 4, f11 = 58 -> Cohen's kappa 0.6756757, SE 0.07344761, 95% CI 0.5317210 to 0.8196303."""
    x = [0] * 31 + [1] * 12 + [0] * 4 + [1] * 58
    y = [0] * 31 + [0] * 12 + [1] * 4 + [1] * 58
    result = agreement.cohen_kappa_ci([str(v) for v in x], [str(v) for v in y])
    assert result.kappa == pytest.approx(0.6756757, abs=5e-8)
    assert result.se == pytest.approx(0.07344761, abs=5e-9)
    assert (result.ci_low, result.ci_high) == pytest.approx((0.5317210, 0.8196303), abs=5e-8)


def test_kappa_se_matches_statsmodels_with_four_categories():
    from statsmodels.stats.inter_rater import cohens_kappa

    rng = np.random.default_rng(20261129)
    labels = np.array(["low", "some concerns", "high", "no information"])
    a = rng.choice(labels, 90)
    b = np.where(rng.random(90) < 0.6, a, rng.choice(labels, 90))
    table = pd.crosstab(pd.Categorical(a, sorted(labels)), pd.Categorical(b, sorted(labels)), dropna=False).to_numpy()
    expected = cohens_kappa(table)
    result = agreement.cohen_kappa_ci(list(a), list(b))
    assert result.kappa == pytest.approx(expected.kappa, abs=1e-12)
    assert result.se == pytest.approx(expected.std_kappa, abs=1e-12)


def test_kappa_undefined_for_one_shared_category():
    result = agreement.cohen_kappa_ci(["yes"] * 4, ["yes"] * 4)
    assert result.kappa is None and result.agreement == 1.0 and "undefined" in result.note


@pytest.mark.parametrize("a, b, kind, same", [
    ("26", "26.0", "printed", True), (".24", "0.24", "printed", True), ("4.7", "4.71", "printed", True),
    ("4.7", "4.8", "printed", False), ("<.05", "<.05", "printed_p", True), ("<.05", ".05", "printed_p", False),
    ("519", "519", "int", True), ("519", "518", "int", False), ("1.1", "", "printed", False)])
def test_numbers_agree_within_printed_precision(a, b, kind, same):
    assert agreement.printed_numbers_agree(a, b, kind) is same


def _open_extraction_studies(question: str) -> set[str]:
    compared = reconcile.compare_extraction(question)
    return set(compared.loc[compared["open"].astype(bool), "study_id"])


def test_real_data_every_disagreement_is_resolved_or_flagged():
    """Invariants of the stored review, whatever its size: an extraction disagreement has a consensus
    that still applies or its study is pooled with the flag; screening, risk-of-bias and GRADE
    disagreements (which no effect size can flag) all have one; a study the second reviewer did not
    extract is flagged as such; the agreement figures lie in range; and the screening sample is the
    one its seed draws."""
    for question in ("q1", "q2"):
        table = agreement_report.agreement_table(question)
        extraction_rows = table["what"].str.startswith("extraction")
        assert (table.loc[~extraction_rows, "open"] == 0).all()
        shares = table["agreement"].dropna()
        assert ((shares >= 0) & (shares <= 1)).all()
        with_kappa = table.dropna(subset=["kappa"])
        assert ((with_kappa["kappa_ci_low"] <= with_kappa["kappa"] + 1e-12)
                & (with_kappa["kappa"] <= with_kappa["kappa_ci_high"] + 1e-12)).all()

        status = reconcile.study_status(question).set_index("study_id")
        expected = {study: reconcile.NOT_RECONCILED for study in _open_extraction_studies(question)}
        expected.update({study: reconcile.SECOND_EXTRACTION_MISSING
                         for study in status.index[status["status"] == "second extraction missing"]})
        assert reconcile.pooling_flags(question) == expected
        effects = extraction.effect_sizes(question)
        for study, flags in zip(effects["study_id"], effects["flags"].fillna("")):
            listed = str(flags).split("; ")
            for flag in (reconcile.NOT_RECONCILED, reconcile.SECOND_EXTRACTION_MISSING):
                assert (flag in listed) == (expected.get(study) == flag), (question, study, flag)

        sample = agreement_report.screening_agreement(question)
        recorded = sorted(pd.read_csv(DATA / schemas.question_folder(question) / "screening_sample.csv",
                                      dtype=str)["record_id"])
        drawn = review_forms.draw_screening_sample(question, sample.fraction, sample.seed)
        unique = review.current().question(question).clusters
        if int((unique["record_id"] == unique["first_record_id"]).sum()) == sample.population:
            assert drawn == recorded


# ----------------------------------------------------------------------------- blind forms

def test_forms_leave_the_first_reviewers_values_out():
    for question in ("q1", "q2"):
        form = review_forms.extraction_form(question, "reviewer_4")
        assert (form["value"] == "").all() and (form["excerpt"] == "").all()
        text = form.to_csv(index=False)
        first = validate.load(question, "extraction")
        for excerpt in first["excerpt"]:
            assert excerpt[:60] not in text
        rob = review_forms.risk_of_bias_form(question, "reviewer_4")
        assert (rob["judgement"] == "").all() and (rob["support"] == "").all()
        screening_form = review_forms.screening_form(question, "reviewer_4", 0.1, 7)
        assert (screening_form["decision"] == "").all() and (screening_form["reason"] == "").all()


def test_form_command_round_trip(data_copy, tmp_path, capsys):
    out = tmp_path / "form.csv"
    assert main(["form", "--question", "q1", "--table", "risk_of_bias", "--reviewer", "reviewer_4",
                 "--out", str(out)]) == 0
    form = pd.read_csv(out, dtype=str, keep_default_na=False)
    gould = form["study_id"] == "Gould2002"
    form.loc[gould, "judgement"] = "unclear"
    form.loc[gould, "support"] = "not reported in the available abstract"
    form.loc[gould, "rationale"] = "checking the form"
    form.loc[gould, "source_record"] = "R0121"
    form.loc[gould, "basis"] = "abstract"
    form.to_csv(out, index=False)
    before = _rows(data_copy / "q1_webhelp" / "risk_of_bias_independent.csv")
    assert main(["form", "--question", "q1", "--table", "risk_of_bias", "--append", str(out)]) == 0
    assert _rows(data_copy / "q1_webhelp" / "risk_of_bias_independent.csv") == before + int(gould.sum())
    assert main(["form", "--question", "q1", "--table", "risk_of_bias", "--append", str(out)]) == 1
    assert "already stored" in capsys.readouterr().err


# ----------------------------------------------------------------------------- flag until reconciled

def test_disagreeing_second_extraction_flags_the_study_until_reconciled(data_copy, tmp_path, capsys):
    before = extraction.effect_sizes("q2").set_index("study_id")
    # the second reviewer reads 8 events, not 9, in the regular-monitoring arm (8 is in the excerpt)
    path = data_copy / "q2_interventions" / "extraction_independent.csv"
    text = path.read_text(encoding="utf-8")
    old = "Shafran2019,RM_vs_I/behaviour/post,events_t,reviewer_3,9,"
    assert text.count(old) == 1
    path.write_text(text.replace(old, "Shafran2019,RM_vs_I/behaviour/post,events_t,reviewer_3,8,"), encoding="utf-8")
    assert checks.check_all() == []

    flagged = extraction.effect_sizes("q2").set_index("study_id")
    assert reconcile.NOT_RECONCILED in flagged.loc["Shafran2019", "flags"]
    assert reconcile.NOT_RECONCILED not in str(flagged.loc["Kravitz2013", "flags"])
    # pooled with the flag stated, not dropped: the same effect
    assert flagged.loc["Shafran2019", "yi"] == before.loc["Shafran2019", "yi"]
    status = reconcile.study_status("q2").set_index("study_id")
    assert status.loc["Shafran2019", "status"] == "open disagreements"

    out = tmp_path / "open.csv"
    assert main(["reconcile", "--question", "q2", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "Shafran2019 E01 events_t: reviewer_2 '9' / reviewer_3 '8' -> OPEN" in printed
    form = pd.read_csv(out, dtype=str, keep_default_na=False)
    form = form[form["study_id"] == "Shafran2019"]  # the stored review may hold other open items
    assert form[["study_id", "extraction_id", "field", "value_a", "value_b"]].values.tolist() == [
        ["Shafran2019", "E01", "events_t", "9", "8"]]
    form["consensus"], form["resolved_by"] = "9", "reviewer_2 reviewer_3"
    form["reason"] = "the abstract prints 9/111"
    form.to_csv(out, index=False)
    assert main(["reconcile", "--question", "q2", "--append", str(out)]) == 0

    reconciled = extraction.effect_sizes("q2").set_index("study_id")
    assert reconcile.NOT_RECONCILED not in str(reconciled.loc["Shafran2019", "flags"])
    assert reconcile.study_status("q2").set_index("study_id").loc["Shafran2019", "status"] == "reconciled"
    assert checks.check_all() == []


def test_study_without_second_extraction_is_flagged(data_copy):
    path = data_copy / "q1_webhelp" / "extraction_independent.csv"
    kept = [line for line in path.read_text(encoding="utf-8").splitlines(keepends=True)
            if not line.startswith("Gould2002,")]
    path.write_text("".join(kept), encoding="utf-8")
    flags = extraction.effect_sizes("q1").set_index("study_id")["flags"]
    assert reconcile.SECOND_EXTRACTION_MISSING in flags.loc["Gould2002"]
    assert reconcile.SECOND_EXTRACTION_MISSING not in str(flags.loc["Younes2015"])


def test_reconciliation_that_no_longer_applies_reopens(data_copy):
    """A consensus binds the values it resolved: if the analysis table changes, the study is open."""
    path = data_copy / "q1_webhelp" / "extraction.csv"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace(",R0015,10.2196/jmir.4254,", ",R0015,,", 1), encoding="utf-8")
    status = reconcile.study_status("q1").set_index("study_id")
    assert status.loc["Younes2015", "status"] == "open disagreements"


def _open_grade_items(question: str) -> list[list[str]]:
    result = reconcile.grade_agreement(question)
    opened = result.disagreements[result.disagreements["open"].astype(bool)]
    return opened[["outcome", "domain", "value_a", "value_b"]].values.tolist()


def test_changed_grade_judgement_opens_a_disagreement(data_copy, capsys):
    before = _open_grade_items("q2")
    path = data_copy / "q2_interventions" / "grade_independent.csv"
    text = path.read_text(encoding="utf-8")
    old = "Christensen2006 Kravitz2013 Shafran2019,serious,"
    assert text.count(old) == 1
    path.write_text(text.replace(old, "Christensen2006 Kravitz2013 Shafran2019,very serious,"), encoding="utf-8")
    opened = [item for item in _open_grade_items("q2") if item not in before]
    assert [item[1:] for item in opened] == [["risk_of_bias", "serious", "very serious"]]
    assert main(["reconcile", "--question", "q2", "--table", "grade"]) == 0
    assert "risk_of_bias: reviewer_2 'serious' / reviewer_3 'very serious' -> OPEN" in capsys.readouterr().out


def test_computed_grade_domains_are_not_compared(data_copy, capsys):
    """Imprecision and inconsistency are computed (analysis.findings.grade_computed), not judged: a second
    reviewer's value for them opens nothing, may be left empty, and cannot be reconciled."""
    compared = reconcile.compare_grade("q2")
    assert not compared["domain"].isin(reconcile.GRADE_COMPUTED_DOMAINS).any()
    before = _open_grade_items("q2")
    path = data_copy / "q2_interventions" / "grade_independent.csv"
    table = pd.read_csv(path, dtype=str, keep_default_na=False)
    judged = table["studies"] != ""
    assert judged.any()
    first = pd.read_csv(data_copy / "q2_interventions" / "grade.csv", dtype=str, keep_default_na=False)
    for domain in reconcile.GRADE_COMPUTED_DOMAINS:
        # the opposite of what the first table holds, then nothing at all
        table.loc[judged, domain] = ["not serious" if v != "not serious" else "very serious"
                                     for v in first.set_index("outcome").loc[table.loc[judged, "outcome"], domain]]
    table.to_csv(path, index=False, lineterminator="\n")
    assert _open_grade_items("q2") == before
    for domain in reconcile.GRADE_COMPUTED_DOMAINS:
        table.loc[judged, [domain, f"{domain}_reason"]] = ""
    table.to_csv(path, index=False, lineterminator="\n")
    assert checks.check_all() == [] and _open_grade_items("q2") == before
    assert main(["reconcile", "--question", "q2", "--table", "grade"]) == 0
    assert "imprecision and inconsistency are computed" in capsys.readouterr().out
    row = agreement_report.agreement_table("q2").set_index("what").filter(like="GRADE", axis=0)
    assert row["note"].str.contains("not compared").all() and len(row) == 1

    reconciliation = data_copy / "q2_interventions" / "grade_reconciliation.csv"
    outcome = table.loc[judged, "outcome"].iloc[0]
    _append(reconciliation, f"{outcome},imprecision,reviewer_2,serious,reviewer_3,very serious,serious,"
                            "reviewer_3,computed\n")
    assert problems() == [
        f"q2_interventions/grade_reconciliation.csv:{_rows(reconciliation)}:domain: 'imprecision' is not an "
        "allowed value (design; studies; risk_of_bias; indirectness; publication_bias; "
        "upgrade_levels; (outcome))"]


def test_disagreement_list_names_every_resolved_disagreement():
    for question in ("q1", "q2"):
        listed = agreement_report.disagreement_list(question)
        table = agreement_report.agreement_table(question)
        still_open = listed[listed["open"].astype(bool)]
        # an open extraction disagreement pools its study with the flag; an open item of another
        # stage (a study added since the second review) stays listed as open until reconciled
        flags = reconcile.pooling_flags(question)
        for item in still_open.loc[still_open["stage"] == "extraction", "item"]:
            assert flags.get(item.split(" ")[0]) == reconcile.NOT_RECONCILED, item
        resolved = listed[~listed["open"].astype(bool)]
        assert (resolved["resolved_by"] != "").all() and (resolved["why"] != "").all()
        counted = table.loc[table["what"].str.startswith(("screening", "extraction", "risk of bias")), "disagreements"]
        assert len(listed[listed["stage"] != "GRADE"]) == int(counted.sum())
        grade_row = table[table["what"].str.startswith("GRADE")]
        assert len(listed[listed["stage"] == "GRADE"]) >= int(grade_row["disagreements"].sum())


def test_screening_sample_form_round_trip(data_copy, tmp_path, capsys):
    out = tmp_path / "sample.csv"
    assert main(["form", "--question", "q2", "--table", "screening", "--reviewer", "reviewer_4",
                 "--seed", "11", "--fraction", "0.05", "--out", str(out)]) == 0
    form = pd.read_csv(out, dtype=str, keep_default_na=False)
    form.loc[form.index[:-1], "decision"] = "include"
    form.to_csv(out, index=False)
    before = (data_copy / "q2_interventions" / "screening.csv").read_bytes()
    assert main(["form", "--question", "q2", "--table", "screening", "--seed", "11", "--fraction", "0.05",
                 "--append", str(out)]) == 1
    assert "every one needs a decision" in capsys.readouterr().err
    assert (data_copy / "q2_interventions" / "screening.csv").read_bytes() == before
    form["decision"] = "include"
    form.to_csv(out, index=False)
    assert main(["form", "--question", "q2", "--table", "screening", "--seed", "11", "--fraction", "0.05",
                 "--append", str(out)]) == 0
    stored = pd.read_csv(data_copy / "q2_interventions" / "screening_sample.csv", dtype=str)
    assert sorted(stored.loc[stored["reviewer"] == "reviewer_4", "record_id"]) == sorted(form["record_id"])
    assert checks.check_all() == []
