"""Deduplication: linked clusters, measured against the hand-made trail of q1 (dedup_map.csv)."""
from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from analysis.search import records as rec
from analysis.search.dedup import CLUSTER_COLUMNS, dedup, pairwise_agreement
from analysis.search.exports import read_export
from analysis.search.fields import RECORD_COLUMNS
from analysis.commands.cli import main

EXPORTS = Path(__file__).resolve().parent / "fixtures" / "exports"


def _records(rows):
    base = {column: "" for column in RECORD_COLUMNS}
    return pd.DataFrame([{**base, **row} for row in rows])


def test_pairwise_agreement_definition():
    """Pairs of records placed in the same cluster: truth {a,b,c},{d}; prediction {a,b},{c,d}.
    Predicted pairs ab, cd; true pairs ab, ac, bc; common ab -> precision 1/2, recall 1/3."""
    truth = pd.DataFrame({"record_id": list("abcd"), "first_record_id": list("aaad")})
    predicted = pd.DataFrame({"record_id": list("abcd"), "first_record_id": list("aacc")})
    result = pairwise_agreement(predicted, truth)
    assert (result["predicted_pairs"], result["true_pairs"], result["common_pairs"]) == (2, 3, 1)
    assert result["precision"] == 0.5 and result["recall"] == pytest.approx(1 / 3, abs=1e-12)


def test_q1_labelled_precision_and_recall():
    """The goal of the issue: pairwise precision >= 0.99 and recall >= 0.98 on the 560 labelled
    hits of data/q1_webhelp (dedup_map.csv; 1,209 labelled duplicate pairs). Measured: 1205 of
    1209 pairs found, none wrong. The 4 missed pairs are copies with no identifier and a
    different title: two table pages (R0192 of R0188, R0507 of R0505) and a thesis record under
    another title (R0316 of R0309); reviewers linked them by reading the pages."""
    records = rec.load_records("q1_webhelp")
    result = pairwise_agreement(dedup(records), rec.labelled_clusters("q1_webhelp"))
    assert result["records"] == 560
    assert result["true_pairs"] == 1209
    assert result["precision"] >= 0.99
    assert result["recall"] >= 0.98
    assert (result["common_pairs"], result["predicted_pairs"]) == (1205, 1205)


def test_clusters_link_not_delete():
    records = rec.load_records("q1_webhelp")
    clusters = dedup(records)
    assert clusters.columns.tolist() == CLUSTER_COLUMNS
    assert clusters["record_id"].tolist() == records["record_id"].tolist()
    first = clusters["record_id"] == clusters["first_record_id"]
    assert (clusters.loc[first, "reason"] == "").all()
    assert set(clusters.loc[~first, "reason"]) <= {"doi", "pmid", "url", "exact title", "fuzzy title", "title prefix"}
    assert clusters.loc[~first, "linked_to"].isin(clusters["record_id"]).all()
    # the cluster number follows first occurrence
    assert clusters.drop_duplicates("cluster_id")["cluster_id"].tolist() == list(range(1, clusters["cluster_id"].max() + 1))


def test_cross_format_duplicates_of_real_records():
    """The fixtures hold copies of real records in six formats; dedup_map.csv says which are the
    same document (tests/fixtures/exports/README.md)."""
    tables = [read_export(EXPORTS / name) for name in
              ("pubmed_export.nbib", "scopus_export.csv", "wos_export.csv", "wos_tabdelimited_export.txt",
               "endnote_export.ris", "zotero_export.bib")]
    records = pd.concat(tables, ignore_index=True)
    clusters = dedup(records).set_index("record_id")
    cluster = clusters["cluster_id"]
    same = [("pubmed_export:1", "wos_export:1"),                          # R0121 = R0123 by DOI
            ("pubmed_export:2", "wos_export:2"),                          # R0001 twice
            ("pubmed_export:3", "endnote_export:1"),                      # R0003 = R0002 by title
            ("scopus_export:2", "zotero_export:1"),                       # United States / U.S.
            ("scopus_export:3", "wos_tabdelimited_export:1"),             # R0212 by DOI
            ("scopus_export:3", "wos_tabdelimited_export:2"),             # its preprint R0227
            ("scopus_export:1", "zotero_export:2")]                       # R0015 twice
    for left, right in same:
        assert cluster[left] == cluster[right], (left, right)
    different = [("endnote_export:2", "pubmed_export:3"),                 # news item with the article's DOI
                 ("endnote_export:3", "endnote_export:4")]                # article vs conference poster
    for left, right in different:
        assert cluster[left] != cluster[right], (left, right)
    assert clusters.loc["wos_export:1", "reason"] == "doi"
    assert clusters.loc["endnote_export:1", ["first_record_id", "reason"]].tolist() == ["pubmed_export:3", "exact title"]


def test_descriptions_are_not_matched_as_titles():
    """Two reviewer-written descriptions (square brackets, SOURCE_README) of different pages
    with the same text stay apart; the same description on the same page links by URL."""
    description = "[Dataset viewer page: Chinese-language depression Q&A instruction data]"  # q2 R0168/R0169
    records = _records([
        {"record_id": "a", "title": description, "url": "https://huggingface.co/datasets/AAAAAAJG/THXAINY0.1/viewer"},
        {"record_id": "b", "title": description, "url": "https://huggingface.co/datasets/AAAAAAJG/NYB/viewer"},
        {"record_id": "c", "title": description, "url": "https://huggingface.co/datasets/AAAAAAJG/THXAINY0.1/viewer/"},
    ])
    clusters = dedup(records).set_index("record_id")
    assert clusters.loc["a", "cluster_id"] != clusters.loc["b", "cluster_id"]
    assert clusters.loc["c", ["first_record_id", "reason"]].tolist() == ["a", "url"]


def test_title_links_need_year_and_author_agreement():
    title = "Seeking help from the internet during adolescence"  # R0121
    records = _records([
        {"record_id": "a", "title": title, "year": "2002", "first_author": "Gould MS"},
        {"record_id": "b", "title": title.upper(), "year": "2003", "first_author": "Gould, Madelyn S."},
        {"record_id": "c", "title": title, "year": "2010", "first_author": "Gould MS"},
        {"record_id": "d", "title": title, "year": "2002", "first_author": "Younes N"},
    ])
    clusters = dedup(records).set_index("record_id")
    assert clusters.loc["b", "first_record_id"] == "a"            # one year apart, same surname
    assert clusters.loc["c", "first_record_id"] == "c"            # eight years apart
    assert clusters.loc["d", "first_record_id"] == "d"            # another first author


def test_typo_and_truncation_link_inside_blocks():
    title = ("Teens Using Screens for Help: Impact of Suicidal Ideation, Anxiety, and Depression Levels "
             "on Youth Preferences for Telemental Health Resources")  # R0212
    records = _records([
        {"record_id": "a", "title": title, "year": "2019"},
        {"record_id": "b", "title": title.replace("Suicidal", "Suicdal"), "year": "2019"},
        {"record_id": "c", "title": title[:70], "year": "2019"},
        {"record_id": "d", "title": title[:75], "year": "2019"},
    ])
    clusters = dedup(records).set_index("record_id")
    assert clusters.loc["b", ["first_record_id", "reason"]].tolist() == ["a", "fuzzy title"]
    assert clusters.loc["c", ["first_record_id", "reason"]].tolist() == ["a", "title prefix"]  # cut mid-word
    assert clusters.loc["d", "first_record_id"] == "a"  # via a or via its near twin c


def test_manual_links_join_last(first_round):
    records = rec.load_records("q1_webhelp")
    clusters = dedup(records, manual_links=rec.labelled_clusters("q1_webhelp"))
    assert clusters["cluster_id"].nunique() == 272  # SOURCE_README: 272 unique documents
    assert set(clusters.loc[clusters["reason"] == "manual", "record_id"]) == {"R0192", "R0316", "R0507"}


def test_dedup_command_prints_the_counts_the_book_shows(tmp_path, capsys):
    from analysis import review

    out = tmp_path / "clusters.csv"
    assert main(["dedup", "--question", "q1_webhelp", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    part = review.current().question("q1")
    counts = part.counts
    assert f"records identified: {counts['records_identified']}\n" in printed
    assert f"unique records: {counts['unique_records']}\n" in printed
    assert f"(DOI, PMID, URL, title): {counts['duplicates_linked_automatically']}\n" in printed
    assert f"no automatic rule makes): {counts['duplicates_linked_by_reviewers']}\n" in printed
    assert "pairwise precision" in printed
    written = pd.read_csv(out, dtype=str, keep_default_na=False)
    assert set(CLUSTER_COLUMNS) <= set(written.columns) and len(written) == counts["records_identified"]


def test_multi_database_set_against_its_doi_pairs():
    """Five real exports of one search (tests/fixtures/exports/multi_database): every pair of
    records with the same DOI (or a preprint and its article) is linked, and no other; with DOIs and URLs
    hidden, titles, authors, years and journals alone still find at least 99 % of those pairs at
    a precision of at least 99 % (benchmarks/bench_dedup.py prints the table)."""
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
    from bench_dedup import multi_database

    result = multi_database()
    assert [(row["imported"], row["skipped"]) for row in result["files"]] == \
        [(row["true"], 0) for row in result["files"]]
    assert result["as_read"]["true_pairs"] == result["as_read"]["common_pairs"] == result["as_read"]["predicted_pairs"]
    assert result["doi_blind"]["precision"] >= 0.99 and result["doi_blind"]["recall"] >= 0.99


def test_surname_and_journal_variants():
    from analysis.search.normalize import normalize_journal, surnames_compatible

    assert surnames_compatible("palmerdupreez", "dupreez") and surnames_compatible("murrayboyle", "boyle")
    assert not surnames_compatible("gould", "younes") and not surnames_compatible("li", "bali")
    assert normalize_journal("Journal of Public Health (Oxford, England)") == \
        normalize_journal("Journal of public health (United Kingdom)") == "journal public health"
def test_current_clusters_add_up():
    """Invariants of the current data, whatever their size: every record in one cluster, the
    hand-made links only ever merge clusters."""
    from analysis.search.dedup import cluster_summary

    records = rec.load_records("q1_webhelp")
    automatic = dedup(records)
    manual = dedup(records, manual_links=rec.labelled_clusters("q1_webhelp"))
    assert len(automatic) == len(manual) == len(records)
    assert manual["cluster_id"].nunique() <= automatic["cluster_id"].nunique()
    summary = cluster_summary(automatic)
    assert summary["records"] == summary["unique_records"] + summary["duplicates"]
    assert summary["duplicates"] == sum(v for k, v in summary.items() if k.startswith("linked by"))
