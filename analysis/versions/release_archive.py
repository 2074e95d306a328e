"""The release archive in ``data/releases/``: how its rows are written, read back and checked.

Two append-only tables:

``releases.csv``
    one row per release: version, date, kind (major | minor | patch), summary, a fingerprint
    of every data table, the numbers of search runs, records and included records, the
    SHA-256 of the release's rows in ``results.csv`` and the SHA-256 of every byte of
    ``releases.csv`` before the row (so any later edit of an earlier row is detected).
``results.csv``
    the release's version followed by every column of the review's results table (``Review.results``).

Earlier rows are never rewritten: before appending, the files are checked against the hashes
they carry and against ``SHA256SUMS`` (the hashes of both files after the last release, which
protect its own rows).
"""
from __future__ import annotations

import csv
import hashlib
import io
import math
from pathlib import Path
from typing import Any

import pandas as pd

from analysis.io.paths import data_dir
from analysis.io.validate import read_csv_text
from analysis.pooling import synthesis

__all__ = ["HEAD_FILE", "RELEASE_COLUMNS", "ReleaseError", "appended_archive", "csv_lines",
           "head_sums", "read_releases", "read_results", "releases_dir", "verify_archive"]


RELEASE_COLUMNS: tuple[str, ...] = (
    "version", "date", "kind", "summary", "data_fingerprint", "n_search_runs", "n_records",
    "n_included", "results_sha256", "log_sha256",
)


class ReleaseError(Exception):
    """A release cannot be made or the archive is not as it was written; the message says why."""


def releases_dir() -> Path:
    """``data/releases`` (under REVIEW_DATA_DIR when that is set)."""
    return data_dir() / "releases"


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _cell(value: Any) -> str:
    """How one value is written: repr() for floats (exact round trip), '' for missing."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, float):
        return "" if not math.isfinite(value) else repr(value)
    if isinstance(value, int):
        return str(value)
    try:
        if pd.isna(value):
            return ""
    except (TypeError, ValueError):
        pass
    return str(value)


def csv_lines(rows: list[list[Any]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    for row in rows:
        writer.writerow([_cell(value) for value in row])
    return buffer.getvalue().encode("utf-8")


def _split_lines(data: bytes) -> list[bytes]:
    """Physical lines, each with its newline (values never contain newlines: the release command
    refuses a summary with a line break)."""
    return data.splitlines(keepends=True)


def read_releases() -> pd.DataFrame:
    """The release log as strings (empty frame with the log's columns before the first release)."""
    path = releases_dir() / "releases.csv"
    if not path.exists():
        return pd.DataFrame(columns=list(RELEASE_COLUMNS), dtype=object)
    return read_csv_text(path).astype(object)


def _parse(value: str, column: str) -> Any:
    if value == "":
        return None
    if column in ("k", "k_studies", "n"):
        return int(float(value))
    if column == "pooled":
        return value == "True"
    if column in ("estimate", "ci_low", "ci_high", "pi_low", "pi_high", "estimate_model_scale",
                  "se_model_scale", "tau2", "i2", "q", "q_df", "q_pval", "pval"):
        return float(value)
    return value


def read_results(version: str | None = None) -> pd.DataFrame:
    """The results archive (every release, or one), numbers as plain Python values."""
    path = releases_dir() / "results.csv"
    if not path.exists():
        return pd.DataFrame(columns=["version", *synthesis.RESULT_COLUMNS], dtype=object)
    table = read_csv_text(path)
    if version is not None:
        table = table[table["version"] == version]
    records = [{column: _parse(value, column) for column, value in record.items()}
               for record in table.to_dict("records")]
    return synthesis.object_frame(records, list(table.columns))


HEAD_FILE = "SHA256SUMS"


def head_sums(log: bytes, results: bytes) -> bytes:
    """The head file: the SHA-256 of both archive files as they stand after the last release,
    in the format of ``sha256sum`` (so ``sha256sum -c SHA256SUMS`` checks them too). The hash
    chain in releases.csv protects every row that has a successor; this protects the last."""
    return (f"{_sha256(log)}  releases.csv\n{_sha256(results)}  results.csv\n").encode("ascii")


def _head_problems(folder: Path, log: bytes, results: bytes) -> list[str]:
    head = folder / HEAD_FILE
    if not head.exists():
        return [f"{head}: missing; it holds the hashes that protect the last release's rows "
                f"(restore it with `git checkout -- {head.parent.name}/{HEAD_FILE}`)"]
    if head.read_bytes() == head_sums(log, results):
        return []
    recorded = dict(reversed(line.split("  ", 1)) for line in
                    head.read_text(encoding="ascii", errors="replace").splitlines() if "  " in line)
    problems = []
    for name, data in (("releases.csv", log), ("results.csv", results)):
        if recorded.get(name) != _sha256(data):
            problems.append(f"{folder / name}: changed after the last release was written "
                            f"(its SHA-256 differs from {HEAD_FILE})")
    return problems or [f"{head}: not in the form written by the last release"]


def verify_archive(folder: Path | None = None) -> list[str]:
    """Problems with the archive: any row that is no longer byte-identical to what was
    written (the last one too, through SHA256SUMS), rows of unknown releases, or a broken
    header. An empty list means intact."""
    folder = folder or releases_dir()
    log_path, results_path = folder / "releases.csv", folder / "results.csv"
    problems: list[str] = []
    if not log_path.exists():
        if results_path.exists() and results_path.read_bytes().strip():
            problems.append(f"{results_path}: results exist but there is no releases.csv")
        return problems
    log_lines = _split_lines(log_path.read_bytes())
    if not log_lines or log_lines[0] != csv_lines([list(RELEASE_COLUMNS)]):
        return [f"{log_path}: line 1: the header is not {','.join(RELEASE_COLUMNS)}"]
    result_lines = _split_lines(results_path.read_bytes()) if results_path.exists() else []
    result_header = next(csv.reader([result_lines[0].decode("utf-8")])) if result_lines else []
    if result_lines and result_header[:1] != ["version"]:
        problems.append(f"{results_path}: line 1: the header must start with 'version'")
        return problems
    by_version: dict[str, list[bytes]] = {}
    order: list[str] = []
    for number, line in enumerate(result_lines[1:], start=2):
        version = next(csv.reader([line.decode("utf-8")]))[0]
        if order and version != order[-1] and version in by_version:
            problems.append(f"{results_path}: line {number}: rows of release {version} "
                            f"are not contiguous")
        if version not in by_version:
            order.append(version)
        by_version.setdefault(version, []).append(line)
    seen: list[str] = []
    for number, line in enumerate(log_lines[1:], start=2):
        fields = next(csv.reader([line.decode("utf-8")]))
        if len(fields) != len(RELEASE_COLUMNS):
            problems.append(f"{log_path}: line {number}: {len(fields)} fields, expected "
                            f"{len(RELEASE_COLUMNS)}")
            continue
        row = dict(zip(RELEASE_COLUMNS, fields))
        expected_log = _sha256(b"".join(log_lines[:number - 1]))
        if row["log_sha256"] != expected_log:
            problems.append(f"{log_path}: line {number} (release {row['version']}): an earlier "
                            f"line of the release log was changed after it was written")
        expected_results = _sha256(b"".join(by_version.get(row["version"], [])))
        if row["results_sha256"] != expected_results:
            problems.append(f"{results_path}: the rows of release {row['version']} are not "
                            f"byte-identical to what that release wrote")
        seen.append(row["version"])
    for version in order:
        if version not in seen:
            problems.append(f"{results_path}: rows for release {version}, which {log_path.name} "
                            f"does not list (an interrupted release?)")
    if len(log_lines) > 1:
        problems += _head_problems(folder, b"".join(log_lines), b"".join(result_lines))
    return problems


def appended_archive(folder: Path, row: dict[str, Any], results: pd.DataFrame) -> dict[str, bytes]:
    """The release log and results archive with one release appended, and the head file (path
    under data/ -> complete new content). ``row`` holds the release's columns of the log but
    the two hashes, which are computed here. Raises ReleaseError when the archive is not as it
    was written, already lists the version or lacks a result column."""
    problems = verify_archive(folder)
    if problems:
        raise ReleaseError("the release archive is not as it was written:\n  "
                           + "\n  ".join(problems))
    version = row["version"]
    log_path, results_path = folder / "releases.csv", folder / "results.csv"
    if log_path.exists() and (read_releases()["version"] == version).any():
        raise ReleaseError(f"release {version} is already in {log_path}")
    columns = ["version", *synthesis.RESULT_COLUMNS]
    old_results = results_path.read_bytes() if results_path.exists() else csv_lines([columns])
    header = next(csv.reader([_split_lines(old_results)[0].decode("utf-8")]))
    missing = [c for c in synthesis.RESULT_COLUMNS if c not in header]
    if missing:
        raise ReleaseError(f"{results_path}: the archive has no column(s) {', '.join(missing)}; "
                           f"start a new archive file rather than rewriting this one")
    records = results.to_dict("records")
    new_rows = csv_lines([[version if c == "version" else record.get(c) for c in header]
                          for record in records])
    old_log = log_path.read_bytes() if log_path.exists() else csv_lines([list(RELEASE_COLUMNS)])
    hashes = {"results_sha256": _sha256(new_rows), "log_sha256": _sha256(old_log)}
    log_row = csv_lines([[{**row, **hashes}[column] for column in RELEASE_COLUMNS]])
    prefix = folder.name
    return {f"{prefix}/results.csv": old_results + new_rows,
            f"{prefix}/releases.csv": old_log + log_row,
            f"{prefix}/{HEAD_FILE}": head_sums(old_log + log_row, old_results + new_rows)}
