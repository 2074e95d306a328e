"""The validator: the real data pass; each kind of bad input gives exactly the expected message.

Every bad-input case is a copy of the real data folder with one defect, checked through
REVIEW_DATA_DIR as ``python -m analysis check`` would. Rows are spreadsheet rows (header = 1).
"""
from __future__ import annotations

from pathlib import Path

import pytest

from analysis.commands import checks, cli
from analysis.io import validate
from analysis.io.problems import DataError
from analysis.io.paths import REPO_ROOT

DATA = REPO_ROOT / "data"


def edit(root: Path, relative: str, old: str, new: str) -> None:
    """Replace the one occurrence of ``old`` in a file of the copy."""
    path = root / relative
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, f"{old!r} occurs {text.count(old)} times in {relative}"
    path.write_text(text.replace(old, new), encoding="utf-8")


def problems() -> list[str]:
    return [str(problem) for problem in checks.check_all()]


def test_real_data_are_valid():
    assert checks.check_all(DATA) == []


def test_cli_reports_all_valid(capsys):
    assert cli.main(["check", "--data-dir", str(DATA)]) == 0
    assert capsys.readouterr().out == f"all {checks.table_count()} tables valid\n"


# Each case: (file, old text, new text, the exact problems expected).
CASES = {
    "ci_reversed": (
        "q1_webhelp/extraction.csv", "OR_CI,,6.01,4.70,7.70", "OR_CI,,6.01,7.70,4.70",
        ["q1_webhelp/extraction.csv:5:ci_low: ci_low 7.70 is above ci_high 4.70"]),
    "ci_excludes_estimate": (
        "published_syntheses.csv", ",OR,1.67,1.05,2.94,", ",OR,.05,1.05,2.94,",
        ["published_syntheses.csv:6:estimate: estimate .05 is outside its CI (1.05 to 2.94)"]),
    "r_out_of_range": (
        "published_syntheses.csv", "r,0.089,,,.009,,,q1/depression_webhelp,depressive symptoms and "
        "web-based help seeking,online_support_groups,all,a positive relationship between depressive "
        "symptoms and web-based help-seeking behaviors through online support groups (r=0.089",
        "r,1.089,,,.009,,,q1/depression_webhelp,depressive symptoms and "
        "web-based help seeking,online_support_groups,all,a positive relationship between depressive "
        "symptoms and web-based help-seeking behaviors through online support groups (r=1.089",
        ["published_syntheses.csv:2:estimate: a correlation must lie in (-1, 1), not 1.089"]),
    "events_more_than_n": (
        "q2_interventions/extraction.csv", "events,111,138,,,,,9,10,8.1,7.2",
        "events,111,138,,,,,190,10,8.1,7.2",
        ["q2_interventions/extraction.csv:2:events_t: printed value '190' does not appear in "
         "the excerpt",
         "q2_interventions/extraction.csv:2:events_t: events_t 190 is more than n_t 111"]),
    "sd_not_positive": (
        "q2_interventions/extraction.csv", "events,111,138,,,,,9,10,8.1,7.2",
        "events,111,138,,0,,,9,10,8.1,7.2",
        ["q2_interventions/extraction.csv:2:sd_t: 0 is out of range: must be > 0"]),
    "n_not_whole": (
        "q1_webhelp/extraction.csv", "TEMPO cohort\",1214,", "TEMPO cohort\",1214.5,",
        ["q1_webhelp/extraction.csv:3:n: '1214.5' is not a whole number"]),
    "n_zero": (
        "q1_webhelp/extraction.csv", "nine years; baseline cross-sectional comparison\",789,",
        "nine years; baseline cross-sectional comparison\",0,",
        ["q1_webhelp/extraction.csv:4:n: 0 is out of range: must be > 0"]),
    "count_negative": (
        "published_syntheses.csv", ",,.009,,,", ",,.009,-3,,",
        ["published_syntheses.csv:2:k_reported: -3 is out of range: must be >= 0"]),
    "pct_above_100": (
        "q1_webhelp/extraction.csv",
        [("<.05,16.1,9.1,", "<.05,116.1,9.1,"), ("(16.1% versus", "(116.1% versus")],
        None,
        ["q1_webhelp/extraction.csv:2:pct_group1: 116.1 is out of range: must be in [0, 100]"]),
    "pct_disagrees_with_events": (
        "q2_interventions/extraction.csv", "9,10,15.8,7.2", "9,10,16.8,7.2",
        ["q2_interventions/extraction.csv:3:pct_t: printed value '16.8' does not appear in "
         "the excerpt",
         "q2_interventions/extraction.csv:3:pct_t: pct_t 16.8 disagrees with events_t/n_t = "
         "9/57 = 15.789%"]),
    "duplicate_id": (
        "q1_webhelp/extraction.csv", "E02,Younes2015", "E01,Younes2015",
        ["q1_webhelp/extraction.csv:3:extraction_id: duplicate extraction_id 'E01' "
         "(first at row 2)"]),
    "decision_not_in_vocabulary": (
        "q1_webhelp/screening.csv", "R0004,title_abstract,reviewer_2,exclude,",
        "R0004,title_abstract,reviewer_2,maybe,",
        ["q1_webhelp/screening.csv:6:decision: 'maybe' is not an allowed value "
         "(include; exclude; awaiting_full_text)"]),
    "reason_not_in_vocabulary": (
        "q2_interventions/screening.csv", "exclude,not a controlled trial,Bachelor-thesis",
        "exclude,not relevant,Bachelor-thesis",
        ["q2_interventions/screening.csv:8:reason: 'not relevant' is not a reason for decision "
         "exclude at stage title_abstract in screening_reasons.csv (duplicate; no help-seeking "
         "outcome; not a controlled trial; population not selected for depressive symptoms; "
         "review/protocol)"]),
    "reason_of_the_other_question": (
        "q2_interventions/screening.csv", "exclude,not a controlled trial,Bachelor-thesis",
        "exclude,no depression measure,Bachelor-thesis",
        ["q2_interventions/screening.csv:8:reason: 'no depression measure' is not a reason for "
         "decision exclude at stage title_abstract in screening_reasons.csv (duplicate; no "
         "help-seeking outcome; not a controlled trial; population not selected for depressive "
         "symptoms; review/protocol)"]),
    "prisma_box_unknown": (
        "screening_reasons.csv", "exclude,records_excluded,q1_webhelp,no validated",
        "exclude,records_dropped,q1_webhelp,no validated",
        ["screening_reasons.csv:4:prisma_box: 'records_dropped' is not an allowed value "
         "(records_excluded; reports_excluded; reports_not_retrieved)"]),
    "exclude_without_reason": (
        "q2_interventions/screening.csv", "exclude,not a controlled trial,Bachelor-thesis",
        "exclude,,Bachelor-thesis",
        ["q2_interventions/screening.csv:8:reason: required when decision is exclude"]),
    "extraction_record_not_included": (
        "q1_webhelp/extraction.csv", "general,R0121,", "general,R0004,",
        ["q1_webhelp/extraction.csv:2:record_id: record R0004 is not an included record in "
         "screening.csv",
         "q1_webhelp/extraction.csv:2:record_id: record R0004 differs from the record of "
         "study Gould2002 in studies.csv (R0121)"]),
    "screening_record_unknown": (
        "q1_webhelp/screening.csv", "R0004,title_abstract", "R9999,title_abstract",
        ["q1_webhelp/screening.csv:6:record_id: record R9999 is not in records.csv"]),
    "screening_a_duplicate_record": (
        "q1_webhelp/screening.csv", "R0004,title_abstract", "R0003,title_abstract",
        ["q1_webhelp/screening.csv:6:record_id: record R0003 is a duplicate of R0002; "
         "screen the first occurrence"]),
    "assumption_unknown_study": (
        "q1_webhelp/assumptions.csv", "\",Gould2002,", "\",Gould2003,",
        ["q1_webhelp/assumptions.csv:3:studies: study Gould2003 is not in studies.csv"]),
    "swap_to_missing_comparison": (
        "q1_webhelp/assumptions.csv", "swap_comparison,model1,model3",
        "swap_comparison,model1,model2",
        ["q1_webhelp/assumptions.csv:8:comparison_alternative: study Sorkin2021 has no "
         "extraction row with comparison_id model2"]),
    "value_not_in_excerpt": (
        "q1_webhelp/extraction.csv", "OR_CI,,2.36,", "OR_CI,,2.63,",
        ["q1_webhelp/extraction.csv:3:or_value: printed value '2.63' does not appear in "
         "the excerpt"]),
    "p_malformed": (
        "q1_webhelp/extraction.csv", "3.8,1,519,<.05,", "3.8,1,519,p<.05,",
        ["q1_webhelp/extraction.csv:2:p_value: 'p<.05' is not a p value as printed "
         "(such as .009, <.05 or 0.04)"]),
    "spaces_around_value": (
        "q2_interventions/awaiting_full_text.csv", "1,R0023,", "1, R0023,",
        ["q2_interventions/awaiting_full_text.csv:2:record_id: ' R0023' has leading or "
         "trailing spaces"]),
    "doi_with_prefix": (
        "q2_interventions/studies.csv", ",10.1001/jama.2013.280038,",
        ",https://doi.org/10.1001/jama.2013.280038,",
        ["q2_interventions/studies.csv:3:doi: 'https://doi.org/10.1001/jama.2013.280038' is "
         "not a DOI (10.xxxx/...; no https://doi.org/ prefix)"]),
    "full_text_without_title_abstract_pass": (
        "q1_webhelp/screening.csv", "R0121,title_abstract,reviewer_2,include,",
        "R0121,title_abstract,reviewer_2,exclude,",
        None),  # rows depend on where R0121 is: see the test
    "statistic_missing_for_type": (
        "q1_webhelp/extraction.csv", "chi2,,,,,,,,,,,,,,3.8,1,519,", "chi2,,,,,,,,,,,,,,,1,519,",
        ["q1_webhelp/extraction.csv:2:chi2: required when statistic_type is chi2"]),
    "bib_key_unknown": (
        "q2_interventions/studies.csv", ",Christensen2006\n", ",Christensen2007\n",
        ["q2_interventions/studies.csv:4:bib_key: Christensen2007 is not a key of "
         "book/references.bib"]),
    "date_invalid": (
        "q2_interventions/queries.csv", "Q001,positive emotion infusion help seeking depression "
        "elevation gratitude,article pages,2026-11-22",
        "Q001,positive emotion infusion help seeking depression "
        "elevation gratitude,article pages,2026-11-31",
        ["q2_interventions/queries.csv:2:date: '2026-11-31' is not a date (YYYY-MM-DD)"]),
}


def _row_of(root: Path, relative: str, prefix: str) -> int:
    lines = (root / relative).read_text(encoding="utf-8").splitlines()
    return next(i for i, line in enumerate(lines, 1) if line.startswith(prefix))


@pytest.mark.parametrize("case", sorted(CASES))
def test_one_defect_gives_its_message(data_copy, case):
    relative, old, new, expected = CASES[case]
    for before, after in (old if isinstance(old, list) else [(old, new)]):
        edit(data_copy, relative, before, after)
    if case == "full_text_without_title_abstract_pass":
        row = _row_of(data_copy, relative, "R0121,title_abstract")
        expected = [
            f"q1_webhelp/screening.csv:{row}:reason: required when decision is exclude",
            f"q1_webhelp/screening.csv:{row + 1}:stage: full_text decision for R0121, which "
            f"has no title_abstract include",
        ]
    assert problems() == expected


def test_without_reasons_file_the_criteria_reasons_apply(data_copy):
    (data_copy / "screening_reasons.csv").unlink()
    edit(data_copy, "q2_interventions/screening.csv",
         "exclude,not a controlled trial,Bachelor-thesis", "exclude,not relevant,Bachelor-thesis")
    assert problems() == [
        "q2_interventions/screening.csv:8:reason: 'not relevant' is not an allowed value "
        "(not a controlled trial; population not selected for depressive symptoms; "
        "no help-seeking outcome; no extractable statistic in available report; "
        "review/protocol; duplicate)"]


def test_unclosed_quote_is_a_problem_with_its_row(data_copy):
    path = data_copy / "q2_interventions/extraction.csv"
    path.write_text(path.read_text(encoding="utf-8") + 'E09,"Shafran2019\n', encoding="utf-8")
    assert problems() == ["q2_interventions/extraction.csv:10:-: malformed CSV: unexpected end "
                          "of data; rows from here on were not read"]


def test_row_with_extra_field(data_copy):
    path = data_copy / "q1_webhelp/awaiting_full_text.csv"
    lines = path.read_text(encoding="utf-8").splitlines()
    lines[3] += ",extra"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert problems() == ["q1_webhelp/awaiting_full_text.csv:4:-: expected 4 fields, found 5"]


def test_not_utf8(data_copy):
    path = data_copy / "q1_webhelp/assumptions.csv"
    path.write_bytes(path.read_bytes().replace(b"Woolf", b"W\xe4olf"))
    assert problems() == ["q1_webhelp/assumptions.csv:3:-: not UTF-8 text "
                          "(byte 0xe4 cannot be decoded)",
                          ]


def test_missing_column(data_copy):
    path = data_copy / "q2_interventions/awaiting_full_text.csv"
    lines = [line.rsplit(",", 1)[0] if i == 0 else line
             for i, line in enumerate(path.read_text(encoding="utf-8").splitlines())]
    # only the header loses "why": the data rows now have one field too many
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    found = problems()
    assert found[0] == "q2_interventions/awaiting_full_text.csv:1:why: missing column"
    assert found[1] == "q2_interventions/awaiting_full_text.csv:2:-: expected 3 fields, found 4"


def test_missing_file(data_copy):
    (data_copy / "q2_interventions/assumptions.csv").unlink()
    assert problems() == ["q2_interventions/assumptions.csv:-:-: file not found"]


def test_cli_lists_every_problem_and_exits_1(data_copy, capsys):
    edit(data_copy, "q1_webhelp/extraction.csv", "E02,Younes2015", "E01,Younes2015")
    edit(data_copy, "q2_interventions/screening.csv",
         "exclude,not a controlled trial,Bachelor-thesis", "exclude,,Bachelor-thesis")
    assert cli.main(["check"]) == 1
    assert capsys.readouterr().out.splitlines() == [
        "q1_webhelp/extraction.csv:3:extraction_id: duplicate extraction_id 'E01' "
        "(first at row 2)",
        "q2_interventions/screening.csv:8:reason: required when decision is exclude",
        f"2 problem(s) in 2 of {checks.table_count()} tables",
    ]


def test_load_raises_data_error_naming_the_problem(data_copy):
    edit(data_copy, "q1_webhelp/extraction.csv", "OR_CI,,6.01,4.70,7.70", "OR_CI,,6.01,7.70,4.70")
    with pytest.raises(DataError) as caught:
        validate.load("q1", "extraction")
    assert [str(p) for p in caught.value.problems] == [
        "q1_webhelp/extraction.csv:5:ci_low: ci_low 7.70 is above ci_high 4.70"]


def test_load_keeps_printed_text_and_types_counts():
    studies = validate.load("q2", "extraction", DATA)
    christensen = studies[studies["study_id"] == "Christensen2006"]
    assert list(christensen["d"]) == [".24", "-.01", ".13", ".02"]
    assert list(christensen["n_t"]) == [121, 136, 102, 114]
    assert str(studies["n_t"].dtype) == "Int64"
    assert list(studies["row"])[:2] == [2, 3]


def test_unknown_table_is_a_clear_error():
    with pytest.raises(KeyError, match="unknown table 'extractions'"):
        validate.load("q1", "extractions")


def test_every_schema_column_is_in_the_codebook():
    from analysis.io import schemas

    codebook = (DATA / "README.md").read_text(encoding="utf-8")
    missing = []
    for question in (None, "q1", "q2"):
        tables = schemas.GLOBAL_TABLES if question is None else schemas.TABLES
        for table in tables:
            schema = schemas.schema_for(question, table)
            assert f"`{schema.file}`" in codebook, schema.file
            missing += [f"{schema.file}:{c}" for c in schema.names if f"`{c}`" not in codebook]
        if question is not None:
            for table in schemas.OPTIONAL_TABLES:
                schema = schemas.schema_for(question, table)
                assert f"`{schema.file}`" in codebook, schema.file
                missing += [f"{schema.file}:{c}" for c in schema.names if f"`{c}`" not in codebook]
    assert missing == []


def test_command_line_exit_codes_and_no_traceback(data_copy):
    import subprocess
    import sys

    path = data_copy / "q2_interventions/extraction.csv"
    path.write_text(path.read_text(encoding="utf-8") + 'E09,"Shafran2019\n', encoding="utf-8")
    result = subprocess.run([sys.executable, "-m", "analysis", "check"], cwd=REPO_ROOT,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 1
    assert "Traceback" not in result.stdout + result.stderr
    assert result.stdout.splitlines()[0] == (
        "q2_interventions/extraction.csv:10:-: malformed CSV: unexpected end of data; "
        "rows from here on were not read")
    assert result.stdout.splitlines()[-1] == f"1 problem(s) in 1 of {checks.table_count()} tables"
