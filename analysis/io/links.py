"""Checks between the tables of one question folder, which no table can make on its own.

The ids a table names must exist in the table they point to (queries, records, the first
occurrence of a duplicate, screening decisions, studies, extraction rows); a screening reason must
be one of the vocabulary for its stage and decision; comparisons that share a control arm must
print the same control numbers; every included study needs its appraisal rows; and the tables of
the second, independent review name only ids of the first. Each function takes tables as read by
:func:`analysis.io.validate.read_text_table` and returns
:class:`~analysis.io.problems.Problem` objects; :func:`analysis.commands.checks.check_all` calls them
after the tables' own checks.
"""
from __future__ import annotations

import contextlib
import csv
import io
import re
from pathlib import Path

from . import schemas
from .search_tables import SCREENING_REASONS
from .paths import REPO_ROOT
from .problems import Problem
from .validate import TextTable, locate_table, read_checked

__all__ = ["reason_problems", "link_problems", "two_reviewer_problems", "shared_control_problems",
           "appraisal_problems"]


def _values(table: TextTable | None, column: str) -> set[str]:
    if table is None:
        return set()
    return {row.get(column, "") for _, row in table.rows}


def _unknown(table: TextTable, column: str, known: set[str], message: str) -> list[Problem]:
    """A problem for each row whose ``column`` names a value that ``known`` lacks; ``message``
    says what is wrong, with ``{}`` for the value."""
    return [Problem(table.file, row_number, column, message.format(row[column]))
            for row_number, row in table.rows if row[column] and row[column] not in known]


def reason_problems(screening: TextTable, folder: str, reasons: TextTable | None) -> list[Problem]:
    """Each screening reason must be one the vocabulary allows for its stage and decision."""
    problems: list[Problem] = []
    if reasons is not None:
        allowed = {(row["reason"], row["stage"], row["decision"]) for _, row in reasons.rows
                   if folder in row["questions"].split(";")}
    for row_number, row in screening.rows:
        reason, stage, decision = row["reason"], row["stage"], row["decision"]
        if reason == "" or decision not in ("exclude", "awaiting_full_text"):
            continue
        if reasons is None:
            if reason not in SCREENING_REASONS[folder]:
                problems.append(Problem(screening.file, row_number, "reason",
                                        f"{reason!r} is not an allowed value "
                                        f"({'; '.join(SCREENING_REASONS[folder])})"))
        elif (reason, stage, decision) not in allowed:
            choices = sorted({r for r, s, d in allowed if (s, d) == (stage, decision)})
            problems.append(Problem(screening.file, row_number, "reason",
                                    f"{reason!r} is not a reason for decision {decision} at stage "
                                    f"{stage} in screening_reasons.csv "
                                    f"({'; '.join(choices) or 'none for this question'})"))
    return problems


def link_problems(tables: dict[str, TextTable], root: Path | None = None) -> list[Problem]:
    """Foreign keys and consistency between the tables of one question folder."""
    problems: list[Problem] = []

    def usable(name: str) -> TextTable | None:
        table = tables.get(name)
        return table if table is not None and table.readable else None

    queries, records, dedup = usable("queries"), usable("records"), usable("dedup_map")
    screening, studies, extraction = usable("screening"), usable("studies"), usable("extraction")
    assumptions, awaiting = usable("assumptions"), usable("awaiting_full_text")
    searches = usable("searches")
    search_stems = {Path(row["file"]).stem for _, row in searches.rows} if searches else set()

    if queries and records:
        problems += _unknown(records, "query_id", _values(queries, "query_id"),
                             "query {} is not in queries.csv")
    record_ids = _values(records, "record_id")
    first_of: dict[str, str] = {}
    if dedup and records:
        first_of = {row["record_id"]: row["first_occurrence_record_id"] for _, row in dedup.rows}
        for row_number, row in dedup.rows:
            for column in ("record_id", "first_occurrence_record_id"):
                if row[column] and row[column] not in record_ids:
                    problems.append(Problem(dedup.file, row_number, column,
                                            f"record {row[column]} is not in records.csv"))
            first = row["first_occurrence_record_id"]
            if first in first_of and first_of[first] != first:
                problems.append(Problem(dedup.file, row_number, "first_occurrence_record_id",
                                        f"{first} is itself a duplicate of {first_of[first]}"))
        for row_number, row in records.rows:
            if row["record_id"] and row["record_id"] not in first_of:
                problems.append(Problem(records.file, row_number, "record_id",
                                        f"record {row['record_id']} has no row in dedup_map.csv"))

    included: set[str] = set()
    if screening:
        passed = {row["record_id"] for _, row in screening.rows
                  if row["stage"] == "title_abstract" and row["decision"] == "include"}
        included = {row["record_id"] for _, row in screening.rows
                    if row["stage"] == "full_text" and row["decision"] == "include"}
        for row_number, row in screening.rows:
            rid = row["record_id"]
            if ":" in rid:
                if searches is not None and rid.rsplit(":", 1)[0] not in search_stems:
                    problems.append(Problem(screening.file, row_number, "record_id",
                                            f"record {rid} names no search file of "
                                            f"searches/searches.csv"))
            elif records and rid and rid not in record_ids:
                problems.append(Problem(screening.file, row_number, "record_id",
                                        f"record {rid} is not in records.csv"))
            elif first_of and rid in first_of and first_of[rid] != rid:
                problems.append(Problem(screening.file, row_number, "record_id",
                                        f"record {rid} is a duplicate of {first_of[rid]}; "
                                        f"screen the first occurrence"))
            if row["stage"] == "full_text" and rid not in passed:
                problems.append(Problem(screening.file, row_number, "stage",
                                        f"full_text decision for {rid}, which has no "
                                        f"title_abstract include"))
    study_records: dict[str, str] = {}
    if studies:
        study_records = {row["study_id"]: row["record_id"] for _, row in studies.rows}
        if screening:
            for row_number, row in studies.rows:
                if row["record_id"] and row["record_id"] not in included:
                    problems.append(Problem(studies.file, row_number, "record_id",
                                            f"record {row['record_id']} is not an included "
                                            f"record in screening.csv"))
            study_record_set = set(study_records.values())
            for row_number, row in screening.rows:
                if (row["stage"] == "full_text" and row["decision"] == "include"
                        and row["record_id"] not in study_record_set):
                    problems.append(Problem(screening.file, row_number, "record_id",
                                            f"included record {row['record_id']} has no row "
                                            f"in studies.csv", pending=True))
    # the bibliography beside the data folder (a copy of the review has its own), else the book's
    beside = root.parent / "book" / "references.bib" if root is not None else None
    bib = beside if beside is not None and beside.exists() else REPO_ROOT / "book" / "references.bib"
    if studies and bib.exists():
        keys = set(re.findall(r"@\w+\s*\{\s*([^,\s]+)\s*,", bib.read_text(encoding="utf-8")))
        for row_number, row in studies.rows:
            if row["bib_key"] and row["bib_key"] not in keys:
                problems.append(Problem(studies.file, row_number, "bib_key",
                                        f"{row['bib_key']} is not a key of book/references.bib"))
    comparisons: dict[str, set[str]] = {}
    if extraction:
        for row_number, row in extraction.rows:
            study, rid = row["study_id"], row["record_id"]
            comparisons.setdefault(study, set()).add(row["comparison_id"])
            if screening and rid and rid not in included:
                problems.append(Problem(extraction.file, row_number, "record_id",
                                        f"record {rid} is not an included record in screening.csv"))
            if studies and study:
                if study not in study_records:
                    problems.append(Problem(extraction.file, row_number, "study_id",
                                            f"study {study} is not in studies.csv"))
                elif rid and study_records[study] != rid:
                    problems.append(Problem(extraction.file, row_number, "record_id",
                                            f"record {rid} differs from the record of study "
                                            f"{study} in studies.csv ({study_records[study]})"))
        if studies:
            for row_number, row in studies.rows:
                if row["study_id"] and row["study_id"] not in comparisons:
                    problems.append(Problem(studies.file, row_number, "study_id",
                                            f"study {row['study_id']} has no extraction row", pending=True))
    if assumptions and studies:
        for row_number, row in assumptions.rows:
            for study in row["studies"].split():
                if study not in study_records:
                    problems.append(Problem(assumptions.file, row_number, "studies",
                                            f"study {study} is not in studies.csv"))
                    continue
                for column in ("comparison_used", "comparison_alternative"):
                    wanted = row.get(column, "")
                    if wanted and extraction and wanted not in comparisons.get(study, set()):
                        problems.append(Problem(assumptions.file, row_number, column,
                                                f"study {study} has no extraction row with "
                                                f"comparison_id {wanted}"))
    if awaiting and screening:
        problems += _unknown(awaiting, "record_id", _values(screening, "record_id"),
                             "record {} has no screening decision")
    return problems


def two_reviewer_problems(folder: str, root: Path, tables: dict[str, TextTable],
                           reported: set[tuple[str, str | None]]) -> list[Problem]:
    """The tables of the second, independent review, where present: each on its own, then the
    study, extraction and record ids they name."""
    problems: list[Problem] = []
    found: dict[str, TextTable] = {}
    for table in schemas.OPTIONAL_TABLES:
        schema, path, relative = locate_table(folder, table, root)
        if not path.exists():
            continue
        read, reading = read_checked(path, relative, schema)
        problems += reading
        if read.readable:
            found[table] = read
    def ids(table: TextTable, column: str) -> set[str] | None:
        # a table whose own ids are broken is reported there, not again through these links
        broken = (table.file, column) in reported
        return _values(table, column) if table.readable and not broken else None

    studies, extraction_ids = ids(tables["studies"], "study_id"), ids(tables["extraction"], "extraction_id")
    for name, table in found.items():
        for row_number, row in table.rows:
            if studies is not None and "study_id" in row and row["study_id"] not in studies:
                problems.append(Problem(table.file, row_number, "study_id",
                                        f"study {row['study_id']} is not in studies.csv"))
            wanted = row.get("extraction_id", "")
            if extraction_ids is not None and wanted and wanted not in extraction_ids:
                problems.append(Problem(table.file, row_number, "extraction_id",
                                        f"{wanted} is not an extraction_id of extraction.csv"))
    sample = found.get("screening_sample")
    if sample is not None and tables["screening"].readable:
        decided = {(row["record_id"], row["reviewer"], row["stage"]) for _, row in tables["screening"].rows}
        for row_number, row in sample.rows:
            if (row["record_id"], row["reviewer"], row["stage"]) not in decided:
                problems.append(Problem(sample.file, row_number, "record_id",
                                        f"{row['reviewer']} has no {row['stage']} decision on "
                                        f"{row['record_id']} in screening.csv"))
    return problems



def shared_control_problems(extraction: TextTable | None) -> list[Problem]:
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


def appraisal_problems(folder: str, root: Path, studies: TextTable | None) -> list[Problem]:
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
