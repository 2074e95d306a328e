"""Shared fixtures: one strict build of the book for every test that reads the HTML."""
from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from book_build import REPO_ROOT, build_book


@pytest.fixture(scope="session")
def built_book(tmp_path_factory):
    """The HTML folder of a fresh `jupyter-book build -W -n --keep-going` of this repository.

    ``REVIEW_BUILT_HTML=<folder>`` reuses a build made just before (the strict build takes
    minutes), for example to look at the browser test's screenshots again."""
    prebuilt = os.environ.get("REVIEW_BUILT_HTML")
    if prebuilt:
        return Path(prebuilt)
    output = tmp_path_factory.mktemp("book")
    result = build_book(output)
    if result.returncode != 0:
        pytest.fail(f"the strict book build failed (exit {result.returncode}):\n"
                    f"{result.stdout[-6000:]}\n{result.stderr[-6000:]}")
    return output / "_build" / "html"


@pytest.fixture(scope="session")
def chapter_pages():
    """The HTML file name of every page listed in _toc.yml."""
    import yaml

    toc = yaml.safe_load((REPO_ROOT / "_toc.yml").read_text(encoding="utf-8"))
    files = [toc["root"]] + [c["file"] for part in toc["parts"] for c in part["chapters"]]
    return [f"{name}.html" for name in files]


HOSTILE_TITLE = "<script>alert(1)</script>"


@pytest.fixture(scope="session")
def changed_book(tmp_path_factory, built_book):
    """A strict rebuild, over a copy of the first build's output, on a copy of data/ where one
    extracted number changed and a search export brought a record whose title is a script
    tag. Rebuilding in place is what `make book` does after an author changes data/: no
    notebook source changed, so only the book's data fingerprint can make the pages follow."""
    import shutil

    import csv

    from book_build import copy_data

    workdir = tmp_path_factory.mktemp("changed")
    data = copy_data(workdir)
    extraction = data / "q1_webhelp" / "extraction.csv"
    with extraction.open(newline="", encoding="utf-8") as stream:
        reader = csv.DictReader(stream)
        fields, rows = reader.fieldnames, list(reader)
    gould = [row for row in rows if row["study_id"] == "Gould2002"]
    assert gould and gould[0]["chi2"] == "3.8", "the test expects Gould 2002's printed chi-square of 3.8"
    # An author corrects the number and the excerpt it was copied from, as a correction would.
    gould[0]["chi2"] = "9.6"
    assert "3.8" in gould[0]["excerpt"]
    gould[0]["excerpt"] = gould[0]["excerpt"].replace("3.8", "9.6")
    with extraction.open("w", newline="", encoding="utf-8") as stream:
        writer = csv.DictWriter(stream, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)
    # The hostile record arrives the way every new record does: in a search export.
    export = workdir / "hostile.ris"
    export.write_text(f"TY  - JOUR\nTI  - {HOSTILE_TITLE}\nAU  - Doe, Jane\nPY  - 2026\nER  - \n",
                      encoding="utf-8")
    imported = subprocess.run(
        [sys.executable, "-m", "analysis", "import", str(export), "--question", "q1_webhelp",
         "--source", "Test database", "--query", "hostile title test", "--date", "2026-11-23"],
        env={**os.environ, "REVIEW_DATA_DIR": str(data)}, capture_output=True, text=True)
    assert imported.returncode == 0, imported.stdout + imported.stderr
    output = workdir / "out"
    shutil.copytree(built_book.parent, output / "_build")
    result = build_book(output, data_dir=data)
    if result.returncode != 0:
        pytest.fail(f"the strict build on changed data failed (exit {result.returncode}):\n"
                    f"{result.stdout[-6000:]}\n{result.stderr[-6000:]}")
    return {"html": output / "_build" / "html", "hostile_title": HOSTILE_TITLE, "data": data}


def snapshot(folder: Path) -> dict[str, str]:
    """sha256 of every file under a folder, to prove that a refused command changed nothing."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture
def data_copy(tmp_path, monkeypatch):
    """A copy of data/ that the commands may write to (REVIEW_DATA_DIR points at it)."""
    target = tmp_path / "data"
    shutil.copytree(REPO_ROOT / "data", target, ignore=shutil.ignore_patterns(".transaction", ".write.lock"))
    monkeypatch.setenv("REVIEW_DATA_DIR", str(target))
    return target


FIRST_ROUND = Path(__file__).resolve().parent / "fixtures" / "first_round"


@pytest.fixture
def first_round(monkeypatch):
    """The data as of release 1.0.0 (tests/fixtures/first_round), read-only: for tests that
    reproduce the first round's reported counts, which the growing review no longer shows."""
    monkeypatch.setenv("REVIEW_DATA_DIR", str(FIRST_ROUND))
    return FIRST_ROUND


@pytest.fixture
def first_round_copy(tmp_path, monkeypatch):
    """A copy of the first round's data that a test may write to (REVIEW_DATA_DIR points at it):
    for tests of what a command does to the first round's files (the next search id is S002)."""
    target = tmp_path / "data"
    shutil.copytree(FIRST_ROUND, target)
    monkeypatch.setenv("REVIEW_DATA_DIR", str(target))
    return target


def appraise_study(folder: Path, study_id: str) -> None:
    """What an author adds for a newly included observational study (the walkthrough's
    appraisal step): one JBI row per item, and the study named in the first GRADE row with
    studies."""
    import csv

    def rows(path: Path) -> tuple[list[str], list[dict]]:
        with path.open(newline="", encoding="utf-8") as stream:
            reader = csv.DictReader(stream)
            return list(reader.fieldnames or []), list(reader)

    fields, _ = rows(folder / "risk_of_bias.csv")
    with (folder / "risk_of_bias.csv").open("a", newline="", encoding="utf-8") as stream:
        writer = csv.DictWriter(stream, fieldnames=fields, lineterminator="\n")
        for item in [f"Q{i}" for i in range(1, 9)] + ["Overall"]:
            writer.writerow({"study_id": study_id, "tool": "JBI analytical cross-sectional", "domain": item,
                             "judgement": "low" if item == "Overall" else "yes",
                             "support": "test fixture" if item != "Overall" else "derived from the domain judgements",
                             "rationale": "test fixture", "source_record": "",
                             "basis": "abstract-level text only (title and abstract as stored; no full text)"})
    fields, grade = rows(folder / "grade.csv")
    for row in grade:
        if row["studies"]:
            row["studies"] = f"{row['studies']} {study_id}"
            break
    with (folder / "grade.csv").open("w", newline="", encoding="utf-8") as stream:
        writer = csv.DictWriter(stream, fieldnames=fields, lineterminator="\n")
        writer.writeheader()
        writer.writerows(grade)


def regrade(data: Path, question: str) -> None:
    """What an author does when `check` lists a GRADE judgement the numbers no longer give (after
    adding a study): set imprecision and inconsistency, and their reasons, to the computed ones."""
    import csv

    from analysis.findings import grade_computed
    from analysis import review
    from analysis.io.paths import using_data_dir

    path = data / question / "grade.csv"
    with using_data_dir(data):
        review.clear_cache()
        computed = grade_computed.computed_judgements(question)
    review.clear_cache()
    with path.open(newline="", encoding="utf-8") as stream:
        reader = csv.DictReader(stream)
        fields, rows = list(reader.fieldnames or []), list(reader)
    for record in computed.to_dict("records"):
        for row in rows:
            if row["outcome"] == record["outcome"]:
                row[record["domain"]] = record["judgement"]
                row[f"{record['domain']}_reason"] = record["reason"]
    with path.open("w", newline="", encoding="utf-8") as stream:
        writer = csv.DictWriter(stream, fieldnames=fields, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
