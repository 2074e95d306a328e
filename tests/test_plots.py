"""Figures: the expected artists are drawn, the numbers printed on them are the analysis's,
text does not overlap, and the alt text carries k and the pooled estimate.

Reference analysis: the BCG vaccine trials (Colditz et al. 1994, JAMA 271:698-702), as shipped
with metafor (``dat.bcg``, log risk ratios) and fitted by metafor 3.8.1 in
``tests/reference/models_metafor.json`` (``rma(yi, vi, method="REML")``: RR 0.49, 95% CI 0.34 to
0.70, tau² = 0.3132, I² = 92.22%, Q(df = 12) = 152.23; Viechtbauer 2010, J Stat Softw 36(3),
section 4). Every PNG is written to tests/_artifacts/ for inspection.
"""
from __future__ import annotations

import io
import json
import math
from itertools import combinations
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
import pytest
from scipy import stats

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.patches import Polygon, Rectangle  # noqa: E402
from matplotlib.text import Text  # noqa: E402

from analysis import review
from analysis.engine.cumulative import cumulative_meta_analysis
from analysis.engine.gosh import gosh
from analysis.engine.influence import baujat, leave_one_out
from analysis.engine.meta_analysis import meta_analysis
from analysis.engine.subgroups import subgroup_analysis
from analysis.figures import (comparison_plots, forest_plots, funnel_plots, rob_plots,
                              sensitivity_plots, style)
from analysis.figures.alt_text import alt_text
from analysis.evidence import rob  # noqa: E402
from analysis.io.paths import data_dir  # noqa: E402

REFERENCE = json.loads((Path(__file__).parent / "reference" / "models_metafor.json").read_text())
ARTIFACTS = Path(__file__).parent / "_artifacts"
BCG = REFERENCE["datasets"]["bcg_rr"]
BCG_REML = REFERENCE["fits"]["bcg_rr|REML|z"]
BCG_LABELS = [f"Trial {i + 1}" for i in range(len(BCG["yi"]))]
# publication years of the 13 trials in dat.bcg (metafor documentation, column "year")
BCG_YEARS = [1948, 1949, 1960, 1977, 1973, 1953, 1973, 1980, 1968, 1961, 1974, 1969, 1976]


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def save(fig: Figure, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    fig.savefig(ARTIFACTS / f"{name}.png", dpi=100)


def artists(fig: Figure, gid: str) -> list:
    return [a for ax in fig.axes for a in ax.get_children() if a.get_gid() == gid]


def text_of(fig: Figure) -> list[str]:
    return [t.get_text() for ax in fig.axes for t in ax.texts] + \
        [t.get_text() for t in fig.texts]


def overlapping_texts(fig: Figure) -> list[tuple[str, str]]:
    """Pairs of non-empty text artists whose rendered boxes intersect."""
    renderer = fig.canvas.get_renderer()  # text boxes are laid out without a full draw
    # Text.get_window_extent: the text's own box (an annotation's leader line is not text)
    boxes = [(t.get_text(), Text.get_window_extent(t, renderer)) for ax in fig.axes for t in ax.texts
             if t.get_text().strip()]
    clashes = []
    for (a, box_a), (b, box_b) in combinations(boxes, 2):
        shrunk = box_a.shrunk(0.98, 0.9)  # touching edges are not overlaps
        if shrunk.overlaps(box_b.shrunk(0.98, 0.9)):
            clashes.append((a, b))
    return clashes


@pytest.fixture(scope="module")
def bcg_forest(bcg_fit):
    return forest_plots.forest_plot(bcg_fit, years=BCG_YEARS, scale="exp", measure_label="Risk ratio",
                             favours=("Favours vaccine", "Favours control"))


@pytest.fixture(scope="module")
def bcg_fit():
    return meta_analysis(BCG["yi"], BCG["vi"], method="REML", labels=BCG_LABELS)


def test_the_fit_is_metafors(bcg_fit):
    assert bcg_fit.tau2 == pytest.approx(BCG_REML["tau2"], abs=1e-8)
    assert bcg_fit.estimate == pytest.approx(BCG_REML["estimate"], abs=1e-8)


# --------------------------------------------------------------------------- forest plot
def test_forest_plot_draws_revman_elements(bcg_forest):
    fig = bcg_forest
    save(fig, "forest_bcg")
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    assert ax.get_xscale() == "log"
    assert len(artists(fig, "study_ci")) + 0 == 13  # every interval lies inside the limits
    assert len(artists(fig, "study_marker")) == 13
    diamonds = artists(fig, "pooled_diamond")
    assert len(diamonds) == 1 and isinstance(diamonds[0], Polygon)
    xs = diamonds[0].get_xy()[:, 0]
    assert min(xs) == pytest.approx(math.exp(BCG_REML["ci_low"]), abs=1e-10)
    assert max(xs) == pytest.approx(math.exp(BCG_REML["ci_high"]), abs=1e-10)
    pi = artists(fig, "prediction_interval")
    assert len(pi) == 1 and isinstance(pi[0], Rectangle)
    lo, hi = ax.get_xlim()
    # the prediction interval drawn is t(k - 2) (Higgins et al. 2009), not metafor's t(k - 1)
    half = stats.t.isf(0.025, 13 - 2) * math.sqrt(BCG_REML["se"] ** 2 + BCG_REML["tau2"])
    assert pi[0].get_x() == pytest.approx(max(lo, math.exp(BCG_REML["estimate"] - half)), rel=1e-12)
    # tick labels in risk-ratio units, with the null
    assert "1" in [t.get_text() for t in ax.get_xticklabels()]
    texts = text_of(fig)
    # heterogeneity line and test for the overall effect carry metafor's numbers
    assert ("Heterogeneity: \u03c4\u00b2 = 0.313; I\u00b2 = 92%; Q = 152.23 (df = 12), p < .001"
            in texts)
    assert f"Test for overall effect: z = \u2212{abs(BCG_REML['statistic']):.2f} (p < .001)" in texts
    assert "0.49 [0.34, 0.70]" in texts  # metafor: predict(res, transf=exp) 0.4894 [0.3441, 0.6962]
    assert "Favours vaccine" in texts and "1948" in texts and "Total (k = 13)" in texts
    assert overlapping_texts(fig) == []


def test_forest_plot_weights_are_the_models(bcg_forest):
    texts = text_of(bcg_forest)
    for w in BCG_REML["weights"]:
        assert f"{w:.1f}%" in texts


def test_arrows_where_intervals_run_off_the_axis(bcg_fit):
    xlim = (0.2, 2.0)
    fig = forest_plots.forest_plot(bcg_fit, scale="exp", xlim=xlim)
    save(fig, "forest_bcg_arrows")
    se = np.sqrt(BCG["vi"])
    low = np.exp(np.asarray(BCG["yi"]) - 1.959963984540054 * se)
    high = np.exp(np.asarray(BCG["yi"]) + 1.959963984540054 * se)
    expected = int((low < xlim[0]).sum() + (high > xlim[1]).sum())
    expected += int(math.exp(BCG_REML["pi_low"]) < xlim[0]) + int(math.exp(BCG_REML["pi_high"]) > xlim[1])
    arrows = artists(fig, "ci_arrow")
    assert expected > 0 and len(arrows) == expected
    assert fig.axes[0].get_xlim() == pytest.approx(xlim)


def test_single_study_is_not_pooled():
    study = forest_plots.unpooled([math.log(2.36)], [((math.log(4.09) - math.log(1.36)) / 3.92) ** 2],
                           ["Younes 2015"])
    fig = forest_plots.forest_plot(study, years=[2015], scale="exp")
    save(fig, "forest_single")
    assert artists(fig, "pooled_diamond") == [] and artists(fig, "prediction_interval") == []
    assert "Not pooled (k = 1)" in text_of(fig)
    # the printed OR and CI (Younes et al. 2015: OR 2.36, 95% CI 1.36-4.09) come back
    assert "2.36 [1.36, 4.09]" in text_of(fig)
    alt = alt_text(forest_plots.forest_plot, study, scale="exp")
    assert "1 study" in alt and "2.36" in alt and "Not pooled" in alt


def test_fifty_studies_stay_readable():
    # deterministic synthetic studies: effects on a grid, variances cycling
    k = 50
    yi = np.linspace(-0.4, 0.8, k)
    vi = 0.02 + 0.01 * (np.arange(k) % 7)
    fit = meta_analysis(yi, vi, method="REML", labels=[f"Author {i + 1} et al." for i in range(k)])
    small = meta_analysis(yi[:10], vi[:10], method="REML")
    fig = forest_plots.forest_plot(fit, years=list(range(1975, 2025)), measure_label="SMD",
                            favours=("Favours control", "Favours intervention"))
    save(fig, "forest_k50")
    assert fig.get_figheight() > forest_plots.forest_plot(small, measure_label="SMD").get_figheight() + 8
    assert len(artists(fig, "study_marker")) == 50
    assert overlapping_texts(fig) == []
    # the width does not grow with k: more studies make the plot taller, never wider
    ten = forest_plots.forest_plot(small, years=list(range(1975, 1985)), measure_label="SMD")
    assert fig.get_figwidth() == pytest.approx(ten.get_figwidth())


def test_subgroups_have_their_own_diamonds_and_a_test_for_differences():
    ref = REFERENCE["subgroups"]["bcg_alloc|REML"]
    sub = subgroup_analysis(BCG["yi"], BCG["vi"], ref["groups"], method="REML", labels=BCG_LABELS)
    overall = meta_analysis(BCG["yi"], BCG["vi"], method="REML", labels=BCG_LABELS)
    fig = forest_plots.forest_plot(overall, subgroup=sub, scale="exp", measure_label="Risk ratio")
    save(fig, "forest_subgroups")
    assert len(artists(fig, "subgroup_diamond")) == 3
    assert len(artists(fig, "pooled_diamond")) == 1
    texts = text_of(fig)
    for name in ("Random", "Alternate", "Systematic"):
        assert name in texts
    # metafor: Q between = 1.8614, df = 2, p = 0.3943
    assert "Test for subgroup differences: Q = 1.86 (df = 2), p = .394" in texts
    assert overlapping_texts(fig) == []
    alt = alt_text(forest_plots.forest_plot, overall, subgroup=sub, scale="exp", measure_label="Risk ratio")
    assert "3 subgroups" in alt and "p = .394" in alt


def test_correlations_are_shown_as_r():
    data = REFERENCE["datasets"]["molloy2014_zcor"]
    fit_ref = REFERENCE["fits"]["molloy2014_zcor|REML|z"]
    fit = meta_analysis(data["yi"], data["vi"], method="REML")
    fig = forest_plots.forest_plot(fit, scale="r", measure_label="Correlation", favours=None)
    save(fig, "forest_r")
    assert fig.axes[0].get_xscale() == "linear"
    r = math.tanh(fit_ref["estimate"])
    lo, hi = math.tanh(fit_ref["ci_low"]), math.tanh(fit_ref["ci_high"])
    assert f"{r:.2f} [{lo:.2f}, {hi:.2f}]" in text_of(fig)
    assert -1 < fig.axes[0].get_xlim()[0] and fig.axes[0].get_xlim()[1] < 1


def test_forest_alt_text_mentions_k_and_the_pooled_estimate(bcg_fit):
    alt = alt_text(forest_plots.forest_plot, bcg_fit, scale="exp", measure_label="Risk ratio")
    assert "13 studies" in alt
    assert "Pooled risk ratio 0.49 (95% CI 0.34 to 0.70" in alt
    assert "I\u00b2 = 92%" in alt


def test_forest_plot_draws_into_a_given_axes(bcg_fit):
    outer = plt.figure(figsize=(9, 6))
    ax = outer.add_axes([0.33, 0.3, 0.33, 0.65])
    assert forest_plots.forest_plot(bcg_fit, scale="exp", ax=ax) is outer
    plt.close(outer)


# --------------------------------------------------------------------------- other figures
def test_funnel_plot_has_contours_and_every_study(bcg_fit):
    fig = funnel_plots.funnel_plot(BCG["yi"], BCG["vi"], bcg_fit.estimate, measure_label="Log risk ratio")
    save(fig, "funnel")
    ax = fig.axes[0]
    assert len(artists(fig, "p_contour")) == 6  # three p bands, both sides
    points = artists(fig, "funnel_points")[0]
    assert len(points.get_offsets()) == 13
    assert ax.get_ylim()[0] > ax.get_ylim()[1]  # standard error grows downwards
    se = np.sqrt(BCG["vi"])
    significant = int((np.abs(BCG["yi"]) / se > 1.959963984540054).sum())
    alt = alt_text(funnel_plots.funnel_plot, BCG["yi"], BCG["vi"], bcg_fit.estimate)
    assert f"{significant} of 13 studies" in alt and "13 studies" in alt
    no_contours = funnel_plots.funnel_plot(BCG["yi"], BCG["vi"], bcg_fit.estimate, contours=False)
    assert artists(no_contours, "p_contour") == []


def test_cumulative_forest_plot_by_year():
    cum = cumulative_meta_analysis(BCG["yi"], BCG["vi"], order=BCG_YEARS, labels=BCG_LABELS)
    fig = sensitivity_plots.cumulative_forest_plot(cum, scale="exp", measure="Risk ratio")
    save(fig, "cumulative")
    assert fig.axes[0].get_xscale() == "log"
    assert len(artists(fig, "cumulative_point")) == 13
    rows = [t for t in text_of(fig) if t.startswith("+ ")]
    assert rows[0] == "+ Trial 1 (1948)" and rows[-1] == "+ Trial 8 (1980)"  # oldest first
    assert overlapping_texts(fig) == []
    alt = alt_text(sensitivity_plots.cumulative_forest_plot, cum, scale="exp", measure="Risk ratio")
    # the last step pools all 13 trials: metafor's REML estimate
    assert f"to {math.exp(BCG_REML['estimate']):.2f}" in alt


def test_cumulative_plot_reads_the_synthesis_frame():
    frame = pd.DataFrame({"added": ["A", "B"], "year": [2006, 2013], "k": [1, 2], "measure": ["OR", "OR"],
                          "estimate": [1.5, 1.3], "ci_low": [0.8, 0.9], "ci_high": [2.9, 1.9]})
    fig = sensitivity_plots.cumulative_forest_plot(frame)
    assert fig.axes[0].get_xscale() == "log"
    assert "+ A (2006)" in text_of(fig) and "1.30 [0.90, 1.90]" in text_of(fig)


def test_leave_one_out_plot(bcg_fit):
    loo = leave_one_out(BCG["yi"], BCG["vi"], labels=BCG_LABELS)
    fig = sensitivity_plots.leave_one_out_plot(loo, scale="exp", measure="Risk ratio", full_estimate=bcg_fit.estimate)
    save(fig, "leave_one_out")
    assert len(artists(fig, "loo_point")) == 13
    reference = artists(fig, "reference_line")
    assert len(reference) == 1
    assert reference[0].get_xdata()[0] == pytest.approx(math.exp(BCG_REML["estimate"]), abs=1e-10)
    assert overlapping_texts(fig) == []
    alt = alt_text(sensitivity_plots.leave_one_out_plot, loo, scale="exp", measure="Risk ratio",
                         full_estimate=bcg_fit.estimate)
    assert "13 analyses" in alt and "With all studies: 0.49" in alt


def test_baujat_plot_labels_every_study():
    data = baujat(BCG["yi"], BCG["vi"], labels=BCG_LABELS)
    fig = sensitivity_plots.baujat_plot(data)
    save(fig, "baujat")
    assert len(artists(fig, "baujat_points")[0].get_offsets()) == 13
    assert sorted(t for t in text_of(fig) if t.startswith("Trial")) == sorted(BCG_LABELS)
    assert overlapping_texts(fig) == []  # close points get their labels moved apart
    top = data["study"].iloc[int(data["x"].to_numpy().argmax())]
    assert f"{top} contributes most to heterogeneity" in alt_text(sensitivity_plots.baujat_plot, data)


def test_gosh_plot_is_deterministic():
    result = gosh(BCG["yi"][:8], BCG["vi"][:8], method="FE")
    pngs = []
    for _ in range(2):
        fig = sensitivity_plots.gosh_plot(result, measure_label="Log risk ratio")
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=100)
        pngs.append(buffer.getvalue())
    save(fig, "gosh")
    assert pngs[0] == pngs[1]
    assert len(artists(fig, "gosh_points")[0].get_offsets()) == 2 ** 8 - 1
    assert len(fig.axes[0].child_axes) == 2  # marginal histograms of estimate and I²
    assert "255 subsets" in alt_text(sensitivity_plots.gosh_plot, result)


def _comparison_table() -> pd.DataFrame:
    published = pd.read_csv(data_dir() / "published_syntheses.csv", dtype=str).set_index("synthesis_id")
    ni, bizzotto = published.loc["ni2025_behaviour"], published.loc["bizzotto2023_osg"]
    # "this review" rows are illustrative numbers for the drawing only
    return pd.DataFrame([
        dict(outcome_label="Depressive symptoms and web-based help seeking", measure="r", k=4,
             estimate=0.2, ci_low=-0.03, ci_high=0.45, published_review=bizzotto["review"],
             published_measure="r", published_estimate=float(bizzotto["estimate"]),
             published_ci_low=None, published_ci_high=None, published_p=bizzotto["p_reported"]),
        dict(outcome_label="Help-seeking behaviour", measure="OR", k=3, estimate=1.2, ci_low=0.9,
             ci_high=1.6, published_review=ni["review"], published_measure="OR",
             published_estimate=float(ni["estimate"]), published_ci_low=float(ni["ci_low"]),
             published_ci_high=float(ni["ci_high"]), published_p=ni["p_reported"]),
        dict(outcome_label="Help-seeking stigma", measure="SMD", k=None, estimate=None, ci_low=None,
             ci_high=None, published_review=None, published_measure=None, published_estimate=None,
             published_ci_low=None, published_ci_high=None, published_p=None),
    ]).astype(object)


def test_estimates_comparison_plot():
    table = _comparison_table()
    fig = comparison_plots.estimates_comparison_plot(table)
    save(fig, "comparison")
    assert len(fig.axes) == 2  # outcomes with nothing to draw are left out
    assert fig.axes[1].get_xscale() == "log" and fig.axes[0].get_xscale() == "linear"
    assert len(artists(fig, "this_review_point")) == 2 and len(artists(fig, "published_point")) == 2
    texts = text_of(fig)
    assert "1.67 [1.05, 2.94]" in texts  # Ni et al. 2025 abstract: OR = 1.67, 95% CI 1.05-2.94
    assert "0.089 (no CI printed; p = .009)" in texts  # Bizzotto et al. 2023: r = 0.089; P = .009
    assert "Ni et al. 2025" in texts and "Bizzotto et al. 2023" in texts
    alt = alt_text(comparison_plots.estimates_comparison_plot, table)
    assert "Ni et al. 2025: OR 1.67 (95% CI 1.05 to 2.94)" in alt
    with pytest.raises(ValueError, match="pass ax=None"):
        comparison_plots.estimates_comparison_plot(table, ax=plt.figure().add_subplot())


# --------------------------------------------------------------------------- risk of bias
@pytest.mark.parametrize("question", ["q2_interventions", "q1_webhelp"])
def test_traffic_light_has_one_symbol_per_judgement(question):
    table = rob.load_risk_of_bias(question)
    # one cell per judgement of every study (the counts follow the data as the review grows)
    n_studies, n_cells = table["study_id"].nunique(), len(table)
    assert n_studies >= 3
    fig = rob_plots.rob_traffic_light(table)
    save(fig, f"rob_traffic_light_{question}")
    circles = [a for a in fig.axes[0].collections if (a.get_gid() or "").startswith("rob_")]
    assert len(circles) == n_cells
    symbols = [t for t in text_of(fig) if t in {"+", "\u2212", "\u00d7", "?", "\u2013"}]
    assert len(symbols) == n_cells  # colour is never the only cue
    for study in table["study_id"].unique():
        assert study in [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert rob.TOOL_NAMES[table["tool"].iloc[0]] == fig.axes[0].get_title(loc="left")
    alt = alt_text(rob_plots.rob_traffic_light, table)
    assert f"for {n_studies} studies" in alt


def test_traffic_light_colours_are_okabe_ito():
    table = rob.load_risk_of_bias("q2_interventions")
    fig = rob_plots.rob_traffic_light(table)
    high = [a for a in fig.axes[0].collections if a.get_gid() == "rob_high"]
    assert len(high) == 2  # Shafran2019 D3 and overall
    assert matplotlib.colors.to_hex(high[0].get_facecolor()[0]).upper() == style.OKABE_ITO["vermillion"]


@pytest.mark.parametrize("question", ["q2_interventions", "q1_webhelp"])
def test_rob_summary_bars_add_up(question):
    table = rob.load_risk_of_bias(question)
    fig = rob_plots.rob_summary(table)
    save(fig, f"rob_summary_{question}")
    ax = fig.axes[0]
    bars = [p for p in ax.patches if (p.get_gid() or "").startswith("rob_bar_")]
    domains = table["domain"].unique()
    for i, _ in enumerate(domains):
        width = sum(p.get_width() for p in bars if abs(p.get_y() + p.get_height() / 2 - i) < 1e-9)
        assert width == pytest.approx(100.0)
    assert any(p.get_hatch() for p in bars)  # patterns as well as colours
    assert "studies" in alt_text(rob_plots.rob_summary, table)


def test_alt_text_dispatch_rejects_unknown_plots():
    with pytest.raises(ValueError, match="no alt text"):
        alt_text(print)


def test_unknown_scale_is_refused(bcg_fit):
    with pytest.raises(ValueError, match="scale 'log'"):
        forest_plots.forest_plot(bcg_fit, scale="log")


def test_diamond_is_cut_at_the_axis_with_an_arrow(bcg_fit):
    fig = forest_plots.forest_plot(bcg_fit, scale="exp", xlim=(0.4, 3.0))
    diamond = artists(fig, "pooled_diamond")[0]
    xs = diamond.get_xy()[:, 0]
    assert min(xs) == pytest.approx(0.4) and max(xs) == pytest.approx(math.exp(BCG_REML["ci_high"]))
    row = (diamond.get_xy()[:, 1].max() + diamond.get_xy()[:, 1].min()) / 2
    on_diamond_row = [a for a in artists(fig, "ci_arrow") if a.get_ydata()[0] == row]
    assert len(on_diamond_row) == 1


def test_no_studies_is_a_clear_error():
    empty = forest_plots.unpooled([], [], [])
    with pytest.raises(ValueError, match="no studies to draw"):
        forest_plots.forest_plot(empty)
    with pytest.raises(ValueError, match="no studies to draw"):
        alt_text(forest_plots.forest_plot, empty)


def test_every_chapter_figure_reads_at_10_px_in_the_text_column(monkeypatch):
    """The book draws each figure at the width of its text column (style.DISPLAY_COLUMN_PX at a
    1280 px window); its smallest text must then be 10 px or more. The browser test measures the
    same on the built pages."""
    from analysis.figures import figure_embed
    from analysis.selection import prisma
    from analysis.views import figure_blocks
    from analysis.evidence import rob
    from analysis.pooling import synthesis

    drawn = []
    original = figure_blocks.show_figure

    def measure(fig, alt, caption=None, **kwargs):
        drawn.append((alt[:50], figure_embed.smallest_text_px(fig, style.DISPLAY_COLUMN_PX)))
        return original(fig, alt, caption, **kwargs)

    monkeypatch.setattr(figure_blocks, "show_figure", measure)
    for question in ("q1_webhelp", "q2_interventions"):
        figure_blocks.prisma_figure(question)
        figure_blocks.figure(rob_plots.rob_traffic_light, rob.load_risk_of_bias(question))
        figure_blocks.figure(rob_plots.rob_summary, rob.load_risk_of_bias(question))
    for short, outcome in (("q1", "depression_webhelp"), ("q2", "behaviour")):
        figure_blocks.forest_figure(short, outcome, by_subgroup=True)
        figure_blocks.leave_one_out_figure(short, outcome)
        figure_blocks.cumulative_figure(short, outcome)
        figure_blocks.funnel_figure(short, outcome)
        comparison = review.current().comparison.copy()
        figure_blocks.figure(comparison_plots.estimates_comparison_plot, comparison[comparison["question"] == short])
    assert len(drawn) >= 12
    small = [(alt, round(px, 2)) for alt, px in drawn if px < 10]
    assert not small, f"figures whose text shows below 10 px: {small}"
    del prisma


def test_forest_plot_prints_arm_counts_and_wraps_long_subgroups():
    from matplotlib.text import Text

    fit = meta_analysis(np.array([0.1, 0.3]), np.array([0.04, 0.05]), method="REML",
                               labels=["Alpha 2001", "Beta 2005"])
    sub = subgroup_analysis(np.array([0.1, 0.3]), np.array([0.04, 0.05]),
                                   np.array(["information support/psychoeducation/public service announcements", "b"]),
                                   method="REML", labels=["Alpha 2001", "Beta 2005"])
    fig = forest_plots.forest_plot(fit, years=[2001, 2005], subgroup=sub, scale="exp",
                            columns={"Intervention\nevents/total": ["9/111", "18/168"],
                                     "Control\nevents/total": ["10/138", "–"]})
    texts = [t.get_text() for t in fig.findobj(Text)]
    assert "9/111" in texts and "18/168" in texts and "Intervention\nevents/total" in texts
    assert "Year" not in texts  # "Alpha 2001" already says the year
    assert not any("\u2026" in t for t in texts)  # nothing truncated
    joined = " ".join(t for t in texts if t)
    assert "support/psychoeducation/public" in joined.replace("\n", " ")
    with pytest.raises(ValueError, match="column"):
        forest_plots.forest_plot(fit, columns={"N": ["1"]})


def test_funnel_labels_never_overlap_and_no_point_sits_on_the_frame():
    # two pairs of studies at almost the same place, as Younes 2015 and Gunn 2016 are in the data
    yi = np.array([0.086, 0.235, 0.172, 0.476, 0.17, 0.24])
    vi = np.array([0.044, 0.0753, 0.0751, 0.0311, 0.0752, 0.0749]) ** 2
    labels = ["Gould 2002", "Younes 2015", "Gunn 2016", "Sorkin 2021", "Extra 2020", "Other 2019"]
    fig = funnel_plots.funnel_plot(yi, vi, 0.25, measure_label="Fisher's z", labels=labels)
    ax = fig.axes[0]
    assert overlapping_texts(fig) == []
    shown = [t.get_text() for t in ax.texts]
    assert sorted(shown) == sorted(labels)
    (x0, x1), (y_bottom, y_top) = ax.get_xlim(), ax.get_ylim()
    se = np.sqrt(vi)
    assert np.all((yi > x0) & (yi < x1))
    assert np.all((se > y_top) & (se < y_bottom))
    # every label box lies inside the plotting area
    renderer = fig.canvas.get_renderer()
    frame = ax.get_window_extent(renderer)
    for text in ax.texts:
        box = Text.get_window_extent(text, renderer)
        assert frame.x0 <= box.x0 and box.x1 <= frame.x1 and frame.y0 <= box.y0 and box.y1 <= frame.y1


def test_unclear_and_some_concerns_have_different_colours():
    assert rob_plots.ROB_STYLE["unclear"][0] != rob_plots.ROB_STYLE["some concerns"][0]
    colours = [style[0] for key, style in rob_plots.ROB_STYLE.items() if key not in ("yes", "no")]
    assert len(set(colours)) == len(colours)  # one colour per judgement (yes/no share low/high's)


def test_row_plots_have_axis_titles_and_study_labels():
    cumulative = pd.DataFrame({"added": ["Gould2002", "Younes2015"], "label": ["Gould 2002", "Younes 2015"],
                               "year": [2002, 2015], "k": [1, 2], "measure": ["r", "r"],
                               "estimate": [0.09, 0.15], "ci_low": [0.0, 0.01], "ci_high": [0.17, 0.3]})
    fig = sensitivity_plots.cumulative_forest_plot(cumulative, axis_title="Pooled correlation r (95% CI)")
    texts = [t.get_text() for t in fig.findobj(Text)]
    assert "+ Gould 2002" in texts and not any("Gould2002" in t for t in texts)
    assert fig.axes[0].get_xlabel() == "Pooled correlation r (95% CI)"
    loo = pd.DataFrame({"study": ["Gould 2002", "Younes 2015"], "estimate": [0.2, 0.1],
                        "ci_low": [0.0, -0.1], "ci_high": [0.4, 0.3]})
    fig = sensitivity_plots.leave_one_out_plot(loo, scale="r", measure="Correlation r")
    assert fig.axes[0].get_xlabel() == "Correlation r (95% CI)"
