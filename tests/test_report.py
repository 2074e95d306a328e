"""Display helpers of the chapters: escaping, plain values, and the computed phrases of the prose."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis.views import blocks, figure_blocks, number_format, pooled_results, tables


def test_tables_escape_untrusted_text_in_cells_headers_and_captions():
    frame = pd.DataFrame({"<b>title</b>": ["<script>alert(1)</script>", 'a "quoted" & <i>x</i>']})
    for block in (tables.static_table(frame, table_id="t", caption="<img src=x onerror=alert(1)>"),
                  tables.searchable_table(frame, table_id="t2", filename="x.csv")):
        assert "<script>" not in block.html_text
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in block.html_text
        assert "<img src=x" not in block.html_text and "&lt;b&gt;title&lt;/b&gt;" in block.html_text
        assert "<script>alert(1)</script>" in repr(block)  # the text twin shows the title as it is


def test_figure_alt_text_is_escaped_into_its_attribute():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, _ = plt.subplots()
    block = figure_blocks.show_figure(figure, 'a "quoted" <alt>', caption="c <b>")
    assert 'aria-label="a &quot;quoted&quot; &lt;alt&gt;"' in block.html_text
    assert "<title>a &quot;quoted&quot; &lt;alt&gt;</title>" in block.html_text or \
        "<title>a \"quoted\" &lt;alt&gt;</title>" in block.html_text
    assert "c &lt;b&gt;" in block.html_text and "<b>" not in block.html_text


@pytest.mark.parametrize("value, expected", [
    (np.float64(0.25), 0.25), (np.int64(3), 3), (float("nan"), None), (None, None), (pd.NA, None), ("x", "x"),
])
def test_plain_values_for_glue(value, expected):
    result = number_format.plain(value)
    assert result == expected and type(result) is type(expected)


@pytest.mark.parametrize("i2, words", [
    # Cochrane Handbook v6.4, section 10.10.2: 0-40% might not be important, 30-60% moderate,
    # 50-90% substantial, 75-100% considerable; a value takes the highest band it reaches.
    (0.0, "might not be important"), (29.9, "might not be important"), (30.0, "moderate"),
    (49.9, "moderate"), (50.0, "substantial"), (74.9, "substantial"), (75.0, "considerable"),
    (91.7, "considerable"), (None, "not estimable"),
])
def test_heterogeneity_words_follow_the_cochrane_bands(i2, words):
    assert pooled_results.heterogeneity_phrase(i2) == words


def test_direction_says_whether_the_interval_excludes_no_effect():
    row = {"measure": "OR", "estimate": 1.22, "ci_low": 0.9, "ci_high": 1.64}
    assert pooled_results.direction_phrase(row, positive="more", negative="less", null=1.0) == (
        "points to more (OR = 1.22, 95% CI 0.90 to 1.64), but the interval includes no effect")
    row = {"measure": "r", "estimate": -0.3, "ci_low": -0.5, "ci_high": -0.1}
    assert pooled_results.direction_phrase(row, positive="more", negative="less", null=0.0) == (
        "points to less (r = −0.30, 95% CI −0.50 to −0.10), and the interval excludes no effect")
    assert pooled_results.direction_phrase({"estimate": None}, positive="a", negative="b", null=0) == "cannot be pooled"


def test_comparison_with_a_published_estimate():
    # no comparative word without a computed "comparable" verdict (analysis.findings.comparison)
    assert pooled_results.comparison_word(0.241, 0.089) == "not directly comparable"
    assert pooled_results.comparison_word(0.241, 0.089, "partly comparable", False) == "not directly comparable"
    assert pooled_results.comparison_word(0.241, 0.089, "comparable", False) == "larger"
    assert pooled_results.comparison_word(0.05, 0.089, "comparable", False) == "smaller"
    assert pooled_results.comparison_word(0.0891, 0.089, "comparable", True) == "in line with"
    assert pooled_results.comparison_word(None, 0.089) == "not comparable"


def test_effect_phrase_states_k_and_n_or_says_not_pooled():
    row = {"measure": "r", "estimate": 0.2414, "ci_low": -0.0287, "ci_high": 0.4787, "k": 4, "n": 8371}
    assert pooled_results.effect_phrase(row) == "r = 0.24 (95% CI −0.03 to 0.48; k = 4, N = 8,371)"
    assert pooled_results.effect_phrase({"estimate": None, "k": 1, "n": 346}) == "not pooled (k = 1, N = 346)"


def test_csv_download_carries_the_table():
    import base64

    frame = pd.DataFrame({"study": ["Gould 2002"], "chi2": ["3.8"]})
    block = tables.download_link(frame, "t.csv")
    payload = block.html_text.split("base64,", 1)[1].split('"', 1)[0]
    assert base64.b64decode(payload).decode() == "study,chi2\nGould 2002,3.8\n"


def test_figures_are_inline_svg_with_real_text_and_computed_numbers():
    import matplotlib
    matplotlib.use("Agg")
    import re

    import matplotlib.pyplot as plt

    from analysis.figures import figure_embed

    figure_embed.restart_numbering()
    blocks = []
    for title in ("first", "second"):
        figure, ax = plt.subplots()
        ax.set_title(title)
        blocks.append(figure_blocks.show_figure(figure, f"alt {title}", caption=title))
    first, second = (block.html_text for block in blocks)
    assert "<svg" in first and "<text" in first  # text stays text: sharp, searchable, measurable
    assert "Figure 1.</span> first" in first and "Figure 2.</span> second" in second
    assert repr(blocks[1]).startswith("Figure 2. second")
    ids_first = set(re.findall(r'id="([^"]+)"', first))
    ids_second = set(re.findall(r'id="([^"]+)"', second))
    assert ids_first and not ids_first & ids_second  # two figures on a page never share an id
    for reference in re.findall(r'(?:href="#|url\(#)([^")]+)', first):
        assert reference in ids_first  # every internal reference was renamed with its target


def test_analysis_numbers_follow_the_order_of_the_analyses():
    from analysis.figures import figure_embed
    from analysis.pooling import synthesis

    first_q1 = next(s for s in synthesis.ANALYSES if s.question == "q1")
    q2 = [s for s in synthesis.ANALYSES if s.question == "q2"]
    assert figure_embed.analysis_number("q1", first_q1.outcome) == "1.1"
    assert figure_embed.analysis_number("q2_interventions", q2[1].outcome) == "2.2"
    assert figure_embed.analysis_caption("q2", q2[0].outcome).startswith("Analysis 2.1. Question 2")
    with pytest.raises(KeyError):
        figure_embed.analysis_number("q2", "no_such_outcome")


def test_tables_show_reader_labels_not_column_ids():
    from analysis.views import reader_labels

    frame = pd.DataFrame({"study_id": ["Gould2002"], "yi": [0.1], "Already a label": ["x"]})
    block = tables.static_table(frame, table_id="t")
    assert ">Study ID<" in block.html_text and ">Effect size (analysis scale)<" in block.html_text
    assert ">study_id<" not in block.html_text and ">yi<" not in block.html_text
    assert ">Already a label<" in block.html_text
    assert 'data-label="Study ID"' in block.html_text  # phones read rows as label: value cards
    assert "n" in reader_labels.raw_column_ids() and "p" not in reader_labels.raw_column_ids()


def test_every_codebook_column_has_a_reader_label():
    import re
    from pathlib import Path

    from analysis.views import reader_labels

    codebook = (Path(__file__).resolve().parent.parent / "data" / "README.md").read_text(encoding="utf-8")
    columns = set(re.findall(r"^\| `([A-Za-z_0-9]+)`", codebook, flags=re.M))
    missing = sorted(columns - set(reader_labels.column_labels()))
    assert not missing, f"codebook columns without a reader label in column_labels.csv: {missing}"


def test_searchable_table_counts_its_rows():
    frame = pd.DataFrame({"record_id": ["R1", "R2", "R3"]})
    block = tables.searchable_table(frame, table_id="t", filename="t.csv")
    assert '<span class="review-row-count" aria-live="polite">3 rows</span>' in block.html_text
    assert "base64," in block.html_text  # the download keeps the full data


def test_screening_decisions_show_the_titles_they_are_about():
    from analysis.views import log_views
    from analysis.selection import screening

    view = log_views.screening_decisions_view("q1_webhelp")
    decisions = screening.read_screening("q1_webhelp")
    assert len(view) == len(decisions)
    assert list(view.columns[:4]) == ["record_id", "title", "first_author", "year"]
    assert (view["title"].str.len() > 0).mean() > 0.9
    assert list(view["record_id"]) == list(decisions["record_id"])


def test_booleans_read_as_words():
    frame = pd.DataFrame({"pooled": [True, False]})
    block = tables.static_table(frame, table_id="t")
    assert ">yes<" in block.html_text and ">no<" in block.html_text and "True" not in block.html_text


def test_wide_tables_become_cards_and_narrow_ones_stay_tables():
    narrow = pd.DataFrame({"study_id": ["Gould2002"], "n": [519]})
    wide = pd.DataFrame({f"column {i}": ["a fairly long value here"] for i in range(12)})
    assert tables.fits_as_table(narrow) and not tables.fits_as_table(wide)
    assert "review-table-stacked" not in tables.static_table(narrow, table_id="a").html_text
    assert "review-table-stacked" in tables.static_table(wide, table_id="b").html_text


def test_duplicate_labels_are_numbered_not_shown_as_ids():
    from analysis.views import reader_labels

    frame = pd.DataFrame({"outcome": ["a"], "outcome_label": ["b"]})
    assert list(reader_labels.reader_columns(frame).columns) == ["Outcome", "Outcome (2)"]


def test_certainty_sentence_is_marked_with_its_question():
    block = blocks.certainty_sentence("q2_interventions", "We are uncertain whether <x>; very low certainty.")
    assert 'data-question="q2"' in block.html_text and "&lt;x&gt;" in block.html_text
    assert repr(block) == "We are uncertain whether <x>; very low certainty."
