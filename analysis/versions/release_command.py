"""The steps of the ``release`` command: plan the next release (version, kind and why), then
write every file of it in one transaction.

Version numbers follow semantic versioning (https://semver.org) read for a review: *major* when
a new search run was added since the last release, *minor* when data changed a pooled number,
*patch* when no pooled number changed. Every file of a release is written in one transaction of
:mod:`analysis.io.storage` (all files or none).
"""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import pandas as pd

from analysis import review
from analysis.io.paths import data_dir
from analysis.pooling import synthesis
from analysis.search.records import write_atomic

from analysis.io.fingerprint import data_fingerprint
from .release_archive import (ReleaseError, appended_archive, read_releases, read_results,
                              releases_dir, verify_archive)
from .release_changes import changed_numbers

__all__ = ["KINDS", "ReleasePlan", "next_version", "plan_release", "release_files",
           "write_release"]


KINDS = ("major", "minor", "patch")
FIRST_VERSION = "1.0.0"
_VERSION = re.compile(r"^(\d+)\.(\d+)\.(\d+)$")


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
        results = review.current().results.copy()
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
    row = {"version": plan.version, "date": plan.date, "kind": plan.kind, "summary": plan.summary,
           "data_fingerprint": plan.fingerprint, "n_search_runs": plan.n_search_runs,
           "n_records": plan.n_records, "n_included": plan.n_included}
    files = appended_archive(folder, row, plan.results)
    for relative, data in plan.extra_files.items():
        if relative in files:
            raise ReleaseError(f"the plan writes {relative} twice")
        files[relative] = data
    return files


def write_release(plan: ReleasePlan, *, check: Callable[[Path], list]) -> list[str]:
    """Write every file of the release (:func:`release_files`) in one transaction of
    :mod:`analysis.io.storage`: under the data folder's write lock, checked again with
    ``check(root)`` (the command line passes every rule of ``check``,
    :func:`analysis.commands.checks.check_all`), all files or none. Returns the files written
    (paths under data/)."""
    from analysis.io import storage

    root = data_dir()
    with storage.transaction(root, f"release {plan.version}") as tx:
        if data_fingerprint(root) != plan.fingerprint:
            raise ReleaseError("the data changed since the release was planned; plan it again")
        for relative, data in release_files(plan, root / "releases").items():
            tx.stage_bytes(relative, data)
        tx.validate(check, allow_existing=False)  # a release needs valid data
        written = tx.commit()
    for path, data in plan.metadata_files.items():  # outside data/: after the data are committed
        write_atomic(path, data.decode("utf-8"))
        written.append(path.name)
    return written

