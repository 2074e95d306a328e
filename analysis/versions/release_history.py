"""What the releases say for readers: the log, the current release and whether the data
still match it, what changed since the previous release, and each estimate across versions."""
from __future__ import annotations

import pandas as pd

from analysis import review
from analysis.pooling import synthesis

from analysis.io.fingerprint import data_fingerprint
from .release_archive import ReleaseError, read_releases, read_results
from .release_changes import nan_as_none, same_number

__all__ = ["current_release", "estimate_history", "release_log", "release_status", "what_changed",
           "what_changed_wide"]


def release_log() -> pd.DataFrame:
    """The release log for readers: version, date, kind, summary, data (first 12 hex digits of
    the fingerprint), search runs, records, included (integers); no integrity hashes."""
    log = read_releases()
    records = [{"version": row["version"], "date": row["date"], "kind": row["kind"],
                "summary": row["summary"], "data": row["data_fingerprint"][:12],
                "search runs": int(row["n_search_runs"]), "records": int(row["n_records"]),
                "included": int(row["n_included"])} for row in log.to_dict("records")]
    return synthesis.object_frame(records, ["version", "date", "kind", "summary", "data",
                                            "search runs", "records", "included"])


def current_release() -> dict | None:
    """The latest release's log row (version, date, kind, summary, ...) or None."""
    log = read_releases()
    return None if log.empty else {k: v for k, v in log.iloc[-1].to_dict().items()}


_VIEW_COLUMNS = ["question", "outcome", "outcome_label", "role", "version", "date", "measure",
                 "pooled", "k", "n", "estimate", "ci_low", "ci_high", "i2", "model"]


def _primary_rows(results: pd.DataFrame) -> pd.DataFrame:
    return results[(results["scenario"] == "primary") & (results["model_name"] == "primary")]


def _published_view_rows() -> list[dict]:
    """The published reviews as "version 0": their pooled results as printed."""
    comparison = synthesis.published_comparison(pd.DataFrame(columns=list(synthesis.RESULT_COLUMNS)),
                                                review.current().published)
    rows = []
    for record in comparison.to_dict("records"):
        rows.append({
            "question": record["question"], "outcome": record["outcome"],
            "outcome_label": record["outcome_label"], "role": "published",
            "version": "0", "date": None,
            "measure": record["published_measure"],
            "pooled": record["published_estimate"] is not None,
            "k": record["published_k"], "n": record["published_n"],
            "estimate": record["published_estimate"], "ci_low": record["published_ci_low"],
            "ci_high": record["published_ci_high"], "i2": None,
            "model": record["published_review"],
        })
    return rows


def what_changed(current: str | None = None, previous: str | None = None) -> pd.DataFrame:
    """Per outcome: the published review (version 0), the previous release and the current one.

    ``current`` defaults to the latest release; ``current="data"`` uses the data as they are
    now (not yet released). ``previous`` defaults to the release before ``current``. Long
    format, one row per outcome and role ("published", "previous", "current"), columns
    question, outcome, outcome_label, role, version, date, measure, pooled, k, n, estimate,
    ci_low, ci_high, i2, model, changed (on "current" rows: did k, N, the estimate, its CI or
    I² move since "previous"; None elsewhere).
    """
    log = read_releases()
    versions = list(log["version"])
    dates = dict(zip(log["version"], log["date"]))
    if current == "data":
        current_results = _primary_rows(review.current().primary_results.copy())
        current_date = None
        default_previous = versions[-1] if versions else None
    else:
        current = current or (versions[-1] if versions else None)
        if current is not None and current not in versions:
            raise ReleaseError(f"no release {current!r}; releases: {', '.join(versions) or 'none'}")
        current_results = _primary_rows(read_results(current)) if current else None
        current_date = dates.get(current)
        index = versions.index(current) if current else -1
        default_previous = versions[index - 1] if index > 0 else None
    previous = previous or default_previous
    if previous is not None and previous not in versions:
        raise ReleaseError(f"no release {previous!r}; releases: {', '.join(versions) or 'none'}")
    previous_results = _primary_rows(read_results(previous)) if previous else None

    published = {(r["question"], r["outcome"]): r for r in _published_view_rows()}
    records = []
    for spec in synthesis.ANALYSES:
        key = (spec.question, spec.outcome)
        records.append({**published[key], "changed": None})
        found = {}
        for role, version, date, table in (("previous", previous, dates.get(previous), previous_results),
                                           ("current", current, current_date, current_results)):
            row = {"question": spec.question, "outcome": spec.outcome,
                   "outcome_label": spec.label, "role": role, "version": version, "date": date,
                   "measure": spec.reader_measure}
            match = None
            if table is not None:
                hits = table[(table["question"] == spec.question) & (table["outcome"] == spec.outcome)]
                match = hits.iloc[0].to_dict() if len(hits) else None
            for column in ("pooled", "k", "n", "estimate", "ci_low", "ci_high", "i2", "model"):
                row[column] = nan_as_none(match.get(column)) if match else None
            if match is not None and match.get("measure"):
                row["measure"] = str(match["measure"])  # a release may have pooled another measure
            found[role] = match
            row["changed"] = None
            if role == "current" and match is not None:
                before = found.get("previous")
                row["changed"] = before is None or str(before.get("measure")) != str(match.get("measure")) \
                    or any(not same_number(nan_as_none(match.get(c)), nan_as_none(before.get(c)))
                           for c in ("k", "n", "estimate", "ci_low", "ci_high", "i2"))
            if version is not None or role == "current":
                records.append(row)
    return synthesis.object_frame(records, [*_VIEW_COLUMNS, "changed"])


def what_changed_wide(current: str | None = None, previous: str | None = None) -> pd.DataFrame:
    """:func:`what_changed` with one row per outcome, for a side-by-side table.

    Columns: question, outcome, outcome_label, measure, then for each of ``published``,
    ``previous`` and ``current``: ``<role>_version``, ``<role>_k``, ``<role>_n``,
    ``<role>_estimate``, ``<role>_ci_low``, ``<role>_ci_high``, ``<role>_i2`` (the published
    measure in ``published_measure``), and ``changed``.
    """
    long = what_changed(current, previous)
    records = []
    for spec in synthesis.ANALYSES:
        rows = long[(long["question"] == spec.question) & (long["outcome"] == spec.outcome)]
        record = {"question": spec.question, "outcome": spec.outcome,
                  "outcome_label": spec.label, "measure": spec.reader_measure,
                  "published_measure": None, "changed": None}
        for role in ("published", "previous", "current"):
            for column in ("version", "k", "n", "estimate", "ci_low", "ci_high", "i2"):
                record[f"{role}_{column}"] = None
        for row in rows.to_dict("records"):
            for column in ("version", "k", "n", "estimate", "ci_low", "ci_high", "i2"):
                record[f"{row['role']}_{column}"] = row[column]
            if row["role"] == "published":
                record["published_measure"] = row["measure"]
            if row["role"] == "current":
                record["changed"] = row["changed"]
        records.append(record)
    columns = ["question", "outcome", "outcome_label", "measure", "published_measure"]
    for role in ("published", "previous", "current"):
        columns += [f"{role}_{c}" for c in ("version", "k", "n", "estimate", "ci_low", "ci_high", "i2")]
    return synthesis.object_frame(records, columns + ["changed"])


def release_status() -> dict:
    """The latest release and whether the data are still those it was made from.

    Keys: version, date, kind, summary (None before the first release), data_matches (the
    current data fingerprint equals the release's), and label, a short text for the book:
    "1.0.0 (2026-11-23)", "1.0.0 (2026-11-23); data changed since" or "not yet released".
    """
    last = current_release()
    if last is None:
        return {"version": None, "date": None, "kind": None, "summary": None,
                "data_matches": False, "label": "not yet released"}
    matches = last["data_fingerprint"] == data_fingerprint()
    label = f"{last['version']} ({last['date']})" + ("" if matches else "; data changed since")
    return {"version": last["version"], "date": last["date"], "kind": last["kind"],
            "summary": last["summary"], "data_matches": matches, "label": label}


def estimate_history(include_published: bool = True) -> pd.DataFrame:
    """Every release's primary pooled estimate per outcome, oldest first (cumulative view).

    Columns: version, date, kind, question, outcome, outcome_label, measure, pooled, k, n,
    estimate, ci_low, ci_high, i2; with ``include_published`` the published reviews come
    first as version "0" (kind "published").
    """
    columns = ["version", "date", "kind", "question", "outcome", "outcome_label", "measure",
               "pooled", "k", "n", "estimate", "ci_low", "ci_high", "i2"]
    records = []
    if include_published:
        for row in _published_view_rows():
            records.append({**{c: row.get(c) for c in columns}, "kind": "published"})
    log = read_releases()
    results = _primary_rows(read_results())
    for release in log.to_dict("records"):
        rows = results[results["version"] == release["version"]]
        for record in rows.to_dict("records"):
            records.append({**{c: nan_as_none(record.get(c)) for c in columns},
                            "version": release["version"], "date": release["date"],
                            "kind": release["kind"]})
    return synthesis.object_frame(records, columns)
