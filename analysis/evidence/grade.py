"""Certainty of the evidence (GRADE) and the summary-of-findings table.

The judgements live in ``data/<question>/grade.csv``, one row per outcome: the study design the
body of evidence starts from, the five reasons for rating down (risk of bias, inconsistency,
indirectness, imprecision, publication bias), each "not serious", "serious" or "very serious" with
its reason, and an optional rating up (observational evidence only). The certainty is computed
here, never typed: start at high for randomised trials and low for observational studies, go down
one level per "serious" and two per "very serious", up by ``upgrade_levels``, and stay within
very low to high (Schünemann H, Brożek J, Guyatt G, Oxman A (eds). GRADE Handbook, 2013,
sections 5.1-5.2; Guyatt GH et al. GRADE guidelines 3: rating the quality of evidence.
J Clin Epidemiol 2011;64:401-406).

An outcome that no study informs has an empty ``studies`` cell and empty judgements; it appears in
the summary of findings as "no studies".
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Mapping

import pandas as pd

from analysis.io.problems import Problem

from .judgement_tables import column_values, read_for_checking

DOMAINS: dict[str, str] = {
    "risk_of_bias": "risk of bias",
    "inconsistency": "inconsistency",
    "indirectness": "indirectness",
    "imprecision": "imprecision",
    "publication_bias": "publication bias",
}
DOWNGRADE_LEVELS = {"not serious": 0, "serious": 1, "very serious": 2}
STARTING_LEVEL = {"randomised trials": 4, "observational studies": 2}
CERTAINTY_WORDS = {4: "high", 3: "moderate", 2: "low", 1: "very low"}
# GRADE's symbols: filled circled plus for each level reached, empty circle for the rest.
CERTAINTY_SYMBOLS = {4: "⊕⊕⊕⊕", 3: "⊕⊕⊕◯", 2: "⊕⊕◯◯", 1: "⊕◯◯◯"}
NO_STUDIES = "no studies"

COLUMNS = ("outcome", "design", "studies",
           *(c for d in DOMAINS for c in (d, f"{d}_reason")),
           "upgrade_levels", "upgrade_reason", "comments")

SOF_COLUMNS = ("Outcome", "k", "Participants (N)", "Effect (95% CI)", "Certainty",
               "Reasons for downgrading", "Comments")

MEASURE_NAMES = {"OR": "OR", "RR": "RR", "RD": "RD", "SMD": "SMD", "MD": "MD", "r": "r",
                 "g": "g", "d": "d"}


class GradeError(ValueError):
    """The GRADE table breaks a rule; ``problems`` lists every one found."""

    def __init__(self, problems: list[Problem]):
        self.problems = list(problems)
        super().__init__("\n".join(str(problem) for problem in self.problems))


def _text(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return str(value).strip()


def _has_studies(row: Mapping[str, Any]) -> bool:
    return bool(_text(row.get("studies")))


def certainty_level(row: Mapping[str, Any]) -> int | None:
    """Certainty as 4 (high) .. 1 (very low); ``None`` when no study informs the outcome.

    ``row`` maps ``design``, the five domain names and optionally ``upgrade_levels``.
    """
    if not _has_studies(row):
        return None
    design = _text(row.get("design"))
    if design not in STARTING_LEVEL:
        raise ValueError(f"design {design!r} is not one of {sorted(STARTING_LEVEL)}")
    level = STARTING_LEVEL[design]
    for domain in DOMAINS:
        judgement = _text(row.get(domain))
        if judgement not in DOWNGRADE_LEVELS:
            raise ValueError(f"{domain} {judgement!r} is not one of {sorted(DOWNGRADE_LEVELS)}")
        level -= DOWNGRADE_LEVELS[judgement]
    upgrade = _text(row.get("upgrade_levels")) or "0"
    level += int(upgrade)
    return max(1, min(4, level))


def certainty(row: Mapping[str, Any]) -> str:
    """The certainty of one outcome as symbols and word, e.g. ``"⊕⊕◯◯ low"``; "no studies" when
    no study informs it."""
    level = certainty_level(row)
    if level is None:
        return NO_STUDIES
    return f"{CERTAINTY_SYMBOLS[level]} {CERTAINTY_WORDS[level]}"


def downgrade_reasons(row: Mapping[str, Any]) -> str:
    """The domains rated down, each with its reason: "Risk of bias (serious): ...; ..."."""
    parts = []
    for domain, name in DOMAINS.items():
        judgement = _text(row.get(domain))
        if judgement in ("serious", "very serious"):
            parts.append(f"{name.capitalize()} ({judgement}): {_text(row.get(f'{domain}_reason'))}")
    if _text(row.get("upgrade_levels")) not in ("", "0"):
        parts.append(f"Rated up {_text(row.get('upgrade_levels'))}: {_text(row.get('upgrade_reason'))}")
    return " ".join(p if p.endswith(".") else p + "." for p in parts) if parts else "none"


def _study_ids(question: str, root: Path) -> set[str] | None:
    return column_values(question, "extraction", "study_id", root)


def grade_problems(question: str, *, root: Path | None = None) -> list[Problem]:
    """Every problem in ``data/<question>/grade.csv`` (empty list when valid)."""
    table, problems, where, root = read_for_checking(question, "grade.csv", COLUMNS, root=root)
    if table is None:
        return problems
    known = _study_ids(question, root)
    if known is None:
        problems.append(Problem(where, None, None,
                                f"cannot check study ids, {question}/extraction.csv not found"))
    outcomes: dict[str, int] = {}
    for index, row in table.iterrows():
        line = index + 2  # header is line 1
        outcome = _text(row["outcome"])
        if not outcome:
            problems.append(Problem(where, line, "outcome", "empty"))
        elif outcome in outcomes:
            problems.append(Problem(where, line, "outcome",
                                    f"{outcome!r} already given on line {outcomes[outcome]}"))
        else:
            outcomes[outcome] = line
        design = _text(row["design"])
        if design not in STARTING_LEVEL:
            problems.append(Problem(where, line, "design", f"{design!r} is not one of "
                                                           f"{', '.join(STARTING_LEVEL)}"))
        upgrade = _text(row["upgrade_levels"]) or "0"
        if upgrade not in ("0", "1", "2"):
            problems.append(Problem(where, line, "upgrade_levels", f"{upgrade!r} is not 0, 1 or 2"))
        elif upgrade != "0":
            if design == "randomised trials":
                problems.append(Problem(where, line, "upgrade_levels", "randomised evidence is not rated up"))
            if not _text(row["upgrade_reason"]):
                problems.append(Problem(where, line, "upgrade_reason",
                                        "empty although the outcome is rated up"))
        studies = _text(row["studies"]).split()
        if not studies:
            for domain in DOMAINS:
                if _text(row[domain]):
                    problems.append(Problem(where, line, domain, f"a judgement is given but no study "
                                                                 f"informs {outcome!r} (leave it empty)"))
            if not _text(row["comments"]):
                problems.append(Problem(where, line, "comments", f"say why no study informs {outcome!r}"))
            continue
        if known is not None:
            for study in studies:
                if study not in known:
                    problems.append(Problem(where, line, "studies", f"{study!r} is not a study in "
                                                                    f"{question}/extraction.csv"))
        for domain in DOMAINS:
            judgement = _text(row[domain])
            if judgement not in DOWNGRADE_LEVELS:
                problems.append(Problem(where, line, domain, f"{judgement!r} is not one of "
                                                             f"{', '.join(DOWNGRADE_LEVELS)}"))
            if not _text(row[f"{domain}_reason"]):
                problems.append(Problem(where, line, f"{domain}_reason",
                                        "empty (every judgement needs a reason)"))
    return problems


def load_grade_table(question: str, *, root: Path | None = None) -> pd.DataFrame:
    """The validated GRADE judgements of ``question`` with the computed ``certainty_level``
    (4..1, or <NA> with no studies) and ``certainty`` (symbols and word) columns added.

    Raises :class:`GradeError` listing every problem (file, line, column) when the table is invalid.
    """
    problems = grade_problems(question, root=root)
    if problems:
        raise GradeError(problems)
    table = read_for_checking(question, "grade.csv", COLUMNS, root=root)[0]
    table = table.apply(lambda column: column.str.strip())
    table["certainty_level"] = pd.array([certainty_level(r) for r in table.to_dict("records")],
                                        dtype="Int64")
    table["certainty"] = [certainty(r) for r in table.to_dict("records")]
    return table


def _number(value: Any, digits: int) -> str:
    return f"{float(value):.{digits}f}".replace("-", "\u2212")


def format_effect(measure: str, estimate: Any, ci_low: Any, ci_high: Any, digits: int = 2) -> str:
    """"OR 2.36 (1.36 to 4.09)" on the reader's scale; the CI is omitted when not available."""
    name = MEASURE_NAMES.get(measure, measure)
    if estimate is None or pd.isna(estimate):
        return "not estimable"
    text = f"{name} {_number(estimate, digits)}"
    if ci_low is not None and ci_high is not None and not pd.isna(ci_low) and not pd.isna(ci_high):
        text += f" ({_number(ci_low, digits)} to {_number(ci_high, digits)})"
    return text


def summary_of_findings(pooled_results: pd.DataFrame, grade_table: pd.DataFrame) -> pd.DataFrame:
    """The GRADE summary-of-findings table, one row per outcome of ``grade_table``.

    ``pooled_results`` has at least the columns ``outcome, k, n, measure, estimate, ci_low,
    ci_high`` (estimate and CI already on the reader's scale: OR, r, SMD...), one row per pooled
    outcome; ``grade_table`` is :func:`load_grade_table`'s frame (or any frame with its columns).
    When ``pooled_results`` also has ``outcome_label`` (as the review's ``Review.results`` does,
    filtered to one scenario and model), outcomes are matched on it.
    Returns the columns of ``SOF_COLUMNS``. Outcomes that no study informs read "no studies";
    an outcome with studies but no pooled row or no estimate reads "not pooled".
    """
    if "outcome_label" in pooled_results.columns:
        pooled_results = pooled_results.drop(columns=["outcome"], errors="ignore").rename(
            columns={"outcome_label": "outcome"})
    needed = ("outcome", "k", "n", "measure", "estimate", "ci_low", "ci_high")
    absent = [c for c in needed if c not in pooled_results.columns]
    if absent:
        raise ValueError(f"pooled_results lacks column(s) {', '.join(absent)}")
    duplicated = pooled_results["outcome"][pooled_results["outcome"].duplicated()].tolist()
    if duplicated:
        raise ValueError(f"pooled_results has more than one row for outcome(s) {duplicated}")
    grade_outcomes = set(grade_table["outcome"])
    unknown = [o for o in pooled_results["outcome"] if o not in grade_outcomes]
    if unknown:
        raise ValueError(f"pooled_results outcome(s) {unknown} have no GRADE judgements in the "
                         f"grade table (outcomes there: {sorted(grade_outcomes)})")
    pooled = {r["outcome"]: r for r in pooled_results.to_dict("records")}
    rows = []
    for judgement in grade_table.to_dict("records"):
        outcome = judgement["outcome"]
        studies = _text(judgement.get("studies")).split()
        comments = _text(judgement.get("comments"))
        if not studies:
            rows.append((outcome, 0, "\u2014", "no studies", NO_STUDIES, "\u2014", comments))
            continue
        result = pooled.get(outcome)
        if result is None or pd.isna(result["estimate"]):
            k = len(studies) if result is None or pd.isna(result["k"]) else int(result["k"])
            n = "not reported" if result is None or pd.isna(result["n"]) else \
                f"{int(round(float(result['n']))):,}"
            effect = "not pooled"
        else:
            k = int(result["k"])
            n = "not reported" if pd.isna(result["n"]) else f"{int(round(float(result['n']))):,}"
            effect = format_effect(str(result["measure"]), result["estimate"],
                                   result["ci_low"], result["ci_high"])
            if k == 1:
                effect += " (single study)"
        rows.append((outcome, k, n, effect, certainty(judgement), downgrade_reasons(judgement), comments))
    return pd.DataFrame(rows, columns=list(SOF_COLUMNS))
