"""Sequential monitoring of the pooled outcomes across releases (trial sequential analysis).

A living review tests its pooled estimates again at every release; read naively, the chance of a
false "the interval excludes no effect" grows with every look. This module is a secondary,
labelled layer that shows how far the accumulated evidence is from a firm answer, never a
conclusion of its own (Wetterslev et al. 2008, J Clin Epidemiol 61:64; Wetterslev, Jakobsen &
Gluud 2017, BMC Med Res Methodol 17:39):

* the **cumulative z-statistic** at each release: the DerSimonian-Laird random-effects estimate
  over its standard error (normal test), as trial sequential analysis uses it;
* the **required information size**, heterogeneity-adjusted: ``((z_{1-a/2} + z_{1-b}) / delta)^2``
  in units of statistical information (inverse variance on the analysis scale), divided by
  ``1 - D^2``, where the diversity ``D^2 = 1 - V_F / V_R`` compares the variances of the fixed-
  and random-effects pooled estimates (Wetterslev, Thorlund, Brok & Gluud 2009, BMC Med Res
  Methodol 9:86). ``delta`` is the anticipated effect named in ``data/monitoring_plan.csv``;
* the **information fraction** of each release: its fixed-effect information ``1 / V_F`` over
  the required information size (capped at 1: the look that reaches it is the final one);
* **boundaries**: two-sided symmetric Lan-DeMets O'Brien-Fleming-type alpha spending (Lan &
  DeMets 1983, Biometrika 70:659), alpha spent by information fraction ``t`` equal to
  ``4 (1 - Phi(z_{1-a/4} / sqrt(t)))``, with critical values found by recursive numerical
  integration of the joint distribution of the cumulative statistics (Jennison & Turnbull
  2000, Group Sequential Methods, ch. 19). They agree with R's rpact
  (``getDesignGroupSequential(typeOfDesign = "asOF", sided = 2)``) to 1e-6
  (``tests/reference/monitoring_rpact.json``).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import optimize, special, stats

from analysis.engine.meta_analysis import meta_analysis
from analysis.pooling import synthesis
from analysis.io.paths import data_dir
from analysis.io.validate import read_csv_text

__all__ = [
    "MONITORING_LABEL",
    "MonitoringLook",
    "obf_alpha_spent",
    "obf_boundaries",
    "required_information",
    "release_statistics",
    "monitoring_table",
    "plot_monitoring",
]

MONITORING_LABEL = "monitoring, not a conclusion"
# Spending below this is treated as none: the boundary is then infinite (as rpact reports it),
# since a look that may spend no alpha cannot reject.
_NEGLIGIBLE_ALPHA = 1e-15
_GL_NODES, _GL_WEIGHTS = np.polynomial.legendre.leggauss(16)
_MAX_PANELS = 200
# A release that adds less than this share of the required information is not a new look.
MIN_FRACTION_STEP = 1e-3


def _phi(x):
    return np.exp(-0.5 * np.square(x)) / math.sqrt(2.0 * math.pi)


def _upper_tail(x):
    # 1 - Phi(x) without cancellation for large x
    return 0.5 * special.erfc(np.asarray(x, dtype=float) / math.sqrt(2.0))


def obf_alpha_spent(t: float, alpha: float = 0.05) -> float:
    """Cumulative two-sided alpha spent by information fraction ``t`` (0 < t <= 1)."""
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must lie in (0, 1), not {alpha}")
    if t <= 0:
        return 0.0
    t = min(float(t), 1.0)
    z = stats.norm.isf(alpha / 4.0)
    return float(4.0 * _upper_tail(z / math.sqrt(t)))


def _panels(half_width: float, scale: float) -> tuple[np.ndarray, np.ndarray]:
    """Composite Gauss-Legendre nodes and weights on (-half_width, half_width), with panels no
    wider than half the kernel's standard deviation ``scale`` (the integrand's finest detail)."""
    # capped so that looks very close together cannot exhaust memory (kernel = nodes x nodes)
    count = min(_MAX_PANELS, max(4, int(math.ceil(2.0 * half_width / (0.5 * scale)))))
    edges = np.linspace(-half_width, half_width, count + 1)
    mid, half = (edges[1:] + edges[:-1]) / 2.0, (edges[1:] - edges[:-1]) / 2.0
    nodes = (mid[:, None] + half[:, None] * _GL_NODES[None, :]).ravel()
    weights = (half[:, None] * _GL_WEIGHTS[None, :]).ravel()
    return nodes, weights


def obf_boundaries(fractions, alpha: float = 0.05) -> list[float]:
    """Two-sided critical values (z scale) at increasing information fractions in (0, 1].

    The k-th value c_k solves P(|Z_j| < c_j for j < k, |Z_k| >= c_k) = spent(t_k) - spent(t_{k-1}),
    with Z_j the cumulative statistic at fraction t_j (Brownian motion B(t) = Z sqrt(t)). A look
    that may spend no alpha gets an infinite boundary.
    """
    t = [float(value) for value in fractions]
    if not t:
        return []
    if any(value <= 0 or value > 1 for value in t) or any(b <= a for a, b in zip(t, t[1:])):
        raise ValueError(f"information fractions must increase within (0, 1]: {t}")
    spent = [obf_alpha_spent(value, alpha) for value in t]
    increments = [spent[0]] + [b - a for a, b in zip(spent, spent[1:])]
    critical: list[float] = []
    # density of B(t_{k-1}) on the continuation region, at quadrature nodes (None before look 1)
    nodes = weights = density = None
    previous_t = 0.0
    for k, (t_k, target) in enumerate(zip(t, increments)):
        step = t_k - previous_t
        scale = math.sqrt(step)

        def exit_probability(c: float) -> float:
            bound = c * math.sqrt(t_k)
            if density is None:
                return float(2.0 * _upper_tail(bound / scale))
            upper = _upper_tail((bound - nodes) / scale)
            lower = _upper_tail((bound + nodes) / scale)
            return float(np.sum(weights * density * (upper + lower)))

        if target <= _NEGLIGIBLE_ALPHA:
            c_k = math.inf
        else:
            c_k = optimize.brentq(lambda c: exit_probability(c) - target, 1e-6, 40.0,
                                  xtol=1e-13, rtol=1e-14, maxiter=500)
        critical.append(c_k)
        if k == len(t) - 1:
            break
        # the density of B(t_k) restricted to |B| < c_k sqrt(t_k), for the next look
        half_width = (c_k if math.isfinite(c_k) else 40.0) * math.sqrt(t_k)
        next_step = t[k + 1] - t_k
        new_nodes, new_weights = _panels(half_width, min(scale, math.sqrt(next_step)))
        if density is None:
            new_density = _phi(new_nodes / scale) / scale
        else:
            kernel = _phi((new_nodes[:, None] - nodes[None, :]) / scale) / scale
            new_density = kernel @ (weights * density)
        nodes, weights, density = new_nodes, new_weights, new_density
        previous_t = t_k
    return critical


def required_information(delta: float, alpha: float = 0.05, power: float = 0.8,
                         diversity: float = 0.0) -> float:
    """Heterogeneity-adjusted required information size (inverse-variance units)."""
    if delta == 0 or not math.isfinite(delta):
        raise ValueError(f"the anticipated effect must be finite and non-zero, not {delta}")
    if not 0 <= diversity < 1:
        raise ValueError(f"diversity D² must lie in [0, 1), not {diversity}")
    fixed = ((stats.norm.isf(alpha / 2.0) + stats.norm.ppf(power)) / delta) ** 2
    return float(fixed / (1.0 - diversity))


# --------------------------------------------------------------------------- per release

STATISTIC_COLUMNS = ("question", "outcome", "k", "z", "information_fixed",
                     "information_random", "diversity", "measure")


def release_statistics(effect_sizes: dict[str, pd.DataFrame] | None = None) -> pd.DataFrame:
    """The monitoring statistics of the data as they are now, one row per outcome.

    Columns: question, outcome, k, z (DerSimonian-Laird estimate / SE), information_fixed
    (1 / V_F), information_random (1 / V_R), diversity (D² = 1 - V_F / V_R); numbers are
    None for an outcome with fewer than two effect sizes. A release stores these rows in
    ``data/releases/monitoring.csv``.
    """
    from analysis import review

    records = []
    for spec in synthesis.ANALYSES:
        if effect_sizes and spec.question in effect_sizes:
            pooled = synthesis.pool(spec, effect_sizes[spec.question])
        else:
            pooled = review.current().pooled(spec.question, spec.outcome)
        rows = pooled.effect_sizes
        record = {"question": spec.question, "outcome": spec.outcome, "k": int(len(rows)),
                  "z": None, "information_fixed": None, "information_random": None,
                  "diversity": None, "measure": pooled.scale}
        if len(rows) >= 2:
            yi = rows["yi"].astype(float).to_numpy()
            vi = rows["vi"].astype(float).to_numpy()
            fit = meta_analysis(yi, vi, method="DL", test="z")
            v_fixed = 1.0 / float(np.sum(1.0 / vi))
            v_random = float(fit.se) ** 2
            record.update(z=float(fit.estimate) / float(fit.se),
                          information_fixed=1.0 / v_fixed, information_random=1.0 / v_random,
                          diversity=max(0.0, 1.0 - v_fixed / v_random))
        records.append(record)
    return synthesis.object_frame(records, STATISTIC_COLUMNS)


# --------------------------------------------------------------------------- plan and view

@dataclass(frozen=True)
class MonitoringLook:
    """One release's look at one outcome."""

    version: str
    k: int
    z: float
    information: float
    fraction: float
    boundary: float
    crossed: bool


def _plan() -> pd.DataFrame:
    path = data_dir() / "monitoring_plan.csv"
    return read_csv_text(path)


def _anticipated_effect(spec: synthesis.AnalysisSpec, source: str) -> float | None:
    """The anticipated effect on the analysis scale (None when the source gives none)."""
    if source != "published_estimate" or not spec.published_id:
        return None
    from analysis import review

    table = review.current().published
    match = table[table["synthesis_id"] == spec.published_id]
    if match.empty:
        return None
    published = match.iloc[0]
    text, printed = str(published["estimate"] or ""), str(published["measure"] or "")
    if text == "":
        return None
    value = float(text)
    if printed == "r" and spec.analysis_measure == "logOR":
        # a correlation as a log odds ratio: d = 2r / sqrt(1 - r^2), ln OR = d pi / sqrt(3)
        # (Borenstein et al. 2009, eqs. 7.5 and 7.9, equal groups), as the route converts
        return 2 * value / math.sqrt(1 - value ** 2) * math.pi / math.sqrt(3)
    if printed != spec.reader_measure:
        return None  # a published MD is not on this analysis's scale
    return {"ZCOR": math.atanh, "logOR": math.log, "SMD": float}[spec.analysis_measure](value)


def _stored_statistics() -> pd.DataFrame:
    from . import release_archive

    path = release_archive.releases_dir() / "monitoring.csv"
    if not path.exists():
        return pd.DataFrame(columns=["version", *STATISTIC_COLUMNS])
    table = read_csv_text(path)
    released = set(release_archive.read_releases()["version"])
    return table[table["version"].isin(released)]


def monitoring_table(include_data: bool = False) -> pd.DataFrame:
    """Per monitored outcome and release: z, information fraction, boundary, crossed.

    Columns: question, outcome, outcome_label, version, k, z, information, required_information,
    diversity, fraction, boundary, crossed, reading (in words), label. The required information size uses the
    diversity of the latest look; looks whose outcome was not pooled, or that add less than
    :data:`MIN_FRACTION_STEP` of the required information, are left out; an outcome
    without an anticipated effect in ``monitoring_plan.csv`` has one row with the reason in
    ``label``. With ``include_data`` the current, unreleased data are a last look "data".
    """
    from . import release_archive

    stored = _stored_statistics()
    order = list(release_archive.read_releases()["version"])
    if include_data:
        now = release_statistics()
        now.insert(0, "version", "data")
        stored = pd.concat([stored.astype(object), now.astype(object)], ignore_index=True)
        order.append("data")
    plan = {(row["question"], row["outcome"]): row for row in _plan().to_dict("records")}
    columns = ["question", "outcome", "outcome_label", "version", "k", "z", "information",
               "required_information", "diversity", "fraction", "boundary", "crossed", "reading", "label"]
    records = []
    for spec in synthesis.ANALYSES:
        row = plan.get((spec.question, spec.outcome))
        base = {"question": spec.question, "outcome": spec.outcome, "outcome_label": spec.label}
        delta = _anticipated_effect(spec, row["anticipated_effect"]) if row else None
        if row is None or delta is None:
            why = ("not in monitoring_plan.csv" if row is None else
                   "no anticipated effect: the published review prints no estimate on this scale")
            records.append({**base, "label": f"not monitored ({why})"})
            continue
        looks = stored[(stored["question"] == spec.question) & (stored["outcome"] == spec.outcome)]
        looks = [look for look in looks.to_dict("records")
                 if look["z"] not in ("", None) and not _nan(look["z"])]
        # information on one scale cannot be added to information on another: after a change of
        # the analysis scale (a methods change) monitoring starts again from that release
        on_scale = [look for look in looks if (look.get("measure") or spec.analysis_measure) == spec.analysis_measure]
        on_scale.sort(key=lambda look: order.index(look["version"]))
        if not on_scale:
            why = ("the analysis scale changed; monitoring starts again from the next release" if looks
                   else "no release pooled this outcome")
            records.append({**base, "label": f"not monitored ({why})"})
            continue
        looks = on_scale
        alpha, power = float(row["alpha"]), float(row["power"])
        diversity = float(looks[-1]["diversity"])
        if diversity >= 0.999:
            records.append({**base, "label": "not monitored (diversity D² near 1: the required "
                                            "information size is unbounded)"})
            continue
        required = required_information(delta, alpha, power, diversity)
        fractions, kept = [], []
        for look in looks:
            fraction = min(float(look["information_fixed"]) / required, 1.0)
            if fractions and fraction < fractions[-1] + MIN_FRACTION_STEP:
                continue  # no material new information (or the RIS already reached): no new look
            fractions.append(fraction)
            kept.append(look)
        bounds = obf_boundaries(fractions, alpha)
        for look, fraction, bound in zip(kept, fractions, bounds):
            z = float(look["z"])
            records.append({**base, "version": look["version"], "k": int(float(look["k"])),
                            "z": z, "information": float(look["information_fixed"]),
                            "required_information": required, "diversity": diversity,
                            "fraction": fraction, "boundary": bound,
                            "crossed": bool(abs(z) >= bound),
                            "reading": _reading(abs(z) >= bound, fraction),
                            "label": MONITORING_LABEL})
    return synthesis.object_frame(records, columns)


def _reading(crossed: bool, fraction: float) -> str:
    if crossed:
        return "the boundary is crossed"
    if fraction >= 1.0:
        return "the required information is reached without crossing the boundary"
    return (f"the boundary is not crossed; {fraction:.0%} of the required information "
            f"has accrued")


def _nan(value) -> bool:
    try:
        return math.isnan(float(value))
    except (TypeError, ValueError):
        return True


def plot_monitoring(question: str, outcome: str, ax=None, table: pd.DataFrame | None = None):
    """Cumulative z by information fraction against the boundaries; returns the Figure."""
    import matplotlib.pyplot as plt

    table = monitoring_table() if table is None else table
    rows = table[(table["question"] == question) & (table["outcome"] == outcome)
                 & table["fraction"].notna()]
    if ax is None:
        figure, ax = plt.subplots(figsize=(6.5, 4.0))
    else:
        figure = ax.figure
    if rows.empty:
        label = table[(table["question"] == question) & (table["outcome"] == outcome)]["label"]
        ax.text(0.5, 0.5, label.iloc[0] if len(label) else "not monitored", ha="center",
                va="center", wrap=True, transform=ax.transAxes)
        ax.set_axis_off()
        return figure
    alpha = float(_plan().set_index(["question", "outcome"]).loc[(question, outcome), "alpha"])
    fractions = rows["fraction"].astype(float).to_numpy()
    # the boundary a look at fraction g would have, after the looks already taken before g
    grid = np.linspace(0.02, 1.0, 50)
    curve = []
    for point in grid:
        earlier = [f for f in fractions if f < point - 1e-9]
        curve.append(min(obf_boundaries([*earlier, point], alpha)[-1], 8.0))
    ax.plot(grid, curve, color="0.3", lw=1.2, label="O'Brien-Fleming-type boundary (capped at 8)")
    ax.plot(grid, [-value for value in curve], color="0.3", lw=1.2)
    bounds = np.minimum(rows["boundary"].astype(float).to_numpy(), 8.0)
    ax.scatter(np.concatenate([fractions, fractions]), np.concatenate([bounds, -bounds]),
               marker="_", s=120, color="tab:red", zorder=3, label="boundary at each release")
    for sign in (1, -1):
        ax.axhline(sign * stats.norm.isf(alpha / 2), color="0.6", ls="--", lw=0.8)
    ax.axhline(0, color="0.8", lw=0.6)
    z = rows["z"].astype(float).to_numpy()
    ax.plot(fractions, z, marker="o", color="tab:blue", label="cumulative z (DL)")
    for fraction, value, version in zip(fractions, z, rows["version"]):
        ax.annotate(str(version), (fraction, value), textcoords="offset points", xytext=(4, 4),
                    fontsize=8)
    ax.set_xlim(0, 1.05)
    ax.set_xlabel("Information fraction (of the heterogeneity-adjusted required information)")
    ax.set_ylabel("Cumulative z")
    ax.set_title(f"{rows['outcome_label'].iloc[0]} ({MONITORING_LABEL})", fontsize=9)
    ax.legend(fontsize=8, loc="best")
    return figure
