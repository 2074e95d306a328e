"""The living mode: how often each source is searched, what triggers an update, when it stops.

``data/living_mode.csv`` holds the review team's decisions, one row per question and source
(PRISMA-LSR item L1, Akl et al. 2024, BMJ 387:e079183). Nothing in it is a date that can be
computed: the date of the last search of a source is read from the question's search log
(``searches/searches.csv``, the ``date_run`` of its rows for that source) and the next search
is due ``search_frequency_months`` later. A source with no run yet is due from its
``status_date``. Only an ``active`` source is ever due; ``paused`` and ``retired`` ones are
shown with their status.
"""
from __future__ import annotations

import calendar
import datetime as dt
from pathlib import Path

import pandas as pd

from analysis.io import schemas
from analysis.pooling import synthesis
from analysis.io.paths import data_dir
from analysis.io.validate import read_csv_text

__all__ = ["LIVING_COLUMNS", "add_months", "living_mode", "living_mode_problems",
           "search_flags", "status_summary"]

LIVING_COLUMNS = ("question", "source", "status", "status_date", "search_frequency_months",
                  "last_search", "next_search_due", "overdue", "update_triggers",
                  "retirement_criteria", "rationale")


def add_months(date: dt.date, months: int) -> dt.date:
    """``date`` plus whole calendar months (the 31st becomes the month's last day)."""
    index = date.month - 1 + months
    year, month = date.year + index // 12, index % 12 + 1
    return dt.date(year, month, min(date.day, calendar.monthrange(year, month)[1]))


def _read(root: Path) -> pd.DataFrame:
    return read_csv_text(root / "living_mode.csv")


def _search_dates(root: Path, question: str) -> dict[str, str]:
    """The latest ``date_run`` of each source in a question's search log."""
    path = root / schemas.question_folder(question) / "searches" / "searches.csv"
    if not path.exists():
        return {}
    log = read_csv_text(path)
    return {str(source): max(group) for source, group in log.groupby("source")["date_run"]}


def _today(as_of: str | dt.date | None) -> dt.date:
    if as_of is None:
        return dt.datetime.now(dt.timezone.utc).date()
    return as_of if isinstance(as_of, dt.date) else dt.date.fromisoformat(str(as_of))


def living_mode(as_of: str | dt.date | None = None) -> pd.DataFrame:
    """The living-mode table with the computed dates: one row per question and source.

    Columns :data:`LIVING_COLUMNS`; ``last_search`` (None before the first run of a source),
    ``next_search_due`` (None unless active) and ``overdue`` (next search due before
    ``as_of``, default today in UTC).
    """
    root = data_dir()
    today = _today(as_of)
    records = []
    for row in _read(root).to_dict("records"):
        last = _search_dates(root, row["question"]).get(row["source"])
        months = int(row["search_frequency_months"])
        due = None
        if row["status"] == "active":
            start = dt.date.fromisoformat(last) if last else None
            due = (add_months(start, months) if start
                   else dt.date.fromisoformat(row["status_date"])).isoformat()
        records.append({**{column: row.get(column) for column in LIVING_COLUMNS},
                        "search_frequency_months": months, "last_search": last,
                        "next_search_due": due,
                        "overdue": bool(due is not None and dt.date.fromisoformat(due) < today)})
    return synthesis.object_frame(records, LIVING_COLUMNS)


def living_mode_problems(root: Path | None = None) -> list[tuple[str, int | None, str | None, str]]:
    """Links the schema cannot check, as (file, row, column, message): every question has a
    row; a question whose every source is retired has left living mode, which is allowed."""
    root = root or data_dir()
    table = _read(root)
    problems = []
    covered = set(table["question"])
    for question in schemas.QUESTIONS:
        if question not in covered:
            problems.append(("living_mode.csv", None, "question",
                             f"question {question} has no row: say how it is kept up to date"))
    plan_path = root / "monitoring_plan.csv"
    if plan_path.exists():
        plan = read_csv_text(plan_path)
        known = {(spec.question, spec.outcome) for spec in synthesis.ANALYSES}
        for number, row in enumerate(plan.to_dict("records"), start=2):
            if (row.get("question"), row.get("outcome")) not in known:
                problems.append(("monitoring_plan.csv", number, "outcome",
                                 f"no analysis {row.get('question')}/{row.get('outcome')} "
                                 f"(see analysis.pooling.synthesis.ANALYSES)"))
    return problems


def search_flags(as_of: str | dt.date | None = None) -> list[str]:
    """One line per active source: when its next search is due, or since when it is overdue."""
    flags = []
    for row in living_mode(as_of).to_dict("records"):
        if row["next_search_due"] is None:
            continue
        where = f"{row['question']} ({_short(row['source'])})"
        if row["overdue"]:
            flags.append(f"search overdue: {where} was due {row['next_search_due']}")
        else:
            flags.append(f"next search due: {where} on {row['next_search_due']}")
    return flags


def _short(source: str, limit: int = 40) -> str:
    return source if len(source) <= limit else source[:limit - 1].rstrip() + "…"


def status_summary(as_of: str | dt.date | None = None) -> dict:
    """What the status banner says: release, per-question status, the next due search.

    Keys: release (label of :func:`analysis.versions.release_history.release_status`), questions (list of
    dicts: question, status, last_search, next_search_due, overdue), next_search_due (the
    earliest due date of an active source, or None), overdue (any active source overdue),
    living (any source still active).
    """
    from .release_history import release_status

    table = living_mode(as_of)
    questions = []
    for question, rows in table.groupby("question", sort=True):
        statuses = set(rows["status"])
        status = "active" if "active" in statuses else ("paused" if "paused" in statuses else "retired")
        dues = [d for d in rows["next_search_due"] if d]
        lasts = [d for d in rows["last_search"] if d]
        questions.append({"question": question, "status": status,
                          "last_search": max(lasts) if lasts else None,
                          "next_search_due": min(dues) if dues else None,
                          "overdue": bool(rows["overdue"].any())})
    dues = [q["next_search_due"] for q in questions if q["next_search_due"]]
    return {"release": release_status()["label"], "questions": questions,
            "next_search_due": min(dues) if dues else None,
            "overdue": any(q["overdue"] for q in questions),
            "living": any(q["status"] == "active" for q in questions)}
