"""The schemas of the review's plan, the tables directly under data/ that say how it is run:
living mode per question and source, the monitoring plan, the log of methods changes, and the
priors and thresholds of the small-k inference panel.
"""
from __future__ import annotations

from analysis.questions import question_ids

from .columns import Column, RowIssue, TableSchema, require

__all__ = ["LIVING_MODE", "MONITORING_PLAN", "METHODS_CHANGES", "LIVING_TABLES", "PRIORS",
           "THRESHOLDS", "ENGINE_TABLES"]

_QUESTION_IDS = tuple(question_ids())


def _next_after_last(row: dict[str, str]) -> list[RowIssue]:
    status = row.get("status", "")
    if status == "retired" and not row.get("retirement_criteria"):
        return [RowIssue("retirement_criteria", "a retired source must say which criterion retired it")]
    return []


LIVING_MODE = TableSchema("living_mode", "living_mode.csv", (
    Column("question", "id", required=True, allowed=_QUESTION_IDS),
    Column("source", required=True),
    Column("search_frequency_months", "int", required=True, low=1, high=60),
    Column("update_triggers", required=True),
    Column("retirement_criteria", required=True),
    Column("status", required=True, allowed=("active", "paused", "retired")),
    Column("status_date", "date", required=True),
    Column("rationale", required=True),
), key=("question", "source"), row_rules=(_next_after_last,))

MONITORING_PLAN = TableSchema("monitoring_plan", "monitoring_plan.csv", (
    Column("question", "id", required=True, allowed=_QUESTION_IDS),
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
    issues = require(row, names, f"the distribution is {row.get('distribution')}")
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
    Column("question", required=True, allowed=_QUESTION_IDS),
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
