"""The schemas of the second, independent review (maintained with analysis.reviewers.reconcile):
each reviewer's own extraction, risk-of-bias and GRADE judgements, the links between the two
reviewers' extraction rows, the reconciliation of every disagreement, and the seeded screening
sample. They are checked when present (a review without a second reviewer has none of them).
"""
from __future__ import annotations

import re

from .columns import (Column, RowIssue, RowRule, TableSchema, RECORD_ID, p_bound, printed_value,
                      squeeze_printed)

__all__ = ["REVIEWER_ID", "RESOLVED_BY", "SOURCE_STATUS", "STATUS_FIELD", "extraction_independent",
           "EXTRACTION_LINKS", "RECONCILIATION", "ROB_INDEPENDENT", "ROB_RECONCILIATION",
           "SCREENING_SAMPLE", "GRADE_COMPUTED_DOMAINS", "GRADE_JUDGED_DOMAINS",
           "GRADE_COMPARED_ITEMS", "GRADE_INDEPENDENT", "GRADE_RECONCILIATION"]

_INT = re.compile(r"^-?\d+$")

REVIEWER_ID = r"reviewer_\d+"
RESOLVED_BY = r"reviewer_\d+( reviewer_\d+)*"
SOURCE_STATUS = ("yes", "partly", "no")
STATUS_FIELD = "source_reopened"  # per-study row: could the reviewer reopen the source?


def _independent_value_rule(target: TableSchema) -> RowRule:
    """A field of the long-form extraction must be a column of the question's extraction table
    (``target``), its value of that column's kind and vocabulary, and a printed statistic must
    appear in the row's excerpt (as in extraction.csv)."""
    def rule(row: dict[str, str]) -> list[RowIssue]:
        field_name, value = row.get("field", ""), row.get("value", "")
        if field_name == STATUS_FIELD:
            issues = []
            if value not in SOURCE_STATUS:
                issues.append(RowIssue("value", f"{value!r} is not an allowed value for {STATUS_FIELD} "
                                                f"({'; '.join(SOURCE_STATUS)})"))
            if row.get("row_key", ""):
                issues.append(RowIssue("row_key", f"must be empty on the {STATUS_FIELD} row (one per study)"))
            return issues
        if field_name not in target.names or field_name in ("extraction_id", "record_id", "study_id"):
            return [RowIssue("field", f"{field_name!r} is not a field of the extraction codebook "
                                      f"(or {STATUS_FIELD})")]
        if not row.get("row_key", ""):
            return [RowIssue("row_key", "required for an extraction field (which statistic of the study)")]
        column = target.column(field_name)
        if value == "":
            return []
        try:
            if column.kind == "printed":
                printed_value(value)
            elif column.kind == "printed_p":
                p_bound(value)
            elif column.kind == "int" and not _INT.match(value):
                raise ValueError
        except ValueError:
            return [RowIssue("value", f"{value!r} is not a {column.kind} value (field {field_name})")]
        if column.allowed is not None and value not in column.allowed:
            return [RowIssue("value", f"{value!r} is not an allowed value of {field_name} "
                                      f"({'; '.join(column.allowed)})")]
        if column.in_excerpt:
            if squeeze_printed(value) not in squeeze_printed(row.get("excerpt", "")):
                return [RowIssue("value", f"printed value {value!r} of {field_name} does not appear in the excerpt")]
        return []
    return rule


def _reconciled_rule(row: dict[str, str]) -> list[RowIssue]:
    """A consensus needs two different reviewers, a resolver, and a reason when it matches neither."""
    consensus = row.get("consensus", "")
    first, second = row.get("reviewer_a", ""), row.get("reviewer_b", "")
    issues = []
    if first == "" or second == "" or first == second:
        issues.append(RowIssue("reviewer_b" if first else "reviewer_a",
                               "a consensus needs two different reviewers (reviewer_a and reviewer_b)"))
    if consensus != "" and row.get("resolved_by", "") == "":
        issues.append(RowIssue("resolved_by", "required when a consensus is recorded (who resolved it)"))
    if (consensus != "" and consensus not in (row.get("value_a", ""), row.get("value_b", ""))
            and row.get("reason", "") == ""):
        issues.append(RowIssue("reason", f"the consensus {consensus!r} matches neither reviewer's value; "
                                         "say why it was chosen"))
    return issues


_RECONCILIATION_COMMON = (
    Column("reviewer_a", "id", pattern=REVIEWER_ID),
    Column("value_a"),
    Column("reviewer_b", "id", pattern=REVIEWER_ID),
    Column("value_b"),
    Column("consensus"),
    Column("resolved_by", pattern=RESOLVED_BY),
    Column("reason"),
)


def extraction_independent(extraction: TableSchema) -> TableSchema:
    """The second reviewer's extraction, one field a row, of a question whose extraction table
    is ``extraction``."""
    return TableSchema("extraction_independent", "extraction_independent.csv", (
        Column("study_id", "id", required=True),
        Column("row_key"),
        Column("field", required=True),
        Column("reviewer", "id", required=True, pattern=REVIEWER_ID),
        Column("value"),
        Column("source", "url", required=True),
        Column("excerpt"),
        Column("note"),
    ), key=("study_id", "row_key", "field", "reviewer"), row_rules=(_independent_value_rule(extraction),))


EXTRACTION_LINKS = TableSchema("extraction_links", "extraction_links.csv", (
    Column("study_id", "id", required=True),
    Column("row_key", required=True),
    Column("extraction_id", "id", required=True, pattern=r"E\d{2,}"),
    Column("note"),
), key=("study_id", "row_key"))

RECONCILIATION = TableSchema("reconciliation", "reconciliation.csv", (
    Column("study_id", "id", required=True),
    Column("extraction_id", "id", pattern=r"E\d{2,}"),
    Column("row_key"),
    Column("field", required=True),
    *_RECONCILIATION_COMMON,
), key=("study_id", "extraction_id", "row_key", "field"), row_rules=(_reconciled_rule,))

ROB_INDEPENDENT = TableSchema("risk_of_bias_independent", "risk_of_bias_independent.csv", (
    Column("study_id", "id", required=True),
    Column("tool", required=True, allowed=("RoB 2", "JBI analytical cross-sectional")),
    Column("domain", required=True),
    Column("reviewer", "id", required=True, pattern=REVIEWER_ID),
    Column("judgement", required=True),
    Column("support", required=True),
    Column("rationale", required=True),
    Column("source_record", "id", required=True, pattern=RECORD_ID),
    Column("basis", required=True),
), key=("study_id", "tool", "domain", "reviewer"))

ROB_RECONCILIATION = TableSchema("risk_of_bias_reconciliation", "risk_of_bias_reconciliation.csv", (
    Column("study_id", "id", required=True),
    Column("tool", required=True, allowed=("RoB 2", "JBI analytical cross-sectional")),
    Column("domain", required=True),
    *_RECONCILIATION_COMMON,
), key=("study_id", "tool", "domain"), row_rules=(_reconciled_rule,))

SCREENING_SAMPLE = TableSchema("screening_sample", "screening_sample.csv", (
    Column("record_id", "id", required=True, pattern=RECORD_ID),
    Column("reviewer", "id", required=True, pattern=REVIEWER_ID),
    Column("stage", required=True, allowed=("title_abstract", "full_text")),
    Column("seed", "int", required=True, low=0),
    Column("fraction", "number", required=True, low=0, high=1, low_open=True),
    Column("population", "int", required=True, low=1),
), key=("record_id", "reviewer", "stage"))

_GRADE_DOMAINS = ("risk_of_bias", "inconsistency", "indirectness", "imprecision", "publication_bias")
# Imprecision and inconsistency are computed from the pooled numbers (analysis.findings.grade_computed);
# a second reviewer judges, and the two-reviewer comparison covers, only the other domains.
GRADE_COMPUTED_DOMAINS = ("inconsistency", "imprecision")
GRADE_JUDGED_DOMAINS = tuple(d for d in _GRADE_DOMAINS if d not in GRADE_COMPUTED_DOMAINS)
GRADE_COMPARED_ITEMS = ("design", "studies") + GRADE_JUDGED_DOMAINS + ("upgrade_levels", "(outcome)")
_GRADE_LEVELS = ("not serious", "serious", "very serious")


def _grade_judged_rule(row: dict[str, str]) -> list[RowIssue]:
    """An outcome with studies needs every judged domain with its reason (the computed ones may be
    left empty); one without studies, no domain at all."""
    if row.get("studies", ""):
        return [RowIssue(name, "required when studies inform the outcome")
                for domain in GRADE_JUDGED_DOMAINS for name in (domain, f"{domain}_reason")
                if row.get(name, "") == ""]
    return [RowIssue(domain, "must be empty when no study informs the outcome")
            for domain in _GRADE_DOMAINS if row.get(domain, "")]


GRADE_INDEPENDENT = TableSchema("grade_independent", "grade_independent.csv", (
    Column("outcome", required=True),
    Column("design", required=True, allowed=("randomised trials", "observational studies")),
    Column("studies", "ids"),
    *(column for domain in _GRADE_DOMAINS
      for column in (Column(domain, allowed=_GRADE_LEVELS), Column(f"{domain}_reason"))),
    Column("upgrade_levels", allowed=("0", "1", "2")),
    Column("upgrade_reason"),
    Column("comments"),
    Column("reviewer", "id", required=True, pattern=REVIEWER_ID),
), key=("outcome", "reviewer"), row_rules=(_grade_judged_rule,))

GRADE_RECONCILIATION = TableSchema("grade_reconciliation", "grade_reconciliation.csv", (
    Column("outcome", required=True),
    Column("domain", required=True, allowed=GRADE_COMPARED_ITEMS),
    *_RECONCILIATION_COMMON,
), key=("outcome", "domain"), row_rules=(_reconciled_rule,))
