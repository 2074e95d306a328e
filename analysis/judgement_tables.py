"""Reading a reviewers' judgement table (risk of bias, GRADE) for checking.

Both tables are checked line by line by their own modules; this is the part they share: find
the file, read it as text, and report a missing file, an unreadable CSV, missing columns or an
empty table as one problem each.
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import pandas as pd

from analysis.paths import data_dir


def read_for_checking(question: str, filename: str, columns: Sequence[str], *,
                      root: Path | None = None) -> tuple[pd.DataFrame | None, list[str], str, Path]:
    """``(table, problems, where, root)``: the table is None whenever a problem stops the check.

    ``where`` is the file as messages name it (``<question>/<filename>``); ``root`` is the data
    folder that was read.
    """
    root = Path(root) if root is not None else data_dir()
    path = root / question / filename
    where = f"{question}/{filename}"
    if not path.exists():
        return None, [f"{where}: file not found ({path})"], where, root
    try:
        table = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, UnicodeDecodeError) as error:
        return None, [f"{where}: cannot be read as CSV ({error})"], where, root
    missing = [c for c in columns if c not in table.columns]
    if missing:
        return None, [f"{where}: missing column(s) {', '.join(missing)}"], where, root
    if table.empty:
        return None, [f"{where}: no rows"], where, root
    return table, [], where, root
