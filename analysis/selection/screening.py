"""Screening: decisions per reviewer, conflicts, Cohen's kappa and the queue of undecided records.

The decision table is ``data/<question>/screening.csv`` in long form, one row per reviewer per
record per stage: ``record_id, stage, reviewer, decision, reason, note`` with stage in
{title_abstract, full_text} and decision in {include, exclude, awaiting_full_text}; ``reason`` comes
from ``data/screening_reasons.csv`` (empty for include). The first round's wide shape (one row per
unique record: ``record_id, decision, reason, note``) is also read, converted with the same
vocabulary.

Decisions key on stable record ids (see :mod:`analysis.search.records`). A unique record is a duplicate
cluster: the automatic links of :func:`analysis.search.dedup.dedup` plus the reviewers' own links in
``dedup_map.csv`` where the question has one. Only clusters without a decision enter the queue,
so after an update only the new unique records are screened.

A reviewer named ``consensus`` records the resolution of a conflict: where present, that decision
is the final one for its record and stage.
"""
from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import pandas as pd

from analysis.search import records as rec
from analysis.search.dedup import dedup
from analysis.io.paths import data_dir
from analysis.io.validate import read_csv_text

STAGES = ("title_abstract", "full_text")
DECISIONS = ("include", "exclude", "awaiting_full_text")
SCREENING_COLUMNS = ["record_id", "stage", "reviewer", "decision", "reason", "note"]
REASON_COLUMNS = ["reason", "stage", "decision", "prisma_box", "questions", "description"]
CONSENSUS = "consensus"
REVIEWER_PATTERN = re.compile(r"reviewer_\d+|consensus")  # as the codebook and validator require
# the first round was screened by one person, the review's second reviewer (SOURCE_README.md:
# "Second-reviewer search and screening"); the wide table names no reviewer
FIRST_ROUND_REVIEWER = "reviewer_2"


class ScreeningError(ValueError):
    """Decisions that cannot be stored; ``problems`` lists every one (file, line, what is wrong)."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("\n".join(problems))


def read_reasons() -> pd.DataFrame:
    """The vocabulary of exclusion reasons, ``data/screening_reasons.csv`` (columns REASON_COLUMNS)."""
    path = data_dir() / "screening_reasons.csv"
    table = read_csv_text(path)
    missing = [c for c in REASON_COLUMNS if c not in table.columns]
    if missing:
        raise ValueError(f"{path}: missing column(s) {missing}")
    return table[REASON_COLUMNS]


def reasons_for(question: str) -> pd.DataFrame:
    """Reasons that apply to a question (its name is in the semicolon list ``questions``)."""
    reasons = read_reasons()
    applies = reasons["questions"].str.split(";").apply(lambda names: question in [n.strip() for n in names])
    return reasons[applies].reset_index(drop=True)


def _from_first_round_shape(table: pd.DataFrame, reasons: pd.DataFrame) -> pd.DataFrame:
    """Wide first-round decisions -> long rows. An include or an exclusion whose reason belongs to
    the full-text stage passed title/abstract screening; every other exclusion is a
    title/abstract exclusion."""
    full_text_reasons = dict(zip(reasons.loc[reasons["stage"] == "full_text", "reason"],
                                 reasons.loc[reasons["stage"] == "full_text", "decision"]))
    title_reasons = set(reasons.loc[reasons["stage"] == "title_abstract", "reason"])
    rows = []
    for row in table.itertuples(index=False):
        reason = str(row.reason).strip()
        if row.decision == "include":
            rows.append((row.record_id, "title_abstract", "include", "", ""))
            rows.append((row.record_id, "full_text", "include", "", row.note))
        elif reason in title_reasons:
            rows.append((row.record_id, "title_abstract", "exclude", reason, row.note))
        else:
            rows.append((row.record_id, "title_abstract", "include", "", ""))
            rows.append((row.record_id, "full_text", full_text_reasons.get(reason, row.decision), reason, row.note))
    long = pd.DataFrame(rows, columns=["record_id", "stage", "decision", "reason", "note"])
    long.insert(2, "reviewer", FIRST_ROUND_REVIEWER)
    return long[SCREENING_COLUMNS]


def read_screening(question: str) -> pd.DataFrame:
    """All screening decisions of a question in long form (columns SCREENING_COLUMNS)."""
    path = rec.question_dir(question) / "screening.csv"
    if not path.exists():
        return pd.DataFrame(columns=SCREENING_COLUMNS, dtype="str")
    header = path.read_text(encoding="utf-8").split("\n", 1)[0]
    # the first round's wide shape (no stage column) is read as written, then made long
    table = read_csv_text(path, as_written="stage" not in header.split(","))
    if "stage" not in table.columns and {"record_id", "decision", "reason"} <= set(table.columns):
        if "note" not in table.columns:
            table["note"] = ""
        return _from_first_round_shape(table, reasons_for(question))
    missing = [c for c in SCREENING_COLUMNS if c not in table.columns]
    if missing:
        raise ValueError(f"{path}: missing column(s) {missing}")
    return table[SCREENING_COLUMNS].copy()


# ---------------------------------------------------------------------------------------------
# Unique records
# ---------------------------------------------------------------------------------------------
def clusters_table(records: pd.DataFrame, reviewer_links: pd.DataFrame | None = None, *,
                   progress: bool = False) -> pd.DataFrame:
    """Every record with its duplicate cluster: the record table plus ``cluster_id``,
    ``first_record_id``, ``reason``, ``linked_to`` and ``cluster_size``.

    Clusters are the automatic links of :func:`analysis.search.dedup.dedup` joined with the reviewers'
    hand-made links (``dedup_map.csv``, reason ``manual``) where there are any.
    """
    clusters = dedup(records, manual_links=reviewer_links, progress=progress)
    table = records.merge(clusters, on="record_id", how="left", validate="one_to_one",
                          suffixes=("", "_link"))
    table["cluster_size"] = table.groupby("cluster_id")["record_id"].transform("size").astype(int)
    return table


def unique_records(question: str) -> pd.DataFrame:
    """The clusters of a question as the review holds them (see :func:`clusters_table`)."""
    from analysis import review

    return review.current().question(question).clusters


# ---------------------------------------------------------------------------------------------
# Final decisions, conflicts, kappa
# ---------------------------------------------------------------------------------------------
def final_decisions(screening: pd.DataFrame, stage: str) -> pd.DataFrame:
    """One row per record decided at ``stage``: ``record_id, decision, reason, n_reviewers``.

    The decision is the consensus reviewer's where there is one, else the reviewers' common
    decision; records whose reviewers disagree get decision ``conflict``. Reviewers who agree on
    exclusion but name different reasons keep the first reviewer's reason (the PRISMA box is the
    same).
    """
    at_stage = screening[screening["stage"] == stage]
    rows = []
    for record_id, group in at_stage.groupby("record_id", sort=False):
        consensus = group[group["reviewer"] == CONSENSUS]
        if len(consensus):
            row = consensus.iloc[0]
            rows.append((record_id, row["decision"], row["reason"], int(len(group))))
            continue
        decisions = group["decision"].unique()
        if len(decisions) == 1:
            rows.append((record_id, decisions[0], group["reason"].iloc[0], int(len(group))))
        else:
            rows.append((record_id, "conflict", "", int(len(group))))
    return pd.DataFrame(rows, columns=["record_id", "decision", "reason", "n_reviewers"])


def conflicts(screening: pd.DataFrame, stage: str | None = None) -> pd.DataFrame:
    """Records on which reviewers disagree at a stage and no consensus decision exists.

    One row per record and stage: ``record_id, stage`` and one column per reviewer holding
    ``decision`` or ``decision: reason``.
    """
    stages = [stage] if stage else list(STAGES)
    frames = []
    for current in stages:
        final = final_decisions(screening, current)
        open_ids = final.loc[final["decision"] == "conflict", "record_id"]
        rows = screening[(screening["stage"] == current) & screening["record_id"].isin(open_ids)].copy()
        if rows.empty:
            continue
        rows["shown"] = rows["decision"].where(rows["reason"] == "", rows["decision"] + ": " + rows["reason"])
        wide = rows.pivot(index="record_id", columns="reviewer", values="shown").reset_index()
        wide.insert(1, "stage", current)
        frames.append(wide)
    if not frames:
        return pd.DataFrame(columns=["record_id", "stage"])
    return pd.concat(frames, ignore_index=True).fillna("")


def cohen_kappa(screening: pd.DataFrame, stage: str, reviewers: tuple[str, str] | None = None,
                records: "set[str] | None" = None) -> dict:
    """Cohen's kappa of two reviewers' decisions at a stage, over the records both decided, with
    its 95% confidence interval.

    kappa = (p_o - p_e) / (1 - p_e), with p_o the observed agreement and p_e the agreement
    expected from each reviewer's marginal proportions (Cohen 1960, Educ Psychol Meas 20:37-46,
    eq. 1). Categories are the decisions (include / exclude / awaiting_full_text). The CI uses the
    large-sample standard error of Fleiss, Cohen & Everitt 1969 (:mod:`analysis.reviewers.agreement`).
    ``records``: only these records (e.g. the seeded sample a second reviewer screened).

    Returns ``{"stage", "reviewers", "n_records", "agreement", "kappa", "se", "ci_low", "ci_high",
    "note"}``; with fewer than two reviewers (other than ``consensus``) kappa is None and the note
    says so; it is never computed against an invented second reviewer.
    """
    from analysis.reviewers.agreement import cohen_kappa_ci

    at_stage = screening[(screening["stage"] == stage) & (screening["reviewer"] != CONSENSUS)]
    if records is not None:
        at_stage = at_stage[at_stage["record_id"].isin(records)]
    names = sorted(at_stage["reviewer"].unique())
    result = {"stage": stage, "reviewers": names, "n_records": 0, "agreement": None, "kappa": None,
              "se": None, "ci_low": None, "ci_high": None, "note": ""}
    if reviewers is None:
        if len(names) < 2:
            result["note"] = (f"only one reviewer ({names[0]}) screened at this stage: no agreement to measure"
                              if names else "no decisions at this stage")
            return result
        if len(names) > 2:
            result["note"] = f"{len(names)} reviewers; name the two to compare"
            return result
        reviewers = (names[0], names[1])
    first, second = (at_stage[at_stage["reviewer"] == r].set_index("record_id")["decision"] for r in reviewers)
    both = pd.concat([first.rename("a"), second.rename("b")], axis=1, join="inner")
    result["reviewers"] = list(reviewers)
    result["n_records"] = int(len(both))
    if both.empty:
        result["note"] = "the two reviewers decided no record in common"
        return result
    kappa = cohen_kappa_ci(list(both["a"]), list(both["b"]))
    result["agreement"] = kappa.agreement
    if kappa.kappa is None:
        result["note"] = "both reviewers used a single identical category: kappa undefined"
        return result
    result.update(kappa=kappa.kappa, se=kappa.se, ci_low=kappa.ci_low, ci_high=kappa.ci_high)
    return result


def screening_summary(question: str) -> dict:
    """Plain values for the book: per stage the reviewers, the number of decisions, the final
    decisions by kind, conflicts, Cohen's kappa (with its note) and the queue size."""
    from analysis import review

    screening = review.current().question(question).screening
    summary: dict = {"question": question}
    for stage in STAGES:
        final = final_decisions(screening, stage)
        kappa = cohen_kappa(screening, stage)
        summary[stage] = {
            "reviewers": sorted(screening.loc[screening["stage"] == stage, "reviewer"].unique().tolist()),
            "decisions": int((screening["stage"] == stage).sum()),
            "final": {str(k): int(v) for k, v in final["decision"].value_counts().items()},
            "conflicts": int((final["decision"] == "conflict").sum()),
            "kappa": kappa["kappa"], "kappa_ci": (kappa["ci_low"], kappa["ci_high"]),
            "kappa_records": kappa["n_records"], "kappa_note": kappa["note"],
            "queue": int(len(screening_queue(question, stage))),
        }
    return summary


# ---------------------------------------------------------------------------------------------
# Queue
# ---------------------------------------------------------------------------------------------
QUEUE_COLUMNS = ["record_id", "title", "first_author", "year", "journal", "doi", "pmid", "url",
                 "search_id", "cluster_size", "abstract"]


def screening_queue(question: str, stage: str = "title_abstract", *, reviewer: str | None = None,
                    progress: bool = False) -> pd.DataFrame:
    """Unique records still needing a decision at ``stage`` (columns QUEUE_COLUMNS), in search order.

    A cluster is decided when any of its records has a decision at the stage (by ``reviewer`` if
    given, else by anyone). The full-text queue holds clusters whose final title/abstract
    decision is include and that have no full-text decision yet.
    """
    if stage not in STAGES:
        raise ValueError(f"unknown stage {stage!r}; one of {STAGES}")
    from analysis import review

    part = review.current().question(question)
    table, screening = part.clusters, part.screening
    cluster_of = dict(zip(table["record_id"], table["cluster_id"]))
    decided = screening[screening["stage"] == stage]
    if reviewer:
        decided = decided[decided["reviewer"] == reviewer]
    decided_clusters = {cluster_of[r] for r in decided["record_id"] if r in cluster_of}
    firsts = table[table["record_id"] == table["first_record_id"]]
    queue = firsts[~firsts["cluster_id"].isin(decided_clusters)]
    if stage == "full_text":
        passed = final_decisions(screening, "title_abstract")
        passed_clusters = {cluster_of[r] for r in passed.loc[passed["decision"] == "include", "record_id"]
                           if r in cluster_of}
        queue = queue[queue["cluster_id"].isin(passed_clusters)]
    return queue[QUEUE_COLUMNS].reset_index(drop=True)


def screening_form(queue: pd.DataFrame, stage: str, reviewer: str | None = None) -> pd.DataFrame:
    """The form a reviewer fills in: the decision columns of screening.csv first (empty
    decision, reason and note), then what the record says (title, authors, year, journal,
    identifiers, abstract). Write it with :func:`form_csv`."""
    form = queue.assign(stage=stage, reviewer=reviewer or "", decision="", reason="", note="")
    return form[SCREENING_COLUMNS + [c for c in QUEUE_COLUMNS if c != "record_id"]]


def form_csv(form: pd.DataFrame) -> str:
    """The form as CSV text for a spreadsheet: text that a spreadsheet would run as a formula
    (a title starting with "=", "+", "-" or "@") is neutralised (:mod:`analysis.io.safe_csv`).
    Reading the form back (:func:`append_decisions`) uses only the decision columns."""
    from analysis.io.safe_csv import csv_for_people

    return csv_for_people(form)


# ---------------------------------------------------------------------------------------------
# Appending decisions
# ---------------------------------------------------------------------------------------------
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
    table = unique_records(question)
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
    from analysis import checks
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
    from analysis import checks
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
