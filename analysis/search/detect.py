"""Which format a search export is in, from its content (never from its extension).

Tagged formats are recognised by their first lines: RIS by a ``TY  - `` line among the first
lines (vendor headers and record numbers may come before it), MEDLINE by ``PMID- `` or
``OWN - ``, Web of Science plain text by ``FN``/``PT``, EndNote tagged by ``%0``/``%T``/``%A``
lines, BibTeX by an ``@type{`` line. A table with a header row is matched against the layouts
of ``analysis/search/field_aliases.csv``: the layout with most of its columns in the header wins, and
its title column must be there.
"""
from __future__ import annotations

import re
from pathlib import Path

from .fields import TABLE_FORMATS, columns_for, field_aliases
from .readers.base import ExportError, first_lines, read_text
from .readers.delimited import header_of

LOOKAHEAD = 25  # non-blank lines searched for the start of a tagged format
_RIS_START = re.compile(r"^TY  - ")
_BIBTEX_START = re.compile(r"^\s*@[A-Za-z]+\s*[{(]")
_MEDLINE_START = re.compile(r"^(PMID|OWN)\s*- ")
_WOS_START = re.compile(r"^(FN |VR |PT [A-Z]\b)")
_ENDNOTE_LINE = re.compile(r"^%[0-9A-Z] ")
TRIED = ("RIS", "MEDLINE/PubMed/ERIC (.nbib)", "BibTeX", "EndNote tagged", "Web of Science plain text",
         "a table with a header row (Web of Science, Scopus, PubMed, Embase, IEEE, Springer CSV or "
         "tab-delimited; the review's index-hit list)")


def _table_format(header: list[str], delimiter: str) -> str | None:
    columns = set(header)
    if {"record_id", "query_id", "title"} <= columns:
        return "index_hits"
    if delimiter == "\t" and {"PT", "TI"} <= columns:
        return "wos_tab"
    scores = {}
    for fmt in TABLE_FORMATS:
        if fmt in ("index_hits", "wos_tab"):
            continue
        sources = {source for source, _, _ in field_aliases()[fmt]}
        if columns & set(columns_for(fmt, "title")):
            scores[fmt] = len(columns & sources)
    if not scores:
        return None
    best = max(scores.values())
    winners = [fmt for fmt, score in scores.items() if score == best]
    return winners[0] if best >= 2 and len(winners) == 1 else None


def detect_format(path: Path | str) -> str:
    """The export format from the file's content; ExportError naming the formats tried and the
    first lines of the file when none fits."""
    path = Path(path)
    if not path.is_file():
        raise ExportError(path, None, "file not found")
    text = read_text(path)
    lines = [line for line in text.splitlines() if line.strip()][:LOOKAHEAD]
    if not lines:
        raise ExportError(path, None, "empty file")
    if _MEDLINE_START.match(lines[0]):
        return "nbib"
    if _WOS_START.match(lines[0]):
        return "wos_plain"
    if any(_RIS_START.match(line) for line in lines):
        return "ris"
    if any(_BIBTEX_START.match(line) for line in lines):
        return "bibtex"
    if sum(bool(_ENDNOTE_LINE.match(line)) for line in lines[:5]) >= 2:
        return "endnote"
    header, delimiter = header_of(text)
    fmt = _table_format(header, delimiter) if len(header) > 1 else None
    if fmt:
        return fmt
    raise ExportError(path, 1, f"not a search export this project reads; tried {', '.join(TRIED)}. "
                      f"The file starts: {first_lines(text)}")
