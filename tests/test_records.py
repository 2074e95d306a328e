"""Search-export readers, normalisation, the search log and the `import` command.

Fixtures in tests/fixtures/exports/ are real hits of data/q1_webhelp/records.csv written in each
export format (see the README there); messy cases below are real values from the review's
records.csv files.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from analysis import records as rec
from analysis.cli import main

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
    assert rec.normalize_doi(raw) == expected


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
    assert rec.normalize_title(left) == rec.normalize_title(right)


def test_normalize_title_form():
    assert rec.normalize_title("Seeking Help From the <i>Internet</i> During Adolescence.") == \
        "seeking help from the internet during adolescence"
    assert rec.normalize_title("Apolinário-Hagen") == "apolinario hagen"


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
    assert rec.author_surname(raw) == expected


def test_pmid_and_year():
    assert rec.normalize_pmid("PMID: 012364839") == "12364839"
    assert rec.normalize_pmid("33439143.0") == "33439143"
    assert rec.normalize_pmid("n/a") == ""
    assert rec.parse_year("2016 May 16") == "2016"
    assert rec.parse_year("") == ""


def test_description_titles_are_recognised():
    assert rec.is_description("[title not shown in excerpt] Systematic review of app-store apps")
    assert not rec.is_description("Seeking help from the internet during adolescence")


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
        table = rec.read_export(EXPORTS / name)
        assert rec.detect_format(EXPORTS / name) == fmt
        assert list(table.columns) == rec.RECORD_COLUMNS
        assert len(table) == count
        stem = name.rsplit(".", 1)[0]
        assert table["record_id"].tolist() == [f"{stem}:{i}" for i in range(1, count + 1)]
        assert table["position"].tolist() == list(range(1, count + 1))


def test_nbib_fields_match_the_record():
    table = rec.read_export(EXPORTS / "pubmed_export.nbib").set_index("pmid")
    gould = table.loc["12364839"]  # R0121 of data/q1_webhelp/records.csv
    assert gould["title"] == "Seeking help from the internet during adolescence"
    assert gould["first_author"] == "Gould MS"
    assert gould["year"] == "2002"
    assert gould["doi"] == "10.1097/00004583-200210000-00007"
    dean = table.loc["27189142"]  # a title continued over two lines
    assert dean["title"] == ("Direction to an Internet Support Group Compared With Online Expressive Writing "
                             "for People With Depression And Anxiety: A Randomized Trial")


def test_ris_bibtex_scopus_wos_fields():
    ris = rec.read_export(EXPORTS / "endnote_export.ris")
    assert ris.loc[1, "doi"] == "10.2196/21275" and ris.loc[3, "journal"] == "American Medical Women's Association annual meeting"
    bib = rec.read_export(EXPORTS / "zotero_export.bib")
    assert bib.loc[0, "title"] == ("Rise in Use of Digital Mental Health Tools and Technologies in the U.S. "
                                   "During the COVID-19 Pandemic")  # braces removed
    assert bib.loc[1, "first_author"] == "Younes, N"
    scopus = rec.read_export(EXPORTS / "scopus_export.csv")
    assert scopus.loc[1, ["doi", "pmid", "year"]].tolist() == ["10.2196/26994", "33822737", "2021"]
    wos = rec.read_export(EXPORTS / "wos_tabdelimited_export.txt")
    assert wos.loc[1, "journal"] == "JMIR Preprints" and wos.loc[0, "pmid"] == "31228179"


def test_first_round_keeps_its_own_ids():
    table = rec.read_export(REPO / "data" / "q1_webhelp" / "records.csv")
    assert rec.detect_format(REPO / "data" / "q1_webhelp" / "records.csv") == "index_hits"
    assert len(table) == 560
    assert table["record_id"].iloc[0] == "R0001" and table["record_id"].iloc[-1] == "R0560"
    assert table.loc[0, "pmid"] == "27189142"


def test_field_aliases_are_data():
    aliases = pd.read_csv(REPO / "analysis" / "field_aliases.csv", dtype=str, keep_default_na=False)
    assert set(aliases["format"]) == set(rec.FORMATS)
    assert set(aliases["field"]) <= set(rec.RECORD_COLUMNS) | {"query_id"}


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
    lines = _ris_lines()
    lines.remove("ER  - ")  # the first record is no longer closed; the next TY moves to line 8
    path = _write(tmp_path, "broken.ris", "\n".join(lines) + "\n")
    with pytest.raises(rec.ExportError) as caught:
        rec.read_export(path)
    assert str(caught.value) == (f"{path}, line 8: a new record starts before the record opened on "
                                 "line 1 was closed with 'ER  - '")


def test_ris_stray_text_between_records(tmp_path):
    lines = _ris_lines()
    lines.insert(7, "this line is not RIS")
    path = _write(tmp_path, "stray.ris", "\n".join(lines) + "\n")
    with pytest.raises(rec.ExportError, match=r"stray\.ris, line 8: expected 'TY  - ' to start a record"):
        rec.read_export(path)


def test_ris_unterminated_at_end(tmp_path):
    path = _write(tmp_path, "cut.ris", "\n".join(_ris_lines()[:10]) + "\n")
    with pytest.raises(rec.ExportError, match=r"cut\.ris, line 9: record not closed with 'ER  - '"):
        rec.read_export(path)


def test_bibtex_unbalanced_brace(tmp_path):
    text = (EXPORTS / "zotero_export.bib").read_text(encoding="utf-8")
    text = text.replace("title = {E-Mental Health", "title = {{E-Mental Health")
    path = _write(tmp_path, "broken.bib", text)
    with pytest.raises(rec.ExportError) as caught:
        rec.read_export(path)
    assert str(caught.value).startswith(f"{path}, line 7: entry could not be parsed")


def test_bibtex_duplicate_key(tmp_path):
    text = (EXPORTS / "zotero_export.bib").read_text(encoding="utf-8").replace("younes_2015", "rise_2021")
    path = _write(tmp_path, "dupkey.bib", text)
    with pytest.raises(rec.ExportError, match=r"dupkey\.bib, line 7: duplicate entry key 'rise_2021'"):
        rec.read_export(path)


def test_csv_row_with_wrong_field_count(tmp_path):
    lines = (EXPORTS / "wos_export.csv").read_text(encoding="utf-8").splitlines()
    lines[2] = lines[2] + ",extra"
    path = _write(tmp_path, "wos.csv", "\n".join(lines) + "\n")
    with pytest.raises(rec.ExportError) as caught:
        rec.read_export(path)
    assert str(caught.value) == f"{path}, line 3: expected 9 fields as in the header, found 10"


def test_csv_unclosed_quote(tmp_path):
    text = (EXPORTS / "scopus_export.csv").read_text(encoding="utf-8-sig")
    text = text.replace('"Younes N","E-Mental', '"Younes N","E-Mental "Health')
    path = _write(tmp_path, "scopus.csv", text)
    with pytest.raises(rec.ExportError, match=r"scopus\.csv, line 2: not valid CSV"):
        rec.read_export(path)


def test_csv_unknown_header(tmp_path):
    path = _write(tmp_path, "other.csv", "name,value\na,1\n")
    with pytest.raises(rec.ExportError, match=r"other\.csv, line 1: unrecognised header"):
        rec.read_export(path)


def test_nbib_bad_line(tmp_path):
    text = (EXPORTS / "pubmed_export.nbib").read_text(encoding="utf-8").replace("DP  - 2016", "DP 2016")
    path = _write(tmp_path, "bad.nbib", text)
    with pytest.raises(rec.ExportError, match=r"bad\.nbib, line 13: not a MEDLINE field line"):
        rec.read_export(path)


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
    assert "0 of them are new unique records; 3 link to records already held." in out
    # the same file again is refused
    before = snapshot(data_copy)
    assert main(["import", str(EXPORTS / "pubmed_export.nbib"), "--question", "q1_webhelp", "--source", "x",
                 "--query", "y", "--date", "2026-12-02"]) == 1
    assert "already imported as search S002" in capsys.readouterr().err
    assert snapshot(data_copy) == before


@pytest.mark.parametrize("name, corrupt, message", [
    ("bad.ris", lambda t: t.replace("ER  - \n\nTY  - NEWS", "TY  - NEWS", 1),
     "bad.ris, line 7: a new record starts before the record opened on line 1 was closed with 'ER  - '"),
    ("bad.bib", lambda t: t.replace("title = {E-Mental", "title = {{E-Mental"), "bad.bib, line 7: entry could not be parsed"),
    ("bad.csv", lambda t: t.replace("2016,10.2196", "2016,,10.2196"), "bad.csv, line 3: expected 9 fields as in the header, found 10"),
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
