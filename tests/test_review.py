"""The review is built once: each table read once, each analysis fitted once, one value per count.

These tests hold for any state of ``data/`` that ``check`` accepts: they compare the review's
own numbers with each other and with every place that shows them, never with this release's
literal counts.
"""
from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest

from analysis.evidence import extraction
from analysis.selection import prisma
from analysis import questions, review
from analysis.search import records
from analysis.versions import release_archive, release_history
from analysis.views import flow_tables, glue, pooled_results
from analysis.pooling import synthesis
from analysis.io import validate
from analysis.io.paths import REPO_ROOT

BOOK = REPO_ROOT / "book"


def _code_cells(notebook: Path) -> list[str]:
    cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
    return ["".join(cell["source"]) for cell in cells if cell["cell_type"] == "code"]


def _execute(notebook: Path) -> dict:
    """Run a chapter's code cells in this process (as its kernel would, without a kernel)."""
    namespace: dict = {"display": lambda *args, **kwargs: None}
    for source in _code_cells(notebook):
        exec(compile(source, str(notebook), "exec"), namespace)  # noqa: S102 (the book's own code)
    return namespace


@pytest.fixture
def fresh_review():
    """No review built and no table read yet in this process."""
    review.clear_cache()
    validate._LOADED.clear()
    validate.READS.clear()
    yield
    review.clear_cache()


def test_a_chapter_fits_each_analysis_once_and_reads_each_table_once(fresh_review, monkeypatch):
    fits: Counter = Counter()
    effect_tables: Counter = Counter()
    csv_reads: Counter = Counter()
    real_pool, real_effect_sizes, real_read_csv = synthesis.pool, extraction.effect_sizes, pd.read_csv

    def counted_pool(spec, effect_sizes, scenario="primary", model="primary"):
        fits[(spec.key, scenario, model)] += 1
        return real_pool(spec, effect_sizes, scenario, model)

    def counted_effect_sizes(question, scenario="primary", data_dir=None):
        effect_tables[(question, scenario)] += 1
        return real_effect_sizes(question, scenario, data_dir)

    def counted_read_csv(path, *args, **kwargs):
        if isinstance(path, (str, Path)):
            csv_reads[str(Path(path).resolve())] += 1
        return real_read_csv(path, *args, **kwargs)

    monkeypatch.setattr(synthesis, "pool", counted_pool)
    monkeypatch.setattr(extraction, "effect_sizes", counted_effect_sizes)
    monkeypatch.setattr(pd, "read_csv", counted_read_csv)
    monkeypatch.setattr("matplotlib.pyplot.show", lambda *a, **k: None)

    _execute(BOOK / "04_webhelp_correlations.ipynb")

    assert fits, "the chapter pooled nothing"
    assert max(fits.values()) == 1, {key: n for key, n in fits.items() if n > 1}
    assert max(effect_tables.values()) == 1, {key: n for key, n in effect_tables.items() if n > 1}
    parses = Counter(validate.READS)
    data_reads = {path: n for path, n in (parses + csv_reads).items() if "/data/" in path}
    assert data_reads and max(data_reads.values()) == 1, {p: n for p, n in data_reads.items() if n > 1}


def test_the_review_is_rebuilt_only_when_data_change(fresh_review, tmp_path):
    import shutil

    copy = tmp_path / "data"
    shutil.copytree(REPO_ROOT / "data", copy)
    first = review.current(copy)
    assert review.current(copy) is first
    studies = copy / "q1_webhelp" / "assumptions.csv"
    studies.write_text(studies.read_text(encoding="utf-8") + "\n", encoding="utf-8")
    assert review.current(copy) is not first


def test_every_count_has_one_value_wherever_it_is_shown():
    current = review.current()
    shown: dict[str, set] = {}

    def add(name: str, value) -> None:
        shown.setdefault(name, set()).add(int(value))

    for name, value in glue.count_glue_names().items():
        add(name, value)
    # the PRISMA table and diagram input, per question
    for part in current.questions:
        qid = part.question.id
        for row in prisma.counts_table(review.current().question(qid).counts).itertuples(index=False):
            if row.box in part.counts and not isinstance(part.counts[row.box], dict):
                add(f"{qid}_{row.box}", row.n)
        add(f"{qid}_unique_records", part.clusters["cluster_id"].nunique())
        add(f"{qid}_records_identified", len(part.records))
        add(f"{qid}_unique_records", flow_tables.dedup_summary().set_index("Question").loc[part.question.label, "Unique records"])
    # the landing page's overview table
    overview = flow_tables.review_overview().set_index("Question")
    for part in current.questions:
        row = overview.loc[part.question.label]
        add(f"{part.question.id}_records_identified", row["Records identified"])
        add(f"{part.question.id}_new_studies_included", row["New studies included"])
        add(f"{part.question.id}_reports_not_retrieved", row["Reports awaiting full text"])
    # the release log, when its last release was made from these data
    status = release_history.release_status()
    if status["data_matches"]:
        last = release_archive.read_releases().iloc[-1]
        add("all_search_runs", last["n_search_runs"])
        add("all_records_identified", last["n_records"])
        add("all_new_studies_included", last["n_included"])
    # the values glued into the executed chapters (their stored outputs)
    for notebook in sorted(BOOK.glob("*.ipynb")):
        for cell in json.loads(notebook.read_text(encoding="utf-8"))["cells"]:
            for output in cell.get("outputs", []):
                name = output.get("metadata", {}).get("scrapbook", {}).get("name")
                if name and name in shown:
                    text = output.get("data", {}).get("text/plain", "")
                    text = "".join(text) if isinstance(text, list) else text
                    if re.fullmatch(r"\d+", text.strip().strip("'")):
                        add(name, text.strip().strip("'"))
    twice = {name: sorted(values) for name, values in shown.items() if len(values) > 1}
    assert not twice, twice


def test_totals_are_sums_of_the_questions():
    current = review.current()
    for key, total in current.totals.items():
        assert total == sum(part.counts[key] for part in current.questions), key


def test_counts_add_up():
    for part in review.current().questions:
        c = part.counts
        assert c["records_identified"] == c["unique_records"] + c["duplicates_removed"]
        assert c["duplicates_removed"] == c["duplicates_linked_automatically"] + c["duplicates_linked_by_reviewers"]
        assert c["unique_records"] == c["records_screened"] + c["records_awaiting_screening"]
        assert c["reports_sought"] == (c["reports_not_retrieved"] + c["reports_awaiting_assessment"]
                                       + c["reports_assessed"] + c["full_text_conflicts"])
        assert c["reports_assessed"] == c["reports_excluded"] + c["new_reports_included"]
        assert c["new_studies_included"] == part.included_studies


def test_participants_of_unknown_size_are_counted_not_dropped():
    for row in review.current().results.to_dict("records"):
        pooled = review.current().pooled(row["question"], row["outcome"], row["scenario"], row["model_name"])
        sizes = pd.to_numeric(pooled.effect_sizes.get("n", pd.Series(dtype=float)), errors="coerce")
        unknown_studies = pooled.effect_sizes.loc[sizes.isna(), "study_id"].nunique() if len(sizes) else 0
        assert row["n_unknown"] == unknown_studies
        if row["n_unknown"]:
            assert "print" in pooled_results.participants_phrase(row)


def test_one_question_id_is_accepted_in_either_spelling_and_unknown_ones_are_named():
    for entry in questions.QUESTIONS:
        assert dict(review.current().question(entry.id).counts) == dict(review.current().question(entry.folder).counts)
        assert records.question_dir(entry.id) == records.question_dir(entry.folder)
        assert review.current().pooled(entry.folder, questions.analyses_of(entry.id)[0].outcome).as_dict()["question"] == entry.id
    with pytest.raises(KeyError, match="unknown question 'q9'; known: q1"):
        questions.question("q9")
