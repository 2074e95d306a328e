"""GRADE imprecision and inconsistency computed from the numbers, and the footnoted summary.

Imprecision and inconsistency follow from the pooled numbers, so they are computed here, never
typed. ``grade.csv`` keeps the author's judgement and words for them: the judgement must equal the
computed one, and the words may add to the computed reason but not contradict it
(:func:`grade_contradictions`; a test holds the review's tables to it). Each factor is counted
once: when inconsistency is rated down, imprecision is judged on the common-effect interval, which
carries no between-study variance (GRADE does not rate down twice for one concern; Guyatt et al.
2011, GRADE guidelines 6 and 7, J Clin Epidemiol 64:1283 and 64:1294).
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from analysis import review
from analysis.io.problems import Problem

from analysis.evidence.grade import (DOMAINS, _has_studies, _number, _text, certainty, certainty_level,
                                     load_grade_table, summary_of_findings)

__all__ = ["IMPRECISION_THRESHOLDS", "optimal_information_size", "ComputedJudgement",
           "judge_imprecision", "judge_inconsistency", "computed_judgements",
           "grade_contradictions", "GradeSummary", "grade_summary"]

# The smallest effect worth detecting on each reader's scale: Cohen's "small" (d = 0.2, r = 0.1;
# Cohen 1988) and the odds ratio that the Hasselblad-Hedges conversion equates with d = 0.2
# (exp(0.2 pi / sqrt(3)) = 1.437; Chinn 2000, Stat Med 19:3127).
IMPRECISION_THRESHOLDS: dict[str, float] = {
    "SMD": 0.2, "r": 0.1, "OR": math.exp(0.2 * math.pi / math.sqrt(3)),
}
_Z_ALPHA, _Z_POWER = 1.959963984540054, 0.8416212335729143  # two-sided 5%, power 80%
I2_SERIOUS, I2_VERY_SERIOUS = 50.0, 75.0  # Handbook v6.4 sec. 10.10.2: "substantial", "considerable"


def optimal_information_size(measure: str) -> int:
    """Participants a single trial or survey needs to detect the threshold effect with 80% power
    at two-sided alpha = .05 (GRADE guidelines 6, Guyatt et al. 2011, J Clin Epidemiol 64:1283).

    SMD (and OR through d): N = 4 (z_a + z_b)^2 / d^2, two equal groups; r: N = ((z_a + z_b) /
    atanh(r))^2 + 3 (Fisher z).
    """
    power = (_Z_ALPHA + _Z_POWER) ** 2
    if measure == "r":
        return math.ceil(power / math.atanh(IMPRECISION_THRESHOLDS["r"]) ** 2 + 3)
    if measure in ("SMD", "OR"):
        return math.ceil(4 * power / 0.2 ** 2)
    raise ValueError(f"no optimal information size for measure {measure!r}")


def _null(measure: str) -> float:
    return 1.0 if measure in ("OR", "RR") else 0.0


def _fmt(measure: str, value: float) -> str:
    return _number(value, 2)


@dataclass(frozen=True)
class ComputedJudgement:
    """One GRADE domain judged from the numbers: judgement, reason, and the facts used."""

    domain: str
    judgement: str
    reason: str
    facts: dict


def judge_imprecision(measure: str, ci_low: float, ci_high: float, n: int | None,
                      n_unknown: int = 0, *, spread_counted: bool = False) -> ComputedJudgement:
    """Imprecision from the 95% CI against the null and the threshold, and N against the OIS.

    very serious: the CI includes both an appreciable benefit and an appreciable harm (beyond the
    threshold on each side of the null); serious: the CI includes the null, or N is below the
    optimal information size; not serious otherwise. ``spread_counted``: the CI given is the
    common-effect one because inconsistency is already rated down (each factor counted once).
    """
    null = _null(measure)
    threshold = IMPRECISION_THRESHOLDS[measure]
    low_threshold, high_threshold = ((1 / threshold, threshold) if measure == "OR"
                                     else (-threshold, threshold))
    includes_null = ci_low <= null <= ci_high
    both_ways = ci_low < low_threshold and ci_high > high_threshold
    ois = optimal_information_size(measure)
    below_ois = n is not None and n < ois
    interval = f"{measure} {_fmt(measure, ci_low)} to {_fmt(measure, ci_high)}"
    which = "common-effect 95% CI (between-study spread is judged under inconsistency)" \
        if spread_counted else "95% CI"
    parts = [f"The {which} ({interval}) {'includes' if includes_null else 'excludes'} no effect "
             f"({measure} {null:g})"]
    if both_ways:
        parts.append(f"and reaches appreciable effects in both directions (beyond {measure} "
                     f"{_fmt(measure, low_threshold)} and {_fmt(measure, high_threshold)})")
    size = "not printed" if n is None else f"{n:,}"
    lower_bound = f" (a lower bound: {n_unknown} stud{'y does' if n_unknown == 1 else 'ies do'} not print N)" \
        if n_unknown and n is not None else ""
    parts.append(f"; N = {size}{lower_bound} against an optimal information size of {ois:,} "
                 f"(to detect {measure} {_fmt(measure, high_threshold)} with 80% power at "
                 f"two-sided alpha .05)")
    judgement = ("very serious" if both_ways else
                 "serious" if includes_null or below_ois else "not serious")
    facts = {"includes_null": includes_null, "both_ways": both_ways, "ois": ois, "n": n,
             "below_ois": below_ois, "ci_low": ci_low, "ci_high": ci_high,
             "common_effect_ci": spread_counted}
    return ComputedJudgement("imprecision", judgement, "".join(parts).replace(" ;", ";") + ".", facts)


def judge_inconsistency(measure: str, yi: Any, vi: Any, i2: float | None,
                        pi_low: float | None, pi_high: float | None, ci_low: float | None,
                        ci_high: float | None) -> ComputedJudgement:
    """Inconsistency from I², the t(k - 2) prediction interval and the overlap of study CIs.

    All inputs on the reader's scale except ``yi``/``vi`` (analysis scale; only their CIs'
    overlap and signs are used). k = 1: not assessable, not rated down. serious: I² >= 50%, or
    two studies' 95% CIs do not overlap, or the prediction interval includes no effect while the
    CI excludes it; very serious: I² >= 75% with study estimates on both sides of no effect.
    """
    yi = np.asarray(yi, float)
    vi = np.asarray(vi, float)
    k = int(yi.size)
    if k < 2:
        return ComputedJudgement("inconsistency", "not serious",
                                 "A single study: inconsistency cannot be assessed.",
                                 {"k": k})
    half = _Z_ALPHA * np.sqrt(vi)
    lows, highs = yi - half, yi + half
    disjoint = bool(lows.max() > highs.min())
    both_sides = bool((yi > 0).any() and (yi < 0).any())
    null = _null(measure)
    pi_crosses = (pi_low is not None and pi_high is not None and pi_low <= null <= pi_high
                  and ci_low is not None and not (ci_low <= null <= ci_high))
    parts = [f"I² = {i2:.0f}%" if i2 is not None else "I² not estimable"]
    parts.append("some studies' 95% CIs do not overlap" if disjoint
                 else "every two studies' 95% CIs overlap")
    if pi_low is not None:
        parts.append(f"the prediction interval ({measure} {_fmt(measure, pi_low)} to "
                     f"{_fmt(measure, pi_high)}, t(k - 2)) "
                     f"{'includes' if pi_low <= null <= pi_high else 'excludes'} no effect")
    else:
        parts.append("no prediction interval (k < 3)")
    parts.append("study estimates lie on both sides of no effect" if both_sides
                 else "every study estimate lies on the same side of no effect")
    i2_value = -1.0 if i2 is None else float(i2)
    judgement = ("very serious" if i2_value >= I2_VERY_SERIOUS and both_sides else
                 "serious" if i2_value >= I2_SERIOUS or disjoint or pi_crosses else "not serious")
    reason = "; ".join(parts) + "."
    return ComputedJudgement("inconsistency", judgement, reason[0].upper() + reason[1:],
                             {"k": k, "i2": i2, "disjoint": disjoint, "both_sides": both_sides,
                              "pi_crosses": pi_crosses})


def computed_judgements(question: str) -> pd.DataFrame:
    """Imprecision and inconsistency of every outcome with studies, computed from its analysis.

    Columns: outcome, domain, judgement (computed), reason (computed), author_judgement,
    author_reason (grade.csv), agrees (bool). The analysis of an outcome is the entry of
    ``synthesis.ANALYSES`` whose label is the grade row's outcome.
    """
    from analysis.pooling import display_rules, synthesis
    from analysis import measures
    from analysis.engine.meta_analysis import meta_analysis

    table = load_grade_table(question)
    labels = {spec.label: spec for spec in synthesis.ANALYSES
              if spec.question == _question_id(question)}
    records = []
    for row in table.to_dict("records"):
        if not _has_studies(row) or row["outcome"] not in labels:
            continue
        spec = labels[row["outcome"]]
        result = review.current().pooled(spec.question, spec.outcome).as_dict()
        rows = result["effect_sizes"]
        back = measures.measure(spec.analysis_measure).back_transform
        measure = result["measure"]
        inconsistency = _inconsistency_of(result, rows, back, measure, display_rules)
        spread = inconsistency.judgement != "not serious" and len(rows) >= 2
        low, high = result["ci_low"], result["ci_high"]
        if spread:
            common = meta_analysis(rows["yi"].astype(float).to_numpy(),
                                   rows["vi"].astype(float).to_numpy(), method="FE")
            low, high = back(common.ci_low), back(common.ci_high)
        imprecision = judge_imprecision(measure, low, high, result["n"], result["n_unknown"],
                                        spread_counted=spread)
        for computed in (inconsistency, imprecision):
            author = _text(row.get(computed.domain))
            records.append({"outcome": row["outcome"], "domain": computed.domain,
                            "judgement": computed.judgement, "reason": computed.reason,
                            "author_judgement": author,
                            "author_reason": _text(row.get(f"{computed.domain}_reason")),
                            "agrees": author == computed.judgement, "facts": computed.facts})
    return pd.DataFrame.from_records(records, columns=["outcome", "domain", "judgement", "reason",
                                                       "author_judgement", "author_reason",
                                                       "agrees", "facts"])


def _inconsistency_of(result: dict, rows: pd.DataFrame, back, measure: str, display_rules) -> ComputedJudgement:
    pi_low = pi_high = None
    if result["result"] is not None:
        intervals = display_rules.prediction_intervals(result["result"])
        if intervals.shown:
            pi_low, pi_high = back(intervals.shown_low), back(intervals.shown_high)
    return judge_inconsistency(measure, rows["yi"].astype(float).to_numpy(),
                               rows["vi"].astype(float).to_numpy(), result["i2"], pi_low, pi_high,
                               result["ci_low"], result["ci_high"])


def _question_id(question: str) -> str:
    return {"q1_webhelp": "q1", "q2_interventions": "q2"}.get(question, question)


# Claims an author's words can make that the computed facts decide (phrase -> fact, value).
_CHECKABLE_CLAIMS = (
    (re.compile(r"(each|every) study's own interval excludes", re.I), "every_study_excludes_null", True),
    (re.compile(r"non-overlapping|do not overlap", re.I), "disjoint", True),
    (re.compile(r"intervals overlap", re.I), "disjoint", False),
    (re.compile(r"interval (of the pooled \w+ )?(is wide enough to )?include[sd]? no", re.I), "includes_null", True),
)


def grade_contradictions(question: str) -> list[Problem]:
    """Every place where grade.csv contradicts a computed judgement or fact (empty when none).

    A contradiction is a different judgement for a computed domain, or author words that claim a
    fact the numbers deny (for example that every study's interval excludes no effect).
    """
    from analysis.pooling import synthesis

    problems = []
    computed = computed_judgements(question)
    every_excludes: dict[str, bool] = {}
    for spec in synthesis.ANALYSES:
        if spec.question != _question_id(question):
            continue
        rows = review.current().pooled(spec.question, spec.outcome).as_dict()["effect_sizes"]
        if len(rows):
            half = _Z_ALPHA * np.sqrt(rows["vi"].astype(float).to_numpy())
            yi = rows["yi"].astype(float).to_numpy()
            every_excludes[spec.label] = bool(((yi - half > 0) | (yi + half < 0)).all())
    outcome_facts: dict[str, dict] = {}
    for record in computed.to_dict("records"):
        outcome_facts.setdefault(record["outcome"], {}).update(record["facts"])
    for record in computed.to_dict("records"):
        file, where = f"{question}/grade.csv", f"outcome {record['outcome']!r}, {record['domain']}"
        if not record["agrees"]:
            problems.append(Problem(file, None, None, f"{where}: judged {record['author_judgement']!r} "
                                                      f"but the numbers give {record['judgement']!r} "
                                                      f"({record['reason']})"))
        facts = dict(outcome_facts[record["outcome"]], **record["facts"],
                     every_study_excludes_null=every_excludes.get(record["outcome"]))
        for pattern, fact, claimed in _CHECKABLE_CLAIMS:
            if pattern.search(record["author_reason"]) and fact in facts and facts[fact] is not None \
                    and bool(facts[fact]) != claimed:
                problems.append(Problem(file, None, None,
                                        f"{where}: the words {pattern.search(record['author_reason']).group(0)!r} "
                                        f"contradict the numbers ({fact} is {facts[fact]})"))
    return problems


@dataclass(frozen=True)
class GradeSummary:
    """The summary of findings with the reasons for rating down as numbered footnotes."""

    table: pd.DataFrame
    footnotes: tuple[str, ...]

    def _repr_html_(self) -> str:
        import html
        notes = "".join(f"<li>{html.escape(n)}</li>" for n in self.footnotes)
        return (self.table.to_html(index=False, escape=True, classes="summary-of-findings")
                + f'<ol class="sof-footnotes">{notes}</ol>')


def grade_summary(question: str) -> GradeSummary:
    """The summary-of-findings table of ``question``: certainty from grade.csv with imprecision
    and inconsistency computed (:func:`computed_judgements`), each reason a numbered footnote.

    Single studies are reported with their own estimate and 95% CI ("single study").
    """
    from analysis.pooling import synthesis

    grade_table = load_grade_table(question)
    computed = computed_judgements(question)
    for record in computed.to_dict("records"):
        mask = grade_table["outcome"] == record["outcome"]
        grade_table.loc[mask, record["domain"]] = record["judgement"]
        addition = record["author_reason"]
        grade_table.loc[mask, f"{record['domain']}_reason"] = (
            record["reason"] + (f" {addition}" if addition else ""))
    grade_table["certainty_level"] = pd.array(
        [certainty_level(r) for r in grade_table.to_dict("records")], dtype="Int64")
    grade_table["certainty"] = [certainty(r) for r in grade_table.to_dict("records")]
    results = review.current().primary_results.copy()
    results = results[results["question"] == _question_id(question)]
    results = results[results["outcome_label"].isin(grade_table["outcome"])]
    sof = summary_of_findings(results, grade_table)
    footnotes: list[str] = []
    reasons = []
    for judgement in grade_table.to_dict("records"):
        marks = []
        for domain, name in DOMAINS.items():
            if _text(judgement.get(domain)) in ("serious", "very serious"):
                footnotes.append(f"{name.capitalize()} ({judgement[domain]}): "
                                 f"{_text(judgement.get(domain + '_reason'))}")
                marks.append(f"{name} [{len(footnotes)}]")
        reasons.append(", ".join(marks) if marks else ("\u2014" if not _has_studies(judgement) else "none"))
    sof["Reasons for downgrading"] = reasons
    return GradeSummary(sof, tuple(footnotes))
