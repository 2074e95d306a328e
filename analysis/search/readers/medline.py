"""MEDLINE tagged format (PubMed ``.nbib`` / ``.txt``, ERIC, other MEDLINE-style exports).

Records are separated by blank lines; a field is ``TAG - value`` with the tag padded to four
characters, and a long value continues on lines indented by six spaces. PubMed records start
with ``PMID- ``; ERIC's start with ``OWN - ERIC`` and carry no PMID. A record with a line that is
neither a field nor a continuation is skipped with that line.
"""
from __future__ import annotations

import re
from pathlib import Path

from .base import Entries, ExportError, Skipped, read_text

FIELD_LINE = re.compile(r"^([A-Z][A-Z0-9]{0,3})\s*- (.*)$")
REPEATED = ("AU", "FAU", "LID", "AID", "AD", "PT", "OT", "MH", "IS")


def read(path: Path) -> Entries:
    rows: list[tuple[int, dict]] = []
    problems: dict[int, Skipped] = {}  # first line of a record -> why it is skipped
    current: dict | None = None
    start = last_tag = None
    for number, line in enumerate(read_text(path).splitlines(), start=1):
        if not line.strip():
            current, last_tag = None, None
            continue
        if line.startswith("      ") and last_tag is not None:  # continuation of a long field
            current[last_tag][-1] += " " + line.strip()
            continue
        if current is None:
            current, start = {}, number
            rows.append((number, current))
        match = FIELD_LINE.match(line.rstrip() + (" " if line.rstrip().endswith("-") else ""))
        if not match:
            problems.setdefault(start, Skipped(start, f"line {number} is not a MEDLINE field line "
                                               f"('TAG - value'): {line.strip()[:40]!r}"))
            last_tag = None
            continue
        tag, value = match.group(1), match.group(2).strip()
        current.setdefault(tag, []).append(value)
        last_tag = tag
    if not rows:
        raise ExportError(path, None, "no MEDLINE record found (a record starts with 'PMID- ' or 'OWN - ')")
    rows = [(line, fields) for line, fields in rows if line not in problems]
    for _, fields in rows:
        for tag, values in fields.items():
            if tag not in REPEATED:
                fields[tag] = values[0]
    return Entries(rows, sorted(problems.values(), key=lambda s: s.line))
