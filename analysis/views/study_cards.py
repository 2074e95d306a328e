"""Characteristics of included studies, as Cochrane reviews print them: one card per study.

Each card is built from ``studies.csv`` (design, population, country, reference) and the study's
extraction rows (exposure or intervention, control, outcomes with instrument and time point,
notes, source and the verbatim excerpt every number comes from). A wide evidence table becomes
a column of cards that fits any page; the full table stays downloadable.
"""
from __future__ import annotations

import html
import re
from typing import Any

import pandas as pd

from .blocks import HtmlBlock

__all__ = ["characteristics_of_included_studies", "study_card_fields"]


def _text(value: Any) -> str:
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return ""
    return str(value).strip()


def _distinct(rows: pd.DataFrame, *columns: str, joiner: str = "; ") -> str:
    """The distinct non-empty values of ``columns`` over the rows, in order, joined."""
    values = []
    for _, row in rows.iterrows():
        parts = [_text(row.get(column)) for column in columns if column in rows.columns]
        text = ", ".join(p for p in parts if p)
        if text and text not in values:
            values.append(text)
    return joiner.join(values)


def _link(url: str, text: str) -> str:
    return f'<a href="{html.escape(url, quote=True)}" rel="noopener">{html.escape(text)}</a>'


_STATISTICS = {"chi2": "chi-square", "or": "odds ratio", "r": "correlation", "events": "events per arm",
               "pct": "percentages per arm", "rd": "risk difference", "d": "standardised mean difference",
               "means": "means and SDs", "t": "t statistic", "f": "F statistic"}


def _readable(rows: pd.DataFrame, question: str) -> pd.DataFrame:
    """Outcome ids and statistic codes in words: "Help-seeking behaviour", "chi-square"."""
    from analysis.pooling.synthesis import ANALYSES

    short = question.split("_", 1)[0]
    outcome_words = {}
    for spec in ANALYSES:
        if spec.question == short:
            # the outcome's name without the time point in brackets: the card prints the
            # extraction row's own time point beside it
            for name in (spec.outcome, *spec.aliases):
                outcome_words.setdefault(name, re.sub(r"\s*\(.*\)$", "", spec.label))
    rows = rows.copy()
    for column in ("outcome", "outcome_id"):
        if column in rows.columns:
            rows[column] = [outcome_words.get(_text(v), _text(v).replace("_", " ")) for v in rows[column]]
    if "statistic_type" in rows.columns:
        rows["statistic_type"] = [_STATISTICS.get(_text(v).lower(), _text(v).replace("_", " "))
                                  for v in rows["statistic_type"]]
    for column in ("help_seeking_form", "intervention_type"):
        if column in rows.columns:
            rows[column] = [_text(v).replace("_", " ") for v in rows[column]]
    return rows


def study_card_fields(study: dict, rows: pd.DataFrame) -> list[tuple[str, str]]:
    """The (heading, plain text) pairs of one study's card, in Cochrane's order."""
    question_two = "intervention" in rows.columns
    methods = "; ".join(p for p in (_text(study.get("design")), _text(study.get("country"))) if p)
    participants = _text(study.get("population")) or _distinct(rows, "population")
    if question_two:
        exposure = ("Intervention", _distinct(rows, "intervention_type", "intervention"))
        control = ("Control", _distinct(rows, "control"))
        outcomes = _distinct(rows, "outcome", "instrument", "timepoint")
    else:
        exposure = ("Exposure", _distinct(rows, "help_seeking_form", "exposure"))
        control = ("Depression measure", _distinct(rows, "depression_measure"))
        outcomes = _distinct(rows, "outcome_id")
        statistics = _distinct(rows, "statistic_type")
        notes_prefix = f"Statistic: {statistics}. " if statistics else ""
    notes = _distinct(rows, "notes") if "notes" in rows.columns else _distinct(rows, "note")
    if not question_two and notes_prefix:
        notes = notes_prefix + notes
    return [("Methods", methods), ("Participants", participants), exposure, control,
            ("Outcomes", outcomes), ("Notes", notes)]


def characteristics_of_included_studies(question: str, data_dir=None) -> HtmlBlock:
    """One card per included study of ``question`` ("q1_webhelp" or "q2_interventions").

    Fields: methods, participants, exposure or intervention (and control or the depression
    measure), outcomes, notes, source (DOI or URL, as links) and the verbatim excerpts. Every
    text is escaped.
    """
    from analysis.evidence import extraction

    studies = extraction.load(question, "studies", data_dir)
    table = extraction.load(question, "extraction", data_dir)
    cards, lines = [], []
    for study in studies.sort_values(["year", "label"]).to_dict("records"):
        rows = _readable(table[table["study_id"] == study["study_id"]], question)
        label = _text(study.get("label")) or _text(study.get("study_id"))
        fields = study_card_fields(study, rows)
        items = "".join(f"<dt>{html.escape(name)}</dt><dd>{html.escape(value) or 'not reported'}</dd>"
                        for name, value in fields)
        sources = []
        doi = _text(study.get("doi"))
        if doi:
            sources.append(_link(f"https://doi.org/{doi}", f"doi:{doi}"))
        for url in dict.fromkeys(_text(u) for u in rows.get("url", pd.Series(dtype=object))):
            if url:
                sources.append(_link(url, url))
        title = _text(study.get("title"))
        journal = _text(study.get("journal"))
        reference = ". ".join(p for p in (title, journal) if p)
        excerpts = [e for e in dict.fromkeys(_text(e) for e in rows.get("excerpt", pd.Series(dtype=object))) if e]
        quoted = "".join(f"<blockquote>{html.escape(e)}</blockquote>" for e in excerpts)
        items += (f"<dt>Source</dt><dd>{html.escape(reference)}"
                  f"{'<br>' if reference and sources else ''}{' '.join(sources) or ''}</dd>"
                  f"<dt>Excerpt{'s' if len(excerpts) != 1 else ''}</dt><dd>{quoted or 'none'}</dd>")
        card_id = f"study-{html.escape(_text(study.get('study_id')), quote=True)}"
        cards.append(f'<section class="review-card" id="{card_id}"><h4>{html.escape(label)}</h4><dl>{items}</dl></section>')
        lines.append(label + ": " + "; ".join(f"{name}: {value or 'not reported'}" for name, value in fields))
    if not cards:
        return HtmlBlock('<p class="review-note">No study is included yet.</p>', "No study is included yet.")
    html_text = f'<div class="review-cards" data-question="{html.escape(question)}">{"".join(cards)}</div>'
    return HtmlBlock(html_text, "\n".join(lines))
