"""Blank forms for a second, independent reviewer, and storing what they fill in.

Each form leaves the first reviewer's values out: the extraction form is built from
``studies.csv`` and ``records.csv`` only (which studies, where to reopen them), never from
``extraction.csv``; the risk-of-bias form from ``studies.csv`` and the tools' domain lists, never
from ``risk_of_bias.csv``; the screening form from the record table and a seeded random sample,
never showing a decision.

``python -m analysis form --question q1 --table extraction --reviewer reviewer_3 --out f.csv``
writes a form; ``--append f.csv`` stores a filled one (checked first; nothing is written when a
row is wrong). A filled screening form is stored with the same ``--seed`` and ``--fraction``: its
decisions go to ``screening.csv`` and the sample's ids to ``screening_sample.csv``.
"""
from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pandas as pd

from analysis import review
from . import screening_decisions
from analysis.search import records as rec
from analysis.evidence import rob
from analysis.io import reviewer_tables, schemas
from analysis.selection import screening
from analysis.io.paths import data_dir as default_data_dir
from analysis.io.validate import TextTable, check_table, load

__all__ = ["extraction_form", "risk_of_bias_form", "draw_screening_sample", "screening_form",
           "append_form", "store_screening_sample", "FormError"]

_HINTS = ("label", "doi_to_reopen", "record_url")


class FormError(ValueError):
    """A filled form that cannot be stored; ``problems`` lists every one."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("\n".join(problems))


def _where_to_reopen(question: str, data_dir) -> pd.DataFrame:
    studies = load(question, "studies", data_dir)
    records = load(question, "records", data_dir).set_index("record_id")["url"]
    return pd.DataFrame({"study_id": studies["study_id"], "label": studies["label"],
                         "doi_to_reopen": studies["doi"],
                         "record_url": [records.get(r, "") for r in studies["record_id"]],
                         "design": studies["design"]})


def extraction_form(question: str, reviewer: str, data_dir: Path | str | None = None) -> pd.DataFrame:
    """One block per included study: a ``source_reopened`` row and one row per field of the
    extraction codebook, every value empty. Copy a block (with its own ``row_key``) for each
    further statistic of a study."""
    folder = schemas.question_folder(question)
    fields = [c for c in schemas.schema_for(folder, "extraction").names
              if c not in ("extraction_id", "study_id", "record_id")]
    rows = []
    for study in _where_to_reopen(question, data_dir).itertuples(index=False):
        hints = {"label": study.label, "doi_to_reopen": study.doi_to_reopen, "record_url": study.record_url}
        rows.append({"study_id": study.study_id, "row_key": "", "field": reviewer_tables.STATUS_FIELD,
                     "reviewer": reviewer, **hints})
        rows += [{"study_id": study.study_id, "row_key": "", "field": f, "reviewer": reviewer, **hints}
                 for f in fields]
    columns = list(schemas.optional_schema(folder, "extraction_independent").names) + list(_HINTS)
    return pd.DataFrame(rows, dtype=object).reindex(columns=columns, fill_value="").fillna("")


def risk_of_bias_form(question: str, reviewer: str, data_dir: Path | str | None = None) -> pd.DataFrame:
    """One row per included study and domain of its tool (RoB 2 for randomised trials, the JBI
    cross-sectional checklist otherwise), judgement and support empty."""
    rows = []
    for study in _where_to_reopen(question, data_dir).itertuples(index=False):
        tool = rob.ROB2 if "randomi" in str(study.design).lower() else rob.JBI_CROSS_SECTIONAL
        for domain in rob.domain_labels(tool):
            rows.append({"study_id": study.study_id, "tool": tool, "domain": domain, "reviewer": reviewer,
                         "label": study.label, "doi_to_reopen": study.doi_to_reopen,
                         "record_url": study.record_url})
    columns = list(reviewer_tables.ROB_INDEPENDENT.names) + list(_HINTS)
    return pd.DataFrame(rows, dtype=object).reindex(columns=columns, fill_value="").fillna("")


def draw_screening_sample(question: str, fraction: float, seed: int) -> list[str]:
    """The seeded random sample of unique records (first occurrences) for a second screener:
    ceil(fraction x N) ids drawn without replacement by numpy's default generator from the sorted
    ids, returned sorted. The same seed and fraction always give the same sample."""
    table = review.current().question(question).clusters
    ids = sorted(table.loc[table["record_id"] == table["first_record_id"], "record_id"])
    size = math.ceil(fraction * len(ids))
    return sorted(np.random.default_rng(seed).choice(ids, size=size, replace=False).tolist())


def screening_form(question: str, reviewer: str, fraction: float, seed: int) -> pd.DataFrame:
    """A screening form (the columns of ``screening.csv`` plus title, year, journal, url) for the
    seeded sample; no decision of any reviewer is shown."""
    sample = draw_screening_sample(question, fraction, seed)
    table = review.current().question(question).clusters.set_index("record_id").loc[sample]
    form = pd.DataFrame({"record_id": sample, "stage": "title_abstract", "reviewer": reviewer,
                         "decision": "", "reason": "", "note": ""})
    for column in ("title", "year", "journal", "url"):
        form[column] = table[column].fillna("").astype(str).to_numpy()
    return form


def append_form(path: Path | str, question: str, table: str,
                data_dir: Path | str | None = None) -> int:
    """Check a filled form (rows of ``table``: extraction_independent, risk_of_bias_independent,
    reconciliation or risk_of_bias_reconciliation) and append its rows to the data table.
    Rows left blank (no value / judgement / consensus) are skipped; hint columns are ignored.
    Raises FormError listing every problem; nothing is written then."""
    folder = schemas.question_folder(question)
    schema = schemas.optional_schema(folder, table)
    path = Path(path)
    try:
        form = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as error:
        raise FormError([f"{path}: not a readable CSV file ({error})"]) from None
    missing = [c for c in schema.names if c not in form.columns]
    if missing:
        raise FormError([f"{path}: missing column(s) {', '.join(missing)}"])
    filled = {"extraction_independent": "value", "risk_of_bias_independent": "judgement"}.get(table, "consensus")
    keep = form[filled].str.strip() != ""
    if table == "extraction_independent":
        keep |= form["field"] == reviewer_tables.STATUS_FIELD
    rows = [(int(i) + 2, {c: str(form.at[i, c]).strip() for c in schema.names}) for i in form.index[keep]]
    if not rows:
        raise FormError([f"{path}: no filled row"])
    problems = [f"{path}:{p.row}:{p.column}: {p.message}"
                for p in check_table(TextTable(str(path), schema, rows, True))]
    target = (Path(data_dir) if data_dir is not None else default_data_dir()) / folder / schema.file
    if target.exists():
        stored = pd.read_csv(target, dtype=str, keep_default_na=False)
        known = set(map(tuple, stored[list(schema.key)].to_numpy().tolist()))
        for line, row in rows:
            if tuple(row[c] for c in schema.key) in known:
                problems.append(f"{path}:{line}: already stored in {folder}/{schema.file} "
                                f"({', '.join(f'{c}={row[c]}' for c in schema.key)})")
    if problems:
        raise FormError(problems)
    rec.append_csv_rows(target, [row for _, row in rows], list(schema.names))
    return len(rows)


def store_screening_sample(path: Path | str, question: str, fraction: float, seed: int,
                           data_dir: Path | str | None = None) -> int:
    """Store a filled screening form of the seeded sample: its decisions go to ``screening.csv``
    (through :func:`analysis.commands.screening_decisions.append_decisions`) and the sample (ids, reviewer, seed,
    fraction, population) to ``screening_sample.csv``. The form must hold a decision on every
    record of the sample the seed draws, and nothing else. Returns the number of decisions."""
    folder = schemas.question_folder(question)
    path = Path(path)
    try:
        form = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as error:
        raise FormError([f"{path}: not a readable CSV file ({error})"]) from None
    if not {"record_id", "reviewer", "stage", "decision"} <= set(form.columns):
        raise FormError([f"{path}: not a screening form (columns {', '.join(screening.SCREENING_COLUMNS)})"])
    sample = draw_screening_sample(folder, fraction, seed)
    decided = form.loc[form["decision"].str.strip() != "", "record_id"].tolist()
    problems = []
    if sorted(decided) != sample:
        problems.append(f"{path}: the decisions cover {len(decided)} record(s); the sample of seed {seed} "
                        f"and fraction {fraction} has {len(sample)}, and every one needs a decision")
    reviewers = set(form["reviewer"])
    if len(reviewers) != 1 or not re.fullmatch(reviewer_tables.REVIEWER_ID, next(iter(reviewers))):
        problems.append(f"{path}: one reviewer_<number> must decide the whole sample (found {sorted(reviewers)})")
    if problems:
        raise FormError(problems)
    try:
        stored = screening_decisions.append_decisions(path, folder)
    except screening.ScreeningError as error:
        raise FormError(error.problems) from None
    table = review.current().question(folder).clusters
    population = int((table["record_id"] == table["first_record_id"]).sum())
    target = (Path(data_dir) if data_dir is not None else default_data_dir()) / folder / reviewer_tables.SCREENING_SAMPLE.file
    rows = [{"record_id": r, "reviewer": next(iter(reviewers)), "stage": str(form["stage"].iloc[0]),
             "seed": str(seed), "fraction": str(fraction), "population": str(population)} for r in sample]
    rec.append_csv_rows(target, rows, list(reviewer_tables.SCREENING_SAMPLE.names))
    return stored


# ----------------------------------------------------------------------------- command line
