"""Web of Science plain text (``FN Clarivate Analytics Web of Science`` ... ``PT J`` ... ``ER`` ... ``EF``).

Web of Science's default export for "other reference software" (``savedrecs.txt``, ``.ciw``): a
two-letter tag, a space and the value; continuation lines are indented by three spaces, one
author per line. ``FN``/``VR`` open the file and ``EF`` closes it. A record with a line that is
neither a field nor a continuation is skipped with that line; a last record without ``ER`` is
read up to the end of the file, with a remark.
"""
from __future__ import annotations

import re
from pathlib import Path

from .base import Entries, ExportError, Skipped, read_text

FIELD_LINE = re.compile(r"^([A-Z][A-Z0-9])(?: (.*))?$")
REPEATED = ("AU", "AF", "CR", "C1", "BE")


def read(path: Path) -> Entries:
    rows: list[tuple[int, dict]] = []
    problems: dict[int, Skipped] = {}
    remarks: list[Skipped] = []
    current: dict | None = None
    start = last_tag = None
    for number, line in enumerate(read_text(path).splitlines(), start=1):
        if not line.strip():
            continue
        if line.startswith("   ") and current is not None and last_tag is not None:
            current[last_tag].append(line.strip())
            continue
        match = FIELD_LINE.match(line.rstrip())
        tag = match.group(1) if match else None
        if current is None:
            if tag in ("FN", "VR", "EF") or tag is None:
                continue  # file header and end, and anything else between records
            current, start = {}, number
            rows.append((number, current))
        if tag is None:
            problems.setdefault(start, Skipped(start, f"line {number} is not a Web of Science field line "
                                               f"('TI title'): {line.strip()[:40]!r}"))
            last_tag = None
            continue
        if tag == "ER":
            current, last_tag = None, None
            continue
        current.setdefault(tag, []).append((match.group(2) or "").strip())
        last_tag = tag
    if current is not None:
        remarks.append(Skipped(start, "record not closed with 'ER' before the end of the file; read up to there"))
    if not rows:
        raise ExportError(path, None, "no Web of Science record found (a record starts with 'PT ')")
    rows = [(line, fields) for line, fields in rows if line not in problems]
    for _, fields in rows:
        for tag, values in fields.items():
            if tag not in REPEATED:
                fields[tag] = " ".join(values)  # a title or abstract wrapped over several lines
    return Entries(rows, sorted(problems.values(), key=lambda s: s.line), remarks)
