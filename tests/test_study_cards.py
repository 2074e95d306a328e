"""Characteristics of included studies: one escaped card per included study, with its source."""
from __future__ import annotations

from analysis.evidence import extraction
from analysis.views import study_cards


def test_one_card_per_included_study_with_every_heading():
    for question in ("q1_webhelp", "q2_interventions"):
        studies = extraction.load(question, "studies")
        block = study_cards.characteristics_of_included_studies(question)
        page = block.html_text
        assert page.count('<section class="review-card"') == len(studies)
        for heading in ("Methods", "Participants", "Outcomes", "Notes", "Source", "Excerpt"):
            assert f"<dt>{heading}" in page
        assert ("<dt>Intervention</dt>" in page) == (question == "q2_interventions")
        for label in studies["label"]:
            assert f"<h4>{label}</h4>" in page


def test_cards_speak_words_not_ids():
    page = study_cards.characteristics_of_included_studies("q2_interventions").html_text
    text = repr(study_cards.characteristics_of_included_studies("q1_webhelp"))
    assert "depression_webhelp" not in text and "chi2" not in text.split("Notes:")[0]
    assert "Help-seeking behaviour" in page


def test_hostile_text_is_escaped(data_copy):
    import pandas as pd

    path = data_copy / "q2_interventions" / "studies.csv"
    studies = pd.read_csv(path, dtype=str, keep_default_na=False)
    studies.loc[0, "population"] = "<script>alert(1)</script>"
    studies.to_csv(path, index=False)
    page = study_cards.characteristics_of_included_studies("q2_interventions", data_dir=data_copy).html_text
    assert "<script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
