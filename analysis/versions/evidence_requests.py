"""Evidence requests: a path by which someone with access to a full text can supply its numbers.

``python -m analysis awaiting --out DIR`` writes, for every report in a question's
``awaiting_full_text.csv``, a request (``<record>.md``: bibliographic data, DOI, PubMed, PMC
and trial-registry ids found in the record, which statistic each analysis needs) and a sheet
(``<record>.csv``: one blank extraction row with every column of the question's
``extraction.csv`` plus the three study columns a new study needs, the record's id, DOI and
URL already filled in).

``python -m analysis awaiting --import SHEET --question q1`` brings a filled sheet back. Every
row is checked as the data are: the import is applied to a copy of the data folder (the
extraction row appended; for a new study its ``studies.csv`` row from the record's
bibliographic data and a BibTeX entry; a full-text ``include`` decision; the report removed
from ``awaiting_full_text.csv``), ``check`` and the effect-size conversion run on the copy, and
only when both find nothing are the files replaced, each in one step. Any problem is reported
as sheet, row, column and message, and nothing is written.
"""
from __future__ import annotations

import csv
import io
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Callable

import pandas as pd

from analysis.io import schemas
from analysis.pooling import synthesis
from analysis.io.paths import REPO_ROOT, data_dir
from analysis.io.validate import read_csv_text

__all__ = ["STUDY_COLUMNS", "ImportProblem", "EvidenceImportError", "bibliography_path",
           "expected_k", "import_sheet", "needed_statistics", "request_sheets", "sheet_columns"]

# Columns of studies.csv that a sheet supplies for a study not yet in the review.
STUDY_COLUMNS = ("study_label", "study_design", "study_country")
_REGISTRY = re.compile(r"\b(NCT\d{8}|ISRCTN\d{8}|ACTRN\d{14}|DRKS\d{8}|ChiCTR[-\w]+)\b")


class ImportProblem(tuple):
    """(file, row, column, message) of a refused import."""

    def __str__(self) -> str:
        file, row, column, message = self
        return f"{file}:{'-' if row is None else row}:{column or '-'}: {message}"


class EvidenceImportError(Exception):
    def __init__(self, problems: list[ImportProblem]):
        self.problems = problems
        super().__init__("\n".join(str(problem) for problem in problems))


def bibliography_path(root: Path | None = None) -> Path:
    """The book's bibliography beside the data folder (``book/references.bib``), else the
    repository's."""
    root = root or data_dir()
    beside = root.parent / "book" / "references.bib"
    return beside if beside.exists() else REPO_ROOT / "book" / "references.bib"


def sheet_columns(question: str) -> list[str]:
    """The columns of a question's request sheet."""
    schema = schemas.schema_for(question, "extraction")
    return [*schema.names, *STUDY_COLUMNS]


def needed_statistics(question: str) -> dict[str, tuple[str, ...]]:
    """Each accepted ``statistic_type`` with the columns it requires (read from the schema's
    own row rules, so the sheet asks for exactly what ``check`` will demand)."""
    schema = schemas.schema_for(question, "extraction")
    needed = {}
    for kind in schema.column("statistic_type").allowed or ():
        columns = []
        for rule in schema.row_rules:
            for issue in rule({"statistic_type": kind}):
                if issue.message == f"required when statistic_type is {kind}":
                    columns.append(issue.column)
        needed[kind] = tuple(columns)
    return needed


def _awaiting(folder: str, root: Path) -> pd.DataFrame:
    return read_csv_text(root / folder / "awaiting_full_text.csv")


def _records(folder: str) -> pd.DataFrame:
    from analysis.search import records

    return records.load_records(folder).astype(object).where(lambda t: t.notna(), "")


def _file_stem(record_id: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", record_id)


def _request_text(folder: str, awaiting: dict, record: dict) -> str:
    ids = []
    for label, value in (("DOI", record.get("doi")), ("PubMed", record.get("pmid"))):
        if value:
            ids.append(f"- {label}: {value}")
    pmc = re.search(r"PMC\d+", str(record.get("url", "")))
    if pmc:
        ids.append(f"- PMC: {pmc.group(0)}")
    text = " ".join(str(record.get(k, "")) for k in ("title", "url", "abstract")) + " " + awaiting["why"]
    for registry in sorted(set(_REGISTRY.findall(text))):
        ids.append(f"- Trial registry: {registry}")
    question = next(q for q, f in schemas.QUESTIONS.items() if f == folder)
    analyses = [spec for spec in synthesis.ANALYSES if spec.question == question]
    lines = [
        f"# Evidence request: {awaiting['study']} (record {awaiting['record_id']})", "",
        f"Priority {awaiting['priority']} of the reports awaiting full text in {folder}.",
        f"Why it is needed: {awaiting['why']}", "",
        "## The report", "",
        f"- Title: {record.get('title') or 'not in the record'}",
        f"- First author: {record.get('first_author') or 'not in the record'}",
        f"- Year: {record.get('year') or 'not in the record'}",
        f"- Journal: {record.get('journal') or 'not in the record'}",
        f"- URL: {record.get('url') or 'not in the record'}",
        *(ids or ["- No DOI, PubMed, PMC or registry id in the record"]), "",
        "## What is needed", "",
        "Any of these statistics, for the analyses below, copied as printed. Put the sentence or",
        "table cell they come from in `excerpt` (every number must appear in it verbatim) and the",
        "DOI or URL of the full text you read in `doi` / `url`.", "",
        *[f"- Analysis: {spec.label} (`{spec.outcome}`, pooled as {spec.reader_measure})"
          for spec in analyses], "",
        "| statistic_type | columns required |", "|---|---|",
        *[f"| `{kind}` | {', '.join(f'`{c}`' for c in columns) or '(see the codebook)'} |"
          for kind, columns in needed_statistics(folder).items()], "",
        f"Fill the row of `{_file_stem(awaiting['record_id'])}.csv` (add a row per further "
        "comparison or outcome; the codebook `data/README.md` explains every column). For a study",
        "not yet in the review also fill `study_label` (e.g. \"Hwang 2021\"), `study_design` and",
        "`study_country`. Then run:", "",
        f"    python -m analysis awaiting --import {_file_stem(awaiting['record_id'])}.csv "
        f"--question {question}", "",
    ]
    return "\n".join(lines)


def request_sheets(out: Path | str, questions: list[str] | None = None) -> list[Path]:
    """Write a request and a blank sheet per awaiting report; returns the sheets written."""
    root, out = data_dir(), Path(out)
    written = []
    for question in questions or list(schemas.QUESTIONS):
        folder = schemas.question_folder(question)
        records = _records(folder).drop_duplicates("record_id").set_index("record_id", drop=False)
        columns = sheet_columns(folder)
        target = out / folder
        target.mkdir(parents=True, exist_ok=True)
        for awaiting in _awaiting(folder, root).to_dict("records"):
            rid = awaiting["record_id"]
            record = records.loc[rid].to_dict() if rid in records.index else {"record_id": rid}
            stem = _file_stem(rid)
            (target / f"{stem}.md").write_text(_request_text(folder, awaiting, record),
                                                encoding="utf-8")
            row = {column: "" for column in columns}
            row.update(record_id=rid, doi=str(record.get("doi") or ""),
                       url=str(record.get("url") or ""))
            buffer = io.StringIO()
            writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
            writer.writeheader()
            writer.writerow(row)
            (target / f"{stem}.csv").write_text(buffer.getvalue(), encoding="utf-8")
            written.append(target / f"{stem}.csv")
    return written


# --------------------------------------------------------------------------- import

def _read_sheet(path: Path, columns: list[str]) -> list[tuple[int, dict[str, str]]]:
    name = path.name
    if not path.exists():
        raise EvidenceImportError([ImportProblem((name, None, None, "file not found"))])
    try:
        text = path.read_bytes().decode("utf-8").lstrip("\ufeff")
    except UnicodeDecodeError:
        raise EvidenceImportError([ImportProblem((name, None, None, "not UTF-8 text"))]) from None
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next(reader)
        body = list(reader)
    except (StopIteration, csv.Error) as error:
        raise EvidenceImportError([ImportProblem((name, 1, None, f"not a CSV sheet ({error})"))]) from None
    problems = [ImportProblem((name, 1, c, "missing column")) for c in columns if c not in header]
    problems += [ImportProblem((name, 1, c, "unexpected column")) for c in header if c not in columns]
    rows = []
    for number, values in enumerate(body, start=2):
        if not any(value.strip() for value in values):
            continue
        if len(values) != len(header):
            problems.append(ImportProblem((name, number, None,
                                           f"expected {len(header)} fields, found {len(values)}")))
            continue
        rows.append((number, dict(zip(header, values))))
    if not rows and not problems:
        problems.append(ImportProblem((name, None, None, "the sheet has no filled row")))
    if problems:
        raise EvidenceImportError(problems)
    return rows


def _csv_line(values: list[str]) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow(values)
    return buffer.getvalue().encode("utf-8")


def _appended(path: Path, rows: list[list[str]]) -> bytes:
    data = path.read_bytes()
    if data and not data.endswith(b"\n"):
        data += b"\n"
    return data + b"".join(_csv_line(row) for row in rows)


def _header(path: Path) -> list[str]:
    with path.open(newline="", encoding="utf-8") as stream:
        return next(csv.reader(stream))


def _bibtex(key: str, record: dict) -> str:
    def clean(value) -> str:
        return str(value or "").replace("{", "").replace("}", "").strip()

    fields = [("author", clean(record.get("authors") or record.get("first_author"))),
              ("title", clean(record.get("title"))), ("journal", clean(record.get("journal"))),
              ("year", clean(record.get("year"))), ("doi", clean(record.get("doi"))),
              ("url", clean(record.get("url")))]
    body = ",\n".join(f"  {name} = {{{value}}}" for name, value in fields if value)
    return f"\n@article{{{key},\n{body}\n}}\n"


def _atomic_write(path: Path, data: bytes) -> None:
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def import_sheet(sheet: Path | str, question: str, reviewer: str = "consensus", *,
                 check: Callable[[Path], list]) -> dict:
    """Validate a filled sheet and bring it into the data; returns what was imported.

    Raises :class:`EvidenceImportError` (every problem as sheet/file, row, column, message)
    and writes nothing when any row is not acceptable. ``check(root)`` lists the problems that
    block a write, before and after the sheet is applied to a copy of the data (the command
    line passes :func:`analysis.commands.checks.blocking_problems`).
    """
    from analysis.io.problems import Problem

    sheet, root = Path(sheet), data_dir()
    folder = schemas.question_folder(question)
    name = sheet.name
    rows = _read_sheet(sheet, sheet_columns(folder))
    baseline = check(root)
    if baseline:
        raise EvidenceImportError([ImportProblem((str(p.file), p.row, p.column, p.message))
                                   for p in baseline[:20]] + [ImportProblem(
            (name, None, None, "the data already have problems (python -m analysis check); "
                               "fix them before importing"))])
    awaiting = _awaiting(folder, root)
    waiting_ids = set(awaiting["record_id"])
    records = _records(folder).drop_duplicates("record_id").set_index("record_id", drop=False)
    studies = read_csv_text(root / folder / "studies.csv")
    known_studies = set(studies["study_id"])
    screening = read_csv_text(root / folder / "screening.csv")
    included = set(screening[(screening["stage"] == "full_text")
                             & (screening["decision"] == "include")]["record_id"])
    problems: list[ImportProblem] = []
    new_studies: dict[str, tuple[int, dict]] = {}
    for number, row in rows:
        rid = row.get("record_id", "")
        if rid not in waiting_ids:
            problems.append(ImportProblem((name, number, "record_id",
                                           f"report {rid!r} is not awaiting full text in "
                                           f"{folder}/awaiting_full_text.csv")))
            continue
        study = row.get("study_id", "")
        if study and study not in known_studies and study not in new_studies:
            for column in STUDY_COLUMNS:
                if not row.get(column, "").strip():
                    problems.append(ImportProblem((name, number, column,
                                                   f"required for a study not yet in "
                                                   f"studies.csv ({study})")))
            new_studies[study] = (number, row)
    if problems:
        raise EvidenceImportError(problems)

    extraction_path = root / folder / "extraction.csv"
    n_existing = len(read_csv_text(extraction_path))
    header = _header(extraction_path)
    changed: dict[Path, bytes] = {
        extraction_path: _appended(extraction_path, [[row.get(c, "") for c in header]
                                                     for _, row in rows]),
    }
    study_header = _header(root / folder / "studies.csv")
    study_rows, bib_entries = [], ""
    for study, (_, row) in new_studies.items():
        record = records.loc[row["record_id"]].to_dict() if row["record_id"] in records.index else {}
        values = {"study_id": study, "label": row["study_label"],
                  "first_author": record.get("first_author", ""), "year": record.get("year", ""),
                  "title": record.get("title", ""), "journal": record.get("journal", ""),
                  "doi": record.get("doi", "") or row.get("doi", ""),
                  "record_id": row["record_id"], "design": row["study_design"],
                  "population": row.get("population", ""), "country": row["study_country"],
                  "bib_key": study}
        study_rows.append([str(values.get(c, "")) for c in study_header])
        bib_entries += _bibtex(study, record)
    if study_rows:
        changed[root / folder / "studies.csv"] = _appended(root / folder / "studies.csv", study_rows)
    imported_ids = list(dict.fromkeys(row["record_id"] for _, row in rows))
    decisions = [[rid, "full_text", reviewer, "include", "",
                  f"full text obtained; statistics imported from {name}"]
                 for rid in imported_ids if rid not in included]
    if decisions:
        screening_path = root / folder / "screening.csv"
        changed[screening_path] = _appended(screening_path, decisions)
    awaiting_path = root / folder / "awaiting_full_text.csv"
    kept = [line for line in awaiting_path.read_bytes().splitlines(keepends=True)
            if next(csv.reader([line.decode("utf-8")]), ["", ""])[1:2] not in
            ([rid] for rid in imported_ids)]
    changed[awaiting_path] = b"".join(kept)
    bibliography = bibliography_path(root)
    if bib_entries:
        changed[bibliography] = bibliography.read_bytes() + bib_entries.encode("utf-8")

    with tempfile.TemporaryDirectory() as temporary:
        copy = Path(temporary) / "data"
        shutil.copytree(root, copy, ignore=shutil.ignore_patterns("releases"))
        (copy.parent / "book").mkdir()
        for path, data in changed.items():
            target = (copy.parent / "book" / "references.bib" if path == bibliography
                      else copy / path.relative_to(root))
            target.write_bytes(data)
        if not bib_entries:
            shutil.copyfile(bibliography, copy.parent / "book" / "references.bib")
        # pending work (appraisal rows for a newly included study) is listed by check until
        # the author adds it; it does not block the import
        found = check(copy)
        if not found:
            try:
                from analysis.evidence import extraction

                extraction.effect_sizes(folder, data_dir=copy)
            except Exception as error:  # a statistic that cannot be converted
                found = [Problem(f"{folder}/extraction.csv", None, None,
                                 f"the statistics cannot be converted: {error}")]
    problems = [_on_sheet(p, name, folder, n_existing, new_studies, len(studies)) for p in found]
    if problems:
        raise EvidenceImportError(problems)
    from analysis.io import storage

    # data/ in one transaction (checked above on a copy with the bibliography entries added);
    # the bibliography beside data/ once the data are committed
    with storage.transaction(root, f"import of the evidence sheet {name}") as tx:
        for path, data in changed.items():
            if path != bibliography:
                tx.stage_bytes(path.relative_to(root).as_posix(), data)
        tx.commit()
    if bibliography in changed:
        _atomic_write(bibliography, changed[bibliography])
    remaining = len(awaiting) - len(imported_ids)
    return {"rows": len(rows), "reports": imported_ids, "new_studies": list(new_studies),
            "awaiting": remaining}


def _on_sheet(problem, name: str, folder: str, n_existing: int, new_studies: dict,
              n_studies: int) -> ImportProblem:
    """A problem found on the copy, moved to the sheet row it comes from when it does."""
    if problem.file == f"{folder}/extraction.csv" and problem.row and problem.row > n_existing + 1:
        def where(match: re.Match) -> str:
            row = int(match.group(1))
            return (f"first at row {row - n_existing} of the sheet" if row > n_existing + 1
                    else f"first at row {row} of {folder}/extraction.csv")

        message = re.sub(r"first at row (\d+)", where, problem.message)
        return ImportProblem((name, problem.row - n_existing, problem.column, message))
    if problem.file == f"{folder}/studies.csv" and problem.row and problem.row > n_studies + 1:
        sheet_row = list(new_studies.values())[problem.row - n_studies - 2][0]
        column = {"label": "study_label", "design": "study_design",
                  "country": "study_country"}.get(problem.column, problem.column)
        return ImportProblem((name, sheet_row, column, f"(for studies.csv) {problem.message}"))
    return ImportProblem((f"{problem.file} (after import)", problem.row, problem.column,
                          problem.message))


# --------------------------------------------------------------------------- expected k

def expected_k() -> pd.DataFrame:
    """Per outcome: effect sizes analysed now and how many reports still await full text.

    Columns: question, outcome, outcome_label, k (effect sizes in the primary analysis),
    awaiting (reports of the question awaiting full text that are not the record of an
    included study), expected_k_at_most (k + awaiting: an awaiting report may turn out to
    inform this outcome or not, so this is an upper bound).
    """
    root = data_dir()
    records = []
    from analysis import review

    for spec in synthesis.ANALYSES:
        folder = schemas.question_folder(spec.question)
        k = int(review.current().pooled(spec.question, spec.outcome).row["k"])
        studies = read_csv_text(root / folder / "studies.csv")
        waiting = set(_awaiting(folder, root)["record_id"]) - set(studies["record_id"])
        records.append({"question": spec.question, "outcome": spec.outcome,
                        "outcome_label": spec.label, "k": k, "awaiting": len(waiting),
                        "expected_k_at_most": k + len(waiting)})
    return synthesis.object_frame(records, ["question", "outcome", "outcome_label", "k",
                                            "awaiting", "expected_k_at_most"])


# --------------------------------------------------------------------------- command line
