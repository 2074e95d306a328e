"""Releases (analysis.versions.release_archive, release_changes, release_command,
release_history and fingerprint): version rule, append-only archive, atomic writes, views.

Every test runs on a copy of data/ (REVIEW_DATA_DIR) with the pooled results replaced by a
small stand-in table, so that what is tested is the bookkeeping, not the statistics.
"""
from __future__ import annotations

import csv
import os
import shutil
from pathlib import Path

import pytest

from analysis.commands import cli
from analysis import review as review_object
from analysis.io import fingerprint
from analysis.versions import release_archive, release_command, release_history
from analysis.pooling import synthesis

REPO_DATA = Path(__file__).resolve().parent.parent / "data"


def _results(shift: float = 0.0):
    """A results table with the real columns: q1 pooled (k = 3), everything else not pooled."""
    records = []
    for spec in synthesis.ANALYSES:
        pooled = spec is synthesis.ANALYSES[0]
        record = {column: None for column in synthesis.RESULT_COLUMNS}
        record.update(question=spec.question, outcome=spec.outcome, outcome_label=spec.label,
                      scenario="primary", model_name="primary", method="REML", test="knha",
                      measure=spec.reader_measure, pooled=pooled, k=3 if pooled else 0,
                      k_studies=3 if pooled else 0, n=1000 if pooled else None,
                      studies="A; B; C" if pooled else "", model="stand-in")
        if pooled:
            record.update(estimate=0.2 + shift, ci_low=0.1 + shift, ci_high=0.3 + shift, i2=40.0,
                          tau2=0.01, pval=0.01)
        records.append(record)
    return synthesis.object_frame(records, synthesis.RESULT_COLUMNS)


@pytest.fixture
def review(tmp_path, monkeypatch):
    data = tmp_path / "data"
    shutil.copytree(REPO_DATA, data, ignore=shutil.ignore_patterns("releases"))
    monkeypatch.setenv("REVIEW_DATA_DIR", str(data))
    state = {"results": _results(), "problems": []}
    # every release step reads the results the review holds: here, the fixed table above
    monkeypatch.setattr(review_object.Review, "results", property(lambda self: state["results"]))
    monkeypatch.setattr(cli, "release_problems", lambda: list(state["problems"]))
    state["data"] = data
    state["log"] = data / "releases" / "releases.csv"
    state["archive"] = data / "releases" / "results.csv"
    return state


def release(*argv: str) -> int:
    return cli.main(["release", *argv])


def _snapshot(review) -> dict:
    return {path: path.read_bytes() for path in (review["log"], review["archive"]) if path.exists()}


def test_next_version_follows_the_rule():
    assert release_command.next_version(None, "patch") == "1.0.0"
    assert release_command.next_version("1.4.2", "major") == "2.0.0"
    assert release_command.next_version("1.4.2", "minor") == "1.5.0"
    assert release_command.next_version("1.4.2", "patch") == "1.4.3"
    with pytest.raises(release_archive.ReleaseError, match="kind must be one of major, minor, patch"):
        release_command.next_version("1.0.0", "huge")


def test_first_release_is_1_0_0_and_records_counts_and_fingerprint(review, capsys):
    assert release("--summary", "First release", "--date", "2026-11-23") == 0
    assert capsys.readouterr().out.strip().endswith("1.0.0")
    log = list(csv.DictReader(review["log"].open(encoding="utf-8")))
    assert [row["version"] for row in log] == ["1.0.0"] and log[0]["kind"] == "major"
    assert log[0]["data_fingerprint"] == fingerprint.data_fingerprint(review["data"])
    studies = sum(1 for q in ("q1_webhelp", "q2_interventions")
                  for _ in csv.DictReader((review["data"] / q / "studies.csv").open(encoding="utf-8")))
    from analysis.search import records as rec

    records = sum(len(rec.load_records(q)) for q in ("q1_webhelp", "q2_interventions"))
    assert (int(log[0]["n_included"]), int(log[0]["n_records"])) == (studies, records)
    archived = release_archive.read_results("1.0.0")
    assert len(archived) == len(synthesis.ANALYSES)
    assert archived.iloc[0]["estimate"] == 0.2 and archived.iloc[1]["estimate"] is None
    assert release_archive.verify_archive() == []


def test_kind_is_inferred_patch_minor_major(review, capsys):
    assert release("--summary", "First", "--date", "2026-11-23") == 0
    assert release("--summary", "Typo in a note", "--date", "2026-11-24") == 0  # nothing changed
    review["results"] = _results(shift=0.05)
    assert release("--summary", "Corrected a printed OR", "--date", "2026-11-25") == 0
    with (review["data"] / "q1_webhelp" / "queries.csv").open("a", encoding="utf-8") as stream:
        stream.write("Q999,new search,article pages,2026-11-26,8\n")
    assert release("--summary", "New search", "--date", "2026-11-26") == 0
    log = list(csv.DictReader(review["log"].open(encoding="utf-8")))
    assert [(row["version"], row["kind"]) for row in log] == [
        ("1.0.0", "major"), ("1.0.1", "patch"), ("1.1.0", "minor"), ("2.0.0", "major")]
    assert "estimate 0.2 -> 0.25" in capsys.readouterr().out
    assert release_archive.verify_archive() == []


def test_kind_can_be_overridden(review):
    assert release("--summary", "First", "--date", "2026-11-23") == 0
    assert release("--summary", "Declared minor", "--date", "2026-11-23", "--kind", "minor") == 0
    assert release_history.current_release()["version"] == "1.1.0"


def test_earlier_rows_stay_byte_identical(review):
    assert release("--summary", "First", "--date", "2026-11-23") == 0
    before = _snapshot(review)
    review["results"] = _results(shift=0.1)
    assert release("--summary", "Second", "--date", "2026-11-24") == 0
    after = _snapshot(review)
    for path, old in before.items():
        assert after[path].startswith(old) and len(after[path]) > len(old)
    assert len(after[review["log"]].splitlines()) == 3


def test_an_edited_earlier_result_row_is_refused(review, capsys):
    assert release("--summary", "First", "--date", "2026-11-23") == 0
    text = review["archive"].read_text(encoding="utf-8").replace("0.2,", "0.21,", 1)
    review["archive"].write_text(text, encoding="utf-8")
    before = _snapshot(review)
    assert release("--summary", "Second", "--date", "2026-11-24") == 1
    message = capsys.readouterr().err
    assert "rows of release 1.0.0 are not byte-identical" in message and "nothing was written" in message
    assert _snapshot(review) == before


def test_an_edited_earlier_log_line_is_refused(review, capsys):
    assert release("--summary", "First", "--date", "2026-11-23") == 0
    assert release("--summary", "Second", "--date", "2026-11-24") == 0
    text = review["log"].read_text(encoding="utf-8").replace("First", "First!", 1)
    review["log"].write_text(text, encoding="utf-8")
    before = _snapshot(review)
    assert release("--summary", "Third", "--date", "2026-11-25") == 1
    assert "line 3 (release 1.0.1): an earlier line of the release log was changed" in capsys.readouterr().err
    assert _snapshot(review) == before


def test_rows_of_an_unlisted_release_are_reported(review):
    assert release("--summary", "First", "--date", "2026-11-23") == 0
    with review["archive"].open("a", encoding="utf-8") as stream:
        stream.write("9.9.9,q1,x\n")
    assert any("rows for release 9.9.9, which releases.csv does not list" in problem
               for problem in release_archive.verify_archive())


@pytest.mark.parametrize("argv, message, code", [
    (("--summary", "  "), "--summary must say what this release changed", 1),
    (("--summary", "two\nlines"), "--summary must be one line", 1),
    # a date not in the form YYYY-MM-DD is a wrong call of the command: exit 2
    (("--summary", "x", "--date", "23/11/2026"), "--date '23/11/2026' is not a date in the form YYYY-MM-DD", 2),
    (("--summary", "x", "--date", "2026-02-30"), "--date '2026-02-30' is not a date", 2),
    (("--summary", "x", "--date", "20261129"), "--date '20261129' is not a date in the form YYYY-MM-DD", 2),
    (("--summary", "x", "--date", "2026-11-01"), "--date 2026-11-01 is earlier than the last release (2026-11-23)", 1),
])
def test_bad_input_is_refused_and_nothing_is_written(review, capsys, argv, message, code):
    assert release("--summary", "First", "--date", "2026-11-23") == 0
    capsys.readouterr()
    before = _snapshot(review)
    assert release(*argv) == code
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert _snapshot(review) == before


def test_invalid_data_stop_the_release(review, capsys):
    review["problems"] = ["q1_webhelp/extraction.csv:7:or_value: must be > 0 (got -1)"]
    assert release("--summary", "First") == 1
    err = capsys.readouterr().err
    assert "q1_webhelp/extraction.csv:7:or_value: must be > 0" in err and "nothing was released" in err
    assert not review["log"].exists() and not review["archive"].exists()


def test_dry_run_writes_nothing(review, capsys):
    assert release("--summary", "First", "--date", "2026-11-23", "--dry-run") == 0
    assert "dry run: nothing was written" in capsys.readouterr().out
    assert not (review["data"] / "releases").exists() or not any((review["data"] / "releases").iterdir())


def test_a_failed_write_leaves_the_files_as_they_were(review, monkeypatch):
    assert release("--summary", "First", "--date", "2026-11-23") == 0
    before = _snapshot(review)
    files_before = sorted(p.name for p in (review["data"] / "releases").iterdir())

    def failing_replace(source, target):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", failing_replace)
    review["results"] = _results(shift=0.1)
    assert release("--summary", "Second", "--date", "2026-11-24") == 1
    assert _snapshot(review) == before
    assert sorted(p.name for p in (review["data"] / "releases").iterdir()) == files_before


def test_fingerprint_ignores_the_archive_and_follows_every_data_table(review):
    first = fingerprint.data_fingerprint()
    assert release("--summary", "First", "--date", "2026-11-23") == 0
    assert fingerprint.data_fingerprint() == first
    with (review["data"] / "q2_interventions" / "screening.csv").open("a", encoding="utf-8") as stream:
        stream.write("R9999,full_text,reviewer_2,exclude,review/protocol,\n")
    assert fingerprint.data_fingerprint() != first


def test_what_changed_sets_current_beside_previous_and_the_published_review(review):
    assert release("--summary", "First", "--date", "2026-11-23") == 0
    review["results"] = _results(shift=0.1)
    assert release("--summary", "Second", "--date", "2026-11-24") == 0
    view = release_history.what_changed()
    first = view[view["outcome"] == synthesis.ANALYSES[0].outcome]
    assert list(first["role"]) == ["published", "previous", "current"]
    assert list(first["version"]) == ["0", "1.0.0", "1.1.0"]
    # Bizzotto et al. 2023 abstract: "r=0.089; P=.009" (online support groups).
    assert first.iloc[0]["estimate"] == 0.089 and first.iloc[0]["measure"] == "r"
    assert first.iloc[1]["estimate"] == 0.2 and first.iloc[2]["estimate"] == pytest.approx(0.3)
    assert first.iloc[2]["changed"] is True
    behaviour = view[(view["outcome"] == "behaviour") & (view["role"] == "published")].iloc[0]
    # Ni et al. 2025 abstract: "OR = 1.67, 95% CI: 1.05, 2.94".
    assert (behaviour["estimate"], behaviour["ci_low"], behaviour["ci_high"]) == (1.67, 1.05, 2.94)
    unchanged = view[(view["outcome"] == "stigma") & (view["role"] == "current")].iloc[0]
    assert unchanged["changed"] is False
    older = release_history.what_changed(current="1.0.0")
    assert set(older["role"]) == {"published", "current"}
    with pytest.raises(release_archive.ReleaseError, match="no release '3.0.0'"):
        release_history.what_changed(current="3.0.0")


def test_estimate_history_lists_every_release_after_the_published_review(review):
    assert release("--summary", "First", "--date", "2026-11-23") == 0
    review["results"] = _results(shift=0.1)
    assert release("--summary", "Second", "--date", "2026-11-24") == 0
    history = release_history.estimate_history()
    q1 = history[history["outcome"] == synthesis.ANALYSES[0].outcome]
    assert list(q1["version"]) == ["0", "1.0.0", "1.1.0"]
    assert list(q1["kind"]) == ["published", "major", "minor"]
    assert [q1.iloc[1]["estimate"], q1.iloc[2]["estimate"]] == [0.2, pytest.approx(0.3)]


def test_what_changed_wide_has_one_row_per_outcome(review):
    assert release("--summary", "First", "--date", "2026-11-23") == 0
    review["results"] = _results(shift=0.1)
    assert release("--summary", "Second", "--date", "2026-11-24") == 0
    wide = release_history.what_changed_wide()
    assert len(wide) == len(synthesis.ANALYSES)
    first = wide.iloc[0]
    assert (first["published_version"], first["previous_version"], first["current_version"]) == ("0", "1.0.0", "1.1.0")
    assert (first["published_estimate"], first["previous_estimate"]) == (0.089, 0.2)
    assert first["changed"] is True and first["current_k"] == 3


def test_release_status_says_when_the_data_moved_on(review):
    assert release_history.release_status()["label"] == "not yet released"
    assert release("--summary", "First", "--date", "2026-11-23") == 0
    status = release_history.release_status()
    assert (status["version"], status["data_matches"], status["label"]) == ("1.0.0", True, "1.0.0 (2026-11-23)")
    with (review["data"] / "q1_webhelp" / "studies.csv").open("a", encoding="utf-8") as stream:
        stream.write("\n")
    assert release_history.release_status()["label"] == "1.0.0 (2026-11-23); data changed since"


def test_release_log_for_readers_has_counts_and_no_hashes(review):
    assert release("--summary", "First", "--date", "2026-11-23") == 0
    log = release_history.release_log()
    assert list(log.columns) == ["version", "date", "kind", "summary", "data", "search runs", "records", "included"]
    row = log.iloc[0]
    assert (row["version"], row["kind"], row["summary"]) == ("1.0.0", "major", "First")
    assert row["data"] == fingerprint.data_fingerprint()[:12] and type(row["records"]) is int
