"""The comparison with the published reviews: computed verdicts and generated words.

Published values as printed in the abstracts: Bizzotto et al. 2023 (J Med Internet Res
25:e36964), Ni et al. 2025 (BMC Psychiatry 25:528). The interval of an r printed with its P
follows from Fisher's z (Borenstein et al. 2009, ch. 6); the r shown for an odds ratio from
eqs. 7.1 and 7.5 with equal groups.
"""
from __future__ import annotations

import math

import pandas as pd
import pytest
from scipy import stats

from analysis.findings import comparison


@pytest.fixture(scope="module")
def table():
    return comparison.published_comparison_table().set_index("synthesis_id")


def test_r_shown_for_an_odds_ratio_is_the_equal_groups_conversion():
    d = math.log(2.0) * math.sqrt(3) / math.pi
    assert comparison.r_from_odds_ratio(2.0) == pytest.approx(d / math.sqrt(d * d + 4), abs=1e-15)


def test_interval_implied_by_r_and_p_and_its_effective_sample():
    # Bizzotto: r = 0.245, P = .004 -> z = 2.878, effective N = (z / atanh r)^2 + 3 = 135
    low, high, n = comparison.interval_from_r_and_p(0.245, 0.004)
    z = stats.norm.isf(0.002)
    assert n == pytest.approx((z / math.atanh(0.245)) ** 2 + 3, rel=1e-12)
    assert round(n) == 135
    assert math.atanh(high) - math.atanh(0.245) == pytest.approx(1.959963984540054 * math.atanh(0.245) / z)


def test_every_published_result_has_a_verdict_and_a_reason(table):
    assert set(table["verdict"]) <= set(comparison.VERDICTS)
    assert (table.loc[table["verdict"] != "comparable", "reason"] != "").all()


def test_results_without_studies_here_are_not_compared(table):
    for synthesis_id in ("ni2025_intentions_post", "ni2025_attitudes", "bizzotto2023_empowerment"):
        row = table.loc[synthesis_id]
        assert row["verdict"] == "not comparable" and row["sentence"].startswith("Not compared")


def test_a_different_association_is_not_compared(table):
    # Bizzotto's Generation Z r relates generation to support-group participation
    row = table.loc["bizzotto2023_genz"]
    assert row["verdict"] == "not comparable" and "relates generation" in row["reason"]


def test_a_subgroup_result_is_set_beside_the_same_subgroup_here(table):
    # Bizzotto pooled online support groups: compared with this review's studies of that form
    row = table.loc["bizzotto2023_osg"]
    assert row["here"].startswith("online support groups: OR")
    assert row["verdict"] == "partly comparable"
    assert "equal-groups conversion" in row["reason"]
    assert ("single study" in row["reason"]) is (row["k_here"] == 1)
    assert row["published"] == "r = 0.089, P = .009" and row["published_ci_derived"] is True


def test_published_numbers_are_shown_exactly_as_printed(table):
    assert table.loc["bizzotto2023_empowerment", "published"].startswith("r = 0.245")
    assert table.loc["ni2025_behaviour", "published"] == "OR = 1.67 (95% CI 1.05 to 2.94), P = .05"


def _record(verdict, overlap, here=2.0, theirs=1.5):
    return {"review": "Review et al. 2020 (J)", "published_outcome": "x", "published": "OR = 1.5",
            "here": "OR = 2.0", "verdict": verdict, "reason": "because", "ci_overlap": overlap,
            "published_ci_derived": False, "_here_estimate": here, "_published_estimate": theirs}


@pytest.mark.parametrize("verdict, overlap, here, word, absent", [
    ("comparable", False, 2.0, "larger", "in line"),
    ("comparable", False, 1.0, "smaller", "larger"),
    ("comparable", True, 2.0, "in line with", "larger"),
    ("partly comparable", False, 2.0, "only partly comparable", "larger"),
    ("not comparable", None, 2.0, "Not compared", "larger"),
])
def test_comparative_words_come_from_verdict_and_overlap(verdict, overlap, here, word, absent):
    sentence = comparison.comparative_sentence(_record(verdict, overlap, here))
    assert word in sentence and absent not in sentence


def test_sentences_use_comparative_words_only_for_comparable_results(table):
    for row in table.to_dict("records"):
        if row["verdict"] != "comparable":
            for word in ("larger", "smaller", "in line with", "higher", "lower"):
                assert word not in row["sentence"], row["sentence"]


def test_every_published_row_names_an_analysis_of_this_review():
    from analysis.pooling import synthesis
    from analysis.io.validate import load

    published = load(None, "published_syntheses")
    published = published.astype(object).where(published.notna(), "")
    for row in published.to_dict("records"):
        if row["analysis"]:
            question, outcome = row["analysis"].split("/")
            synthesis.analysis_spec(question, outcome)  # raises for an unknown analysis
    for spec in synthesis.ANALYSES:
        if spec.published_id:
            match = published[published["synthesis_id"] == spec.published_id]
            assert match["analysis"].iloc[0] == f"{spec.question}/{spec.outcome}", spec.published_id
