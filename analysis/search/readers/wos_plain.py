"""Web of Science plain text (``FN Clarivate Analytics Web of Science`` ... ``PT J`` ... ``ER`` ... ``EF``).

Web of Science's default export for "other reference software" (``savedrecs.txt``, ``.ciw``): a
two-letter tag, a space and the value; continuation lines are indented by three spaces, one
author per line. ``FN``/``VR`` open the file and ``EF`` closes it.
"""
from __future__ import annotations

import re
from pathlib import Path

from analysis.search.readers.base import Entries, ExportError, read_text

FIELD_LINE = re.compile(r"^([A-Z][A-Z0-9])(?: (.*))?$")
REPEATED = ("AU", "AF", "CR", "C1", "BE")


def read(path: Path) -> Entries:
    rows: list[tuple[int, dict]] = []
    current: dict | None = None
    last_tag = None
    for number, line in enumerate(read_text(path).splitlines(), start=1):
        if not line.strip():
            continue
        if line.startswith("   ") and current is not None and last_tag is not None:
            current[last_tag].append(line.strip())
            continue
        match = FIELD_LINE.match(line.rstrip())
        if not match:
            raise ExportError(path, number, f"not a Web of Science field line ('TI title'): {line.strip()[:40]!r}")
        tag, value = match.group(1), (match.group(2) or "").strip()
        if current is None:
            if tag in ("FN", "VR", "EF"):
                continue
            if tag != "PT":
                raise ExportError(path, number, f"a Web of Science record must start with 'PT', found {tag!r}")
            current = {}
            rows.append((number, current))
        if tag == "ER":
            current, last_tag = None, None
            continue
        current.setdefault(tag, []).append(value)
        last_tag = tag
    if current is not None:
        raise ExportError(path, rows[-1][0], "record not closed with 'ER' before the end of the file")
    if not rows:
        raise ExportError(path, None, "no Web of Science record found (a record starts with 'PT ')")
    for _, fields in rows:
        for tag, values in fields.items():
            if tag not in REPEATED:
                fields[tag] = " ".join(values)  # a title or abstract wrapped over several lines
    return Entries(rows)
