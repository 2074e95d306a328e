"""A row that `check` accepts always converts: for every statistic type (and, for question 2,
outcome) the schemas allow, a valid row yields an effect size; a pair the conversion code does not
handle is refused by `check` with file, row and column.

Rows are built from a real row of the data, changed to the statistic under test with its values
quoted in the excerpt, on a copy of data/.
"""
from __future__ import annotations

import csv
import shutil

import pytest

from analysis.evidence import extraction
from analysis.commands import checks
from analysis import review
from analysis.io import extraction_tables, schemas
from analysis.io.paths import REPO_ROOT


def _rows(path):
    with path.open(newline="", encoding="utf-8") as stream:
        reader = csv.DictReader(stream)
        return list(reader.fieldnames or []), list(reader)


def _write(path, fields, rows):
    with path.open("w", newline="", encoding="utf-8") as stream:
        writer = csv.DictWriter(stream, fieldnames=fields, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


@pytest.fixture
def copy(tmp_path, monkeypatch):
    target = tmp_path / "data"
    shutil.copytree(REPO_ROOT / "data", target, ignore=shutil.ignore_patterns(".transaction", ".write.lock"))
    monkeypatch.setenv("REVIEW_DATA_DIR", str(target))
    review.clear_cache()
    yield target
    review.clear_cache()


# question 1: one valid row per statistic type (values quoted in the excerpt as a source prints them)
Q1_STATISTICS = {
    "chi2": {"chi2": "6.2", "chi2_df": "1", "chi2_n": "600", "excerpt": "chi2(1) = 6.2, N = 600"},
    "OR_CI": {"or_value": "1.80", "ci_low": "1.20", "ci_high": "2.70", "excerpt": "OR 1.80 (95% CI 1.20-2.70)"},
    "r": {"r": ".15", "n": "400", "excerpt": "r = .15 (n = 400)"},
    "beta": {"r": ".12", "n": "400", "excerpt": "standardised beta = .12 (n = 400)"},
    "t": {"t": "2.40", "n1": "120", "n2": "280", "excerpt": "t = 2.40 (120 and 280)"},
    "F": {"f": "5.76", "df": "398", "n1": "120", "n2": "280", "excerpt": "F(1, 398) = 5.76 (120 and 280)"},
    "means_sds": {"m1": "12.1", "sd1": "5.2", "n1": "120", "m2": "10.3", "sd2": "5.0", "n2": "280",
                  "excerpt": "12.1 (5.2), n = 120, versus 10.3 (5.0), n = 280"},
    "percentages": {"pct_group1": "30.0", "pct_group2": "20.0", "n": "500", "group1_share_pct": "40.0",
                    "excerpt": "30.0% versus 20.0% of 500 (40.0% in the first group)"},
}


def test_the_schema_lists_every_statistic_type_tested_here():
    allowed = set(schemas.schema_for("q1", "extraction").column("statistic_type").allowed)
    assert allowed == set(Q1_STATISTICS)


@pytest.mark.parametrize("kind", sorted(Q1_STATISTICS))
def test_every_question_1_statistic_type_converts(copy, kind):
    path = copy / "q1_webhelp" / "extraction.csv"
    fields, rows = _rows(path)
    row = next(r for r in rows if r["study_id"] == "Younes2015")
    blank = {name: "" for name in ("r", "or_value", "ci_low", "ci_high", "m1", "sd1", "n1", "m2", "sd2", "n2",
                                   "t", "df", "f", "chi2", "chi2_df", "chi2_n", "p_value", "pct_group1",
                                   "pct_group2", "group1_share_pct") if name in fields}
    row.update(blank)
    row.update(statistic_type=kind, direction="positive", adjusted="no", **Q1_STATISTICS[kind])
    _write(path, fields, rows)
    problems = [p for p in checks.check_all(copy) if "Younes2015" in str(p) or p.file.endswith("extraction.csv")]
    assert not problems, problems
    for scenario in extraction.scenarios("q1"):
        effects = extraction.effect_sizes("q1", scenario)
        if "Younes2015" in set(effects["study_id"]):
            assert effects.loc[effects["study_id"] == "Younes2015", ["yi", "vi"]].notna().all().all()


@pytest.mark.parametrize("outcome, kind", [(o, k) for o, kinds in extraction_tables.Q2_CONVERTED.items() for k in kinds])
def test_every_question_2_pair_the_schema_accepts_converts(copy, outcome, kind):
    path = copy / "q2_interventions" / "extraction.csv"
    fields, rows = _rows(path)
    example = next(r for r in rows if r["statistic_type"] == kind)  # the data hold one of each
    assert example["outcome"] == outcome
    assert not checks.check_all(copy)
    effects = extraction.effect_sizes("q2")
    assert example["study_id"] in set(effects["study_id"])


@pytest.mark.parametrize("kind", ["d_ci", "means_sds", "t", "F", "or_ci", "rr_ci", "d_secondary"])
def test_a_pair_without_conversion_is_refused_by_check(copy, kind):
    path = copy / "q2_interventions" / "extraction.csv"
    fields, rows = _rows(path)
    row = next(r for r in rows if r["statistic_type"] == "d_secondary")
    outcome = "intentions" if kind == "d_secondary" else "behaviour"
    row.update(statistic_type=kind, outcome=outcome)
    _write(path, fields, rows)
    messages = [f"{p.file}:{p.row}:{p.column}: {p.message}" for p in checks.check_all(copy)]
    assert any("q2_interventions/extraction.csv:" in m and ":statistic_type: " in m
               and "has no conversion" in m for m in messages), messages
