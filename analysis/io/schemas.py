"""Which schema each data table has: the question folders, the tables of each folder and of
data/ itself, in the order ``check`` reads them, and :func:`schema_for`.

The schemas themselves are written in the terms of :mod:`analysis.io.columns`, grouped by the
stage their tables serve: :mod:`analysis.io.search_tables`, :mod:`analysis.io.extraction_tables`,
:mod:`analysis.io.reviewer_tables` and :mod:`analysis.io.plan_tables`. :mod:`analysis.io.validate`
applies them; ``data/README.md`` is the codebook that explains every column in words (a test
checks that each column named in a schema is documented there).
"""
from __future__ import annotations

from analysis import questions as _registry

from .columns import TableSchema
from .extraction_tables import ASSUMPTIONS, PUBLISHED, Q1_EXTRACTION, Q2_EXTRACTION, STUDIES
from .plan_tables import LIVING_TABLES
from .reviewer_tables import (EXTRACTION_LINKS, GRADE_INDEPENDENT, GRADE_RECONCILIATION,
                              RECONCILIATION, ROB_INDEPENDENT, ROB_RECONCILIATION, SCREENING_SAMPLE,
                              extraction_independent)
from .search_tables import (AWAITING, DEDUP_MAP, QUERIES, RECORDS, SCREENING,
                            SCREENING_REASONS_TABLE, SEARCHES)

__all__ = ["QUESTIONS", "question_folder", "TABLES", "GLOBAL_TABLES", "OPTIONAL_TABLES", "schema_for",
           "optional_schema"]

# Question id -> data folder under data/, from the registry of questions.
QUESTIONS: dict[str, str] = {entry.id: entry.folder for entry in _registry.QUESTIONS}


def question_folder(question: str) -> str:
    """The data folder of a question: "q1" or "q1_webhelp" -> "q1_webhelp"."""
    return _registry.question(question).folder


# Every table of a question folder, in the order they are checked (raw tables first).
TABLES: tuple[str, ...] = ("queries", "records", "searches", "dedup_map", "screening", "studies",
                           "extraction", "assumptions", "awaiting_full_text")
GLOBAL_TABLES: tuple[str, ...] = ("published_syntheses", "screening_reasons", "living_mode",
                                  "monitoring_plan", "methods_changes")

# Checked only where the file exists.
OPTIONAL_TABLES: tuple[str, ...] = ("extraction_independent", "extraction_links", "reconciliation",
                                    "risk_of_bias_independent", "risk_of_bias_reconciliation",
                                    "grade_independent", "grade_reconciliation", "screening_sample")


def optional_schema(question: str, table: str) -> TableSchema:
    """The schema of a table of the second review (see OPTIONAL_TABLES)."""
    fixed = {"extraction_links": EXTRACTION_LINKS, "reconciliation": RECONCILIATION,
             "risk_of_bias_independent": ROB_INDEPENDENT,
             "risk_of_bias_reconciliation": ROB_RECONCILIATION, "screening_sample": SCREENING_SAMPLE,
             "grade_independent": GRADE_INDEPENDENT, "grade_reconciliation": GRADE_RECONCILIATION}
    if table == "extraction_independent":
        return extraction_independent(schema_for(question, "extraction"))
    if table in fixed:
        return fixed[table]
    raise KeyError(f"unknown table {table!r}; known: {', '.join(OPTIONAL_TABLES)}")


def schema_for(question: str | None, table: str) -> TableSchema:
    """The schema of one table; ``question`` None for the tables directly under data/."""
    if question is None:
        if table == "published_syntheses":
            return PUBLISHED
        if table == "screening_reasons":
            return SCREENING_REASONS_TABLE
        if table in LIVING_TABLES:
            return LIVING_TABLES[table]
        raise KeyError(f"unknown table {table!r} (tables under data/: {', '.join(GLOBAL_TABLES)})")
    folder = question_folder(question)
    fixed = {"queries": QUERIES, "records": RECORDS, "searches": SEARCHES,
             "dedup_map": DEDUP_MAP, "screening": SCREENING, "studies": STUDIES,
             "assumptions": ASSUMPTIONS, "awaiting_full_text": AWAITING}
    if table in fixed:
        return fixed[table]
    if table == "extraction":
        return Q1_EXTRACTION if folder == "q1_webhelp" else Q2_EXTRACTION
    if table in OPTIONAL_TABLES:
        return optional_schema(folder, table)
    raise KeyError(f"unknown table {table!r}; known: {', '.join(TABLES + OPTIONAL_TABLES)}")
