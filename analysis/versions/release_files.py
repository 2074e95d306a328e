"""What a release writes besides its row in ``releases.csv`` and its rows in ``results.csv``.

Sidecar tables in ``data/releases/``, each keyed by version and only ever appended to:

``conclusions.csv``
    the reader-level conclusion of every outcome (:mod:`analysis.versions.conclusions`) and whether it
    changed since the previous release;
``monitoring.csv``
    the sequential-monitoring statistics of every outcome (:mod:`analysis.versions.monitoring`);
``flow.csv``
    the flow of records per question, cumulative at this release (PRISMA-LSR flow across
    versions);
``methods_changes.csv``
    which rows of ``data/methods_changes.csv`` this release is the first to include;
``archives.csv``
    the release archive ``archives/review-<version>.zip`` (the data, this release's results and,
    when a built book exists in ``_build/html``, its HTML) with its SHA-256 and size.

Beside the data folder (the repository root), the release rewrites the ``version`` and
``date-released`` of ``CITATION.cff`` and the ``version`` and ``publication_date`` of
``.zenodo.json`` (metadata for a DOI-minting archive; nothing is sent anywhere).

Everything is computed into bytes by :func:`release_files` before anything is written.
"""
from __future__ import annotations

import csv
import hashlib
import io
import json
import re
import zipfile
from pathlib import Path

import pandas as pd

from analysis.io.paths import data_dir
from analysis.io.validate import read_csv_text

__all__ = ["SIDECARS", "release_files", "read_sidecar", "archive_bytes"]

SIDECARS: dict[str, tuple[str, ...]] = {
    "conclusions.csv": ("version", "question", "outcome", "outcome_label", "k", "finding",
                        "certainty", "robustness", "statement", "changed"),
    "monitoring.csv": ("version", "question", "outcome", "k", "z", "information_fixed",
                       "information_random", "diversity", "measure"),
    "flow.csv": ("version", "question", "search_runs", "records_identified",
                 "duplicates_removed", "records_screened", "records_excluded",
                 "reports_assessed", "reports_awaiting_full_text", "studies_included"),
    "methods_changes.csv": ("version", "change_id"),
    "archives.csv": ("version", "file", "sha256", "bytes", "contents"),
}


def _releases_dir() -> Path:
    return data_dir() / "releases"


def read_sidecar(name: str) -> pd.DataFrame:
    """One sidecar table as text (an empty frame with its columns when absent)."""
    path = _releases_dir() / name
    if not path.exists():
        return pd.DataFrame(columns=list(SIDECARS[name]), dtype=object)
    return read_csv_text(path)


def _appended(name: str, rows: list[list], listed: set[str], version: str) -> bytes:
    """The sidecar's bytes with ``rows`` appended; refuses rows of an unlisted release."""
    from .release_archive import ReleaseError, csv_lines

    path = _releases_dir() / name
    old = path.read_bytes() if path.exists() else csv_lines([list(SIDECARS[name])])
    for number, row in enumerate(csv.DictReader(io.StringIO(old.decode("utf-8"))), start=2):
        if row.get("version") not in listed:
            raise ReleaseError(f"{path}: line {number}: rows of release {row.get('version')}, "
                               f"which releases.csv does not list (an interrupted release?)")
        if row.get("version") == version:
            raise ReleaseError(f"{path}: line {number}: release {version} already has rows")
    return old + csv_lines(rows)


def _flow_rows(version: str) -> list[list]:
    from analysis import review
    from analysis.io import schemas

    rows = []
    for question, folder in schemas.QUESTIONS.items():
        counts = dict(review.current().question(folder).counts)
        studies = data_dir() / folder / "studies.csv"
        included = len(read_csv_text(studies)) if studies.exists() else 0
        rows.append([version, question, counts["search_runs"], counts["records_identified"],
                     counts["duplicates_removed"], counts["records_screened"],
                     counts["records_excluded"], counts["reports_assessed"],
                     counts["reports_not_retrieved"], included])
    return rows


def archive_bytes(version: str, date: str, results_rows: bytes, results_header: bytes) -> tuple[bytes, str]:
    """A deterministic zip of the data (not ``releases/``), this release's results and the
    built HTML when ``_build/html`` exists beside the data; and what it contains."""
    root = data_dir()
    stamp = tuple(int(part) for part in date.split("-")) + (0, 0, 0)
    buffer = io.BytesIO()
    contents = ["data", "results"]
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        def add(name: str, data: bytes) -> None:
            info = zipfile.ZipInfo(name, date_time=stamp)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, data)

        for path in sorted(root.rglob("*")):
            relative = path.relative_to(root)
            if (path.is_file() and relative.parts[0] != "releases"
                    and not any(part.startswith(".") or part == "__pycache__"
                                for part in relative.parts)):
                add(f"review-{version}/data/{relative.as_posix()}", path.read_bytes())
        add(f"review-{version}/results.csv", results_header + results_rows)
        html_dir = root.parent / "_build" / "html"
        if html_dir.is_dir():
            contents.append("html")
            for path in sorted(html_dir.rglob("*")):
                if path.is_file():
                    add(f"review-{version}/html/{path.relative_to(html_dir).as_posix()}",
                        path.read_bytes())
    return buffer.getvalue(), ", ".join(contents)


def _citation(text: str, version: str, date: str) -> str:
    text = re.sub(r"(?m)^version:.*$", f'version: "{version}"', text)
    return re.sub(r"(?m)^date-released:.*$", f'date-released: "{date}"', text)


def _zenodo(text: str, version: str, date: str) -> str:
    metadata = json.loads(text)
    metadata["version"] = version
    metadata["publication_date"] = date
    return json.dumps(metadata, indent=2, ensure_ascii=False) + "\n"


def release_files(version: str, date: str, results: pd.DataFrame, conclusion_rows: pd.DataFrame,
                  changed: list[str], listed: set[str]) -> dict[Path, bytes]:
    """Every file the release writes besides the log and the results archive: path -> bytes."""
    from . import monitoring
    from analysis.pooling import synthesis
    from .release_archive import csv_lines

    folder = _releases_dir()
    files: dict[Path, bytes] = {}
    files[folder / "conclusions.csv"] = _appended("conclusions.csv", [
        [version] + [row[c] for c in SIDECARS["conclusions.csv"][1:-1]]
        + ["yes" if f"{row['question']}/{row['outcome']}" in changed else "no"]
        for row in conclusion_rows.to_dict("records")], listed, version)
    statistics = monitoring.release_statistics()
    files[folder / "monitoring.csv"] = _appended("monitoring.csv", [
        [version] + [row[c] for c in SIDECARS["monitoring.csv"][1:]]
        for row in statistics.to_dict("records")], listed, version)
    files[folder / "flow.csv"] = _appended("flow.csv", _flow_rows(version), listed, version)
    changes_path = data_dir() / "methods_changes.csv"
    authored = (read_csv_text(changes_path)["change_id"].tolist()
                if changes_path.exists() else [])
    assigned = set(read_sidecar("methods_changes.csv")["change_id"])
    files[folder / "methods_changes.csv"] = _appended("methods_changes.csv", [
        [version, change] for change in authored if change not in assigned], listed, version)

    columns = ["version", *synthesis.RESULT_COLUMNS]
    header = csv_lines([columns])
    rows = csv_lines([[version if c == "version" else record.get(c) for c in columns]
                   for record in results.to_dict("records")])
    archive, contents = archive_bytes(version, date, rows, header)
    archive_path = folder / "archives" / f"review-{version}.zip"
    files[archive_path] = archive
    files[folder / "archives.csv"] = _appended("archives.csv", [[
        version, archive_path.relative_to(folder).as_posix(),
        hashlib.sha256(archive).hexdigest(), len(archive), contents]], listed, version)

    repository = data_dir().parent
    citation = repository / "CITATION.cff"
    if citation.exists():
        files[citation] = _citation(citation.read_text(encoding="utf-8"), version, date).encode("utf-8")
    zenodo = repository / ".zenodo.json"
    if zenodo.exists():
        files[zenodo] = _zenodo(zenodo.read_text(encoding="utf-8"), version, date).encode("utf-8")
    return files
