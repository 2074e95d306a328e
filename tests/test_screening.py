"""Screening: decisions, conflicts, Cohen's kappa, the queue and the `queue`/`screen` commands."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analysis import review
from analysis.selection import screening as scr
from analysis.commands.cli import main

REPO = Path(__file__).resolve().parent.parent
EXPORTS = Path(__file__).resolve().parent / "fixtures" / "exports"
NEW_IDS = [f"2026-12-01_S002_medline-pubmed:{i}" for i in (1, 2, 3)]


from conftest import snapshot  # noqa: E402  (shared with the other command tests)


def _held(question: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A question's clusters and decisions as the review holds them now."""
    part = review.current().question(question)
    return part.clusters, part.screening


@pytest.fixture
def q2_with_update(data_copy, capsys):
    """q2 after an update search: the PubMed fixture (3 real q1 records, new to q2) imported."""
    code = main(["import", str(EXPORTS / "pubmed_export.nbib"), "--question", "q2_interventions",
                 "--source", "MEDLINE (PubMed)", "--query", "help seeking AND depression", "--date", "2026-12-01"])
    assert code == 0, capsys.readouterr().err
    capsys.readouterr()
    return data_copy


def _decisions(tmp_path: Path, rows: list[dict], name: str = "decisions.csv") -> Path:
    path = tmp_path / name
    table = pd.DataFrame(rows)
    for column in scr.SCREENING_COLUMNS:
        if column not in table:
            table[column] = ""
    table[scr.SCREENING_COLUMNS].to_csv(path, index=False)
    return path


# ---------------------------------------------------------------------------------------------
# Reading decisions
# ---------------------------------------------------------------------------------------------
def test_first_round_decisions_in_long_form(first_round):
    screening = scr.read_screening("q1_webhelp")
    assert screening.columns.tolist() == scr.SCREENING_COLUMNS
    assert set(screening["stage"]) == set(scr.STAGES)
    assert set(screening["decision"]) <= set(scr.DECISIONS)
    assert not screening.duplicated(["record_id", "stage", "reviewer"]).any()
    title = scr.final_decisions(screening, "title_abstract")
    assert len(title) == 272  # SOURCE_README: 272 unique documents screened


def test_wide_first_round_shape_is_read_the_same(first_round_copy):
    data_copy = first_round_copy
    """The first round arrived as one row per record (decision include/exclude, reason). Written
    back in that shape, it must read into the same long table (the first reviewer's rows: the
    wide shape holds one reviewer)."""
    long = scr.read_screening("q1_webhelp")
    # the wide shape holds the first round only (one reviewer); later decisions are appended rows
    long = long[long["reviewer"] == scr.FIRST_ROUND_REVIEWER].reset_index(drop=True)
    last = long.drop_duplicates("record_id", keep="last")
    wide = pd.DataFrame({"record_id": last["record_id"],
                         "decision": last["decision"].replace({"awaiting_full_text": "exclude"}),
                         "reason": last["reason"], "note": last["note"]})
    wide.to_csv(data_copy / "q1_webhelp" / "screening.csv", index=False)
    again = scr.read_screening("q1_webhelp")
    key = ["record_id", "stage"]
    pd.testing.assert_frame_equal(
        again.drop(columns="note").sort_values(key).reset_index(drop=True),
        long.drop(columns="note").sort_values(key).reset_index(drop=True))


def test_reason_vocabulary():
    reasons = scr.read_reasons()
    assert reasons.columns.tolist() == scr.REASON_COLUMNS
    assert not reasons.duplicated(["reason", "stage"]).any()
    mapping = dict(zip(zip(reasons["reason"], reasons["stage"]), reasons["prisma_box"]))
    assert mapping[("no extractable statistic in available report", "full_text")] == "reports_not_retrieved"
    assert mapping[("no depression measure", "title_abstract")] == "records_excluded"
    used = set(scr.read_screening("q1_webhelp")["reason"]) | set(scr.read_screening("q2_interventions")["reason"])
    assert used - {""} <= set(reasons["reason"])


# ---------------------------------------------------------------------------------------------
# Agreement
# ---------------------------------------------------------------------------------------------
def _two_reviewers(a: list[str], b: list[str]) -> pd.DataFrame:
    rows = [(f"R{i:04d}", "title_abstract", reviewer, decision, "", "")
            for reviewer, decisions in (("ana", a), ("ben", b)) for i, decision in enumerate(decisions)]
    return pd.DataFrame(rows, columns=scr.SCREENING_COLUMNS)


def test_cohen_kappa_worked_example():
    """Wikipedia, "Cohen's kappa", worked example: 50 grant proposals, both yes 20, A yes/B no 5,
    A no/B yes 10, both no 15: p_o = 0.7, p_e = 0.5, kappa = 0.4."""
    a = ["include"] * 20 + ["include"] * 5 + ["exclude"] * 10 + ["exclude"] * 15
    b = ["include"] * 20 + ["exclude"] * 5 + ["include"] * 10 + ["exclude"] * 15
    result = scr.cohen_kappa(_two_reviewers(a, b), "title_abstract")
    assert result["n_records"] == 50
    assert result["agreement"] == pytest.approx(0.7, abs=1e-12)
    assert result["kappa"] == pytest.approx(0.4, abs=1e-12)


def test_cohen_kappa_matches_statsmodels_with_three_categories():
    from statsmodels.stats.inter_rater import cohens_kappa

    rng = np.random.default_rng(20261201)
    categories = np.array(scr.DECISIONS)
    a = rng.choice(categories, 120, p=[0.3, 0.6, 0.1])
    b = np.where(rng.random(120) < 0.7, a, rng.choice(categories, 120))
    table = pd.crosstab(pd.Categorical(a, categories), pd.Categorical(b, categories), dropna=False).to_numpy()
    result = scr.cohen_kappa(_two_reviewers(list(a), list(b)), "title_abstract")
    assert result["kappa"] == pytest.approx(cohens_kappa(table).kappa, abs=1e-10)


def test_single_reviewer_has_no_kappa():
    screening = scr.read_screening("q1_webhelp")
    first_round = screening[screening["reviewer"] == scr.FIRST_ROUND_REVIEWER]
    result = scr.cohen_kappa(first_round, "title_abstract")
    assert result["kappa"] is None and result["n_records"] == 0 and result["ci_low"] is None
    assert result["note"] == "only one reviewer (reviewer_2) screened at this stage: no agreement to measure"


def test_kappa_ci_matches_published_example():
    """statpsych (Bonett), ci.kappa documentation: f00 = 31, f01 = 12, f10 = 4, f11 = 58 gives
    Cohen's kappa 0.6756757, SE 0.07344761, 95% CI 0.5317210 to 0.8196303 (Fleiss, Levin & Paik
    2003). Reviewer A = x, reviewer B = y."""
    a = ["exclude"] * 31 + ["include"] * 12 + ["exclude"] * 4 + ["include"] * 58
    b = ["exclude"] * 31 + ["exclude"] * 12 + ["include"] * 4 + ["include"] * 58
    result = scr.cohen_kappa(_two_reviewers(a, b), "title_abstract")
    assert result["kappa"] == pytest.approx(0.6756757, abs=5e-8)
    assert result["se"] == pytest.approx(0.07344761, abs=5e-9)
    assert (result["ci_low"], result["ci_high"]) == pytest.approx((0.5317210, 0.8196303), abs=5e-8)


def test_second_reviewer_sample_kappa_is_over_the_sample():
    """The second reviewer screened a seeded sample; kappa covers exactly those records."""
    for question in ("q1_webhelp", "q2_interventions"):
        screening = scr.read_screening(question)
        sample = set(pd.read_csv(REPO / "data" / question / "screening_sample.csv", dtype=str)["record_id"])
        result = scr.cohen_kappa(screening, "title_abstract", records=sample)
        assert result["n_records"] == len(sample)
        assert -1 <= result["ci_low"] <= result["kappa"] <= result["ci_high"] <= 1


def test_conflicts_and_consensus():
    screening = _two_reviewers(["include", "exclude", "include"], ["include", "include", "exclude"])
    screening.loc[(screening["reviewer"] == "ana") & (screening["record_id"] == "R0001"), "reason"] = "review/protocol"
    found = scr.conflicts(screening, "title_abstract")
    assert found["record_id"].tolist() == ["R0001", "R0002"]
    assert found.loc[0, ["ana", "ben"]].tolist() == ["exclude: review/protocol", "include"]
    resolved = pd.concat([screening, pd.DataFrame([("R0001", "title_abstract", "consensus", "include", "", "")],
                                                  columns=scr.SCREENING_COLUMNS)])
    assert scr.conflicts(resolved, "title_abstract")["record_id"].tolist() == ["R0002"]
    final = scr.final_decisions(resolved, "title_abstract").set_index("record_id")["decision"]
    assert final.to_dict() == {"R0000": "include", "R0001": "include", "R0002": "conflict"}


# ---------------------------------------------------------------------------------------------
# Queue
# ---------------------------------------------------------------------------------------------
def test_first_round_queue_is_empty():
    assert scr.screening_queue(*_held("q1_webhelp"), "title_abstract").empty
    assert scr.screening_queue(*_held("q2_interventions"), "full_text").empty


def test_only_new_unique_records_enter_the_queue(q2_with_update, tmp_path, capsys):
    queue = scr.screening_queue(*_held("q2_interventions"), "title_abstract")
    assert queue["record_id"].tolist() == NEW_IDS
    assert queue.columns.tolist() == scr.QUEUE_COLUMNS
    form = tmp_path / "form.csv"
    assert main(["queue", "--question", "q2_interventions", "--out", str(form)]) == 0
    assert "3 unique record(s) of q2_interventions await a title_abstract decision." in capsys.readouterr().out
    assert pd.read_csv(form).columns.tolist()[:6] == scr.SCREENING_COLUMNS


def test_screen_appends_and_the_queue_moves_on(q2_with_update, tmp_path, capsys):
    path = _decisions(tmp_path, [
        {"record_id": NEW_IDS[0], "stage": "title_abstract", "reviewer": "reviewer_1", "decision": "include"},
        {"record_id": NEW_IDS[1], "stage": "title_abstract", "reviewer": "reviewer_1", "decision": "exclude",
         "reason": "not a controlled trial", "note": "cross-sectional survey"},
    ])
    target = q2_with_update / "q2_interventions" / "screening.csv"
    rows_before = len(pd.read_csv(target))
    assert main(["screen", str(path), "--question", "q2_interventions"]) == 0
    assert "2 decision(s) appended" in capsys.readouterr().out
    after = pd.read_csv(target, dtype=str, keep_default_na=False)
    assert len(after) == rows_before + 2
    assert after.iloc[-1][["record_id", "reason", "note"]].tolist() == [NEW_IDS[1], "not a controlled trial",
                                                                        "cross-sectional survey"]
    assert scr.screening_queue(*_held("q2_interventions"), "title_abstract")["record_id"].tolist() == [NEW_IDS[2]]
    assert scr.screening_queue(*_held("q2_interventions"), "full_text")["record_id"].tolist() == [NEW_IDS[0]]
    assert scr.screening_queue(*_held("q2_interventions"), "title_abstract", reviewer="reviewer_2")["record_id"].tolist() == NEW_IDS


REFUSALS = [  # (rows, question, expected message after "<file>, line N: ")
    ([{"record_id": "R9999", "stage": "title_abstract", "reviewer": "reviewer_1", "decision": "include"}], "q1_webhelp",
     "line 2: unknown record_id 'R9999' (not in any search file of q1_webhelp)"),
    ([{"record_id": "R0001", "stage": "full_text", "reviewer": "reviewer_1", "decision": "exclude", "reason": "no statistic"}],
     "q1_webhelp", "line 2: unknown reason 'no statistic' for stage full_text of q1_webhelp"),
    ([{"record_id": "R0001", "stage": "title_abstract", "reviewer": "reviewer_1", "decision": "exclude",
       "reason": "not a controlled trial"}],  # a q2 reason used for q1
     "q1_webhelp", "line 2: unknown reason 'not a controlled trial' for stage title_abstract of q1_webhelp"),
    ([{"record_id": "R0001", "stage": "title_abstract", "reviewer": "reviewer_2", "decision": "include"}],
     "q1_webhelp", "line 2: reviewer_2 already has a title_abstract decision on R0001 in screening.csv"),
    ([{"record_id": "R0004", "stage": "title_abstract", "reviewer": "reviewer_1", "decision": "include"},
      {"record_id": "R0004", "stage": "title_abstract", "reviewer": "reviewer_1", "decision": "exclude", "reason": "review/protocol"}],
     "q1_webhelp", "line 3: repeats the title_abstract decision of reviewer_1 on R0004 from line 2"),
    ([{"record_id": "R0003", "stage": "title_abstract", "reviewer": "reviewer_1", "decision": "include"}], "q1_webhelp",
     "line 2: R0003 is a duplicate of R0002 (linked by exact title); record the decision on R0002"),
    ([{"record_id": "R0004", "stage": "title_abstract", "reviewer": "reviewer_1", "decision": "include",
       "reason": "review/protocol"}], "q1_webhelp", "line 2: an include takes no reason (found 'review/protocol')"),
    ([{"record_id": "R0004", "stage": "full_text", "reviewer": "reviewer_1", "decision": "include"}], "q1_webhelp",
     "line 2: full-text decision on R0004, which has no title/abstract include"),
    ([{"record_id": "R0004", "stage": "abstract", "reviewer": "reviewer_1", "decision": "include"}], "q1_webhelp",
     "line 2: unknown stage 'abstract'; one of ['title_abstract', 'full_text']"),
    ([{"record_id": "R0004", "stage": "title_abstract", "reviewer": "Ana", "decision": "include"}], "q1_webhelp",
     "line 2: reviewer 'Ana' is not reviewer_<number> or consensus"),
    ([{"record_id": "R0004", "stage": "title_abstract", "reviewer": "reviewer_1", "decision": "maybe"}], "q1_webhelp",
     "line 2: unknown decision 'maybe'; one of ['include', 'exclude', 'awaiting_full_text']"),
]


@pytest.mark.parametrize("rows, question, message", REFUSALS)
def test_screen_refuses_and_changes_nothing(data_copy, tmp_path, capsys, rows, question, message):
    path = _decisions(tmp_path, rows)
    before = snapshot(data_copy)
    assert main(["screen", str(path), "--question", question]) == 1
    err = capsys.readouterr().err
    assert f"error: {path}, {message}" in err
    assert err.rstrip().endswith("nothing was written.") and "Traceback" not in err
    assert snapshot(data_copy) == before


def test_screen_lists_every_problem(data_copy, tmp_path, capsys):
    path = _decisions(tmp_path, [
        {"record_id": "R9998", "stage": "title_abstract", "reviewer": "reviewer_1", "decision": "include"},
        {"record_id": "R0004", "stage": "title_abstract", "reviewer": "reviewer_1", "decision": "exclude", "reason": "off topic"},
    ])
    assert main(["screen", str(path), "--question", "q1_webhelp"]) == 1
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 3 and "line 2: unknown record_id 'R9998'" in err[0] and "line 3: unknown reason 'off topic'" in err[1]


def test_screen_refuses_a_file_without_the_columns(data_copy, tmp_path, capsys):
    path = tmp_path / "bad.csv"
    path.write_text("id,verdict\nR0001,include\n", encoding="utf-8")
    before = snapshot(data_copy)
    assert main(["screen", str(path), "--question", "q1_webhelp"]) == 1
    assert f"error: {path}: missing column(s) ['record_id', 'stage', 'reviewer', 'decision']" in capsys.readouterr().err
    assert snapshot(data_copy) == before


def test_a_partly_filled_queue_form_is_accepted(q2_with_update, tmp_path, capsys):
    form = tmp_path / "form.csv"
    assert main(["queue", "--question", "q2_interventions", "--out", str(form)]) == 0
    table = pd.read_csv(form, dtype=str, keep_default_na=False)
    assert table["record_id"].tolist() == NEW_IDS
    table["reviewer"] = "reviewer_1"
    table.loc[1, ["decision", "reason"]] = ["exclude", "no help-seeking outcome"]  # rows 1 and 3 left blank
    table.to_csv(form, index=False)
    capsys.readouterr()
    assert main(["screen", str(form), "--question", "q2_interventions"]) == 0
    assert "1 decision(s) appended" in capsys.readouterr().out
    stored = scr.read_screening("q2_interventions").iloc[-1]
    assert stored[["record_id", "reviewer", "reason"]].tolist() == [NEW_IDS[1], "reviewer_1", "no help-seeking outcome"]


def test_screening_summary():
    summary = scr.screening_summary("q2_interventions", *_held("q2_interventions"))
    assert summary["title_abstract"]["final"] == {"exclude": 123, "include": 33}
    assert summary["full_text"]["final"] == {"awaiting_full_text": 30, "include": 3}
    assert summary["full_text"]["kappa"] is None and summary["full_text"]["queue"] == 0
