"""Search exports in, one record table out; duplicate records linked, never deleted.

Formats read: RIS (rispy), PubMed/MEDLINE ``.nbib``, BibTeX (bibtexparser 2), CSV as Scopus and
Web of Science export it, Web of Science tab-delimited ``.txt``, and the index-hit CSV of the
review's first identification round (``data/<question>/records.csv``). Which export field feeds
which record field is data: ``analysis/field_aliases.csv`` (first non-empty alias wins, in file
order).

Every record has a stable id. An export that carries its own unique id field (the first round's
``record_id``, R0001...) keeps it; any other record is ``<file stem>:<1-based position>``.
Screening decisions key on these ids, so they survive later searches.

Search runs are documented as PRISMA-S asks (Rethlefsen et al. 2021, Syst Rev 10:39, items 1-13:
each database, the full query, the date run, the number of records) in the search log
``data/<question>/searches/searches.csv``; a new run is a new file there plus one appended log row.

Deduplication (:func:`dedup`) follows the usual order of automated tools (e.g. ASySD, Hair et al.
2023, BMC Biol 21:189): exact identifier matches (DOI, PMID, URL), then exact normalised title,
then fuzzy title matching with rapidfuzz inside blocks, each title link checked against year and
first-author surname. Links are merged with union-find into clusters.
"""
from __future__ import annotations

import bisect
import csv
import hashlib
import html
import io
import logging
import os
import re
import sys
import tempfile
import unicodedata
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from pathlib import Path
from urllib.parse import unquote

import numpy as np
import pandas as pd

from analysis.paths import data_dir

RECORD_COLUMNS = ["record_id", "source_file", "position", "title", "authors", "first_author",
                  "year", "journal", "doi", "pmid", "abstract", "url"]
SEARCH_LOG_COLUMNS = ["search_id", "file", "source", "query", "date_run", "n_hits", "format", "note"]
FORMATS = ("index_hits", "ris", "nbib", "bibtex", "scopus_csv", "wos_csv", "wos_tab")
CLUSTER_COLUMNS = ["record_id", "cluster_id", "first_record_id", "reason", "linked_to", "score"]
ALIASES_FILE = Path(__file__).with_name("field_aliases.csv")
SEARCH_LOG = Path("searches") / "searches.csv"
AUTHOR_SEPARATOR = "; "


class ExportError(ValueError):
    """A search export that cannot be read, with the file and line of the first problem."""

    def __init__(self, path: Path | str, line: int | None, problem: str):
        self.path, self.line, self.problem = str(path), line, problem
        where = f"{path}, line {line}" if line else str(path)
        super().__init__(f"{where}: {problem}")


# ---------------------------------------------------------------------------------------------
# Normalisation
# ---------------------------------------------------------------------------------------------
_DOI_PREFIX = re.compile(r"^(?:https?://)?(?:dx\.|www\.)?doi\.org/|^doi:\s*|^doi\s+", re.IGNORECASE)
_SPACE = re.compile(r"\s+")
_PMID_PREFIX = re.compile(r"^(?:pmid|pubmed)\s*:?\s*", re.IGNORECASE)
_DOI_SHAPE = re.compile(r"^10\.\d{4,9}/\S+$")
_TAG = re.compile(r"<[^>]{0,200}>")
_NON_ALNUM = re.compile(r"[^0-9a-z]+")
_YEAR = re.compile(r"(?<!\d)(1[89]\d\d|20\d\d)(?!\d)")
_INITIALS = re.compile(r"^[A-Z]{1,4}$|^(?:[A-Z]\.){1,4}$|^(?:[A-Z]\.-?){1,4}[A-Z]?\.?$")
# country abbreviations that title variants spell out ("in the U.S." / "in the United States")
_TITLE_ABBREVIATIONS = [(re.compile(r"\bU\.\s?S\.(?:\s?A\.)?"), "United States"),
                        (re.compile(r"\bU\.\s?K\."), "United Kingdom")]
# letters that NFKD does not decompose into a base letter plus a combining mark
_FOLD = str.maketrans({"ß": "ss", "æ": "ae", "Æ": "AE", "ø": "o", "Ø": "O", "œ": "oe", "Œ": "OE",
                       "ł": "l", "Ł": "L", "đ": "d", "Đ": "D", "þ": "th", "ı": "i"})


def fold_diacritics(text: str) -> str:
    """``Bessière`` -> ``Bessiere``: NFKD decomposition without combining marks."""
    if text.isascii():
        return text
    decomposed = unicodedata.normalize("NFKD", text.translate(_FOLD))
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def normalize_doi(value: object) -> str:
    """Lower-case bare DOI (``10.xxxx/...``) or ``""``.

    Removes resolver prefixes (``https://doi.org/``, ``dx.doi.org``, ``doi:``), URL escapes
    (``%2F``), surrounding whitespace and trailing punctuation picked up from citations. DOIs are
    case-insensitive (DOI Handbook, section 2.4), so lower case is the canonical form here.
    """
    if value is None or (isinstance(value, float) and value != value):
        return ""
    doi = unquote(str(value)).strip().strip("<>\"'")
    previous = None
    while previous != doi:
        previous = doi
        doi = _DOI_PREFIX.sub("", doi).strip()
    doi = doi.rstrip(".,;:)]}").lower()
    doi = _SPACE.sub("", doi)
    return doi if _DOI_SHAPE.match(doi) else ""


def normalize_pmid(value: object) -> str:
    """PubMed id as digits without leading zeros, or ``""`` (``PMID: 012345`` -> ``12345``)."""
    if value is None or (isinstance(value, float) and value != value):
        return ""
    text = str(value).strip()
    text = _PMID_PREFIX.sub("", text)
    text = text.removesuffix(".0") if re.fullmatch(r"\d+\.0", text) else text
    return text.lstrip("0") if text.isdigit() and text.strip("0") else ""


def normalize_title(value: object) -> str:
    """Title key: HTML entities and tags resolved, diacritics folded, lower case, punctuation as
    single spaces. ``"Internet &amp; Depression: <i>A</i> Study."`` -> ``"internet depression a study"``
    (``&`` and ``and`` both drop out so that the two spellings match).
    """
    if value is None or (isinstance(value, float) and value != value):
        return ""
    text = str(value)
    for _ in range(2):  # double-escaped entities (&amp;amp;) occur in scraped pages
        text = html.unescape(text)
    text = _TAG.sub(" ", text)
    for pattern, expansion in _TITLE_ABBREVIATIONS:
        text = pattern.sub(expansion, text)
    text = fold_diacritics(text).lower()
    text = _NON_ALNUM.sub(" ", text)
    return " ".join(word for word in text.split() if word != "and")


def is_description(title: object) -> bool:
    """True for a reviewer-written description in square brackets (``[title not shown ...] ...``):
    not a bibliographic title, so it must not be matched like one."""
    return str(title or "").lstrip().startswith("[")


def normalize_url(value: object) -> str:
    """URL key: no scheme, no ``www.``, no trailing slash, lower-case host, fragment dropped."""
    text = str(value or "").strip()
    if not text:
        return ""
    text = re.sub(r"^[a-z]+://", "", text, flags=re.IGNORECASE).split("#")[0].rstrip("/")
    host, _, rest = text.partition("/")
    host = host.lower().removeprefix("www.")
    return f"{host}/{rest}" if rest else host


_PREPRINT_SERVER = re.compile(r"preprint|arxiv|ssrn|research square|preprints org")


@lru_cache(maxsize=65536)
def normalize_journal(value: object) -> str:
    """Journal key: folded, lower case, punctuation and ``of/the/and/&`` removed."""
    words = normalize_title(value).split()
    return " ".join(w for w in words if w not in ("of", "the", "for", "in", "on"))


def journals_compatible(a: str, b: str) -> bool:
    """True unless two normalised journal names are clearly different sources.

    Empty names and preprint servers are compatible with anything. ``j med internet res`` and ``journal medical
    internet research`` are compatible: every word of the shorter name starts a word of the longer
    one, in order (ISO 4 abbreviations shorten words from the end).
    """
    if not a or not b or a == b:
        return True
    if _PREPRINT_SERVER.search(a) or _PREPRINT_SERVER.search(b):
        return True  # a preprint is the same work as the article it becomes
    short, long_ = sorted((a.split(), b.split()), key=len)
    position = 0
    for word in short:
        while position < len(long_) and not long_[position].startswith(word):
            position += 1
        if position == len(long_):
            return False
        position += 1
    return True


def author_surname(value: object) -> str:
    """Surname key of a first author in any common form, folded and lower case.

    ``"Gould MS"``, ``"Gould, Madelyn S."``, ``"Madelyn S. Gould"`` -> ``"gould"``;
    ``"Gil-Fortoul Bucheli JD"`` -> ``"gilfortoulbucheli"``; ``"Bessière K"`` -> ``"bessiere"``.
    """
    text = fold_diacritics(html.unescape(str(value or ""))).strip()
    text = text.split(";")[0].split(" and ")[0].strip()
    if not text:
        return ""
    part = text.split(",")[0].strip()
    words = part.split()
    if len(words) > 1 and _INITIALS.match(words[-1]):
        surname = " ".join(words[:-1])  # Vancouver: "Surname AB", also "Surname A., Other B."
    elif "," in text:
        surname = part  # "Surname, Given"
    elif len(words) > 1:
        surname = words[-1]  # "Given Surname", "A. B. Surname"
    else:
        surname = part
    return re.sub(r"[^a-z]", "", surname.lower())


def parse_year(value: object) -> str:
    """First four-digit year 1800-2099 in the value (``"2016 May 16"`` -> ``"2016"``), else ``""``."""
    match = _YEAR.search(str(value or ""))
    return match.group(1) if match else ""


# ---------------------------------------------------------------------------------------------
# Field aliases
# ---------------------------------------------------------------------------------------------
@lru_cache(maxsize=1)
def field_aliases() -> dict[str, list[tuple[str, str]]]:
    """``{format: [(source_field, field), ...]}`` in priority order, from field_aliases.csv."""
    table = pd.read_csv(ALIASES_FILE, dtype=str, keep_default_na=False)
    unknown = sorted(set(table["field"]) - set(RECORD_COLUMNS) - {"query_id"})
    if unknown:
        raise ValueError(f"{ALIASES_FILE}: unknown target field(s) {unknown}")
    return {fmt: list(zip(group["source_field"], group["field"]))
            for fmt, group in table.groupby("format", sort=False)}


def _as_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, (list, tuple)):
        return AUTHOR_SEPARATOR.join(str(v).strip() for v in value if str(v).strip())
    return re.sub(r"\s+", " ", str(value)).strip()


def _map_fields(raw: dict, fmt: str) -> dict:
    """One record in the shared shape from an export's own field names (aliases as data)."""
    out = {field: "" for field in RECORD_COLUMNS}
    for source_field, field in field_aliases()[fmt]:
        if out.get(field):
            continue
        value = raw.get(source_field)
        if field == "doi":
            values = value if isinstance(value, list) else [value]
            tagged = [v for v in values if v and "[doi]" in str(v)]
            if tagged or fmt == "nbib":  # MEDLINE: LID/AID carry [doi] or [pii]; only [doi] counts
                values = [str(v).replace("[doi]", "") for v in tagged]
            value = next((normalize_doi(v) for v in values if normalize_doi(v)), "")
        elif field == "pmid":
            value = normalize_pmid(_as_text(value))
        elif field == "year":
            value = parse_year(_as_text(value))
        elif field == "url" and isinstance(value, list):
            value = value[0] if value else ""
        elif field == "authors" and fmt in ("scopus_csv", "wos_csv", "wos_tab") and value:
            value = [a.strip() for a in re.split(r";\s*", str(value)) if a.strip()]
        elif field == "authors" and fmt == "bibtex" and value:
            value = [a.strip() for a in re.split(r"\s+and\s+", str(value)) if a.strip()]
        out[field] = _as_text(value)
    if not out["first_author"] and out["authors"]:
        out["first_author"] = out["authors"].split(AUTHOR_SEPARATOR)[0]
    if not out["authors"] and out["first_author"]:
        out["authors"] = out["first_author"]
    if "query_id" in {f for _, f in field_aliases()[fmt]}:
        out["query_id"] = _as_text(raw.get("query_id"))
    return out


# ---------------------------------------------------------------------------------------------
# Readers: each returns [(line, raw_fields)] or raises ExportError(file, line, problem)
# ---------------------------------------------------------------------------------------------
_RIS_LINE = re.compile(r"^([A-Z][A-Z0-9])  -(?: (.*))?$")


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as err:
        line = path.read_bytes()[:err.start].count(b"\n") + 1
        raise ExportError(path, line, "not valid UTF-8 text; re-export the file as UTF-8") from None


def _read_ris(path: Path) -> list[tuple[int, dict]]:
    import rispy

    text = _read_text(path)
    starts: list[int] = []
    open_line = None
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        match = _RIS_LINE.match(line.rstrip())
        tag = match.group(1) if match else None
        if open_line is None:
            if tag != "TY":
                raise ExportError(path, number, "expected 'TY  - ' to start a record, found "
                                  f"{line.strip()[:40]!r}")
            open_line = number
        elif tag == "TY":
            raise ExportError(path, number, f"a new record starts before the record opened on line "
                              f"{open_line} was closed with 'ER  - '")
        elif tag == "ER":
            starts.append(open_line)
            open_line = None
    if open_line is not None:
        raise ExportError(path, open_line, "record not closed with 'ER  - ' before the end of the file")
    if not starts:
        raise ExportError(path, None, "no RIS record found (a record starts with 'TY  - ')")
    entries = rispy.loads(text, skip_unknown_tags=False)
    if len(entries) != len(starts):
        raise ExportError(path, None, f"{len(starts)} records delimited but {len(entries)} parsed")
    mapping = {key: tag for tag, key in rispy.TAG_KEY_MAPPING.items()}
    rows = []
    for line, entry in zip(starts, entries):
        raw = {mapping.get(key, key): value for key, value in entry.items()}
        an = _as_text(raw.get("AN"))
        raw["AN"] = an if an.isdigit() else ""  # a PMID only when the accession number is numeric
        rows.append((line, raw))
    return rows


_NBIB_LINE = re.compile(r"^([A-Z][A-Z0-9]{0,3})\s*- (.*)$")


def _read_nbib(path: Path) -> list[tuple[int, dict]]:
    rows: list[tuple[int, dict]] = []
    current: dict | None = None
    last_tag = None
    for number, line in enumerate(_read_text(path).splitlines(), start=1):
        if not line.strip():
            current, last_tag = None, None
            continue
        if line.startswith("      ") and last_tag is not None:  # continuation of a long field
            current[last_tag][-1] += " " + line.strip()
            continue
        match = _NBIB_LINE.match(line)
        if not match:
            raise ExportError(path, number, f"not a MEDLINE field line ('TAG - value'): {line.strip()[:40]!r}")
        tag, value = match.group(1), match.group(2).strip()
        if current is None:
            if tag != "PMID":
                raise ExportError(path, number, f"a MEDLINE record must start with 'PMID- ', found {tag!r}")
            current = {}
            rows.append((number, current))
        current.setdefault(tag, []).append(value)
        last_tag = tag
    if not rows:
        raise ExportError(path, None, "no MEDLINE record found (a record starts with 'PMID- ')")
    for _, raw in rows:
        for tag, values in raw.items():
            if tag not in ("AU", "FAU", "LID", "AID"):
                raw[tag] = values[0]
    return rows


def _latex_to_text(value: str) -> str:
    if "\\" in value:
        from pylatexenc.latex2text import LatexNodes2Text

        value = LatexNodes2Text().latex_to_text(value)
    return value.replace("{", "").replace("}", "")


def _read_bibtex(path: Path) -> list[tuple[int, dict]]:
    import bibtexparser

    text = _read_text(path)
    logging.getLogger("bibtexparser").setLevel(logging.CRITICAL)  # the error is raised below instead
    library = bibtexparser.parse_string(text)
    if library.failed_blocks:
        block = min(library.failed_blocks, key=lambda b: b.start_line)
        kind = type(block).__name__
        if kind == "DuplicateBlockKeyBlock":
            problem = f"duplicate entry key {block.key!r}"
        else:
            problem = ("entry could not be parsed (unbalanced braces or quotes, or a missing comma): "
                       f"{block.raw.strip().splitlines()[0][:60]!r}")
        raise ExportError(path, block.start_line + 1, problem)
    if not library.entries:
        raise ExportError(path, None, "no BibTeX entry found (an entry starts with '@type{key,')")
    rows = []
    for entry in library.entries:
        raw = {key.lower(): _latex_to_text(field.value) for key, field in entry.fields_dict.items()}
        rows.append((entry.start_line + 1, raw))
    return rows


def _csv_header(path: Path) -> tuple[list[str], str]:
    text = _read_text(path)
    first = text.splitlines()[0] if text.strip() else ""
    delimiter = "\t" if first.count("\t") > first.count(",") else ","
    header = next(csv.reader([first], delimiter=delimiter), []) if first else []
    return [h.strip() for h in header], delimiter


def _read_delimited(path: Path, delimiter: str) -> list[tuple[int, dict]]:
    text = _read_text(path)
    quoting = csv.QUOTE_NONE if delimiter == "\t" else csv.QUOTE_MINIMAL  # WoS .txt is unquoted
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, quoting=quoting, strict=True)
    rows = []
    try:
        header = [h.strip() for h in next(reader)]
    except StopIteration:
        raise ExportError(path, 1, "empty file: no header row") from None
    except csv.Error as err:
        raise ExportError(path, 1, f"header row is not valid CSV ({err})") from None
    blank = [i + 1 for i, h in enumerate(header) if not h]
    if blank and not (delimiter == "\t" and blank == [len(header)]):  # WoS rows end with a tab
        raise ExportError(path, 1, f"header column {blank[0]} has no name")
    if len(set(header)) != len(header):
        repeated = sorted({h for h in header if header.count(h) > 1 and h})
        raise ExportError(path, 1, f"header repeats column name(s) {repeated}")
    line_end = reader.line_num
    while True:
        start = line_end + 1
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as err:
            raise ExportError(path, start, f"not valid CSV ({err}); check quotes") from None
        line_end = reader.line_num
        if not any(cell.strip() for cell in row):
            continue
        if delimiter == "\t" and len(row) == len(header) + 1 and not row[-1]:
            row = row[:-1]
        if delimiter == "\t" and len(header) == len(row) + 1 and not header[-1]:
            row = row + [""]
        if len(row) != len(header):
            raise ExportError(path, start, f"expected {len(header)} fields as in the header, found {len(row)}")
        rows.append((start, dict(zip(header, row))))
    if not rows:
        raise ExportError(path, None, "no record rows after the header")
    return rows


def detect_format(path: Path | str) -> str:
    """The export format from the file's extension and first line; ExportError if unknown."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".ris":
        return "ris"
    if suffix == ".nbib":
        return "nbib"
    if suffix in (".bib", ".bibtex"):
        return "bibtex"
    if suffix in (".csv", ".txt", ".tsv"):
        text = _read_text(path)
        if not text.strip():
            raise ExportError(path, None, "empty file")
        first = next((line for line in text.splitlines() if line.strip()), "")
        if suffix != ".csv" and first.startswith("PMID"):
            return "nbib"
        if suffix != ".csv" and first.startswith("TY  -"):
            return "ris"
        header, delimiter = _csv_header(path)
        if {"record_id", "query_id", "title"} <= set(header):
            return "index_hits"
        if delimiter == "\t" and {"PT", "TI"} <= set(header):
            return "wos_tab"
        if {"Article Title", "UT (Unique WOS ID)"} & set(header):
            return "wos_csv"
        if {"Source title", "EID"} & set(header):
            return "scopus_csv"
        raise ExportError(path, 1, "unrecognised header: expected a Scopus CSV (Title, Source title, "
                          "EID...), a Web of Science export (Article Title / UT (Unique WOS ID), or "
                          "tab-delimited PT, TI...) or the index-hit CSV (record_id, query_id, title...)")
    raise ExportError(path, None, f"unknown export type {suffix!r}: expected .ris, .nbib, .bib, .csv or .txt")


def read_export(path: Path | str, fmt: str | None = None, *, source_file: str | None = None) -> pd.DataFrame:
    """One search export as a record table (columns RECORD_COLUMNS, plus query_id for index hits).

    ``source_file`` is the name recorded for the file (default: its name); the stable record id
    is the export's own unique id where it has one, else ``<file stem>:<position>``.
    Raises ExportError(file, line, problem) for a malformed file.
    """
    path = Path(path)
    if not path.is_file():
        raise ExportError(path, None, "file not found")
    fmt = fmt or detect_format(path)
    if fmt not in FORMATS:
        raise ExportError(path, None, f"unknown format {fmt!r}; one of {FORMATS}")
    if fmt == "ris":
        raw_rows = _read_ris(path)
    elif fmt == "nbib":
        raw_rows = _read_nbib(path)
    elif fmt == "bibtex":
        raw_rows = _read_bibtex(path)
    else:
        raw_rows = _read_delimited(path, "\t" if fmt == "wos_tab" else ",")
        if fmt == "index_hits":
            missing = {"record_id", "title"} - set(raw_rows[0][1])
            if missing:
                raise ExportError(path, 1, f"missing column(s) {sorted(missing)}")
    source_file = source_file or path.name
    stem = Path(source_file).stem
    records, seen = [], {}
    for position, (line, raw) in enumerate(raw_rows, start=1):
        record = _map_fields(raw, fmt)
        if record["record_id"]:
            if record["record_id"] in seen:
                raise ExportError(path, line, f"record_id {record['record_id']!r} repeats the one on "
                                  f"line {seen[record['record_id']]}")
            seen[record["record_id"]] = line
        else:
            record["record_id"] = f"{stem}:{position}"
        if not (record["title"] or record["doi"] or record["pmid"]):
            raise ExportError(path, line, "record has no title, DOI or PMID")
        record["source_file"], record["position"] = source_file, position
        records.append(record)
    columns = RECORD_COLUMNS + (["query_id"] if fmt == "index_hits" else [])
    table = pd.DataFrame(records, columns=columns)
    table["position"] = table["position"].astype(int)
    return table


# ---------------------------------------------------------------------------------------------
# The search log and all records of a question
# ---------------------------------------------------------------------------------------------
def question_dir(question: str) -> Path:
    """The data folder of a question of the registry (``q1`` or ``q1_webhelp``); a name that is
    not a question, such as a path, is refused, so no command writes outside data/."""
    from analysis.schemas import QUESTIONS, question_folder

    try:
        folder = data_dir() / question_folder(str(question))
    except KeyError:
        known = ", ".join(f"{short} ({name})" for short, name in QUESTIONS.items())
        raise ValueError(f"unknown question {question!r}; known: {known}") from None
    if not folder.is_dir():
        raise ValueError(f"question {question!r} has no folder {folder}")
    return folder


def read_search_log(question: str) -> pd.DataFrame:
    """The PRISMA-S search log of a question (columns SEARCH_LOG_COLUMNS, n_hits int)."""
    path = question_dir(question) / SEARCH_LOG
    if not path.exists():
        raise FileNotFoundError(f"{path}: search log missing; it lists every search run")
    log = pd.read_csv(path, dtype=str, keep_default_na=False)
    missing = [c for c in SEARCH_LOG_COLUMNS if c not in log.columns]
    if missing:
        raise ValueError(f"{path}: missing column(s) {missing}")
    for row_number, value in enumerate(log["n_hits"], start=2):
        if not value.isdigit():
            raise ValueError(f"{path}, line {row_number}: n_hits {value!r} is not a whole number")
    log["n_hits"] = log["n_hits"].astype(int)
    return log[SEARCH_LOG_COLUMNS]


def load_records(question: str, *, progress: bool = False) -> pd.DataFrame:
    """Every record of every search run of a question, in log order, with ``search_id`` and
    ``source`` (the database) added; first-round records also carry ``query_id``."""
    folder = question_dir(question)
    log = read_search_log(question)
    tables = []
    iterator = log.itertuples(index=False)
    if progress:  # shown only for steps slower than half a second, and only on a terminal
        from tqdm import tqdm

        iterator = tqdm(iterator, total=len(log), desc="reading search files", unit="file", file=sys.stderr,
                        delay=0.5, disable=None)
    for run in iterator:
        table = read_export(folder / run.file, run.format or None, source_file=run.file)
        table.insert(0, "search_id", run.search_id)
        table.insert(1, "source", run.source)
        tables.append(table)
    records = pd.concat(tables, ignore_index=True)
    if "query_id" not in records.columns:
        records["query_id"] = ""
    records["query_id"] = records["query_id"].fillna("")
    repeated = records["record_id"][records["record_id"].duplicated()].unique().tolist()
    if repeated:
        raise ValueError(f"{folder / SEARCH_LOG}: record id(s) {repeated[:5]} occur in more than one search file")
    return records


# ---------------------------------------------------------------------------------------------
# Deduplication
# ---------------------------------------------------------------------------------------------
STOP_WORDS = frozenset("a an the of in on for to with by from at as or is are its their among".split())


@dataclass(frozen=True)
class DedupSettings:
    """Thresholds of the title links (rapidfuzz scores 0-100)."""
    fuzzy_title_score: float = 93.0   # ratio of the two normalised titles
    prefix_min_chars: int = 40        # a truncated title must keep at least this many characters
    min_title_chars: int = 20         # shorter titles ("Introduction") are never matched on title
    year_tolerance: int = 1           # online-first vs issue year
    identifier_title_score: float = 85.0  # a DOI/PMID/URL link needs titles at least this close
    max_block_size: int = 100         # larger blocks are compared within two-year windows


class _UnionFind:
    def __init__(self, n: int):
        self.parent = list(range(n))

    def find(self, i: int) -> int:
        root = i
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[i] != root:
            self.parent[i], i = root, self.parent[i]
        return root

    def union(self, i: int, j: int) -> bool:
        ri, rj = self.find(i), self.find(j)
        if ri == rj:
            return False
        if ri > rj:
            ri, rj = rj, ri
        self.parent[rj] = ri  # the earlier record stays the root
        return True


def _is_truncation(a: str, b: str, min_chars: int) -> bool:
    """True when the shorter normalised title is the start of the longer one, allowing the last
    word to be cut (a title truncated mid-word by a database or a page excerpt)."""
    short, long_ = sorted((a, b), key=len)
    if long_.startswith(short) and len(short) >= min_chars:
        return True
    head = short.rsplit(" ", 1)[0]
    return len(head) >= min_chars and long_.startswith(head + " ")


def _blocking_keys(title: str) -> tuple[str, str]:
    """Two keys so that a typo at one end of a title still leaves the other key intact: the first
    three and the last three content words (4 letters each). A truncated title keeps its head."""
    words = [w for w in title.split() if w not in STOP_WORDS] or title.split()
    head = " ".join(w[:4] for w in words[:3])
    tail = " ".join(w[:4] for w in words[-3:])
    return head, tail


def dedup(records: pd.DataFrame, settings: DedupSettings = DedupSettings(), *,
          manual_links: pd.DataFrame | None = None, progress: bool = False) -> pd.DataFrame:
    """Duplicate clusters of a record table (records in search order; none removed).

    Returns one row per record: ``record_id``, ``cluster_id`` (1, 2, ... in order of first
    occurrence), ``first_record_id`` (the cluster's earliest record), ``reason`` (how this record
    was linked: ``doi``, ``pmid``, ``url``, ``exact title``, ``title prefix``, ``fuzzy title``; empty
    for a cluster's first record), ``linked_to`` (the record it was linked to) and ``score``
    (rapidfuzz score of a title link, 100 for exact links; NaN for a first record).

    ``manual_links`` (``record_id, first_record_id``, e.g. the reviewers' ``dedup_map.csv``) are
    joined last with reason ``manual``: reviewers' merges that no automatic rule finds.

    Title links need compatible years (within ``year_tolerance``, or one missing) and compatible
    first-author surnames (equal, or one missing). Reviewer-written descriptions in square
    brackets are not titles and only link through DOI, PMID or URL.
    """
    from rapidfuzz import fuzz, process

    n = len(records)
    ids = records["record_id"].astype(str).tolist()
    doi = [normalize_doi(v) for v in records["doi"].tolist()]
    pmid = [normalize_pmid(v) for v in records["pmid"].tolist()]
    url = [normalize_url(v) for v in records["url"].tolist()] if "url" in records else [""] * n
    raw_titles = records["title"].astype(str).tolist()
    title = ["" if is_description(t) else normalize_title(t) for t in raw_titles]
    year = [int(y) if y else None for y in (parse_year(v) for v in records["year"].tolist())]
    author = [author_surname(v) for v in records["first_author"].tolist()]
    journal = [normalize_journal(v) for v in records["journal"].tolist()] if "journal" in records else [""] * n

    union = _UnionFind(n)
    link: dict[int, tuple[str, int, float]] = {}

    def add(i: int, j: int, reason: str, score: float) -> None:
        if i > j:
            i, j = j, i
        if union.union(i, j) or j not in link:
            link.setdefault(j, (reason, i, score))

    def compatible(i: int, j: int) -> bool:
        if year[i] is not None and year[j] is not None and abs(year[i] - year[j]) > settings.year_tolerance:
            return False
        if author[i] and author[j] and author[i] != author[j]:
            return False
        return journals_compatible(journal[i], journal[j])

    # 1. identifiers. A news item, commentary or review table that cites an article can carry the
    # article's DOI; such a link is refused when both records show titles that disagree.
    def titles_agree(i: int, j: int) -> bool:
        if not title[i] or not title[j]:
            return True
        short, long_ = sorted((title[i], title[j]), key=len)
        return long_.startswith(short) or fuzz.ratio(title[i], title[j]) >= settings.identifier_title_score

    for reason, keys in (("doi", doi), ("pmid", pmid), ("url", url)):
        members_of: dict[str, list[int]] = {}
        for j, key in enumerate(keys):
            if not key:
                continue
            members = members_of.setdefault(key, [])
            partner = next((i for i in members if titles_agree(i, j)), None)
            if partner is not None:
                add(partner, j, reason, 100.0)
            members.append(j)

    # 2. exact normalised title (with year and author checks against the group's members)
    usable = [i for i in range(n) if len(title[i]) >= settings.min_title_chars]
    by_title: dict[str, list[int]] = {}
    for i in usable:
        by_title.setdefault(title[i], []).append(i)
    for members in by_title.values():
        for position, j in enumerate(members[1:], start=1):
            partner = next((i for i in members[:position] if compatible(i, j)), None)
            if partner is not None:
                add(partner, j, "exact title", 100.0)

    # 3. fuzzy and truncated titles inside blocks; one representative per exact title
    representatives = [members[0] for members in by_title.values()]
    blocks: dict[tuple[int, str], list[int]] = {}
    for i in representatives:
        for side, key in enumerate(_blocking_keys(title[i])):
            blocks.setdefault((side, key), []).append(i)
    groups = [members for members in blocks.values() if len(members) > 1]
    if progress:
        from tqdm import tqdm

        groups = tqdm(groups, desc="comparing titles in blocks", unit="block", file=sys.stderr,
                      delay=0.5, disable=None)
    def compare(queries: list[int], choices: list[int]) -> None:
        """Fuzzy and truncated-title links between two lists of records (may be the same list)."""
        query_texts = [title[i] for i in queries]
        choice_texts = [title[i] for i in choices]
        # scores below the cutoff come back as 0, so only candidate pairs are visited in Python
        scores = process.cdist(query_texts, choice_texts, scorer=fuzz.ratio,
                               score_cutoff=settings.fuzzy_title_score)
        fuzzy_pairs = set()
        for a, b in zip(*(axis.tolist() for axis in np.nonzero(scores))):
            i, j = queries[a], choices[b]
            if i != j:
                fuzzy_pairs.add((min(i, j), max(i, j)))
                if compatible(i, j):
                    add(i, j, "fuzzy title", float(scores[a, b]))
        # truncated titles: the titles that start with a given one (or with it minus a cut last
        # word) form one contiguous run of the sorted titles
        for shorts, longs in ((queries, choices), (choices, queries)) if queries is not choices else ((queries, queries),):
            order = sorted(longs, key=title.__getitem__)
            ordered = [title[i] for i in order]
            for i in shorts:
                text = title[i]
                head = text.rsplit(" ", 1)[0] if " " in text else text
                stem = head if len(head) >= settings.prefix_min_chars else text
                if len(stem) < settings.prefix_min_chars:
                    continue
                low = bisect.bisect_left(ordered, stem)
                high = bisect.bisect_left(ordered, stem + "\uffff")
                for j in order[low:high]:
                    if len(title[j]) <= len(text) or (min(i, j), max(i, j)) in fuzzy_pairs:
                        continue
                    if _is_truncation(text, title[j], settings.prefix_min_chars) and compatible(i, j):
                        add(i, j, "title prefix", 100.0)

    for members in groups:
        if len(members) <= settings.max_block_size:
            compare(members, members)
            continue
        # a large block (a common title start or end) is split into overlapping two-year
        # windows: a title link needs years within 1, so every such pair shares a window;
        # records without a year are compared with the whole block
        by_year: dict[int, list[int]] = {}
        undated = []
        for i in members:
            (undated if year[i] is None else by_year.setdefault(year[i], [])).append(i)
        for y in sorted(by_year):
            window = by_year[y] + by_year.get(y + 1, [])
            if len(window) > 1:
                compare(window, window)
        if undated:
            compare(undated, members)
        # members of the same exact title follow their representative through union-find

    # 4. the reviewers' own links
    if manual_links is not None:
        index = {record_id: i for i, record_id in enumerate(ids)}
        for record_id, first_id in zip(manual_links["record_id"], manual_links["first_record_id"]):
            if record_id in index and first_id in index and record_id != first_id:
                add(index[first_id], index[record_id], "manual", 100.0)

    roots = [union.find(i) for i in range(n)]
    cluster_number: dict[int, int] = {}
    for root in roots:
        cluster_number.setdefault(root, len(cluster_number) + 1)
    rows = []
    for i in range(n):
        reason, partner, score = link.get(i, ("", None, float("nan")))
        if roots[i] == i:
            reason, partner, score = "", None, float("nan")
        rows.append((ids[i], cluster_number[roots[i]], ids[roots[i]], reason,
                     ids[partner] if partner is not None else "", score))
    return pd.DataFrame(rows, columns=CLUSTER_COLUMNS)


def pairwise_agreement(predicted: pd.DataFrame, truth: pd.DataFrame) -> dict[str, float | int]:
    """Pairwise precision and recall of a clustering against labelled clusters.

    A pair is two records placed in the same cluster. Precision = pairs in both clusterings /
    predicted pairs; recall = pairs in both / labelled pairs (the pairwise measures of record
    linkage, e.g. Christen 2012, Data Matching, section 7.3). Both tables need ``record_id`` and
    ``first_record_id``; only records present in both are counted.
    """
    merged = predicted[["record_id", "first_record_id"]].merge(
        truth[["record_id", "first_record_id"]], on="record_id", suffixes=("_pred", "_true"))
    if len(merged) == 0:
        raise ValueError("no record id in common between the clusters and the labels")

    def pairs(frame: pd.DataFrame, key: str) -> int:
        sizes = frame.groupby(key).size()
        return int((sizes * (sizes - 1) // 2).sum())

    predicted_pairs = pairs(merged, "first_record_id_pred")
    true_pairs = pairs(merged, "first_record_id_true")
    common = pairs(merged, ["first_record_id_pred", "first_record_id_true"])
    return {"records": int(len(merged)), "predicted_pairs": predicted_pairs, "true_pairs": true_pairs,
            "common_pairs": common,
            "precision": common / predicted_pairs if predicted_pairs else 1.0,
            "recall": common / true_pairs if true_pairs else 1.0}


def labelled_clusters(question: str) -> pd.DataFrame:
    """The hand-made dedup trail ``dedup_map.csv`` as ``record_id, first_record_id``."""
    path = question_dir(question) / "dedup_map.csv"
    table = pd.read_csv(path, dtype=str, keep_default_na=False)
    return table.rename(columns={"first_occurrence_record_id": "first_record_id"})[["record_id", "first_record_id"]]


# ---------------------------------------------------------------------------------------------
# Writing: atomic appends only
# ---------------------------------------------------------------------------------------------
def write_atomic(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` in one step (temp file in the same folder, then os.replace),
    so that a failure never leaves a half-written table."""
    path = Path(path)
    if path.exists() and not path.stat().st_mode & 0o200:
        raise PermissionError(f"{path} is read-only; it was not replaced")
    if path.exists():
        mode = path.stat().st_mode & 0o7777
    else:
        mask = os.umask(0)
        os.umask(mask)
        mode = 0o666 & ~mask
    handle, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as stream:
            stream.write(text)
        os.chmod(temp, mode)  # mkstemp makes 0600; keep the file's mode or the user's umask
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def appended_csv(existing: bytes | None, rows: list[dict], columns: list[str]) -> str:
    """The text of a CSV table with ``rows`` appended (a header first when it is new); the
    existing bytes are kept exactly."""
    text = existing.decode("utf-8") if existing else ""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    if not text:
        writer.writeheader()
    elif not text.endswith("\n"):
        buffer.write("\n")
    writer.writerows(rows)
    return text + buffer.getvalue()


def append_csv_rows(path: Path, rows: list[dict], columns: list[str]) -> None:
    """Append rows to a CSV table outside data/ atomically (the whole file is rewritten via a
    temp file). Tables under data/ are written through :mod:`analysis.storage` instead."""
    existing = Path(path).read_bytes() if Path(path).exists() else None
    write_atomic(path, appended_csv(existing, rows, columns))


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", fold_diacritics(text).lower()).strip("-")[:40] or "search"


_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _title_aliases(fmt: str) -> list[str]:
    return [source for source, field in field_aliases().get(fmt, []) if field == "title"]


def import_search(path: Path | str, question: str, source: str, query: str, date_run: str,
                  fmt: str | None = None, note: str = "") -> dict:
    """Add one search export to ``data/<question>/searches/`` as a new search run.

    The file is validated first (ExportError with file and line), then copied under a dated
    name ``<date_run>_<search_id>_<source>.<ext>`` and one row is appended to the search log,
    in one transaction of :mod:`analysis.storage`: under the data folder's write lock (so two
    imports never take the same search id), checked with the rules of ``check`` (record ids
    that clash with those already held are refused), both files or neither. Returns the new log
    row (dict, ``n_hits`` int).
    """
    from analysis import storage, validate

    path = Path(path)
    try:
        if not _ISO_DATE.fullmatch(date_run):
            raise ValueError
        date.fromisoformat(date_run)
    except ValueError:
        raise ValueError(f"--date {date_run!r} is not a date in the form YYYY-MM-DD") from None
    for name, value in (("--source", source), ("--query", query)):
        if not value.strip():
            raise ValueError(f"{name} is empty: PRISMA-S asks for the database and the full query")
    folder = question_dir(question)
    fmt = fmt or detect_format(path)
    aliases = _title_aliases(fmt)
    if fmt in ("scopus_csv", "wos_csv", "wos_tab") and path.is_file():
        header, _ = _csv_header(path)
        if not set(aliases) & set(header):
            raise ExportError(path, 1, f"no title column: expected one of "
                              f"{', '.join(repr(a) for a in aliases)} (the aliases of "
                              f"analysis/field_aliases.csv for {fmt}); found {header}")
    table = read_export(path, fmt)
    if aliases and len(table) and not table["title"].astype(str).str.strip().any():
        raise ExportError(path, 1, f"no record has a title: expected a title column; tried "
                          f"{', '.join(repr(a) for a in aliases)} (analysis/field_aliases.csv)")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    with storage.transaction(data_dir(), f"import of {path.name} into {folder.name}") as tx:
        log = read_search_log(question)
        for run in log.itertuples(index=False):
            earlier = folder / run.file
            if earlier.is_file() and hashlib.sha256(earlier.read_bytes()).hexdigest() == digest:
                raise ValueError(f"{path}: this file was already imported as search {run.search_id} "
                                 f"({run.file}); there is nothing to do")
        numbers = [int(s[1:]) for s in log["search_id"] if re.fullmatch(r"S\d+", s)]
        search_id = f"S{max(numbers, default=0) + 1:03d}"
        relative = (SEARCH_LOG.parent / f"{date_run}_{search_id}_{_slug(source)}{path.suffix.lower()}").as_posix()
        if (folder / relative).exists():
            raise ValueError(f"{folder / relative} already exists but is not in the search log "
                             f"{folder / SEARCH_LOG}: it is not part of the review; move it away "
                             f"and import again")
        row = {"search_id": search_id, "file": relative, "source": source.strip(),
               "query": query.strip(), "date_run": date_run, "n_hits": len(table), "format": fmt,
               "note": note.strip()}
        log_file = f"{folder.name}/{SEARCH_LOG.as_posix()}"
        tx.stage_copy(f"{folder.name}/{relative}", path)
        tx.stage_text(log_file, appended_csv(tx.current_bytes(log_file), [row], SEARCH_LOG_COLUMNS))
        tx.validate(validate.blocking_problems)
        tx.commit()
    return row


def dedup_question(question: str, *, progress: bool = False) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``(records, clusters)`` of every search run of a question."""
    records = load_records(question, progress=progress)
    return records, dedup(records, progress=progress)


def cluster_summary(clusters: pd.DataFrame) -> dict[str, int]:
    """Records, unique records (clusters), duplicates and the number of links of each reason."""
    summary = {"records": int(len(clusters)), "unique_records": int(clusters["cluster_id"].nunique())}
    summary["duplicates"] = summary["records"] - summary["unique_records"]
    for reason, count in clusters.loc[clusters["reason"] != "", "reason"].value_counts().items():
        summary[f"linked by {reason}"] = int(count)
    return summary
