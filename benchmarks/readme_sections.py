"""Write one benchmark's table into its own marked section of benchmarks/README.md.

Each benchmark owns the text between its start and end markers; the rest of the file is left
as it is. The file is read just before writing and replaced atomically.
"""
from __future__ import annotations

import os
from pathlib import Path

README = Path(__file__).resolve().parent / "README.md"


def write_marked_section(start: str, end: str, text: str, readme: Path = README) -> None:
    """Replace the text between ``start`` and ``end`` (appending the section when absent)."""
    block = f"{start}\n{text}\n{end}"
    old = readme.read_text(encoding="utf-8") if readme.exists() else "# Benchmarks\n"
    if start in old and end in old:
        new = old[: old.index(start)] + block + old[old.index(end) + len(end):]
    else:
        new = old.rstrip("\n") + "\n\n" + block + "\n"
    temporary = readme.with_name(f".{readme.name}.{os.getpid()}.tmp")
    temporary.write_text(new, encoding="utf-8")
    os.replace(temporary, readme)
