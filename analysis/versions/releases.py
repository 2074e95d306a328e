"""Versioned releases of the review: the release log, the results archive and what changed.

Two append-only tables live in ``data/releases/``:

``releases.csv``
    one row per release: version, date, kind (major | minor | patch), summary, a fingerprint
    of every data table, the numbers of search runs, records and included records, the
    SHA-256 of the release's rows in ``results.csv`` and the SHA-256 of every byte of
    ``releases.csv`` before the row (so any later edit of an earlier row is detected).
``results.csv``
    the release's version followed by every column of ``synthesis.results_table()``.

Version numbers follow semantic versioning (https://semver.org) read for a review: *major* when
a new search run was added since the last release, *minor* when data changed a pooled number,
*patch* when no pooled number changed. Earlier rows are never rewritten: before appending, the
files are checked against the hashes they carry and against ``SHA256SUMS`` (the hashes of both
files after the last release, which protect its own rows), and every file of a release is
written in one transaction of :mod:`analysis.io.storage` (all files or none).
"""
from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from analysis import review
from analysis.pooling import synthesis
from analysis.search.records import write_atomic
from analysis.io.paths import data_dir
from analysis.io.validate import read_csv_text

__all__ = [
    "RELEASE_COLUMNS",
    "ReleaseError",
    "ReleasePlan",
    "current_release",
    "data_fingerprint",
    "estimate_history",
    "next_version",
    "plan_release",
    "read_releases",
    "read_results",
    "releases_dir",
    "verify_archive",
    "release_log",
    "release_status",
    "what_changed",
    "what_changed_wide",
    "write_release",
    "release_files",
    "validation_problems",
    "HEAD_FILE",
]

RELEASE_COLUMNS: tuple[str, ...] = (
    "version", "date", "kind", "summary", "data_fingerprint", "n_search_runs", "n_records",
    "n_included", "results_sha256", "log_sha256",
)
KINDS = ("major", "minor", "patch")
FIRST_VERSION = "1.0.0"
# Numbers compared to decide whether "a pooled number changed".
COMPARED_COLUMNS = ("pooled", "k", "n", "estimate", "ci_low", "ci_high", "pi_low", "pi_high",
                    "tau2", "i2", "q", "pval")
ROW_KEY = ("question", "outcome", "scenario", "model_name")
# Relative tolerance for "the same number": archived values are printed with repr() and read
# back exactly, so only floating-point noise between machines is forgiven.
RELATIVE_TOLERANCE = 1e-9
_VERSION = re.compile(r"^(\d+)\.(\d+)\.(\d+)$")


class ReleaseError(Exception):
    """A release cannot be made or the archive is not as it was written; the message says why."""


# --------------------------------------------------------------------------- files and hashes

def releases_dir() -> Path:
    """``data/releases`` (under REVIEW_DATA_DIR when that is set)."""
    return data_dir() / "releases"


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _data_files(root: Path) -> list[Path]:
    """Every data file under data/: not the release archive itself, hidden files or the
    Markdown documentation."""
    files = []
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root)
        if not path.is_file() or relative.parts[0] == "releases":
            continue
        if any(part.startswith(".") or part == "__pycache__" for part in relative.parts):
            continue
        if path.suffix.lower() == ".md":
            continue  # the codebook and provenance notes describe the data; they are not data
        files.append(path)
    return files


def data_fingerprint(root: Path | None = None) -> str:
    """SHA-256 over every data file (path and bytes), ignoring ``data/releases/``."""
    root = root or data_dir()
    digest = hashlib.sha256()
    for path in _data_files(root):
        digest.update(path.relative_to(root).as_posix().encode("utf-8") + b"\0")
        digest.update(_sha256(path.read_bytes()).encode("ascii"))
    return digest.hexdigest()


# --------------------------------------------------------------------------- CSV encoding

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


def _lines(rows: list[list[Any]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    for row in rows:
        writer.writerow([_cell(value) for value in row])
    return buffer.getvalue().encode("utf-8")


def _split_lines(data: bytes) -> list[bytes]:
    """Physical lines, each with its newline (values never contain newlines: see _check_text)."""
    return data.splitlines(keepends=True)


# --------------------------------------------------------------------------- reading, checking

def read_releases() -> pd.DataFrame:
    """The release log as strings (empty frame with the log's columns before the first release)."""
    path = releases_dir() / "releases.csv"
    if not path.exists():
        return pd.DataFrame(columns=list(RELEASE_COLUMNS), dtype=object)
    return read_csv_text(path).astype(object)


def release_log() -> pd.DataFrame:
    """The release log for readers: version, date, kind, summary, data (first 12 hex digits of
    the fingerprint), search runs, records, included (integers); no integrity hashes."""
    log = read_releases()
    records = [{"version": row["version"], "date": row["date"], "kind": row["kind"],
                "summary": row["summary"], "data": row["data_fingerprint"][:12],
                "search runs": int(row["n_search_runs"]), "records": int(row["n_records"]),
                "included": int(row["n_included"])} for row in log.to_dict("records")]
    return synthesis.object_frame(records, ["version", "date", "kind", "summary", "data",
                                            "search runs", "records", "included"])


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
    if not log_lines or log_lines[0] != _lines([list(RELEASE_COLUMNS)]):
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


# --------------------------------------------------------------------------- versions

def next_version(previous: str | None, kind: str) -> str:
    """The version after ``previous`` for a release of ``kind`` (1.0.0 for the first)."""
    if kind not in KINDS:
        raise ReleaseError(f"kind must be one of {', '.join(KINDS)}, not {kind!r}")
    if previous is None:
        return FIRST_VERSION
    match = _VERSION.match(previous)
    if not match:
        raise ReleaseError(f"the last release's version {previous!r} is not MAJOR.MINOR.PATCH")
    major, minor, patch = (int(part) for part in match.groups())
    if kind == "major":
        return f"{major + 1}.0.0"
    if kind == "minor":
        return f"{major}.{minor + 1}.0"
    return f"{major}.{minor}.{patch + 1}"


def _same_number(a: Any, b: Any) -> bool:
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, bool) or isinstance(b, bool):
        return bool(a) == bool(b)
    a, b = float(a), float(b)
    return math.isclose(a, b, rel_tol=RELATIVE_TOLERANCE, abs_tol=1e-12)


def changed_numbers(new: pd.DataFrame, old: pd.DataFrame) -> list[str]:
    """Which pooled numbers differ between two results tables (one line per difference)."""
    def keyed(table: pd.DataFrame) -> dict[tuple, dict]:
        return {tuple(record[c] for c in ROW_KEY): record for record in table.to_dict("records")}

    new_rows, old_rows = keyed(new), keyed(old)
    changes = []
    for key in sorted(set(new_rows) | set(old_rows), key=str):
        label = "/".join(str(part) for part in key)
        if key not in old_rows:
            changes.append(f"{label}: new analysis")
            continue
        if key not in new_rows:
            changes.append(f"{label}: no longer reported")
            continue
        for column in COMPARED_COLUMNS:
            before, after = old_rows[key].get(column), new_rows[key].get(column)
            if not _same_number(_value(after), _value(before)):
                changes.append(f"{label}: {column} {_shown(_value(before))} -> "
                               f"{_shown(_value(after))}")
    return changes


def ordered_changes(changes: list[str]) -> list[str]:
    """Changes with the main results first: primary scenario and model before sensitivity
    analyses, and within a row the estimate and its interval before the other numbers."""
    column_rank = {name: rank for rank, name in enumerate(
        ("estimate", "ci_low", "ci_high", "k", "n", "pi_low", "pi_high", "i2", "tau2", "q",
         "pval", "pooled"))}

    def rank(change: str) -> tuple:
        label, _, rest = change.partition(": ")
        parts = label.split("/")
        primary = len(parts) == 4 and parts[2] == "primary" and parts[3] == "primary"
        column = rest.split(" ", 1)[0]
        return (not primary, parts[:2], column_rank.get(column, len(column_rank)))

    return sorted(changes, key=rank)


def _shown(value: Any) -> str:
    """A number as the release command prints it (six significant digits)."""
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def _value(value: Any) -> Any:
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


# --------------------------------------------------------------------------- planning, writing

@dataclass
class ReleasePlan:
    """Everything a release writes, computed before anything is written."""

    version: str
    date: str
    kind: str
    inferred_kind: str
    reason: str
    summary: str
    fingerprint: str
    n_search_runs: int
    n_records: int
    n_included: int
    results: pd.DataFrame
    changes: list[str] = field(default_factory=list)
    previous: str | None = None
    # outcomes ("q1/depression_webhelp") whose reader-level conclusion changed
    conclusions_changed: list[str] = field(default_factory=list)
    # "next search due" / "search overdue" lines from the living-mode parameters
    flags: list[str] = field(default_factory=list)
    # further files the release writes under data/ (sidecar tables, the archive), path under
    # data/ -> complete content; write_release writes them in the same transaction as the log
    extra_files: dict[str, bytes] = field(default_factory=dict)
    # the citation metadata beside data/ (CITATION.cff, .zenodo.json): version and date of the
    # release, replaced one file at a time once the data transaction has committed
    metadata_files: dict[Path, bytes] = field(default_factory=dict)


def _check_text(summary: str) -> str:
    summary = (summary or "").strip()
    if not summary:
        raise ReleaseError("--summary must say what this release changed (it is empty)")
    if "\n" in summary or "\r" in summary:
        raise ReleaseError("--summary must be one line (it contains a line break)")
    return summary


def _check_date(date: str | None, previous_date: str | None) -> str:
    if date is None:
        return dt.datetime.now(dt.timezone.utc).date().isoformat()
    try:
        parsed = dt.date.fromisoformat(date)
    except ValueError:
        raise ReleaseError(f"--date {date!r} is not a date in the form YYYY-MM-DD") from None
    if parsed.isoformat() != date:
        raise ReleaseError(f"--date {date!r} is not a date in the form YYYY-MM-DD")
    if previous_date and date < previous_date:
        raise ReleaseError(f"--date {date} is earlier than the last release ({previous_date})")
    return date


def plan_release(summary: str, date: str | None = None, kind: str | None = None,
                 results: pd.DataFrame | None = None) -> ReleasePlan:
    """Work out the next release (version, kind and why, the numbers) without writing.

    Raises ReleaseError when the archive was altered or the input is not acceptable.
    """
    problems = verify_archive()
    if problems:
        raise ReleaseError("the release archive is not as it was written:\n  "
                           + "\n  ".join(problems))
    summary = _check_text(summary)
    log = read_releases()
    last = log.iloc[-1].to_dict() if len(log) else None
    date = _check_date(date, last["date"] if last else None)
    root = data_dir()
    fingerprint = data_fingerprint(root)
    totals = review.current(root).totals  # the counts the book and the PRISMA diagram show
    n_search_runs = totals["search_runs"]
    n_records, n_included = totals["records_identified"], totals["new_studies_included"]
    if results is None:
        results = synthesis.results_table(scenarios=True)
    from . import conclusions as reader_conclusions
    from . import living
    from . import release_files as sidecars

    current_conclusions = reader_conclusions.conclusions(results)
    if last is None:
        inferred, reason, changes = "major", "first release of the review", []
        conclusions_changed = reader_conclusions.conclusion_changes(current_conclusions, None)
    else:
        changes = changed_numbers(results, read_results(last["version"]))
        conclusions_changed = reader_conclusions.conclusion_changes(
            current_conclusions, reader_conclusions.stored_conclusions(last["version"]))
        new_runs = n_search_runs - int(last["n_search_runs"])
        inferred = reader_conclusions.release_kind(bool(conclusions_changed), new_runs,
                                                   bool(changes))
        reasons = []
        if new_runs > 0:
            reasons.append(f"{new_runs} new search run(s) since {last['version']}")
        if conclusions_changed:
            reasons.append(f"the conclusion changed for {', '.join(conclusions_changed)}")
        elif changes:
            reasons.append(f"{len(changes)} pooled number(s) changed since {last['version']}, "
                           f"no conclusion changed")
        else:
            reasons.append(f"no pooled number changed since {last['version']}" + (
                "" if fingerprint != last["data_fingerprint"] else " (data unchanged)"))
        reason = "; ".join(reasons)
    flags = living.search_flags(as_of=date)
    if flags:
        reason += "; " + "; ".join(flags)
    if kind is not None and kind not in KINDS:
        raise ReleaseError(f"--kind must be one of {', '.join(KINDS)}, not {kind!r}")
    chosen = kind or inferred
    version = next_version(last["version"] if last else None, chosen)
    if last is None:
        chosen = "major"
    if chosen != inferred:
        reason += f"; kind set to {chosen} by --kind (inferred: {inferred})"
    files = sidecars.release_files(version, date, results, current_conclusions,
                                   conclusions_changed, set(log["version"]))
    root = data_dir()
    extra = {path.relative_to(root).as_posix(): data for path, data in files.items()
             if path.is_relative_to(root)}
    metadata = {path: data for path, data in files.items() if not path.is_relative_to(root)}
    return ReleasePlan(version=version, date=date, kind=chosen, inferred_kind=inferred,
                       reason=reason, summary=summary, fingerprint=fingerprint,
                       n_search_runs=n_search_runs, n_records=n_records,
                       n_included=n_included, results=results, changes=changes,
                       previous=last["version"] if last else None,
                       conclusions_changed=conclusions_changed, flags=flags,
                       extra_files=extra, metadata_files=metadata)


def release_files(plan: ReleasePlan, folder: Path | None = None) -> dict[str, bytes]:
    """Every file the release writes (path under data/ -> complete new content): the release
    log and results archive with the new rows appended, the head file, and the plan's extra
    files. Raises ReleaseError when the archive is not as it was written."""
    folder = folder or releases_dir()
    problems = verify_archive(folder)
    if problems:
        raise ReleaseError("the release archive is not as it was written:\n  "
                           + "\n  ".join(problems))
    log_path, results_path = folder / "releases.csv", folder / "results.csv"
    if log_path.exists() and (read_releases()["version"] == plan.version).any():
        raise ReleaseError(f"release {plan.version} is already in {log_path}")
    columns = ["version", *synthesis.RESULT_COLUMNS]
    old_results = results_path.read_bytes() if results_path.exists() else _lines([columns])
    header = next(csv.reader([_split_lines(old_results)[0].decode("utf-8")]))
    missing = [c for c in synthesis.RESULT_COLUMNS if c not in header]
    if missing:
        raise ReleaseError(f"{results_path}: the archive has no column(s) {', '.join(missing)}; "
                           f"start a new archive file rather than rewriting this one")
    records = plan.results.to_dict("records")
    new_rows = _lines([[plan.version if c == "version" else record.get(c) for c in header]
                       for record in records])
    old_log = log_path.read_bytes() if log_path.exists() else _lines([list(RELEASE_COLUMNS)])
    log_row = _lines([[plan.version, plan.date, plan.kind, plan.summary, plan.fingerprint,
                       plan.n_search_runs, plan.n_records, plan.n_included,
                       _sha256(new_rows), _sha256(old_log)]])
    prefix = folder.name
    files = {f"{prefix}/results.csv": old_results + new_rows,
             f"{prefix}/releases.csv": old_log + log_row,
             f"{prefix}/{HEAD_FILE}": head_sums(old_log + log_row, old_results + new_rows)}
    for relative, data in plan.extra_files.items():
        if relative in files:
            raise ReleaseError(f"the plan writes {relative} twice")
        files[relative] = data
    return files


def write_release(plan: ReleasePlan) -> list[str]:
    """Write every file of the release (:func:`release_files`) in one transaction of
    :mod:`analysis.io.storage`: under the data folder's write lock, checked again with the rules
    of ``check``, all files or none. Returns the files written (paths under data/)."""
    from analysis import checks
    from analysis.io import storage

    root = data_dir()
    with storage.transaction(root, f"release {plan.version}") as tx:
        if data_fingerprint(root) != plan.fingerprint:
            raise ReleaseError("the data changed since the release was planned; plan it again")
        for relative, data in release_files(plan, root / "releases").items():
            tx.stage_bytes(relative, data)
        tx.validate(checks.check_all, allow_existing=False)  # a release needs valid data
        written = tx.commit()
    for path, data in plan.metadata_files.items():  # outside data/: after the data are committed
        write_atomic(path, data.decode("utf-8"))
        written.append(path.name)
    return written


def validation_problems() -> list:
    """Every problem `python -m analysis check` reports (a release needs none)."""
    from analysis import checks

    return checks.check_all()


# --------------------------------------------------------------------------- views for the book

def current_release() -> dict | None:
    """The latest release's log row (version, date, kind, summary, ...) or None."""
    log = read_releases()
    return None if log.empty else {k: v for k, v in log.iloc[-1].to_dict().items()}


_VIEW_COLUMNS = ["question", "outcome", "outcome_label", "role", "version", "date", "measure",
                 "pooled", "k", "n", "estimate", "ci_low", "ci_high", "i2", "model"]


def _primary_rows(results: pd.DataFrame) -> pd.DataFrame:
    return results[(results["scenario"] == "primary") & (results["model_name"] == "primary")]


def _published_view_rows() -> list[dict]:
    """The published reviews as "version 0": their pooled results as printed."""
    comparison = synthesis.published_comparison(results=pd.DataFrame(
        columns=list(synthesis.RESULT_COLUMNS)))
    rows = []
    for record in comparison.to_dict("records"):
        rows.append({
            "question": record["question"], "outcome": record["outcome"],
            "outcome_label": record["outcome_label"], "role": "published",
            "version": "0", "date": None,
            "measure": record["published_measure"],
            "pooled": record["published_estimate"] is not None,
            "k": record["published_k"], "n": record["published_n"],
            "estimate": record["published_estimate"], "ci_low": record["published_ci_low"],
            "ci_high": record["published_ci_high"], "i2": None,
            "model": record["published_review"],
        })
    return rows


def what_changed(current: str | None = None, previous: str | None = None) -> pd.DataFrame:
    """Per outcome: the published review (version 0), the previous release and the current one.

    ``current`` defaults to the latest release; ``current="data"`` uses the data as they are
    now (not yet released). ``previous`` defaults to the release before ``current``. Long
    format, one row per outcome and role ("published", "previous", "current"), columns
    question, outcome, outcome_label, role, version, date, measure, pooled, k, n, estimate,
    ci_low, ci_high, i2, model, changed (on "current" rows: did k, N, the estimate, its CI or
    I² move since "previous"; None elsewhere).
    """
    log = read_releases()
    versions = list(log["version"])
    dates = dict(zip(log["version"], log["date"]))
    if current == "data":
        current_results = _primary_rows(synthesis.results_table(scenarios=False))
        current_date = None
        default_previous = versions[-1] if versions else None
    else:
        current = current or (versions[-1] if versions else None)
        if current is not None and current not in versions:
            raise ReleaseError(f"no release {current!r}; releases: {', '.join(versions) or 'none'}")
        current_results = _primary_rows(read_results(current)) if current else None
        current_date = dates.get(current)
        index = versions.index(current) if current else -1
        default_previous = versions[index - 1] if index > 0 else None
    previous = previous or default_previous
    if previous is not None and previous not in versions:
        raise ReleaseError(f"no release {previous!r}; releases: {', '.join(versions) or 'none'}")
    previous_results = _primary_rows(read_results(previous)) if previous else None

    published = {(r["question"], r["outcome"]): r for r in _published_view_rows()}
    records = []
    for spec in synthesis.ANALYSES:
        key = (spec.question, spec.outcome)
        records.append({**published[key], "changed": None})
        found = {}
        for role, version, date, table in (("previous", previous, dates.get(previous), previous_results),
                                           ("current", current, current_date, current_results)):
            row = {"question": spec.question, "outcome": spec.outcome,
                   "outcome_label": spec.label, "role": role, "version": version, "date": date,
                   "measure": spec.reader_measure}
            match = None
            if table is not None:
                hits = table[(table["question"] == spec.question) & (table["outcome"] == spec.outcome)]
                match = hits.iloc[0].to_dict() if len(hits) else None
            for column in ("pooled", "k", "n", "estimate", "ci_low", "ci_high", "i2", "model"):
                row[column] = _value(match.get(column)) if match else None
            if match is not None and match.get("measure"):
                row["measure"] = str(match["measure"])  # a release may have pooled another measure
            found[role] = match
            row["changed"] = None
            if role == "current" and match is not None:
                before = found.get("previous")
                row["changed"] = before is None or str(before.get("measure")) != str(match.get("measure")) \
                    or any(not _same_number(_value(match.get(c)), _value(before.get(c)))
                           for c in ("k", "n", "estimate", "ci_low", "ci_high", "i2"))
            if version is not None or role == "current":
                records.append(row)
    return synthesis.object_frame(records, [*_VIEW_COLUMNS, "changed"])


def what_changed_wide(current: str | None = None, previous: str | None = None) -> pd.DataFrame:
    """:func:`what_changed` with one row per outcome, for a side-by-side table.

    Columns: question, outcome, outcome_label, measure, then for each of ``published``,
    ``previous`` and ``current``: ``<role>_version``, ``<role>_k``, ``<role>_n``,
    ``<role>_estimate``, ``<role>_ci_low``, ``<role>_ci_high``, ``<role>_i2`` (the published
    measure in ``published_measure``), and ``changed``.
    """
    long = what_changed(current, previous)
    records = []
    for spec in synthesis.ANALYSES:
        rows = long[(long["question"] == spec.question) & (long["outcome"] == spec.outcome)]
        record = {"question": spec.question, "outcome": spec.outcome,
                  "outcome_label": spec.label, "measure": spec.reader_measure,
                  "published_measure": None, "changed": None}
        for role in ("published", "previous", "current"):
            for column in ("version", "k", "n", "estimate", "ci_low", "ci_high", "i2"):
                record[f"{role}_{column}"] = None
        for row in rows.to_dict("records"):
            for column in ("version", "k", "n", "estimate", "ci_low", "ci_high", "i2"):
                record[f"{row['role']}_{column}"] = row[column]
            if row["role"] == "published":
                record["published_measure"] = row["measure"]
            if row["role"] == "current":
                record["changed"] = row["changed"]
        records.append(record)
    columns = ["question", "outcome", "outcome_label", "measure", "published_measure"]
    for role in ("published", "previous", "current"):
        columns += [f"{role}_{c}" for c in ("version", "k", "n", "estimate", "ci_low", "ci_high", "i2")]
    return synthesis.object_frame(records, columns + ["changed"])


def release_status() -> dict:
    """The latest release and whether the data are still those it was made from.

    Keys: version, date, kind, summary (None before the first release), data_matches (the
    current data fingerprint equals the release's), and label, a short text for the book:
    "1.0.0 (2026-11-23)", "1.0.0 (2026-11-23); data changed since" or "not yet released".
    """
    last = current_release()
    if last is None:
        return {"version": None, "date": None, "kind": None, "summary": None,
                "data_matches": False, "label": "not yet released"}
    matches = last["data_fingerprint"] == data_fingerprint()
    label = f"{last['version']} ({last['date']})" + ("" if matches else "; data changed since")
    return {"version": last["version"], "date": last["date"], "kind": last["kind"],
            "summary": last["summary"], "data_matches": matches, "label": label}


def estimate_history(include_published: bool = True) -> pd.DataFrame:
    """Every release's primary pooled estimate per outcome, oldest first (cumulative view).

    Columns: version, date, kind, question, outcome, outcome_label, measure, pooled, k, n,
    estimate, ci_low, ci_high, i2; with ``include_published`` the published reviews come
    first as version "0" (kind "published").
    """
    columns = ["version", "date", "kind", "question", "outcome", "outcome_label", "measure",
               "pooled", "k", "n", "estimate", "ci_low", "ci_high", "i2"]
    records = []
    if include_published:
        for row in _published_view_rows():
            records.append({**{c: row.get(c) for c in columns}, "kind": "published"})
    log = read_releases()
    results = _primary_rows(read_results())
    for release in log.to_dict("records"):
        rows = results[results["version"] == release["version"]]
        for record in rows.to_dict("records"):
            records.append({**{c: _value(record.get(c)) for c in columns},
                            "version": release["version"], "date": release["date"],
                            "kind": release["kind"]})
    return synthesis.object_frame(records, columns)
