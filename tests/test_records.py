"""Search-export readers, normalisation, the search log and the `import` command.

Fixtures in tests/fixtures/exports/ are real hits of data/q1_webhelp/records.csv written in each
export format (see the README there); messy cases below are real values from the review's
records.csv files.
"""
from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest

from analysis.search import records as rec
from analysis.search.detect import detect_format
from analysis.search.exports import read_export, read_export_report
from analysis.io.search_tables import FORMATS
from analysis.search.fields import RECORD_COLUMNS
from analysis.search.readers.base import ExportError
from analysis.search import normalize as norm
from analysis.commands.cli import main

REPO = Path(__file__).resolve().parent.parent
EXPORTS = Path(__file__).resolve().parent / "fixtures" / "exports"


from conftest import snapshot  # noqa: E402  (shared with the other command tests)


# ---------------------------------------------------------------------------------------------
# Normalisation on real messy values
# ---------------------------------------------------------------------------------------------
# (raw as found in records.csv or its URL, expected key); sources: data/q1_webhelp/records.csv
DOI_CASES = [
    ("10.2196/mental.5133", "10.2196/mental.5133"),                     # R0001
    ("https://dx.doi.org/10.1145/3491102.3501976", "10.1145/3491102.3501976"),  # a record URL
    ("10.1176%2Fappi.ps.201100196", "10.1176/appi.ps.201100196"),       # URL-escaped slash (q2 URL)
    ("10.1186%2F1471-244X-12-81", "10.1186/1471-244x-12-81"),           # escaped and upper case (q2 R0395's DOI)
    ("doi: 10.1097/00004583-200210000-00007.", "10.1097/00004583-200210000-00007"),  # R0121 in citation form
    ("https://doi.org/10.2196/21275", "10.2196/21275"),                 # R0003 as a resolver link
    ("not available", ""),
    ("", ""),
]


@pytest.mark.parametrize("raw, expected", DOI_CASES)
def test_normalize_doi(raw, expected):
    assert norm.normalize_doi(raw) == expected


TITLE_PAIRS = [  # (record, title) pairs that dedup_map.csv links; their keys must be equal
    ("Seeking help from the internet during adolescence",                      # R0121
     "Seeking Help From the Internet During Adolescence"),                     # R0123
    ("Online counseling and support groups for people living with or affected by HIV/AIDS",
     "Online Counseling and Support Groups for People Living with Or Affected by HIV/AIDS"),
    ("Rise in Use of Digital Mental Health Tools and Technologies in the United States During the COVID-19 Pandemic",
     "Rise in Use of Digital Mental Health Tools and Technologies in the U.S. During the COVID-19 Pandemic"),  # R0185/R0191
    ("Online Support Groups (web summary of Bartlett & Coulson 2011)",          # R0149 and its
     "Online Support Groups (web summary of Bartlett &amp; Coulson 2011)"),     # HTML-escaped form
    ("Effects of Web-Based Social Connectedness on Older Adults' Depressive Symptoms",  # R0002, and
     "Effects of Web-Based Social Connectedness on Older Adults\u2019 Depressive Symptoms"),  # curly apostrophe
]


@pytest.mark.parametrize("left, right", TITLE_PAIRS)
def test_normalize_title_equates_real_variants(left, right):
    assert norm.normalize_title(left) == norm.normalize_title(right)


def test_normalize_title_form():
    assert norm.normalize_title("Seeking Help From the <i>Internet</i> During Adolescence.") == \
        "seeking help from the internet during adolescence"
    assert norm.normalize_title("Apolinário-Hagen") == "apolinario hagen"


AUTHOR_CASES = [  # first_author values of records.csv and the same names as other exports write them
    ("Gould MS", "gould"), ("Gould, Madelyn S.", "gould"), ("Madelyn S. Gould", "gould"),
    ("Bessière K", "bessiere"), ("Fürtjes S", "furtjes"), ("Sitges-Maciá E", "sitgesmacia"),
    ("O'Dea", "odea"), ("Apolinário-Hagen", "apolinariohagen"),
    ("Gil-Fortoul Bucheli JD", "gilfortoulbucheli"), ("Younes, N", "younes"),
    ("Dean J., Smith A.", "dean"),  # older Scopus author lists: comma-separated Vancouver names
    ("Gould, MS; Munfakh, JLH", "gould"), ("", ""),
]


@pytest.mark.parametrize("raw, expected", AUTHOR_CASES)
def test_author_surname(raw, expected):
    assert norm.author_surname(raw) == expected


def test_pmid_and_year():
    assert norm.normalize_pmid("PMID: 012364839") == "12364839"
    assert norm.normalize_pmid("33439143.0") == "33439143"
    assert norm.normalize_pmid("n/a") == ""
    assert norm.parse_year("2016 May 16") == "2016"
    assert norm.parse_year("") == ""


def test_description_titles_are_recognised():
    assert norm.is_description("[title not shown in excerpt] Systematic review of app-store apps")
    assert not norm.is_description("Seeking help from the internet during adolescence")


# ---------------------------------------------------------------------------------------------
# Readers
# ---------------------------------------------------------------------------------------------
def test_every_fixture_reads_into_the_shared_shape():
    expected = {  # file -> (format, record count)
        "pubmed_export.nbib": ("nbib", 3), "scopus_export.csv": ("scopus_csv", 3),
        "wos_export.csv": ("wos_csv", 2), "wos_tabdelimited_export.txt": ("wos_tab", 2),
        "endnote_export.ris": ("ris", 4), "zotero_export.bib": ("bibtex", 2),
    }
    for name, (fmt, count) in expected.items():
        table = read_export(EXPORTS / name)
        assert detect_format(EXPORTS / name) == fmt
        assert list(table.columns) == RECORD_COLUMNS
        assert len(table) == count
        stem = name.rsplit(".", 1)[0]
        assert table["record_id"].tolist() == [f"{stem}:{i}" for i in range(1, count + 1)]
        assert table["position"].tolist() == list(range(1, count + 1))


def test_nbib_fields_match_the_record():
    table = read_export(EXPORTS / "pubmed_export.nbib").set_index("pmid")
    gould = table.loc["12364839"]  # R0121 of data/q1_webhelp/records.csv
    assert gould["title"] == "Seeking help from the internet during adolescence"
    assert gould["first_author"] == "Gould MS"
    assert gould["year"] == "2002"
    assert gould["doi"] == "10.1097/00004583-200210000-00007"
    dean = table.loc["27189142"]  # a title continued over two lines
    assert dean["title"] == ("Direction to an Internet Support Group Compared With Online Expressive Writing "
                             "for People With Depression And Anxiety: A Randomized Trial")


def test_ris_bibtex_scopus_wos_fields():
    ris = read_export(EXPORTS / "endnote_export.ris")
    assert ris.loc[1, "doi"] == "10.2196/21275" and ris.loc[3, "journal"] == "American Medical Women's Association annual meeting"
    bib = read_export(EXPORTS / "zotero_export.bib")
    assert bib.loc[0, "title"] == ("Rise in Use of Digital Mental Health Tools and Technologies in the U.S. "
                                   "During the COVID-19 Pandemic")  # braces removed
    assert bib.loc[1, "first_author"] == "Younes, N"
    scopus = read_export(EXPORTS / "scopus_export.csv")
    assert scopus.loc[1, ["doi", "pmid", "year"]].tolist() == ["10.2196/26994", "33822737", "2021"]
    wos = read_export(EXPORTS / "wos_tabdelimited_export.txt")
    assert wos.loc[1, "journal"] == "JMIR Preprints" and wos.loc[0, "pmid"] == "31228179"


def test_first_round_keeps_its_own_ids():
    table = read_export(REPO / "data" / "q1_webhelp" / "records.csv")
    assert detect_format(REPO / "data" / "q1_webhelp" / "records.csv") == "index_hits"
    assert len(table) == 560
    assert table["record_id"].iloc[0] == "R0001" and table["record_id"].iloc[-1] == "R0560"
    assert table.loc[0, "pmid"] == "27189142"


def test_field_aliases_are_data():
    aliases = pd.read_csv(REPO / "analysis" / "search" / "field_aliases.csv", dtype=str, keep_default_na=False)
    assert set(aliases["format"]) == set(FORMATS)
    assert set(aliases["field"]) <= set(RECORD_COLUMNS) | {"query_id"}


# ---------------------------------------------------------------------------------------------
# Malformed files: the message names the file and the line
# ---------------------------------------------------------------------------------------------
def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _ris_lines():
    return (EXPORTS / "endnote_export.ris").read_text(encoding="utf-8").splitlines()


def test_ris_missing_end_of_record(tmp_path):
    """A record without 'ER  - ' ends where the next one starts (as in Zotero), with a remark."""
    lines = _ris_lines()
    lines.remove("ER  - ")  # the first record is no longer closed; the next TY moves to line 8
    path = _write(tmp_path, "broken.ris", "\n".join(lines) + "\n")
    read = read_export_report(path)
    assert len(read.table) == 4 and read.table.loc[0, "url"] == "https://jmir.org/2021/1/e21275"
    assert [str(r) for r in read.remarks] == [
        "line 1: record not closed with 'ER  - '; it ends where the next record starts, on line 8"]
    assert read.note() == ("1 entry read with a remark (line 1: record not closed with 'ER  - '; it ends where "
                           "the next record starts, on line 8)")


def test_ris_text_between_records_is_ignored(tmp_path):
    """Lines outside a record (record numbers, vendor headers, stray text) are not RIS and are
    skipped, as rispy and Zotero do; the records around them are read whole."""
    lines = _ris_lines()
    lines.insert(7, "this line is not RIS")
    path = _write(tmp_path, "stray.ris", "\n".join(lines) + "\n")
    table = read_export(path)
    assert len(table) == 4 and table.loc[1, "doi"] == "10.2196/21275"


def test_ris_unterminated_at_end(tmp_path):
    path = _write(tmp_path, "cut.ris", "\n".join(_ris_lines()[:10]) + "\n")
    read = read_export_report(path)
    assert len(read.table) == 2
    assert str(read.remarks[0]).startswith("line 9: record not closed with 'ER  - ' before the end of the file")


def test_bibtex_unbalanced_brace_skips_that_entry(tmp_path):
    text = (EXPORTS / "zotero_export.bib").read_text(encoding="utf-8")
    text = text.replace("title = {E-Mental Health", "title = {{E-Mental Health")
    path = _write(tmp_path, "broken.bib", text)
    read = read_export_report(path)
    assert len(read.table) == 1 and read.table.loc[0, "record_id"] == "broken:1"
    assert [s.line for s in read.skipped] == [7]
    assert read.skipped[0].reason.startswith("entry could not be parsed")
    assert read.note().startswith("1 entry skipped (line 7: entry could not be parsed")


def test_bibtex_duplicate_key_imports_both(tmp_path):
    """Two entries under one key are two records (deduplication links them if they are copies)."""
    text = (EXPORTS / "zotero_export.bib").read_text(encoding="utf-8").replace("younes_2015", "rise_2021")
    path = _write(tmp_path, "dupkey.bib", text)
    read = read_export_report(path)
    assert len(read.table) == 2 and not read.skipped
    assert [str(r) for r in read.remarks] == ["line 7: entry key 'rise_2021' is used twice; both entries imported"]


def test_csv_row_with_wrong_field_count_is_skipped(tmp_path):
    lines = (EXPORTS / "wos_export.csv").read_text(encoding="utf-8").splitlines()
    lines[2] = lines[2] + ",extra"
    path = _write(tmp_path, "wos.csv", "\n".join(lines) + "\n")
    read = read_export_report(path)
    assert read.table["record_id"].tolist() == ["wos:1"]
    assert [str(s) for s in read.skipped] == ["line 3: expected 9 fields as in the header, found 10"]


def test_csv_unclosed_quote(tmp_path):
    text = (EXPORTS / "scopus_export.csv").read_text(encoding="utf-8-sig")
    text = text.replace('"Younes N","E-Mental', '"Younes N","E-Mental "Health')
    path = _write(tmp_path, "scopus.csv", text)
    with pytest.raises(ExportError, match=r"scopus\.csv, line 2: not valid CSV"):
        read_export(path)


def test_csv_unknown_header(tmp_path):
    path = _write(tmp_path, "other.csv", "name,value\na,1\n")
    with pytest.raises(ExportError) as caught:
        read_export(path)
    message = str(caught.value)
    assert message.startswith(f"{path}, line 1: not a search export this project reads; tried RIS, ")
    assert message.endswith("The file starts: 'name,value' / 'a,1'")


def test_nbib_bad_line(tmp_path):
    text = (EXPORTS / "pubmed_export.nbib").read_text(encoding="utf-8").replace("DP  - 2016", "DP 2016")
    path = _write(tmp_path, "bad.nbib", text)
    read = read_export_report(path)  # the record with the bad line is skipped, the others read
    assert read.table["pmid"].tolist() == ["12364839", "33439143"]
    assert [str(s) for s in read.skipped] == [
        "line 9: line 13 is not a MEDLINE field line ('TAG - value'): 'DP 2016'"]


# ---------------------------------------------------------------------------------------------
# The search log and the import command
# ---------------------------------------------------------------------------------------------
def test_search_log_of_the_first_round(first_round):
    for question, hits in (("q1_webhelp", 560), ("q2_interventions", 395)):
        log = rec.read_search_log(question)
        assert log.columns.tolist() == rec.SEARCH_LOG_COLUMNS
        assert log.loc[0, ["search_id", "file", "format"]].tolist() == ["S001", "records.csv", "index_hits"]
        assert log.loc[0, "n_hits"] == hits == len(rec.load_records(question))


def test_import_adds_a_search_run(first_round_copy, capsys):
    data_copy = first_round_copy
    code = main(["import", str(EXPORTS / "pubmed_export.nbib"), "--question", "q1_webhelp",
                 "--source", "MEDLINE (PubMed)", "--query", "depression AND internet help seeking",
                 "--date", "2026-12-01"])
    out = capsys.readouterr().out
    assert code == 0
    stored = data_copy / "q1_webhelp" / "searches" / "2026-12-01_S002_medline-pubmed.nbib"
    assert stored.read_bytes() == (EXPORTS / "pubmed_export.nbib").read_bytes()
    log = rec.read_search_log("q1_webhelp")
    assert log.iloc[-1][["search_id", "file", "n_hits", "format", "date_run"]].tolist() == \
        ["S002", "searches/2026-12-01_S002_medline-pubmed.nbib", 3, "nbib", "2026-12-01"]
    records = rec.load_records("q1_webhelp")
    assert len(records) == 563
    assert records["record_id"].iloc[-1] == "2026-12-01_S002_medline-pubmed:3"
    # all three are copies of first-round records (R0121, R0001, R0003): nothing new to screen
    assert "0 of them are new unique records; 0 repeat another record of the same file; " \
        "3 link to records already held." in out
    # the same file again is refused
    before = snapshot(data_copy)
    assert main(["import", str(EXPORTS / "pubmed_export.nbib"), "--question", "q1_webhelp", "--source", "x",
                 "--query", "y", "--date", "2026-12-02"]) == 1
    assert "already imported as search S002" in capsys.readouterr().err
    assert snapshot(data_copy) == before


@pytest.mark.parametrize("name, corrupt, message", [
    ("bad.ris", lambda t: re.sub(r"^(TI|DO)  - .*\n", "", t, flags=re.MULTILINE),
     "bad.ris, line 1: no record could be imported; the first problem: record has no title, DOI or PMID"),
    ("bad.bib", lambda t: t.replace("title = {", "title = {{"),
     "bad.bib, line 1: no record could be imported; the first problem: entry could not be parsed"),
    ("bad.csv", lambda t: t.replace("J,Dean J", 'J,"Dean J'), "bad.csv, line 3: not valid CSV"),
])
def test_import_refuses_malformed_files(data_copy, tmp_path, capsys, name, corrupt, message):
    source = {"bad.ris": "endnote_export.ris", "bad.bib": "zotero_export.bib", "bad.csv": "wos_export.csv"}[name]
    path = _write(tmp_path, name, corrupt((EXPORTS / source).read_text(encoding="utf-8")))
    before = snapshot(data_copy)
    code = main(["import", str(path), "--question", "q1_webhelp", "--source", "Web of Science",
                 "--query", "q", "--date", "2026-12-01"])
    captured = capsys.readouterr()
    assert code == 1
    assert message in captured.err
    assert captured.err.count("\n") == 1 and "Traceback" not in captured.err
    assert snapshot(data_copy) == before


def test_import_refuses_bad_arguments(data_copy, capsys):
    before = snapshot(data_copy)
    assert main(["import", str(EXPORTS / "scopus_export.csv"), "--question", "q1_webhelp", "--source", "Scopus",
                 "--query", "q", "--date", "1 Dec 2026"]) == 2
    assert "--date '1 Dec 2026' is not a date in the form YYYY-MM-DD" in capsys.readouterr().err
    for compact in ("20261129", "2026-W48-7", "2026-334"):  # ISO forms Python reads, the codebook does not
        assert main(["import", str(EXPORTS / "scopus_export.csv"), "--question", "q1_webhelp",
                     "--source", "Scopus", "--query", "q", "--date", compact]) == 2
        assert f"--date '{compact}' is not a date in the form YYYY-MM-DD" in capsys.readouterr().err
    for question in ("q9_none", "/tmp", "../data/q1_webhelp", str(data_copy / "q1_webhelp")):
        assert main(["import", str(EXPORTS / "scopus_export.csv"), "--question", question, "--source", "Scopus",
                     "--query", "q", "--date", "2026-12-01"]) == 2
        assert f"--question {question!r} is not a question of the review" in capsys.readouterr().err
    assert snapshot(data_copy) == before
