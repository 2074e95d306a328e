"""PRISMA 2020 counts from data, checked against the flow counts the first reviewer reported
(data/q1_webhelp/SOURCE_README.md and data/q2_interventions/SOURCE_README.md, "Flow counts" /
"Counts (PRISMA flow)" tables) and the previous versions' abstracts."""
from __future__ import annotations

import shutil
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from analysis import review  # noqa: E402
from analysis.selection import prisma  # noqa: E402
from analysis.search import records as rec  # noqa: E402

REPO = Path(__file__).resolve().parent.parent


def test_q1_counts_reproduce_the_reported_flow(first_round):
    """q1 SOURCE_README: 560 records, 288 duplicates removed, 272 screened; excluded 69 / 64 /
    37 / 72 (no extractable statistic) / 20 / 6; 4 included."""
    counts = dict(review.current().question("q1_webhelp").counts)
    assert counts["records_identified"] == 560
    assert counts["duplicates_removed"] == 288
    assert counts["records_screened"] == 272
    assert counts["records_excluded_by_reason"] == {
        "not primary quantitative study": 69, "no depression measure": 64,
        "no web-based help-seeking measure": 37, "review/protocol": 20, "duplicate": 6}
    assert counts["records_excluded"] == 196
    # "no extractable statistic in available report" = report sought, full text not retrieved
    assert counts["reports_sought"] == 76 and counts["reports_not_retrieved"] == 72
    assert counts["reports_assessed"] == 4 and counts["reports_excluded"] == 0
    assert counts["new_studies_included"] == 4 and counts["new_reports_included"] == 4
    assert counts["records_awaiting_screening"] == 0 and counts["title_abstract_conflicts"] == 0
    # the automatic links find 285 of the 288; reviewers linked 3 more by reading the pages
    assert (counts["duplicates_linked_automatically"], counts["duplicates_linked_by_reviewers"]) == (285, 3)


def test_q1_records_by_collection(first_round):
    """queries.csv: 82 article-page and 2 documentation-page queries; their recorded hits."""
    counts = dict(review.current().question("q1_webhelp").counts)
    assert sum(counts["records_by_source"].values()) == 560
    assert counts["records_by_source"]["index: documentation pages"] == 23  # Q036 and Q037's recorded hits


def test_q2_counts_and_the_one_difference_from_the_report(first_round):
    """q2 SOURCE_README reports 394 hits, 238 duplicates, 156 screened; exclusions 55 / 19 / 15 /
    31 / 27 / 7 and 2 included, then (third pass) 3 included and 30 for no extractable statistic.

    The computed flow has 395 records and 239 duplicates: records.csv also holds R0395, the Table 1
    page of Gulliver et al. 2012 found by the third-pass query Q061 and added after the counts
    table was written; it is a copy of R0133 (same review), so it adds one record and one
    duplicate and leaves the 156 screened unchanged."""
    counts = dict(review.current().question("q2_interventions").counts)
    records = rec.load_records("q2_interventions").set_index("record_id")
    assert records.loc["R0395", "query_id"] == "Q061"
    labelled = rec.labelled_clusters("q2_interventions").set_index("record_id")
    assert labelled.loc["R0395", "first_record_id"] == "R0133"
    assert counts["records_identified"] == 394 + 1
    assert counts["duplicates_removed"] == 238 + 1
    assert counts["records_screened"] == 156
    assert counts["records_excluded_by_reason"] == {
        "not a controlled trial": 55, "population not selected for depressive symptoms": 19,
        "no help-seeking outcome": 15, "review/protocol": 27, "duplicate": 7}
    assert counts["reports_not_retrieved"] == 30  # 31 before the third pass moved Christensen 2006 to included
    assert counts["new_studies_included"] == 3


def test_previous_version_counts_come_from_the_abstracts(first_round):
    """Bizzotto 2023 abstract: "48 studies ... included in the qualitative synthesis and 19
    included in the meta-analysis"; Ni 2025 abstract: "Thirteen studies were included"."""
    q1 = dict(review.current().question("q1_webhelp").counts)
    assert (q1["previous_studies"], q1["previous_studies_meta_analysis"]) == (48, 19)
    assert q1["total_studies_at_most"] == 48 + 4
    assert "previous_reports" not in q1  # not printed in the abstract
    q2 = dict(review.current().question("q2_interventions").counts)
    assert q2["previous_studies"] == 13 and "previous_studies_meta_analysis" not in q2
    for question in ("q1_webhelp", "q2_interventions"):
        table = pd.read_csv(first_round / question / "searches" / "previous_version.csv", dtype=str)
        row = table.iloc[0]
        words = {"48": "48 studies", "13": "Thirteen studies"}[row["studies_included"]]
        assert words in row["excerpt"]


def test_counts_are_plain_ints():
    counts = dict(review.current().question("q1_webhelp").counts)
    for key, value in counts.items():
        if isinstance(value, dict):
            assert all(type(v) is int for v in value.values()), key
        elif key != "previous_review":
            assert type(value) is int, key


def test_prisma_table_is_tidy(first_round):
    table = prisma.counts_table(review.current().question("q1_webhelp").counts)
    assert table.columns.tolist() == ["section", "box", "label", "n"]
    assert table["n"].dtype.kind == "i"
    boxes = table.set_index("box")
    assert boxes.loc["duplicates_removed", "n"] == 288
    reasons = table[table["box"] == "records_excluded_by_reason"]
    assert reasons["n"].sum() == boxes.loc["records_excluded", "n"]


def test_counts_follow_the_data(tmp_path, monkeypatch):
    """Change the data, the counts change: one more full-text include on a copy."""
    data = tmp_path / "data"
    shutil.copytree(REPO / "tests" / "fixtures" / "first_round", data)
    monkeypatch.setenv("REVIEW_DATA_DIR", str(data))
    path = data / "q1_webhelp" / "screening.csv"
    table = pd.read_csv(path, dtype=str, keep_default_na=False)
    row = (table["record_id"] == "R0002") & (table["stage"] == "full_text")
    table.loc[row, ["decision", "reason"]] = ["include", ""]
    table.to_csv(path, index=False)
    counts = dict(review.current().question("q1_webhelp").counts)
    assert counts["reports_not_retrieved"] == 71 and counts["new_studies_included"] == 5
    assert counts["reports_assessed"] == 5


def test_plot_draws_the_boxes_from_the_counts(first_round):
    counts = dict(review.current().question("q1_webhelp").counts)
    fig, ax = plt.subplots(figsize=(10, 9))
    returned = prisma.plot_prisma_flow(counts, ax=ax)
    assert returned is fig
    text = " ".join(" ".join(t.get_text() for t in ax.texts).split())  # wrapped lines joined
    for expected in ("Previous studies", "Records screened (n = 272)", "Duplicate records removed (n = 288)",
                     "Reports not retrieved (n = 72)", "New studies included in review (n = 4)",
                     "(n = 48)", "n \u2264 52", "Identification", "Screening", "Included"):
        assert expected in text, expected
    plt.close(fig)
    fig = prisma.plot_prisma_flow(counts)
    assert fig.get_size_inches().tolist() == [8.4, 11.0]
    plt.close(fig)


def test_heading_names_what_was_searched_and_counts_stay_with_their_labels():
    import matplotlib
    matplotlib.use("Agg")
    from matplotlib.text import Text

    sources = prisma.sources_searched(review.current().question("q1_webhelp").search_log)
    assert sources and all("(" not in s for s in sources)
    heading = prisma.identification_heading(sources)
    assert "databases and registers" not in heading and sources[0] in heading
    assert prisma.identification_heading([]) == "Identification of new studies (no search recorded)"
    fig = prisma.plot_prisma_flow(dict(review.current().question("q1_webhelp").counts), sources=sources)
    texts = [t.get_text() for t in fig.findobj(Text)]
    assert heading in [t.replace("\n", " ") for t in texts]  # wrapped to the bar, never cut
    for text in texts:
        for line in text.split("\n"):
            # a line never ends in "(n =" nor starts with the number of the line before
            assert not line.rstrip().endswith(("(n =", "(n\u00a0=", "(n")), line
@pytest.mark.parametrize("question", ["q1_webhelp", "q2_interventions"])
def test_current_counts_add_up(question):
    """Invariants of the current data (they hold at any size of the review): every box of the
    flow is the sum of the boxes it splits into."""
    counts = dict(review.current().question(question).counts)
    assert counts["records_identified"] == counts["duplicates_removed"] + counts["records_screened"]
    assert counts["records_excluded"] == sum(counts["records_excluded_by_reason"].values())
    assert counts["reports_sought"] == counts["reports_not_retrieved"] + counts["reports_assessed"]
    assert counts["reports_assessed"] == counts["reports_excluded"] + counts["new_reports_included"]
    assert sum(counts["records_by_source"].values()) == counts["records_identified"]
    assert counts["duplicates_removed"] == (counts["duplicates_linked_automatically"]
                                            + counts["duplicates_linked_by_reviewers"])
