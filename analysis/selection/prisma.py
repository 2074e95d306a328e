"""PRISMA 2020 flow counts, table and diagram, computed from the data of a question.

Every count comes from the search log, the record files, the duplicate clusters and the
screening decisions; nothing is typed. The layout is the PRISMA 2020 flow diagram for updated
systematic reviews that searched databases and registers only (Page et al. 2021, BMJ 372:n71,
figure 1 template "updated reviews"): a "Previous studies" column with the studies included in
the previous version, and the identification, screening and inclusion of new studies.

Mapping of decisions to boxes (``data/screening_reasons.csv``, column ``prisma_box``):
title/abstract exclusions -> "Records excluded"; a title/abstract include -> "Reports sought for
retrieval"; ``awaiting_full_text`` (reason "no extractable statistic in available report": the
statistic is not visible in any reachable copy) -> "Reports not retrieved"; full-text include or
exclude -> "Reports assessed for eligibility"; full-text exclusions -> "Reports excluded" with
their reasons; full-text includes -> "New studies included" (one report per study in this
review: companion reports are excluded with reason "duplicate").
"""
from __future__ import annotations

import re
import textwrap

import pandas as pd

from analysis.search import records as rec
from . import screening as scr
from analysis.io.validate import read_csv_text

# Okabe & Ito (2008) colour-blind-safe palette
_BLUE, _SKY, _ORANGE, _GREY = "#0072B2", "#56B4E9", "#E69F00", "#F2F2F2"


def previous_version(question: str) -> dict:
    """The previous version's counts, ``data/<q>/searches/previous_version.csv`` (quoted from its
    abstract): ``{"review", "doi", "studies_included", "studies_meta_analysis"?, ...}``; ints where
    printed, keys absent where not printed."""
    path = rec.question_dir(question) / "searches" / "previous_version.csv"
    if not path.exists():
        return {}
    table = read_csv_text(path)
    if len(table) != 1:
        raise ValueError(f"{path}: expected one row (the previous version), found {len(table)}")
    row = table.iloc[0].to_dict()
    out = {"review": row["review"], "doi": row["doi"]}
    for key in ("studies_included", "studies_meta_analysis", "reports_included"):
        value = row.get(key, "").strip()
        if value:
            if not value.isdigit():
                raise ValueError(f"{path}: {key} {value!r} is not a whole number")
            out[key] = int(value)
    return out


def _records_by_source(records: pd.DataFrame, queries: pd.DataFrame | None) -> dict[str, int]:
    """Records per database. First-round index hits are split by the collection their query
    searched (queries.csv ``corpus``)."""
    counts: dict[str, int] = {}
    corpus_of = {} if queries is None else dict(zip(queries["query_id"], queries["corpus"]))
    for source, query_id in zip(records["source"], records["query_id"]):
        name = f"index: {corpus_of[query_id]}" if query_id in corpus_of else source
        counts[name] = counts.get(name, 0) + 1
    return counts


def sources_searched(search_log: pd.DataFrame) -> list[str]:
    """The sources of a question's search log as a reader reads them ("index of publicly
    available article pages"), each once, in the order first searched."""
    names = [re.sub(r"\s*\(.*?\)\s*", " ", str(source)).strip() for source in search_log["source"].dropna()]
    return list(dict.fromkeys(name for name in names if name))


def identification_heading(sources: list[str]) -> str:
    """The PRISMA column heading, naming what was actually searched (not "databases and
    registers" when none was): ``sources`` as :func:`sources_searched` returns them."""
    if not sources:
        return "Identification of new studies (no search recorded)"
    named = sources[0] if len(sources) == 1 else ", ".join(sources[:-1]) + " and " + sources[-1]
    article = "" if named[:1].isupper() else ("an " if named[:1] in "aeiou" else "a ")
    return f"Identification of new studies via {article}{named}"


def search_runs(search_log: pd.DataFrame, queries: pd.DataFrame | None) -> int:
    """Search runs: one per query of the first identification round (``queries.csv``; each
    query searched the index once) plus one per export added later (each row of the search log
    other than the first round's ``index_hits`` row, which stands for those queries)."""
    first_round = 0 if queries is None else int(queries["query_id"].astype(str).str.strip().ne("").sum())
    later = int((search_log["format"] != "index_hits").sum())
    return first_round + later


def flow_counts(question: str, *, clusters: pd.DataFrame, automatic: pd.DataFrame,
                screening: pd.DataFrame, search_log: pd.DataFrame, queries: pd.DataFrame | None,
                previous: dict) -> dict:
    """PRISMA 2020 counts of a question (updated-review layout), from the held stages.

    Values are plain ints, except ``records_by_source``, ``records_excluded_by_reason`` and
    ``reports_excluded_by_reason`` (dicts of str -> int) and ``previous_review`` (str). Keys:
    search_runs, search_files, records_identified, records_by_source, unique_records,
    duplicates_removed, duplicates_linked_automatically, duplicates_linked_by_reviewers,
    records_screened, records_awaiting_screening, records_excluded, records_excluded_by_reason,
    title_abstract_conflicts, reports_sought, reports_not_retrieved (= reports awaiting full
    text), reports_awaiting_assessment, reports_assessed, reports_excluded,
    reports_excluded_by_reason, full_text_conflicts, new_studies_included, new_reports_included,
    and where the previous version printed them: previous_review, previous_studies,
    previous_studies_meta_analysis, previous_reports, total_studies_at_most (previous + new:
    the previous version's study list is not available, so studies included in both cannot be
    subtracted).
    """
    table = clusters
    cluster_of = dict(zip(table["record_id"], table["cluster_id"]))
    unknown = sorted(set(screening["record_id"]) - set(cluster_of))
    if unknown:
        raise ValueError(f"{question}/screening.csv: decisions on record ids not in any search file: {unknown[:5]}")

    counts: dict = {"search_runs": search_runs(search_log, queries), "search_files": int(len(search_log)),
                    "records_identified": int(len(table)),
                    "records_by_source": _records_by_source(table, queries)}
    n_clusters = int(table["cluster_id"].nunique())
    counts["unique_records"] = n_clusters
    counts["duplicates_removed"] = counts["records_identified"] - n_clusters
    counts["duplicates_linked_automatically"] = counts["records_identified"] - int(automatic["cluster_id"].nunique())
    counts["duplicates_linked_by_reviewers"] = counts["duplicates_removed"] - counts["duplicates_linked_automatically"]

    title = scr.final_decisions(screening, "title_abstract")
    full = scr.final_decisions(screening, "full_text")
    decided_clusters = {cluster_of[r] for r in title["record_id"]}
    counts["records_screened"] = len(decided_clusters)
    counts["records_awaiting_screening"] = n_clusters - len(decided_clusters)
    excluded = title[title["decision"] == "exclude"]
    counts["records_excluded"] = int(len(excluded))
    counts["records_excluded_by_reason"] = {str(k): int(v) for k, v in excluded["reason"].value_counts().items()}
    counts["title_abstract_conflicts"] = int((title["decision"] == "conflict").sum())
    sought = set(title.loc[title["decision"] == "include", "record_id"])
    counts["reports_sought"] = len(sought)
    full_sought = full[full["record_id"].isin(sought)]
    counts["reports_not_retrieved"] = int((full_sought["decision"] == "awaiting_full_text").sum())
    counts["reports_awaiting_assessment"] = len(sought - set(full_sought["record_id"]))
    assessed = full_sought[full_sought["decision"].isin(["include", "exclude"])]
    counts["reports_assessed"] = int(len(assessed))
    reports_excluded = assessed[assessed["decision"] == "exclude"]
    counts["reports_excluded"] = int(len(reports_excluded))
    counts["reports_excluded_by_reason"] = {str(k): int(v) for k, v in reports_excluded["reason"].value_counts().items()}
    counts["full_text_conflicts"] = int((full_sought["decision"] == "conflict").sum())
    included = assessed[assessed["decision"] == "include"]
    counts["new_reports_included"] = int(len(included))
    counts["new_studies_included"] = int(len({cluster_of[r] for r in included["record_id"]}))

    if previous:
        counts["previous_review"] = previous["review"]
        for source_key, key in (("studies_included", "previous_studies"),
                                ("studies_meta_analysis", "previous_studies_meta_analysis"),
                                ("reports_included", "previous_reports")):
            if source_key in previous:
                counts[key] = previous[source_key]
        if "previous_studies" in counts:
            counts["total_studies_at_most"] = counts["previous_studies"] + counts["new_studies_included"]
    return counts



_LABELS = [
    ("identification", "search_runs", "Search runs (one per query; one per export added later)"),
    ("identification", "search_files", "Search exports in the search log"),
    ("identification", "records_identified", "Records identified"),
    ("identification", "duplicates_removed", "Duplicate records removed before screening"),
    ("identification", "duplicates_linked_automatically", "of which linked automatically (DOI, PMID, URL, title)"),
    ("identification", "duplicates_linked_by_reviewers", "of which linked by reviewers only (dedup_map.csv)"),
    ("screening", "unique_records", "Unique records after removing duplicates"),
    ("screening", "records_screened", "Records screened (title/abstract)"),
    ("screening", "records_awaiting_screening", "Records awaiting screening"),
    ("screening", "records_excluded", "Records excluded"),
    ("screening", "title_abstract_conflicts", "Records with unresolved reviewer conflicts (title/abstract)"),
    ("screening", "reports_sought", "Reports sought for retrieval"),
    ("screening", "reports_not_retrieved", "Reports not retrieved (awaiting full text)"),
    ("screening", "reports_awaiting_assessment", "Reports sought, awaiting a full-text decision"),
    ("screening", "reports_assessed", "Reports assessed for eligibility"),
    ("screening", "reports_excluded", "Reports excluded"),
    ("screening", "full_text_conflicts", "Reports with unresolved reviewer conflicts (full text)"),
    ("included", "new_studies_included", "New studies included in review"),
    ("included", "new_reports_included", "Reports of new included studies"),
    ("previous", "previous_studies", "Studies included in previous version of review"),
    ("previous", "previous_studies_meta_analysis", "of which in the previous meta-analysis"),
    ("previous", "previous_reports", "Reports of studies included in previous version"),
    ("included", "total_studies_at_most", "Total studies included in review (at most; overlap with the previous version not checkable)"),
]



def counts_table(counts) -> pd.DataFrame:
    """The counts as a tidy table: ``section, box, label, n`` (n int), one row per box, then one
    row per source and per exclusion reason (box ``records_by_source`` etc., label the name)."""
    rows = []
    for section, key, label in _LABELS:
        if key in counts:
            rows.append((section, key, label, counts[key]))
        if key == "records_identified":
            rows += [(section, "records_by_source", name, n) for name, n in counts["records_by_source"].items()]
        if key == "records_excluded":
            rows += [(section, "records_excluded_by_reason", reason, n)
                     for reason, n in counts["records_excluded_by_reason"].items()]
        if key == "reports_excluded":
            rows += [(section, "reports_excluded_by_reason", reason, n)
                     for reason, n in counts["reports_excluded_by_reason"].items()]
    table = pd.DataFrame(rows, columns=["section", "box", "label", "n"])
    table["n"] = table["n"].astype(int)
    return table


# ---------------------------------------------------------------------------------------------
# Diagram
# ---------------------------------------------------------------------------------------------
def _box(ax, x, y, width, text, *, fill="white", wrap=None, size=9, weight="normal"):
    """A box centred at (x, y) with text wrapped to its width; returns (left, right, top, bottom)."""
    from matplotlib.patches import FancyBboxPatch

    if wrap is None:  # characters per line from the box's printed width (mean glyph ~0.58 em)
        axes_inches = ax.get_position().width * ax.figure.get_size_inches()[0]
        wrap = max(12, int((width - 0.024) * axes_inches * 72 / (size * 0.58)))
    # A count never breaks from its label: "(n = 4)" and the word before it are joined by
    # no-break spaces, which textwrap does not split on.
    text = re.sub(r" \(n ([=\u2264]) ", "\u00a0(n\u00a0\\1\u00a0", text)
    lines = []
    for paragraph in text.split("\n"):
        lines += textwrap.wrap(paragraph, wrap, subsequent_indent="  " if paragraph.startswith("  ") else "") or [""]
    # one line of text in axes units, from the font size and the figure's printed height
    line = size * 1.32 / 72 / (ax.get_position().height * ax.figure.get_size_inches()[1])
    height = line * len(lines) + 0.022
    ax.add_patch(FancyBboxPatch((x - width / 2, y - height / 2), width, height,
                                boxstyle="round,pad=0.003,rounding_size=0.006",
                                facecolor=fill, edgecolor="black", linewidth=0.9))
    shown = "\n".join(lines).replace("$", r"\$")  # a "$" in a source name must not start mathtext
    ax.text(x - width / 2 + 0.012, y, shown, ha="left", va="center", fontsize=size,
            fontweight=weight, linespacing=1.25)
    return x - width / 2, x + width / 2, y + height / 2, y - height / 2


def _arrow(ax, start, end):
    ax.annotate("", xy=end, xytext=start,
                arrowprops=dict(arrowstyle="-|>", color="black", lw=0.9, shrinkA=0, shrinkB=0))


def plot_prisma_flow(counts: dict, ax=None, *, sources: list[str] | None = None):
    """Draw the PRISMA 2020 flow diagram for an updated review from a question's flow counts (:func:`flow_counts`, as the review holds them).

    Boxes and arrows in matplotlib; phase labels in blue bars, the "Previous studies" column
    headed in orange and the new-studies column in sky blue (Okabe-Ito colours, safe for colour
    vision deficiencies); sized for the book's text column (8.4 x 11 inches, 9 pt text or larger, so
    that the smallest text reads at 10 px or more at the column's 680 px). ``sources``: what
    was searched (:func:`sources_searched`), named in the heading. Returns the Figure.
    """
    import matplotlib.pyplot as plt

    if ax is None:
        fig, ax = plt.subplots(figsize=(8.4, 11))
        fig.subplots_adjust(left=0.01, right=0.99, bottom=0.01, top=0.99)
    else:
        fig = ax.figure
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.axis("off")

    prev_x, main_x, side_x = 0.185, 0.485, 0.815
    prev_w, main_w, side_w = 0.235, 0.29, 0.33

    def header(x, width, text, colour):
        ax.add_patch(plt.Rectangle((x - width / 2, 0.945), width, 0.045, facecolor=colour, edgecolor="black", lw=0.9))
        # wrapped to the bar's printed width (bold glyphs ~0.62 em), never running past it
        chars = max(12, int(width * ax.figure.get_size_inches()[0] * 72 / (9.5 * 0.62)))
        ax.text(x, 0.9675, textwrap.fill(text, chars), ha="center", va="center", fontsize=9.5,
                fontweight="bold", linespacing=1.1)

    has_previous = "previous_studies" in counts
    if has_previous:
        header(prev_x, prev_w, "Previous studies", _ORANGE)
    header((main_x - main_w / 2 + side_x + side_w / 2) / 2, side_x + side_w / 2 - (main_x - main_w / 2),
           identification_heading(sources or []), _SKY)

    def phase(y_top, y_bottom, label):
        ax.add_patch(plt.Rectangle((0.0, y_bottom), 0.038, y_top - y_bottom, facecolor=_BLUE, edgecolor="black", lw=0.9))
        ax.text(0.019, (y_top + y_bottom) / 2, label, rotation=90, ha="center", va="center",
                color="white", fontsize=9.5, fontweight="bold")

    # Identification
    sources = "\n".join(f"  {name} (n = {n})" for name, n in counts["records_by_source"].items())
    ident = _box(ax, main_x, 0.83, main_w,
                 f"Records identified from {counts['search_runs']} search run(s) (n = {counts['records_identified']}):\n{sources}")
    removed_text = (f"Records removed before screening:\n  Duplicate records removed (n = {counts['duplicates_removed']}):"
                    f"\n  linked automatically (n = {counts['duplicates_linked_automatically']})"
                    f"\n  linked by reviewers (n = {counts['duplicates_linked_by_reviewers']})")
    removed = _box(ax, side_x, 0.83, side_w, removed_text)
    _arrow(ax, (ident[1], 0.83), (removed[0], 0.83))

    # Screening
    rows_y = [0.64, 0.49, 0.35]
    screened_text = f"Records screened (n = {counts['records_screened']})"
    if counts.get("records_awaiting_screening"):
        screened_text += f"\nAwaiting screening (n = {counts['records_awaiting_screening']})"
    screened = _box(ax, main_x, rows_y[0], main_w, screened_text)
    reasons = "\n".join(f"  {r} (n = {n})" for r, n in counts["records_excluded_by_reason"].items())
    excluded = _box(ax, side_x, rows_y[0], side_w, f"Records excluded (n = {counts['records_excluded']}):\n{reasons}")
    _arrow(ax, (screened[1], rows_y[0]), (excluded[0], rows_y[0]))
    sought = _box(ax, main_x, rows_y[1], main_w, f"Reports sought for retrieval (n = {counts['reports_sought']})")
    not_retrieved = _box(ax, side_x, rows_y[1], side_w,
                         f"Reports not retrieved (n = {counts['reports_not_retrieved']}): statistic not "
                         "visible in any reachable copy; awaiting full text")
    _arrow(ax, (sought[1], rows_y[1]), (not_retrieved[0], rows_y[1]))
    assessed_text = f"Reports assessed for eligibility (n = {counts['reports_assessed']})"
    if counts.get("reports_awaiting_assessment"):
        assessed_text += f"\nAwaiting a full-text decision (n = {counts['reports_awaiting_assessment']})"
    assessed = _box(ax, main_x, rows_y[2], main_w, assessed_text)
    reasons = "\n".join(f"  {r} (n = {n})" for r, n in counts["reports_excluded_by_reason"].items())
    reports_excluded = _box(ax, side_x, rows_y[2], side_w,
                            f"Reports excluded (n = {counts['reports_excluded']})" + (f":\n{reasons}" if reasons else ""),
                            )
    _arrow(ax, (assessed[1], rows_y[2]), (reports_excluded[0], rows_y[2]))
    for upper, lower in ((ident, screened), (screened, sought), (sought, assessed)):
        _arrow(ax, (main_x, upper[3]), (main_x, lower[2]))

    # Included
    new = _box(ax, main_x, 0.17, main_w, f"New studies included in review (n = {counts['new_studies_included']})\n"
               f"Reports of new included studies (n = {counts['new_reports_included']})")
    _arrow(ax, (main_x, assessed[3]), (main_x, new[2]))
    if has_previous:
        previous_text = f"Studies included in previous version of review (n = {counts['previous_studies']})"
        if "previous_studies_meta_analysis" in counts:
            previous_text += f"\n  of which in the meta-analysis (n = {counts['previous_studies_meta_analysis']})"
        previous_text += ("\nReports of studies included in previous version "
                          + (f"(n = {counts['previous_reports']})" if "previous_reports" in counts else "(not reported)"))
        previous_text += f"\nSource: {counts['previous_review']}"
        prev = _box(ax, prev_x, 0.83, prev_w, previous_text)
        total = _box(ax, prev_x, 0.17, prev_w,
                     f"Total studies included in review (n \u2264 {counts['total_studies_at_most']}): "
                     "previous + new; overlap not checkable without the previous study list")
        _arrow(ax, (prev_x, prev[3]), (prev_x, total[2]))
        _arrow(ax, (new[0], 0.17), (total[1], 0.17))
    phase(0.93, 0.74, "Identification")
    phase(0.72, 0.27, "Screening")
    phase(0.25, 0.06, "Included")
    return fig
