"""The two reviewers' agreement, in the shapes the book shows: the screening sample (Cohen's kappa
with its 95% CI, every disagreement and its consensus) and one summary table over screening,
extraction and risk of bias.

Every figure is computed from the data tables (``screening.csv`` and ``screening_sample.csv``;
the extraction and risk-of-bias tables through :mod:`analysis.reviewers.reconcile`).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from analysis import review
from analysis.reviewers import reconcile
from analysis.io import schemas
from analysis.selection import screening
from analysis.reviewers.agreement import KappaResult, cohen_kappa_ci
from analysis.io.paths import data_dir as default_data_dir
from analysis.io.validate import read_csv_text

__all__ = ["ScreeningAgreement", "screening_agreement", "agreement_table", "disagreement_list"]


@dataclass(frozen=True)
class ScreeningAgreement:
    """Title/abstract agreement of the first reviewer and a second reviewer on a seeded sample.

    ``sample_size`` of ``population`` unique records (``fraction``, ``seed``); ``kappa`` over the
    sample; ``disagreements``: record_id, title, each reviewer's decision (with reason), the
    consensus decision and its note (who resolved it and why; empty while open).
    """

    question: str
    reviewers: tuple[str, str]
    seed: int | None
    fraction: float | None
    population: int | None
    sample_size: int
    kappa: KappaResult
    disagreements: pd.DataFrame


def screening_agreement(question: str, data_dir: Path | str | None = None) -> ScreeningAgreement | None:
    """Agreement on the second reviewer's sample, or None when no sample was screened twice."""
    folder = schemas.question_folder(question)
    path = (Path(data_dir) if data_dir is not None else default_data_dir()) / folder / "screening_sample.csv"
    if not path.exists():
        return None
    sample = read_csv_text(path)
    second = sample["reviewer"].iloc[0]
    stage = sample["stage"].iloc[0]
    decisions = screening.read_screening(folder)
    decisions = decisions[(decisions["stage"] == stage) & decisions["record_id"].isin(set(sample["record_id"]))]
    first = decisions[decisions["reviewer"] == reconcile.FIRST_REVIEWER].set_index("record_id")
    other = decisions[decisions["reviewer"] == second].set_index("record_id")
    agreed = decisions[decisions["reviewer"] == screening.CONSENSUS].set_index("record_id")
    both = [r for r in sample["record_id"] if r in first.index and r in other.index]
    kappa = cohen_kappa_ci([first.at[r, "decision"] for r in both], [other.at[r, "decision"] for r in both])
    titles = review.current().question(folder).clusters.set_index("record_id")["title"]

    def shown(table: pd.DataFrame, record: str) -> str:
        if record not in table.index:
            return ""
        decision, reason = table.at[record, "decision"], table.at[record, "reason"]
        return f"{decision}: {reason}" if reason else decision

    rows = [{"record_id": r, "title": titles.get(r, ""), reconcile.FIRST_REVIEWER: shown(first, r),
             second: shown(other, r), "consensus": shown(agreed, r),
             "note": agreed.at[r, "note"] if r in agreed.index else ""}
            for r in both if first.at[r, "decision"] != other.at[r, "decision"]]
    return ScreeningAgreement(
        question=folder, reviewers=(reconcile.FIRST_REVIEWER, second),
        seed=int(sample["seed"].iloc[0]), fraction=float(sample["fraction"].iloc[0]),
        population=int(sample["population"].iloc[0]), sample_size=len(sample), kappa=kappa,
        disagreements=pd.DataFrame(rows, columns=["record_id", "title", reconcile.FIRST_REVIEWER, second,
                                                  "consensus", "note"]))


def agreement_table(question: str, data_dir: Path | str | None = None) -> pd.DataFrame:
    """One row per kind of decision the two reviewers both made: what, items, agreement (share),
    kappa, kappa_ci_low, kappa_ci_high, disagreements, open, note. Numbers have no kappa
    (percentage agreement within printed precision); ``note`` says when a kappa is degenerate and, on
    the GRADE row, that the computed domains (imprecision, inconsistency) are not compared."""
    rows = []

    def kappa_row(what: str, result: KappaResult, disagreements: int, open_count: int) -> None:
        rows.append({"what": what, "items": result.n, "agreement": result.agreement, "kappa": result.kappa,
                     "kappa_ci_low": result.ci_low, "kappa_ci_high": result.ci_high,
                     "disagreements": disagreements, "open": open_count, "note": result.note})

    sample = screening_agreement(question, data_dir)
    if sample is not None:
        open_count = int((sample.disagreements["consensus"] == "").sum())
        kappa_row(f"screening, title/abstract (seeded {sample.fraction:.0%} sample)", sample.kappa,
                  len(sample.disagreements), open_count)
    extraction = reconcile.extraction_agreement(question, data_dir)
    n, agree, share = extraction.numbers
    disagreements = extraction.disagreements
    numbers = disagreements[disagreements["kind"] == "number"]
    rows.append({"what": "extraction: numbers (within printed precision)", "items": n, "agreement": share,
                 "kappa": None, "kappa_ci_low": None, "kappa_ci_high": None,
                 "disagreements": len(numbers), "open": int(numbers["open"].sum())})
    n, agree, share = extraction.identifiers
    identifiers = disagreements[disagreements["kind"] == "identifier"]
    rows.append({"what": "extraction: identifiers (DOI, overlapping samples)", "items": n, "agreement": share,
                 "kappa": None, "kappa_ci_low": None, "kappa_ci_high": None,
                 "disagreements": len(identifiers), "open": int(identifiers["open"].sum())})
    statistics = disagreements[disagreements["kind"] == "row"]
    rows.append({"what": "extraction: statistics extracted by one reviewer only",
                 "items": extraction.rows["paired"] + len(statistics), "agreement": None, "kappa": None,
                 "kappa_ci_low": None, "kappa_ci_high": None, "disagreements": len(statistics),
                 "open": int(statistics["open"].sum())})
    categories = disagreements[disagreements["kind"] == "category"]
    kappa_row("extraction: categorical fields", extraction.categories, len(categories),
              int(categories["open"].sum()))
    rob = reconcile.risk_of_bias_agreement(question, data_dir)
    for tool, result in rob.by_tool.items():
        domains = rob.disagreements[(rob.disagreements["tool"] == tool) & (rob.disagreements["domain"] != "Overall")]
        kappa_row(f"risk of bias: {tool} domains", result, len(domains), int(domains["open"].sum()))
    overall = rob.disagreements[rob.disagreements["domain"] == "Overall"]
    if rob.overall.n:
        kappa_row("risk of bias: overall judgement", rob.overall, len(overall), int(overall["open"].sum()))
    grade = reconcile.grade_agreement(question, data_dir)
    if grade.domains.n:
        domains = grade.disagreements[grade.disagreements["domain"].isin(reconcile.GRADE_DOMAINS)]
        kappa_row("GRADE: judged domains (risk of bias, indirectness, publication bias)", grade.domains,
                  len(domains), int(domains["open"].sum()))
        rows[-1]["note"] = "; ".join(n for n in (rows[-1]["note"], grade.not_compared) if n)
    return pd.DataFrame(rows, columns=["what", "items", "agreement", "kappa", "kappa_ci_low", "kappa_ci_high",
                                       "disagreements", "open", "note"]).fillna({"note": ""})


def disagreement_list(question: str, data_dir: Path | str | None = None) -> pd.DataFrame:
    """Every disagreement between the two reviewers, screening to GRADE, and how it was resolved:
    stage, item, first (the first reviewer's value), second, consensus (may be empty: "not
    recorded" is a possible consensus for a number), resolved_by, why, open (no consensus that
    still applies)."""
    rows = []
    sample = screening_agreement(question, data_dir)
    if sample is not None:
        first, second = sample.reviewers
        for d in sample.disagreements.itertuples(index=False):
            note = str(d.note)
            resolver = note.split(" ", 4)[3] if note.startswith("consensus resolved by ") else ""
            rows.append({"stage": "screening", "item": f"{d.record_id} {d.title}", "first": getattr(d, first),
                         "second": getattr(d, second), "consensus": d.consensus, "resolved_by": resolver,
                         "why": note, "open": d.consensus == ""})
    for d in reconcile.extraction_agreement(question, data_dir).disagreements.itertuples(index=False):
        rows.append({"stage": "extraction", "item": f"{d.study_id} {d.extraction_id or d.row_key} {d.field}",
                     "first": d.value_a, "second": d.value_b, "consensus": d.consensus,
                     "resolved_by": d.resolved_by, "why": d.reason, "open": bool(d.open)})
    for d in reconcile.risk_of_bias_agreement(question, data_dir).disagreements.itertuples(index=False):
        rows.append({"stage": "risk of bias", "item": f"{d.study_id} {d.domain}", "first": d.value_a,
                     "second": d.value_b, "consensus": d.consensus, "resolved_by": d.resolved_by, "why": d.reason,
                     "open": bool(d.open)})
    for d in reconcile.grade_agreement(question, data_dir).disagreements.itertuples(index=False):
        rows.append({"stage": "GRADE", "item": f"{d.outcome}: {d.domain}", "first": d.value_a,
                     "second": d.value_b, "consensus": d.consensus, "resolved_by": d.resolved_by, "why": d.reason,
                     "open": bool(d.open)})
    return pd.DataFrame(rows, columns=["stage", "item", "first", "second", "consensus", "resolved_by", "why", "open"])
