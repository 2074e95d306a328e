"""Summary-of-findings tables: absolute effects from the Handbook's formulas, the GRADEpro
columns, numbered footnotes, rows for outcomes without studies, and escaping."""
from __future__ import annotations

import pytest

from analysis.views import sof


@pytest.mark.parametrize("measure, ratio, risk, expected", [
    # Cochrane Handbook v6.4, section 14.1.5.1: risk with intervention = OR·p / (1 − p + OR·p)
    # for an odds ratio, RR·p for a risk ratio. OR 2, p 0.1: 0.2 / 1.1 = 0.1818 -> 182 per 1,000.
    ("OR", 2.0, 0.1, 182), ("OR", 0.75, 0.3, 243), ("RR", 0.5, 0.2, 100), ("OR", 1.0, 0.072, 72),
])
def test_absolute_risk_with_intervention(measure, ratio, risk, expected):
    effects = sof.absolute_effects(measure, ratio, ratio, ratio, risk)
    assert effects["intervention"].startswith(f"{expected:,} per 1,000")
    assert effects["control"] == f"{round(risk * 1000):,} per 1,000"


def test_no_absolute_effects_without_a_ratio_or_a_control_risk():
    assert sof.absolute_effects("SMD", 0.3, 0.1, 0.5, 0.2) is None
    assert sof.absolute_effects("OR", 1.2, 0.9, 1.6, None) is None
    assert sof.absolute_effects("OR", None, None, None, 0.1) is None


def test_difference_says_more_or_fewer_with_its_interval():
    effects = sof.absolute_effects("OR", 1.22, 0.90, 1.64, 10 / 138)
    # p = 10/138 = 0.07246 -> 72 per 1,000. OR 1.22: 0.08841 / 1.01594 = 0.08702 -> 87;
    # OR 0.90: 0.06522 / 0.99275 = 0.06569 -> 66; OR 1.64: 0.11884 / 1.04638 = 0.11357 -> 114.
    assert effects["intervention"] == "87 per 1,000 (66 to 114)"
    assert effects["difference"] == "15 more per 1,000 (6 fewer to 42 more)"


ROWS = [
    {"outcome": "Behaviour", "k": 3, "participants": 720, "measure": "OR", "estimate": 1.22,
     "ci_low": 0.90, "ci_high": 1.64, "control_risk": 0.072, "control_risk_source": "control arms",
     "certainty": "low", "reasons": [("risk of bias (serious)", "<b>attrition</b>"), "imprecision"],
     "comments": "May increase", "comment_notes": ["not comparable"]},
    {"outcome": "Intentions", "k": 0, "comments": "none yet"},
    {"outcome": "Norms", "k": None},
]


def test_gradepro_layout_footnotes_and_empty_rows():
    block = sof.summary_of_findings_html(ROWS, table_id="t", title="SoF", population="Adults")
    page = block.html_text
    for heading in ("Anticipated absolute effects", "Risk with control", "Risk with intervention",
                    "Relative effect (95% CI)", "Participants (studies)",
                    "Certainty of the evidence (GRADE)", "Comments"):
        assert heading in page
    assert "720 (3 studies)" in page and "OR 1.22 (0.90 to 1.64)" in page
    assert "\u2295\u2295\u25ef\u25ef" in page and "Low" in page
    # footnotes in reading order: the control risk (1), two reasons (2, 3), the comment note (4)
    assert page.index('id="t-note-1">control arms') < page.index('id="t-note-2">Risk of bias (serious): &lt;b&gt;')
    assert 'id="t-note-4">not comparable' in page and '<a href="#t-note-4">4</a>' in page
    assert "No studies yet" in page and "Not synthesised in this version" in page
    assert "<b>attrition" not in page  # escaped
    assert "Behaviour: OR 1.22" in repr(block) and "Intentions: no studies yet" in repr(block)
    assert 'data-label="Participants (studies)"' in page  # a phone reads each row as a card


def test_every_outcome_of_the_published_reviews_has_a_row():
    import pandas as pd

    from analysis.io.paths import data_dir

    published = pd.read_csv(data_dir() / "published_syntheses.csv", dtype=str, keep_default_na=False)
    for question, review in (("q1", "Bizzotto"), ("q2", "Ni")):
        rows = sof.rows_for_question(question)
        text = repr(sof.summary_of_findings_html(rows, table_id="x", title="t"))
        outcomes = published.loc[published["review"].str.startswith(review), "outcome"].unique()
        assert len(rows) >= 1
        covered = {r["outcome"].lower() for r in rows}
        for outcome in outcomes:
            linked = published[(published["outcome"] == outcome)]["synthesis_id"]
            from analysis.pooling.synthesis import ANALYSES

            has_analysis = any(spec.published_id in set(linked) for spec in ANALYSES)
            assert has_analysis or outcome.lower() in covered, f"{outcome} has no row"
        assert "Summary" not in text or text  # the text twin renders


def test_no_rows_is_an_error():
    with pytest.raises(ValueError, match="no rows"):
        sof.summary_of_findings_html([], table_id="t", title="t")
