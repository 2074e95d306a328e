"""One search export in, one record table out, with what had to be skipped and why.

Every record has a stable id. An export that carries its own unique id field (the first round's
``record_id``, R0001...) keeps it; any other record is ``<file stem>:<position>``, its position
among the file's entries (skipped entries keep their positions, so ids never shift).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from analysis.io.search_tables import FORMATS

from .detect import detect_format
from .fields import RECORD_COLUMNS, TABLE_FORMATS, columns_for, map_fields
from .readers import bibtex, delimited, endnote, medline, ris, wos_plain
from .readers.base import Entries, ExportError, Skipped

READERS = {"ris": ris.read, "nbib": medline.read, "bibtex": bibtex.read, "endnote": endnote.read,
           "wos_plain": wos_plain.read, "wos_tab": lambda path: delimited.read(path, "\t")}


@dataclass(frozen=True)
class ExportRead:
    """A read export: the record table, the entries skipped (line and reason), remarks on
    entries read despite a flaw, and the format read."""
    table: pd.DataFrame
    skipped: list[Skipped] = field(default_factory=list)
    remarks: list[Skipped] = field(default_factory=list)
    fmt: str = ""

    def note(self) -> str:
        """One line for the search log: which entries were skipped and why, and the remarks."""
        parts = []
        for items, what in ((self.skipped, "skipped"), (self.remarks, "read with a remark")):
            if items:
                listed = "; ".join(str(s) for s in items[:10])
                more = f"; and {len(items) - 10} more" if len(items) > 10 else ""
                parts.append(f"{len(items)} entr{'y' if len(items) == 1 else 'ies'} {what} ({listed}{more})")
        return "; ".join(parts)


REQUIRED = ("title", "year", "authors", "doi")


def _expected_columns(fmt: str) -> str:
    return "; ".join(f"{name}: {' or '.join(repr(c) for c in columns_for(fmt, name))}" for name in REQUIRED)


def _check_layout(path: Path, fmt: str, forced: bool, header: set[str], records: list[dict], lines: list[int]) -> None:
    """Refuse a table read with the wrong layout. A format given by hand must find a column for
    each of title, year, authors and DOI unless the file's own layout is that format; any table
    whose records mostly lack a title, or lack all of year, authors and DOI, is refused too."""
    if fmt not in TABLE_FORMATS or fmt == "index_hits":
        return
    if forced:
        missing = [name for name in REQUIRED if not header & set(columns_for(fmt, name))]
        if missing:
            try:
                detected = detect_format(path)
            except ExportError:
                detected = None
            if detected != fmt:
                looks = f"; the file looks like {detected}" if detected else ""
                raise ExportError(path, 1, f"read as {fmt}, the file has no column for {', '.join(missing)}; "
                                  f"this layout expects {_expected_columns(fmt)}{looks}")
    half = len(records) / 2
    no_title = sum(not r["title"] for r in records)
    bare = sum(not (r["year"] or r["authors"] or r["doi"]) for r in records)
    if no_title > half or bare > half:
        raise ExportError(path, lines[0] if lines else 1, f"read as {fmt}, most records have no title or no "
                          f"year, authors and DOI; this layout expects {_expected_columns(fmt)}")


def read_export_report(path: Path | str, fmt: str | None = None, *,
                       source_file: str | None = None) -> ExportRead:
    """Read one export (format detected from its content unless given); ExportError(file, line,
    problem) when the file as a whole cannot be read."""
    path = Path(path)
    if not path.is_file():
        raise ExportError(path, None, "file not found")
    forced = fmt is not None
    fmt = fmt or detect_format(path)
    if fmt not in FORMATS:
        raise ExportError(path, None, f"unknown format {fmt!r}; one of {FORMATS}")
    entries: Entries = READERS.get(fmt, delimited.read)(path)
    if fmt == "index_hits":
        missing = {"record_id", "title"} - set(entries.rows[0][1])
        if missing:
            raise ExportError(path, 1, f"missing column(s) {sorted(missing)}")
    source_file = source_file or path.name
    stem = Path(source_file).stem
    positions = sorted([(line, True) for line, _ in entries.rows] + [(s.line, False) for s in entries.skipped])
    position_of = {line: number for number, (line, _) in enumerate(positions, start=1)}
    records, lines, skipped, seen = [], [], list(entries.skipped), {}
    for line, raw in entries.rows:
        record = map_fields(raw, fmt)
        if record["record_id"]:
            if record["record_id"] in seen:
                raise ExportError(path, line, f"record_id {record['record_id']!r} repeats the one on "
                                  f"line {seen[record['record_id']]}")
            seen[record["record_id"]] = line
        else:
            record["record_id"] = f"{stem}:{position_of[line]}"
        if not (record["title"] or record["doi"] or record["pmid"]):
            skipped.append(Skipped(line, "record has no title, DOI or PMID"))
            continue
        record["source_file"], record["position"] = source_file, position_of[line]
        records.append(record)
        lines.append(line)
    _check_layout(path, fmt, forced, set(entries.rows[0][1]) if entries.rows else set(), records, lines)
    if not records:
        if not skipped:
            raise ExportError(path, None, "no record found")
        first = min(skipped, key=lambda s: s.line)
        raise ExportError(path, first.line, f"no record could be imported; the first problem: {first.reason}")
    columns = RECORD_COLUMNS + (["query_id"] if fmt == "index_hits" else [])
    table = pd.DataFrame(records, columns=columns)
    table["position"] = table["position"].astype(int)
    return ExportRead(table, sorted(skipped, key=lambda s: s.line), list(entries.remarks), fmt)


def read_export(path: Path | str, fmt: str | None = None, *, source_file: str | None = None) -> pd.DataFrame:
    """One search export as a record table (columns RECORD_COLUMNS, plus query_id for index
    hits); entries that cannot be used are left out (see :func:`read_export_report`)."""
    return read_export_report(path, fmt, source_file=source_file).table
