"""What a check finds: one :class:`Problem` per fault (file, row, column, message), and
:class:`DataError`, which carries every problem of a table that could not be read cleanly.

Every checker of the review (the schemas, the links between tables, risk of bias, GRADE, the
release archive) reports in these terms, so ``check`` lists them all in one form.

Row convention: rows are numbered as in a spreadsheet, the header being row 1 and the first
data row row 2 (in these files, where no value spans lines, this is also the line number).
Row None means the whole file; column None means the whole row.
"""
from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Problem", "DataError"]


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
