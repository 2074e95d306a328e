"""Reading the data tables: ``load`` is the one way the package reads data.

A table is read as text (:func:`read_text_table`, which reports every reading problem rather
than stopping at the first) and checked against its schema of :mod:`analysis.io.schemas` on its
own (:func:`check_table`: cells, uniqueness, keys, row rules). ``load`` returns the checked table
as a DataFrame or raises :class:`~analysis.io.problems.DataError` listing every problem of it;
the links between tables and the whole-review check are :mod:`analysis.io.links` and
:mod:`analysis.commands.checks`.
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
from .columns import YES_NO, Column, TableSchema, p_bound, printed_value, squeeze_printed
from .paths import data_dir
from .problems import DataError, Problem

__all__ = ["TextTable", "read_text_table", "check_table", "read_checked", "locate_table", "load",
           "read_csv_text", "READS"]


@dataclass
class TextTable:
    """A table as read, as text: its rows (row number -> values) and whether it could be read."""

    file: str
    schema: TableSchema
    rows: list[tuple[int, dict[str, str]]]
    readable: bool
    bad_cells: set[tuple[int, str]] = field(default_factory=set)  # filled by check_table


# ----------------------------------------------------------------------------- reading

def read_text_table(path: Path, relative: str, schema: TableSchema) -> tuple[TextTable, list[Problem]]:
    """Read a CSV file as text, reporting (not raising) every reading problem."""
    problems: list[Problem] = []
    empty = TextTable(relative, schema, [], False)
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
            return TextTable(relative, schema, rows, False), problems
        if not values:
            problems.append(Problem(relative, row_number, None, "empty row"))
            continue
        if len(values) != len(header):
            problems.append(Problem(relative, row_number, None,
                                    f"expected {len(header)} fields, found {len(values)}"))
            continue
        rows.append((row_number, dict(zip(header, values))))
    return TextTable(relative, schema, rows, True), problems


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
            number = printed_value(value)
        except ValueError:
            return f"{value!r} is not a number as printed (such as 0.24, .24 or -6.7)"
    elif kind == "printed_p":
        try:
            _, number = p_bound(value)
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
        if value not in YES_NO:
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


def check_table(table: TextTable) -> list[Problem]:
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
                if squeeze_printed(value) not in squeeze_printed(row["excerpt"]):
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


def read_checked(path: Path, relative: str, schema: TableSchema) -> tuple[TextTable, list[Problem]]:
    """A table read and checked on its own: the table and every problem of reading or checking."""
    read, problems = read_text_table(path, relative, schema)
    return read, problems + check_table(read)


# ----------------------------------------------------------------------------- public API

def locate_table(question: str | None, table: str, root: Path) -> tuple[TableSchema, Path, str]:
    """(schema, path, path relative to the data folder) of a table of ``question`` (None: a
    table directly under data/) in the data folder ``root``."""
    schema = schemas.schema_for(question, table)
    if question is None:
        relative = schema.file
    else:
        relative = f"{schemas.question_folder(question)}/{schema.file}"
    return schema, root / relative, relative


def _typed(table: TextTable) -> pd.DataFrame:
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
    of that table (links to other tables are checked by :func:`analysis.commands.checks.check_all`).
    """
    root = Path(data_dir_) if data_dir_ is not None else data_dir()
    schema, path, relative = locate_table(question, table, root)
    try:
        stat = path.stat()
        key = (str(path), table, stat.st_size, stat.st_mtime_ns)
    except OSError:
        key = None
    if key is not None and key in _LOADED:
        return _LOADED[key].copy()
    read, problems = read_checked(path, relative, schema)
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


