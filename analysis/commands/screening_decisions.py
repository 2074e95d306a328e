"""Storing screening decisions: the ``screen`` and ``full-text-arrived`` commands' steps.

Each checks the decisions against the question's current clusters and decisions (as
:mod:`analysis.review` holds them) and writes ``screening.csv`` (and ``awaiting_full_text.csv``)
in one transaction of :mod:`analysis.io.storage`: all or nothing, under the data folder's lock.
"""
from __future__ import annotations

import csv
import io
from pathlib import Path

import pandas as pd

from analysis import review
from analysis.io.paths import data_dir
from analysis.search import records as rec
from analysis.selection.screening import (DECISIONS, REVIEWER_PATTERN, SCREENING_COLUMNS, STAGES,
                                          ScreeningError, read_screening, reasons_for)


def check_decisions(new: pd.DataFrame, question: str, *, source: str = "decisions") -> list[str]:
    """Every problem that prevents storing ``new`` decisions (empty list when they can be stored).

    Refused: missing columns, unknown record ids, decisions on a record that deduplication links
    to an earlier one, unknown stages or decisions, reasons not in the vocabulary for that stage
    and question, a reason on an include, a second decision by the same reviewer on the same
    record and stage (already stored or repeated in the file), and full-text decisions on records
    with no title/abstract include.
    """
    problems = []
    missing = [c for c in ("record_id", "stage", "reviewer", "decision") if c not in new.columns]
    if missing:
        return [f"{source}: missing column(s) {missing}; expected {SCREENING_COLUMNS}"]
    table = review.current().question(question).clusters
    first_of = dict(zip(table["record_id"], table["first_record_id"]))
    link_reason = dict(zip(table["record_id"], table["reason"]))
    existing = read_screening(question)
    vocabulary = reasons_for(question)
    allowed = {(r.reason, r.stage): r.decision for r in vocabulary.itertuples(index=False)}
    stored = set(zip(existing["record_id"], existing["stage"], existing["reviewer"]))
    title_included = set(existing.loc[(existing["stage"] == "title_abstract")
                                      & (existing["decision"] == "include"), "record_id"])
    title_included |= set(new.loc[(new["stage"] == "title_abstract") & (new["decision"] == "include"), "record_id"])
    seen: dict[tuple, int] = {}
    for index, row in zip(new.index, new.itertuples(index=False)):
        line = int(index) + 2  # the header is line 1 (rows with a line break inside a field shift this)
        where = f"{source}, line {line}"
        record_id, stage, reviewer, decision = (str(getattr(row, c)).strip() for c in
                                                ("record_id", "stage", "reviewer", "decision"))
        reason = str(getattr(row, "reason", "")).strip()
        if record_id not in first_of:
            problems.append(f"{where}: unknown record_id {record_id!r} (not in any search file of {question})")
            continue
        if first_of[record_id] != record_id:
            problems.append(f"{where}: {record_id} is a duplicate of {first_of[record_id]} "
                            f"(linked by {link_reason[record_id]}); record the decision on {first_of[record_id]}")
            continue
        if stage not in STAGES:
            problems.append(f"{where}: unknown stage {stage!r}; one of {list(STAGES)}")
            continue
        if decision not in DECISIONS:
            problems.append(f"{where}: unknown decision {decision!r}; one of {list(DECISIONS)}")
            continue
        if not REVIEWER_PATTERN.fullmatch(reviewer):
            problems.append(f"{where}: reviewer {reviewer!r} is not reviewer_<number> or consensus")
            continue
        if decision == "awaiting_full_text" and stage != "full_text":
            problems.append(f"{where}: awaiting_full_text is a full-text decision; at {stage} "
                            f"choose include (its full text is then sought) or exclude")
            continue
        if decision == "include":
            if reason:
                problems.append(f"{where}: an include takes no reason (found {reason!r})")
        elif (reason, stage) not in allowed:
            known = sorted({r for (r, s) in allowed if s == stage})
            problems.append(f"{where}: unknown reason {reason!r} for stage {stage} of {question}; "
                            f"known reasons: {known} (data/screening_reasons.csv)")
        elif allowed[(reason, stage)] != decision:
            problems.append(f"{where}: reason {reason!r} goes with decision {allowed[(reason, stage)]!r}, "
                            f"not {decision!r}")
        key = (record_id, stage, reviewer)
        if key in stored:
            problems.append(f"{where}: {reviewer} already has a {stage} decision on {record_id} in screening.csv")
        elif key in seen:
            problems.append(f"{where}: repeats the {stage} decision of {reviewer} on {record_id} from line {seen[key]}")
        seen.setdefault(key, line)
        if stage == "full_text" and record_id not in title_included:
            problems.append(f"{where}: full-text decision on {record_id}, which has no title/abstract include")
    return problems


def append_decisions(path: Path | str, question: str) -> int:
    """Append the decisions in CSV ``path`` to ``data/<question>/screening.csv``.

    Rows whose decision is blank are skipped (a queue form from ``queue --out`` partly filled in);
    columns other than SCREENING_COLUMNS are ignored. The decisions are checked and appended in
    one transaction of :mod:`analysis.io.storage`, under the data folder's write lock, so two
    reviewers screening at the same time never lose each other's decisions.

    Raises ScreeningError listing every problem (nothing is written then). Returns the number
    of rows appended.
    """
    from . import checks
    from analysis.io import storage

    path = Path(path)
    if not path.is_file():
        raise ScreeningError([f"{path}: file not found"])
    try:
        new = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as err:
        raise ScreeningError([f"{path}: not a readable CSV file ({str(err).strip()})"]) from None
    for column in ("reason", "note"):
        if column not in new.columns:
            new[column] = ""
    if "decision" in new.columns:  # a queue form: rows left blank are records not decided yet
        new = new[new["decision"].str.strip() != ""]
    folder = rec.question_dir(question)
    with storage.transaction(data_dir(), f"screen {path.name} into {folder.name}") as tx:
        problems = check_decisions(new, question, source=str(path))
        if not problems and new.empty:
            problems = [f"{path}: no row with a decision"]
        target = folder / "screening.csv"
        if not problems and target.exists():
            header = pd.read_csv(target, dtype=str, nrows=0).columns.tolist()
            if header != SCREENING_COLUMNS:
                problems = [f"{target}: has columns {header}, not the long form {SCREENING_COLUMNS}; "
                            "convert it before appending"]
        if problems:
            raise ScreeningError(problems)
        rows = new[SCREENING_COLUMNS].apply(lambda column: column.str.strip()).to_dict("records")
        relative = f"{folder.name}/screening.csv"
        tx.stage_text(relative, rec.appended_csv(tx.current_bytes(relative), rows, SCREENING_COLUMNS))
        tx.validate(checks.blocking_problems)
        tx.commit()
    return len(rows)


def _replace_line(text: str, line_number: int, new_line: str) -> str:
    """``text`` with the CSV row that starts on physical line ``line_number`` replaced."""
    reader = csv.reader(io.StringIO(text, newline=""))
    start = 1
    spans = {}
    for _ in reader:
        spans[start] = reader.line_num
        start = reader.line_num + 1
    lines = text.splitlines(keepends=True)
    end = spans[line_number]
    return "".join(lines[:line_number - 1]) + new_line + "".join(lines[end:])


def _csv_line(values: list[str]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow(values)
    return buffer.getvalue()


def resolve_awaiting(question: str, record_id: str, decision: str = "include", *,
                     reviewer: str | None = None, reason: str = "", note: str = "",
                     arrived: str | None = None) -> dict:
    """Record the full-text decision on a report that was awaiting its full text, now that it
    has arrived: the reviewer's ``awaiting_full_text`` row of screening.csv becomes
    ``decision`` (its earlier reason is kept in the note) and the record's row of
    awaiting_full_text.csv is removed, in one transaction. Every other line of both files is
    kept byte for byte.

    An include then needs the study's rows (studies.csv, extraction.csv, risk_of_bias.csv,
    grade.csv): ``check`` lists them until they are there. Raises ScreeningError.
    Returns ``{"record_id", "reviewer", "decision", "reason", "removed_from_awaiting"}``.
    """
    from . import checks
    from analysis.io import storage

    if decision not in ("include", "exclude"):
        raise ScreeningError([f"decision {decision!r}: when the full text arrives the decision is "
                              "include or exclude"])
    if decision == "include" and reason:
        raise ScreeningError([f"an include takes no reason (found {reason!r})"])
    if decision == "exclude":
        allowed = reasons_for(question)
        allowed = set(allowed.loc[(allowed["stage"] == "full_text") & (allowed["decision"] == "exclude"),
                                  "reason"])
        if reason not in allowed:
            raise ScreeningError([f"unknown reason {reason!r} for a full-text exclusion; "
                                  f"known reasons: {sorted(allowed)}"])
    folder = rec.question_dir(question)
    arrived = arrived or __import__("datetime").date.today().isoformat()
    with storage.transaction(data_dir(), f"full text of {record_id} in {folder.name}") as tx:
        relative = f"{folder.name}/screening.csv"
        text = (tx.current_bytes(relative) or b"").decode("utf-8")
        reader = csv.DictReader(io.StringIO(text, newline=""))
        candidates = []
        start = 2
        for row in reader:
            if (row.get("record_id") == record_id and row.get("stage") == "full_text"
                    and row.get("decision") == "awaiting_full_text"
                    and (reviewer is None or row.get("reviewer") == reviewer)):
                candidates.append((start, row))
            start = reader.line_num + 1
        if not candidates:
            raise ScreeningError([f"{folder / 'screening.csv'}: {record_id} has no "
                                  f"awaiting_full_text decision at full text"
                                  + (f" by {reviewer}" if reviewer else "")])
        if len(candidates) > 1:
            names = ", ".join(row["reviewer"] for _, row in candidates)
            raise ScreeningError([f"{record_id} awaits its full text for {names}: name the "
                                  f"reviewer with --reviewer"])
        line, row = candidates[0]
        earlier = f"until {arrived} awaiting_full_text: {row['reason']}"
        merged_note = "; ".join(part for part in (note.strip(), f"full text arrived {arrived}",
                                                   earlier, row.get("note", "")) if part)
        values = [row["record_id"], "full_text", row["reviewer"], decision,
                  reason if decision == "exclude" else "", merged_note]
        tx.stage_text(relative, _replace_line(text, line, _csv_line(values)))
        awaiting = f"{folder.name}/awaiting_full_text.csv"
        removed = False
        awaiting_bytes = tx.current_bytes(awaiting)
        if awaiting_bytes:
            awaiting_text = awaiting_bytes.decode("utf-8")
            lines = awaiting_text.splitlines(keepends=True)
            reader = csv.DictReader(io.StringIO(awaiting_text, newline=""))
            start, kept = 2, lines[:1]
            for entry in reader:
                span = lines[start - 1:reader.line_num]
                if entry.get("record_id") == record_id:
                    removed = True
                else:
                    kept += span
                start = reader.line_num + 1
            if removed:
                tx.stage_text(awaiting, "".join(kept))
        tx.validate(checks.blocking_problems)
        tx.commit()
    return {"record_id": record_id, "reviewer": row["reviewer"], "decision": decision,
            "reason": values[4], "removed_from_awaiting": removed}
