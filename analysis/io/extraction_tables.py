"""The schemas of extraction: the included studies, each question's extraction table (the
statistics as printed and what the analysis converts), the assumptions the sensitivity
scenarios vary, and the published syntheses this review is compared with.
"""
from __future__ import annotations

from .columns import (Column, RowIssue, RowRule, TableSchema, RECORD_ID, cell_number, ci_rule,
                      either, positive_ratio, require, statistic_rule)

__all__ = ["STUDIES", "Q1_EXTRACTION", "Q2_EXTRACTION", "Q2_CONVERTED", "Q2_NOT_ANALYSED",
           "Q2_INTERVENTION_TYPES", "ADJUSTED", "ASSUMPTIONS", "PUBLISHED"]

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


def _events_rule(events: str, total: str) -> RowRule:
    def rule(row: dict[str, str]) -> list[RowIssue]:
        e, n = cell_number(row, events), cell_number(row, total)
        if e is not None and n is not None and e > n:
            return [RowIssue(events, f"{events} {row[events]} is more than {total} {row[total]}")]
        return []
    return rule


def _pct_matches_events(pct: str, events: str, total: str) -> RowRule:
    """A printed percentage must equal events/total to the precision it is printed with."""
    def rule(row: dict[str, str]) -> list[RowIssue]:
        p, e, n = cell_number(row, pct), cell_number(row, events), cell_number(row, total)
        if p is None or e is None or n is None or n <= 0 or e > n:
            return []
        decimals = len(row[pct].split(".")[1]) if "." in row[pct] else 0
        exact = 100.0 * e / n
        if abs(exact - p) > 0.5 * 10 ** (-decimals) + 1e-9:
            return [RowIssue(pct, f"{pct} {row[pct]} disagrees with {events}/{total} = "
                                  f"{row[events]}/{row[total]} = {exact:.{decimals + 2}f}%")]
        return []
    return rule


def _correlation_n_rule(row: dict[str, str]) -> list[RowIssue]:
    """A correlation is pooled as Fisher's z with variance 1/(n - 3): n must be above 3."""
    column = {"r": "n", "beta": "n", "chi2": "chi2_n"}.get(row.get("statistic_type", ""))
    if column is None:
        return []
    n = cell_number(row, column)
    if n is not None and n <= 3:
        return [RowIssue(column, f"{column} {row[column]} is 3 or less: a correlation's Fisher-z "
                                 "variance 1/(n - 3) needs n > 3")]
    chi2 = cell_number(row, "chi2") if column == "chi2_n" else None
    if chi2 is not None and n is not None and chi2 > n:
        return [RowIssue("chi2", f"chi2 {row['chi2']} exceeds chi2_n {row[column]}: the phi "
                                 "correlation sqrt(chi2 / N) would be above 1")]
    return []


def _double_zero_rule(row: dict[str, str]) -> list[RowIssue]:
    """Events in neither arm (or in every participant of both) give no odds or risk ratio:
    such a table carries no information on a relative effect (Cochrane Handbook 10.4.4.2)."""
    if row.get("statistic_type") != "events":
        return []
    values = [cell_number(row, name) for name in ("events_t", "n_t", "events_c", "n_c")]
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


def _swap_rule(row: dict[str, str]) -> list[RowIssue]:
    action = row.get("scenario_action")
    issues = []
    pairs = {"swap_comparison": ("comparison_used", "comparison_alternative"),
             "swap_route": ("method_used", "method_alternative"),
             "swap_conversion": ("method_used", "method_alternative")}
    wanted = pairs.get(action, ())
    if wanted:
        issues += require(row, wanted, f"scenario_action is {action}")
    for names, actions in ((("comparison_used", "comparison_alternative"), "swap_comparison"),
                           (("method_used", "method_alternative"), "swap_route or swap_conversion")):
        for name in names:
            if name not in wanted and row.get(name, ""):
                issues.append(RowIssue(name, f"must be empty unless scenario_action is {actions}"))
    return issues



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
    either("doi", "url"),
    statistic_rule({
        "chi2": ("chi2", "chi2_df", "chi2_n"),
        "OR_CI": ("or_value", "ci_low", "ci_high"),
        "r": ("r", "n"),
        "t": ("t", "n1", "n2"),
        "F": ("f", "df", "n1", "n2"),
        "means_sds": ("m1", "sd1", "n1", "m2", "sd2", "n2"),
        "beta": ("r", "n"),
        "percentages": ("pct_group1", "pct_group2", "n", "group1_share_pct"),
    }),
    ci_rule("or_value"),
    positive_ratio("ci_low", "ci_high"),
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
    either("doi", "url"),
    _q2_convertible,
    statistic_rule({
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
    ci_rule("or_value"), ci_rule("rr_value"), ci_rule("rd_value"), ci_rule("d"),
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
    ci_rule("estimate"),
    lambda row: require(row, ("measure",), "an estimate is printed") if row.get("estimate") else [],
    lambda row: (positive_ratio("estimate", "ci_low", "ci_high")(row)
                 if row.get("measure") in ("OR", "RR") else []),
    lambda row: ([RowIssue("estimate", f"a correlation must lie in (-1, 1), not {row['estimate']}")]
                 if row.get("measure") == "r" and cell_number(row, "estimate") is not None
                 and not -1 < cell_number(row, "estimate") < 1 else []),
))
