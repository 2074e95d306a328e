"""What every reader shares: the error type, the shape of what a reader returns, text decoding.

A reader turns one file into entries: ``(line, fields)`` pairs in file order, where ``line`` is
the 1-based line the entry starts on and ``fields`` maps the export's own field names (RIS tags,
BibTeX keys, CSV headers) to a string or a list of strings. Which of those fields feed the
review's record is decided later, from ``analysis/search/field_aliases.csv``.

A problem with the file as a whole (not UTF-8, unbalanced structure, no entry at all) raises
:class:`ExportError`; a problem with one entry is returned as a :class:`Skipped` and the rest of
the file is read.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


class ExportError(ValueError):
    """A search export that cannot be read, with the file and line of the first problem."""

    def __init__(self, path: Path | str, line: int | None, problem: str):
        self.path, self.line, self.problem = str(path), line, problem
        where = f"{path}, line {line}" if line else str(path)
        super().__init__(f"{where}: {problem}")


@dataclass(frozen=True)
class Skipped:
    """One entry of an export that was not imported, and why."""
    line: int
    reason: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.reason}"


@dataclass(frozen=True)
class Entries:
    """What a reader found: the entries in file order, the ones it had to skip, and remarks on
    entries that were read but deserve a look (e.g. a BibTeX key used twice)."""
    rows: list[tuple[int, dict]]
    skipped: list[Skipped] = field(default_factory=list)
    remarks: list[Skipped] = field(default_factory=list)


def read_text(path: Path) -> str:
    """The file as text: UTF-8 (with or without a byte-order mark) or UTF-16 with its byte-order
    mark, else ExportError with the line."""
    if path.read_bytes()[:2] in (b"\xff\xfe", b"\xfe\xff"):
        try:
            return path.read_text(encoding="utf-16")
        except UnicodeDecodeError:
            raise ExportError(path, None, "starts like UTF-16 text but is not; re-export the file as UTF-8") from None
    try:
        return path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as err:
        line = path.read_bytes()[:err.start].count(b"\n") + 1
        raise ExportError(path, line, "not valid UTF-8 text; re-export the file as UTF-8") from None


def first_lines(text: str, count: int = 3) -> str:
    """The first non-blank lines, shortened, for messages that say what a file looked like."""
    lines = [line.strip()[:60] for line in text.splitlines() if line.strip()][:count]
    return " / ".join(repr(line) for line in lines) or "(empty)"
