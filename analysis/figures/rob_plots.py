"""Risk-of-bias figures as robvis draws them: the traffic-light plot (studies by domains) and
the summary bars (share of studies per judgement in each domain), with their alt text.

Domain names, their order and each tool's judgements come from :mod:`analysis.evidence.rob`.
"""
from __future__ import annotations

import math
import textwrap
from typing import Sequence

import pandas as pd
from matplotlib import ticker
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from analysis.evidence import rob  # rob imports nothing from figures: no import cycle
from analysis.figures.style import FIG_WIDTH, FONT_SIZE, OKABE_ITO, new_figure

# Risk-of-bias judgement -> (fill colour, symbol, legend text), after robvis
# (McGuinness LA, Higgins JPT. Res Synth Methods 2021;12:55-61) with Okabe-Ito colours.
ROB_STYLE: dict[str, tuple[str, str, str]] = {
    "low": (OKABE_ITO["bluish_green"], "+", "Low"),
    "some concerns": (OKABE_ITO["yellow"], "\u2212", "Some concerns"),
    "high": (OKABE_ITO["vermillion"], "\u00d7", "High"),
    "no information": ("#BBBBBB", "?", "No information"),
    "yes": (OKABE_ITO["bluish_green"], "+", "Yes (criterion met)"),
    # "Unclear" (JBI) is not "some concerns" (RoB 2): each judgement has its own colour.
    "unclear": (OKABE_ITO["sky_blue"], "?", "Unclear"),
    "no": (OKABE_ITO["vermillion"], "\u00d7", "No (criterion not met)"),
    "not applicable": ("#DDDDDD", "\u2013", "Not applicable"),
}
ROB_HATCH = {"low": "", "yes": "", "some concerns": "//", "unclear": "..", "high": "xx", "no": "xx",
             "no information": "", "not applicable": ""}


def _rob_frame(rob_df: pd.DataFrame) -> tuple[pd.DataFrame, list[str], list[str], str]:
    for column in ("study_id", "domain", "judgement"):
        if column not in rob_df.columns:
            raise ValueError(f"risk-of-bias frame lacks column {column!r}")
    tool = str(rob_df["tool"].iloc[0]) if "tool" in rob_df.columns and len(rob_df) else ""
    order = list(rob.TOOLS.get(tool, {}).keys()) or list(dict.fromkeys(rob_df["domain"]))
    domains = [d for d in order if d in set(rob_df["domain"])]
    studies = list(dict.fromkeys(rob_df["study_id"]))
    unknown = sorted(set(rob_df["judgement"]) - set(ROB_STYLE))
    if unknown:
        raise ValueError(f"risk-of-bias judgement(s) {unknown} have no plotting style "
                         f"(known: {sorted(ROB_STYLE)})")
    return rob_df, studies, domains, tool


def _legend_order(rob_df: pd.DataFrame, tool: str) -> list[tuple[str, bool]]:
    """(judgement, is_overall) in the tool's order: domain answers first, then overall ones."""
    domain_values = set(rob_df.loc[rob_df["domain"] != "Overall", "judgement"])
    overall_values = set(rob_df.loc[rob_df["domain"] == "Overall", "judgement"])
    vocabulary = rob.DOMAIN_JUDGEMENTS.get(tool, tuple(ROB_STYLE))
    order = [(j, False) for j in vocabulary if j in domain_values]
    order += [(j, False) for j in ROB_STYLE if j in domain_values and (j, False) not in order]
    shared = set(vocabulary) & set(rob.OVERALL_JUDGEMENTS)
    order += [(j, True) for j in rob.OVERALL_JUDGEMENTS if j in overall_values
              and not (j in shared and (j, False) in order)]
    return order


def _rob_legend_label(judgement: str, overall: bool, tool: str) -> str:
    colour, symbol, text = ROB_STYLE[judgement]
    vocabulary = rob.DOMAIN_JUDGEMENTS.get(tool, ())
    if overall and judgement not in vocabulary:
        text = f"{text} (overall)"
    return f"{symbol}  {text}"


def _rob_legend_handles(rob_df: pd.DataFrame, tool: str) -> list[Line2D]:
    handles = []
    for j, overall in _legend_order(rob_df, tool):
        colour = ROB_STYLE[j][0]
        handles.append(Line2D([], [], marker="o", markersize=11, markerfacecolor=colour,
                              markeredgecolor="#444444", linestyle="none",
                              label=_rob_legend_label(j, overall, tool)))
    return handles


def _tool_title(tool: str) -> str:
    return rob.TOOL_NAMES.get(tool, tool or "Risk of bias")


def _domain_key_text(domains: Sequence[str], tool: str) -> str:
    labels = rob.TOOLS.get(tool, {})
    return "\n".join(f"{d}: {labels.get(d, d)}" for d in domains if d != "Overall")


def rob_traffic_light(rob_df: pd.DataFrame, ax=None):
    """Traffic-light plot as robvis draws it: studies as rows, domains as columns, one circle per
    judgement with its colour and symbol (+ low/yes, − some concerns, × high/no, ? no
    information/unclear), the overall judgement in the last column, and a key to the domains.

    ``rob_df``: :func:`analysis.evidence.rob.load_risk_of_bias` (RoB 2 or the JBI cross-sectional
    checklist; the tool is named in the title).
    """
    rob_df, studies, domains, tool = _rob_frame(rob_df)
    judgement = {(s, d): j for s, d, j in zip(rob_df["study_id"], rob_df["domain"], rob_df["judgement"])}
    n_s, n_d = len(studies), len(domains)
    key = _domain_key_text(domains, tool)
    key_lines = key.count("\n") + 1
    height = 0.9 + 0.42 * n_s + 0.17 * key_lines + 0.25
    width = max(6.0, min(FIG_WIDTH, 2.4 + 0.62 * n_d + 2.3))
    fig, ax, own = new_figure(width, height, ax)
    for i, s in enumerate(studies):
        for j, d in enumerate(domains):
            value = judgement.get((s, d))
            if value is None:
                continue
            colour, symbol, _ = ROB_STYLE[value]
            ax.scatter([j], [i], s=420, color=colour, edgecolor="#444444", lw=0.6, zorder=3,
                       gid=f"rob_{value.replace(' ', '_')}")
            ax.text(j, i, symbol, ha="center", va="center", fontsize=12, fontweight="bold",
                    color="black", zorder=4)
    ax.set_xlim(-0.6, n_d - 0.4)
    ax.set_ylim(n_s - 0.5, -0.5)
    ax.set_xticks(range(n_d), domains, fontsize=FONT_SIZE)
    ax.xaxis.tick_top()
    ax.set_yticks(range(n_s), studies, fontsize=FONT_SIZE)
    ax.tick_params(length=0)
    for j in range(n_d + 1):
        ax.axvline(j - 0.5, color="#DDDDDD", lw=0.6, zorder=0)
    for i in range(n_s + 1):
        ax.axhline(i - 0.5, color="#DDDDDD", lw=0.6, zorder=0)
    if "Overall" in domains:
        ax.axvline(domains.index("Overall") - 0.5, color="#777777", lw=1.0, zorder=1)
    for side in ax.spines.values():
        side.set_visible(False)
    ax.set_title(_tool_title(tool), fontsize=FONT_SIZE + 1, pad=22, loc="left")
    ax.legend(handles=_rob_legend_handles(rob_df, tool), title="Judgement",
              fontsize=FONT_SIZE, title_fontsize=FONT_SIZE, loc="upper left",
              bbox_to_anchor=(1.02, 1.0), frameon=False, labelspacing=0.9)
    ax.annotate(key, (0, 0), (0, -8), xycoords="axes fraction", textcoords="offset points",
                ha="left", va="top", fontsize=FONT_SIZE, annotation_clip=False)
    if own:
        key_h = (0.17 * key_lines + 0.2) / height
        fig.subplots_adjust(left=1.4 / width, right=1 - 2.3 / width, top=1 - 0.7 / height,
                            bottom=key_h)
    return fig


def rob_traffic_light_alt_text(rob_df: pd.DataFrame, **_) -> str:
    rob_df, studies, domains, tool = _rob_frame(rob_df)
    parts = []
    for s in studies:
        rows = rob_df[rob_df["study_id"] == s]
        overall = rows.loc[rows["domain"] == "Overall", "judgement"]
        parts.append(f"{s}: overall {overall.iloc[0] if len(overall) else 'not given'}")
    return (f"Traffic-light plot of risk of bias ({tool}) for {len(studies)} studies across "
            f"{len([d for d in domains if d != 'Overall'])} domains. " + "; ".join(parts) + ".")


def rob_summary(rob_df: pd.DataFrame, ax=None):
    """Summary plot as robvis draws it: for each domain, a horizontal bar split by the share of
    studies with each judgement (unweighted), each segment with its colour, hatching and symbol."""
    rob_df, studies, domains, tool = _rob_frame(rob_df)
    labels = rob.TOOLS.get(tool, {})
    order = _legend_order(rob_df, tool)
    judgements_in_order = list(dict.fromkeys(j for j, _ in order))
    row_labels = ["\n".join(textwrap.wrap(f"{d}: {labels.get(d, d)}" if d != "Overall" else
                                          labels.get(d, d), 44)) for d in domains]
    legend_h = 0.26 * math.ceil(len(order) / 3) + 0.1
    height = 0.45 + 0.5 * len(domains) + 0.65 + legend_h
    fig, ax, own = new_figure(FIG_WIDTH, height, ax)
    for i, d in enumerate(domains):
        counts = rob_df.loc[rob_df["domain"] == d, "judgement"].value_counts()
        total = int(counts.sum())
        start = 0.0
        for j in judgements_in_order:
            share = 100.0 * counts.get(j, 0) / total if total else 0.0
            if share <= 0:
                continue
            colour, symbol, _ = ROB_STYLE[j]
            ax.barh(i, share, left=start, color=colour, edgecolor="#444444", lw=0.6,
                    hatch=ROB_HATCH.get(j, ""), height=0.68, gid=f"rob_bar_{j.replace(' ', '_')}")
            if share >= 8:
                ax.text(start + share / 2, i, symbol, ha="center", va="center", fontsize=11,
                        fontweight="bold", bbox=dict(boxstyle="circle,pad=0.15", fc="white",
                                                     ec="none", alpha=0.9))
            start += share
    ax.set_yticks(range(len(domains)), row_labels, fontsize=FONT_SIZE)
    ax.set_ylim(len(domains) - 0.5, -0.5)
    if "Overall" in domains:
        ax.axhline(domains.index("Overall") - 0.5, color="#777777", lw=1.0)
    ax.set_xlim(0, 100)
    ax.xaxis.set_major_formatter(ticker.PercentFormatter(100))
    ax.tick_params(labelsize=FONT_SIZE)
    ax.set_xlabel(f"Share of studies (n = {len(studies)})", fontsize=FONT_SIZE)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.set_title(_tool_title(tool), fontsize=FONT_SIZE + 1, loc="left")
    handles = [Patch(facecolor=ROB_STYLE[j][0], edgecolor="#444444", hatch=ROB_HATCH.get(j, ""),
                     label=_rob_legend_label(j, overall, tool)) for j, overall in order]
    if own:
        fig.legend(handles=handles, fontsize=FONT_SIZE, loc="lower center", ncol=3,
                   bbox_to_anchor=(0.5, 0.02), frameon=False)
        fig.subplots_adjust(left=0.38, right=0.97, top=1 - 0.45 / height,
                            bottom=(0.65 + legend_h) / height)
    else:
        ax.legend(handles=handles, fontsize=FONT_SIZE, loc="upper left",
                  bbox_to_anchor=(1.02, 1.0), frameon=False)
    return fig


def rob_summary_alt_text(rob_df: pd.DataFrame, **_) -> str:
    rob_df, studies, domains, tool = _rob_frame(rob_df)
    worst = []
    for d in domains:
        counts = rob_df.loc[rob_df["domain"] == d, "judgement"].value_counts()
        bad = int(counts.get("high", 0) + counts.get("no", 0))
        if bad:
            worst.append(f"{d} ({bad} of {len(studies)})")
    text = (f"Summary bar chart of risk of bias ({tool}) for {len(studies)} studies across "
            f"{len(domains)} domains including the overall judgement.")
    text += (" Judged high risk or criterion not met: " + ", ".join(worst) + ".") if worst else \
        " No domain was judged high risk."
    return text
