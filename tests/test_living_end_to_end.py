"""End to end, living mode: a report awaiting full text comes back through its request sheet, a
search run is added, the review is released, and what a reader of a living review needs follows.

Everything runs as the command line in a copy of the repository (the package, the book, data/,
CITATION.cff and .zenodo.json; REVIEW_DATA_DIR names the copied data/), so the repository's own
files are never touched. The numbers put into the sheet are a labelled test fixture ("Test
fixture, not from the report"): they exist only in the temporary copy.
"""
from __future__ import annotations

import csv
import hashlib
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from conftest import appraise_study, regrade, snapshot

REPO = Path(__file__).resolve().parent.parent
COPIED = ("analysis", "book", "data", "_toc.yml", "_config.yml", "CITATION.cff", ".zenodo.json")
RECORD = "R0002"  # the first report awaiting full text for question 1
SEARCH_RIS = """TY  - JOUR
TI  - Living-mode test fixture: a record found by a later search
AU  - Fixture, Ann
PY  - 2026
JO  - Journal of Test Fixtures
DO  - 10.0000/living.2026.1
ER  - 
"""


def _clone(destination: Path) -> Path:
    ignore = shutil.ignore_patterns("__pycache__", "_build", ".ipynb_checkpoints", "*.pyc")
    for name in COPIED:
        source = REPO / name
        if source.is_dir():
            shutil.copytree(source, destination / name, ignore=ignore)
        else:
            shutil.copy2(source, destination / name)
    return destination


def _run(root: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "REVIEW_DATA_DIR": str(root / "data"), "PYTHONPATH": str(root),
           "MPLBACKEND": "Agg"}
    return subprocess.run([sys.executable, "-m", "analysis", *args], cwd=root, env=env,
                          capture_output=True, text=True, timeout=600)


def _filled_sheet(root: Path, path: Path, **changes: str) -> Path:
    """The request sheet of RECORD with the test fixture's numbers, written to ``path``."""
    sheet = root / "requests" / "q1_webhelp" / f"{RECORD}.csv"
    with sheet.open(newline="", encoding="utf-8") as stream:
        reader = csv.DictReader(stream)
        fields, rows = reader.fieldnames, list(reader)
    row = dict(rows[0])
    assert row["record_id"] == RECORD and row["statistic_type"] == ""
    row.update(extraction_id="E90", study_id="Hwang2021", comparison_id="main",
               outcome_id="depression_webhelp", help_seeking_form="online_support_groups",
               population="Test fixture population", n="500", depression_measure="PHQ-9",
               exposure="support website connectedness (test fixture)", statistic_type="r",
               r=".21", direction="positive", direction_note="test fixture", adjusted="no",
               depression_combined_with_anxiety="no", secondary_source="no",
               excerpt="Test fixture, not from the report: r = .21 (n = 500)",
               study_label="Hwang 2021", study_design="cross-lagged panel (test fixture)",
               study_country="not stated (test fixture)")
    extra = changes.pop("extra_rows", None)
    row.update(changes)
    with path.open("w", newline="", encoding="utf-8") as stream:
        writer = csv.DictWriter(stream, fieldnames=fields, lineterminator="\n")
        writer.writeheader()
        writer.writerow(row)
        for other in extra or []:
            writer.writerow({**row, **other})
    return path


@pytest.fixture(scope="module")
def living(tmp_path_factory):
    root = _clone(tmp_path_factory.mktemp("living"))
    releases = root / "data" / "releases"
    before = {name: (releases / name).read_bytes() for name in ("releases.csv", "results.csv")}
    with (root / "data" / "q1_webhelp" / "studies.csv").open(newline="", encoding="utf-8") as stream:
        studies_before = len(list(csv.DictReader(stream)))  # unreleased studies may be among them
    from analysis import review  # the copy's counts before this update (it may hold unreleased work)

    counts_before = dict(review.current(root / "data").question("q1").counts)
    steps = {"awaiting": _run(root, "awaiting", "--out", str(root / "requests"), "--question", "q1")}
    sheet = _filled_sheet(root, root / "filled.csv")
    steps["import_sheet"] = _run(root, "awaiting", "--import", str(sheet), "--question", "q1")
    if steps["import_sheet"].returncode == 0:  # the appraisal step of the walkthrough
        appraise_study(root / "data" / "q1_webhelp", "Hwang2021")
        regrade(root / "data", "q1_webhelp")
    export = root / "later-search.ris"
    export.write_text(SEARCH_RIS, encoding="utf-8")
    steps["import_search"] = _run(root, "import", str(export), "--question", "q1_webhelp",
                                  "--source", "Test database", "--query", "living-mode test",
                                  "--date", "2026-11-30")
    steps["check"] = _run(root, "check")
    steps["release"] = _run(root, "release", "--summary", "Hwang 2021 from its full text; a new search",
                            "--date", "2026-11-30")
    for name, step in steps.items():
        assert step.returncode == 0, f"{name}: {step.stdout}\n{step.stderr}"
    return {"root": root, "before": before, "steps": steps, "q1_studies_before": studies_before,
            "q1_counts_before": counts_before}


@pytest.fixture
def in_copy(living, monkeypatch):
    monkeypatch.setenv("REVIEW_DATA_DIR", str(living["root"] / "data"))
    return living


def test_earlier_release_rows_stay_byte_identical(living):
    releases = living["root"] / "data" / "releases"
    for name, old in living["before"].items():
        new = (releases / name).read_bytes()
        assert new.startswith(old) and len(new) > len(old), name


def test_a_new_search_makes_a_major_release_and_the_queue_shrinks(living):
    root = living["root"]
    log = list(csv.DictReader((root / "data" / "releases" / "releases.csv").open(encoding="utf-8")))
    assert log[-1]["kind"] == "major" and log[-1]["version"].endswith(".0.0")
    assert "new search run" in living["steps"]["release"].stdout
    awaiting = (root / "data" / "q1_webhelp" / "awaiting_full_text.csv").read_text(encoding="utf-8")
    original = (REPO / "data" / "q1_webhelp" / "awaiting_full_text.csv").read_text(encoding="utf-8")
    assert f",{RECORD}," in original and f",{RECORD}," not in awaiting
    assert len(awaiting.splitlines()) == len(original.splitlines()) - 1


def test_whats_new_says_what_changed_and_whether_conclusions_changed(in_copy):
    from analysis.versions import release_archive, whats_new
    from analysis.versions.release_files import read_sidecar

    version = release_archive.read_releases()["version"].iloc[-1]
    rows = whats_new.whats_new()
    assert rows["version"].iloc[0] == version  # newest first
    events = dict(zip(rows[rows["version"] == version]["event"],
                      rows[rows["version"] == version]["description"]))
    assert "New search has been performed" in events
    assert "Hwang2021" in events["New studies included"]
    assigned = read_sidecar("methods_changes.csv")
    assert ("Methods changed" in events) is bool((assigned["version"] == version).any())
    stored = read_sidecar("conclusions.csv")
    changed = (stored[stored["version"] == version]["changed"] == "yes").any()
    assert ("Conclusions changed" in events) is bool(changed)
    assert ("Conclusions not changed" in events) is (not changed)
    assert set(rows[rows["version"] == "0"]["event"]) == {"Published review (version 0)"}


def test_flow_across_versions_gains_the_new_version(in_copy):
    from analysis.versions import release_archive, whats_new

    versions = list(release_archive.read_releases()["version"])
    flow = whats_new.flow_across_versions()
    new = flow[(flow["version"] == versions[-1]) & (flow["question"] == "q1")].iloc[0]
    previous = flow[(flow["version"] == versions[-2]) & (flow["question"] == "q1")].iloc[0]
    counts = in_copy["q1_counts_before"]
    assert new["total_search_runs"] == counts["search_runs"] + 1  # this update's search
    assert new["total_records_identified"] == counts["records_identified"] + 1
    for step in ("search_runs", "records_identified"):
        assert new[f"new_{step}"] == new[f"total_{step}"] - previous[f"total_{step}"] >= 1
    assert new["total_studies_included"] == in_copy["q1_studies_before"] + 1  # Hwang 2021 added
    assert new["new_studies_included"] == new["total_studies_included"] - previous["total_studies_included"] >= 1


def test_the_checklist_is_complete(in_copy):
    from analysis.versions import prisma_lsr

    checklist = prisma_lsr.checklist()
    fillable = (prisma_lsr.items()["filled_by"] != "").to_numpy()
    assert set(checklist[fillable]["status"]) == {"reported"}


def test_monitoring_shows_every_release_with_its_boundary(in_copy):
    import math

    from analysis.versions import monitoring, release_archive

    from analysis.pooling import synthesis
    from analysis.versions.release_files import read_sidecar

    # every release whose look is on the outcome's current analysis scale (monitoring starts
    # again after a change of scale)
    scale = synthesis.analysis_spec("q1", "depression_webhelp").analysis_measure
    stored = read_sidecar("monitoring.csv")
    stored = stored[(stored["outcome"] == "depression_webhelp") & (stored["measure"] == scale)]
    versions = [v for v in release_archive.read_releases()["version"] if v in set(stored["version"])]
    table = monitoring.monitoring_table()
    q1 = table[(table["outcome"] == "depression_webhelp") & table["fraction"].notna()]
    assert len(versions) >= 2 and list(q1["version"]) == versions
    assert all(math.isfinite(z) for z in q1["z"]) and all(b > 1.9 for b in q1["boundary"])
    assert set(q1["label"]) == {monitoring.MONITORING_LABEL}


def test_the_release_archive_and_citation_metadata_follow_the_release(in_copy):
    import json

    from analysis.versions import release_archive
    from analysis.versions.release_files import read_sidecar

    root = in_copy["root"]
    last = release_archive.read_releases().iloc[-1]
    archive = read_sidecar("archives.csv").iloc[-1]
    path = root / "data" / "releases" / archive["file"]
    assert archive["version"] == last["version"]
    assert hashlib.sha256(path.read_bytes()).hexdigest() == archive["sha256"]
    with zipfile.ZipFile(path) as bundle:
        extraction = bundle.read(f"review-{last['version']}/data/q1_webhelp/extraction.csv")
        assert extraction == (root / "data" / "q1_webhelp" / "extraction.csv").read_bytes()
        results = bundle.read(f"review-{last['version']}/results.csv").decode("utf-8")
        assert all(line.startswith(last["version"] + ",") for line in results.splitlines()[1:])
    citation = (root / "CITATION.cff").read_text(encoding="utf-8")
    assert f'version: "{last["version"]}"' in citation and f'date-released: "{last["date"]}"' in citation
    zenodo = json.loads((root / ".zenodo.json").read_text(encoding="utf-8"))
    assert (zenodo["version"], zenodo["publication_date"]) == (last["version"], last["date"])


# --------------------------------------------------------------------------- refused sheets

@pytest.fixture(scope="module")
def requests(tmp_path_factory):
    root = _clone(tmp_path_factory.mktemp("requests"))
    step = _run(root, "awaiting", "--out", str(root / "requests"), "--question", "q1")
    assert step.returncode == 0, step.stderr
    return root


def test_awaiting_writes_a_request_and_a_blank_sheet_per_report(requests):
    folder = requests / "requests" / "q1_webhelp"
    awaiting = list(csv.DictReader((requests / "data" / "q1_webhelp" / "awaiting_full_text.csv")
                                   .open(encoding="utf-8")))
    assert sorted(p.stem for p in folder.glob("*.csv")) == sorted(r["record_id"] for r in awaiting)
    request = (folder / f"{RECORD}.md").read_text(encoding="utf-8")
    assert "depression_webhelp" in request and "`chi2`, `chi2_df`, `chi2_n`" in request


@pytest.mark.parametrize("changes, column, message", [
    ({"excerpt": ""}, "excerpt", "required"),
    ({"record_id": "R9999"}, "record_id", "not awaiting full text"),
    ({"r": "1.5", "excerpt": "Test fixture: r = 1.5 (n = 500)"}, "r", "out of range"),
    ({"extraction_id": "E01"}, "extraction_id", "duplicate extraction_id 'E01'"),
    ({"extra_rows": [{"extraction_id": "E91"}]}, None, "duplicate"),
], ids=["missing excerpt", "unknown report", "impossible number", "existing id", "duplicate row"])
def test_a_bad_sheet_is_refused_with_its_row_and_column_and_nothing_is_written(
        requests, tmp_path, changes, column, message):
    before = snapshot(requests / "data")
    bib = (requests / "book" / "references.bib").read_bytes()
    sheet = _filled_sheet(requests, tmp_path / "sheet.csv", **changes)
    step = _run(requests, "awaiting", "--import", str(sheet), "--question", "q1")
    assert step.returncode == 1
    assert "nothing was imported or changed" in step.stderr
    lines = [line for line in step.stderr.splitlines() if line.startswith("sheet.csv:")]
    assert lines, step.stderr
    if column:
        assert any(line.split(":")[2] == column and message in line for line in lines), step.stderr
    else:
        assert any(message in line and "first at row 2 of the sheet" in line
                   and line.split(":")[1] == "3" for line in lines), step.stderr
    assert snapshot(requests / "data") == before
    assert (requests / "book" / "references.bib").read_bytes() == bib
