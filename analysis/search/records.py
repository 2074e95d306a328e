"""The review's search runs: the PRISMA-S search log, every record of a question, and the
``import`` and ``dedup`` commands.

Search runs are documented as PRISMA-S asks (Rethlefsen et al. 2021, Syst Rev 10:39, items 1-13:
each database, the full query, the date run, the number of records) in the search log
``data/<question>/searches/searches.csv``; a new run is a new file there plus one appended log row.
Reading exports and deduplication live in :mod:`analysis.search`.
"""
from __future__ import annotations

import csv
import hashlib
import io
import os
import re
import sys
import tempfile
from datetime import date
from pathlib import Path
from typing import Callable

import pandas as pd

from analysis import questions
from analysis.io.paths import data_dir
from .dedup import dedup
from .exports import read_export, read_export_report
from .readers.base import ExportError
from .detect import detect_format
from .fields import columns_for
from .normalize import fold_diacritics
from analysis.io.validate import read_csv_text

SEARCH_LOG_COLUMNS = ["search_id", "file", "source", "query", "date_run", "n_hits", "format", "note"]
SEARCH_LOG = Path("searches") / "searches.csv"


# ---------------------------------------------------------------------------------------------
# The search log and all records of a question
# ---------------------------------------------------------------------------------------------
def question_dir(question: str) -> Path:
    """The data folder of a question of the registry ("q1" or "q1_webhelp")."""
    try:
        entry = questions.question(question)
    except questions.UnknownQuestion as error:
        raise ValueError(str(error)) from None
    folder = data_dir() / entry.folder
    if not folder.is_dir():
        raise ValueError(f"question {entry.id}: no data folder {folder}")
    return folder


def read_search_log(question: str) -> pd.DataFrame:
    """The PRISMA-S search log of a question (columns SEARCH_LOG_COLUMNS, n_hits int)."""
    path = question_dir(question) / SEARCH_LOG
    if not path.exists():
        raise FileNotFoundError(f"{path}: search log missing; it lists every search run")
    log = read_csv_text(path)
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
    table = read_csv_text(path)
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
    temp file). Tables under data/ are written through :mod:`analysis.io.storage` instead."""
    existing = Path(path).read_bytes() if Path(path).exists() else None
    write_atomic(path, appended_csv(existing, rows, columns))


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", fold_diacritics(text).lower()).strip("-")[:40] or "search"


_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _title_aliases(fmt: str) -> list[str]:
    return columns_for(fmt, "title")


def import_search(path: Path | str, question: str, source: str, query: str, date_run: str,
                  fmt: str | None = None, note: str = "", *,
                  check: Callable[[Path], list]) -> dict:
    """Add one search export to ``data/<question>/searches/`` as a new search run.

    The file is validated first (ExportError with file and line), then copied under a dated
    name ``<date_run>_<search_id>_<source>.<ext>`` and one row is appended to the search log,
    in one transaction of :mod:`analysis.io.storage`: under the data folder's write lock (so two
    imports never take the same search id), checked with the rules of ``check`` (record ids
    that clash with those already held are refused), both files or neither. Entries that
    cannot be used are left out, each with its line and reason in the log row's note. Returns
    the new log row (dict, ``n_hits`` int) and, under ``skipped`` and ``remarks``, the entries
    left out and those read despite a flaw.

    ``check(root)`` lists the problems that block a write (the command line passes ``check``'s
    rules, :func:`analysis.commands.checks.blocking_problems`, which sit above this stage).
    """
    from analysis.io import storage

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
    read = read_export_report(path, fmt)
    table = read.table
    aliases = _title_aliases(fmt)
    if aliases and len(table) and not table["title"].astype(str).str.strip().any():
        raise ExportError(path, 1, f"no record has a title: expected a title column; tried "
                          f"{', '.join(repr(a) for a in aliases)} (analysis/search/field_aliases.csv)")
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
               "note": "; ".join(part for part in (note.strip(), read.note()) if part)}
        log_file = f"{folder.name}/{SEARCH_LOG.as_posix()}"
        tx.stage_copy(f"{folder.name}/{relative}", path)
        tx.stage_text(log_file, appended_csv(tx.current_bytes(log_file), [row], SEARCH_LOG_COLUMNS))
        tx.validate(check)
        tx.commit()
    return {**row, "skipped": read.skipped, "remarks": read.remarks}


def dedup_question(question: str, *, progress: bool = False) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``(records, clusters)`` of every search run of a question."""
    records = load_records(question, progress=progress)
    return records, dedup(records, progress=progress)
