"""Logs as readers read them: each decision beside the title it is about.

The data tables key every decision by record id; a reader needs the title, first author and
year to know which paper a decision is about. Downloads keep the tables as they are in data/.
"""
from __future__ import annotations

import pandas as pd

__all__ = ["screening_decisions_view"]


def screening_decisions_view(question: str) -> pd.DataFrame:
    """Every screening decision of ``question`` with the record's title, first author and year.

    Columns: record_id, title, first_author, year, then the decision columns of
    ``screening.csv`` (stage, reviewer, decision, reason, note, ...), one row per decision, in
    the order of the file. A decision on a record missing from the search files keeps empty
    title fields (the data check reports it).
    """
    from analysis import review

    part = review.current().question(question)
    decisions, records = part.screening, part.clusters
    titles = (records[["record_id", "title", "first_author", "year"]]
              .drop_duplicates("record_id").astype(str).replace({"nan": "", "None": ""}))
    view = decisions.merge(titles, on="record_id", how="left", sort=False)
    front = ["record_id", "title", "first_author", "year"]
    return view[front + [c for c in decisions.columns if c != "record_id"]].fillna("")
