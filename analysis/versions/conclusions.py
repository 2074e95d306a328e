"""Reader-level conclusions per outcome, whether they changed, and the kind of a release.

A number can move without changing what a reader should take away; a living review must say
which of the two happened (PRISMA-LSR item L3, "changes to the results", and the
"conclusions changed / not changed" events of Cochrane's "What's new"). For each outcome of
:data:`analysis.pooling.synthesis.ANALYSES` the conclusion is computed from the primary pooled result
(REML, Knapp-Hartung) and is made of:

``finding``
    "not pooled" (fewer than two effect sizes), "no clear effect" (the 95% CI includes the
    null: 0 for r and SMD, 1 for OR), or the direction of an interval that excludes the null:
    "positive" / "negative" (on the reader's scale: above / below the null);
``certainty``
    the GRADE certainty of the outcome from its ``grade.csv`` row (``analysis.evidence.grade``), or
    "not assessed" when the table has no row with the outcome's label;
``robustness``
    "robust" when every other pooled row of the outcome in the results (each sensitivity
    scenario of the data, DerSimonian-Laird with z) reaches the same finding; "not robust"
    when one does not; "not assessed" when there is no other pooled row.

The point estimate's sign inside an interval that includes the null is not part of the
conclusion, so noise around no effect does not count as a changed conclusion.

The release kind (semantic versioning read for a review): **major** when a conclusion changed
or a search run was added, **minor** when only numbers changed, **patch** otherwise.
"""
from __future__ import annotations

from typing import Any

import pandas as pd

from analysis import review
from analysis.pooling import synthesis
from analysis.io.paths import data_dir
from analysis.io.validate import read_csv_text

__all__ = ["CONCLUSION_COLUMNS", "NULL_VALUE", "conclusions", "conclusion_changes",
           "release_kind", "stored_conclusions"]

CONCLUSION_COLUMNS = ("question", "outcome", "outcome_label", "k", "finding", "certainty",
                      "robustness", "statement")
# The value of "no effect" on each reader's scale.
NULL_VALUE = {"r": 0.0, "SMD": 0.0, "OR": 1.0}
_KEY = ("finding", "certainty", "robustness")


def _finding(row: dict | None) -> str:
    if not row or not row.get("pooled") or row.get("ci_low") is None or row.get("ci_high") is None:
        return "not pooled"
    null = NULL_VALUE[row["measure"]]
    low, high = float(row["ci_low"]), float(row["ci_high"])
    if low > null:
        return "positive"
    if high < null:
        return "negative"
    return "no clear effect"


def _pooled_flag(value: Any) -> bool:
    return value is True or value == "True"


def _certainties(root) -> dict[str, str]:
    """GRADE certainty word by outcome label, for every question with a grade table."""
    from analysis.evidence import grade
    from analysis.io import schemas

    words: dict[str, str] = {}
    for folder in schemas.QUESTIONS.values():
        if not (root / folder / "grade.csv").exists():
            continue
        table = grade.load_grade_table(folder, root=root)
        for record in table.to_dict("records"):
            level = record["certainty_level"]
            words[record["outcome"]] = ("no studies" if pd.isna(level)
                                        else grade.CERTAINTY_WORDS[int(level)])
    return words


def conclusions(results: pd.DataFrame | None = None) -> pd.DataFrame:
    """One conclusion per outcome from a results table (default: the data as they are now).

    ``results`` has the columns of the review's results (``Review.results``) (with scenarios,
    so that robustness can be judged). Columns :data:`CONCLUSION_COLUMNS`; ``statement`` is
    the conclusion in words.
    """
    if results is None:
        results = review.current().results.copy()
    certainty = _certainties(data_dir())
    records = []
    for spec in synthesis.ANALYSES:
        rows = results[(results["question"] == spec.question) & (results["outcome"] == spec.outcome)]
        if rows.empty:
            continue  # an outcome added after the release these results come from
        rows = [{**row, "pooled": _pooled_flag(row.get("pooled"))} for row in rows.to_dict("records")]
        primary = next((row for row in rows if row["scenario"] == "primary"
                        and row["model_name"] == "primary"), None)
        finding = _finding(primary)
        others = [row for row in rows if row is not primary and row["pooled"]]
        if finding == "not pooled" or not others:
            robustness = "not assessed"
        else:
            robustness = ("robust" if all(_finding(row) == finding for row in others)
                          else "not robust")
        records.append({
            "question": spec.question, "outcome": spec.outcome, "outcome_label": spec.label,
            "k": int(primary["k"]) if primary and primary.get("k") not in (None, "") else 0,
            "finding": finding, "certainty": certainty.get(spec.label, "not assessed"),
            "robustness": robustness,
            "statement": _statement(spec, finding, certainty.get(spec.label, "not assessed"),
                                    robustness, others),
        })
    return synthesis.object_frame(records, CONCLUSION_COLUMNS)


def _statement(spec, finding: str, certainty: str, robustness: str, others: list) -> str:
    if finding == "not pooled":
        return f"{spec.label}: too few studies to pool."
    what = {"positive": f"the pooled {spec.reader_measure} lies above no effect "
                        f"(the 95% CI excludes {NULL_VALUE[spec.reader_measure]:g})",
            "negative": f"the pooled {spec.reader_measure} lies below no effect "
                        f"(the 95% CI excludes {NULL_VALUE[spec.reader_measure]:g})",
            "no clear effect": "no clear effect (the 95% CI includes no effect)"}[finding]
    text = f"{spec.label}: {what}; certainty of the evidence: {certainty}"
    if robustness == "robust":
        text += f"; the same in all {len(others)} sensitivity analyses"
    elif robustness == "not robust":
        differing = sum(1 for row in others if _finding(row) != finding)
        text += f"; not the same in {differing} of {len(others)} sensitivity analyses"
    return text + "."


def conclusion_changes(current: pd.DataFrame, previous: pd.DataFrame | None) -> list[str]:
    """Outcome ids ("q1/depression_webhelp") whose conclusion differs from ``previous``
    (every outcome when there is no previous conclusion for it)."""
    before = {}
    if previous is not None and len(previous):
        before = {(row["question"], row["outcome"]): row for row in previous.to_dict("records")}
    changed = []
    for row in current.to_dict("records"):
        old = before.get((row["question"], row["outcome"]))
        if old is None or any(str(old[key]) != str(row[key]) for key in _KEY):
            changed.append(f"{row['question']}/{row['outcome']}")
    return changed


def release_kind(conclusions_changed: bool, new_search_runs: int, numbers_changed: bool) -> str:
    """major: a conclusion changed or a search run was added; minor: only numbers changed;
    patch: neither."""
    if conclusions_changed or new_search_runs > 0:
        return "major"
    return "minor" if numbers_changed else "patch"


def stored_conclusions(version: str | None = None) -> pd.DataFrame:
    """The conclusions recorded by the releases (``data/releases/conclusions.csv``), as text;
    only rows of releases in the release log."""
    from . import release_archive

    path = release_archive.releases_dir() / "conclusions.csv"
    columns = ["version", *CONCLUSION_COLUMNS, "changed"]
    if not path.exists():
        return pd.DataFrame(columns=columns, dtype=object)
    table = read_csv_text(path)
    table = table[table["version"].isin(set(release_archive.read_releases()["version"]))]
    if version is not None:
        table = table[table["version"] == version]
    return table.reset_index(drop=True)
