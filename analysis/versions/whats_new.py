"""What's new in each version, and the flow of records across versions (PRISMA-LSR).

Both are generated from the release log and its sidecar tables (``data/releases/``), never
typed. "What's new" follows the form of a Cochrane review's "What's new" table: one row per
event with its date and a description in words; the events are those Cochrane names (new
search, new studies, methods changed, conclusions changed / not changed). The published
reviews this review updates come first as version 0.

The flow across versions gives, per question and version, what each version added (search
runs, records identified, records screened, reports assessed, studies included) and the
cumulative totals: the layout Kahale et al. propose for living reviews ("base separately,
each update separately"; F1000Research 2022, 10:192, doi:10.12688/f1000research.51723.3),
which PRISMA-LSR asks for across versions.
"""
from __future__ import annotations

import re

import pandas as pd

from analysis.io import schemas
from analysis.pooling import synthesis
from .release_files import read_sidecar
from analysis.io.validate import read_csv_text

__all__ = ["WHATS_NEW_COLUMNS", "FLOW_COLUMNS", "whats_new", "whats_new_text",
           "flow_across_versions", "plot_flow_across_versions"]

WHATS_NEW_COLUMNS = ("version", "date", "event", "description")
FLOW_STEPS = ("search_runs", "records_identified", "records_screened", "reports_assessed",
              "studies_included")
FLOW_COLUMNS = ("version", "date", "question", *[f"new_{s}" for s in FLOW_STEPS],
                *[f"total_{s}" for s in FLOW_STEPS])


def _log() -> pd.DataFrame:
    from . import release_archive

    return release_archive.read_releases()


def _published_rows() -> list[dict]:
    """Version 0: the published reviews, with what their own reports say they included."""
    from analysis.selection import prisma

    rows = []
    for question, folder in schemas.QUESTIONS.items():
        previous = prisma.previous_version(folder)
        if not previous:
            continue
        year = re.search(r"\b(19|20)\d{2}\b", previous["review"])
        parts = []
        if previous.get("studies_included") is not None:
            parts.append(f"{previous['studies_included']} studies included")
        if previous.get("studies_meta_analysis") is not None:
            parts.append(f"{previous['studies_meta_analysis']} in its meta-analysis")
        rows.append({"version": "0", "date": year.group(0) if year else None,
                     "event": "Published review (version 0)",
                     "description": f"{previous['review']}, the review that question "
                                    f"{question[1:]} updates" + (f": {', '.join(parts)}."
                                                                 if parts else ".")})
    return rows


def _int(value) -> int:
    return int(float(value)) if value not in ("", None) else 0


def _primary_studies(version: str) -> set[str]:
    from . import release_archive

    results = release_archive.read_results(version)
    rows = results[(results["scenario"] == "primary") & (results["model_name"] == "primary")]
    return {study.strip() for text in rows["studies"] if text for study in str(text).split(";")}


def whats_new() -> pd.DataFrame:
    """One row per event of every version, newest version first, version 0 last.

    Columns: version, date, event, description.
    """
    log = _log()
    conclusions = read_sidecar("conclusions.csv")
    methods = read_sidecar("methods_changes.csv")
    authored = {}
    from analysis.io.paths import data_dir

    path = data_dir() / "methods_changes.csv"
    if path.exists():
        authored = {row["change_id"]: row for row in
                    read_csv_text(path).to_dict("records")}
    records: list[dict] = []
    previous = None
    for release in log.to_dict("records"):
        version, date = release["version"], release["date"]
        events: list[tuple[str, str]] = []
        runs, included = _int(release["n_search_runs"]), _int(release["n_included"])
        events.append(("Summary", release["summary"]))
        if previous is None:
            events.append(("New search has been performed",
                           f"{runs} search runs identified {release['n_records']} records."))
            events.append(("New studies included", f"{included} studies included."))
        else:
            new_runs = runs - _int(previous["n_search_runs"])
            if new_runs > 0:
                new_records = _int(release["n_records"]) - _int(previous["n_records"])
                events.append(("New search has been performed",
                               f"{new_runs} new search run(s) identified {new_records} new "
                               f"records ({release['n_records']} in all)."))
            if included != _int(previous["n_included"]):
                added = sorted(_primary_studies(version) - _primary_studies(previous["version"]))
                change = included - _int(previous["n_included"])
                text = (f"{change:+d} included studies ({included} in all)"
                        + (f"; newly pooled: {', '.join(added)}" if added else "") + ".")
                events.append(("New studies included" if change > 0 else "Studies removed", text))
        changes = [authored.get(cid, {}).get("change", cid)
                   for cid in methods[methods["version"] == version]["change_id"]]
        if changes:
            events.append(("Methods changed", " ".join(
                f"{c}{'' if c.endswith('.') else '.'}" for c in changes)))
        rows = conclusions[conclusions["version"] == version]
        if len(rows) and previous is not None:
            changed = rows[rows["changed"] == "yes"]
            if len(changed):
                events.append(("Conclusions changed", " ".join(changed["statement"])))
            else:
                events.append(("Conclusions not changed",
                               f"The conclusions of all {len(rows)} outcomes are as in "
                               f"{previous['version']}."))
        elif len(rows):
            pooled = rows[rows["finding"] != "not pooled"]
            events.append(("Conclusions", " ".join(pooled["statement"]) or
                           "No outcome had enough studies to pool."))
        records += [{"version": version, "date": date, "event": event, "description": text}
                    for event, text in events]
        previous = release
    newest_first = []
    for version in reversed(list(log["version"])):
        newest_first += [row for row in records if row["version"] == version]
    return synthesis.object_frame(newest_first + _published_rows(), WHATS_NEW_COLUMNS)


def whats_new_text(version: str | None = None) -> str:
    """What is new in one version (default the latest) as one paragraph."""
    table = whats_new()
    if version is None:
        released = table[table["version"] != "0"]
        if released.empty:
            return "Not yet released."
        version = released["version"].iloc[0]
    rows = table[table["version"] == version]
    if rows.empty:
        raise KeyError(f"no version {version!r} in the release log")
    date = rows["date"].iloc[0]
    body = " ".join(f"{event}: {text}" for event, text in zip(rows["event"], rows["description"]))
    return f"Version {version} ({date}). {body}"


def flow_across_versions() -> pd.DataFrame:
    """Per question and version: what the version added and the totals (oldest first).

    Columns :data:`FLOW_COLUMNS`. Version 0 (the published review) has only
    ``total_studies_included``, as its report prints it.
    """
    from analysis.selection import prisma

    log = _log()
    dates = dict(zip(log["version"], log["date"]))
    flow = read_sidecar("flow.csv")
    flow = flow[flow["version"].isin(set(log["version"]))]
    records = []
    for question, folder in schemas.QUESTIONS.items():
        previous = prisma.previous_version(folder)
        if previous and previous.get("studies_included") is not None:
            year = re.search(r"\b(19|20)\d{2}\b", previous["review"])
            records.append({"version": "0", "date": year.group(0) if year else None,
                            "question": question,
                            "total_studies_included": int(previous["studies_included"])})
        before = {step: 0 for step in FLOW_STEPS}
        for version in log["version"]:
            row = flow[(flow["version"] == version) & (flow["question"] == question)]
            if row.empty:
                continue
            row = row.iloc[0]
            record = {"version": version, "date": dates[version], "question": question}
            for step in FLOW_STEPS:
                total = _int(row[step])
                record[f"new_{step}"] = total - before[step]
                record[f"total_{step}"] = total
                before[step] = total
            records.append(record)
    return synthesis.object_frame(records, FLOW_COLUMNS)


def plot_flow_across_versions(question: str, ax=None):
    """Records identified, screened and studies included that each version added (bars), with
    the cumulative number of included studies (line); returns the Figure."""
    import matplotlib.pyplot as plt
    import numpy as np

    question = next((q for q, f in schemas.QUESTIONS.items() if question in (q, f)), question)
    table = flow_across_versions()
    rows = table[(table["question"] == question) & (table["version"] != "0")]
    if ax is None:
        figure, ax = plt.subplots(figsize=(6.5, 3.8))
    else:
        figure = ax.figure
    if rows.empty:
        ax.text(0.5, 0.5, "no release yet", ha="center", va="center", transform=ax.transAxes)
        ax.set_axis_off()
        return figure
    x = np.arange(len(rows))
    steps = [("new_records_identified", "records identified"),
             ("new_records_screened", "records screened"),
             ("new_studies_included", "studies included")]
    width = 0.26
    for offset, (column, label) in zip((-width, 0.0, width), steps):
        values = rows[column].astype(int).to_numpy()
        bars = ax.bar(x + offset, values, width, label=f"{label} (new in the version)")
        ax.bar_label(bars, fontsize=7, padding=1)
    ax.set_yscale("symlog", linthresh=10)
    ax.set_xticks(x, [f"{v}\n{d}" for v, d in zip(rows["version"], rows["date"])], fontsize=8)
    ax.set_ylabel("Number (new in the version)")
    twin = ax.twinx()
    twin.plot(x, rows["total_studies_included"].astype(int), color="black", marker="o",
              label="studies included (cumulative)")
    twin.set_ylabel("Studies included (cumulative)")
    twin.set_ylim(0, max(1, int(rows["total_studies_included"].astype(int).max())) * 1.3)
    handles = ax.get_legend_handles_labels()
    extra = twin.get_legend_handles_labels()
    ax.legend(handles[0] + extra[0], handles[1] + extra[1], fontsize=7, loc="upper center",
              bbox_to_anchor=(0.5, -0.22), ncol=2, frameon=False)
    figure.tight_layout()
    ax.set_title(f"Question {question[1:]}: flow of records across versions", fontsize=9)
    return figure
