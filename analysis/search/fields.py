"""From an export's own field names to the review's record fields, as data.

``analysis/search/field_aliases.csv`` lists, per format, which export field feeds which record field
(first non-empty alias wins, in file order) and, where a value needs more than copying, a rule:

- ``split_semicolon``, ``split_semicolon_or_comma``, ``split_and``, ``split_concatenated``: how
  an author list is split into names;
- ``tagged``: MEDLINE identifiers; a value tagged ``[pii]`` (or any tag but ``[doi]``) is skipped;
- ``in_text``: the DOI is found inside a longer text (an OpenURL link);
- ``before_parenthesis``: the text before the first ``(`` (Embase's Source cell);
- ``url``: only values that are web links.

Every DOI, PMID and year goes through :mod:`analysis.search.normalize` whatever its rule.
"""
from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

import pandas as pd

from analysis.io.search_tables import FORMATS

from .normalize import find_doi, normalize_doi, normalize_pmid, parse_year, strip_translation_brackets

RECORD_COLUMNS = ["record_id", "source_file", "position", "title", "authors", "first_author",
                  "year", "journal", "doi", "pmid", "abstract", "url"]
TABLE_FORMATS = ("index_hits", "wos_tab", "wos_csv", "scopus_csv", "pubmed_csv", "embase_csv", "ieee_csv",
                 "springer_csv", "zotero_csv")
FORMAT_LABELS = {
    "index_hits": "the review's own index-hit list (first identification round)",
    "ris": "RIS (Ovid, EBSCO, APA PsycNET, JSTOR, Scopus, Web of Science, Lens, Zotero, EndNote)",
    "nbib": "MEDLINE tagged (PubMed .nbib/.txt, ERIC)",
    "bibtex": "BibTeX (Scopus, Zotero, JabRef, Google Scholar)",
    "endnote": "EndNote tagged (%T, %A ...)",
    "wos_plain": "Web of Science plain text (.txt, .ciw)",
    "wos_tab": "Web of Science tab-delimited",
    "wos_csv": "Web of Science CSV",
    "scopus_csv": "Scopus CSV (current and older layouts)",
    "pubmed_csv": "PubMed CSV",
    "embase_csv": "Embase CSV",
    "ieee_csv": "IEEE Xplore CSV",
    "springer_csv": "Springer Link CSV",
    "zotero_csv": "Zotero CSV",
}
RULES = ("", "split_semicolon", "split_semicolon_or_comma", "split_and", "split_concatenated", "tagged",
         "in_text", "before_parenthesis", "url")
ALIASES_FILE = Path(__file__).with_name("field_aliases.csv")
AUTHOR_SEPARATOR = "; "


@lru_cache(maxsize=1)
def field_aliases() -> dict[str, list[tuple[str, str, str]]]:
    """``{format: [(source_field, field, rule), ...]}`` in priority order, from field_aliases.csv."""
    table = pd.read_csv(ALIASES_FILE, dtype=str, keep_default_na=False)
    problems = {"target field": sorted(set(table["field"]) - set(RECORD_COLUMNS) - {"query_id"}),
                "format": sorted(set(table["format"]) - set(FORMATS)),
                "rule": sorted(set(table["rule"]) - set(RULES))}
    for what, unknown in problems.items():
        if unknown:
            raise ValueError(f"{ALIASES_FILE}: unknown {what}(s) {unknown}")
    return {fmt: list(zip(group["source_field"], group["field"], group["rule"]))
            for fmt, group in table.groupby("format", sort=False)}


def _as_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, (list, tuple)):
        return AUTHOR_SEPARATOR.join(_as_text(v) for v in value if _as_text(v))
    return re.sub(r"\s+", " ", str(value)).strip()


def _split_concatenated(value: str) -> list[str]:
    """``Andy SmithTom Weber`` -> ``[Andy Smith, Tom Weber]``: a capital right after a lower-case
    letter starts a new name, unless the piece has no space (``McDonald`` stays whole)."""
    names: list[str] = []
    for piece in re.split(r"(?<=[a-z])(?=[A-Z])", value):
        if names and " " not in piece.strip():
            names[-1] += piece
        else:
            names.append(piece)
    return [n.strip() for n in names if n.strip()]


def _authors(value: object, rule: str) -> list[str] | object:
    if not value or isinstance(value, list):
        return value
    text = str(value)
    if rule == "split_semicolon" or (rule == "split_semicolon_or_comma" and ";" in text):
        return [a.strip() for a in text.split(";") if a.strip()]
    if rule == "split_semicolon_or_comma":
        return [a.strip() for a in text.split(",") if a.strip()]
    if rule == "split_and":
        return [a.strip() for a in re.split(r"\s+and\s+", text) if a.strip()]
    if rule == "split_concatenated":
        return _split_concatenated(text)
    return value


def _doi(value: object, rule: str) -> str:
    values = value if isinstance(value, list) else [value]
    for item in values:
        text = _as_text(item)
        if rule == "tagged":
            tag = re.search(r"\[([a-z]+)\]\s*$", text)
            if tag and tag.group(1) != "doi":
                continue
        doi = find_doi(text) if rule == "in_text" else normalize_doi(text)
        if doi:
            return doi
    return ""


def map_fields(raw: dict, fmt: str) -> dict:
    """One record in the shared shape from an export's own field names."""
    out = {field: "" for field in RECORD_COLUMNS}
    for source_field, field, rule in field_aliases()[fmt]:
        if out.get(field):
            continue
        value = raw.get(source_field)
        if field == "doi":
            value = _doi(value, rule)
        elif field == "pmid":
            value = normalize_pmid(_as_text(value))
        elif field == "year":
            value = parse_year(_as_text(value))
        elif field == "authors":
            value = _authors(value, rule)
        elif rule == "url":
            value = next((v for v in (value if isinstance(value, list) else [value])
                          if re.match(r"https?://", _as_text(v))), "")
        elif rule == "before_parenthesis":
            value = _as_text(value).split("(")[0]
        out[field] = _as_text(value)
    if fmt != "index_hits":  # the review's own list keeps reviewer descriptions in brackets
        out["title"] = strip_translation_brackets(out["title"])
    if not out["first_author"] and out["authors"]:
        out["first_author"] = out["authors"].split(AUTHOR_SEPARATOR)[0]
    if not out["authors"] and out["first_author"]:
        out["authors"] = out["first_author"]
    if any(field == "query_id" for _, field, _ in field_aliases()[fmt]):
        out["query_id"] = _as_text(raw.get("query_id"))
    return out


def columns_for(fmt: str, field: str) -> list[str]:
    """The export fields that can feed one record field, in priority order."""
    return [source for source, target, _ in field_aliases()[fmt] if target == field]


def supported_formats() -> pd.DataFrame:
    """One row per format the ``import`` command reads: its name in the search log, the exports
    it covers and, per record field, the export fields read (first non-empty wins)."""
    rows = []
    for fmt in FORMATS:
        fields = {}
        for source, target, _ in field_aliases()[fmt]:
            fields.setdefault(target, []).append(source)
        rows.append({"format": fmt, "exports": FORMAT_LABELS[fmt],
                     "fields read": "; ".join(f"{target}: {', '.join(sources)}" for target, sources in fields.items())})
    return pd.DataFrame(rows)
