"""The PRISMA-LSR checklist, generated: each item with where the book reports it.

PRISMA-LSR (Akl et al. 2024, BMJ 387:e079183, Table 1) adds four items (L1 living-mode
parameters, L2 changes to methods, L3 changes to results, L4 authors and their roles) and new
elements under PRISMA 2020 items. ``analysis/versions/prisma_lsr_items.csv`` lists them (elements in
this review's paraphrase) with where the book reports each and, where the data can show it,
the name of the check that does (``filled_by``). An element is "reported" only when its check
passes on the data as they are; an element without a check is "not reported", which the
checklist says rather than hides.

Provenance of the items: the title, abstract, introduction and L1 elements follow Table 1 of
Akl et al. (https://pmc.ncbi.nlm.nih.gov/articles/PMC12036629/table/tbl1); the later elements
(updating data of earlier studies, analytical methods specific to the living mode, what
triggered the version, search and selection across versions, limitations, L2-L4) are those the
authors list in their Cochrane Colloquium 2023 abstract, placed under the PRISMA 2020 item
they concern by this review; check them against the published table before relying on the
item numbers 9, 13, 16 and 23.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable

import pandas as pd

from analysis.io import schemas
from analysis.pooling import synthesis
from analysis.io.paths import REPO_ROOT, data_dir
from analysis.io.validate import read_csv_text

__all__ = ["CHECKLIST_COLUMNS", "CHECKS", "checklist", "items"]

CHECKLIST_COLUMNS = ("item", "section", "topic", "element", "where", "status", "evidence")
ITEMS_FILE = Path(__file__).with_name("prisma_lsr_items.csv")


def items() -> pd.DataFrame:
    """The checklist items as data (``analysis/versions/prisma_lsr_items.csv``)."""
    return pd.read_csv(ITEMS_FILE, dtype=str, keep_default_na=False)


def _living() -> pd.DataFrame:
    return read_csv_text(data_dir() / "living_mode.csv")


def _releases() -> pd.DataFrame:
    from . import release_archive

    return release_archive.read_releases()


def _living_in_title() -> str | None:
    import yaml

    config = yaml.safe_load((REPO_ROOT / "_config.yml").read_text(encoding="utf-8"))
    title = str(config.get("title", ""))
    return f"title: {title}" if "living" in title.lower() else None


def _version_number() -> str | None:
    log = _releases()
    return f"version {log['version'].iloc[-1]}" if len(log) else None


def _living_status() -> str | None:
    table = _living()
    covered = set(table["question"])
    if not table.empty and covered >= set(schemas.QUESTIONS):
        return "; ".join(f"{q}: {s}" for q, s in zip(table["question"], table["status"]))
    return None


def _rationale() -> str | None:
    table = _living()
    return (f"{len(table)} source(s) with a rationale"
            if len(table) and (table["rationale"] != "").all() else None)


def _preceding_version() -> str | None:
    from analysis.selection import prisma

    found = [prisma.previous_version(folder) for folder in schemas.QUESTIONS.values()]
    if all(found):
        return "; ".join(entry["review"] for entry in found)
    return None


def _methods_changes() -> str | None:
    path = data_dir() / "methods_changes.csv"
    if not path.exists():
        return None
    table = read_csv_text(path)
    return f"{len(table)} methods change(s) recorded" if len(table) else "no methods change recorded"


def _schedule() -> str | None:
    table = _living()
    if table.empty or set(table["question"]) < set(schemas.QUESTIONS):
        return None
    return "; ".join(f"{q}: every {m} months" for q, m in
                     zip(table["question"], table["search_frequency_months"]))


def _retirement() -> str | None:
    table = _living()
    return ("retirement criteria for every source"
            if len(table) and (table["retirement_criteria"] != "").all() else None)


def _monitoring_plan() -> str | None:
    path = data_dir() / "monitoring_plan.csv"
    if not path.exists():
        return None
    table = read_csv_text(path)
    return f"{len(table)} outcome(s) monitored" if len(table) else None


def _trigger() -> str | None:
    log = _releases()
    return f"{log['version'].iloc[-1]}: {log['summary'].iloc[-1]}" if len(log) else None


def _flow() -> str | None:
    from .whats_new import flow_across_versions

    log = _releases()
    flow = flow_across_versions()
    versions = set(flow["version"])
    if len(log) and set(log["version"]) <= versions:
        return f"{len(log)} version(s) with flow counts"
    return None


def _conclusions() -> str | None:
    from .conclusions import stored_conclusions

    log = _releases()
    if not len(log):
        return None
    rows = stored_conclusions(log["version"].iloc[-1])
    return f"{len(rows)} outcome conclusions for {log['version'].iloc[-1]}" if len(rows) else None


CHECKS: dict[str, Callable[[], str | None]] = {
    "living_in_title": _living_in_title, "version_number": _version_number,
    "living_status": _living_status, "living_mode_rationale": _rationale,
    "preceding_version": _preceding_version, "methods_changes": _methods_changes,
    "living_mode_schedule": _schedule, "retirement_plan": _retirement,
    "monitoring_plan": _monitoring_plan, "release_trigger": _trigger,
    "flow_across_versions": _flow, "conclusion_changes": _conclusions,
}


def checklist() -> pd.DataFrame:
    """Every checklist element with ``status`` "reported" or "not reported" and the evidence.

    Columns :data:`CHECKLIST_COLUMNS`. An element is reported when its check (``filled_by``)
    finds the data that fill it; ``evidence`` says what was found.
    """
    records = []
    for row in items().to_dict("records"):
        evidence = None
        if row["filled_by"]:
            if row["filled_by"] not in CHECKS:
                raise KeyError(f"{ITEMS_FILE.name}: unknown check {row['filled_by']!r}")
            evidence = CHECKS[row["filled_by"]]()
        records.append({"item": row["item"], "section": row["section"], "topic": row["topic"],
                        "element": row["element"],
                        "where": row["where"] if evidence else None,
                        "status": "reported" if evidence else "not reported",
                        "evidence": evidence})
    return synthesis.object_frame(records, CHECKLIST_COLUMNS)
