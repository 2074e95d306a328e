"""Routes to the pooled scale side by side, and sensitivity scenarios that say what they test."""
from __future__ import annotations

import pytest

from analysis import review
from analysis.evidence import extraction
from analysis.findings import routes
from analysis.pooling import synthesis


@pytest.mark.parametrize("question, outcome", [("q1", "depression_webhelp"), ("q2", "behaviour")])
def test_primary_route_and_its_alternative_are_both_pooled(question, outcome):
    table = routes.route_comparison(question, outcome).set_index("role")
    assert list(table.index) == ["primary", "alternative"]
    route = extraction.primary_route(question)
    assert table.loc["primary", "route"] == route["route"]
    assert table.loc["alternative", "route"] == route["alternative"]
    alternative = review.current().pooled(question, outcome, route["assumption_id"]).as_dict()
    assert table.loc["alternative", "estimate"] == alternative["estimate"]
    assert table.loc["primary", "measure"] != table.loc["alternative", "measure"]


def test_route_statement_names_the_primary_route_first_and_shows_the_alternative():
    text = routes.route_statement("q1", "depression_webhelp")
    assert text.startswith("Primary route: every study as a log odds ratio")
    assert "Alternative route: every study as a correlation r" in text
    assert "for display only" in text  # the r beside Bizzotto et al. is derived, not pooled
    for word in ("larger", "smaller", "higher", "lower", "consistent with"):
        assert word not in text


@pytest.mark.parametrize("question, outcome", [("q1", "depression_webhelp"), ("q2", "behaviour"),
                                               ("q2", "behaviour_follow_up")])
def test_a_scenario_leaving_fewer_than_two_effects_cannot_be_tested(question, outcome):
    table = routes.sensitivity_table(question, outcome)
    for row in table.to_dict("records"):
        if row["scenario"] == "primary":
            continue
        assert row["tested"] is (row["k"] >= 2)
        if row["k"] < 2:
            assert row["result"].startswith(routes.CANNOT_BE_TESTED), row
            assert "OR " not in row["result"] and "r " not in row["result"]


def test_every_scenario_says_whether_it_tests_or_only_removes():
    table = routes.sensitivity_table("q1", "depression_webhelp")
    assert set(table["kind"]) <= {"primary", "tests the assumption", "removes studies only"}
    assert (table["kind"] == "tests the assumption").sum() >= 3


def test_generation_is_derived_from_printed_ages_and_year():
    table = routes.generation_table("q1").set_index("study")
    # Rideout 2018: ages 14-22 in 2018 -> born 1996-2004, middle 2000 >= 1997
    assert table.loc["Rideout 2018", "born"] == "1996-2004"
    assert table.loc["Rideout 2018", "group"] == "Generation Z"
    # Gould 2002: ages 13-19 in 1999 -> born 1980-1986
    assert table.loc["Gould 2002", "group"] == "older generations"


def test_generation_z_analysis_uses_only_generation_z_samples():
    row = review.current().pooled("q1", "depression_webhelp_generation_z").as_dict()
    assert set(row["effect_sizes"]["population_group"]) <= {"Generation Z"}
    text = routes.generation_z_statement()
    assert "Bizzotto" in text and "larger" not in text and "smaller" not in text
