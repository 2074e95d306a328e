"""The review's syntheses: which analyses run, on which effect sizes, with which model.

Every pooled number in the book comes from :func:`run_analysis` or :func:`results_table`; the
list of analyses is data (:data:`ANALYSES`), so a new outcome is a new entry, not new code.

Model choice. Each question has only a handful of studies. With so few, the DerSimonian-Laird
estimator with a normal (z) test gives confidence intervals that are too narrow; the primary
model is therefore REML for tau² with the Hartung-Knapp-Sidik-Jonkman (Knapp-Hartung) t-based
interval (Cochrane Handbook v6.4, section 10.10.4, "Incorporating heterogeneity into
random-effects models"; IntHout, Ioannidis & Borm 2014, BMC Med Res Methodol 14:25).
DerSimonian-Laird with z is kept as a sensitivity analysis. With fewer than two effect sizes
nothing is pooled and the row says so; a single study is reported with its own estimate and 95%
Wald interval (``pooled`` stays False), as Cochrane's summary-of-findings tables report it.

Each analysis pools on one scale (``analysis_measure``); a data scenario that swaps the route
(``analysis.extraction``) pools every study on the alternative scale and its row carries that
measure, so two measure families are never mixed in one pooled result.

Scales. Correlations are pooled on Fisher's z and shown as r (Borenstein et al. 2009,
Introduction to Meta-Analysis, ch. 6: r = tanh z); odds ratios are pooled as log OR and shown as
OR; standardised mean differences are pooled and shown as they are. The prediction interval is
back-transformed in the same way (metafor's ``predict(..., transf=)`` does the same).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable

import pandas as pd

from . import models
from .paths import data_dir

__all__ = [
    "AnalysisSpec",
    "ANALYSES",
    "MODELS",
    "RESULT_COLUMNS",
    "analysis_spec",
    "load_effect_sizes",
    "scenario_names",
    "run_analysis",
    "results_table",
    "published_comparison",
    "cumulative_by_study",
]


@dataclass(frozen=True)
class ModelSpec:
    """One random-effects model: tau² estimator and the test for the pooled estimate."""

    name: str  # short key stored in results: "primary" or "dl_z"
    method: str  # tau² estimator, as in models.meta_analysis
    test: str  # "knha" (t with k-1 df, Knapp-Hartung) or "z"
    description: str


MODELS: dict[str, ModelSpec] = {
    "primary": ModelSpec("primary", "REML", "knha",
                         "REML, Knapp-Hartung (HKSJ) t-based interval"),
    "dl_z": ModelSpec("dl_z", "DL", "z",
                      "DerSimonian-Laird, normal (z) interval"),
}


@dataclass(frozen=True)
class AnalysisSpec:
    """One outcome of one question, as the book reports it."""

    question: str  # "q1" or "q2", as extraction.effect_sizes takes it
    outcome: str  # value of the effect-size table's ``outcome`` column
    label: str  # what readers see
    analysis_measure: str  # scale of yi/vi: "ZCOR" (Fisher z), "logOR", "SMD"
    reader_measure: str  # scale shown: "r", "OR", "SMD"
    subgroup_by: str  # what the effect-size table's ``subgroup`` column means here
    published_id: str | None  # synthesis_id in data/published_syntheses.csv
    published_note: str = ""  # why the published number is (or is not) comparable
    aliases: tuple[str, ...] = field(default=())  # other outcome spellings in the data
    # The effect-size outcome this analysis draws on, when it is a subset of another outcome.
    source_outcome: str | None = None
    # Only effect sizes of this population group (effect-size column ``population_group``).
    population_group: str | None = None


ANALYSES: tuple[AnalysisSpec, ...] = (
    AnalysisSpec(
        "q1", "depression_webhelp", "Depressive symptoms and web-based help seeking",
        "logOR", "OR", "form of web-based help seeking", "bizzotto2023_osg",
        "Bizzotto et al. pooled online support groups only; this review pools every form of "
        "web-based help seeking and reports the forms as subgroups.",
    ),
    AnalysisSpec(
        "q1", "depression_webhelp_generation_z",
        "Depressive symptoms and web-based help seeking in Generation Z",
        "logOR", "OR", "form of web-based help seeking", "bizzotto2023_genz",
        "Samples classified by birth year from their printed ages and year of data collection "
        "(Generation Z: born 1997 or later).",
        source_outcome="depression_webhelp", population_group="Generation Z",
    ),
    AnalysisSpec(
        "q1", "webhelp_empowerment", "Web-based help seeking and empowerment",
        "ZCOR", "r", "form of web-based help seeking", "bizzotto2023_empowerment",
    ),
    AnalysisSpec(
        "q2", "behaviour", "Help-seeking behaviour (first assessment after the intervention)",
        "logOR", "OR", "intervention type", "ni2025_behaviour",
        "Ni et al. do not say which time point their pooled behaviour estimate uses.",
    ),
    AnalysisSpec(
        "q2", "behaviour_follow_up", "Help-seeking behaviour at later follow-up",
        "logOR", "OR", "intervention type", None,
        "Ni et al. print no pooled estimate for behaviour at later follow-up.",
    ),
    AnalysisSpec(
        "q2", "intentions", "Help-seeking intentions (immediately after the intervention)",
        "SMD", "SMD", "intervention type", "ni2025_intentions_post",
    ),
    AnalysisSpec(
        "q2", "intentions_follow_up", "Help-seeking intentions at later follow-up",
        "SMD", "SMD", "intervention type", None,
        "Ni et al. print only a mean difference for one intervention type at 2 weeks "
        "(mental contrasting with implementation intentions: MD 4.44).",
    ),
    AnalysisSpec(
        "q2", "attitudes", "Attitudes toward help seeking",
        "SMD", "SMD", "intervention type", "ni2025_attitudes",
        "Ni et al. print a mean difference (MD) for information support only, not an SMD.",
    ),
    AnalysisSpec(
        "q2", "stigma", "Help-seeking stigma",
        "SMD", "SMD", "intervention type", "ni2025_stigma",
        "Ni et al. found too few studies to pool.",
    ),
)

# The columns of results_table, in order (the release archive stores every one of them).
RESULT_COLUMNS: tuple[str, ...] = (
    "question", "outcome", "outcome_label", "scenario", "model_name", "method", "test",
    "measure", "pooled", "k", "k_studies", "n", "n_unknown", "estimate", "ci_low", "ci_high",
    "pi_low", "pi_high", "estimate_model_scale", "se_model_scale", "tau2", "i2", "q", "q_df",
    "q_pval", "pval", "studies", "model",
)


def _identity(value: float) -> float:
    return value


def _fisher_z_to_r(value: float) -> float:
    # r = tanh(z), the inverse of Fisher's z = atanh(r) (Borenstein et al. 2009, eq. 6.3).
    return math.tanh(value)


_BACK_TRANSFORMS: dict[str, Callable[[float], float]] = {
    "ZCOR": _fisher_z_to_r,
    "logOR": math.exp,
    "SMD": _identity,
}

# Spellings of the analysis scale that effect-size tables may use for the same thing.
_MEASURE_ALIASES = {
    "zcor": "ZCOR", "z": "ZCOR", "fisher_z": "ZCOR", "fisher z": "ZCOR", "zr": "ZCOR",
    "logor": "logOR", "log_or": "logOR", "lnor": "logOR", "or": "logOR", "log or": "logOR",
    "smd": "SMD", "g": "SMD", "hedges_g": "SMD", "d": "SMD",
}


def analysis_spec(question: str, outcome: str) -> AnalysisSpec:
    """The definition of one analysis; a clear error for an unknown question or outcome."""
    for spec in ANALYSES:
        if spec.question == question and (outcome == spec.outcome or outcome in spec.aliases):
            return spec
    known = ", ".join(f"{s.question}/{s.outcome}" for s in ANALYSES)
    raise KeyError(f"no analysis defined for question {question!r}, outcome {outcome!r}; "
                   f"known analyses: {known}")


def _plain(value: Any) -> float | None:
    """A plain Python float, or None for a missing or non-finite value."""
    if value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


READER_MEASURES = {"ZCOR": "r", "logOR": "OR", "SMD": "SMD"}
_Z975 = 1.959963984540054  # the 97.5% normal quantile


def _back(spec: AnalysisSpec, value: Any, measure: str | None = None) -> float | None:
    """``value`` from the analysis scale (``measure``, default the spec's) to the reader's."""
    number = _plain(value)
    return None if number is None else _BACK_TRANSFORMS[measure or spec.analysis_measure](number)


def _rows_measure(spec: AnalysisSpec, rows: pd.DataFrame) -> str:
    """The analysis scale of the pooled rows (the spec's when there are none)."""
    if rows.empty:
        return spec.analysis_measure
    first = str(rows["measure"].iloc[0])
    return _MEASURE_ALIASES.get(first.strip().lower(), first)


def load_effect_sizes(question: str, scenario: str) -> pd.DataFrame:
    """Every effect size of one question in one data scenario (``extraction.effect_sizes``)."""
    from . import extraction

    return extraction.effect_sizes(question, scenario=scenario)


def scenario_names(question: str) -> list[str]:
    """The data scenarios of one question, "primary" first (``extraction.scenarios``)."""
    from . import extraction

    names = extraction.scenarios(question)
    if isinstance(names, dict):
        names = list(names)
    elif isinstance(names, pd.DataFrame):
        names = list(names["scenario"])
    names = [str(name) for name in names]
    return ["primary"] + [name for name in names if name != "primary"]


def _effect_sizes(spec: AnalysisSpec, scenario: str,
                  table: pd.DataFrame | None = None) -> pd.DataFrame:
    """The effect sizes of one outcome and scenario, checked for the scale this analysis pools.

    ``table``: the question's effect sizes in that scenario, when the caller already has them.
    """
    if table is None:
        table = load_effect_sizes(spec.question, scenario)
    wanted = {spec.source_outcome or spec.outcome, *spec.aliases}
    rows = table[table["outcome"].astype(str).isin(wanted)].copy()
    if spec.population_group is not None:
        groups = rows.get("population_group", pd.Series("", index=rows.index)).astype(str)
        rows = rows[groups == spec.population_group]
    # The primary data pool on the analysis's own scale; a scenario that swaps the route pools
    # every study on the alternative scale, never a mix of the two.
    expected = spec.analysis_measure if scenario == "primary" else None
    for position, record in enumerate(rows.itertuples(index=False)):
        measure = _MEASURE_ALIASES.get(str(record.measure).strip().lower(), str(record.measure))
        expected = expected or measure
        if measure != expected:
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


def run_analysis(question: str, outcome: str, scenario: str = "primary",
                 model: str = "primary", effect_sizes: pd.DataFrame | None = None) -> dict:
    """Pool one outcome of one question in one data scenario.

    Returns a dict with every key of :data:`RESULT_COLUMNS` (numbers are plain floats or
    None; estimate, CI and prediction interval on the reader's scale, tau², Q and I² on the
    analysis scale), plus ``spec``, ``effect_sizes`` (the pooled rows), ``result`` (the
    engine's MetaResult, or None when not pooled) and ``subgroups`` (a DataFrame, one row per
    subgroup, pooled where it holds two or more effect sizes).

    ``effect_sizes``: the question's effect sizes in ``scenario`` if already loaded (as
    :func:`load_effect_sizes` returns them); by default they are loaded here.
    """
    spec = analysis_spec(question, outcome)
    model_spec = MODELS[model]
    rows = _effect_sizes(spec, scenario, effect_sizes)
    k = int(len(rows))
    scale = _rows_measure(spec, rows)
    row: dict[str, Any] = {
        "question": spec.question, "outcome": spec.outcome, "outcome_label": spec.label,
        "scenario": scenario, "model_name": model_spec.name, "method": model_spec.method,
        "test": model_spec.test, "measure": READER_MEASURES.get(scale, spec.reader_measure),
        "pooled": k >= 2, "k": k,
        "k_studies": int(rows["study_id"].nunique()) if k else 0,
        "n": _participants(rows)[0], "n_unknown": _participants(rows)[1],
        "studies": "; ".join(dict.fromkeys(str(s) for s in rows["study_id"])) if k else "",
    }
    for key in ("estimate", "ci_low", "ci_high", "pi_low", "pi_high", "estimate_model_scale",
                "se_model_scale", "tau2", "i2", "q", "q_df", "q_pval", "pval"):
        row[key] = None
    result = None
    if k >= 2:
        result = models.meta_analysis(
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
    row["subgroups"] = _subgroups(spec, model_spec, rows, scale)
    row["spec"] = spec
    row["effect_sizes"] = rows
    row["result"] = result
    return row


def _subgroups(spec: AnalysisSpec, model: ModelSpec, rows: pd.DataFrame,
               scale: str | None = None) -> pd.DataFrame:
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
            fit = models.meta_analysis(group["yi"].astype(float).to_numpy(),
                                       group["vi"].astype(float).to_numpy(),
                                       method=model.method, test=model.test)
            record.update(estimate=_back(spec, fit.estimate, scale),
                          ci_low=_back(spec, fit.ci_low, scale),
                          ci_high=_back(spec, fit.ci_high, scale), tau2=_plain(fit.tau2),
                          i2=_plain(fit.i2))
        records.append(record)
    return object_frame(records, columns)


def results_table(scenarios: bool = True) -> pd.DataFrame:
    """Every pooled result of the review: one row per question x outcome x scenario x model.

    With ``scenarios=False`` only the primary data with the primary model. With
    ``scenarios=True`` also every sensitivity scenario of the data (primary model) and the
    primary data under DerSimonian-Laird with z. Columns are :data:`RESULT_COLUMNS`; numeric
    cells are plain Python floats/ints or None (object columns, so nothing turns into NaN).
    """
    records = []
    names_by_question = {question: (scenario_names(question) if scenarios else ["primary"])
                      for question in dict.fromkeys(spec.question for spec in ANALYSES)}
    loaded: dict[tuple[str, str], pd.DataFrame] = {}  # each scenario's table is built once
    for spec in ANALYSES:
        for scenario in names_by_question[spec.question]:
            key = (spec.question, scenario)
            if key not in loaded:
                loaded[key] = load_effect_sizes(spec.question, scenario)
            model_names = ["primary", "dl_z"] if (scenarios and scenario == "primary") else ["primary"]
            for model_name in model_names:
                result = run_analysis(spec.question, spec.outcome, scenario, model=model_name,
                                      effect_sizes=loaded[key])
                records.append({column: result[column] for column in RESULT_COLUMNS})
    return object_frame(records, RESULT_COLUMNS)


def _published_rows() -> dict[str, dict]:
    path = data_dir() / "published_syntheses.csv"
    table = pd.read_csv(path, dtype=str, keep_default_na=False)
    return {record["synthesis_id"]: record for record in table.to_dict("records")}


def published_comparison(results: pd.DataFrame | None = None) -> pd.DataFrame:
    """This review's primary estimate for each outcome beside the published review's.

    One row per outcome of :data:`ANALYSES`. ``results`` defaults to
    ``results_table(scenarios=False)``. Published values are as printed in
    ``data/published_syntheses.csv`` (their k and N where printed; None otherwise).
    """
    if results is None:
        results = results_table(scenarios=False)
    primary = results[(results["scenario"] == "primary") & (results["model_name"] == "primary")]
    published = _published_rows()
    records = []
    for spec in ANALYSES:
        mine = primary[(primary["question"] == spec.question) & (primary["outcome"] == spec.outcome)]
        mine_row = mine.iloc[0].to_dict() if len(mine) else {}
        theirs = published.get(spec.published_id or "", {})
        records.append({
            "question": spec.question, "outcome": spec.outcome, "outcome_label": spec.label,
            "measure": spec.reader_measure,
            "k": mine_row.get("k"), "n": mine_row.get("n"),
            "estimate": mine_row.get("estimate"), "ci_low": mine_row.get("ci_low"),
            "ci_high": mine_row.get("ci_high"), "model": mine_row.get("model"),
            "published_review": theirs.get("review") or None,
            "published_id": spec.published_id,
            "published_measure": theirs.get("measure") or None,
            "published_estimate": _plain(theirs.get("estimate") or None),
            "published_ci_low": _plain(theirs.get("ci_low") or None),
            "published_ci_high": _plain(theirs.get("ci_high") or None),
            "published_p": theirs.get("p_reported") or None,
            "published_k": _int_or_none(theirs.get("k_reported")),
            "published_n": _int_or_none(theirs.get("n_reported")),
            "note": spec.published_note,
        })
    return object_frame(records, list(records[0]))


def _int_or_none(text: Any) -> int | None:
    number = _plain(text if text not in ("", None) else None)
    return None if number is None else int(number)


def cumulative_by_study(question: str, outcome: str, scenario: str = "primary") -> pd.DataFrame:
    """The pooled estimate as each study was added, oldest first (a cumulative meta-analysis).

    Step i pools the first i effect sizes ordered by year (then study id) with the primary
    model, as metafor's ``cumul()`` does (Lau et al. 1992, N Engl J Med 327:248; Viechtbauer
    2010, J Stat Softw 36(3)), through ``sensitivity.cumulative_meta_analysis``. Step 1 is not
    pooled: it shows the first study's own estimate with its 95% Wald interval.
    Columns: step, added, year, k, n, measure, pooled, estimate, ci_low, ci_high (reader's
    scale), tau2, i2 (analysis scale; None at step 1).
    """
    spec = analysis_spec(question, outcome)
    model = MODELS["primary"]
    rows = _effect_sizes(spec, scenario)
    columns = ["step", "added", "year", "k", "n", "measure", "pooled", "estimate", "ci_low",
               "ci_high", "tau2", "i2"]
    if rows.empty:
        return object_frame([], columns)
    steps = _cumulative_fits(rows, model)
    records = []
    for step, fit in enumerate(steps, start=1):
        part = rows.iloc[:step]
        added = part.iloc[-1]
        records.append({
            "step": step, "added": str(added["study_id"]),
            "year": _int_or_none(added.get("year")), "k": step,
            "n": _participants(part)[0], "measure": spec.reader_measure, "pooled": step >= 2,
            "estimate": _back(spec, fit["estimate"]), "ci_low": _back(spec, fit["ci_low"]),
            "ci_high": _back(spec, fit["ci_high"]),
            "tau2": _plain(fit["tau2"]) if step >= 2 else None,
            "i2": _plain(fit["i2"]) if step >= 2 else None,
        })
    return object_frame(records, columns)


def _cumulative_fits(rows: pd.DataFrame, model: ModelSpec) -> list[dict]:
    """Analysis-scale estimate, CI, tau² and I² after each added row (rows already in order)."""
    yi = rows["yi"].astype(float).to_numpy()
    vi = rows["vi"].astype(float).to_numpy()
    try:
        from .sensitivity import cumulative_meta_analysis
    except ImportError:  # the engine without its sensitivity module: pool each prefix here
        cumulative_meta_analysis = None
    if cumulative_meta_analysis is not None:
        table = cumulative_meta_analysis(yi, vi, labels=[str(s) for s in rows["study_id"]],
                                         method=model.method, test=model.test)
        return table[["estimate", "ci_low", "ci_high", "tau2", "i2"]].to_dict("records")
    fits = []
    for step in range(1, len(rows) + 1):
        if step == 1:
            # 97.5% normal quantile: the first study's own Wald interval, as cumul() shows it.
            half = 1.959963984540054 * math.sqrt(vi[0])
            fits.append({"estimate": yi[0], "ci_low": yi[0] - half, "ci_high": yi[0] + half,
                         "tau2": 0.0, "i2": 0.0})
            continue
        fit = models.meta_analysis(yi[:step], vi[:step], method=model.method, test=model.test)
        fits.append({"estimate": fit.estimate, "ci_low": fit.ci_low, "ci_high": fit.ci_high,
                     "tau2": fit.tau2, "i2": fit.i2})
    return fits
