"""The review's search runs: the PRISMA-S search log, every record of a question, and the
``import`` and ``dedup`` commands.

Search runs are documented as PRISMA-S asks (Rethlefsen et al. 2021, Syst Rev 10:39, items 1-13:
each database, the full query, the date run, the number of records) in the search log
``data/<question>/searches/searches.csv``; a new run is a new file there plus one appended log row.
Reading exports and deduplication live in :mod:`analysis.search`.
"""
from __future__ import annotations

import argparse
import csv
import hashlib
import io
import os
import re
import shutil
import sys
import tempfile
from datetime import date
from pathlib import Path

import pandas as pd

from analysis.paths import data_dir
from analysis.search.dedup import cluster_summary, dedup, new_records_summary, pairwise_agreement
from analysis.search.exports import read_export, read_export_report
from analysis.search.readers.base import ExportError
from analysis.search.detect import detect_format
from analysis.search.fields import FORMATS
from analysis.search.normalize import fold_diacritics

SEARCH_LOG_COLUMNS = ["search_id", "file", "source", "query", "date_run", "n_hits", "format", "note"]
SEARCH_LOG = Path("searches") / "searches.csv"


# ---------------------------------------------------------------------------------------------
# The search log and all records of a question
# ---------------------------------------------------------------------------------------------
def question_dir(question: str) -> Path:
    folder = data_dir() / question
    if not folder.is_dir():
        known = sorted(p.name for p in data_dir().iterdir() if (p / "records.csv").exists())
        raise ValueError(f"unknown question {question!r}: no folder {folder}; known: {known}")
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
    handle, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as stream:
            stream.write(text)
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def append_csv_rows(path: Path, rows: list[dict], columns: list[str]) -> None:
    """Append rows to a CSV table atomically (the whole file is rewritten via a temp file)."""
    existing = Path(path).read_text(encoding="utf-8") if Path(path).exists() else ""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    if not existing:
        writer.writeheader()
    elif not existing.endswith("\n"):
        buffer.write("\n")
    writer.writerows(rows)
    write_atomic(path, existing + buffer.getvalue())


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", fold_diacritics(text).lower()).strip("-")[:40] or "search"


def import_search(path: Path | str, question: str, source: str, query: str, date_run: str,
                  fmt: str | None = None, note: str = "") -> dict:
    """Add one search export to ``data/<question>/searches/`` as a new search run.

    The file is validated first (ExportError with file and line), copied under a dated name
    ``<date_run>_<search_id>_<source>.<ext>`` and one row is appended to the search log. Nothing
    is written if any step fails. Entries that cannot be used are left out, each with its line
    and reason in the log row's note. Returns the new log row (dict, ``n_hits`` int) and, under
    ``skipped`` and ``remarks``, the entries left out and those read despite a flaw.
    """
    path = Path(path)
    try:
        date.fromisoformat(date_run)
    except ValueError:
        raise ValueError(f"--date {date_run!r} is not a date in the form YYYY-MM-DD") from None
    for name, value in (("--source", source), ("--query", query)):
        if not value.strip():
            raise ValueError(f"{name} is empty: PRISMA-S asks for the database and the full query")
    folder = question_dir(question)
    log = read_search_log(question)
    fmt = fmt or detect_format(path)
    read = read_export_report(path, fmt)
    table = read.table
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    for run in log.itertuples(index=False):
        earlier = folder / run.file
        if earlier.is_file() and hashlib.sha256(earlier.read_bytes()).hexdigest() == digest:
            raise ValueError(f"{path}: this file was already imported as search {run.search_id} ({run.file})")
    numbers = [int(s[1:]) for s in log["search_id"] if re.fullmatch(r"S\d+", s)]
    search_id = f"S{max(numbers, default=0) + 1:03d}"
    relative = (SEARCH_LOG.parent / f"{date_run}_{search_id}_{_slug(source)}{path.suffix.lower()}").as_posix()
    destination = folder / relative
    if destination.exists():
        raise ValueError(f"{destination} already exists; nothing imported")
    row = {"search_id": search_id, "file": relative, "source": source.strip(), "query": query.strip(),
           "date_run": date_run, "n_hits": len(table), "format": fmt,
           "note": "; ".join(part for part in (note.strip(), read.note()) if part)}
    handle, temp = tempfile.mkstemp(dir=destination.parent, prefix=".import.", suffix=".tmp")
    os.close(handle)
    try:
        shutil.copyfile(path, temp)
        os.replace(temp, destination)
        try:
            append_csv_rows(folder / SEARCH_LOG, [row], SEARCH_LOG_COLUMNS)
        except BaseException:
            destination.unlink(missing_ok=True)
            raise
    finally:
        Path(temp).unlink(missing_ok=True)
    return {**row, "skipped": read.skipped, "remarks": read.remarks}


def dedup_question(question: str, *, progress: bool = False) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``(records, clusters)`` of every search run of a question."""
    records = load_records(question, progress=progress)
    return records, dedup(records, progress=progress)


# ---------------------------------------------------------------------------------------------
# Command line: python -m analysis import | dedup
# ---------------------------------------------------------------------------------------------
def add_import_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", help="the export: .ris, .nbib, .bib, Scopus/Web of Science .csv, WoS .txt")
    parser.add_argument("--question", required=True, help="folder under data/, e.g. q1_webhelp")
    parser.add_argument("--source", required=True, help="database or platform searched, e.g. 'MEDLINE (PubMed)'")
    parser.add_argument("--query", required=True, help="the full search string as run")
    parser.add_argument("--date", required=True, help="date the search was run, YYYY-MM-DD")
    parser.add_argument("--format", choices=FORMATS[1:], help="override the format detected from the file")
    parser.add_argument("--note", default="", help="limits, filters or anything else PRISMA-S asks to report")


def run_import(args: argparse.Namespace) -> int:
    try:
        row = import_search(args.file, args.question, args.source, args.query, args.date,
                            fmt=args.format, note=args.note)
        records, clusters = dedup_question(args.question, progress=True)
    except (ExportError, ValueError, FileNotFoundError, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    new = new_records_summary(clusters, records["search_id"].to_numpy() == row["search_id"])
    print(f"{row['search_id']}: {row['n_hits']} records ({row['format']}) from {row['source']}, "
          f"run {row['date_run']}, stored as data/{args.question}/{row['file']}; search log appended.")
    for skipped in row["skipped"]:
        print(f"skipped {skipped}")
    for remark in row["remarks"]:
        print(f"read with a remark: {remark}")
    print(f"{new['new_unique']} of them are new unique records; {new['within_file']} repeat another record of "
          f"the same file; {new['already_held']} link to records already held.")
    return 0


def add_dedup_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--question", required=True, help="folder under data/, e.g. q1_webhelp")
    parser.add_argument("--out", help="write the cluster table (one row per record) to this CSV file")


def run_dedup(args: argparse.Namespace) -> int:
    try:
        _, clusters = dedup_question(args.question, progress=True)
        labelled = question_dir(args.question) / "dedup_map.csv"
        agreement = pairwise_agreement(clusters, labelled_clusters(args.question)) if labelled.exists() else None
        if args.out:
            write_atomic(Path(args.out), clusters.to_csv(index=False, lineterminator="\n"))
    except (ExportError, ValueError, FileNotFoundError, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    for key, value in cluster_summary(clusters).items():
        print(f"{key}: {value}")
    if agreement:
        print(f"against dedup_map.csv ({agreement['records']} labelled records): pairwise precision "
              f"{agreement['precision']:.4f}, recall {agreement['recall']:.4f}")
    if args.out:
        print(f"clusters written to {args.out}")
    return 0
