"""Reading and validating the data tables: ``load`` is the one way the package reads data.

``check_all`` applies every schema of :mod:`analysis.io.schemas` and the links between tables,
and returns every problem found, not only the first. Each :class:`Problem` names the file
(relative to the data folder), the row, the column and what is wrong.

Row convention: rows are numbered as in a spreadsheet, the header being row 1 and the first
data row row 2 (in these files, where no value spans lines, this is also the line number).
Row None means the whole file; column None means the whole row.

``python -m analysis check`` (:mod:`analysis.cli`) prints one ``file:row:column: message`` line
per problem and a summary, and exits 1 on any problem; otherwise it prints "all N tables valid".
Every write to data/ checks its staged state with :func:`blocking_problems` (the same rules,
less the work still to be done that a write cannot have caused: see ``Problem.pending``).
"""
from __future__ import annotations

import csv
import datetime as _dt
import io
import re
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from . import schemas
from .paths import REPO_ROOT, data_dir
from .schemas import Column, TableSchema

__all__ = ["Problem", "DataError", "load", "check_table", "check_all", "table_count",
           "blocking_problems"]


@dataclass(frozen=True)
class Problem:
    """One problem: file relative to the data folder, spreadsheet row (header = 1), column."""

    file: str
    row: int | None
    column: str | None
    message: str
    # work not finished yet (an included record without its study, extraction, appraisal or
    # GRADE rows): `check` and `release` refuse it; a write that leaves it as it was may go on
    pending: bool = False

    def __str__(self) -> str:
        row = "-" if self.row is None else str(self.row)
        column = "-" if self.column is None else self.column
        return f"{self.file}:{row}:{column}: {self.message}"


class DataError(Exception):
    """A table could not be read or broke its schema; ``problems`` lists every problem."""

    def __init__(self, problems: list[Problem]):
        self.problems = list(problems)
        lines = "\n".join(str(problem) for problem in self.problems)
        super().__init__(f"{len(self.problems)} problem(s) in the data:\n{lines}")


@dataclass
class _Table:
    """A table as read: its rows (row number -> values) and whether it could be read."""

    file: str
    schema: TableSchema
    rows: list[tuple[int, dict[str, str]]]
    readable: bool
    bad_cells: set[tuple[int, str]] = field(default_factory=set)  # filled by check_table


# ----------------------------------------------------------------------------- reading

def _read(path: Path, relative: str, schema: TableSchema) -> tuple[_Table, list[Problem]]:
    """Read a CSV file as text, reporting (not raising) every reading problem."""
    problems: list[Problem] = []
    empty = _Table(relative, schema, [], False)
    if not path.exists():
        return empty, [Problem(relative, None, None, "file not found")]
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        line = raw[:error.start].count(b"\n") + 1
        return empty, [Problem(relative, line, None,
                               f"not UTF-8 text (byte 0x{raw[error.start]:02x} cannot be decoded)")]
    if text.startswith("\ufeff"):
        text = text[1:]  # a byte-order mark written by some spreadsheet programs
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next(reader)
    except StopIteration:
        return empty, [Problem(relative, None, None, "file is empty (no header row)")]
    except csv.Error as error:
        return empty, [Problem(relative, 1, None, f"malformed CSV: {error}")]
    seen: set[str] = set()
    for name in header:
        if name in seen:
            problems.append(Problem(relative, 1, name, "column appears twice in the header"))
        seen.add(name)
    for name in schema.names:
        if name not in header:
            problems.append(Problem(relative, 1, name, "missing column"))
    for name in header:
        if name not in schema.names:
            problems.append(Problem(relative, 1, name or "(empty)",
                                    "unexpected column (not in the codebook)"))
    rows: list[tuple[int, dict[str, str]]] = []
    row_number = 1
    while True:
        row_number += 1
        try:
            values = next(reader)
        except StopIteration:
            break
        except csv.Error as error:
            problems.append(Problem(relative, row_number, None,
                                    f"malformed CSV: {error}; rows from here on were not read"))
            return _Table(relative, schema, rows, False), problems
        if not values:
            problems.append(Problem(relative, row_number, None, "empty row"))
            continue
        if len(values) != len(header):
            problems.append(Problem(relative, row_number, None,
                                    f"expected {len(header)} fields, found {len(values)}"))
            continue
        rows.append((row_number, dict(zip(header, values))))
    return _Table(relative, schema, rows, True), problems


# ----------------------------------------------------------------------------- cell checks

def _range_text(column: Column) -> str:
    if column.low is not None and column.high is not None:
        left = "(" if column.low_open else "["
        right = ")" if column.high_open else "]"
        return f"in {left}{column.low:g}, {column.high:g}{right}"
    if column.low is not None:
        return f"{'>' if column.low_open else '>='} {column.low:g}"
    return f"{'<' if column.high_open else '<='} {column.high:g}"


def _in_range(column: Column, value: float) -> bool:
    if column.low is not None and (value < column.low or (column.low_open and value == column.low)):
        return False
    if column.high is not None and (value > column.high
                                    or (column.high_open and value == column.high)):
        return False
    return True


def _cell_problem(column: Column, value: str) -> str | None:
    """What is wrong with one value, or None."""
    if value != value.strip():
        return f"{value!r} has leading or trailing spaces"
    if value == "":
        return "required value is empty" if column.required else None
    kind = column.kind
    number: float | None = None
    if kind == "id" and re.search(r"\s", value):
        return f"{value!r} is not an id (contains spaces)"
    if kind == "int":
        if not re.fullmatch(r"-?\d+", value):
            return f"{value!r} is not a whole number"
        number = float(value)
    elif kind == "number":
        try:
            number = float(value)
        except ValueError:
            return f"{value!r} is not a number"
    elif kind == "printed":
        try:
            number = schemas.printed_value(value)
        except ValueError:
            return f"{value!r} is not a number as printed (such as 0.24, .24 or -6.7)"
    elif kind == "printed_p":
        try:
            _, number = schemas.p_bound(value)
        except ValueError:
            return f"{value!r} is not a p value as printed (such as .009, <.05 or 0.04)"
    elif kind == "year":
        if not re.fullmatch(r"\d{4}", value) or not 1900 <= int(value) <= 2100:
            return f"{value!r} is not a year (four digits, 1900-2100)"
    elif kind == "date":
        try:
            _dt.date.fromisoformat(value)
            if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
                raise ValueError
        except ValueError:
            return f"{value!r} is not a date (YYYY-MM-DD)"
    elif kind == "doi":
        if not re.fullmatch(r"10\.\d{4,9}/\S+", value):
            return f"{value!r} is not a DOI (10.xxxx/...; no https://doi.org/ prefix)"
    elif kind == "url":
        if not re.fullmatch(r"https?://\S+", value):
            return f"{value!r} is not a URL (http:// or https://)"
    elif kind == "url_or_label":
        if not (re.fullmatch(r"https?://\S+", value) or re.fullmatch(r"\[.+\]", value)):
            return f"{value!r} is not a URL (http:// or https://) or a [bracketed description]"
    elif kind == "yesno":
        if value not in schemas.YES_NO:
            return f"{value!r} is not an allowed value (yes, no)"
    elif kind == "ids":
        if not all(re.fullmatch(r"[A-Za-z0-9_\-]+", token) for token in value.split(" ")):
            return f"{value!r} is not a list of ids separated by single spaces"
    if column.allowed is not None and value not in column.allowed:
        return f"{value!r} is not an allowed value ({'; '.join(column.allowed)})"
    if column.pattern is not None and not re.fullmatch(column.pattern, value):
        return f"{value!r} does not match the pattern {column.pattern}"
    if number is not None and not _in_range(column, number):
        return f"{value} is out of range: must be {_range_text(column)}"
    return None


def _squeeze(text: str) -> str:
    # Printed values are compared with the excerpt ignoring spaces and the kind of minus sign.
    return re.sub(r"\s+", "", text).replace("\u2212", "-").replace("\u2013", "-")


def check_table(table: _Table) -> list[Problem]:
    """Every problem of one table on its own (cells, uniqueness, keys, row rules)."""
    problems: list[Problem] = []
    schema = table.schema
    first_seen: dict[str, dict[str, int]] = {c.name: {} for c in schema.columns if c.unique}
    key_seen: dict[tuple[str, ...], int] = {}
    for row_number, row in table.rows:
        bad_columns: set[str] = set()
        for column in schema.columns:
            if column.name not in row:
                continue
            value = row[column.name]
            message = _cell_problem(column, value)
            if message:
                problems.append(Problem(table.file, row_number, column.name, message))
                bad_columns.add(column.name)
                table.bad_cells.add((row_number, column.name))
                continue
            if column.unique and value != "":
                earlier = first_seen[column.name].get(value)
                if earlier is not None:
                    problems.append(Problem(table.file, row_number, column.name,
                                            f"duplicate {column.name} {value!r} "
                                            f"(first at row {earlier})"))
                else:
                    first_seen[column.name][value] = row_number
            if column.in_excerpt and value != "" and "excerpt" in row:
                if _squeeze(value) not in _squeeze(row["excerpt"]):
                    problems.append(Problem(table.file, row_number, column.name,
                                            f"printed value {value!r} does not appear in the excerpt"))
        if schema.key and all(name in row for name in schema.key):
            key = tuple(row[name] for name in schema.key)
            if key in key_seen and len(schema.key) > 1:
                problems.append(Problem(
                    table.file, row_number, None,
                    f"duplicate row for ({', '.join(schema.key)}) = ({', '.join(key)}) "
                    f"(first at row {key_seen[key]})"))
            key_seen.setdefault(key, row_number)
        # A value already reported is not reported again by the rules that use it.
        for rule in schema.row_rules:
            for issue in rule(row):
                if issue.column not in bad_columns:
                    problems.append(Problem(table.file, row_number, issue.column, issue.message))
    return problems


# ----------------------------------------------------------------------------- links between tables

def _values(table: _Table | None, column: str) -> set[str]:
    if table is None:
        return set()
    return {row.get(column, "") for _, row in table.rows}


def _reason_problems(screening: _Table, folder: str, reasons: _Table | None) -> list[Problem]:
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
            if reason not in schemas.SCREENING_REASONS[folder]:
                problems.append(Problem(screening.file, row_number, "reason",
                                        f"{reason!r} is not an allowed value "
                                        f"({'; '.join(schemas.SCREENING_REASONS[folder])})"))
        elif (reason, stage, decision) not in allowed:
            choices = sorted({r for r, s, d in allowed if (s, d) == (stage, decision)})
            problems.append(Problem(screening.file, row_number, "reason",
                                    f"{reason!r} is not a reason for decision {decision} at stage "
                                    f"{stage} in screening_reasons.csv "
                                    f"({'; '.join(choices) or 'none for this question'})"))
    return problems


def _external_problems(folder: str, root: Path) -> list[Problem]:
    """Risk-of-bias and GRADE tables, checked by their own modules, as Problems; and the GRADE
    judgements the numbers compute (imprecision, inconsistency), listed as work still to do when
    grade.csv says otherwise (after a study is added, for example)."""
    from analysis.evidence import grade, rob
    from .paths import using_data_dir

    problems: list[Problem] = []
    for file, checker in (("risk_of_bias.csv", rob.risk_of_bias_problems),
                          ("grade.csv", grade.grade_problems)):
        if not (root / folder / file).exists():
            continue
        for text in checker(folder, root=root):
            match = re.match(r"^(?P<file>[^,:]+)(, line (?P<row>\d+))?"
                             r"(, column '(?P<column>[^']+)')?: (?P<message>.*)$", str(text), re.S)
            if match:
                row = int(match["row"]) if match["row"] else None
                problems.append(Problem(match["file"], row, match["column"], match["message"]))
            else:
                problems.append(Problem(f"{folder}/{file}", None, None, str(text)))
    if not problems and (root / folder / "grade.csv").exists():
        from analysis.evidence import grade_computed

        try:
            with using_data_dir(root):
                contradictions = grade_computed.grade_contradictions(folder)
        except (DataError, ValueError):
            contradictions = []  # the tables the numbers come from have problems of their own, listed
        for text in contradictions:
            where, _, message = str(text).partition(": ")
            problems.append(Problem(f"{folder}/grade.csv", None, None,
                                    f"{where.split(', ', 1)[-1]}: {message}", pending=True))
    return problems


def _links(tables: dict[str, _Table], root: Path | None = None) -> list[Problem]:
    """Foreign keys and consistency between the tables of one question folder."""
    problems: list[Problem] = []

    def usable(name: str) -> _Table | None:
        table = tables.get(name)
        return table if table is not None and table.readable else None

    queries, records, dedup = usable("queries"), usable("records"), usable("dedup_map")
    screening, studies, extraction = usable("screening"), usable("studies"), usable("extraction")
    assumptions, awaiting = usable("assumptions"), usable("awaiting_full_text")
    searches = usable("searches")
    search_stems = {Path(row["file"]).stem for _, row in searches.rows} if searches else set()

    if queries and records:
        known = _values(queries, "query_id")
        for row_number, row in records.rows:
            if row["query_id"] and row["query_id"] not in known:
                problems.append(Problem(records.file, row_number, "query_id",
                                        f"query {row['query_id']} is not in queries.csv"))
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
        screened = _values(screening, "record_id")
        for row_number, row in awaiting.rows:
            if row["record_id"] and row["record_id"] not in screened:
                problems.append(Problem(awaiting.file, row_number, "record_id",
                                        f"record {row['record_id']} has no screening decision"))
    return problems


# ----------------------------------------------------------------------------- public API

def _locate(question: str | None, table: str, root: Path) -> tuple[TableSchema, Path, str]:
    schema = schemas.schema_for(question, table)
    if question is None:
        relative = schema.file
    else:
        relative = f"{schemas.question_folder(question)}/{schema.file}"
    return schema, root / relative, relative


def _typed(table: _Table) -> pd.DataFrame:
    """The rows as a DataFrame: whole numbers as Int64, printed values and text as strings."""
    names = list(table.schema.names)
    frame = pd.DataFrame([[row.get(name, "") for name in names] for _, row in table.rows],
                         columns=names, dtype="string")
    for column in table.schema.columns:
        if column.kind in ("int", "year"):
            frame[column.name] = pd.array(
                [int(v) if v != "" else pd.NA for v in frame[column.name]], dtype="Int64")
        elif column.kind == "number":
            frame[column.name] = pd.array(
                [float(v) if v != "" else pd.NA for v in frame[column.name]], dtype="Float64")
    frame.insert(0, "row", pd.array([n for n, _ in table.rows], dtype="Int64"))
    return frame


# Each table is read and checked once per version of its file (path, size, modification time):
# every stage of the review asks this one reader, so a file is parsed once however many views
# show it. READS counts the parses per path (tests use it to prove a file is read once).
_LOADED: dict[tuple, pd.DataFrame] = {}
READS: dict[str, int] = {}


def load(question: str | None, table: str, data_dir_: Path | str | None = None) -> pd.DataFrame:
    """One table, read and checked against its schema.

    ``question``: "q1"/"q2" (or the folder names), or None for ``published_syntheses``.
    Returns a DataFrame with the schema's columns in order plus ``row`` (its spreadsheet row)
    first. Printed statistics and text stay strings exactly as in the file (missing = "");
    whole numbers are Int64 (missing = <NA>). Raises :class:`DataError` listing every problem
    of that table (links to other tables are checked by :func:`check_all`).
    """
    root = Path(data_dir_) if data_dir_ is not None else data_dir()
    schema, path, relative = _locate(question, table, root)
    try:
        stat = path.stat()
        key = (str(path), table, stat.st_size, stat.st_mtime_ns)
    except OSError:
        key = None
    if key is not None and key in _LOADED:
        return _LOADED[key].copy()
    read, problems = _read(path, relative, schema)
    problems += check_table(read) if read.readable or read.rows else []
    if problems:
        raise DataError(problems)
    frame = _typed(read)
    if key is not None:
        _LOADED[key] = frame
        READS[str(path)] = READS.get(str(path), 0) + 1
    return frame.copy()


def _schema_table_of(path: Path) -> tuple[str | None, str, Path] | None:
    """(question id or None, table name, data folder) when ``path`` is a table with a schema
    in a data folder (``data/`` or a copy of it), else None."""
    folder, name = path.parent, path.name
    if folder.name == "searches":
        folder, name = folder.parent, f"searches/{name}"
    for question_id, question_folder in schemas.QUESTIONS.items():
        if folder.name == question_folder:
            for table in (*schemas.TABLES, *schemas.OPTIONAL_TABLES):
                if schemas.schema_for(question_id, table).file == name:
                    return question_id, table, folder.parent
            return None
    if any((folder / question_folder).is_dir() for question_folder in schemas.QUESTIONS.values()):
        for table in schemas.GLOBAL_TABLES:
            if schemas.schema_for(None, table).file == name:
                return None, table, folder
    return None


def read_csv_text(path: Path | str, *, as_written: bool = False) -> pd.DataFrame:
    """A table of data/ as text cells ("" for empty). A table with a schema comes from
    :func:`load` (one parse, checked; the schema's columns); any other (the release sidecars),
    or any table with ``as_written`` (a reader of an older shape), is parsed as written, once
    per version of its file. Callers get a copy."""
    path = Path(path)
    located = None if as_written else _schema_table_of(path)
    if located is not None:
        question, table, root = located
        text = load(question, table, root).drop(columns="row").astype(object)
        return text.where(text.notna(), "").astype(str)
    stat = path.stat()
    key = (str(path), "text", stat.st_size, stat.st_mtime_ns)
    if key not in _LOADED:
        _LOADED[key] = pd.read_csv(path, dtype=str, keep_default_na=False)
    return _LOADED[key].copy()


def check_all(data_dir: Path | str | None = None) -> list[Problem]:  # noqa: F811 (shadows import)
    """Every problem in every table of the data folder (empty list when all are valid)."""
    from .paths import data_dir as default_dir

    from . import integrity

    root = Path(data_dir) if data_dir is not None else default_dir()
    problems: list[Problem] = []
    global_tables: dict[str, _Table] = {}
    for table in schemas.GLOBAL_TABLES:
        schema, path, relative = _locate(None, table, root)
        if table == "screening_reasons" and not path.exists():
            continue  # optional: without it the reasons of each question's criteria apply
        read, found = _read(path, relative, schema)
        table_problems = found + check_table(read)
        problems += table_problems
        if not table_problems:
            global_tables[table] = read
    if "living_mode" in global_tables:
        from analysis.versions.living import living_mode_problems  # sources named must be in the search logs

        problems += [Problem(*found) for found in living_mode_problems(root)]
    for folder in schemas.QUESTIONS.values():
        tables: dict[str, _Table] = {}
        for table in schemas.TABLES:
            schema, path, relative = _locate(folder, table, root)
            read, found = _read(path, relative, schema)
            table_problems = found + check_table(read)
            problems += table_problems
            tables[table] = read
        bad = {(t.file, row, column) for t in tables.values() for row, column in t.bad_cells}
        # A value already reported by its own table is not reported again as a broken link.
        linked = _links(tables, root)
        if tables["screening"].readable:
            linked += _reason_problems(tables["screening"], folder,
                                       global_tables.get("screening_reasons"))
        problems += [p for p in linked if (p.file, p.row, p.column) not in bad]
        if tables["extraction"].readable and tables["studies"].readable:
            # those checkers read the study ids of extraction.csv themselves
            problems += _external_problems(folder, root)
            problems += integrity.appraisal_problems(folder, root, tables["studies"])
            problems += integrity.shared_control_problems(tables["extraction"])
        problems += integrity.search_problems(folder, root, tables["searches"])
        problems += _two_reviewer_problems(folder, root, tables,
                                           {(p.file, p.column) for p in problems})
    problems += integrity.archive_problems(root)
    return problems


def _two_reviewer_problems(folder: str, root: Path, tables: dict[str, _Table],
                           reported: set[tuple[str, str | None]]) -> list[Problem]:
    """The tables of the second, independent review, where present: each on its own, then the
    study, extraction and record ids they name."""
    problems: list[Problem] = []
    found: dict[str, _Table] = {}
    for table in schemas.OPTIONAL_TABLES:
        schema, path, relative = _locate(folder, table, root)
        if not path.exists():
            continue
        read, reading = _read(path, relative, schema)
        problems += reading + check_table(read)
        if read.readable:
            found[table] = read
    def ids(table: _Table, column: str) -> set[str] | None:
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


def table_count() -> int:
    """How many tables :func:`check_all` checks."""
    return len(schemas.GLOBAL_TABLES) + len(schemas.QUESTIONS) * len(schemas.TABLES)


def blocking_problems(root: Path) -> list[Problem]:
    """The problems of :func:`check_all` that a write to data/ must not add: all but pending
    work (an included record still without its study rows, which the author adds next)."""
    return [problem for problem in check_all(root) if not problem.pending]
