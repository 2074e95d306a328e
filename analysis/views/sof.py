"""Summary-of-findings tables in the GRADEpro layout, as HTML that fits the page and a phone.

Layout (Cochrane Handbook v6.4, chapter 14, figure 14.1.a; GRADEpro GDT): outcome; anticipated
absolute effects (risk with control, risk with intervention) where a control risk exists;
relative effect (95% CI); participants (studies); certainty of the evidence with GRADE's
symbols; comments. The reasons for each judgement are numbered footnotes under the table.

The renderer takes plain row dicts, so whatever computes GRADE can feed it. Fields of a row
(only ``outcome`` is required):

``outcome``        str: the outcome as readers read it, with its measure or time point.
``k``              int or None: studies informing the outcome; 0 prints "No studies yet",
                   None prints "Not synthesised in this version".
``participants``   int or None: participants in those studies (None: "not reported").
``measure``        str: "OR", "RR", "SMD", "MD", "r", ... (the relative-effect column).
``estimate``, ``ci_low``, ``ci_high``
                   floats on the reader's scale (OR, not log OR), or None when not pooled.
``effect_text``    str, optional: printed instead of the estimate (for example "not pooled;
                   one study: OR 1.54 (0.68 to 3.45)").
``control_risk``   float in (0, 1) or None: assumed risk in the control group. With a ratio
                   measure (OR, RR) it gives the anticipated absolute effects per 1,000.
``control_risk_source``
                   str: where that risk comes from (a footnote).
``certainty``      "high", "moderate", "low", "very low" or None (not assessed).
``reasons``        list of str (or of (domain, text) pairs): why the certainty was rated down
                   or up; each becomes a numbered footnote on the certainty.
``comments``       str: what readers should take from the row, in words.
``comment_notes``  list of str, optional: footnotes on the comment (for example why the
                   published review's result is not comparable).
"""
from __future__ import annotations

import html
import math
from typing import Any, Iterable, Mapping, Sequence

from analysis import review
from .blocks import HtmlBlock
from .number_format import fmt_ci, fmt_num, plain

__all__ = ["CERTAINTY_SYMBOLS", "absolute_effects", "control_risk_from_arms", "published_outcome_rows",
           "summary_of_findings_html"]

CERTAINTY_SYMBOLS = {"high": "\u2295\u2295\u2295\u2295", "moderate": "\u2295\u2295\u2295\u25ef",
                     "low": "\u2295\u2295\u25ef\u25ef", "very low": "\u2295\u25ef\u25ef\u25ef"}
RATIO_MEASURES = {"OR", "RR"}


def _risk_with_intervention(measure: str, ratio: float, control_risk: float) -> float:
    """The intervention group's risk implied by a ratio and the control risk.

    OR: OR·p / (1 − p + OR·p); RR: RR·p (Cochrane Handbook v6.4, section 14.1.5.1)."""
    if measure == "OR":
        return ratio * control_risk / (1 - control_risk + ratio * control_risk)
    return min(1.0, ratio * control_risk)


def _per_thousand(value: float) -> int:
    return int(math.floor(value * 1000 + 0.5))


def _difference_text(difference: int) -> str:
    if difference == 0:
        return "0 fewer"
    return f"{abs(difference):,} {'more' if difference > 0 else 'fewer'}"


def absolute_effects(measure: str, estimate: Any, ci_low: Any, ci_high: Any,
                     control_risk: Any) -> dict | None:
    """Risks per 1,000 with control and with the intervention, and the difference with its CI.

    Returns None where no absolute effect can be computed (no ratio measure, no pooled
    estimate or no control risk). Keys: ``control`` ("72 per 1,000"), ``intervention``
    ("87 per 1,000 (65 to 113)"), ``difference`` ("15 more per 1,000 (7 fewer to 41 more)").
    """
    values = [plain(v) for v in (estimate, ci_low, ci_high, control_risk)]
    if measure not in RATIO_MEASURES or any(v is None for v in values):
        return None
    estimate, ci_low, ci_high, risk = (float(v) for v in values)
    if not 0 < risk < 1:
        return None
    control = _per_thousand(risk)
    treated = [_per_thousand(_risk_with_intervention(measure, r, risk)) for r in (estimate, ci_low, ci_high)]
    return {
        "control": f"{control:,} per 1,000",
        "intervention": f"{treated[0]:,} per 1,000 ({treated[1]:,} to {treated[2]:,})",
        "difference": (f"{_difference_text(treated[0] - control)} per 1,000 "
                       f"({_difference_text(treated[1] - control)} to {_difference_text(treated[2] - control)})"),
    }


def control_risk_from_arms(question: str, effect_rows) -> tuple[float, str] | None:
    """The control group's risk across the included trials: control events / control
    participants summed over every effect size that prints both (GRADEpro's "study population"
    risk). Returns (risk, source sentence) or None when no trial prints control events."""
    from analysis.evidence import extraction
    from analysis.evidence.arm_counts import study_arm_counts

    table = extraction.load(question, "extraction").set_index("extraction_id")
    events = total = 0.0
    studies = []
    for row in effect_rows.to_dict("records"):
        wanted = [i for i in str(row["extraction_ids"]).split() if i in table.index]
        counts = study_arm_counts(table.loc[wanted]) if wanted else {}
        if counts.get("events_c") is not None and counts.get("n_c"):
            events += counts["events_c"]
            total += counts["n_c"]
            studies.append(str(row["label"]))
    if not total:
        return None
    return events / total, (f"Risk with control: {int(events)} events among {int(total)} control "
                            f"participants in {', '.join(studies)}.")


def published_outcome_rows(question: str, covered_ids: Iterable[str]) -> list[dict]:
    """Rows for the outcomes of the published review of ``question`` that no row covers.

    ``covered_ids``: synthesis ids (data/published_syntheses.csv) that rows already report.
    An outcome counts as covered when any synthesis of the same outcome is. Each returned row
    has ``k`` None ("Not synthesised in this version") and a comment quoting the published
    review's own finding.
    """
    from analysis.pooling.synthesis import ANALYSES

    short = question.split("_", 1)[0]
    published = review.current().published
    linked = {spec.published_id for spec in ANALYSES if spec.question == short and spec.published_id}
    reviews = set(published.loc[published["synthesis_id"].isin(linked), "review"])
    own = published[published["review"].isin(reviews)]
    covered = set(covered_ids) | linked
    covered_outcomes = set(own.loc[own["synthesis_id"].isin(covered), "outcome"])
    rows = []
    for outcome, group in own.groupby("outcome", sort=False):
        if outcome in covered_outcomes:
            continue
        first = group.iloc[0]
        rows.append({
            "outcome": outcome[:1].upper() + outcome[1:],
            "k": None,
            "comments": f"{first['review']}: \u201c{first['excerpt'].strip()}\u201d",
        })
    return rows


def _symbol_cell(certainty: str | None, marks: str) -> str:
    if not certainty:
        return f'<span class="review-sof-word">Not assessed</span>{marks}'
    key = certainty.lower()
    symbols = CERTAINTY_SYMBOLS.get(key, "")
    return (f'<span class="review-sof-symbols" aria-hidden="true">{symbols}</span> '
            f'<span class="review-sof-word">{html.escape(key[:1].upper() + key[1:])}</span>{marks}')


def _footnote_marks(numbers: Sequence[int], table_id: str) -> str:
    if not numbers:
        return ""
    links = ",".join(f'<a href="#{table_id}-note-{n}">{n}</a>' for n in numbers)
    return f"<sup>{links}</sup>"


def _reason_text(reason: Any) -> str:
    if isinstance(reason, (tuple, list)) and len(reason) == 2:
        domain, text = reason
        return f"{str(domain)[:1].upper() + str(domain)[1:]}: {text}"
    return str(reason)


def _participants_text(row: Mapping[str, Any]) -> str:
    k = plain(row.get("k"))
    n = plain(row.get("participants"))
    studies = "1 study" if k == 1 else f"{k} studies"
    people = "participants not reported" if n is None else f"{fmt_num(int(n))}"
    return f"{people} ({studies})"


def _relative_text(row: Mapping[str, Any]) -> str:
    if row.get("effect_text"):
        return str(row["effect_text"])
    estimate = plain(row.get("estimate"))
    if estimate is None:
        return "not pooled"
    measure = row.get("measure") or ""
    return f"{measure} {fmt_num(estimate)} ({fmt_ci(row.get('ci_low'), row.get('ci_high'))})"


# Column widths (per cent of the text column), so that no column is squeezed to a few letters.
_COLUMNS_WITH_ABSOLUTE = ('<colgroup><col style="width:17%"><col style="width:10%"><col style="width:15%">'
                          '<col style="width:12%"><col style="width:13%"><col style="width:13%">'
                          '<col style="width:20%"></colgroup>')
_COLUMNS = ('<colgroup><col style="width:22%"><col style="width:17%"><col style="width:14%">'
            '<col style="width:17%"><col style="width:30%"></colgroup>')


def summary_of_findings_html(rows: Sequence[Mapping[str, Any]], *, table_id: str, title: str,
                             population: str = "", setting: str = "", intervention: str = "",
                             comparison: str = "") -> HtmlBlock:
    """The summary-of-findings table of ``rows`` (fields in the module docstring), GRADEpro layout.

    Every text is escaped. Returns an :class:`~analysis.views.blocks.HtmlBlock` whose plain-text twin
    lists one line per outcome and the footnotes.
    """
    if not rows:
        raise ValueError("summary_of_findings_html: no rows (list every outcome, with k = 0 where empty)")
    footnotes: list[str] = []

    def note(text: str) -> int:
        footnotes.append(text)
        return len(footnotes)

    has_absolute = any(absolute_effects(r.get("measure") or "", r.get("estimate"), r.get("ci_low"),
                                        r.get("ci_high"), r.get("control_risk")) for r in rows)
    body, text_lines = [], []
    for row in rows:
        outcome = html.escape(str(row["outcome"]))
        k = plain(row.get("k"))
        if k is None or k == 0:
            status = "Not synthesised in this version" if k is None else "No studies yet"
            # one cell across the row: the status, then the comment, read as one sentence
            span = 6 if has_absolute else 4
            comment = html.escape(str(row.get("comments") or ""))
            body.append(f'<tr class="review-sof-empty"><th scope="row" data-label="Outcome">{outcome}</th>'
                        f'<td colspan="{span}" data-label="Evidence"><strong>{status}.</strong> {comment}</td></tr>')
            text_lines.append(f"{row['outcome']}: {status.lower()}. {row.get('comments') or ''}".strip())
            continue
        absolute = absolute_effects(row.get("measure") or "", row.get("estimate"), row.get("ci_low"),
                                    row.get("ci_high"), row.get("control_risk"))
        # Footnotes are numbered in reading order: control risk, certainty, comments.
        risk_marks = _footnote_marks([note(row["control_risk_source"])]
                                     if absolute and row.get("control_risk_source") else [], table_id)
        certainty_marks = [note(_reason_text(reason)) for reason in (row.get("reasons") or [])]
        comment_marks = [note(str(text)) for text in (row.get("comment_notes") or [])]
        cells = [f'<th scope="row" data-label="Outcome">{outcome}</th>']
        if has_absolute:
            if absolute:
                marks = risk_marks
                cells.append(f'<td data-label="Risk with control">{html.escape(absolute["control"])}{marks}</td>')
                cells.append(f'<td data-label="Risk with intervention">{html.escape(absolute["intervention"])}'
                             f'<span class="review-sof-difference">{html.escape(absolute["difference"])}</span></td>')
            else:
                cells.append('<td colspan="2" data-label="Absolute effects">not estimable (no control risk '
                             'or not a ratio measure)</td>')
        cells.append(f'<td data-label="Relative effect (95% CI)">{html.escape(_relative_text(row))}</td>')
        cells.append(f'<td data-label="Participants (studies)">{html.escape(_participants_text(row))}</td>')
        certainty = row.get("certainty")
        cells.append(f'<td class="review-sof-certainty" data-label="Certainty (GRADE)">'
                     f'{_symbol_cell(certainty, _footnote_marks(certainty_marks, table_id))}</td>')
        cells.append(f'<td data-label="Comments">{html.escape(str(row.get("comments") or ""))}'
                     f'{_footnote_marks(comment_marks, table_id)}</td>')
        body.append(f"<tr>{''.join(cells)}</tr>")
        line = (f"{row['outcome']}: {_relative_text(row)}; {_participants_text(row)}; certainty "
                f"{certainty or 'not assessed'}")
        if absolute:
            line += f"; {absolute['difference']}"
        if certainty_marks:
            line += f" (notes {', '.join(str(n) for n in certainty_marks)})"
        text_lines.append(line + (f". {row['comments']}" if row.get("comments") else "."))

    if has_absolute:
        head = ('<tr><th scope="col" rowspan="2">Outcome</th>'
                '<th scope="colgroup" colspan="2">Anticipated absolute effects* (95% CI)</th>'
                '<th scope="col" rowspan="2">Relative effect (95% CI)</th>'
                '<th scope="col" rowspan="2">Participants (studies)</th>'
                '<th scope="col" rowspan="2">Certainty of the evidence (GRADE)</th>'
                '<th scope="col" rowspan="2">Comments</th></tr>'
                '<tr><th scope="col">Risk with control</th><th scope="col">Risk with intervention</th></tr>')
    else:
        head = ('<tr><th scope="col">Outcome</th><th scope="col">Effect (95% CI)</th>'
                '<th scope="col">Participants (studies)</th>'
                '<th scope="col">Certainty of the evidence (GRADE)</th><th scope="col">Comments</th></tr>')
    pico = [(label, value) for label, value in (("Population", population), ("Setting", setting),
                                                 ("Intervention or exposure", intervention),
                                                 ("Comparison", comparison)) if value]
    pico_html = "".join(f"<dt>{html.escape(label)}</dt><dd>{html.escape(value)}</dd>" for label, value in pico)
    explain = ("*The risk with the intervention (and its 95% CI) is the risk with control combined "
               "with the relative effect of the intervention (and its 95% CI). " if has_absolute else "")
    explain += ("GRADE certainty: \u2295\u2295\u2295\u2295 high, \u2295\u2295\u2295\u25ef moderate, "
                "\u2295\u2295\u25ef\u25ef low, \u2295\u25ef\u25ef\u25ef very low.")
    notes_html = "".join(f'<li id="{html.escape(table_id)}-note-{i}">{html.escape(text)}</li>'
                         for i, text in enumerate(footnotes, start=1))
    html_text = (
        f'<div class="review-sof-wrap" id="{html.escape(table_id)}">'
        f'<p class="review-sof-title"><strong>{html.escape(title)}</strong></p>'
        + (f'<dl class="review-box-list review-sof-pico">{pico_html}</dl>' if pico_html else "")
        + f'<table class="review-sof">{_COLUMNS_WITH_ABSOLUTE if has_absolute else _COLUMNS}'
        f'<thead>{head}</thead><tbody>{"".join(body)}</tbody></table>'
        f'<p class="review-sof-explain">{html.escape(explain)}</p>'
        + (f'<ol class="review-sof-footnotes">{notes_html}</ol>' if footnotes else "")
        + "</div>"
    )
    text = "\n".join([title, *text_lines, *(f"{i}. {t}" for i, t in enumerate(footnotes, start=1))])
    return HtmlBlock(html_text, text)


# --------------------------------------------------------------------------- today's data
_POPULATIONS = {
    "q1": ("People with depressive symptoms (surveys of adolescents and adults)", "",
           "Web-based help seeking (online support groups, information, self-help tools)",
           "Association (correlation) with depressive symptoms or empowerment"),
    "q2": ("People with depressive symptoms", "Community, primary care and online",
           "Interventions to improve help seeking", "Control (usual care, information only or waiting list)"),
}


def rows_for_question(question: str) -> list[dict]:
    """Summary-of-findings rows of one question from today's analysis and GRADE tables.

    One row per outcome of :data:`analysis.pooling.synthesis.ANALYSES` (primary model and data), the
    certainty and its reasons from ``grade.csv``, the control risk of ratio measures from the
    trials' control arms, then a row for every outcome of the published review that no row
    covers.
    """
    from analysis.evidence import grade
    from analysis.findings import grade_computed
    from analysis.pooling import synthesis

    short = question.split("_", 1)[0]
    folder = {"q1": "q1_webhelp", "q2": "q2_interventions"}.get(short, question)
    results = review.current().primary_results.copy()
    results = results[(results["question"] == short) & (results["model_name"] == "primary")]
    judgements = {str(r["outcome"]): r for r in grade.load_grade_table(folder).to_dict("records")}
    # imprecision and inconsistency are computed from the numbers; their footnote is the computed
    # reason (the author's grade.csv judgement is held equal to it by grade_contradictions)
    computed = {(str(r["outcome"]), str(r["domain"])): str(r["reason"])
                for r in grade_computed.computed_judgements(folder).to_dict("records")}
    rows, covered = [], []
    for spec in (s for s in synthesis.ANALYSES if s.question == short):
        match = results[results["outcome"] == spec.outcome]
        result = match.iloc[0].to_dict() if len(match) else {}
        judgement = judgements.get(spec.label, {})
        k = plain(result.get("k")) or 0
        reasons = []
        for domain, name in grade.DOMAINS.items():
            level = str(judgement.get(domain) or "").strip()
            if level in ("serious", "very serious"):
                reason = computed.get((spec.label, domain)) or str(judgement.get(f"{domain}_reason") or "").strip()
                reasons.append((f"{name} ({level})", reason))
        if str(judgement.get("upgrade_levels") or "0").strip() not in ("", "0"):
            reasons.append(("rated up", str(judgement.get("upgrade_reason") or "").strip()))
        level = grade.certainty_level(judgement) if judgement and k else None
        row = {"outcome": spec.label, "k": k, "participants": plain(result.get("n")),
               "measure": spec.reader_measure, "estimate": plain(result.get("estimate")),
               "ci_low": plain(result.get("ci_low")), "ci_high": plain(result.get("ci_high")),
               "certainty": grade.CERTAINTY_WORDS[level] if level else None, "reasons": reasons,
               "comments": str(judgement.get("comments") or "").strip()}
        if spec.published_note:
            row["comment_notes"] = [spec.published_note]
        if k >= 2:  # the small-k panel's robustness verdict (analysis.pooling.panel)
            found = review.current().question(short).sensitivity(spec.outcome, "panel")
            if found is not None:
                row.setdefault("comment_notes", []).append(found.footnote())
        if k == 1 and row["estimate"] is not None:
            row["effect_text"] = (f"one study: {spec.reader_measure} {fmt_num(row['estimate'])} "
                                  f"({fmt_ci(row['ci_low'], row['ci_high'])})")
        if spec.reader_measure in RATIO_MEASURES and k:
            effect_rows = review.current().pooled(short, spec.outcome).as_dict()["effect_sizes"]
            risk = control_risk_from_arms(short, effect_rows)
            if risk:
                row["control_risk"], row["control_risk_source"] = risk
        if spec.published_id:
            covered.append(spec.published_id)
        rows.append(row)
    return rows + published_outcome_rows(short, covered)


def question_table(question: str, *, table_id: str | None = None) -> HtmlBlock:
    """The summary of findings of one question, ready for a chapter or the landing page."""
    short = question.split("_", 1)[0]
    population, setting, intervention, comparison = _POPULATIONS.get(short, ("", "", "", ""))
    title = {"q1": "Summary of findings: web-based help seeking and depressive symptoms",
             "q2": "Summary of findings: interventions to improve help seeking"}.get(short, "Summary of findings")
    return summary_of_findings_html(rows_for_question(question), table_id=table_id or f"{short}-sof",
                                    title=title, population=population, setting=setting,
                                    intervention=intervention, comparison=comparison)
