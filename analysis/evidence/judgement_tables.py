"""Reading a reviewers' judgement table (risk of bias, GRADE) for checking.

Both tables are checked line by line by their own modules; this is the part they share: find
the file, read it as text, and report a missing file, an unreadable CSV, missing columns or an
empty table as one :class:`~analysis.io.problems.Problem` each.
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import pandas as pd

from analysis.io.paths import data_dir
from analysis.io.problems import Problem
from analysis.io.validate import read_csv_text


def column_values(question: str, table: str, column: str, root: Path) -> set[str] | None:
    """The values of one column of another of the question's tables, read through the one
    reader (``validate.load``); None when that table's file is missing. A table that exists but
    breaks its own rules (reported by its own check) is read as text for the lookup."""
    from analysis.io import schemas
    from analysis.io.problems import DataError
    from analysis.io.validate import load

    try:
        frame = load(question, table, root)
    except DataError:
        path = Path(root) / schemas.question_folder(question) / schemas.schema_for(question, table).file
        if not path.exists():
            return None
        frame = read_csv_text(path, as_written=True)
    return {str(value).strip() for value in frame[column].dropna() if str(value).strip()}


def read_for_checking(question: str, filename: str, columns: Sequence[str], *,
                      root: Path | None = None) -> tuple[pd.DataFrame | None, list[Problem], str, Path]:
    """``(table, problems, where, root)``: the table is None whenever a problem stops the check.

    ``where`` is the file as messages name it (``<question>/<filename>``); ``root`` is the data
    folder that was read.
    """
    root = Path(root) if root is not None else data_dir()
    path = root / question / filename
    where = f"{question}/{filename}"
    if not path.exists():
        return None, [Problem(where, None, None, f"file not found ({path})")], where, root
    try:  # the one reader's parse, shared with every other view of this file
        table = read_csv_text(path, as_written=True)
    except (pd.errors.ParserError, UnicodeDecodeError) as error:
        return None, [Problem(where, None, None, f"cannot be read as CSV ({error})")], where, root
    missing = [c for c in columns if c not in table.columns]
    if missing:
        return None, [Problem(where, None, None, f"missing column(s) {', '.join(missing)}")], where, root
    if table.empty:
        return None, [Problem(where, None, None, "no rows")], where, root
    return table, [], where, root
