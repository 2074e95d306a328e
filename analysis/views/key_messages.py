"""Key messages, abstract and authors' conclusions: sentences generated from the results.

Every sentence leads with the certainty of the evidence and is worded as GRADE's informative
statements word it (Santesso et al. 2020, J Clin Epidemiol 119:126-135, table 2): "The evidence
is very uncertain about ..." (very low), "... may ..." (low), "... probably ..." (moderate),
"..." (high); an interval that includes no effect reads as "little to no difference" or "little
to no association". Nothing here is typed per release: change the data and the words follow.
"""
from __future__ import annotations

from dataclasses import dataclass

from analysis.measures import measure
from analysis.questions import analyses_of, question as registry_question
from .number_format import fmt_ci, fmt_num, plain
from .pooled_results import participants_phrase

__all__ = ["Finding", "finding", "key_message", "abstract_results", "authors_conclusions"]

# GRADE's hedges by certainty (Santesso et al. 2020, table 2)
_THERE = {"high": "There is", "moderate": "There is probably", "low": "There may be"}
_VERB = {"high": "", "moderate": "probably ", "low": "may "}


def _lower_first(text: str) -> str:
    return text if text[1:2].isupper() else text[:1].lower() + text[1:]


@dataclass(frozen=True)
class Finding:
    """What one outcome shows, in the pieces a sentence needs."""

    question: str
    outcome: str
    label: str
    k: int
    pooled: bool
    effect: str  # "OR 2.88, 95% CI 1.56 to 5.34" or "" without studies
    size: str  # "5 studies, N = 15,311"
    direction: str  # "positive", "negative", "none" (the interval includes no effect), "no data"
    certainty: str | None  # "high" ... "very low", None when not assessed


def _certainty_of(question: str, label: str) -> str | None:
    from analysis.evidence import grade
    from analysis import review

    table = review.current().question(question).grade
    rows = table[table["outcome"] == label]
    if rows.empty:
        return None
    level = grade.certainty_level(rows.iloc[0].to_dict())
    return grade.CERTAINTY_WORDS.get(level) if level else None


def finding(question: str, outcome: str) -> Finding:
    """The primary result of one outcome with its certainty."""
    from analysis import review

    part = review.current().question(question)
    pooled = part.pooled(outcome)
    row = pooled.row
    k = int(row["k"] or 0)
    estimate, low, high = (plain(row.get(key)) for key in ("estimate", "ci_low", "ci_high"))
    null = measure(pooled.scale).null
    if k == 0 or estimate is None:
        direction, effect = "no data", ""
    else:
        effect = f"{row['measure']} {fmt_num(estimate)}, 95% CI {fmt_ci(low, high)}"
        if low is not None and high is not None and low <= null <= high:
            direction = "none"
        else:
            direction = "positive" if estimate > null else "negative"
    studies = "1 study" if k == 1 else f"{k} studies"
    return Finding(part.question.id, pooled.spec.outcome, pooled.spec.label, k, bool(row["pooled"]),
                   effect, studies + participants_phrase(row), direction,
                   _certainty_of(question, pooled.spec.label) if k else None)


def _about(found: Finding) -> str:
    label = _lower_first(found.label)
    if found.question == "q2":
        return f"the effect of the interventions on {label}"
    return f"the association between {label}"


def _statement(found: Finding) -> str:
    """One GRADE informative statement with its numbers in brackets."""
    if found.direction == "no data":
        return f"No study in this version reports {_lower_first(found.label)}."
    numbers = f"({found.effect}; {found.size})"
    if found.certainty in (None, "very low"):
        lead = "The evidence is very uncertain" if found.certainty else "The evidence has not been rated"
        return f"{lead} about {_about(found)} {numbers}."
    label = _lower_first(found.label)
    if found.question == "q2":
        verb = {"positive": "increase", "negative": "reduce", "none": "make little to no difference to"}
        return f"The interventions {_VERB[found.certainty]}{verb[found.direction]} {label} {numbers}."
    kind = {"positive": "a positive", "negative": "a negative", "none": "little to no"}[found.direction]
    return f"{_THERE[found.certainty]} {kind} association between {label} {numbers}."


def key_message(question: str) -> str:
    """One sentence for a question's main outcome that leads with its certainty, and how much
    of the eligible evidence it rests on."""
    from analysis import review

    main = analyses_of(question)[0]
    found = finding(question, main.outcome)
    part = review.current().question(question)
    counts = part.counts
    certainty = f"{found.certainty.capitalize()} certainty. " if found.certainty else ""
    eligible = max(counts.get("previous_studies", 0), part.included_studies)
    awaiting = counts["reports_not_retrieved"]
    scope = (f" {part.included_studies} of at least {eligible} eligible studies could be analysed; "
             f"{awaiting} more reports await their full text.")
    return f"{certainty}{_statement(found)}{scope}"


def abstract_results(question: str) -> list[str]:
    """One sentence per outcome of a question, each leading with its certainty."""
    sentences = []
    for spec in analyses_of(question):
        found = finding(question, spec.outcome)
        if found.direction == "no data":
            sentences.append(f"{spec.label}: no study yet.")
            continue
        lead = f"{found.certainty} certainty" if found.certainty else "certainty not rated"
        sentences.append(f"{spec.label} ({lead}): {_statement(found)}")
    return sentences


def authors_conclusions() -> list[str]:
    """What the review can and cannot say, per question, from the findings and their certainty."""
    conclusions = []
    for entry in (registry_question("q1"), registry_question("q2")):
        main = analyses_of(entry.id)[0]
        found = finding(entry.id, main.outcome)
        if found.certainty in (None, "very low", "low"):
            conclusions.append(
                f"{entry.label}: the evidence rebuilt from reports that print their numbers is too "
                f"{'uncertain' if found.certainty != 'low' else 'limited'} to draw a conclusion "
                f"({found.certainty or 'not rated'} certainty, {found.size}); the reports awaiting "
                f"their full text are the first task of the next update.")
        else:
            conclusions.append(f"{entry.label}: {_statement(found)}")
    return conclusions
