"""Reader-level conclusions (analysis.versions.conclusions) and the release-kind rule."""
from __future__ import annotations

import pandas as pd
import pytest

from analysis.versions import conclusions, release_archive
from analysis.pooling import synthesis


def _row(**values):
    row = {"question": "q2", "outcome": "behaviour", "scenario": "primary",
           "model_name": "primary", "measure": "OR", "pooled": True, "k": 3}
    row.update(values)
    return row


@pytest.mark.parametrize("low, high, finding", [
    (1.05, 2.94, "positive"), (0.40, 0.90, "negative"), (0.80, 1.30, "no clear effect"),
    (1.00, 1.50, "no clear effect"),  # an interval touching the null includes it
])
def test_finding_reads_the_interval_against_the_null_of_the_measure(low, high, finding):
    assert conclusions._finding(_row(ci_low=low, ci_high=high)) == finding


def test_null_is_zero_for_r_and_smd():
    assert conclusions._finding(_row(measure="r", ci_low=0.02, ci_high=0.4)) == "positive"
    assert conclusions._finding(_row(measure="SMD", ci_low=-0.5, ci_high=0.1)) == "no clear effect"
    assert conclusions._finding(_row(pooled=False, ci_low=None, ci_high=None)) == "not pooled"


def _results(primary_ci, other_cis):
    rows = [_row(ci_low=primary_ci[0], ci_high=primary_ci[1], estimate=1.2)]
    for index, (low, high) in enumerate(other_cis):
        rows.append(_row(scenario=f"s{index}", ci_low=low, ci_high=high, estimate=1.2))
    frame = pd.DataFrame(rows)
    for column in synthesis.RESULT_COLUMNS:
        if column not in frame:
            frame[column] = None
    return frame


def test_robustness_compares_every_sensitivity_row_with_the_primary_one():
    robust = conclusions.conclusions(_results((1.1, 2.0), [(1.05, 2.2), (1.2, 1.9)]))
    row = robust[robust["outcome"] == "behaviour"].iloc[0]
    assert (row["finding"], row["robustness"]) == ("positive", "robust")
    assert "the same in all 2 sensitivity analyses" in row["statement"]
    fragile = conclusions.conclusions(_results((1.1, 2.0), [(0.9, 2.2), (1.2, 1.9)]))
    row = fragile[fragile["outcome"] == "behaviour"].iloc[0]
    assert row["robustness"] == "not robust"
    assert "not the same in 1 of 2" in row["statement"]
    alone = conclusions.conclusions(_results((1.1, 2.0), []))
    assert alone[alone["outcome"] == "behaviour"].iloc[0]["robustness"] == "not assessed"


def test_certainty_comes_from_the_grade_table():
    table = conclusions.conclusions(_results((1.1, 2.0), []))
    # grade.csv of q2 rates behaviour (first assessment) by its five domains; the word follows
    from analysis.evidence import grade

    grades = grade.load_grade_table("q2_interventions")
    label = synthesis.analysis_spec("q2", "behaviour").label
    level = int(grades[grades["outcome"] == label]["certainty_level"].iloc[0])
    assert table[table["outcome"] == "behaviour"].iloc[0]["certainty"] == grade.CERTAINTY_WORDS[level]


def test_a_changed_number_with_the_same_finding_is_not_a_changed_conclusion():
    before = conclusions.conclusions(_results((1.1, 2.0), []))
    after = conclusions.conclusions(_results((1.3, 2.6), []))
    assert conclusions.conclusion_changes(after, before) == []
    flipped = conclusions.conclusions(_results((0.9, 2.6), []))
    assert conclusions.conclusion_changes(flipped, before) == ["q2/behaviour"]
    assert len(conclusions.conclusion_changes(before, None)) == len(before)  # a first release: all new


@pytest.mark.parametrize("changed, runs, numbers, kind", [
    (True, 0, True, "major"), (False, 2, False, "major"), (False, 0, True, "minor"),
    (False, 0, False, "patch"), (True, 0, False, "major"),
])
def test_release_kind_rule(changed, runs, numbers, kind):
    assert conclusions.release_kind(changed, runs, numbers) == kind


def test_stored_conclusions_of_every_release_cover_every_outcome():
    log = release_archive.read_releases()
    for version in log["version"]:
        # every outcome that release pooled (an outcome added later is not in earlier releases)
        stored = conclusions.stored_conclusions(version)
        recomputed = conclusions.conclusions(release_archive.read_results(version))
        assert list(stored["outcome"]) == list(recomputed["outcome"])
        assert set(recomputed["outcome"]) <= {spec.outcome for spec in synthesis.ANALYSES}
        assert list(stored["finding"]) == list(recomputed["finding"])
