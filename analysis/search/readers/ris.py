"""RIS (``TY  - `` ... ``ER  - ``), parsed record by record with rispy.

Databases and reference managers write text around the records that is not RIS: Ovid numbers
each record (``1.``), APA PsycNET and JSTOR start with a header block (``Provider:``,
``Database:``, ``Content:``), EndNote writes ``Record #1 of 2``. Lines outside a record are
ignored, as rispy and Zotero do. Some vendors write longer tags inside a record (``PMID  - ``,
``DESCRIPTORS  - ``); they are kept under their own name rather than glued to the previous field.
A record left without ``ER  - `` ends where the next ``TY  - `` (or the file) does, as in Zotero;
each such record is named in the remarks, since a file cut short loses the end of its last record.
Fields outside a record that end with their own ``ER  - `` are a record whose ``TY  - `` line is
missing: they are read as a record, with a remark, rather than dropped. Fields after ``ER  - ``
that no ``ER  - `` closes (Ovid writes ``NL  - `` there) are not a record and are ignored.
"""
from __future__ import annotations

import re
from pathlib import Path

from .base import Entries, ExportError, Skipped, read_text

_TAG_LINE = re.compile(r"^([A-Z][A-Z0-9])  -(?: (.*))?$")
_LONG_TAG_LINE = re.compile(r"^([A-Z][A-Z0-9]{2,15})\s+- ?(.*)$")


def read(path: Path) -> Entries:
    import rispy

    text = read_text(path)
    blocks: list[tuple[int, list[str], dict]] = []  # (first line, RIS lines, long-tag fields)
    current: tuple[int, list[str], dict] | None = None
    typeless = False  # the current record began without a TY line
    remarks: list[Skipped] = []
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.rstrip().lstrip("\ufeff")  # a byte-order mark inside concatenated exports
        match = _TAG_LINE.match(stripped)
        tag = match.group(1) if match else None
        if current is None:
            if tag == "TY":
                current = (number, [stripped], {})
            elif tag is not None and tag != "ER":
                current, typeless = (number, ["TY  - GEN", stripped], {}), True
            continue  # record numbers, vendor headers and blank lines between records
        if tag == "TY" and typeless:  # the fields since the last ER were trailing fields, not a record
            current, typeless = (number, [stripped], {}), False
            continue
        if tag == "TY":
            remarks.append(Skipped(current[0], f"record not closed with 'ER  - '; it ends where the next "
                                   f"record starts, on line {number}"))
            blocks.append((current[0], current[1] + ["ER  - "], current[2]))
            current = (number, [stripped], {})
            continue
        long_tag = None if match else _LONG_TAG_LINE.match(stripped)
        if long_tag:
            current[2].setdefault(long_tag.group(1), []).append(long_tag.group(2).strip())
            continue
        current[1].append(stripped)
        if tag == "ER":
            if typeless:
                remarks.append(Skipped(current[0], "record does not start with 'TY  - '; read from its first field"))
            blocks.append(current)
            current, typeless = None, False
    if current is not None and not typeless:
        remarks.append(Skipped(current[0], "record not closed with 'ER  - ' before the end of the file; "
                               "read up to there (was the file cut short?)"))
        blocks.append((current[0], current[1] + ["ER  - "], current[2]))
    if not blocks:
        raise ExportError(path, None, "no RIS record found (a record starts with 'TY  - ')")
    tag_of = {key: tag for tag, key in rispy.TAG_KEY_MAPPING.items()}
    rows, skipped = [], []
    for line, lines, long_fields in blocks:
        try:
            parsed = rispy.loads("\n".join(lines) + "\n", skip_unknown_tags=False)
        except Exception as err:  # rispy raises plain IOError/ValueError on a malformed record
            skipped.append(Skipped(line, f"RIS record could not be parsed ({err})"))
            continue
        if len(parsed) != 1:
            skipped.append(Skipped(line, f"RIS record parsed into {len(parsed)} records"))
            continue
        fields: dict = {}
        for key, value in parsed[0].items():
            if key == "unknown_tag" and isinstance(value, dict):
                fields.update(value)
            else:
                fields[tag_of.get(key, key)] = value
        for name, values in long_fields.items():
            fields.setdefault(name, values)
        rows.append((line, fields))
    return Entries(rows, skipped, remarks)
