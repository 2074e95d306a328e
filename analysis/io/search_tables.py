"""The schemas of searching and screening: the search log and its exports' formats, the first
round's queries and records, the duplicate map, screening decisions and their reasons, and the
reports awaiting their full text.
"""
from __future__ import annotations

from .columns import Column, RowIssue, TableSchema, RECORD_ID

__all__ = ["FORMATS", "QUERIES", "RECORDS", "SEARCHES", "DEDUP_MAP", "SCREENING", "AWAITING",
           "SCREENING_REASONS", "SCREENING_REASONS_TABLE"]

# The formats of a search export that the readers of analysis.search know: the review's own hit
# list first, then tagged formats, then tables with a header row.
FORMATS = ("index_hits", "ris", "nbib", "bibtex", "endnote", "wos_plain", "wos_tab", "wos_csv", "scopus_csv",
           "pubmed_csv", "embase_csv", "ieee_csv", "springer_csv", "zotero_csv")

# The exclusion reasons of each question's eligibility criteria (SOURCE_README.md), used when
# data/screening_reasons.csv is absent; that file, where present, is the vocabulary.
SCREENING_REASONS: dict[str, tuple[str, ...]] = {
    "q1_webhelp": (
        "not primary quantitative study",
        "no depression measure",
        "no web-based help-seeking measure",
        "no extractable statistic in available report",
        "review/protocol",
        "duplicate",
    ),
    "q2_interventions": (
        "not a controlled trial",
        "population not selected for depressive symptoms",
        "no help-seeking outcome",
        "no extractable statistic in available report",
        "review/protocol",
        "duplicate",
    ),
}


def _first_occurrence_flag(row: dict[str, str]) -> list[RowIssue]:
    same = row.get("record_id") == row.get("first_occurrence_record_id")
    flag = row.get("is_first_occurrence", "")
    if flag in ("yes", "no") and (flag == "yes") != same:
        return [RowIssue("is_first_occurrence",
                         f"is {flag}, but first_occurrence_record_id is "
                         f"{row.get('first_occurrence_record_id')}")]
    return []


QUERIES = TableSchema("queries", "queries.csv", (
    Column("query_id", "id", required=True, unique=True, pattern=r"Q\d{3}"),
    Column("query", required=True),
    Column("corpus", required=True, allowed=("article pages", "documentation pages")),
    Column("date", "date", required=True),
    Column("n_hits", "int", required=True, low=0),
), key=("query_id",), raw=True)

RECORDS = TableSchema("records", "records.csv", (
    Column("record_id", "id", required=True, unique=True, pattern=r"R\d{4}"),
    Column("query_id", "id", required=True, pattern=r"Q\d{3}"),
    Column("url", "url_or_label"),
    Column("title", required=True),
    Column("first_author"),
    Column("year", "year"),
    Column("journal"),
    Column("doi", "doi"),
    Column("pmid", "int", low=1),
), key=("record_id",), raw=True)

SEARCHES = TableSchema("searches", "searches/searches.csv", (
    Column("search_id", "id", required=True, unique=True),
    Column("file", required=True, unique=True),
    Column("source", required=True),
    Column("query", required=True),
    Column("date_run", "date", required=True),
    Column("n_hits", "int", required=True, low=0),
    Column("format", required=True, allowed=FORMATS),
    Column("note"),
), key=("search_id",))

DEDUP_MAP = TableSchema("dedup_map", "dedup_map.csv", (
    Column("record_id", "id", required=True, unique=True, pattern=r"R\d{4}"),
    Column("first_occurrence_record_id", "id", required=True, pattern=r"R\d{4}"),
    Column("is_first_occurrence", "yesno", required=True),
), key=("record_id",), row_rules=(_first_occurrence_flag,), raw=True)


def _reason_rule(row: dict[str, str]) -> list[RowIssue]:
    decision, reason = row.get("decision", ""), row.get("reason", "")
    if decision in ("exclude", "awaiting_full_text") and reason == "":
        return [RowIssue("reason", f"required when decision is {decision}")]
    if decision == "include" and reason != "":
        return [RowIssue("reason", "must be empty when decision is include")]
    if decision == "awaiting_full_text" and row.get("stage") != "full_text":
        return [RowIssue("decision", "awaiting_full_text is a full_text decision")]
    return []


SCREENING = TableSchema("screening", "screening.csv", (
    Column("record_id", "id", required=True, pattern=RECORD_ID),
    Column("stage", required=True, allowed=("title_abstract", "full_text")),
    Column("reviewer", "id", required=True, pattern=r"reviewer_\d+|consensus"),
    Column("decision", required=True, allowed=("include", "exclude", "awaiting_full_text")),
    Column("reason"),  # checked against screening_reasons.csv (see analysis.io.links)
    Column("note"),
), key=("record_id", "stage", "reviewer"), row_rules=(_reason_rule,))



AWAITING = TableSchema("awaiting_full_text", "awaiting_full_text.csv", (
    Column("priority", "int", required=True, low=1),
    Column("record_id", "id", required=True, unique=True, pattern=RECORD_ID),
    Column("study", required=True),
    Column("why", required=True),
), key=("record_id",))

SCREENING_REASONS_TABLE = TableSchema("screening_reasons", "screening_reasons.csv", (
    Column("reason", required=True),
    Column("stage", required=True, allowed=("title_abstract", "full_text")),
    Column("decision", required=True, allowed=("exclude", "awaiting_full_text")),
    Column("prisma_box", required=True,
           allowed=("records_excluded", "reports_excluded", "reports_not_retrieved")),
    Column("questions", required=True, pattern=r"[a-z0-9_]+(;[a-z0-9_]+)*"),
    Column("description", required=True),
), key=("reason", "stage"))
