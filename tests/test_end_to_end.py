"""End to end: an author adds a search and a study to a copy of data/, checks and releases.

The workflow is the one the appendix "Updating this review" (book/appendix_updating.md) tells
authors to type: ``import`` a search export, ``dedup``, ``queue`` and ``screen`` (title and
abstract, then full text), add the study and its extraction row by hand, ``check``, ``release``.
Everything runs as the command line in a copy of the repository (the package, the book and
data/, as a fresh clone has them; REVIEW_DATA_DIR names the copied data/), so the repository's
own files are never touched.

The added study is a labelled test fixture (Fixture 2026, example.org, DOI prefix 10.0000): it
exists only in the temporary copy and only so that the workflow has something to pool.
"""
from __future__ import annotations

import csv
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
QUESTION = "q1_webhelp"
OUTCOME = "depression_webhelp"
FIXTURE_TITLE = "Workflow test fixture: a report that exists only in this test"
FIXTURE_RIS = f"""TY  - JOUR
TI  - {FIXTURE_TITLE}
AU  - Fixture, Ann
PY  - 2026
JO  - Journal of Test Fixtures
DO  - 10.0000/fixture.2026.1
UR  - https://example.org/fixture-2026
AB  - Test fixture for the end-to-end test of the review's update workflow.
ER  - 
"""


CLONED = ("analysis", "benchmarks", "book", "data", "tests", "_toc.yml", "_config.yml", "nbval_sanitize.cfg",
          "pyproject.toml", "CITATION.cff", ".zenodo.json")

# Set in the test run that this file starts inside the updated copy, so that it does not start
# itself again there.
NESTED = "REVIEW_NESTED_TEST_RUN"
if os.environ.get(NESTED):
    pytest.skip("already inside the end-to-end test's own test run", allow_module_level=True)

# `make test` is the unit tests and then nbval over the chapters. Inside the updated copy the
# unit tests run here; the chapters' stored outputs are refreshed and compared by
# test_nbval_flags_the_chapter_until_it_is_refreshed. Left out: this file, the book build and
# the browser tests (they build the HTML book) and the fault-injection tests (they do not read
# the review's data).
NOT_RERUN = ("test_end_to_end.py", "test_book.py", "test_browser.py", "test_faults.py")


def clone(destination: Path) -> Path:
    """The parts of the repository an author works with, copied to ``destination``."""
    ignore = shutil.ignore_patterns("__pycache__", "_build", ".ipynb_checkpoints", "*.pyc", "_artifacts")
    for name in CLONED:
        source = REPO / name
        if source.is_dir():
            shutil.copytree(source, destination / name, ignore=ignore)
        elif source.exists():
            shutil.copy2(source, destination / name)
    return destination


def environment(root: Path) -> dict[str, str]:
    """The copy's package first on the path, and its data/ as the review's data."""
    return {**os.environ, "REVIEW_DATA_DIR": str(root / "data"), "PYTHONPATH": str(root)}


def cli(root: Path, *args: str) -> subprocess.CompletedProcess:
    """``python -m analysis <args>`` in the copy, as an author runs it."""
    return subprocess.run([sys.executable, "-m", "analysis", *args], cwd=root,
                          env=environment(root), capture_output=True, text=True, timeout=300)


from conftest import appraise_study, regrade, snapshot  # noqa: E402  (shared with the other command tests)


def _rows(path: Path) -> tuple[list[str], list[dict]]:
    with path.open(newline="", encoding="utf-8") as stream:
        reader = csv.DictReader(stream)
        return list(reader.fieldnames or []), list(reader)


def fill_form(form: Path, search_id: str, decision: str) -> list[str]:
    """Fill in the screening form that ``queue --out`` wrote, for the new search's records."""
    fields, rows = _rows(form)
    chosen = [row for row in rows if row["search_id"] == search_id]
    for row in chosen:
        row.update(reviewer="reviewer_1", decision=decision, reason="", note="test fixture")
    with form.open("w", newline="", encoding="utf-8") as stream:
        writer = csv.DictWriter(stream, fieldnames=fields, lineterminator="\n")
        writer.writeheader()
        writer.writerows(chosen)
    return [row["record_id"] for row in chosen]


def append_row(path: Path, values: dict) -> None:
    """Add one row at the end of a table, as an author does in a spreadsheet."""
    fields, _ = _rows(path)
    unknown = set(values) - set(fields)
    assert not unknown, f"{path.name} has no column(s) {unknown}"
    data = path.read_bytes()
    with path.open("a", newline="", encoding="utf-8") as stream:
        if data and not data.endswith(b"\n"):
            stream.write("\n")
        csv.DictWriter(stream, fieldnames=fields, lineterminator="\n").writerow(values)


FIXTURE_BIBTEX = f"""
@article{{Fixture2026,
  author = {{Fixture, Ann}},
  title = {{{FIXTURE_TITLE}}},
  journal = {{Journal of Test Fixtures}},
  year = {{2026}},
  doi = {{10.0000/fixture.2026.1}}
}}
"""


def add_fixture_study(root: Path, record_id: str) -> None:
    """What an author adds by hand for a new study: its reference, study row and extraction row."""
    with (root / "book" / "references.bib").open("a", encoding="utf-8") as stream:
        stream.write(FIXTURE_BIBTEX)
    folder = root / "data" / QUESTION
    _, extraction = _rows(folder / "extraction.csv")
    number = max(int(row["extraction_id"][1:]) for row in extraction) + 1
    append_row(folder / "studies.csv", {
        "study_id": "Fixture2026", "label": "Fixture 2026", "first_author": "Fixture A",
        "year": "2026", "title": FIXTURE_TITLE, "journal": "Journal of Test Fixtures",
        "doi": "10.0000/fixture.2026.1", "record_id": record_id, "design": "cross-sectional survey",
        "population": "test fixture", "country": "none", "bib_key": "Fixture2026"})
    append_row(folder / "extraction.csv", {
        "extraction_id": f"E{number:02d}", "study_id": "Fixture2026", "comparison_id": "main",
        "outcome_id": OUTCOME, "help_seeking_form": "online_support_groups",
        "record_id": record_id, "doi": "10.0000/fixture.2026.1",
        "url": "https://example.org/fixture-2026", "population": "test fixture", "n": "400",
        "depression_measure": "PHQ-9 score of 10 or more", "exposure": "online support group use",
        "statistic_type": "OR_CI", "or_value": "0.50", "ci_low": "0.30", "ci_high": "0.83",
        "direction": "negative", "direction_note": "test fixture", "adjusted": "not stated",
        "depression_combined_with_anxiety": "no", "secondary_source": "no",
        "excerpt": "test fixture (OR 0.50, 95% CI 0.30-0.83)"})
    # the appraisal of the study (step 4 of the appendix): one row per item of its tool, and
    # its name in the GRADE row of the outcome it informs
    appraise_study(folder, "Fixture2026")


def archived(data: Path, version: str) -> dict:
    """The primary result of the outcome in one release, from data/releases/results.csv."""
    _, rows = _rows(data / "releases" / "results.csv")
    for row in rows:
        if (row["version"], row["question"], row["outcome"], row["scenario"], row["model_name"]) == \
                (version, "q1", OUTCOME, "primary", "primary"):
            return row
    raise AssertionError(f"release {version} has no primary {OUTCOME} row")


@pytest.fixture(scope="module")
def update(tmp_path_factory):
    """A copy of the repository updated the documented way; every command's result is kept."""
    work = tmp_path_factory.mktemp("update")
    root = clone(work / "review")
    data = root / "data"
    releases = data / "releases"
    if not (releases / "releases.csv").exists():  # the review not yet released: release it first
        first = cli(root, "release", "--summary", "Release before the update", "--date", "2026-11-23")
        assert first.returncode == 0, first.stderr
    log_before = (releases / "releases.csv").read_bytes()
    results_before = (releases / "results.csv").read_bytes()
    previous = log_before.decode("utf-8").splitlines()[-1].split(",")[0]
    # the update happens on the day of the last release (a release may not predate the one before)
    with (releases / "releases.csv").open(newline="", encoding="utf-8") as stream:
        update_date = list(csv.DictReader(stream))[-1]["date"]

    steps: dict[str, subprocess.CompletedProcess] = {}
    export = work / "pubmed-export.ris"
    export.write_text(FIXTURE_RIS, encoding="utf-8")
    steps["import"] = cli(root, "import", str(export), "--question", QUESTION,
                          "--source", "MEDLINE (PubMed)", "--query", "fixture[ti]", "--date", update_date)
    search = re.match(r"(S\d+):", steps["import"].stdout)
    search_id = search.group(1) if search else "?"
    steps["dedup"] = cli(root, "dedup", "--question", QUESTION)
    title_form, full_text_form = work / "title_abstract.csv", work / "full_text.csv"
    steps["queue"] = cli(root, "queue", "--question", QUESTION, "--out", str(title_form))
    new_records = fill_form(title_form, search_id, "include") if title_form.exists() else []
    steps["screen"] = cli(root, "screen", str(title_form), "--question", QUESTION)
    steps["queue full text"] = cli(root, "queue", "--question", QUESTION, "--stage", "full_text",
                                   "--out", str(full_text_form))
    if full_text_form.exists():
        fill_form(full_text_form, search_id, "include")
    steps["screen full text"] = cli(root, "screen", str(full_text_form), "--question", QUESTION)
    if new_records:
        add_fixture_study(root, new_records[0])
        regrade(data, QUESTION)  # `check` lists the GRADE domains the new study changes
    steps["check"] = cli(root, "check")
    tests_after_update = unit_tests(root)
    steps["release"] = cli(root, "release", "--summary", "New PubMed search; added Fixture 2026",
                           "--date", update_date)
    tests_after_release = unit_tests(root)
    return {"work": work, "root": root, "data": data, "steps": steps, "new_records": new_records,
            "log_before": log_before, "results_before": results_before, "previous": previous,
            "tests": {"after the update": tests_after_update, "after the release": tests_after_release}}


def unit_tests(root: Path) -> subprocess.CompletedProcess:
    """Step 7, `make test`, in the updated copy: its own unit tests on its own data."""
    files = sorted(str(path.relative_to(root)) for path in (root / "tests").glob("test_*.py")
                   if path.name not in NOT_RERUN)
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *files],
                          cwd=root, env={**environment(root), NESTED: "1"}, capture_output=True,
                          text=True, timeout=1800)


def test_every_documented_command_succeeds(update):
    for name, result in update["steps"].items():
        assert result.returncode == 0, f"`{name}` failed:\n{result.stdout}\n{result.stderr}"
    assert "1 of them are new unique records" in update["steps"]["import"].stdout
    assert len(update["new_records"]) == 1
    assert "tables valid" in update["steps"]["check"].stdout


@pytest.mark.parametrize("moment", ["after the update", "after the release"])
def test_the_tests_pass_after_the_update_and_after_the_release(update, moment):
    """The appendix: "do not release until every test passes". Growth must not fail a test."""
    result = update["tests"][moment]
    assert result.returncode == 0, f"unit tests {moment}:\n{result.stdout[-6000:]}\n{result.stderr[-3000:]}"
    assert " passed" in result.stdout and " failed" not in result.stdout


def test_release_log_gains_exactly_one_major_entry(update):
    log = (update["data"] / "releases" / "releases.csv").read_bytes()
    assert len(log.splitlines()) == len(update["log_before"].splitlines()) + 1
    _, rows = _rows(update["data"] / "releases" / "releases.csv")
    new = rows[-1]
    assert new["kind"] == "major"  # a new search run since the previous release
    assert new["version"] == f"{int(update['previous'].split('.')[0]) + 1}.0.0"
    assert update["steps"]["release"].stdout.strip().splitlines()[-1] == new["version"]


def test_previous_release_rows_are_byte_identical(update):
    releases = update["data"] / "releases"
    for name, before in (("releases.csv", update["log_before"]), ("results.csv", update["results_before"])):
        after = (releases / name).read_bytes()
        assert after[:len(before)] == before, f"{name}: earlier rows changed"
        assert len(after) > len(before)


def test_pooled_estimate_changed_with_the_new_study(update):
    _, rows = _rows(update["data"] / "releases" / "releases.csv")
    before = archived(update["data"], update["previous"])
    after = archived(update["data"], rows[-1]["version"])
    assert int(after["k"]) == int(before["k"]) + 1
    assert "Fixture2026" in after["studies"] and "Fixture2026" not in before["studies"]
    assert float(after["estimate"]) < float(before["estimate"])  # the fixture's OR is below 1


def test_bad_input_is_refused_without_changing_any_file(update, tmp_path):
    """A wrong number stops check and release; a wrong decision stops screen; nothing is written.
    (Bad release options are tested in test_releases.py, bad exports in the records tests.)"""
    root = tmp_path / "review"
    shutil.copytree(update["root"], root)
    data = root / "data"
    # A value no report can print: an odds ratio below zero, added to the extraction table.
    extraction = data / QUESTION / "extraction.csv"
    _, rows = _rows(extraction)
    bad = dict(rows[0], extraction_id="E99", comparison_id="typo", or_value="-2",
               statistic_type="OR_CI", ci_low="0.30", ci_high="0.83")
    append_row(extraction, bad)
    before = snapshot(root)

    check = cli(root, "check")
    assert check.returncode == 1
    assert re.search(rf"{QUESTION}/extraction.csv:{len(rows) + 2}:or_value: ", check.stdout, re.I), check.stdout
    release = cli(root, "release", "--summary", "Should not happen")
    assert release.returncode == 1 and "nothing was released" in release.stderr
    assert "Traceback" not in release.stderr

    decisions = tmp_path / "decisions.csv"
    decisions.write_text("record_id,stage,reviewer,decision,reason,note\n"
                         f"{update['new_records'][0]},title_abstract,reviewer_3,maybe,,\n", encoding="utf-8")
    screened = cli(root, "screen", str(decisions), "--question", QUESTION)
    assert screened.returncode == 1 and "unknown decision 'maybe'" in screened.stderr

    after = snapshot(root)
    assert {k: v for k, v in after.items() if "__pycache__" not in k} == \
        {k: v for k, v in before.items() if "__pycache__" not in k}


CHAPTER_NOTEBOOKS = ("book/04_webhelp_correlations.ipynb", "book/05_webhelp_correlations.ipynb")


def test_nbval_flags_the_chapter_until_it_is_refreshed(update, monkeypatch):
    """The stored outputs of a chapter go stale when data change; refreshing fixes them."""
    root = update["root"]
    notebook = next((root / name for name in CHAPTER_NOTEBOOKS if (root / name).exists()), None)
    if notebook is None:
        pytest.skip(f"no chapter notebook yet ({' or '.join(CHAPTER_NOTEBOOKS)})")
    from analysis.views.notebooks import execute_notebook

    command = [sys.executable, "-m", "pytest", "--nbval", "-p", "no:cacheprovider", "-q",
               "--nbval-sanitize-with", str(root / "nbval_sanitize.cfg"), str(notebook)]
    stale = subprocess.run(command, cwd=root, env=environment(root), capture_output=True,
                           text=True, timeout=900)
    assert stale.returncode != 0, "nbval passed although the chapter's data changed"
    # The stale cells are those that show the new study (nbval prints the fresh output).
    assert "Fixture" in stale.stdout, stale.stdout[-4000:]

    for name, value in environment(root).items():  # the kernel inherits this process's environment
        monkeypatch.setenv(name, value)
    execute_notebook(notebook)
    fresh = subprocess.run(command, cwd=root, env=environment(root), capture_output=True,
                           text=True, timeout=900)
    assert fresh.returncode == 0, f"nbval still fails after refreshing:\n{fresh.stdout[-4000:]}"
