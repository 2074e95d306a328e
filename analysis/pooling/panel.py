"""The small-k inference panel: one pooled result under every method that matters when only
a few studies are pooled, and a verdict on whether the conclusion depends on the method.

Rows (each computed by the engine from yi, vi and labels only):

* common effect (inverse variance, z interval);
* DerSimonian-Laird with a z interval and z prediction interval;
* REML with Hartung-Knapp (HKSJ; t(k - 1)), and HKSJ with the ad hoc floor max(1, q)
  (Röver, Knapp & Friede 2015, BMC Med Res Methodol 15:99), with a flag when the plain HKSJ
  interval is narrower than the common-effect interval (the case the floor guards against);
* REML with CR2 cluster-robust inference (analysis.engine.robust) when effect sizes share a cluster
  (arms sharing a control arm);
* Bayesian random effects (analysis.engine.bayes) under each prior of ``data/priors.csv`` that
  applies to the measure: posterior median and 95% credible interval of mu, the Bayesian
  prediction interval, and posterior probabilities that mu and a new study's effect lie beyond
  the null and the minimally important difference (``data/thresholds.csv``).

``prediction_table()`` gives REML prediction intervals with z, t(k - 1) and t(k - 2)
quantiles (Higgins, Thompson & Spiegelhalter 2009) and the probability that a new study's
effect lies beyond each threshold under each predictive distribution.

The verdict asks two questions of every row: on which side of the null is the estimate (the
posterior median for Bayesian rows), and does the interval exclude the null. It "holds under
every method" when every row answers both alike, and otherwise names the rows that differ.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import special

from analysis.engine.checks import validate_effects
from analysis.engine.meta_analysis import meta_analysis
from analysis.io import plan_tables
from analysis.engine.bayes import BayesResult, TauPrior, bayes_meta_analysis

__all__ = ["PanelResult", "small_k_panel", "panel_for", "pooled_panel", "load_priors",
           "load_thresholds", "Threshold"]


# ----------------------------------------------------------------------------- data tables
def _read_engine_table(name: str, data_dir: Path | str | None) -> list[dict[str, str]]:
    from analysis.io import validate
    from analysis.io.problems import DataError
    from analysis.io.paths import data_dir as default_dir

    schema = plan_tables.ENGINE_TABLES[name]
    root = Path(data_dir) if data_dir is not None else default_dir()
    read, problems = validate.read_checked(root / schema.file, schema.file, schema)
    if problems:
        raise DataError(problems)
    return [row for _, row in read.rows]


def _prior_from_row(row: dict[str, str]) -> TauPrior:
    def num(name):
        return float(row[name]) if row.get(name, "") != "" else float("nan")
    return TauPrior(row["distribution"], scale=num("scale"),
                    location=num("location") if row.get("location") else 0.0, df=num("df"),
                    name=_PRIOR_NAMES.get(row["distribution"], row["distribution"]).format(**{
                        k: row.get(k, "") for k in ("scale", "location", "df")}))


_PRIOR_NAMES = {
    "half_normal": "half-normal({scale})",
    "half_cauchy": "half-Cauchy({scale})",
    "uniform": "uniform",
    "log_normal": "log-normal for tau² ({location}, {scale}²)",
    "log_t": "log-t{df} for tau² ({location}, {scale})",
}


def load_priors(measure: str | None = None, data_dir=None) -> list[tuple[str, TauPrior, dict]]:
    """(prior_id, TauPrior, the table row) for every prior of ``data/priors.csv`` that
    applies to ``measure`` ("ZCOR", "logOR", "SMD"; None: all), in file order."""
    rows = _read_engine_table("priors", data_dir)
    return [(row["prior_id"], _prior_from_row(row), row) for row in rows
            if measure is None or row["measure"] == measure]


@dataclass(frozen=True)
class Threshold:
    """The null and the minimally important difference (MID) of one outcome, on the analysis
    scale; ``direction`` +1 when effects above the null are of interest, -1 below."""

    null: float
    mid: float  # size of the MID on the analysis scale (> 0)
    direction: int
    source: str = ""

    @property
    def mid_point(self) -> float:
        """The effect at the MID: null + direction x mid."""
        return self.null + self.direction * self.mid


def _mid_on_analysis_scale(value: float, scale: str, measure: str) -> float:
    if scale == "analysis" or (scale == "SMD" and measure == "SMD"):
        return value
    if scale == "r" and measure == "ZCOR":
        return math.atanh(value)  # Fisher's z of r
    if scale == "SMD" and measure == "logOR":
        return value * math.pi / math.sqrt(3)  # Chinn (2000): log OR = d pi / sqrt(3)
    raise ValueError(f"thresholds: a MID on the {scale} scale cannot be used for {measure}")


def load_thresholds(data_dir=None) -> dict[tuple[str, str], Threshold]:
    """(question, outcome) -> :class:`Threshold` from ``data/thresholds.csv``."""
    out = {}
    for row in _read_engine_table("thresholds", data_dir):
        mid = _mid_on_analysis_scale(float(row["mid"]), row["mid_scale"], row["measure"])
        out[(row["question"], row["outcome"])] = Threshold(
            float(row["null"]), mid, 1 if row["direction"] == "positive" else -1, row["source"])
    return out


# ----------------------------------------------------------------------------- result
_COLUMNS = ("method", "estimate", "ci_low", "ci_high", "pi_low", "pi_high", "tau",
            "p_effect_beyond_null", "p_effect_beyond_mid", "p_new_beyond_null",
            "p_new_beyond_mid", "direction", "excludes_null")


@dataclass(frozen=True)
class PanelRow:
    method: str
    estimate: float
    ci_low: float
    ci_high: float
    pi_low: float
    pi_high: float
    tau: float
    p_effect_beyond_null: float = float("nan")
    p_effect_beyond_mid: float = float("nan")
    p_new_beyond_null: float = float("nan")
    p_new_beyond_mid: float = float("nan")


@dataclass(frozen=True, eq=False)
class PanelResult:
    """The panel of one pooled outcome. ``table()`` and ``prediction_table()`` are
    DataFrames for display; ``verdict`` is reader text; ``holds`` says whether the conclusion
    is the same under every method; ``notes`` lists what the reader should know (an HKSJ
    interval narrower than the common-effect one; priors left out and why)."""

    k: int
    level: float
    threshold: Threshold
    rows: tuple[PanelRow, ...]
    prediction: tuple[PanelRow, ...]
    hksj_narrower_than_fe: bool
    notes: tuple[str, ...]
    verdict: str
    holds: bool
    bayes: dict = field(repr=False, default_factory=dict)

    def table(self, transform=None) -> pd.DataFrame:
        """One row per method: estimate, interval, prediction interval, tau, probabilities
        beyond the null / MID (Bayesian rows), side of the null and whether the interval
        excludes it. ``transform`` (e.g. ``np.tanh`` for Fisher z to r, ``np.exp`` for log
        odds ratios) is applied to the estimate and the interval bounds for display; the
        other columns stay on the analysis scale."""
        return _frame(self.rows, self.threshold, transform)

    def footnote(self) -> str:
        """One sentence for a summary-of-findings footnote: the verdict, and the range over
        the priors of the posterior probability that the true effect lies beyond the null
        and beyond the minimally important difference."""
        text = f"Robustness across {len(self.rows)} methods: {self.verdict}."
        bayes = [r for r in self.rows if math.isfinite(r.p_effect_beyond_null)]
        if bayes:
            def span(values):
                lo, hi = min(values), max(values)
                return f"{lo:.2f}" if round(lo, 2) == round(hi, 2) else f"{lo:.2f} to {hi:.2f}"
            text += (f" Posterior probability that the true effect lies beyond no effect: "
                     f"{span([r.p_effect_beyond_null for r in bayes])}")
            mids = [r.p_effect_beyond_mid for r in bayes if math.isfinite(r.p_effect_beyond_mid)]
            if mids:
                text += f"; beyond the minimally important difference: {span(mids)}"
            text += f" ({len(bayes)} priors)."
        return text

    def prediction_table(self, transform=None) -> pd.DataFrame:
        """REML prediction intervals with z, t(k - 1) and t(k - 2) quantiles."""
        return _frame(self.prediction, self.threshold, transform)


def _side(x: float, null: float) -> str:
    if x > null:
        return "above"
    if x < null:
        return "below"
    return "at"


def _frame(rows, threshold: Threshold, transform=None) -> pd.DataFrame:
    data = {name: [getattr(r, name) for r in rows] for name in PanelRow.__dataclass_fields__}
    frame = pd.DataFrame(data)
    if transform is not None:
        for name in ("estimate", "ci_low", "ci_high", "pi_low", "pi_high"):
            frame[name] = np.asarray(transform(frame[name].to_numpy(dtype=float)), dtype=float)
    frame["method"] = frame["method"].astype("string")
    frame["direction"] = pd.array([_side(r.estimate, threshold.null) for r in rows], dtype="string")
    frame["excludes_null"] = [bool(not (r.ci_low <= threshold.null <= r.ci_high))
                              if math.isfinite(r.ci_low) else False for r in rows]
    return frame[list(_COLUMNS)]


# ----------------------------------------------------------------------------- computing
def _beyond(threshold: Threshold, x: float, p_above) -> float:
    """P(effect beyond x in the direction of interest) from a function giving P(effect > x)."""
    above = p_above(x)
    return above if threshold.direction > 0 else 1.0 - above


def _frequentist_rows(y, v, names, level, threshold) -> tuple[list[PanelRow], bool]:
    fe = meta_analysis(y, v, method="FE", level=level, labels=names)
    dl = meta_analysis(y, v, method="DL", level=level, labels=names)
    hk = meta_analysis(y, v, method="REML", test="knha", level=level, labels=names)
    hk_floor = meta_analysis(y, v, method="REML", test="knha", knha_floor=True,
                             level=level, labels=names)
    rows = [
        # a common-effect model predicts no spread of true effects: no prediction interval
        # (metafor's predict() gives none either)
        PanelRow("Common effect (z)", fe.estimate, fe.ci_low, fe.ci_high, float("nan"),
                 float("nan"), 0.0),
        PanelRow("DerSimonian-Laird (z)", dl.estimate, dl.ci_low, dl.ci_high, dl.pi_low,
                 dl.pi_high, dl.tau),
        PanelRow("REML with Hartung-Knapp", hk.estimate, hk.ci_low, hk.ci_high, hk.pi_low,
                 hk.pi_high, hk.tau),
        PanelRow("REML with Hartung-Knapp and ad hoc floor", hk_floor.estimate, hk_floor.ci_low,
                 hk_floor.ci_high, hk_floor.pi_low, hk_floor.pi_high, hk_floor.tau),
    ]
    narrower = (hk.ci_high - hk.ci_low) < (fe.ci_high - fe.ci_low)
    return rows, narrower


def _prediction_rows(y, v, level, threshold) -> list[PanelRow]:
    reml = meta_analysis(y, v, method="REML", level=level)
    k = y.size
    mu, scale = reml.estimate, math.sqrt(reml.se ** 2 + reml.tau2)
    alpha = 1 - level
    out = []
    for name, df in (("REML, z prediction", None), ("REML, t(k - 1) prediction", k - 1),
                     ("REML, t(k - 2) prediction", k - 2)):
        if df is None:
            crit = float(-special.ndtri(alpha / 2))
            sf = lambda x: float(special.ndtr((mu - x) / scale))  # noqa: E731
        elif df >= 1:
            crit = float(-special.stdtrit(df, alpha / 2))
            sf = lambda x, d=df: float(special.stdtr(d, (mu - x) / scale))  # noqa: E731
        else:
            out.append(PanelRow(name, mu, reml.ci_low, reml.ci_high, float("nan"), float("nan"),
                                reml.tau))
            continue
        out.append(PanelRow(
            name, mu, reml.ci_low, reml.ci_high, mu - crit * scale, mu + crit * scale, reml.tau,
            p_new_beyond_null=_beyond(threshold, threshold.null, sf),
            p_new_beyond_mid=_beyond(threshold, threshold.mid_point, sf)))
    return out


def _bayes_row(label: str, res: BayesResult, threshold: Threshold) -> PanelRow:
    mu, new = res.mu, res.theta_new
    return PanelRow(
        f"Bayesian ({label} prior for tau)", mu.median, mu.ci_low, mu.ci_high, new.ci_low, new.ci_high,
        res.quantile_tau(0.5),
        p_effect_beyond_null=_beyond(threshold, threshold.null, res.prob_mu_above),
        p_effect_beyond_mid=_beyond(threshold, threshold.mid_point, res.prob_mu_above),
        p_new_beyond_null=_beyond(threshold, threshold.null, res.prob_new_above),
        p_new_beyond_mid=_beyond(threshold, threshold.mid_point, res.prob_new_above))


def _join(names: list[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _verdict(rows: list[PanelRow], null: float) -> tuple[str, bool]:
    sides = [_side(r.estimate, null) for r in rows]
    excludes = [not (r.ci_low <= null <= r.ci_high) for r in rows]
    same_side = len(set(sides)) == 1
    same_excl = len(set(excludes)) == 1
    if same_side and same_excl:
        interval = "every interval excludes no effect" if excludes[0] else \
            "every interval includes no effect"
        return (f"holds under every method: the pooled effect lies {sides[0]} no effect and "
                f"{interval}"), True
    parts = []
    if not same_side:
        for side in ("above", "below", "at"):
            named = [r.method for r, s in zip(rows, sides) if s == side]
            if named:
                parts.append(f"the pooled effect lies {side} no effect under {_join(named)}")
    if not same_excl:
        yes = [r.method for r, e in zip(rows, excludes) if e]
        no = [r.method for r, e in zip(rows, excludes) if not e]
        parts.append(f"the interval excludes no effect under {_join(yes)} but not under {_join(no)}")
    return "depends on the method: " + "; ".join(parts), False


def _cr2_row(y, v, names, clusters, level) -> PanelRow | None:
    """REML with CR2 cluster-robust inference when some cluster holds several effect sizes
    (e.g. arms sharing a control) and there are at least two clusters."""
    from analysis.engine.robust import cluster_robust_cr2

    codes = pd.factorize(pd.Series(list(clusters)))[0]
    n_clusters = int(codes.max()) + 1
    if n_clusters < 2 or n_clusters == len(codes):
        return None
    fit = meta_analysis(y, v, method="REML", level=level, labels=names)
    row = cluster_robust_cr2(fit, clusters, level=level).coefficients.iloc[0]
    return PanelRow(f"REML with cluster-robust CR2 ({n_clusters} clusters)", float(row["estimate"]),
                    float(row["ci_low"]), float(row["ci_high"]), float("nan"), float("nan"),
                    fit.tau)


def small_k_panel(yi, vi, labels=None, *, measure: str, threshold: Threshold | None = None,
                  priors: list[tuple[str, TauPrior]] | None = None, level: float = 0.95,
                  clusters=None, data_dir=None) -> PanelResult:
    """The panel for one outcome from effect sizes ``yi`` and sampling variances ``vi``.

    ``measure``: analysis scale ("ZCOR", "logOR", "SMD"), which selects the priors of
    ``data/priors.csv`` unless ``priors`` [(id, TauPrior), ...] is given. ``threshold``: null
    and MID (default: null 0, no MID, effects above the null of interest). ``clusters``
    (e.g. study ids): when some cluster holds several effect sizes, a row with REML and CR2
    cluster-robust inference (Satterthwaite t; analysis.engine.robust) joins the panel. Needs k >= 2.
    """
    y, v, names = validate_effects(yi, vi, labels, what="small-k panel")
    names = list(names)
    k = y.size
    if k < 2:
        raise ValueError(f"small-k panel: needs at least 2 studies to pool (k = {k})")
    threshold = threshold or Threshold(0.0, float("nan"), 1)
    if priors is None:
        priors = [(pid, prior) for pid, prior, _ in load_priors(measure, data_dir)]
    rows, narrower = _frequentist_rows(y, v, names, level, threshold)
    if clusters is not None:
        if len(clusters) != k:
            raise ValueError(f"small-k panel: {len(clusters)} clusters given for {k} effect sizes")
        cr2 = _cr2_row(y, v, names, clusters, level)
        if cr2 is not None:
            rows.append(cr2)
    notes = []
    if narrower:
        notes.append("The Hartung-Knapp interval is narrower than the common-effect interval; "
                     "the ad hoc floor (Röver, Knapp & Friede 2015) keeps it at least as wide.")
    fits = {}
    for pid, prior in priors:
        if not prior.proper and k < 3:
            notes.append(f"The {prior.label} prior is left out: with k = {k} its posterior is "
                         "improper.")
            continue
        fits[pid] = bayes_meta_analysis(y, v, prior=prior, level=level, labels=names)
        rows.append(_bayes_row(prior.label, fits[pid], threshold))
    verdict, holds = _verdict(rows, threshold.null)
    return PanelResult(k=k, level=level, threshold=threshold, rows=tuple(rows),
                       prediction=tuple(_prediction_rows(y, v, level, threshold)),
                       hksj_narrower_than_fe=bool(narrower), notes=tuple(notes),
                       verdict=verdict, holds=holds, bayes=fits)


def panel_for(question: str, outcome: str, yi, vi, labels=None, *, measure: str,
              level: float = 0.95, clusters=None, data_dir=None) -> PanelResult:
    """:func:`small_k_panel` with the null and MID recorded for (question, outcome) in
    ``data/thresholds.csv``."""
    thresholds = load_thresholds(data_dir)
    key = (question, outcome)
    if key not in thresholds:
        raise KeyError(f"no threshold recorded for {question}/{outcome} in data/thresholds.csv")
    return small_k_panel(yi, vi, labels, measure=measure, threshold=thresholds[key], level=level,
                         clusters=clusters, data_dir=data_dir)


def pooled_panel(pooled, *, level: float = 0.95, data_dir=None) -> PanelResult | None:
    """The panel of one pooled analysis (a :class:`analysis.pooling.synthesis.Pooled`), from the
    same effect sizes it pooled; None when fewer than two effect sizes are available (nothing
    is pooled)."""
    rows = pooled.effect_sizes
    if len(rows) < 2:
        return None
    return panel_for(pooled.spec.question, pooled.spec.outcome, pooled.yi, pooled.vi, pooled.labels,
                     measure=pooled.scale, level=level,
                     clusters=[str(s) for s in rows["study_id"]], data_dir=data_dir)
