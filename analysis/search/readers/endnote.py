"""EndNote tagged export (``%0 Journal Article``, ``%T`` title, ``%A`` one author per line...).

Records are separated by blank lines; a line that does not start with ``%`` continues the field
above it (long abstracts).
"""
from __future__ import annotations

import re
from pathlib import Path

from .base import Entries, ExportError, read_text

FIELD_LINE = re.compile(r"^%([0-9A-Z@!#$&()*+^~>\[\]|?])(?: (.*))?$")
REPEATED = ("A", "E", "K", "Y", "?")


def read(path: Path) -> Entries:
    rows: list[tuple[int, dict]] = []
    current: dict | None = None
    last_tag = None
    for number, line in enumerate(read_text(path).splitlines(), start=1):
        if not line.strip():
            current, last_tag = None, None
            continue
        match = FIELD_LINE.match(line.rstrip())
        if not match:
            if last_tag is None:
                raise ExportError(path, number, f"not an EndNote field line ('%T title'): {line.strip()[:40]!r}")
            current[last_tag][-1] += " " + line.strip()
            continue
        tag, value = "%" + match.group(1), (match.group(2) or "").strip()
        if current is None:
            current = {}
            rows.append((number, current))
        current.setdefault(tag, []).append(value)
        last_tag = tag
    if not rows:
        raise ExportError(path, None, "no EndNote record found (a record is a block of '%T', '%A'... lines)")
    for _, fields in rows:
        for tag, values in fields.items():
            if tag[1:] not in REPEATED:
                fields[tag] = values[0]
    return Entries(rows)
