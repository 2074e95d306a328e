"""Checks of ``check`` that span files: the search files of each search log, the appraisal rows
of every included study, comparisons that share a control arm, and the release archive.

Each function returns :class:`analysis.io.validate.Problem` objects (file, row, column, message);
:func:`analysis.io.validate.check_all` calls them after the tables' own checks.
"""
from __future__ import annotations

import contextlib
import csv
import io
import re
from pathlib import Path

from .validate import Problem, _Table

__all__ = ["search_problems", "appraisal_problems", "shared_control_problems", "archive_problems"]


def search_problems(folder: str, root: Path, searches: _Table | None) -> list[Problem]:
    """Every search file of the log lies inside the question's folder and exists, and all of
    them can be read together: readable exports, record ids that no two files share."""
    if searches is None or not searches.readable:
        return []
    from analysis.search import records
    from . import storage

    problems: list[Problem] = []
    question_root = root / folder
    for row_number, row in searches.rows:
        name = row.get("file", "")
        if not name:
            continue
        try:
            storage.safe_relative(name, question_root)
        except storage.PathError as error:
            problems.append(Problem(searches.file, row_number, "file", str(error)))
            continue
        if not (question_root / name).is_file():
            problems.append(Problem(searches.file, row_number, "file",
                                    f"{folder}/{name} does not exist"))
    # an export stored under the name `import` gives, but not in the log: an interrupted import
    # of an earlier version, or a file copied by hand; it is not part of the review
    listed = {row.get("file", "") for _, row in searches.rows}
    for path in sorted((question_root / "searches").glob("*")):
        relative = f"searches/{path.name}"
        if path.is_file() and re.match(r"\d{4}-\d{2}-\d{2}_S\d+_", path.name) and relative not in listed:
            problems.append(Problem(f"{folder}/{relative}", None, None,
                                    "a search export that the search log does not list; import it "
                                    "with `python -m analysis import` (after moving it out of "
                                    "data/) or remove it"))
    if problems:
        return problems
    from .paths import using_data_dir

    try:
        with using_data_dir(root):
            records.load_records(folder)
    except records.ExportError as error:
        path = Path(error.path)
        relative = (path.relative_to(root).as_posix() if path.is_relative_to(root)
                    else str(path))
        problems.append(Problem(relative, error.line, None, error.problem))
    except (ValueError, OSError) as error:
        problems.append(Problem(searches.file, None, None, str(error).replace(str(root) + "/", "")))
    return problems


def shared_control_problems(extraction: _Table | None) -> list[Problem]:
    """Comparisons of one study with the same ``arm_group`` share one control arm (codebook):
    they must print the same control numbers, or splitting or combining that arm would pool
    a table that no row shows (such as one with no events in either arm)."""
    if extraction is None or "arm_group" not in extraction.schema.names:
        return []
    problems: list[Problem] = []
    first: dict[tuple, tuple[int, dict[str, str]]] = {}
    for row_number, row in extraction.rows:
        key = tuple(row.get(c, "") for c in ("study_id", "arm_group", "outcome", "timepoint_group"))
        if key not in first:
            first[key] = (row_number, row)
            continue
        earlier_row, earlier = first[key]
        for column in ("n_c", "events_c"):
            if row.get(column) and earlier.get(column) and row[column] != earlier[column]:
                problems.append(Problem(extraction.file, row_number, column,
                                        f"{column} {row[column]} differs from {earlier[column]} at row "
                                        f"{earlier_row}, which shares its control arm "
                                        f"(study {key[0]}, arm_group {key[1]})"))
    return problems


def appraisal_problems(folder: str, root: Path, studies: _Table | None) -> list[Problem]:
    """Every study has its risk-of-bias rows and is named in a GRADE row: the book shows both
    for every included study, never for some of them."""
    if studies is None or not studies.readable or not studies.rows:
        return []
    problems: list[Problem] = []
    appraised: set[str] | None = None
    rob_path = root / folder / "risk_of_bias.csv"
    if rob_path.exists():
        with contextlib.suppress(Exception):  # an unreadable table is reported by its own check
            appraised = {row.get("study_id", "") for row in
                         csv.DictReader(io.StringIO(rob_path.read_text(encoding="utf-8-sig")))}
    graded: set[str] | None = None
    grade_path = root / folder / "grade.csv"
    if grade_path.exists():
        with contextlib.suppress(Exception):
            graded = {study for row in
                      csv.DictReader(io.StringIO(grade_path.read_text(encoding="utf-8-sig")))
                      for study in (row.get("studies") or "").split()}
    for row_number, row in studies.rows:
        study = row.get("study_id", "")
        if not study:
            continue
        if appraised is None or study not in appraised:
            problems.append(Problem(studies.file, row_number, "study_id",
                                    f"study {study} has no risk-of-bias rows in "
                                    f"{folder}/risk_of_bias.csv", pending=True))
        if graded is None or study not in graded:
            problems.append(Problem(studies.file, row_number, "study_id",
                                    f"study {study} is not named in the studies of any row of "
                                    f"{folder}/grade.csv", pending=True))
    return problems


def archive_problems(root: Path) -> list[Problem]:
    """The release log and results archive: every row, the last one too, as written."""
    if not (root / "releases").exists():
        return []
    from analysis.versions.release_archive import verify_archive

    found = []
    for text in verify_archive(root / "releases"):
        relative = text.replace(str(root) + "/", "")
        name, _, message = relative.partition(": ")
        match = re.match(r"line (\d+)", message)
        found.append(Problem(name if name.startswith("releases/") else "releases/releases.csv",
                             int(match.group(1)) if match else None, None, message or relative))
    return found
