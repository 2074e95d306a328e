"""The flow of records, per question, as tables and sentences: duplicates found, the PRISMA
counts, reviewers' agreement, the reports still to retrieve, and the review at a glance.
"""
from __future__ import annotations

from typing import Any

import pandas as pd

from analysis.questions import ANALYSES, QUESTIONS as REGISTRY

from .number_format import fmt_ci, fmt_num, plain

__all__ = ["QUESTIONS", "agreement_sentence", "dedup_agreement", "dedup_summary", "prisma_table",
           "retrieval_agenda", "review_overview"]


QUESTIONS = {entry.id: entry.label for entry in REGISTRY}  # "q1" -> "Question 1: ..."


def dedup_summary() -> pd.DataFrame:
    """Records, duplicates (automatic and reviewers' links) and unique records per question:
    the same counts as the PRISMA diagram."""
    from analysis import review

    rows = []
    for part in review.current().questions:
        counts = part.counts
        reasons = part.clusters.loc[part.clusters["reason"] != "", "reason"].value_counts()
        rows.append({"Question": part.question.label,
                     "Records identified": counts["records_identified"],
                     "Duplicates linked automatically": counts["duplicates_linked_automatically"],
                     "Duplicates linked by reviewers only": counts["duplicates_linked_by_reviewers"],
                     "Unique records": counts["unique_records"],
                     **{f"Links by {reason}": int(n) for reason, n in reasons.items()}})
    return pd.DataFrame(rows).fillna(0)


def retrieval_agenda(question: str | None = None) -> pd.DataFrame:
    """The reports authors should retrieve first (``awaiting_full_text.csv``, in priority order),
    each with its question and its screening status computed from the decisions: "awaiting full
    text" (not yet included) or "included; full text needed for details"."""
    from analysis import review
    from analysis.selection import screening as scr

    current = review.current()
    parts = [current.question(question)] if question else current.questions
    frames = []
    for part in parts:
        table = part.table("awaiting_full_text").drop(columns="row")
        full = scr.final_decisions(part.screening, "full_text").set_index("record_id")
        title = scr.final_decisions(part.screening, "title_abstract").set_index("record_id")
        included = set(part.studies["record_id"])

        def status(record: str) -> str:
            if record in included:
                return "included; full text needed for details"
            if record in full.index:
                decision = full.loc[record, "decision"]
                return "awaiting full text" if decision == "awaiting_full_text" else f"full text: {decision}"
            if record in title.index and title.loc[record, "decision"] == "exclude":
                return f"excluded at title/abstract ({title.loc[record, 'reason']})"
            return "not yet screened"

        status = [status(record) for record in table["record_id"]]
        table.insert(0, "question", part.question.id)
        table.insert(3, "status", status)
        frames.append(table)
    return pd.concat(frames, ignore_index=True)


def dedup_agreement(part) -> dict[str, Any]:
    """How the automatic links of a question compare with the reviewers' hand-made map:
    records, true pairs, and pairwise precision and recall as text ("not defined" without
    pairs to measure, never a made-up 1.000)."""
    from analysis.search.dedup import pairwise_agreement

    if part.reviewer_links is None:
        return {"records": 0, "true_pairs": 0, "precision": "not defined", "recall": "not defined"}
    agreement = pairwise_agreement(part.automatic_clusters, part.reviewer_links)
    shown = {}
    for key, pairs in (("precision", agreement["predicted_pairs"]), ("recall", agreement["true_pairs"])):
        shown[key] = f"{agreement[key]:.3f}" if pairs else "not defined (no pairs)"
    return {"records": agreement["records"], "true_pairs": agreement["true_pairs"], **shown}


def prisma_table(part) -> pd.DataFrame:
    """The PRISMA counts of a question as readers see them: stage, count, number."""
    from analysis.selection import prisma

    table = prisma.counts_table(part.counts)
    return pd.DataFrame({"Stage": table["section"].str.capitalize(), "Count": table["label"], "n": table["n"]})


def agreement_sentence(part, stage: str) -> str:
    """Reviewers' agreement at one screening stage, in words: Cohen's kappa with its 95% CI over
    the seeded sample two reviewers screened independently, or over the records both decided;
    otherwise why it cannot be measured."""
    from . import agreement_report
    from analysis.selection import screening as scr

    where = f"{part.question.label}, {stage.replace('_', '/')}"
    sample = agreement_report.screening_agreement(part.question.id) if stage == "title_abstract" else None
    if sample is not None and sample.kappa.kappa is not None:
        k = sample.kappa
        return (f"{where}: two reviewers ({' and '.join(sample.reviewers)}) independently screened a seeded "
                f"random sample of {sample.sample_size} of {sample.population} unique records "
                f"({sample.fraction:.0%}, seed {sample.seed}); they agreed on {k.agreement:.0%}, Cohen's kappa "
                f"{fmt_num(k.kappa)} (95% CI {fmt_ci(k.ci_low, k.ci_high)}); {len(sample.disagreements)} "
                f"disagreement(s), each resolved by consensus.")
    kappa = scr.cohen_kappa(part.screening, stage)
    if kappa["kappa"] is None:
        return f"{where}: {kappa['note']}."
    return (f"{where}: Cohen's kappa {fmt_num(kappa['kappa'])} over {kappa['n_records']} records "
            f"({len(scr.conflicts(part.screening, stage))} conflicts).")


def review_overview() -> pd.DataFrame:
    """One row per question: previous review, records, screening and this version's studies."""
    from analysis import review

    current = review.current()
    comparison = current.comparison
    rows = []
    for part in current.questions:
        counts = part.counts
        main = next(spec for spec in ANALYSES if spec.question == part.question.id)
        match = comparison[(comparison["question"] == main.question) & (comparison["outcome"] == main.outcome)].iloc[0]
        rows.append({
            "Question": part.question.label,
            "Previous review": counts["previous_review"],
            "Studies in previous review": counts["previous_studies"],
            "Records identified": counts["records_identified"],
            "Unique records screened": counts["records_screened"],
            "Reports awaiting full text": counts["reports_not_retrieved"],
            "New studies included": counts["new_studies_included"],
            "Main outcome": match["outcome_label"],
            "This review": (f"{match['measure']} {fmt_num(match['estimate'])} ({fmt_ci(match['ci_low'], match['ci_high'])}), k = {match['k']}"
                            if plain(match["estimate"]) is not None else "not pooled"),
            # published numbers exactly as printed (display rules), never re-rounded
            "Published": _printed_published(match["published_id"]),
        })
    return pd.DataFrame(rows)


def _printed_published(synthesis_id: Any) -> str:
    """A published result as printed: "r 0.089", "OR 1.67 (1.05 to 2.94)"."""
    from analysis import review
    from analysis.pooling import display_rules, synthesis

    row = synthesis.published_row(review.current().published, synthesis_id)
    if not row.get("estimate"):
        return "no estimate printed"
    text = f"{row['measure']} {display_rules.printed_number(row['estimate'])}"
    if row.get("ci_low") and row.get("ci_high"):
        text += (f" ({display_rules.printed_number(row['ci_low'])} to "
                 f"{display_rules.printed_number(row['ci_high'])})")
    return text
