"""Figures on the page: each numbered, drawn at full column width, with its alt text.

The chapter figures of one held analysis (forest, PRISMA flow, leave-one-out, cumulative,
Baujat, GOSH, funnel) are drawn here, or replaced by a sentence saying why a figure is not
drawn for so few studies.
"""
from __future__ import annotations

from typing import Any

from .blocks import HtmlBlock, note
from .number_format import fmt_num, fmt_p, plain

__all__ = ["baujat_figure", "cumulative_figure", "figure", "forest_figure", "funnel_figure",
           "gosh_figure", "leave_one_out_figure", "prisma_figure", "show_figure"]


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


def figure(plot, *args: Any, caption: str | None = None, analysis: tuple[str, str] | None = None,
           **kwargs: Any) -> HtmlBlock:
    """Draw ``plot(*args, **kwargs)`` (a plot function of :mod:`analysis.figures`, one that
    :func:`analysis.figures.alt_text.alt_text` knows) with its alt text,
    numbered; ``analysis=(question, outcome)`` adds the "Analysis 1.1" heading."""
    from analysis.figures.alt_text import alt_text

    alt = alt_text(plot, *args, **kwargs)
    return show_figure(plot(*args, **kwargs), alt, caption, analysis=analysis)


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
    return show_figure(prisma.plot_prisma_flow(dict(counts), sources=prisma.sources_searched(part.search_log)),
                       alt, caption=f"PRISMA 2020 flow diagram, {part.question.label}.")


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
