"""The schema of every data table: columns, types, allowed values, ranges and row rules.

One :class:`TableSchema` per table. :mod:`analysis.validate` applies them; ``data/README.md``
is the codebook that explains every column in words (a test checks that each column named here
is documented there).

Printed statistics are kept as text exactly as printed (".24", "4.70", "<.05"): their kind is
``printed`` (a plain decimal number as printed) or ``printed_p`` (a printed p value, which may
carry "<" or ">"). :func:`printed_value` turns such text into a float when a number is needed.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Callable

__all__ = [
    "Column", "TableSchema", "RowIssue", "QUESTIONS", "question_folder", "printed_value",
    "p_bound", "TABLES", "GLOBAL_TABLES", "SCREENING_REASONS", "schema_for",
]

# Question folders under data/, with the short names the package also accepts.
QUESTIONS: dict[str, str] = {"q1": "q1_webhelp", "q2": "q2_interventions"}

# A record id: R0001... for the first identification round; "<export file stem>:<position>"
# for records of later searches (analysis.records gives them).
RECORD_ID = r"R\d{4}|[A-Za-z0-9_.\-]+:\d+"

_PRINTED = re.compile(r"^-?(\d+(\.\d*)?|\.\d+)$")
_PRINTED_P = re.compile(r"^(<|>|<=|>=|=)?(0?\.\d+|0|1(\.0*)?)$")
_INT = re.compile(r"^-?\d+$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_DOI = re.compile(r"^10\.\d{4,9}/\S+$")
_URL = re.compile(r"^https?://\S+$")


def question_folder(question: str) -> str:
    """The data folder of a question: "q1" or "q1_webhelp" -> "q1_webhelp"."""
    if question in QUESTIONS:
        return QUESTIONS[question]
    if question in QUESTIONS.values():
        return question
    raise KeyError(f"unknown question {question!r}; known: {', '.join(QUESTIONS)}")


def printed_value(text: str) -> float:
    """The number a printed decimal stands for: ".24" -> 0.24, "-6.7" -> -6.7.

    Raises ValueError for anything else (empty text, "<.05", "n/a"), so a missing number is
    never silently a NaN.
    """
    text = str(text).strip()
    if not _PRINTED.match(text):
        raise ValueError(f"not a printed number: {text!r}")
    return float(text)


def p_bound(text: str) -> tuple[str, float]:
    """A printed p value as (relation, value): "<.001" -> ("<", 0.001); ".009" -> ("=", 0.009)."""
    match = _PRINTED_P.match(str(text).strip().replace(" ", ""))
    if not match:
        raise ValueError(f"not a printed p value: {text!r}")
    relation = match.group(1) or "="
    return relation, float(match.group(2))


@dataclass(frozen=True)
class Column:
    """One column: its kind (how its text is read), whether it is required, and its limits.

    kinds: ``text``; ``id`` (no spaces); ``int``; ``number``; ``printed`` (a decimal as
    printed, kept as text); ``printed_p``; ``year``; ``date`` (YYYY-MM-DD); ``doi``; ``url``;
    ``yesno``; ``ids`` (space-separated ids); ``url_or_label`` (a URL, or a
    description in square brackets where the search result showed none).
    """

    name: str
    kind: str = "text"
    required: bool = False
    allowed: tuple[str, ...] | None = None
    low: float | None = None  # lower limit of the number
    high: float | None = None  # upper limit of the number
    low_open: bool = False  # True: the value must be > low (not >=)
    high_open: bool = False
    pattern: str | None = None  # a regular expression the whole text must match
    unique: bool = False
    in_excerpt: bool = False  # a printed value that must appear verbatim in the row's excerpt


@dataclass(frozen=True)
class RowIssue:
    """A problem found by a row rule: the column it concerns and the message."""

    column: str | None
    message: str


RowRule = Callable[[dict[str, str]], list[RowIssue]]


@dataclass(frozen=True)
class TableSchema:
    """A table: file name, columns (in order), key columns and row rules."""

    name: str
    file: str  # path relative to the question folder (or to data/ for global tables)
    columns: tuple[Column, ...]
    key: tuple[str, ...] = ()  # columns that together identify a row
    row_rules: tuple[RowRule, ...] = field(default=())
    raw: bool = False  # kept byte-identical as received; never edited

    def column(self, name: str) -> Column:
        for column in self.columns:
            if column.name == name:
                return column
        raise KeyError(name)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(column.name for column in self.columns)


# ----------------------------------------------------------------------------- helpers of rules

def _num(row: dict[str, str], name: str) -> float | None:
    """The number in a column, or None when empty or unreadable (reported by the column check)."""
    text = row.get(name, "")
    if text == "":
        return None
    try:
        return printed_value(text)
    except ValueError:
        return None


def _require(row: dict[str, str], names: tuple[str, ...], why: str) -> list[RowIssue]:
    return [RowIssue(name, f"required when {why}") for name in names if row.get(name, "") == ""]


def _ci_rule(estimate: str, low: str = "ci_low", high: str = "ci_high") -> RowRule:
    """The printed CI must be ordered and contain its printed estimate."""
    def rule(row: dict[str, str]) -> list[RowIssue]:
        value, lo, hi = _num(row, estimate), _num(row, low), _num(row, high)
        if value is None or lo is None or hi is None:
            return []
        if lo > hi:
            return [RowIssue(low, f"{low} {row[low]} is above {high} {row[high]}")]
        if not lo <= value <= hi:
            return [RowIssue(estimate, f"{estimate} {row[estimate]} is outside its CI "
                                       f"({row[low]} to {row[high]})")]
        return []
    return rule


def _events_rule(events: str, total: str) -> RowRule:
    def rule(row: dict[str, str]) -> list[RowIssue]:
        e, n = _num(row, events), _num(row, total)
        if e is not None and n is not None and e > n:
            return [RowIssue(events, f"{events} {row[events]} is more than {total} {row[total]}")]
        return []
    return rule


def _pct_matches_events(pct: str, events: str, total: str) -> RowRule:
    """A printed percentage must equal events/total to the precision it is printed with."""
    def rule(row: dict[str, str]) -> list[RowIssue]:
        p, e, n = _num(row, pct), _num(row, events), _num(row, total)
        if p is None or e is None or n is None or n <= 0 or e > n:
            return []
        decimals = len(row[pct].split(".")[1]) if "." in row[pct] else 0
        exact = 100.0 * e / n
        if abs(exact - p) > 0.5 * 10 ** (-decimals) + 1e-9:
            return [RowIssue(pct, f"{pct} {row[pct]} disagrees with {events}/{total} = "
                                  f"{row[events]}/{row[total]} = {exact:.{decimals + 2}f}%")]
        return []
    return rule


def _either(*names: str) -> RowRule:
    def rule(row: dict[str, str]) -> list[RowIssue]:
        if all(row.get(name, "") == "" for name in names):
            return [RowIssue(names[0], f"one of {', '.join(names)} is required (the source)")]
        return []
    return rule


def _statistic_rule(requirements: dict[str, tuple[str, ...]]) -> RowRule:
    def rule(row: dict[str, str]) -> list[RowIssue]:
        kind = row.get("statistic_type", "")
        if kind not in requirements:
            return []  # the vocabulary check reports it
        return _require(row, requirements[kind], f"statistic_type is {kind}")
    return rule


def _positive_ratio(*names: str) -> RowRule:
    def rule(row: dict[str, str]) -> list[RowIssue]:
        return [RowIssue(name, f"{name} {row[name]} must be > 0 (a ratio)")
                for name in names if (_num(row, name) is not None and _num(row, name) <= 0)]
    return rule


def _swap_rule(row: dict[str, str]) -> list[RowIssue]:
    if row.get("scenario_action") == "swap_comparison":
        return _require(row, ("comparison_used", "comparison_alternative"),
                        "scenario_action is swap_comparison")
    issues = []
    for name in ("comparison_used", "comparison_alternative"):
        if row.get(name, ""):
            issues.append(RowIssue(name, "must be empty unless scenario_action is swap_comparison"))
    return issues


def _reason_rule(row: dict[str, str]) -> list[RowIssue]:
    decision, reason = row.get("decision", ""), row.get("reason", "")
    if decision in ("exclude", "awaiting_full_text") and reason == "":
        return [RowIssue("reason", f"required when decision is {decision}")]
    if decision == "include" and reason != "":
        return [RowIssue("reason", "must be empty when decision is include")]
    if decision == "awaiting_full_text" and row.get("stage") != "full_text":
        return [RowIssue("decision", "awaiting_full_text is a full_text decision")]
    return []


def _first_occurrence_flag(row: dict[str, str]) -> list[RowIssue]:
    same = row.get("record_id") == row.get("first_occurrence_record_id")
    flag = row.get("is_first_occurrence", "")
    if flag in ("yes", "no") and (flag == "yes") != same:
        return [RowIssue("is_first_occurrence",
                         f"is {flag}, but first_occurrence_record_id is "
                         f"{row.get('first_occurrence_record_id')}")]
    return []


# ----------------------------------------------------------------------------- vocabularies

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

YES_NO = ("yes", "no")
ADJUSTED = ("yes", "no", "not stated")
Q2_INTERVENTION_TYPES = (
    "positive emotion infusion",
    "information support/psychoeducation/public service announcements",
    "mental contrasting with implementation intentions",
    "self-perspective",
    "telephone care management",
    "health information feedback",
    "depression follow-up monitoring",
    "others",
)

# ----------------------------------------------------------------------------- raw tables

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
    Column("format", required=True,
           allowed=("index_hits", "ris", "nbib", "bibtex", "scopus_csv", "wos_csv", "wos_tab")),
    Column("note"),
), key=("search_id",))

DEDUP_MAP = TableSchema("dedup_map", "dedup_map.csv", (
    Column("record_id", "id", required=True, unique=True, pattern=r"R\d{4}"),
    Column("first_occurrence_record_id", "id", required=True, pattern=r"R\d{4}"),
    Column("is_first_occurrence", "yesno", required=True),
), key=("record_id",), row_rules=(_first_occurrence_flag,), raw=True)

# ----------------------------------------------------------------------------- edited tables


def _screening(question: str) -> TableSchema:
    return TableSchema("screening", "screening.csv", (
        Column("record_id", "id", required=True, pattern=RECORD_ID),
        Column("stage", required=True, allowed=("title_abstract", "full_text")),
        Column("reviewer", "id", required=True, pattern=r"reviewer_\d+|consensus"),
        Column("decision", required=True, allowed=("include", "exclude", "awaiting_full_text")),
        Column("reason"),  # checked against screening_reasons.csv (see validate)
        Column("note"),
    ), key=("record_id", "stage", "reviewer"), row_rules=(_reason_rule,))


STUDIES = TableSchema("studies", "studies.csv", (
    Column("study_id", "id", required=True, unique=True, pattern=r"[A-Z][A-Za-z]+\d{4}[a-z]?"),
    Column("label", required=True, unique=True),
    Column("first_author", required=True),
    Column("year", "year", required=True),
    Column("title", required=True),
    Column("journal", required=True),
    Column("doi", "doi"),
    Column("record_id", "id", required=True, pattern=RECORD_ID),
    Column("design", required=True),
    Column("population", required=True),
    Column("country", required=True),
    Column("bib_key", "id", required=True),
), key=("study_id",))

Q1_EXTRACTION = TableSchema("extraction", "extraction.csv", (
    Column("extraction_id", "id", required=True, unique=True, pattern=r"E\d{2,}"),
    Column("study_id", "id", required=True),
    Column("comparison_id", "id", required=True),
    Column("outcome_id", required=True, allowed=("depression_webhelp", "webhelp_empowerment")),
    Column("help_seeking_form", required=True,
           allowed=("online_support_groups", "internet_and_self_help", "online_counselling",
                    "general", "mixed")),
    Column("record_id", "id", required=True, pattern=RECORD_ID),
    Column("doi", "doi"),
    Column("url", "url"),
    Column("population", required=True),
    Column("n", "int", low=0, low_open=True),
    Column("depression_measure", required=True),
    Column("exposure", required=True),
    Column("statistic_type", required=True,
           allowed=("chi2", "OR_CI", "r", "t", "F", "means_sds", "beta")),
    Column("r", "printed", low=-1, high=1, low_open=True, high_open=True, in_excerpt=True),
    Column("or_value", "printed", low=0, low_open=True, in_excerpt=True),
    Column("ci_low", "printed", in_excerpt=True),
    Column("ci_high", "printed", in_excerpt=True),
    Column("m1", "printed", in_excerpt=True),
    Column("sd1", "printed", low=0, low_open=True, in_excerpt=True),
    Column("n1", "int", low=0, low_open=True),
    Column("m2", "printed", in_excerpt=True),
    Column("sd2", "printed", low=0, low_open=True, in_excerpt=True),
    Column("n2", "int", low=0, low_open=True),
    Column("t", "printed", in_excerpt=True),
    Column("df", "printed", low=0, low_open=True),
    Column("f", "printed", low=0, in_excerpt=True),
    Column("chi2", "printed", low=0, in_excerpt=True),
    Column("chi2_df", "int", low=0, low_open=True),
    Column("chi2_n", "int", low=0, low_open=True),
    Column("p_value", "printed_p", in_excerpt=True),
    Column("pct_group1", "printed", low=0, high=100, in_excerpt=True),
    Column("pct_group2", "printed", low=0, high=100, in_excerpt=True),
    Column("direction", required=True, allowed=("positive", "negative")),
    Column("direction_note", required=True),
    Column("adjusted", required=True, allowed=ADJUSTED),
    Column("adjustment_note"),
    Column("depression_combined_with_anxiety", "yesno", required=True),
    Column("secondary_source", "yesno", required=True),
    Column("possible_sample_overlap", "ids"),
    Column("generation"),
    Column("excerpt", required=True),
    Column("notes"),
), key=("study_id", "comparison_id", "outcome_id"), row_rules=(
    _either("doi", "url"),
    _statistic_rule({
        "chi2": ("chi2", "chi2_df", "chi2_n"),
        "OR_CI": ("or_value", "ci_low", "ci_high"),
        "r": ("r", "n"),
        "t": ("t", "n1", "n2"),
        "F": ("f", "df", "n1", "n2"),
        "means_sds": ("m1", "sd1", "n1", "m2", "sd2", "n2"),
        "beta": ("r", "n"),
    }),
    _ci_rule("or_value"),
    _positive_ratio("ci_low", "ci_high"),
))

Q2_EXTRACTION = TableSchema("extraction", "extraction.csv", (
    Column("extraction_id", "id", required=True, unique=True, pattern=r"E\d{2,}"),
    Column("study_id", "id", required=True),
    Column("comparison_id", "id", required=True),
    Column("arm_group", "id", required=True),
    Column("record_id", "id", required=True, pattern=RECORD_ID),
    Column("doi", "doi"),
    Column("url", "url"),
    Column("population", required=True),
    Column("intervention_type", required=True, allowed=Q2_INTERVENTION_TYPES),
    Column("intervention", required=True),
    Column("control", required=True),
    Column("outcome", required=True, allowed=("behaviour", "intentions", "attitudes", "stigma")),
    Column("instrument", required=True),
    Column("timepoint", required=True),
    Column("timepoint_group", required=True, allowed=("post", "follow_up")),
    Column("statistic_type", required=True,
           allowed=("events", "percentages_rd_ci", "percentages_only", "d_secondary", "d_ci",
                    "means_sds", "t", "F", "or_ci", "rr_ci")),
    Column("n_t", "int", low=0, low_open=True, in_excerpt=True),
    Column("n_c", "int", low=0, low_open=True, in_excerpt=True),
    Column("m_t", "printed", in_excerpt=True),
    Column("sd_t", "printed", low=0, low_open=True, in_excerpt=True),
    Column("m_c", "printed", in_excerpt=True),
    Column("sd_c", "printed", low=0, low_open=True, in_excerpt=True),
    Column("events_t", "int", low=0, in_excerpt=True),
    Column("events_c", "int", low=0, in_excerpt=True),
    Column("pct_t", "printed", low=0, high=100, in_excerpt=True),
    Column("pct_c", "printed", low=0, high=100, in_excerpt=True),
    Column("or_value", "printed", low=0, low_open=True, in_excerpt=True),
    Column("rr_value", "printed", low=0, low_open=True, in_excerpt=True),
    Column("rd_value", "printed", low=-100, high=100, in_excerpt=True),
    Column("rd_unit", allowed=("percentage_points", "proportion")),
    Column("ci_low", "printed", in_excerpt=True),
    Column("ci_high", "printed", in_excerpt=True),
    Column("t", "printed", in_excerpt=True),
    Column("F", "printed", low=0, in_excerpt=True),
    Column("df1", "int", low=0, low_open=True),
    Column("df2", "int", low=0, low_open=True),
    Column("d", "printed", in_excerpt=True),
    Column("p", "printed_p", in_excerpt=True),
    Column("total_n", "int", low=0, low_open=True),
    Column("adjusted", required=True, allowed=ADJUSTED),
    Column("secondary_source", "yesno", required=True),
    Column("possible_sample_overlap", "ids"),
    Column("excerpt", required=True),
    Column("note"),
), key=("study_id", "comparison_id", "outcome", "timepoint_group"), row_rules=(
    _either("doi", "url"),
    _statistic_rule({
        "events": ("n_t", "n_c", "events_t", "events_c"),
        "percentages_rd_ci": ("pct_t", "pct_c", "rd_value", "rd_unit", "ci_low", "ci_high"),
        "percentages_only": ("pct_t", "pct_c"),
        "d_secondary": ("d", "n_t", "n_c"),
        "d_ci": ("d", "ci_low", "ci_high"),
        "means_sds": ("m_t", "sd_t", "n_t", "m_c", "sd_c", "n_c"),
        "t": ("t", "n_t", "n_c"),
        "F": ("F", "df1", "df2", "n_t", "n_c"),
        "or_ci": ("or_value", "ci_low", "ci_high"),
        "rr_ci": ("rr_value", "ci_low", "ci_high"),
    }),
    _events_rule("events_t", "n_t"),
    _events_rule("events_c", "n_c"),
    _pct_matches_events("pct_t", "events_t", "n_t"),
    _pct_matches_events("pct_c", "events_c", "n_c"),
    _ci_rule("or_value"), _ci_rule("rr_value"), _ci_rule("rd_value"), _ci_rule("d"),
))

ASSUMPTIONS = TableSchema("assumptions", "assumptions.csv", (
    Column("assumption_id", "id", required=True, unique=True, pattern=r"[a-z][a-z0-9_]*"),
    Column("description", required=True),
    Column("studies", "ids", required=True),
    Column("rationale", required=True),
    Column("scenario_action", required=True,
           allowed=("drop_studies", "split_shared_control", "swap_comparison")),
    Column("comparison_used", "id"),
    Column("comparison_alternative", "id"),
), key=("assumption_id",), row_rules=(_swap_rule,))

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

PUBLISHED = TableSchema("published_syntheses", "published_syntheses.csv", (
    Column("synthesis_id", "id", required=True, unique=True),
    Column("review", required=True),
    Column("doi", "doi", required=True),
    Column("outcome", required=True),
    Column("comparison"),
    Column("timepoint"),
    Column("measure", allowed=("r", "OR", "RR", "SMD", "MD")),
    Column("estimate", "printed", in_excerpt=True),
    Column("ci_low", "printed", in_excerpt=True),
    Column("ci_high", "printed", in_excerpt=True),
    Column("p_reported", "printed_p", in_excerpt=True),
    Column("k_reported", "int", low=0),
    Column("n_reported", "int", low=0, low_open=True),
    Column("excerpt", required=True),
), key=("synthesis_id",), row_rules=(
    _ci_rule("estimate"),
    lambda row: _require(row, ("measure",), "an estimate is printed") if row.get("estimate") else [],
    lambda row: (_positive_ratio("estimate", "ci_low", "ci_high")(row)
                 if row.get("measure") in ("OR", "RR") else []),
    lambda row: ([RowIssue("estimate", f"a correlation must lie in (-1, 1), not {row['estimate']}")]
                 if row.get("measure") == "r" and _num(row, "estimate") is not None
                 and not -1 < _num(row, "estimate") < 1 else []),
))

# Every table of a question folder, in the order they are checked (raw tables first).
TABLES: tuple[str, ...] = ("queries", "records", "searches", "dedup_map", "screening", "studies",
                           "extraction", "assumptions", "awaiting_full_text")
GLOBAL_TABLES: tuple[str, ...] = ("published_syntheses", "screening_reasons")


def schema_for(question: str | None, table: str) -> TableSchema:
    """The schema of one table; ``question`` None for the tables directly under data/."""
    if question is None:
        if table == "published_syntheses":
            return PUBLISHED
        if table == "screening_reasons":
            return SCREENING_REASONS_TABLE
        raise KeyError(f"unknown table {table!r} (tables under data/: {', '.join(GLOBAL_TABLES)})")
    folder = question_folder(question)
    fixed = {"queries": QUERIES, "records": RECORDS, "searches": SEARCHES,
             "dedup_map": DEDUP_MAP, "studies": STUDIES,
             "assumptions": ASSUMPTIONS, "awaiting_full_text": AWAITING}
    if table in fixed:
        return fixed[table]
    if table == "screening":
        return _screening(folder)
    if table == "extraction":
        return Q1_EXTRACTION if folder == "q1_webhelp" else Q2_EXTRACTION
    raise KeyError(f"unknown table {table!r}; known: {', '.join(TABLES)}")


def is_finite(value: float) -> bool:
    return not (math.isnan(value) or math.isinf(value))


# ----------------------------------------------------------------------------- engine tables
# Priors and thresholds of the small-k inference panel (analysis.panel reads them).

def _prior_parameters(row: dict[str, str]) -> list[RowIssue]:
    needs = {"half_normal": ("scale",), "half_cauchy": ("scale",), "uniform": (),
             "log_normal": ("location", "scale"), "log_t": ("location", "scale", "df")}
    names = needs.get(row.get("distribution", ""), ())
    issues = _require(row, names, f"the distribution is {row.get('distribution')}")
    if row.get("distribution") in ("log_normal", "log_t") and row.get("parameter") != "tau2":
        issues.append(RowIssue("parameter", "log-normal and log-t priors are stated for tau2 "
                                            "(as Turner et al. 2015 and Rhodes et al. 2015 give them)"))
    return issues


PRIORS = TableSchema("priors", "priors.csv", (
    Column("prior_id", "id", required=True, unique=True),
    Column("parameter", required=True, allowed=("tau", "tau2")),
    Column("distribution", required=True,
           allowed=("half_normal", "half_cauchy", "uniform", "log_normal", "log_t")),
    Column("location", "number"),
    Column("scale", "number", low=0, low_open=True),
    Column("df", "number", low=0, low_open=True),
    Column("measure", required=True, allowed=("ZCOR", "logOR", "SMD")),
    Column("outcome_type", required=True),
    Column("comparison_type", required=True),
    Column("role", required=True, allowed=("weakly_informative", "heavy_tailed", "reference", "empirical")),
    Column("source", required=True),
    Column("source_location", required=True),
    Column("source_excerpt", required=True),
    Column("excerpt_from", required=True),
    Column("rationale", required=True),
), key=("prior_id",), row_rules=(_prior_parameters,))

THRESHOLDS = TableSchema("thresholds", "thresholds.csv", (
    Column("question", required=True, allowed=tuple(QUESTIONS)),
    Column("outcome", "id", required=True),
    Column("measure", required=True, allowed=("ZCOR", "logOR", "SMD")),
    Column("null", "number", required=True),
    Column("direction", required=True, allowed=("positive", "negative")),
    Column("mid", "number", required=True, low=0, low_open=True),
    Column("mid_scale", required=True, allowed=("analysis", "r", "SMD")),
    Column("source", required=True),
    Column("rationale", required=True),
), key=("question", "outcome"))

ENGINE_TABLES: dict[str, TableSchema] = {"priors": PRIORS, "thresholds": THRESHOLDS}
