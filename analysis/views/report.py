"""Display helpers for the book's chapters: tables, figures, downloads and glued numbers.

Everything a chapter shows goes through here so that every page escapes untrusted text
(titles and abstracts come from search exports), every figure carries alt text, and every
number glued into the prose is a plain Python value (numpy scalars would print their repr).
"""
from __future__ import annotations

import base64
import html
import math
import numbers
from typing import Any

import pandas as pd

from analysis.measures import p_value
from analysis.questions import ANALYSES, QUESTIONS as REGISTRY

__all__ = [
    "HtmlBlock",
    "certainty_sentence",
    "chapter_box",
    "download_link",
    "fmt_ci",
    "fmt_num",
    "fmt_p",
    "glue_value",
    "plain",
    "searchable_table",
    "show_figure",
    "static_table",
]


class HtmlBlock:
    """A piece of HTML with a plain-text twin, displayed by Jupyter as both.

    The text twin is what nbval compares when a reviewer re-executes a chapter and what a
    terminal shows; the HTML is what the book renders.
    """

    def __init__(self, html_text: str, plain_text: str):
        self.html_text = html_text
        self.plain_text = plain_text

    def _repr_html_(self) -> str:
        return self.html_text

    def __repr__(self) -> str:
        return self.plain_text


def plain(value: Any) -> Any:
    """Convert numpy/pandas scalars to plain Python values (NaN and None become None)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        number = float(value)
        return None if math.isnan(number) else number
    try:
        if pd.isna(value):
            return None
    except (TypeError, ValueError):
        pass
    return value


def fmt_num(value: Any, digits: int = 2) -> str:
    """A number for prose and tables; missing values print as an en dash."""
    value = plain(value)
    if value is None:
        return "–"
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:.{digits}f}".replace("-", "−")


def fmt_ci(low: Any, high: Any, digits: int = 2) -> str:
    """A confidence interval as printed in the book: "0.12 to 0.34"."""
    if plain(low) is None or plain(high) is None:
        return "–"
    return f"{fmt_num(low, digits)} to {fmt_num(high, digits)}"


def fmt_p(p: Any) -> str:
    """A p value in the book's one style (:func:`analysis.measures.p_value`): ".032", "< .001"."""
    return p_value(p)


def glue_value(name: str, value: Any, display: bool = False) -> Any:
    """Glue a number or string for the prose, always as a plain Python value."""
    from myst_nb import glue

    value = plain(value)
    glue(name, value, display=display)
    return value


def _escape_cell(value: Any, digits: int) -> str:
    value = plain(value)
    if value is None:
        return ""
    if isinstance(value, bool):  # readers see "yes", not Python's "True"
        return "yes" if value else "no"
    if isinstance(value, float):
        return html.escape(fmt_num(value, digits))
    return html.escape(str(value))


def _table_html(frame: pd.DataFrame, table_id: str, digits: int, caption: str | None) -> str:
    from .reader_labels import reader_columns

    frame = reader_columns(frame)  # readers see labels, never the codebook's column ids
    header = "".join(f'<th scope="col">{html.escape(str(column))}</th>' for column in frame.columns)
    rows = []
    labels = [html.escape(str(column), quote=True) for column in frame.columns]
    for record in frame.itertuples(index=False):
        cells = "".join(f'<td data-label="{label}">{_escape_cell(value, digits)}</td>'
                        for label, value in zip(labels, record))
        rows.append(f"<tr>{cells}</tr>")
    caption_html = f"<caption>{html.escape(caption)}</caption>" if caption else ""
    # A table too wide for the text column is shown as one card per row (label: value), which
    # fits any page width; the stylesheet does the same for every table on a phone.
    classes = "review-table" + ("" if fits_as_table(frame, digits) else " review-table-stacked")
    return (
        f'<table class="{classes}" id="{html.escape(table_id)}">{caption_html}'
        f"<thead><tr>{header}</tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )


def _table_text(frame: pd.DataFrame, digits: int) -> str:
    from .reader_labels import reader_columns

    shown = reader_columns(frame)
    for column in shown.columns:
        shown[column] = [
            fmt_num(v, digits) if isinstance(plain(v), float) else ("" if plain(v) is None else str(v))
            for v in shown[column]
        ]
    return shown.to_string(index=False)


# The text column at a 1280 px window, and the width of one character of table text there
# (half an em of its 0.85 em font): a table whose columns cannot fit is drawn as cards.
TEXT_COLUMN_PX = 680
TABLE_CHAR_PX = 6.8
WRAP_CHARS = 16  # a long cell wraps to about this many characters per line
BREAK_CHARS = 20  # a longer word (a URL, an id) is broken where it must


def fits_as_table(frame: pd.DataFrame, digits: int = 2) -> bool:
    """Whether the table fits the text column with its long cells wrapped.

    Each column needs its longest word (up to BREAK_CHARS) or up to WRAP_CHARS characters of
    its longest cell, whichever is more, plus its padding."""
    from .reader_labels import reader_label

    needed = 0.0
    for column in frame.columns:
        cells = [_escape_cell(v, digits) for v in frame[column]] + [reader_label(column)]
        longest_word = max((len(word) for cell in cells for word in str(cell).split()), default=0)
        longest_cell = max((len(str(cell)) for cell in cells), default=0)
        # a word longer than BREAK_CHARS breaks anywhere (review.css: overflow-wrap: anywhere)
        needed += max(min(longest_word, BREAK_CHARS), min(longest_cell, WRAP_CHARS)) * TABLE_CHAR_PX + 12
    return needed <= TEXT_COLUMN_PX


def static_table(frame: pd.DataFrame, *, table_id: str, caption: str | None = None,
                 digits: int = 2) -> HtmlBlock:
    """A plain HTML table with every cell escaped."""
    html_text = _table_html(frame, table_id, digits, caption)
    return HtmlBlock(f'<div class="review-table-wrap">{html_text}</div>', _table_text(frame, digits))


def download_link(frame: pd.DataFrame, filename: str, label: str | None = None) -> HtmlBlock:
    """A link that downloads the table as CSV, embedded in the page so it works offline.

    Text that a spreadsheet would run as a formula is neutralised (:mod:`analysis.io.safe_csv`)."""
    from analysis.io.safe_csv import csv_for_people

    payload = csv_for_people(frame).encode("utf-8")
    encoded = base64.b64encode(payload).decode("ascii")
    label = label or f"Download {filename}"
    html_text = (
        f'<p class="review-download"><a download="{html.escape(filename)}" '
        f'href="data:text/csv;charset=utf-8;base64,{encoded}">{html.escape(label)}</a> '
        f"({len(frame)} rows, CSV)</p>"
    )
    return HtmlBlock(html_text, f"[{label}: {filename}, {len(frame)} rows]")


def searchable_table(frame: pd.DataFrame, *, table_id: str, caption: str | None = None,
                     digits: int = 2, filename: str | None = None) -> HtmlBlock:
    """A table readers can filter and sort (the book's `_static/review_tables.js`), with a CSV link.

    Without JavaScript it is still a complete, readable table.
    """
    rows = len(frame)
    html_text = (
        f'<div class="review-table-wrap searchable" data-table="{html.escape(table_id)}">'
        f'<div class="review-table-tools"><label class="review-filter">Filter rows: <input type="search" '
        f'aria-controls="{html.escape(table_id)}" data-filter-for="{html.escape(table_id)}"></label> '
        f'<span class="review-row-count" aria-live="polite">{rows} row{"" if rows == 1 else "s"}</span>'
        f'<span class="review-sort-hint">Click a column heading to sort.</span></div>'
        f'<div class="review-table-scroll">{_table_html(frame, table_id, digits, caption)}</div></div>'
    )
    if filename:
        html_text += download_link(frame, filename).html_text
    return HtmlBlock(html_text, _table_text(frame, digits))


def show_figure(figure, alt: str, caption: str | None = None, *, close: bool = True,
                analysis: tuple[str, str] | None = None) -> HtmlBlock:
    """Show a matplotlib figure as "Figure n": inline SVG at full column width, with its alt text.

    ``analysis=(question, outcome)`` puts the RevMan-style "Analysis 1.1. ..." heading before
    the caption. Numbers are computed (:mod:`analysis.figures.figure_embed`), never typed.
    """
    import matplotlib.pyplot as plt

    from analysis.figures import figure_embed

    if analysis is not None:
        heading = figure_embed.analysis_caption(*analysis)
        # a caption that only repeats the outcome's name adds nothing to the heading
        repeats = caption and caption.strip().rstrip(".").lower() in heading.lower()
        caption = heading + (f" {caption}" if caption and not repeats else "")
    number = figure_embed.next_figure_number()
    html_text, text = figure_embed.figure_html(figure, alt, caption, number)
    if close:
        plt.close(figure)
    return HtmlBlock(html_text, text)


def chapter_box(*, release: str, data_fingerprint: str, last_search: str, k_text: str) -> HtmlBlock:
    """The short box each chapter opens with: data version, date of the last search, k."""
    items = [
        ("Release", release),
        ("Data checksum", f"{data_fingerprint} (changes whenever a data file changes)"),
        ("Last search", last_search),
        ("Studies", k_text),
    ]
    html_items = "".join(
        f"<dt>{html.escape(label)}</dt><dd>{html.escape(value)}</dd>" for label, value in items
    )
    html_text = (f'<div class="admonition note review-box"><p class="admonition-title">This version</p>'
                 f'<dl class="review-box-list">{html_items}</dl></div>')
    text = "; ".join(f"{label}: {value}" for label, value in items)
    return HtmlBlock(html_text, text)


def figure(plot, *args: Any, caption: str | None = None, analysis: tuple[str, str] | None = None,
           **kwargs: Any) -> HtmlBlock:
    """Draw ``plot(*args, **kwargs)`` (a plot function of :mod:`analysis.figures`, one that
    :func:`analysis.figures.alt_text.alt_text` knows) with its alt text, numbered;
    ``analysis=(question, outcome)`` adds the "Analysis 1.1" heading."""
    from analysis.figures.alt_text import alt_text

    alt = alt_text(plot, *args, **kwargs)
    return show_figure(plot(*args, **kwargs), alt, caption, analysis=analysis)


def chapter_box_for(question: str | None = None) -> HtmlBlock:
    """The opening box of a chapter, from the release log and the review's held counts."""
    from analysis.versions import releases
    from analysis import review

    current = review.current()
    parts = [current.question(question)] if question else current.questions
    status = releases.release_status()
    release = status["label"] if status else "not yet released"
    k_text = "; ".join(f"k = {part.included_studies} (question {part.question.number})" for part in parts)
    return chapter_box(release=release, data_fingerprint=current.fingerprint[:12],
                       last_search=current.last_search, k_text=k_text)


def forest_figure(question: str, outcome: str, scenario: str = "primary", *,
                  by_subgroup: bool = False, favours: tuple[str, str] | None = None,
                  caption: str | None = None) -> HtmlBlock:
    """The forest plot of one held analysis, on the reader's scale, optionally in subgroup
    blocks, with its alt text."""
    from analysis.figures import forest_plots
    from analysis import review

    part = review.current().question(question)
    pooled = part.pooled(outcome, scenario)
    rows, scale = pooled.effect_sizes, pooled.measure
    labels = pooled.labels
    years = [plain(year) for year in rows["year"]]
    result = pooled.result
    if result is None:
        result = forest_plots.unpooled(pooled.yi, pooled.vi, labels, reason="fewer than two studies: not pooled")
    subgroup = part.subgroup_analysis(outcome, scenario) if by_subgroup else None
    columns = {}
    if scenario == "primary" and len(rows):
        # Per-arm counts only where arms are combined as the primary analysis combines them.
        from analysis.evidence.arm_counts import arm_columns

        columns = arm_columns(question, rows, binary=pooled.scale == "logOR")
    kwargs = dict(labels=labels, years=years, scale=scale.plot_scale, measure_label=scale.axis_label,
                  favours=favours or part.question.favours, subgroup=subgroup, columns=columns)
    return figure(forest_plots.forest_plot, result, caption=caption, analysis=(part.question.id, pooled.spec.outcome),
                  **kwargs)


class _Text:
    """A glued string that pastes without quotes (its plain-text repr is the string itself)."""

    def __init__(self, text: str):
        self.text = text

    def __repr__(self) -> str:
        return self.text


def glue_text(name: str, text: Any) -> None:
    """Glue a sentence or phrase for the prose."""
    from myst_nb import glue

    glue(name, _Text(str(text)), display=False)


QUESTIONS = {entry.id: entry.label for entry in REGISTRY}  # "q1" -> "Question 1: ..."


def prisma_figure(question: str) -> HtmlBlock:
    """The PRISMA 2020 flow diagram (updated-review layout) of one question, with alt text."""
    from analysis.selection import prisma
    from analysis import review

    part = review.current().question(question)
    counts = part.counts
    alt = (
        f"PRISMA 2020 flow diagram for {part.question.title}: "
        f"{counts['previous_studies']} studies in the previous review; "
        f"{counts['records_identified']} records identified, "
        f"{counts['duplicates_removed']} duplicates removed, {counts['records_screened']} screened, "
        f"{counts['records_excluded']} excluded, {counts['reports_sought']} reports sought, "
        f"{counts['reports_not_retrieved']} not retrieved, {counts['reports_assessed']} assessed, "
        f"{counts['new_studies_included']} new studies included."
    )
    return show_figure(prisma.plot_prisma_flow(dict(counts), sources=prisma.sources_searched(part.question.id)),
                       alt, caption=f"PRISMA 2020 flow diagram, {part.question.label}.")


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


def count_glue_names() -> dict[str, int]:
    """Every count the review defines, under the one name the book glues it as:
    ``<question id>_<count>`` ("q1_unique_records") and ``all_<count>`` for the review's totals."""
    from analysis import review

    current = review.current()
    names: dict[str, int] = {}
    for part in current.questions:
        for key, value in part.counts.items():
            if isinstance(value, int) and not isinstance(value, bool):
                names[f"{part.question.id}_{key}"] = value
        names[f"{part.question.id}_included_studies"] = part.included_studies
    names.update({f"all_{key}": value for key, value in current.totals.items()})
    return names


def glue_counts() -> dict[str, int]:
    """Glue every count of :func:`count_glue_names` for the prose; returns them."""
    names = count_glue_names()
    for name, value in names.items():
        glue_text(name, value)
    return names


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


def participants_phrase(row: dict) -> str:
    """", N = 720" or ", N = 720 and 1 study that does not print its size": a study without a
    printed sample size is counted as unknown and said so next to the total, never dropped."""
    n, unknown = plain(row.get("n")), plain(row.get("n_unknown")) or 0
    text = f", N = {fmt_num(n)}" if n is not None else ""
    if unknown:
        studies = "study that does not print its size" if unknown == 1 else "studies that do not print their size"
        text += f" and {unknown} {studies}" if n is not None else f", N unknown ({unknown} {studies})"
    return text


def _printed_published(synthesis_id: Any) -> str:
    """A published result as printed: "r 0.089", "OR 1.67 (1.05 to 2.94)"."""
    from analysis.pooling import display_rules, synthesis

    row = synthesis.published_row(synthesis_id)
    if not row.get("estimate"):
        return "no estimate printed"
    text = f"{row['measure']} {display_rules.printed_number(row['estimate'])}"
    if row.get("ci_low") and row.get("ci_high"):
        text += (f" ({display_rules.printed_number(row['ci_low'])} to "
                 f"{display_rules.printed_number(row['ci_high'])})")
    return text


def effect_phrase(row: dict, digits: int = 2) -> str:
    """A pooled result as the prose states it: "r = 0.24 (95% CI 0.02 to 0.44; k = 4, N = 8,371)"."""
    k = plain(row.get("k")) or 0
    size = f"k = {k}" + participants_phrase(row)
    if plain(row.get("estimate")) is None:
        return f"not pooled ({size})"
    single = "; a single study, not pooled" if row.get("pooled") is False else ""
    return (f"{row['measure']} = {fmt_num(row['estimate'], digits)} "
            f"(95% CI {fmt_ci(row['ci_low'], row['ci_high'], digits)}; {size}{single})")


def results_view(results: pd.DataFrame) -> pd.DataFrame:
    """A compact, readable view of result rows: one line per data scenario and model.

    Each data scenario is described by what it changes (from the recorded assumptions), and
    each model by its estimator and interval.
    """
    from analysis.pooling import display_rules, synthesis
    from analysis.evidence import extraction

    changes = {}
    for question in results["question"].drop_duplicates():
        for row in extraction.scenario_descriptions(question).itertuples(index=False):
            changes[(question, row.scenario)] = row.change
    rows = []
    for row in results.to_dict("records"):
        model = synthesis.MODELS[row["model_name"]].description if row["model_name"] in synthesis.MODELS else row["model_name"]
        pooled = plain(row["estimate"]) is not None
        rows.append({
            "Outcome": row["outcome_label"],
            "Data scenario": changes.get((row["question"], row["scenario"]), row["scenario"]),
            "Model": model,
            "k": plain(row["k"]),
            "N": int(row["n"]) if plain(row["n"]) is not None else None,
            row["measure"] if results["measure"].nunique() == 1 else "Estimate":
                (f"{fmt_num(row['estimate'])} ({fmt_ci(row['ci_low'], row['ci_high'])})"
                 + ("" if row["pooled"] else ", single study") if pooled else "not pooled"),
            # t(k - 2) and only from k >= 3 (display rules); metafor's is in the methods panel
            "95% PI": (fmt_ci(*display_rules.prediction_interval_of_row(row))
                       if display_rules.prediction_interval_of_row(row) else "–"),
            "τ²": fmt_num(row["tau2"], 3) if pooled else "–",
            "I² (%)": fmt_num(row["i2"], 0) if pooled else "–",
        })
    view = pd.DataFrame(rows)
    if view["Outcome"].nunique() == 1:
        view = view.drop(columns="Outcome")
    return view


def note(text: str) -> HtmlBlock:
    """A computed sentence shown as a paragraph of the page."""
    return HtmlBlock(f'<p class="review-note">{html.escape(text)}</p>', text)


# Egger's test and funnel-plot asymmetry need at least ten studies (Cochrane Handbook v6.4,
# section 13.3.5.4); below that they cannot tell asymmetry from chance.
MIN_K_SMALL_STUDY_TESTS = 10
# GOSH plots (Olkin, Dahabreh & Trikalinos 2012) need enough subsets to show structure.
MIN_K_GOSH = 6


def leave_one_out_figure(question: str, outcome: str) -> HtmlBlock:
    """Leave-one-out plot of the primary analysis (needs three or more studies)."""
    from analysis.figures import sensitivity_plots
    from analysis import review

    part = review.current().question(question)
    pooled = part.pooled(outcome)
    result = pooled.result
    if result is None or result.k < 3:
        return note(f"Leave-one-out analysis needs at least three studies; "
                    f"{pooled.spec.label} has k = {pooled.row['k']}.")
    label = pooled.measure.axis_label
    return figure(sensitivity_plots.leave_one_out_plot, part.sensitivity(outcome, "leave_one_out"),
                  scale=pooled.measure.plot_scale, measure=label, full_estimate=result.estimate,
                  axis_title=f"Pooled {label.lower()} without the study (95% CI)",
                  caption=f"Leave-one-out analysis, {pooled.spec.label}; {pooled.row['model']}.")


def panel_blocks(question: str, outcome: str) -> list[HtmlBlock]:
    """The small-k inference panel of one outcome (analysis.pooling.panel): its robustness verdict in
    words and one row per method, on the reader's scale."""
    import numpy as np

    from analysis import review

    part = review.current().question(question)
    pooled = part.pooled(outcome)
    found = part.sensitivity(outcome, "panel")
    if found is None:
        return [note(f"The small-k panel needs at least two studies; {pooled.spec.label} has "
                     f"k = {pooled.row['k']}.")]
    transform = {"ZCOR": np.tanh, "logOR": np.exp}.get(pooled.scale)
    table = found.table(transform) if transform is not None else found.table()
    digits = pooled.measure.decimals
    view = pd.DataFrame({
        "Method": table["method"],
        pooled.measure.reader: [fmt_num(v, digits) for v in table["estimate"]],
        "95% CI": [fmt_ci(lo, hi, digits) for lo, hi in zip(table["ci_low"], table["ci_high"])],
        "95% prediction interval": [fmt_ci(lo, hi, digits) for lo, hi in zip(table["pi_low"], table["pi_high"])],
        "τ": [fmt_num(v, 2) for v in table["tau"]],
        "P(true effect beyond no effect)": [fmt_num(v, 2) for v in table["p_effect_beyond_null"]],
        "P(true effect beyond the MID)": [fmt_num(v, 2) for v in table["p_effect_beyond_mid"]],
        "P(a new study beyond no effect)": [fmt_num(v, 2) for v in table["p_new_beyond_null"]],
    })
    return [note(f"Across methods, the conclusion {found.verdict}."),
            static_table(view, table_id=f"{question}-{outcome}-panel".replace("_", "-"),
                         caption=f"Small-k inference panel, {pooled.spec.label}")]


def cumulative_figure(question: str, outcome: str) -> HtmlBlock:
    """Cumulative forest plot by year of publication."""
    from analysis.figures import sensitivity_plots
    from analysis import review

    part = review.current().question(question)
    cumulative = part.sensitivity(outcome, "cumulative")
    if len(cumulative) < 2:
        return note("A cumulative meta-analysis needs at least two studies.")
    # Readers see "Gould 2002" (studies.csv), not the study id.
    rows = part.pooled(outcome).effect_sizes
    names = dict(zip(rows["study_id"].astype(str), rows["label"].astype(str)))
    cumulative = cumulative.assign(label=[names.get(str(s), str(s)) for s in cumulative["added"]])
    measure = str(cumulative["measure"].iloc[0])
    reader = {"r": "correlation r", "OR": "odds ratio", "SMD": "SMD"}.get(measure, measure)
    return figure(sensitivity_plots.cumulative_forest_plot, cumulative,
                  axis_title=f"Pooled {reader} after adding the study (95% CI)",
                  caption="Cumulative meta-analysis: the pooled estimate as each study was added, by year.")


def baujat_figure(question: str, outcome: str) -> HtmlBlock:
    """Baujat plot: each study's contribution to heterogeneity against its influence."""
    from analysis.figures import sensitivity_plots
    from analysis import review

    part = review.current().question(question)
    pooled = part.pooled(outcome)
    if pooled.result is None or pooled.result.k < 3:
        return note(f"A Baujat plot needs at least three studies; k = {pooled.row['k']}.")
    return figure(sensitivity_plots.baujat_plot, part.sensitivity(outcome, "baujat"),
                  caption="Baujat plot: contribution to Cochran's Q against influence on the pooled estimate.")


def gosh_figure(question: str, outcome: str) -> HtmlBlock:
    """GOSH plot over all subsets, where k is large enough for it to mean something."""
    from analysis.figures import sensitivity_plots
    from analysis import review

    part = review.current().question(question)
    pooled = part.pooled(outcome)
    k = pooled.row["k"]
    if k < MIN_K_GOSH:
        return note(f"A GOSH plot is not drawn: with k = {k} there are only {2 ** k - 1} subsets, "
                    f"too few to show structure (this book draws it from k = {MIN_K_GOSH}).")
    return figure(sensitivity_plots.gosh_plot, part.sensitivity(outcome, "gosh"), measure_label=pooled.measure.axis_label,
                  caption="GOSH plot over all subsets.")


def funnel_figure(question: str, outcome: str) -> list[HtmlBlock]:
    """Contour-enhanced funnel plot, and Egger's test only where k allows it."""
    from analysis.figures import funnel_plots
    from analysis import review

    part = review.current().question(question)
    pooled = part.pooled(outcome)
    result = pooled.result
    if result is None:
        return [note(f"No funnel plot: {pooled.spec.label} has k = {pooled.row['k']}.")]
    blocks = [figure(funnel_plots.funnel_plot, pooled.yi, pooled.vi, result.estimate,
                     measure_label=pooled.measure.model_axis_label, labels=pooled.labels,
                     caption=f"Contour-enhanced funnel plot, {pooled.spec.label}.")]
    if result.k < MIN_K_SMALL_STUDY_TESTS:
        blocks.append(note(
            f"Egger's regression test is not run: it needs at least {MIN_K_SMALL_STUDY_TESTS} "
            f"studies to distinguish small-study effects from chance, and this analysis has "
            f"k = {result.k}. The funnel plot is shown for completeness, not as evidence."))
    else:
        egger = part.sensitivity(outcome, "egger")
        blocks.append(note(f"Egger's regression test: z = {fmt_num(egger.zval)}, p = {fmt_p(egger.pval)}."))
    return blocks


def heterogeneity_phrase(i2: Any) -> str:
    """Words for I², from the overlapping bands of the Cochrane Handbook v6.4, section 10.10.2:
    0-40% might not be important, 30-60% moderate, 50-90% substantial, 75-100% considerable
    (each value is given the highest band it reaches)."""
    i2 = plain(i2)
    if i2 is None:
        return "not estimable"
    if i2 >= 75:
        return "considerable"
    if i2 >= 50:
        return "substantial"
    if i2 >= 30:
        return "moderate"
    return "might not be important"


def direction_phrase(row: dict, *, positive: str, negative: str, null: float) -> str:
    """What a pooled estimate says about direction, and whether its 95% CI excludes the null.

    ``positive``/``negative`` name the two directions in the reader's words.
    """
    estimate, low, high = (plain(row.get(key)) for key in ("estimate", "ci_low", "ci_high"))
    if estimate is None:
        return "cannot be pooled"
    side = positive if estimate > null else negative if estimate < null else "no difference"
    stated = f"{row['measure']} = {fmt_num(estimate)}, 95% CI {fmt_ci(low, high)}"
    if low is not None and high is not None and (low > null or high < null):
        return f"points to {side} ({stated}), and the interval excludes no effect"
    return f"points to {side} ({stated}), but the interval includes no effect"


def comparison_word(value: Any, reference: Any, verdict: str | None = None,
                    ci_overlap: bool | None = None) -> str:
    """The comparative word for a pooled estimate against a published one, from the verdict of
    :func:`analysis.pooling.comparison.published_comparison_table` and the overlap of the intervals.

    Without a "comparable" verdict there is no comparative word: "not directly comparable".
    Comparable results whose intervals overlap are "in line with" each other; otherwise
    "larger" or "smaller".
    """
    value, reference = plain(value), plain(reference)
    if value is None or reference is None:
        return "not comparable"
    if verdict != "comparable":
        return "not directly comparable"
    if ci_overlap:
        return "in line with"
    return "larger" if value > reference else "smaller"


def certainty_sentence(question: str, text: str) -> HtmlBlock:
    """A sentence that leads with the certainty of a question's evidence, marked for the
    landing page's first screen (the browser test looks for ``data-question`` there)."""
    short = question.split("_", 1)[0]
    return HtmlBlock(f'<p class="review-certainty" data-question="{html.escape(short, quote=True)}">'
                     f"{html.escape(text)}</p>", text)
