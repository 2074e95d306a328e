"""The review's syntheses: one analysis of the registry pooled on one scenario's effect sizes.

:func:`pool` computes a frozen :class:`Pooled`; the review object (:mod:`analysis.review`)
calls it once per analysis, scenario and model and holds the result. Which analyses exist and which models they use is the registry's
(:mod:`analysis.questions`); scales and back-transforms are the table of measures'
(:mod:`analysis.measures`).

With fewer than two effect sizes nothing is pooled and the row says so; a single study is
reported with its own estimate and 95% Wald interval (``pooled`` stays False), as Cochrane's
summary-of-findings tables report it (Handbook v6.4, sec. 14.1.4).

Each analysis pools on one scale (``analysis_measure``); a data scenario that swaps the route
(``analysis.evidence.extraction``) pools every study on the alternative scale and its row carries that
measure, so two measure families are never mixed in one pooled result.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist
from typing import Any, Mapping

import numpy as np
import pandas as pd

from analysis.engine.meta_analysis import meta_analysis
from analysis.measures import Measure, canonical_measure, finite_or_none, measure
from analysis.questions import ANALYSES, MODELS, AnalysisSpec, ModelSpec, analysis_spec

__all__ = [
    "AnalysisSpec",
    "ANALYSES",
    "MODELS",
    "RESULT_COLUMNS",
    "analysis_spec",
    "pool",
    "run_analysis",
    "published_comparison",
    "cumulative_table",
]

# The columns of the review's results table, in order (the release archive stores every one of them).
RESULT_COLUMNS: tuple[str, ...] = (
    "question", "outcome", "outcome_label", "scenario", "model_name", "method", "test",
    "measure", "pooled", "k", "k_studies", "n", "n_unknown", "estimate", "ci_low", "ci_high",
    "pi_low", "pi_high", "estimate_model_scale", "se_model_scale", "tau2", "i2", "q", "q_df",
    "q_pval", "pval", "studies", "model",
)

_plain = finite_or_none
_Z975 = NormalDist().inv_cdf(0.975)  # the 97.5% normal quantile


@dataclass(frozen=True)
class Pooled:
    """One pooled analysis: a result row (plain values) and what it was computed from."""

    row: Mapping[str, Any]  # every key of RESULT_COLUMNS
    spec: AnalysisSpec
    model: ModelSpec
    scale: str  # the analysis scale the rows were pooled on (a route scenario may swap it)
    effect_sizes: pd.DataFrame  # the pooled rows, ordered by year
    result: Any  # the engine's MetaResult, or None when not pooled
    subgroups: pd.DataFrame

    @property
    def measure(self) -> Measure:
        return measure(self.scale)

    @property
    def yi(self) -> np.ndarray:
        return self.effect_sizes["yi"].astype(float).to_numpy()

    @property
    def vi(self) -> np.ndarray:
        return self.effect_sizes["vi"].astype(float).to_numpy()

    @property
    def labels(self) -> list[str]:
        column = "label" if "label" in self.effect_sizes.columns else "study_id"
        return [str(label) for label in self.effect_sizes[column]]

    def as_dict(self) -> dict:
        """The result row with ``spec``, ``effect_sizes``, ``result`` and ``subgroups``."""
        return {**self.row, "spec": self.spec, "effect_sizes": self.effect_sizes,
                "result": self.result, "subgroups": self.subgroups}


def _back(spec: AnalysisSpec, value: Any, scale: str | None = None) -> float | None:
    """``value`` from the analysis scale (``scale``, default the spec's) to the reader's."""
    return measure(scale or spec.analysis_measure).to_reader(value)


def rows_scale(spec: AnalysisSpec, rows: pd.DataFrame) -> str:
    """The analysis scale of the pooled rows (the spec's when there are none)."""
    if rows.empty:
        return spec.analysis_measure
    return canonical_measure(rows["measure"].iloc[0])




def _effect_sizes(spec: AnalysisSpec, scenario: str, table: pd.DataFrame) -> pd.DataFrame:
    """The effect sizes of one outcome and scenario, checked for the scale this analysis pools.

    ``table``: the question's effect sizes in that scenario.
    """
    wanted = {spec.source_outcome or spec.outcome, *spec.aliases}
    rows = table[table["outcome"].astype(str).isin(wanted)].copy()
    if spec.population_group is not None:
        groups = rows.get("population_group", pd.Series("", index=rows.index)).astype(str)
        rows = rows[groups == spec.population_group]
    # The primary data pool on the analysis's own scale; a scenario that swaps the route pools
    # every study on the alternative scale, never a mix of the two.
    expected = spec.analysis_measure if scenario == "primary" else None
    for record in rows.itertuples(index=False):
        scale = canonical_measure(record.measure)
        expected = expected or scale
        if scale != expected:
            raise ValueError(
                f"{spec.question} {spec.outcome} ({scenario}): study {record.study_id} has "
                f"measure {record.measure!r}, but this analysis pools {expected}")
        for column in ("yi", "vi"):
            value = _plain(getattr(record, column))
            if value is None or (column == "vi" and value <= 0):
                raise ValueError(
                    f"{spec.question} {spec.outcome} ({scenario}): study {record.study_id} "
                    f"has no usable {column} ({getattr(record, column)!r})")
    if "year" in rows.columns:
        rows = rows.sort_values(["year", "study_id"], kind="stable")
    return rows.reset_index(drop=True)


def object_frame(records: list[dict], columns: list[str] | tuple[str, ...]) -> pd.DataFrame:
    """A DataFrame whose cells stay exactly as given (plain floats and None, never NaN)."""
    return pd.DataFrame({column: pd.Series([record.get(column) for record in records],
                                           dtype=object) for column in columns},
                        columns=list(columns))


def _participants(rows: pd.DataFrame) -> tuple[int | None, int]:
    """Participants across the pooled studies, and how many studies do not print theirs.

    Rows of one study (two models of one sample, combined arms) share participants, so each
    study counts once, with its largest row n; when its arms were compared with a split control
    group (flag ``shared_control_split``) the rows partition the participants, so their n are
    added. Studies without a printed n are left out of the sum and counted in the second value,
    so the sum is then a lower bound.
    """
    if rows.empty or "n" not in rows.columns:
        return None, 0
    n = pd.to_numeric(rows["n"], errors="coerce")
    split = rows.get("flags", pd.Series("", index=rows.index)).fillna("").astype(str).str.contains(
        "shared_control_split")
    per_study = n.groupby(rows["study_id"]).agg(
        lambda values: values.sum(min_count=1) if split.loc[values.index].all() else values.max())
    unknown = int(per_study.isna().sum())
    known = per_study.dropna()
    return (int(known.sum()) if len(known) else None), unknown


def _format(value: float | None, digits: int = 2) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def _one_line(spec: AnalysisSpec, model: ModelSpec, row: dict) -> str:
    """A sentence naming the model and its result, for tables and the release log."""
    if not row["pooled"]:
        if row["k"] == 0:
            return f"not pooled: no study reports {spec.label.lower()}"
        return (f"not pooled: one effect size ({row['studies']}); "
                f"a random-effects model needs at least two; the study's own estimate "
                f"{row['measure']} = {_format(row['estimate'])} (95% CI {_format(row['ci_low'])} "
                f"to {_format(row['ci_high'])})")
    return (f"{model.description} (k = {row['k']}): {row['measure']} = "
            f"{_format(row['estimate'])} (95% CI {_format(row['ci_low'])} to "
            f"{_format(row['ci_high'])}); tau² = {_format(row['tau2'], 3)}, "
            f"I² = {_format(row['i2'], 0)}%")


def pool(spec: AnalysisSpec, effect_sizes: pd.DataFrame, scenario: str = "primary",
         model: str = "primary"):
    """Pool one analysis on one scenario's effect sizes (the question's whole table; the
    analysis picks its outcome's rows) with one model: a :class:`Pooled`.

    Its ``row`` has every key of :data:`RESULT_COLUMNS` (numbers are plain floats or None;
    estimate, CI and prediction interval on the reader's scale, tau², Q and I² on the analysis
    scale).
    """
    model_spec = MODELS[model]
    rows = _effect_sizes(spec, scenario, effect_sizes)
    scale = rows_scale(spec, rows)
    k = int(len(rows))
    n, n_unknown = _participants(rows)
    row: dict[str, Any] = {
        "question": spec.question, "outcome": spec.outcome, "outcome_label": spec.label,
        "scenario": scenario, "model_name": model_spec.name, "method": model_spec.method,
        "test": model_spec.test, "measure": measure(scale).reader, "pooled": k >= 2, "k": k,
        "k_studies": int(rows["study_id"].nunique()) if k else 0, "n": n, "n_unknown": n_unknown,
        "studies": "; ".join(dict.fromkeys(str(s) for s in rows["study_id"])) if k else "",
    }
    for key in ("estimate", "ci_low", "ci_high", "pi_low", "pi_high", "estimate_model_scale",
                "se_model_scale", "tau2", "i2", "q", "q_df", "q_pval", "pval"):
        row[key] = None
    result = None
    if k >= 2:
        result = meta_analysis(
            rows["yi"].astype(float).to_numpy(), rows["vi"].astype(float).to_numpy(),
            method=model_spec.method, test=model_spec.test,
            labels=[str(label) for label in rows.get("label", rows["study_id"])])
        row.update({
            "estimate": _back(spec, result.estimate, scale),
            "ci_low": _back(spec, result.ci_low, scale), "ci_high": _back(spec, result.ci_high, scale),
            "pi_low": _back(spec, result.pi_low, scale), "pi_high": _back(spec, result.pi_high, scale),
            "estimate_model_scale": _plain(result.estimate),
            "se_model_scale": _plain(result.se),
            "tau2": _plain(result.tau2), "i2": _plain(result.i2), "q": _plain(result.q),
            "q_df": _plain(result.q_df), "q_pval": _plain(result.q_pval),
            "pval": _plain(result.pval),
        })
    if k == 1:
        # A single study is reported with its own estimate and 95% Wald interval, as Cochrane's
        # summary-of-findings tables do (Handbook v6.4, sec. 14.1.4); it is not pooled.
        yi, vi = float(rows["yi"].iloc[0]), float(rows["vi"].iloc[0])
        half = _Z975 * math.sqrt(vi)
        row.update(estimate=_back(spec, yi, scale), ci_low=_back(spec, yi - half, scale),
                   ci_high=_back(spec, yi + half, scale))
    row["model"] = _one_line(spec, model_spec, row)
    return Pooled(row=row, spec=spec, model=model_spec, scale=scale, effect_sizes=rows,
                  result=result, subgroups=_subgroups(spec, model_spec, rows, scale))


def run_analysis(question: str, outcome: str, scenario: str = "primary",
                 model: str = "primary", *, effect_sizes: pd.DataFrame) -> dict:
    """One pooled analysis as a dict: every key of :data:`RESULT_COLUMNS`, plus ``spec``,
    ``effect_sizes`` (the pooled rows), ``result`` (the engine's MetaResult, or None when not
    pooled) and ``subgroups`` (one row per subgroup, pooled where it holds two or more).

    Pooled from ``effect_sizes`` (a question's table in ``scenario``); the review's held
    results are ``review.current().pooled(...)``, fitted once.
    """
    return pool(analysis_spec(question, outcome), effect_sizes, scenario, model).as_dict()


def _subgroups(spec: AnalysisSpec, model: ModelSpec, rows: pd.DataFrame, scale: str) -> pd.DataFrame:
    """One row per subgroup (form of web help seeking, or intervention type)."""
    columns = ["subgroup_by", "subgroup", "k", "studies", "pooled", "estimate", "ci_low",
               "ci_high", "tau2", "i2"]
    if rows.empty or "subgroup" not in rows.columns:
        return object_frame([], columns)
    records = []
    for name, group in rows.groupby(rows["subgroup"].astype(str), sort=True):
        record = {"subgroup_by": spec.subgroup_by, "subgroup": name, "k": int(len(group)),
                  "studies": "; ".join(dict.fromkeys(str(s) for s in group["study_id"])),
                  "pooled": len(group) >= 2, "estimate": None, "ci_low": None,
                  "ci_high": None, "tau2": None, "i2": None}
        if len(group) >= 2:
            fit = meta_analysis(group["yi"].astype(float).to_numpy(),
                                group["vi"].astype(float).to_numpy(),
                                method=model.method, test=model.test)
            record.update(estimate=_back(spec, fit.estimate, scale),
                          ci_low=_back(spec, fit.ci_low, scale),
                          ci_high=_back(spec, fit.ci_high, scale), tau2=_plain(fit.tau2),
                          i2=_plain(fit.i2))
        records.append(record)
    return object_frame(records, columns)



def published_comparison(results: pd.DataFrame, published: pd.DataFrame) -> pd.DataFrame:
    """This review's primary estimate for each outcome beside the published review's.

    One row per outcome of :data:`ANALYSES`. ``results``: the review's results (its primary
    rows are used); ``published``: ``data/published_syntheses.csv``. Published values are as
    printed (their k and N where printed; None otherwise).
    """
    primary = results[(results["scenario"] == "primary") & (results["model_name"] == "primary")]
    theirs_by_id = {str(record["synthesis_id"]): record for record in published.to_dict("records")}
    records = []
    for spec in ANALYSES:
        mine = primary[(primary["question"] == spec.question) & (primary["outcome"] == spec.outcome)]
        mine_row = mine.iloc[0].to_dict() if len(mine) else {}
        theirs = {key: (None if pd.isna(value) or value == "" else value)
                  for key, value in theirs_by_id.get(spec.published_id or "", {}).items()}
        records.append({
            "question": spec.question, "outcome": spec.outcome, "outcome_label": spec.label,
            "measure": spec.reader_measure,
            "k": mine_row.get("k"), "n": mine_row.get("n"),
            "estimate": mine_row.get("estimate"), "ci_low": mine_row.get("ci_low"),
            "ci_high": mine_row.get("ci_high"), "model": mine_row.get("model"),
            "published_review": theirs.get("review"),
            "published_id": spec.published_id,
            "published_measure": theirs.get("measure"),
            "published_estimate": _plain(theirs.get("estimate")),
            "published_ci_low": _plain(theirs.get("ci_low")),
            "published_ci_high": _plain(theirs.get("ci_high")),
            "published_p": theirs.get("p_reported"),
            "published_k": _int_or_none(theirs.get("k_reported")),
            "published_n": _int_or_none(theirs.get("n_reported")),
            "note": spec.published_note,
        })
    return object_frame(records, list(records[0]))


def published_row(published: pd.DataFrame, synthesis_id: Any) -> dict[str, str]:
    """One published result of ``published`` (``data/published_syntheses.csv``) as printed
    (text cells; empty dict for an unknown or missing id)."""
    table = published
    match = table[table["synthesis_id"] == str(synthesis_id or "")]
    if match.empty:
        return {}
    return {key: ("" if pd.isna(value) else str(value)) for key, value in match.iloc[0].items()}


def _int_or_none(text: Any) -> int | None:
    number = _plain(text if text not in ("", None) else None)
    return None if number is None else int(number)


def cumulative_table(pooled) -> pd.DataFrame:
    """The pooled estimate as each study was added, oldest first (a cumulative meta-analysis).

    Step i pools the first i effect sizes of a :class:`Pooled` (ordered by year,
    then study id) with its model, as metafor's ``cumul()`` does (Lau et al. 1992, N Engl J Med
    327:248; Viechtbauer 2010, J Stat Softw 36(3)), through
    ``analysis.engine.cumulative.cumulative_meta_analysis``. Step 1 is not pooled: it shows the first study's
    own estimate with its 95% Wald interval. Columns: step, added, year, k, n, measure, pooled,
    estimate, ci_low, ci_high (reader's scale), tau2, i2 (analysis scale; None at step 1).
    """
    from analysis.engine.cumulative import cumulative_meta_analysis

    spec, rows = pooled.spec, pooled.effect_sizes
    columns = ["step", "added", "year", "k", "n", "measure", "pooled", "estimate", "ci_low",
               "ci_high", "tau2", "i2"]
    if rows.empty:
        return object_frame([], columns)
    fits = cumulative_meta_analysis(pooled.yi, pooled.vi, labels=[str(s) for s in rows["study_id"]],
                                    method=pooled.model.method, test=pooled.model.test)
    fits = fits[["estimate", "ci_low", "ci_high", "tau2", "i2"]].to_dict("records")
    records = []
    for step, fit in enumerate(fits, start=1):
        part = rows.iloc[:step]
        added = part.iloc[-1]
        records.append({
            "step": step, "added": str(added.get("label", added["study_id"])),
            "year": _int_or_none(added.get("year")), "k": step,
            "n": _participants(part)[0], "measure": pooled.row["measure"], "pooled": step >= 2,
            "estimate": _back(spec, fit["estimate"], pooled.scale),
            "ci_low": _back(spec, fit["ci_low"], pooled.scale),
            "ci_high": _back(spec, fit["ci_high"], pooled.scale),
            "tau2": _plain(fit["tau2"]) if step >= 2 else None,
            "i2": _plain(fit["i2"]) if step >= 2 else None,
        })
    return object_frame(records, columns)
