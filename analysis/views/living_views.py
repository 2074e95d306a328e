"""The living review's pages, one call per block: tables and figures ready for a chapter.

Each function returns an :class:`analysis.views.blocks.HtmlBlock` (or a list of them) built from the
computing modules (:mod:`analysis.versions.living`, :mod:`analysis.versions.whats_new`,
:mod:`analysis.versions.prisma_lsr`, :mod:`analysis.versions.monitoring`, :mod:`analysis.versions.evidence_requests`);
nothing here computes a number of its own.
"""
from __future__ import annotations

import datetime as dt
import html

import pandas as pd

from analysis.pooling import synthesis

from .blocks import HtmlBlock, note
from .figure_blocks import show_figure
from .tables import static_table

__all__ = ["living_mode_table", "whats_new_table", "flow_table", "flow_figure",
           "checklist_table", "monitoring_panel", "expected_k_table", "status_banner"]


def living_mode_table() -> HtmlBlock:
    """Methods: the living-mode parameters with the computed last and next search dates."""
    from analysis.versions.living import living_mode

    table = living_mode()
    view = pd.DataFrame({
        "Question": table["question"], "Source": table["source"], "Status": table["status"],
        "Searched every (months)": table["search_frequency_months"],
        "Last search": table["last_search"], "Next search due": table["next_search_due"],
        "Update triggers": table["update_triggers"],
        "Leaves living mode when": table["retirement_criteria"],
    })
    return static_table(view, table_id="living-mode",
                        caption="Living-mode parameters (data/living_mode.csv)")


def whats_new_table() -> HtmlBlock:
    """"What's new", newest version first, the published reviews last as version 0."""
    from analysis.versions.whats_new import whats_new

    table = whats_new().rename(columns={"version": "Version", "date": "Date",
                                        "event": "Event", "description": "Description"})
    return static_table(table, table_id="whats-new", caption="What's new")


def flow_table() -> HtmlBlock:
    """The flow of records per question and version: new in the version and cumulative."""
    from analysis.versions.whats_new import flow_across_versions

    table = flow_across_versions()
    view = pd.DataFrame({"Question": table["question"], "Version": table["version"],
                         "Date": table["date"]})
    for step, label in (("search_runs", "search runs"), ("records_identified", "records"),
                        ("records_screened", "screened"), ("reports_assessed", "full texts assessed"),
                        ("studies_included", "studies included")):
        view[f"New {label}"] = table[f"new_{step}"]
        view[f"Total {label}"] = table[f"total_{step}"]
    return static_table(view, table_id="flow-across-versions",
                        caption="Flow of records across versions (version 0: the "
                                "published review, as its report prints it)")


def flow_figure(question: str) -> HtmlBlock:
    """The flow across versions of one question as a figure with its alt text."""
    from analysis.versions.whats_new import flow_across_versions, plot_flow_across_versions

    rows = flow_across_versions()
    rows = rows[(rows["question"] == question[:2]) & (rows["version"] != "0")]
    alt = "; ".join(f"version {r['version']}: {r['new_records_identified']} records identified, "
                    f"{r['new_records_screened']} screened, {r['new_studies_included']} studies "
                    f"included ({r['total_studies_included']} in all)"
                    for r in rows.to_dict("records")) or "no release yet"
    return show_figure(plot_flow_across_versions(question),
                       f"Flow of records across versions, question {question[1:2]}: {alt}")


def checklist_table() -> HtmlBlock:
    """The PRISMA-LSR checklist with where each element is reported, or "not reported"."""
    from analysis.versions.prisma_lsr import checklist

    table = checklist()
    view = pd.DataFrame({"Item": table["item"], "Section": table["section"],
                         "Topic": table["topic"], "Element": table["element"],
                         "Reported in": [w or "not reported" for w in table["where"]]})
    return static_table(view, table_id="prisma-lsr",
                        caption="PRISMA-LSR checklist (Akl et al. 2024, BMJ 387:e079183; "
                                "elements paraphrased)")


def monitoring_panel(question: str, outcome: str) -> list[HtmlBlock]:
    """Sequential monitoring of one outcome: the label, the looks and the figure."""
    from analysis.versions.monitoring import MONITORING_LABEL, monitoring_table, plot_monitoring

    table = monitoring_table()
    rows = table[(table["question"] == question) & (table["outcome"] == outcome)]
    spec = synthesis.analysis_spec(question, outcome)
    looks = rows[rows["fraction"].notna()]
    if looks.empty:
        return [note(f"{spec.label}: {rows['label'].iloc[0]}.")]
    view = pd.DataFrame({"Version": looks["version"], "k": looks["k"], "Cumulative z": looks["z"],
                         "Information fraction": looks["fraction"],
                         "Boundary (±)": looks["boundary"], "Reading": looks["reading"]})
    last = looks.iloc[-1]
    alt = (f"Cumulative z of {spec.label} by information fraction against O'Brien-Fleming-type "
           f"boundaries; latest release {last['version']}: z = {last['z']:.2f}, fraction "
           f"{last['fraction']:.2f}, boundary ±{min(last['boundary'], 99):.2f}: {last['reading']}")
    return [note(f"{spec.label}: sequential monitoring ({MONITORING_LABEL}). The required "
                 f"information size is {last['required_information']:.0f} (inverse-variance "
                 f"units, heterogeneity-adjusted with D² = {last['diversity']:.2f})."),
            static_table(view, table_id=f"monitoring-{question}-{outcome}"),
            show_figure(plot_monitoring(question, outcome, table=table), alt)]


def expected_k_table(question: str | None = None) -> HtmlBlock:
    """Per outcome: effect sizes analysed, reports awaiting full text, expected k at most."""
    from analysis.versions.evidence_requests import expected_k

    table = expected_k()
    if question:
        table = table[table["question"] == question[:2]]
    view = pd.DataFrame({"Outcome": table["outcome_label"], "k analysed": table["k"],
                         "Reports awaiting full text": table["awaiting"],
                         "Expected k (at most)": table["expected_k_at_most"]})
    return static_table(view, table_id=f"expected-k{'-' + question[:2] if question else ''}",
                        caption="Evidence still outside the analysis: an awaiting report "
                                "may or may not inform an outcome, so the expected k is "
                                "an upper bound")


def status_banner(as_of: str | dt.date | None = None) -> HtmlBlock:
    """The living-review status banner for the book (an HtmlBlock with a plain-text twin), from
    :func:`analysis.versions.living.status_summary`."""
    from analysis.versions.living import status_summary

    summary = status_summary(as_of)
    mode = "Living systematic review" if summary["living"] else "Retired from living mode"
    parts = [f"{mode}. Current version: {summary['release']}."]
    for question in summary["questions"]:
        from analysis.questions import question as registry_question

        text = f"Question {registry_question(question['question']).number}: {question['status']}"
        text += f", last searched {question['last_search'] or 'never'}"
        if question["next_search_due"]:
            text += (f", search overdue since {question['next_search_due']}" if question["overdue"]
                     else f", next search due {question['next_search_due']}")
        parts.append(text + ".")
    plain_text = " ".join(parts)
    css = "warning" if summary["overdue"] else "note"
    items = "".join(f"<li>{html.escape(part)}</li>" for part in parts[1:])
    html_text = (f'<div class="admonition {css} review-living-status"><p>'
                 f"{html.escape(parts[0])}</p><ul>{items}</ul></div>")
    return HtmlBlock(html_text, plain_text)
