"""The schema of every data table: columns, types, allowed values, ranges and row rules.

One :class:`TableSchema` per table. :mod:`analysis.io.validate` applies them; ``data/README.md``
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

from analysis import questions as _registry
from analysis.search.fields import FORMATS

__all__ = [
    "Column", "TableSchema", "RowIssue", "QUESTIONS", "question_folder", "printed_value",
    "p_bound", "TABLES", "GLOBAL_TABLES", "SCREENING_REASONS", "schema_for",
]

# Question id -> data folder under data/, from the registry of questions.
QUESTIONS: dict[str, str] = {entry.id: entry.folder for entry in _registry.QUESTIONS}

# A record id: R0001... for the first identification round; "<export file stem>:<position>"
# for records of later searches (analysis.search.records gives them).
RECORD_ID = r"R\d{4}|[A-Za-z0-9_.\-]+:\d+"

_PRINTED = re.compile(r"^-?(\d+(\.\d*)?|\.\d+)$")
_PRINTED_P = re.compile(r"^(<|>|<=|>=|=)?(0?\.\d+|0|1(\.0*)?)$")
_INT = re.compile(r"^-?\d+$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_DOI = re.compile(r"^10\.\d{4,9}/\S+$")
_URL = re.compile(r"^https?://\S+$")


def question_folder(question: str) -> str:
    """The data folder of a question: "q1" or "q1_webhelp" -> "q1_webhelp"."""
    return _registry.question(question).folder


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
    action = row.get("scenario_action")
    issues = []
    pairs = {"swap_comparison": ("comparison_used", "comparison_alternative"),
             "swap_route": ("method_used", "method_alternative"),
             "swap_conversion": ("method_used", "method_alternative")}
    wanted = pairs.get(action, ())
    if wanted:
        issues += _require(row, wanted, f"scenario_action is {action}")
    for names, actions in ((("comparison_used", "comparison_alternative"), "swap_comparison"),
                           (("method_used", "method_alternative"), "swap_route or swap_conversion")):
        for name in names:
            if name not in wanted and row.get(name, ""):
                issues.append(RowIssue(name, f"must be empty unless scenario_action is {actions}"))
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


def _correlation_n_rule(row: dict[str, str]) -> list[RowIssue]:
    """A correlation is pooled as Fisher's z with variance 1/(n - 3): n must be above 3."""
    column = {"r": "n", "beta": "n", "chi2": "chi2_n"}.get(row.get("statistic_type", ""))
    if column is None:
        return []
    n = _num(row, column)
    if n is not None and n <= 3:
        return [RowIssue(column, f"{column} {row[column]} is 3 or less: a correlation's Fisher-z "
                                 "variance 1/(n - 3) needs n > 3")]
    chi2 = _num(row, "chi2") if column == "chi2_n" else None
    if chi2 is not None and n is not None and chi2 > n:
        return [RowIssue("chi2", f"chi2 {row['chi2']} exceeds chi2_n {row[column]}: the phi "
                                 "correlation sqrt(chi2 / N) would be above 1")]
    return []


def _double_zero_rule(row: dict[str, str]) -> list[RowIssue]:
    """Events in neither arm (or in every participant of both) give no odds or risk ratio:
    such a table carries no information on a relative effect (Cochrane Handbook 10.4.4.2)."""
    if row.get("statistic_type") != "events":
        return []
    values = [_num(row, name) for name in ("events_t", "n_t", "events_c", "n_c")]
    if any(value is None for value in values):
        return []
    events_t, n_t, events_c, n_c = values
    if events_t == 0 and events_c == 0:
        which = "no events in either arm"
    elif events_t == n_t and events_c == n_c:
        which = "events in every participant of both arms"
    else:
        return []
    return [RowIssue("events_t", f"{which} (a double-zero table): no relative effect can be "
                                 "computed; record the study in notes instead of as an events row")]


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
    Column("format", required=True, allowed=FORMATS),
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
           allowed=("chi2", "OR_CI", "r", "t", "F", "means_sds", "beta", "percentages")),
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
    Column("group1_share_pct", "printed", low=0, high=100, low_open=True, in_excerpt=True),
    Column("group2_share_pct", "printed", low=0, high=100, low_open=True, in_excerpt=True),
    Column("age_min", "int", low=0),
    Column("age_max", "int", low=0),
    Column("data_year", "year"),
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
        "percentages": ("pct_group1", "pct_group2", "n", "group1_share_pct"),
    }),
    _ci_rule("or_value"),
    _positive_ratio("ci_low", "ci_high"),
    _correlation_n_rule,
))

# What the effect-size code converts for question 2 (analysis.evidence.extraction reads this table):
# statistic types per outcome. A row that check accepts is one the build can compute; other
# statistics are recorded with the report awaiting conversion (percentages_only is kept and
# listed as not analysed).
Q2_CONVERTED: dict[str, tuple[str, ...]] = {"behaviour": ("events", "percentages_rd_ci", "d_secondary")}
Q2_NOT_ANALYSED: tuple[str, ...] = ("percentages_only",)


def _q2_convertible(row: dict[str, str]) -> list[RowIssue]:
    kind, outcome = row.get("statistic_type", ""), row.get("outcome", "")
    if not kind or not outcome or kind in Q2_NOT_ANALYSED:
        return []
    converted = Q2_CONVERTED.get(outcome, ())
    if kind in converted:
        return []
    offered = "; ".join(f"{name}: {', '.join(kinds)}" for name, kinds in Q2_CONVERTED.items())
    return [RowIssue("statistic_type", f"{kind!r} for outcome {outcome!r} has no conversion in this "
                                       f"version of the analysis (converted: {offered}); keep the report "
                                       f"in awaiting_full_text.csv with the statistic it needs")]


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
    _q2_convertible,
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
    _double_zero_rule,
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
           allowed=("drop_studies", "split_shared_control", "swap_comparison", "swap_route",
                    "swap_conversion")),
    Column("comparison_used", "id"),
    Column("comparison_alternative", "id"),
    Column("method_used", "id"),
    Column("method_alternative", "id"),
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
    Column("analysis", pattern=r"q\d+/[a-z0-9_]+"),
    Column("association", required=True),
    Column("scope", required=True),
    Column("population", required=True),
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
GLOBAL_TABLES: tuple[str, ...] = ("published_syntheses", "screening_reasons", "living_mode",
                                  "monitoring_plan", "methods_changes")


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
             "dedup_map": DEDUP_MAP, "studies": STUDIES,
             "assumptions": ASSUMPTIONS, "awaiting_full_text": AWAITING}
    if table in fixed:
        return fixed[table]
    if table == "screening":
        return _screening(folder)
    if table == "extraction":
        return Q1_EXTRACTION if folder == "q1_webhelp" else Q2_EXTRACTION
    if table in OPTIONAL_TABLES:
        return optional_schema(folder, table)
    raise KeyError(f"unknown table {table!r}; known: {', '.join(TABLES + OPTIONAL_TABLES)}")


def is_finite(value: float) -> bool:
    return not (math.isnan(value) or math.isinf(value))


# ----------------------------------------------------------------------------- two reviewers
# Tables of the second, independent review (maintained with analysis.reviewers.reconcile): each reviewer's
# own extraction and risk-of-bias judgements, the links between the two reviewers' extraction
# rows, the reconciliation of every disagreement, and the seeded screening sample. They are
# checked when present (a review without a second reviewer has none of them).

REVIEWER_ID = r"reviewer_\d+"
RESOLVED_BY = r"reviewer_\d+( reviewer_\d+)*"
SOURCE_STATUS = ("yes", "partly", "no")
STATUS_FIELD = "source_reopened"  # per-study row: could the reviewer reopen the source?


def _independent_value_rule(question: str) -> RowRule:
    """A field of the long-form extraction must be a column of the question's extraction table,
    its value of that column's kind and vocabulary, and a printed statistic must appear in the
    row's excerpt (as in extraction.csv)."""
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
        target = Q1_EXTRACTION if question_folder(question) == "q1_webhelp" else Q2_EXTRACTION
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
            squeeze = lambda text: re.sub(r"\s+", "", text).replace("\u2212", "-").replace("\u2013", "-")
            if squeeze(value) not in squeeze(row.get("excerpt", "")):
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


def _extraction_independent(question: str) -> TableSchema:
    return TableSchema("extraction_independent", "extraction_independent.csv", (
        Column("study_id", "id", required=True),
        Column("row_key"),
        Column("field", required=True),
        Column("reviewer", "id", required=True, pattern=REVIEWER_ID),
        Column("value"),
        Column("source", "url", required=True),
        Column("excerpt"),
        Column("note"),
    ), key=("study_id", "row_key", "field", "reviewer"), row_rules=(_independent_value_rule(question),))


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
# Imprecision and inconsistency are computed from the pooled numbers (analysis.evidence.grade_computed);
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
        return _extraction_independent(question)
    if table in fixed:
        return fixed[table]
    raise KeyError(f"unknown table {table!r}; known: {', '.join(OPTIONAL_TABLES)}")


# ----------------------------------------------------------------------------- living mode

def _next_after_last(row: dict[str, str]) -> list[RowIssue]:
    status = row.get("status", "")
    if status == "retired" and not row.get("retirement_criteria"):
        return [RowIssue("retirement_criteria", "a retired source must say which criterion retired it")]
    return []


LIVING_MODE = TableSchema("living_mode", "living_mode.csv", (
    Column("question", "id", required=True, allowed=tuple(QUESTIONS)),
    Column("source", required=True),
    Column("search_frequency_months", "int", required=True, low=1, high=60),
    Column("update_triggers", required=True),
    Column("retirement_criteria", required=True),
    Column("status", required=True, allowed=("active", "paused", "retired")),
    Column("status_date", "date", required=True),
    Column("rationale", required=True),
), key=("question", "source"), row_rules=(_next_after_last,))

MONITORING_PLAN = TableSchema("monitoring_plan", "monitoring_plan.csv", (
    Column("question", "id", required=True, allowed=tuple(QUESTIONS)),
    Column("outcome", "id", required=True),
    Column("alpha", "number", required=True, low=0, high=0.5, low_open=True, high_open=True),
    Column("power", "number", required=True, low=0.5, high=1, high_open=True),
    Column("anticipated_effect", required=True, allowed=("published_estimate",)),
    Column("source", required=True),
), key=("question", "outcome"))

METHODS_CHANGES = TableSchema("methods_changes", "methods_changes.csv", (
    Column("change_id", "id", required=True, unique=True, pattern=r"M\d{3,}"),
    Column("date", "date", required=True),
    Column("section", required=True),
    Column("change", required=True),
    Column("rationale", required=True),
), key=("change_id",))

LIVING_TABLES: dict[str, TableSchema] = {
    "living_mode": LIVING_MODE, "monitoring_plan": MONITORING_PLAN,
    "methods_changes": METHODS_CHANGES,
}

# ----------------------------------------------------------------------------- engine tables
# Priors and thresholds of the small-k inference panel (analysis.pooling.panel reads them).

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
