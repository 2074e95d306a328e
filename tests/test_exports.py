"""Readers of real database and reference-manager exports, one test per format and per defect.

The files in tests/fixtures/exports/ come from the test data of other open-source projects
(origin, commit and licence of each in the README there); true record counts were taken by
counting record starts in each file (``TY  -``, ``PMID-``/``OWN -``, ``@type{``, ``PT``, blank-line
blocks of ``%`` lines, data rows).
"""
from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest

from analysis.search import records as rec
from analysis.__main__ import main
from analysis.search.dedup import dedup, new_records_summary
from analysis.search.detect import detect_format
from analysis.search.exports import read_export, read_export_report
from analysis.search.fields import RECORD_COLUMNS
from analysis.search.normalize import normalize_doi, parse_year, strip_translation_brackets
from analysis.search.readers.base import ExportError
from analysis.search.readers.bibtex import latex_to_text

EXPORTS = Path(__file__).resolve().parent / "fixtures" / "exports"

# file -> (format detected from content, true record count)
REAL_EXPORTS = {
    "ovid_numbered.ris": ("ris", 2), "ovid_psycinfo.ris": ("ris", 2), "psycnet.ris": ("ris", 1),
    "jstor.ris": ("ris", 4), "endnote_numbered.ris": ("ris", 2), "ebsco_asp.ris": ("ris", 2),
    "pubmed_translated_title.ris": ("ris", 1),
    "wos_plain.txt": ("wos_plain", 2), "wos_plain.ciw": ("wos_plain", 2),
    "scopus.bib": ("bibtex", 3), "bibtex_saved_as.txt": ("bibtex", 1),
    "scopus_old.csv": ("scopus_csv", 3), "eric.nbib": ("nbib", 1), "pubmed_medline.txt": ("nbib", 2),
    "endnote_tagged.txt": ("endnote", 3), "pubmed.csv": ("pubmed_csv", 1), "embase.csv": ("embase_csv", 3),
    "ieee.csv": ("ieee_csv", 2), "springer.csv": ("springer_csv", 1),
    "multi_database/gambling_crimjust.ris": ("ris", 41), "multi_database/gambling_lens.ris": ("ris", 49),
    "multi_database/gambling_psycinfo.ris": ("ris", 124), "multi_database/gambling_pubmed.ris": ("ris", 176),
    "multi_database/gambling_scopus.ris": ("ris", 255),
}


@pytest.mark.parametrize("name", sorted(REAL_EXPORTS))
def test_real_export_reads_every_record(name):
    fmt, count = REAL_EXPORTS[name]
    assert detect_format(EXPORTS / name) == fmt
    read = read_export_report(EXPORTS / name)
    assert len(read.table) == count and not read.skipped
    assert list(read.table.columns) == RECORD_COLUMNS
    assert (read.table["title"] != "").all()


def _one(name: str, position: int = 0) -> pd.Series:
    return read_export(EXPORTS / name).iloc[position]


# 1. RIS with lines before or between records -----------------------------------------------
@pytest.mark.parametrize("name, title", [
    ("ovid_numbered.ris", "Detection of retention trees on clearcuts, a 50-year perspective."),  # '1.' before TY
    ("psycnet.ris", "Primary Title"),                                  # Provider/Database/Content header
    ("endnote_numbered.ris", "Title of reference"),                    # 'Record #1 of 2' and '1.'
])
def test_ris_with_text_around_records(name, title):
    assert _one(name)["title"] == title


def test_ris_vendor_header_between_records_and_long_tags():
    jstor = read_export(EXPORTS / "jstor.ris")  # a Provider/Database/Content block before every record
    assert jstor["title"].tolist()[1:] == ["Primary Title", "This title is of type CHAP", "This title is of type RPRT"]
    psycnet = _one("psycnet.ris")  # 'PMID  - 33355555' is a four-letter tag, not part of TY
    assert (psycnet["pmid"], psycnet["doi"]) == ("33355555", "10.1011/hea0004444")


# 2. Web of Science plain text ----------------------------------------------------------------
@pytest.mark.parametrize("name", ["wos_plain.txt", "wos_plain.ciw"])
def test_web_of_science_plain_text(name):
    record = _one(name)
    assert record["title"] == ("Soil fauna diversity at different stages of reed restoration in a lakeshore "
                               "wetland at Lake Taihu, China")  # wrapped over two lines in the file
    assert record["authors"].split("; ")[:2] == ["Li, Wei", "Dou, Zhiguo"] and record["authors"].count(";") == 9
    assert (record["year"], record["doi"]) == ("2020", "10.1080/20964129.2020.1722034")


# 3. Scopus BibTeX repeats funding_details ----------------------------------------------------
def test_scopus_bibtex_with_repeated_fields():
    table = read_export(EXPORTS / "scopus.bib")
    assert table.loc[0, "doi"] == "10.1080/20964129.2020.1722034" and table.loc[0, "authors"].count(";") == 9


# 4 and 5. Older Scopus CSV: rows one field longer than the header, authors separated by commas --
def test_old_scopus_csv_ragged_rows_and_comma_authors():
    table = read_export(EXPORTS / "scopus_old.csv")
    assert table["doi"].tolist() == ["10.1002/jcc.20289", "10.1038/s41598-022-04849-0", "10.1371/journal.pcbi.1010383"]
    assert table["pmid"].tolist()[1] == "35064163"  # after the extra funding cell, still in its column
    assert table.loc[0, "first_author"] == "Phillips J.C." and table.loc[0, "authors"].count(";") == 9


# 6. LaTeX escapes in BibTeX -----------------------------------------------------------------
def test_latex_escapes_decoded():
    # as Zotero writes a variant name: c.126C>A
    assert latex_to_text(r"The {MECP2} c.126C {\textgreater} A variant") == "The MECP2 c.126C > A variant"
    assert latex_to_text(r"{\textless}i{\textgreater}in vivo{\textless}/i{\textgreater}") == "<i>in vivo</i>"
    assert latex_to_text(r"Schi{\"o}th and \'{A}slund, 50\% \& \texttt{R}") == "Schiöth and Áslund, 50% & R"


# 7. One unusable record never sinks a file ---------------------------------------------------
def test_record_without_title_doi_or_pmid_is_skipped(tmp_path):
    text = (EXPORTS / "jstor.ris").read_text(encoding="utf-8").replace("TI  - This title is of type RPRT\n", "")
    path = tmp_path / "jstor_cut.ris"
    path.write_text(text, encoding="utf-8")
    read = read_export_report(path)
    assert len(read.table) == 3
    assert [str(s) for s in read.skipped] == ["line 86: record has no title, DOI or PMID"]
    assert read.table["record_id"].tolist() == ["jstor_cut:1", "jstor_cut:2", "jstor_cut:3"]


def test_import_reports_skipped_records_in_output_and_log(data_copy, tmp_path, capsys):
    text = (EXPORTS / "jstor.ris").read_text(encoding="utf-8").replace("TI  - This title is of type RPRT\n", "")
    path = tmp_path / "jstor_cut.ris"
    path.write_text(text, encoding="utf-8")
    assert main(["import", str(path), "--question", "q1_webhelp", "--source", "JSTOR", "--query", "q",
                 "--date", "2026-12-01", "--note", "English only"]) == 0
    out = capsys.readouterr().out
    assert "skipped line 86: record has no title, DOI or PMID" in out
    log = rec.read_search_log("q1_webhelp").iloc[-1]
    assert log["n_hits"] == 3
    assert log["note"] == "English only; 1 entry skipped (line 86: record has no title, DOI or PMID)"


# 8. ERIC's MEDLINE-style file without PMID ----------------------------------------------------
def test_eric_nbib():
    record = _one("eric.nbib")
    assert (record["title"], record["first_author"], record["year"]) == ("Paper title", "Smith, Tom", "2000")
    assert (record["doi"], record["pmid"], record["url"]) == ("10.1000/123456789", "", "http://eric.ed.gov/?id=EJ1131633")


def test_medline_pii_is_not_a_doi():
    record = _one("pubmed_medline.txt")  # LID S0048-9697(17)30912-9 [pii], then LID 10.1016/... [doi]
    assert (record["doi"], record["pmid"]) == ("10.1016/j.scitotenv.2017.04.075", "28441597")


# 9. Within-file duplicates are not links to records already held -----------------------------
def test_new_records_summary_separates_within_file_copies():
    clusters = pd.DataFrame({"record_id": ["a", "b", "c", "d", "e"],
                             "first_record_id": ["a", "b", "a", "d", "d"]})
    is_new = [False, False, True, True, True]  # c copies a (held); e copies d (new, same file)
    assert new_records_summary(clusters, is_new) == {"records": 3, "new_unique": 1, "within_file": 1,
                                                     "already_held": 1}


def test_import_message_counts_within_file_duplicates(data_copy, tmp_path, capsys):
    gould = (EXPORTS / "pubmed_export.nbib").read_text(encoding="utf-8").split("\n\n")[0]  # R0121 of q1
    letter = "PMID- 32665214\nTI  - Open letter from UK based academic scientists to the secretary of state\nDP  - 2020"
    path = tmp_path / "mixed.nbib"
    path.write_text("\n\n".join([gould, letter, letter]) + "\n", encoding="utf-8")
    assert main(["import", str(path), "--question", "q1_webhelp", "--source", "PubMed", "--query", "q",
                 "--date", "2026-12-01"]) == 0
    assert ("1 of them are new unique records; 1 repeat another record of the same file; "
            "1 link to records already held.") in capsys.readouterr().out


# 10. Title links respect DOIs -----------------------------------------------------------------
def test_same_title_different_dois_stay_apart():
    """Two letters with one title in the BMJ (10.1136/bmj.m2613 and 10.1136/bmj.m2832), as the
    Lens, PubMed and Scopus exports of the gambling-harms searches carry them."""
    tables = [read_export(EXPORTS / "multi_database" / f"gambling_{db}.ris") for db in ("lens", "pubmed", "scopus")]
    records = pd.concat(tables, ignore_index=True)
    letters = records[records["title"].str.startswith("Open letter from UK based academic scientists")]
    assert sorted(set(letters["doi"])) == ["10.1136/bmj.m2613", "10.1136/bmj.m2832"]
    clusters = dedup(records).set_index("record_id")
    by_doi = letters.assign(cluster=clusters.loc[letters["record_id"], "cluster_id"].to_numpy())
    assert by_doi.groupby("doi")["cluster"].nunique().tolist() == [1, 1]  # each DOI one cluster
    assert by_doi["cluster"].nunique() == 2                               # the two letters apart
    # without their DOIs the title, year and journal would have merged them
    blind = dedup(letters.assign(doi="", url=""))
    assert blind["cluster_id"].nunique() == 1


def test_a_record_without_doi_cannot_bridge_two_dois():
    base = {column: "" for column in RECORD_COLUMNS}
    title = "Reply to referee comment on the discussion paper"  # referee comments rc1 and rc2
    rows = [{**base, "record_id": "rc1", "title": title, "year": "2021", "doi": "10.5194/egusphere-2021-1-rc1"},
            {**base, "record_id": "copy", "title": title, "year": "2021"},
            {**base, "record_id": "rc2", "title": title, "year": "2021", "doi": "10.5194/egusphere-2021-1-rc2"}]
    clusters = dedup(pd.DataFrame(rows)).set_index("record_id")
    assert clusters.loc["copy", "first_record_id"] == "rc1"
    assert clusters.loc["rc2", "first_record_id"] == "rc2"


def test_preprint_doi_does_not_block_the_article():
    base = {column: "" for column in RECORD_COLUMNS}
    title = "Teens Using Screens for Help: Impact of Suicidal Ideation on Telemental Health Preferences"
    rows = [{**base, "record_id": "article", "title": title, "year": "2019", "doi": "10.2196/13230"},
            {**base, "record_id": "preprint", "title": title, "year": "2018", "doi": "10.2196/preprints.13230"}]
    assert dedup(pd.DataFrame(rows))["cluster_id"].nunique() == 1


# 11. One DOI, titles in two languages; MEDLINE's bracketed translations -------------------------
def test_shared_doi_links_titles_in_two_languages():
    medline = read_export(EXPORTS / "pubmed_translated_title.ris")  # Grüsser et al. 2007, Der Nervenarzt
    assert medline.loc[0, "title"] == "Behavioural addiction : an independent diagnostic category?"
    base = {column: "" for column in RECORD_COLUMNS}
    original = {**base, "record_id": "psycinfo", "title": "Verhaltenssucht. Eine eigenständige diagnostische Kategorie?",
                "first_author": "Grüsser, Sabine M.", "year": "2007", "doi": "10.1007/s00115-007-2281-5"}
    english = {**base, "record_id": "wos", "title": "Behavioural addiction: an independent diagnostic category?",
               "first_author": "Grusser, SM", "year": "2007"}
    clusters = dedup(pd.concat([medline, pd.DataFrame([original, english])], ignore_index=True)).set_index("record_id")
    first = medline.loc[0, "record_id"]
    assert clusters.loc["psycinfo", ["first_record_id", "reason"]].tolist() == [first, "doi"]
    assert clusters.loc["wos", ["first_record_id", "reason"]].tolist() == [first, "exact title"]


def test_a_news_item_with_the_articles_doi_is_still_refused():
    """The titles overlap (same language, different wording): not a translation."""
    tables = [read_export(EXPORTS / name) for name in ("pubmed_export.nbib", "endnote_export.ris")]
    clusters = dedup(pd.concat(tables, ignore_index=True)).set_index("record_id")
    assert clusters.loc["endnote_export:2", "cluster_id"] != clusters.loc["pubmed_export:3", "cluster_id"]


def test_translation_brackets():
    assert strip_translation_brackets("[Behavioural addiction : an independent diagnostic category?].") == \
        "Behavioural addiction : an independent diagnostic category?"
    assert strip_translation_brackets("[Title A] and [Title B]") == "[Title A] and [Title B]"


# 12. DOI markup and prefixes -----------------------------------------------------------------
@pytest.mark.parametrize("raw, expected", [
    ("10.1186/2047-2382-3-19<br/", "10.1186/2047-2382-3-19"),          # Zotero note markup
    ("DOI: 10.1002/jrsm.1411", "10.1002/jrsm.1411"),
    ("info:doi/10.1371/journal.pone.0096986", "10.1371/journal.pone.0096986"),
    ("http://dx.doi.org/10.4236/ojf.2020.101008", "10.4236/ojf.2020.101008"),  # Ovid's DO field
    ("10.1016/j.scitotenv.2017.04.075 [doi]", "10.1016/j.scitotenv.2017.04.075"),
    ("10.1000/abc&lt;br/&gt;", "10.1000/abc"),
])
def test_doi_markup_and_prefixes_removed(raw, expected):
    assert normalize_doi(raw) == expected


def test_doi_found_in_an_openurl():
    assert _one("embase.csv")["doi"] == "10.4103/2303-9027.138783"


# 13. A forced layout that does not fit is refused --------------------------------------------
@pytest.mark.parametrize("name", ["embase.csv", "ieee.csv", "pubmed.csv", "springer.csv"])
def test_forced_scopus_layout_on_another_csv_is_refused(name):
    with pytest.raises(ExportError, match=r"line 1: read as scopus_csv, the file has no column for .*this layout "
                                          r"expects title: 'Title'; year: 'Year'"):
        read_export(EXPORTS / name, "scopus_csv")


def test_forced_layout_that_fits_is_read():
    assert len(read_export(EXPORTS / "scopus_export.csv", "scopus_csv")) == 3
    assert len(read_export(EXPORTS / "ieee.csv", "ieee_csv")) == 2  # this IEEE layout has no year column


# 14. Dates written around the year -----------------------------------------------------------
def test_year_in_compact_dates():
    assert parse_year("Start date: 20170812") == "2017"
    assert parse_year("2020//") == "2020" and parse_year("2007/09//undefined") == "2007"
    assert parse_year("ISSN 19982017") == ""  # eight digits that are not a date


def test_ris_start_date(tmp_path):
    path = tmp_path / "lens.ris"
    path.write_text("TY  - JOUR\nTI  - Gambling harms\nPY  - Start date: 20170812\nER  - \n", encoding="utf-8")
    assert read_export(path).loc[0, "year"] == "2017"


# 15. Formats recognised by content ------------------------------------------------------------
@pytest.mark.parametrize("source, name, fmt", [
    ("bibtex_saved_as.txt", "library.txt", "bibtex"),
    ("ovid_numbered.ris", "ovid.cgi", "ris"),
    ("wos_plain.ciw", "savedrecs.txt", "wos_plain"),
    ("eric.nbib", "eric.txt", "nbib"),
    ("endnote_tagged.txt", "export.enw", "endnote"),
    ("scopus_old.csv", "scopus.txt", "scopus_csv"),
])
def test_detection_by_content_not_extension(tmp_path, source, name, fmt):
    path = tmp_path / name
    shutil.copyfile(EXPORTS / source, path)
    assert detect_format(path) == fmt


def test_endnote_tagged():
    record = _one("endnote_tagged.txt")
    assert record["title"].startswith("How Trust Leads to Commitment on Microsourcing Platforms")
    assert (record["first_author"], record["year"], record["journal"]) == \
        ("Guo, Wenbo", "2021", "Management Information Systems Quarterly")


@pytest.mark.parametrize("name, fields", [
    ("pubmed.csv", {"title": "Paper title", "first_author": "Smith A", "year": "2021", "journal": "Nature",
                    "doi": "10.1111/nature1111", "pmid": "11223344"}),
    ("embase.csv", {"first_author": "Liu R.", "year": "2014", "journal": "Endoscopic Ultrasound"}),
    ("ieee.csv", {"first_author": "Joseph Rottman", "journal": "Computer", "doi": "10.1109/mc.2011.377"}),
    ("springer.csv", {"title": "Publication tilte", "authors": "Andy Smith; Tom Weber", "year": "2000",
                      "doi": "10.1007/11111"}),
    ("ebsco_asp.ris", {"first_author": "Rodríguez-Pastor, Ruth", "doi": "10.1016/j.agee.2016.06.041"}),
])
def test_csv_and_vendor_layouts(name, fields):
    record = _one(name)
    assert {key: record[key] for key in fields} == fields


def test_zotero_csv_layout(tmp_path):
    """Zotero's 'Export Collection: CSV' columns, with R0121 of data/q1_webhelp/records.csv."""
    path = tmp_path / "zotero.csv"
    path.write_text('"Key","Item Type","Publication Year","Author","Title","Publication Title","ISBN","ISSN","DOI",'
                    '"Url","Abstract Note","Date"\n"ABCD1234","journalArticle","2002","Gould, Madelyn S.; Munfakh, '
                    'Jimmie Lou Harris","Seeking help from the internet during adolescence","Journal of the American '
                    'Academy of Child and Adolescent Psychiatry","","","10.1097/00004583-200210000-00007","","",'
                    '"2002-10"\n', encoding="utf-8")
    assert detect_format(path) == "zotero_csv"
    record = read_export(path).iloc[0]
    assert (record["first_author"], record["year"], record["doi"]) == \
        ("Gould, Madelyn S.", "2002", "10.1097/00004583-200210000-00007")


def test_supported_formats_table_lists_every_format():
    from analysis.io.search_tables import FORMATS
    from analysis.search.fields import supported_formats

    table = supported_formats()
    assert table["format"].tolist() == list(FORMATS)
    assert table.set_index("format").loc["wos_plain", "fields read"].startswith("title: TI; authors: AU, AF; year: PY, EA")


def test_every_real_export_imports_and_the_data_stay_valid(data_copy, capsys):
    """Each real export imported as a new search run of a copy of q2: the log counts its records,
    the copy passes `check` after every import, and the five databases of one search add up."""
    # wos_plain.txt is the same bytes as wos_plain.ciw (synthesisr ships one export under both names),
    # so the import refuses it as already imported
    names = [name for name in sorted(REAL_EXPORTS) if not name.startswith("multi_database/") and name != "wos_plain.txt"]
    names += [f"multi_database/gambling_{db}.ris" for db in ("crimjust", "lens", "psycinfo", "pubmed", "scopus")]
    held_before = len(rec.load_records("q2_interventions"))
    for day, name in enumerate(names, start=1):
        assert main(["import", str(EXPORTS / name), "--question", "q2_interventions", "--source", name,
                     "--query", "q", "--date", f"2026-12-{day:02d}"]) == 0, capsys.readouterr().err
        assert rec.read_search_log("q2_interventions").iloc[-1]["n_hits"] == REAL_EXPORTS[name][1]
        assert main(["check"]) == 0, capsys.readouterr().out
    capsys.readouterr()
    records = rec.load_records("q2_interventions")
    assert len(records) == held_before + sum(REAL_EXPORTS[name][1] for name in names)


def test_web_of_science_bad_line_skips_its_record(tmp_path):
    text = (EXPORTS / "wos_plain.ciw").read_text(encoding="utf-8").replace("PY 2020\n", "2020\n", 1)
    path = tmp_path / "bad.ciw"
    path.write_text(text, encoding="utf-8")
    read = read_export_report(path)
    assert read.table["title"].tolist() == ["Aesthetics and the Containment of Grief"]
    assert len(read.skipped) == 1 and str(read.skipped[0]).startswith("line 3: line ")


def test_utf16_export_with_byte_order_mark(tmp_path):
    path = tmp_path / "endnote.ris"
    path.write_bytes((EXPORTS / "endnote_export.ris").read_text(encoding="utf-8").encode("utf-16"))
    assert detect_format(path) == "ris" and len(read_export(path)) == 4


def test_ris_record_without_its_type_line_is_read_not_dropped(tmp_path):
    """A record whose 'TY  - ' line is missing (as a byte-order mark glued to it can make it) is
    read from its first field, with a remark, instead of being passed over as text between records."""
    text = (EXPORTS / "endnote_export.ris").read_text(encoding="utf-8").replace("TY  - JOUR\n", "", 1)
    path = tmp_path / "no_type.ris"
    path.write_text(text, encoding="utf-8")
    read = read_export_report(path)
    assert len(read.table) == 4 and read.table.loc[0, "first_author"] == "Hwang J"
    assert [str(r) for r in read.remarks] == ["line 1: record does not start with 'TY  - '; read from its first field"]
