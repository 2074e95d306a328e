"""The whole-review check, ``python -m analysis check``: every problem in the data folder.

It runs every table's own schema checks and the links between tables (both of
:mod:`analysis.io`), then the checks that belong to later stages of the pipeline: the
risk-of-bias and GRADE tables and the GRADE judgements the numbers compute (:mod:`analysis.evidence`),
the search exports of each search log (:mod:`analysis.search`), living mode
(:mod:`analysis.versions.living`) and the release archive (:mod:`analysis.versions.release_archive`).
It returns every problem found, not only the first, in the order ``check`` prints them, each a
:class:`~analysis.io.problems.Problem` naming the file (relative to the data folder), the row, the
column and what is wrong.

``python -m analysis check`` (:mod:`analysis.commands.cli`) prints one ``file:row:column: message`` line
per problem and a summary, and exits 1 on any problem; otherwise it prints "all N tables valid".
Every write to data/ checks its staged state with :func:`blocking_problems` (the same rules,
less the work still to be done that a write cannot have caused: see ``Problem.pending``).
"""
from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

from analysis.evidence import grade, rob
from analysis.findings import grade_computed
from analysis.io import links, schemas, storage
from analysis.io.paths import data_dir as default_data_dir, using_data_dir
from analysis.io.problems import DataError, Problem
from analysis.io.validate import TextTable, locate_table, read_checked
from analysis.search import records
from analysis.versions.release_archive import verify_archive
from analysis.versions.living import living_mode_problems

__all__ = ["check_all", "table_count", "blocking_problems"]


def check_all(data_dir: Path | str | None = None) -> list[Problem]:
    """Every problem in every table of the data folder (empty list when all are valid)."""
    root = Path(data_dir) if data_dir is not None else default_data_dir()
    problems: list[Problem] = []
    global_tables: dict[str, TextTable] = {}
    for table in schemas.GLOBAL_TABLES:
        schema, path, relative = locate_table(None, table, root)
        if table == "screening_reasons" and not path.exists():
            continue  # optional: without it the reasons of each question's criteria apply
        read, table_problems = read_checked(path, relative, schema)
        problems += table_problems
        if not table_problems:
            global_tables[table] = read
    if "living_mode" in global_tables:
        # sources named must be in the search logs
        problems += [Problem(*found) for found in living_mode_problems(root)]
    for folder in schemas.QUESTIONS.values():
        tables: dict[str, TextTable] = {}
        for table in schemas.TABLES:
            schema, path, relative = locate_table(folder, table, root)
            read, table_problems = read_checked(path, relative, schema)
            problems += table_problems
            tables[table] = read
        bad = {(t.file, row, column) for t in tables.values() for row, column in t.bad_cells}
        # A value already reported by its own table is not reported again as a broken link.
        linked = links.link_problems(tables, root)
        if tables["screening"].readable:
            linked += links.reason_problems(tables["screening"], folder,
                                            global_tables.get("screening_reasons"))
        problems += [p for p in linked if (p.file, p.row, p.column) not in bad]
        if tables["extraction"].readable and tables["studies"].readable:
            # those checkers read the study ids of extraction.csv themselves
            problems += _judgement_problems(folder, root)
            problems += links.appraisal_problems(folder, root, tables["studies"])
            problems += links.shared_control_problems(tables["extraction"])
        problems += _search_export_problems(folder, root, tables["searches"])
        problems += links.two_reviewer_problems(folder, root, tables,
                                                {(p.file, p.column) for p in problems})
    problems += _archive_problems(root)
    return problems


def table_count() -> int:
    """How many tables :func:`check_all` checks."""
    return len(schemas.GLOBAL_TABLES) + len(schemas.QUESTIONS) * len(schemas.TABLES)


def blocking_problems(root: Path) -> list[Problem]:
    """The problems of :func:`check_all` that a write to data/ must not add: all but pending
    work (an included record still without its study rows, which the author adds next)."""
    return [problem for problem in check_all(root) if not problem.pending]


def _judgement_problems(folder: str, root: Path) -> list[Problem]:
    """Risk-of-bias and GRADE tables, checked by their own modules, as Problems; and the GRADE
    judgements the numbers compute (imprecision, inconsistency), listed as work still to do when
    grade.csv says otherwise (after a study is added, for example)."""
    problems: list[Problem] = []
    for file, checker in (("risk_of_bias.csv", rob.risk_of_bias_problems),
                          ("grade.csv", grade.grade_problems)):
        if (root / folder / file).exists():
            problems += checker(folder, root=root)
    if not problems and (root / folder / "grade.csv").exists():
        try:
            with using_data_dir(root):
                contradictions = grade_computed.grade_contradictions(folder)
        except (DataError, ValueError):
            contradictions = []  # the tables the numbers come from have problems of their own, listed
        problems += [replace(found, pending=True) for found in contradictions]
    return problems


def _search_export_problems(folder: str, root: Path, searches: TextTable | None) -> list[Problem]:
    """Every search file of the log lies inside the question's folder and exists, and all of
    them can be read together: readable exports, record ids that no two files share."""
    if searches is None or not searches.readable:
        return []
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


def _archive_problems(root: Path) -> list[Problem]:
    """The release log and results archive: every row, the last one too, as written."""
    if not (root / "releases").exists():
        return []
    found = []
    for text in verify_archive(root / "releases"):
        relative = text.replace(str(root) + "/", "")
        name, _, message = relative.partition(": ")
        match = re.match(r"line (\d+)", message)
        found.append(Problem(name if name.startswith("releases/") else "releases/releases.csv",
                             int(match.group(1)) if match else None, None, message or relative))
    return found
