"""`check` is the whole contract: every table state it accepts can be computed, and every state
the computation cannot use is refused by `check` with file, row and column.

Covers the cases of a sweep of bad inputs that `check` used to pass (a correlation with n <= 3,
double-zero tables, record ids of an import that clash, search files outside the question's
folder, included studies without appraisal rows, an edited last release row), the imports that
name places or miss a title, the screening form's cells that a spreadsheet would run, labels
that matplotlib would read as mathtext, and the command that includes an awaiting report.
A property-style test draws data sets, keeps those `check` accepts and computes every pooled
result from them.
"""
from __future__ import annotations

import csv
import io
import random
import warnings
from pathlib import Path

import pandas as pd
import pytest

from analysis.commands import checks, cli
from analysis import review
from analysis.versions import release_archive, release_changes
from analysis.io import safe_csv, validate
from conftest import snapshot

EXPORTS = Path(__file__).resolve().parent / "fixtures" / "exports"


def rows_of(path: Path) -> tuple[list[str], list[dict]]:
    with path.open(newline="", encoding="utf-8") as stream:
        reader = csv.DictReader(stream)
        return list(reader.fieldnames or []), list(reader)


def write_rows(path: Path, fields: list[str], rows: list[dict]) -> None:
    with path.open("w", newline="", encoding="utf-8") as stream:
        writer = csv.DictWriter(stream, fieldnames=fields, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


def set_values(path: Path, row_index: int, **values: str) -> None:
    fields, rows = rows_of(path)
    rows[row_index].update(values)
    write_rows(path, fields, rows)


def problem_lines(data: Path) -> list[str]:
    return [str(p) for p in checks.check_all(data)]


# ----------------------------------------------------------------------------- check's rules

def test_a_correlation_from_three_people_is_refused(data_copy):
    set_values(data_copy / "q1_webhelp" / "extraction.csv", 0, chi2_n="3")
    assert "q1_webhelp/extraction.csv:2:chi2_n: chi2_n 3 is 3 or less: a correlation's " \
           "Fisher-z variance 1/(n - 3) needs n > 3" in problem_lines(data_copy)


def _events_row(data: Path, events_t: int, events_c: int, n_t: int = 111, n_c: int = 138) -> None:
    set_values(data / "q2_interventions" / "extraction.csv", 0, events_t=str(events_t),
               events_c=str(events_c), n_t=str(n_t), n_c=str(n_c), pct_t="", pct_c="",
               excerpt=f"{events_t} of {n_t} versus {events_c} of {n_c}")


def test_comparisons_sharing_a_control_arm_must_agree_on_it(data_copy):
    set_values(data_copy / "q2_interventions" / "extraction.csv", 1, n_c="137",
               excerpt=rows_of(data_copy / "q2_interventions" / "extraction.csv")[1][1]["excerpt"] + " 137")
    assert "q2_interventions/extraction.csv:3:n_c: n_c 137 differs from 138 at row 2, which shares " \
           "its control arm (study Shafran2019, arm_group info)" in problem_lines(data_copy)


@pytest.mark.parametrize("events", [(0, 0), (111, 138)])
def test_a_double_zero_table_is_refused(data_copy, events):
    _events_row(data_copy, *events)
    found = [p for p in problem_lines(data_copy) if ":2:events_t:" in p]
    assert len(found) == 1 and "double-zero table" in found[0], problem_lines(data_copy)


def test_a_search_file_outside_the_question_folder_is_refused(data_copy):
    log = data_copy / "q1_webhelp" / "searches" / "searches.csv"
    fields, rows = rows_of(log)
    for bad in ("/etc/passwd", "../../q2_interventions/records.csv", "searches/missing.ris"):
        write_rows(log, fields, [dict(rows[0], file=bad)])
        found = [p for p in problem_lines(data_copy) if p.startswith("q1_webhelp/searches/searches.csv:2:file:")]
        assert found, bad


def test_an_included_study_without_appraisal_rows_is_refused(data_copy):
    rob = data_copy / "q1_webhelp" / "risk_of_bias.csv"
    fields, rows = rows_of(rob)
    write_rows(rob, fields, [row for row in rows if row["study_id"] != "Gunn2016"])
    grade = data_copy / "q1_webhelp" / "grade.csv"
    fields, rows = rows_of(grade)
    for row in rows:
        row["studies"] = " ".join(s for s in row["studies"].split() if s != "Gunn2016")
    write_rows(grade, fields, rows)
    found = [p for p in checks.check_all(data_copy) if "Gunn2016" in p.message]
    assert {p.message.split(" ", 2)[2][:30] for p in found} == {
        "has no risk-of-bias rows in q1", "is not named in the studies of"}
    assert all(p.file == "q1_webhelp/studies.csv" and p.column == "study_id" and p.pending for p in found)


def test_an_edit_of_the_last_release_row_is_detected(data_copy):
    log = data_copy / "releases" / "releases.csv"
    text = log.read_text(encoding="utf-8")
    log.write_text(text.replace(",955,7,", ",955,8,"), encoding="utf-8")  # the last (only) row
    found = problem_lines(data_copy)
    assert "releases/releases.csv:-:-: changed after the last release was written (its SHA-256 " \
           "differs from SHA256SUMS)" in found
    assert cli.main(["release", "--summary", "x", "--date", "2026-11-29"]) == 1  # never sealed


def test_a_removed_head_file_is_reported(data_copy):
    (data_copy / "releases" / release_archive.HEAD_FILE).unlink()
    assert any(p.startswith("releases/SHA256SUMS:-:-: missing") for p in problem_lines(data_copy))


# ----------------------------------------------------------------------------- imports

def test_an_import_whose_record_ids_clash_is_refused_and_writes_nothing(data_copy, tmp_path, capsys):
    export = tmp_path / "first_round_again.csv"
    export.write_bytes((data_copy / "q1_webhelp" / "records.csv").read_bytes() + b"")
    fields, rows = rows_of(export)
    write_rows(export, fields, rows[:5])  # the first round's ids R0001-R0005, as a new file
    before = snapshot(data_copy)
    code = cli.main(["import", str(export), "--question", "q1", "--source", "copy", "--query", "q",
                     "--date", "2026-11-20"])
    err = capsys.readouterr().err
    assert code == 1 and "occur in more than one search file" in err and "nothing was changed" in err
    assert snapshot(data_copy) == before
    assert cli.main(["check"]) == 0  # and everything still works


def test_an_export_without_a_title_column_is_refused(data_copy, tmp_path, capsys):
    text = (EXPORTS / "scopus_export.csv").read_text(encoding="utf-8-sig")
    export = tmp_path / "scopus_no_title.csv"
    export.write_text(text.replace(",Title,", ",Document title,", 1), encoding="utf-8")
    before = snapshot(data_copy)
    code = cli.main(["import", str(export), "--question", "q1", "--source", "Scopus", "--query", "q",
                     "--date", "2026-11-20"])
    err = capsys.readouterr().err
    assert code == 1, err
    # refused where the file is read: as a Scopus CSV without its title column, or as no known
    # export at all (the reader names the formats it tried and quotes the first lines)
    assert "scopus_no_title.csv, line 1: " in err
    assert "no title column" in err or "not a search export" in err
    assert snapshot(data_copy) == before


# ----------------------------------------------------------------------------- text stays text

FORMULAS = ["=HYPERLINK(\"http://x\",\"y\")", "=cmd|' /C calc'!A0", "+SUM(1,2)", "-2+3", "@SUM(1)",
            "\tTab", "\rReturn"]


def test_formulas_are_neutralised_in_files_for_people():
    frame = pd.DataFrame({"title": FORMULAS + ["plain"], "k": list(range(len(FORMULAS) + 1))})
    parsed = pd.read_csv(io.StringIO(safe_csv.csv_for_people(frame)), dtype=str, keep_default_na=False)
    assert all(value.startswith("'") for value in parsed["title"][:len(FORMULAS)])
    assert parsed["title"].iloc[-1] == "plain" and parsed["k"].tolist() == [str(i) for i in range(8)]
    assert safe_csv.neutralise(-2.5) == -2.5  # numbers stay numbers
    assert safe_csv.neutralise("-0.71") == "-0.71" and safe_csv.neutralise("+3e-2") == "+3e-2"
    assert safe_csv.neutralise("-0.71 [-1.2, -0.2]") == "'-0.71 [-1.2, -0.2]"


def test_the_screening_form_has_the_abstract_and_no_live_formula(data_copy, tmp_path):
    from analysis.selection import screening

    part = review.current().question("q1_webhelp")
    queue = screening.screening_queue(part.clusters, part.screening, "title_abstract")
    assert "abstract" in queue.columns
    queue = pd.concat([queue, pd.DataFrame([{"record_id": "X:1", "title": "=HYPERLINK(\"http://e\")",
                                             "abstract": "@SUM(A1)"}])], ignore_index=True)
    form = pd.read_csv(io.StringIO(screening.form_csv(screening.screening_form(queue, "title_abstract"))),
                       dtype=str, keep_default_na=False)
    assert form.columns[:6].tolist() == screening.SCREENING_COLUMNS and "abstract" in form.columns
    assert form["title"].iloc[-1] == "'=HYPERLINK(\"http://e\")" and form["abstract"].iloc[-1] == "'@SUM(A1)"


def test_downloads_of_the_book_neutralise_formulas():
    import base64
    import re

    from analysis.views import tables

    block = tables.download_link(pd.DataFrame({"label": ["=1+1"], "estimate": [-0.5]}), "t.csv")
    payload = base64.b64decode(re.search(r"base64,([^\"]+)", block.html_text).group(1)).decode()
    assert payload.splitlines() == ["label,estimate", "'=1+1,-0.5"]


def test_dollar_signs_in_labels_are_plain_text():
    import matplotlib

    matplotlib.use("Agg")
    from analysis.figures import style  # noqa: F401  (importing it sets the figures' text to plain)
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    label = ax.set_title("US$ 5 and $ 10; $\\undefinedmacro$")
    fig.canvas.draw()  # mathtext would fail on the undefined macro here
    assert label.get_parse_math() is False
    plt.close(fig)


def test_a_forest_plot_prints_dollar_labels_as_written():
    import math

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from analysis.figures import forest_plots

    labels = ["US$ 5 and $ 10", "$\\undefinedmacro$"]
    studies = forest_plots.unpooled([math.log(2.0), math.log(1.5)], [0.1, 0.2], labels)
    fig = forest_plots.forest_plot(studies, scale="exp")
    fig.canvas.draw()  # drawing is where mathtext would fail on the undefined macro
    shown = [t for t in fig.findobj(matplotlib.text.Text) if t.get_text() in labels]
    assert {t.get_text() for t in shown} == set(labels)
    assert all(t.get_parse_math() is False for t in shown)
    plt.close(fig)


# ----------------------------------------------------------------------------- screening

def test_awaiting_full_text_at_title_abstract_names_the_stage(data_copy, tmp_path, capsys):
    form = tmp_path / "d.csv"
    form.write_text("record_id,stage,reviewer,decision,reason,note\n"
                    "R0001,title_abstract,reviewer_7,awaiting_full_text,no extractable statistic in available report,\n",
                    encoding="utf-8")
    assert cli.main(["screen", str(form), "--question", "q1"]) == 1
    assert "awaiting_full_text is a full-text decision; at title_abstract choose include" in capsys.readouterr().err


def test_a_report_awaiting_its_full_text_is_included_when_it_arrives(data_copy, capsys):
    awaiting = data_copy / "q1_webhelp" / "awaiting_full_text.csv"
    screening_file = data_copy / "q1_webhelp" / "screening.csv"
    record = rows_of(awaiting)[1][0]["record_id"]
    screening_before = screening_file.read_text(encoding="utf-8").splitlines()
    assert cli.main(["full-text-arrived", record, "--question", "q1", "--date", "2026-11-28"]) == 0
    out = capsys.readouterr().out
    assert f"{record}: full-text decision of reviewer_2 is now include" in out and "removed from" in out
    assert record not in {row["record_id"] for row in rows_of(awaiting)[1]}
    after = screening_file.read_text(encoding="utf-8").splitlines()
    changed = [(a, b) for a, b in zip(screening_before, after) if a != b]
    assert len(after) == len(screening_before) and len(changed) == 1  # every other line byte-identical
    assert f"{record},full_text,reviewer_2,include,," in changed[0][1]
    assert "full text arrived 2026-11-28" in changed[0][1]
    # check now lists exactly the work still to do for this record: its study rows
    pending = [p for p in checks.check_all(data_copy) if record in p.message]
    assert pending and all(p.pending for p in pending)
    assert cli.main(["full-text-arrived", record, "--question", "q1"]) == 1  # no longer awaiting


def test_release_lists_the_main_changes_first_and_never_hides_changes():
    changes = ["q1/a/leave1/primary: k 3 -> 2", "q1/a/primary/dl_z: estimate 1 -> 2",
               "q1/a/primary/primary: i2 1 -> 2", "q1/a/primary/primary: estimate 1 -> 2"]
    ordered = release_changes.ordered_changes(changes)
    assert ordered[:2] == ["q1/a/primary/primary: estimate 1 -> 2", "q1/a/primary/primary: i2 1 -> 2"]
    assert sorted(ordered) == sorted(changes)


# ----------------------------------------------------------------------------- property

def test_every_state_check_accepts_can_be_computed(data_copy):
    """Draw sample sizes and event counts (including the edge cases 0, n and n <= 3); whenever
    `check` accepts the tables, every pooled result is computed without error or warning."""
    generator = random.Random(20261129)
    accepted = refused = 0
    q1 = data_copy / "q1_webhelp" / "extraction.csv"
    q2 = data_copy / "q2_interventions" / "extraction.csv"
    q1_fields, q1_rows = rows_of(q1)
    q2_fields, q2_rows = rows_of(q2)
    for _ in range(12):
        rows = [dict(row) for row in q1_rows]
        rows[0]["chi2_n"] = str(generator.choice([1, 2, 3, 4, 5, 50, 519]))
        write_rows(q1, q1_fields, rows)
        rows = [dict(row) for row in q2_rows]
        n_c = generator.choice([1, 3, 40])  # the two comparisons share their control arm
        e_c = generator.choice([0, n_c, 1])
        for row in rows[:2]:
            n_t = generator.choice([1, 2, 5, 40])
            e_t = generator.choice([0, n_t, 1])
            row.update(n_t=str(n_t), n_c=str(n_c), events_t=str(e_t), events_c=str(e_c), pct_t="",
                       pct_c="", excerpt=f"{e_t} of {n_t} versus {e_c} of {n_c}")
        write_rows(q2, q2_fields, rows)
        if checks.check_all(data_copy):
            refused += 1
            continue
        accepted += 1
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            table = review.current().results.copy()
        assert len(table) and table["pooled"].notna().all()
        assert not caught, [str(w.message) for w in caught]  # nothing left out silently
    assert accepted and refused  # the draws reach both sides of the contract
