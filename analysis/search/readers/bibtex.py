"""BibTeX, parsed with bibtexparser 2; LaTeX in field values decoded with pylatexenc.

bibtexparser sets aside an entry whose key was already used, or which repeats a field (Scopus
writes ``funding_details`` once per funder), as a "failed block" that still holds the parsed
entry. Both are read here: a repeated field keeps its first value (the fields a record uses are
never repeated), and a reused key is only a remark, since record ids do not depend on the key
and two copies of one article under one key are exactly what deduplication should link.
Any other failed block (unbalanced braces, a missing comma) is skipped with its line.
"""
from __future__ import annotations

import logging
from functools import lru_cache
from pathlib import Path

from .base import Entries, ExportError, Skipped, read_text

# text-mode macros that pylatexenc's default context does not know (it would drop them)
_EXTRA_MACROS = {"textgreater": ">", "textless": "<", "textbar": "|", "textunderscore": "_",
                 "textbackslash": "\\", "textasciitilde": "~", "textasciicircum": "^",
                 "textquotesingle": "'", "textquotedbl": '"'}
_EXTRA_ARGUMENT_MACROS = ("textsf", "texttt", "textup", "textmd", "textnormal", "mbox", "url")


@lru_cache(maxsize=1)
def _converter():
    from pylatexenc.latex2text import LatexNodes2Text, MacroTextSpec, get_default_latex_context_db
    from pylatexenc.latexwalker import get_default_latex_context_db as walker_db
    from pylatexenc.macrospec import MacroSpec

    text_db = get_default_latex_context_db()
    text_db.add_context_category(
        "bibliographic-text", prepend=True,
        macros=[MacroTextSpec(name, simplify_repl=value) for name, value in _EXTRA_MACROS.items()]
        + [MacroTextSpec(name, discard=False) for name in _EXTRA_ARGUMENT_MACROS])
    parse_db = walker_db()
    parse_db.add_context_category("bibliographic-text", prepend=True,
                                  macros=[MacroSpec(name, "{") for name in _EXTRA_ARGUMENT_MACROS])
    return LatexNodes2Text(latex_context=text_db), parse_db


def latex_to_text(value: str) -> str:
    """``c.126C {\\textgreater} A`` -> ``c.126C > A``; ``{\\"u}`` -> ``ü``; protective braces removed."""
    if "\\" in value:
        from pylatexenc.latexwalker import LatexWalker

        converter, parse_db = _converter()
        nodes = LatexWalker(value, latex_context=parse_db, tolerant_parsing=True).get_latex_nodes()[0]
        value = converter.nodelist_to_text(nodes)
    return value.replace("{", "").replace("}", "")


def _fields(entry) -> dict:
    fields: dict = {}
    for item in entry.fields:  # a repeated field keeps its first value
        fields.setdefault(item.key.lower(), latex_to_text(str(item.value)))
    return fields


def read(path: Path) -> Entries:
    import bibtexparser

    text = read_text(path)
    logging.getLogger("bibtexparser").setLevel(logging.CRITICAL)  # problems are reported below instead
    library = bibtexparser.parse_string(text)
    entries = [(entry.start_line + 1, entry) for entry in library.entries]
    skipped, remarks = [], []
    for block in library.failed_blocks:
        kind = type(block).__name__
        recovered = getattr(block, "ignore_error_block", None)
        line = block.start_line + 1
        if kind == "DuplicateBlockKeyBlock" and recovered is not None:
            remarks.append(Skipped(line, f"entry key {block.key!r} is used twice; both entries imported"))
            entries.append((line, recovered))
        elif kind == "DuplicateFieldKeyBlock" and recovered is not None:
            entries.append((line, recovered))
        else:
            first = block.raw.strip().splitlines()[0][:60] if block.raw.strip() else ""
            skipped.append(Skipped(line, "entry could not be parsed (unbalanced braces or quotes, or a "
                                   f"missing comma): {first!r}"))
    if not entries and not skipped:
        raise ExportError(path, None, "no BibTeX entry found (an entry starts with '@type{key,')")
    entries.sort(key=lambda pair: pair[0])
    return Entries([(line, _fields(entry)) for line, entry in entries], skipped, remarks)
