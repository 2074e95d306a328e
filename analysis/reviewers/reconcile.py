"""Two reviewers: comparing their extractions and risk-of-bias judgements field by field,
recording the consensus, and measuring agreement.

The first reviewer's values are the analysis tables (``extraction.csv``, ``risk_of_bias.csv``;
reviewer :data:`FIRST_REVIEWER`). A second reviewer, blind to them, writes their own in long form
(``extraction_independent.csv``: one row per study, statistic (``row_key``), field and reviewer;
``risk_of_bias_independent.csv``: one row per study, domain and reviewer), starting from the forms
of :mod:`analysis.commands.review_forms`, which leave the first reviewer's values out.

Rows are paired through ``extraction_links.csv`` (the second reviewer's ``row_key`` -> the first
reviewer's ``extraction_id``), or by the key itself where both reviewers wrote the same one
(``comparison_id/outcome_id`` for q1, ``comparison_id/outcome/timepoint_group`` for q2).

What is compared: numbers (agree within the coarser printed precision,
:func:`analysis.reviewers.agreement.printed_numbers_agree`), categorical fields (vocabularies and yes/no;
exact) and identifiers (DOI, overlap ids; exact). Free-text descriptions (population, measures,
arms, notes, excerpts, URLs) are not scored: two correct descriptions rarely match word for word.
A field one reviewer left empty because they could not reopen the source (``source_reopened`` =
partly / no) is "not read", which is neither agreement nor disagreement; the study then rests on
one reviewer for that field, and the tables say so.

A disagreement is resolved by a row of ``reconciliation.csv`` (or
``risk_of_bias_reconciliation.csv``) holding both reviewers' values, the consensus, who resolved
it and why; it stays resolved while the analysis table holds the consensus and the second
reviewer's value is unchanged. A study with an open disagreement is pooled with the flag
``extraction_not_reconciled`` (see :func:`pooling_flags`): the review states the flag rather than
silently dropping the study.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from analysis.io import reviewer_tables, schemas
from .agreement import KappaResult, cohen_kappa_ci, printed_numbers_agree
from analysis.io.paths import data_dir as default_data_dir
from analysis.io.validate import read_csv_text, load

__all__ = ["FIRST_REVIEWER", "ROW", "field_kind", "compare_extraction", "compare_risk_of_bias",
           "ExtractionAgreement", "extraction_agreement", "RiskOfBiasAgreement", "risk_of_bias_agreement",
           "study_status", "pooling_flags", "add_pooling_flags", "compare_grade", "GradeAgreement",
           "grade_agreement", "GRADE_DOMAINS", "GRADE_COMPUTED_DOMAINS", "NOT_RECONCILED",
           "SECOND_EXTRACTION_MISSING"]

FIRST_REVIEWER = "reviewer_2"  # the first round (analysis.selection.screening.FIRST_ROUND_REVIEWER)
ROW = "(row)"  # the "field" of a statistic that only one reviewer extracted
NOT_RECONCILED = "extraction_not_reconciled"
SECOND_EXTRACTION_MISSING = "second_extraction_missing"
_KEYS = {"q1_webhelp": ("comparison_id", "outcome_id"),
         "q2_interventions": ("comparison_id", "outcome", "timepoint_group")}
_IDENTIFIERS = ("doi", "possible_sample_overlap")
_NOT_COMPARED = ("extraction_id", "study_id", "record_id")
COMPARE_COLUMNS = ["study_id", "extraction_id", "row_key", "field", "kind", "reviewer_a", "value_a",
                   "reviewer_b", "value_b", "status", "open", "consensus", "resolved_by", "reason", "note"]


def _root(data_dir: Path | str | None) -> Path:
    return Path(data_dir) if data_dir is not None else default_data_dir()


def _optional(question: str, table: str, data_dir: Path | str | None) -> pd.DataFrame | None:
    folder = schemas.question_folder(question)
    if not (_root(data_dir) / folder / schemas.optional_schema(folder, table).file).exists():
        return None
    return load(question, table, data_dir)


def field_kind(question: str, field: str) -> str:
    """How a field is compared: "number", "category", "identifier" or "text" (not scored)."""
    folder = schemas.question_folder(question)
    column = schemas.schema_for(folder, "extraction").column(field)
    if field in _IDENTIFIERS:
        return "identifier"
    if column.kind in ("printed", "printed_p", "int"):
        return "number"
    if column.allowed is not None or column.kind == "yesno":
        return "category"
    return "text"


def _agree(kind: str, column_kind: str, a: str, b: str) -> bool:
    if kind == "number":
        return printed_numbers_agree(a, b, column_kind)
    if kind == "identifier":
        return a.lower() == b.lower() if column_kind == "doi" else set(a.split()) == set(b.split())
    return a == b


def _first_long(question: str, data_dir) -> tuple[pd.DataFrame, dict[tuple[str, str], str]]:
    """The first reviewer's extraction as {(extraction_id, field): value} rows, and each row's key."""
    folder = schemas.question_folder(question)
    table = load(question, "extraction", data_dir)
    keys = {}
    records = []
    for _, row in table.iterrows():
        key = "/".join(str(row[c]) for c in _KEYS[folder])
        keys[(str(row["study_id"]), key)] = str(row["extraction_id"])
        for field in table.columns:
            if field in ("row",) + _NOT_COMPARED:
                continue
            value = row[field]
            records.append({"study_id": row["study_id"], "extraction_id": row["extraction_id"],
                            "field": field, "value": "" if pd.isna(value) else str(value)})
    return pd.DataFrame.from_records(records, columns=["study_id", "extraction_id", "field", "value"]), keys


def _reconciled(table: pd.DataFrame | None, key_columns: list[str]) -> dict[tuple, dict]:
    if table is None:
        return {}
    return {tuple(str(row[c]) for c in key_columns): row.to_dict() for _, row in table.iterrows()}


def compare_extraction(question: str, data_dir: Path | str | None = None) -> pd.DataFrame:
    """Every compared field of every paired statistic (columns :data:`COMPARE_COLUMNS`).

    ``status``: "agree", "disagree" or "not read" (the second reviewer could not reopen that part
    of the source); ``value_a`` is the first reviewer's value as entered (the value recorded at
    reconciliation where the analysis table now holds another consensus); ``open`` is True for a
    disagreement without a consensus that still applies. Empty when no second extraction exists.
    """
    folder = schemas.question_folder(question)
    second = _optional(question, "extraction_independent", data_dir)
    if second is None or second.empty:
        return pd.DataFrame(columns=COMPARE_COLUMNS)
    first, keys = _first_long(question, data_dir)
    schema = schemas.schema_for(folder, "extraction")
    status_rows = second[second["field"] == reviewer_tables.STATUS_FIELD]
    reopened = {(r.study_id, r.reviewer): r.value for r in status_rows.itertuples()}
    second = second[second["field"] != reviewer_tables.STATUS_FIELD]
    links = _optional(question, "extraction_links", data_dir)
    linked = dict(keys)
    if links is not None:
        linked.update({(str(r.study_id), str(r.row_key)): str(r.extraction_id) for r in links.itertuples()})
    decided = _reconciled(_optional(question, "reconciliation", data_dir),
                          ["study_id", "extraction_id", "row_key", "field"])
    now = {(r.extraction_id, r.field): r.value for r in first.itertuples()}
    records = []

    def add(study, extraction_id, row_key, field, kind, reviewer_b, a_now, b, status_b):
        key = (study, extraction_id, row_key, field)
        decision = decided.get(key)
        # agreement is measured on the values as the reviewers entered them: where a consensus is
        # recorded, the first reviewer's value it records (the table may now hold the consensus)
        a = a_now if decision is None else str(decision["value_a"])
        if a == "" and b == "":
            return
        if _agree(kind, _column_kind(field), a, b):
            status = "agree"
        elif b == "" and status_b != "yes":
            status = "not read"
        else:
            status = "disagree"
        is_open = False
        note = ""
        if status == "disagree":
            if decision is None:
                is_open, note = True, "no consensus recorded"
            elif str(decision["value_b"]) != b:
                is_open, note = True, "the second reviewer's value changed since the consensus"
            elif not _agree(kind, _column_kind(field), str(decision["consensus"]), a_now):
                is_open, note = True, "the analysis table does not hold the consensus"
        records.append({"study_id": study, "extraction_id": extraction_id, "row_key": row_key,
                        "field": field, "kind": kind, "reviewer_a": FIRST_REVIEWER, "value_a": a,
                        "reviewer_b": reviewer_b, "value_b": b, "status": status, "open": is_open,
                        "consensus": "" if decision is None else str(decision["consensus"]),
                        "resolved_by": "" if decision is None else str(decision["resolved_by"]),
                        "reason": "" if decision is None else str(decision["reason"]), "note": note})

    def _column_kind(field):
        return schema.column(field).kind if field in schema.names else "text"

    paired_first = set()
    for (study, row_key, reviewer_b), rows in second.groupby(["study_id", "row_key", "reviewer"], sort=False):
        values = dict(zip(rows["field"], rows["value"]))
        extraction_id = linked.get((study, row_key), "")
        status_b = reopened.get((study, reviewer_b), "yes")
        if not extraction_id:
            add(study, "", row_key, ROW, "row", reviewer_b, "", "extracted", status_b)
            continue
        paired_first.add(extraction_id)
        for field in schema.names:
            if field in _NOT_COMPARED or field_kind(folder, field) == "text":
                continue
            add(study, extraction_id, row_key, field, field_kind(folder, field), reviewer_b,
                now.get((extraction_id, field), ""), str(values.get(field, "")), status_b)
    second_reviewers = {s: r for (s, r) in reopened}
    for (study, extraction_id), _ in first.groupby(["study_id", "extraction_id"], sort=False):
        if extraction_id in paired_first or study not in second_reviewers:
            continue
        reviewer_b = second_reviewers[study]
        add(study, extraction_id, "", ROW, "row", reviewer_b, "extracted", "",
            reopened.get((study, reviewer_b), "yes"))
    return pd.DataFrame.from_records(records, columns=COMPARE_COLUMNS)


def compare_risk_of_bias(question: str, data_dir: Path | str | None = None) -> pd.DataFrame:
    """Every study and domain judged by both reviewers: study_id, tool, domain, value_a (first
    reviewer, ``risk_of_bias.csv``), reviewer_b, value_b, status, open, consensus, resolved_by,
    reason. Empty when no second reviewer judged risk of bias."""
    columns = ["study_id", "tool", "domain", "reviewer_a", "value_a", "reviewer_b", "value_b",
               "status", "open", "consensus", "resolved_by", "reason"]
    second = _optional(question, "risk_of_bias_independent", data_dir)
    first_path = _root(data_dir) / schemas.question_folder(question) / "risk_of_bias.csv"
    if second is None or not first_path.exists():
        return pd.DataFrame(columns=columns)
    first = read_csv_text(first_path)
    now = {(r.study_id, r.tool, r.domain): r.judgement for r in first.itertuples()}
    decided = _reconciled(_optional(question, "risk_of_bias_reconciliation", data_dir),
                          ["study_id", "tool", "domain"])
    records = []
    for row in second.itertuples():
        key = (row.study_id, row.tool, row.domain)
        a_now, b = now.get(key, ""), row.judgement
        decision = decided.get(key)
        a = str(decision["value_a"]) if decision is not None else a_now
        status = "agree" if a == b else "disagree"
        is_open = status == "disagree" and (decision is None or str(decision["value_b"]) != b
                                            or str(decision["consensus"]) != a_now)
        records.append({"study_id": row.study_id, "tool": row.tool, "domain": row.domain,
                        "reviewer_a": FIRST_REVIEWER, "value_a": a, "reviewer_b": row.reviewer,
                        "value_b": b, "status": status, "open": is_open,
                        "consensus": "" if decision is None else str(decision["consensus"]),
                        "resolved_by": "" if decision is None else str(decision["resolved_by"]),
                        "reason": "" if decision is None else str(decision["reason"])})
    return pd.DataFrame.from_records(records, columns=columns)


# ----------------------------------------------------------------------------- agreement

def _percent(frame: pd.DataFrame) -> tuple[int, int, float | None]:
    scored = frame[frame["status"].isin(["agree", "disagree"])]
    n, agree = int(len(scored)), int((scored["status"] == "agree").sum())
    return n, agree, (agree / n if n else None)


@dataclass(frozen=True)
class ExtractionAgreement:
    """Agreement of the two extractions of one question.

    ``by_field``: field, kind, compared, agree, percent, not_read, kappa, kappa_ci_low, kappa_ci_high (kappa
    for categorical fields where defined); ``by_study``: study_id, compared, agree, percent,
    not_read, disagreements, open, status; ``numbers`` / ``identifiers``: (compared, agree,
    proportion); ``categories``: Cohen's kappa over every categorical field (categories are
    field=value); ``rows``: statistics paired, and extracted by one reviewer only;
    ``disagreements``: every disagreement with its consensus, who resolved it and why.
    """

    question: str
    by_field: pd.DataFrame
    by_study: pd.DataFrame
    numbers: tuple[int, int, float | None]
    identifiers: tuple[int, int, float | None]
    categories: KappaResult
    rows: dict
    disagreements: pd.DataFrame


def extraction_agreement(question: str, data_dir: Path | str | None = None) -> ExtractionAgreement:
    """Per field, per study and overall agreement of the two extractions (see the class)."""
    compared = compare_extraction(question, data_dir)
    fields = compared[compared["field"] != ROW]
    by_field = []
    for (field, kind), group in fields.groupby(["field", "kind"], sort=False):
        n, agree, share = _percent(group)
        kappa = None
        if kind == "category":
            scored = group[group["status"].isin(["agree", "disagree"])]
            kappa = cohen_kappa_ci(list(scored["value_a"]), list(scored["value_b"]))
        by_field.append({"field": field, "kind": kind, "compared": n, "agree": agree, "percent": share,
                         "not_read": int((group["status"] == "not read").sum()),
                         "kappa": None if kappa is None else kappa.kappa,
                         "kappa_ci_low": None if kappa is None else kappa.ci_low,
                         "kappa_ci_high": None if kappa is None else kappa.ci_high})
    by_study = []
    for study, group in compared.groupby("study_id", sort=False):
        n, agree, share = _percent(group[group["field"] != ROW])
        disagreements = int((group["status"] == "disagree").sum())
        open_count = int(group["open"].sum())
        by_study.append({"study_id": study, "compared": n, "agree": agree, "percent": share,
                         "not_read": int((group["status"] == "not read").sum()),
                         "disagreements": disagreements, "open": open_count,
                         "status": "reconciled" if open_count == 0 else "open disagreements"})
    categorical = fields[(fields["kind"] == "category") & fields["status"].isin(["agree", "disagree"])]
    kappa = cohen_kappa_ci([f"{f}={v}" for f, v in zip(categorical["field"], categorical["value_a"])],
                           [f"{f}={v}" for f, v in zip(categorical["field"], categorical["value_b"])])
    row_items = compared[compared["field"] == ROW]
    paired = compared.loc[compared["field"] != ROW, ["extraction_id", "row_key"]].drop_duplicates()
    return ExtractionAgreement(
        question=schemas.question_folder(question),
        by_field=pd.DataFrame(by_field, columns=["field", "kind", "compared", "agree", "percent", "not_read", "kappa",
                                                 "kappa_ci_low", "kappa_ci_high"]),
        by_study=pd.DataFrame(by_study, columns=["study_id", "compared", "agree", "percent", "not_read",
                                                 "disagreements", "open", "status"]),
        numbers=_percent(fields[fields["kind"] == "number"]),
        identifiers=_percent(fields[fields["kind"] == "identifier"]),
        categories=kappa,
        rows={"paired": int(len(paired)),
              "first_reviewer_only": int((row_items["value_a"] == "extracted").sum()),
              "second_reviewer_only": int((row_items["value_b"] == "extracted").sum())},
        disagreements=compared[compared["status"] == "disagree"].reset_index(drop=True),
    )


@dataclass(frozen=True)
class RiskOfBiasAgreement:
    """Agreement of the two risk-of-bias assessments: Cohen's kappa per tool over the domain
    judgements (``by_tool``: tool -> KappaResult), the overall judgements (``overall``), and
    every disagreement with its consensus (``disagreements``)."""

    question: str
    by_tool: dict
    overall: KappaResult
    disagreements: pd.DataFrame


def risk_of_bias_agreement(question: str, data_dir: Path | str | None = None) -> RiskOfBiasAgreement:
    compared = compare_risk_of_bias(question, data_dir)
    domains = compared[compared["domain"] != "Overall"]
    by_tool = {tool: cohen_kappa_ci(list(g["value_a"]), list(g["value_b"]))
               for tool, g in domains.groupby("tool", sort=False)}
    overall = compared[compared["domain"] == "Overall"]
    return RiskOfBiasAgreement(schemas.question_folder(question), by_tool,
                               cohen_kappa_ci(list(overall["value_a"]), list(overall["value_b"])),
                               compared[compared["status"] == "disagree"].reset_index(drop=True))


# ----------------------------------------------------------------------------- pooling

def study_status(question: str, data_dir: Path | str | None = None) -> pd.DataFrame:
    """One row per included study: study_id, status ("reconciled", "open disagreements" or
    "second extraction missing"), open (number of open disagreements)."""
    studies = load(question, "studies", data_dir)["study_id"].astype(str)
    compared = compare_extraction(question, data_dir)
    second = _optional(question, "extraction_independent", data_dir)
    extracted = set() if second is None else set(second["study_id"].astype(str))
    records = []
    for study in studies:
        open_count = int(compared.loc[compared["study_id"] == study, "open"].sum())
        if study not in extracted:
            status = "second extraction missing"
        else:
            status = "reconciled" if open_count == 0 else "open disagreements"
        records.append({"study_id": study, "status": status, "open": open_count})
    return pd.DataFrame(records, columns=["study_id", "status", "open"])


def pooling_flags(question: str, data_dir: Path | str | None = None) -> dict[str, str]:
    """study_id -> flag for studies whose extraction is not reconciled: ``extraction_not_reconciled``
    (open disagreements) or ``second_extraction_missing`` (the review has a second extraction, but
    not of this study). Such studies are pooled with the flag stated, not dropped. Empty when the
    review has no second extraction at all."""
    if _optional(question, "extraction_independent", data_dir) is None:
        return {}
    flags = {}
    for row in study_status(question, data_dir).itertuples():
        if row.status == "open disagreements":
            flags[row.study_id] = NOT_RECONCILED
        elif row.status == "second extraction missing":
            flags[row.study_id] = SECOND_EXTRACTION_MISSING
    return flags


def add_pooling_flags(effects: pd.DataFrame, question: str, data_dir: Path | str | None = None) -> pd.DataFrame:
    """The effect-size table with the flag of each study whose extraction is not reconciled
    appended to its ``flags`` (see :func:`pooling_flags`)."""
    flags = pooling_flags(question, data_dir)
    if not flags or effects.empty:
        return effects
    effects = effects.copy()
    effects["flags"] = ["; ".join(f for f in (str(old or ""), flags.get(study, "")) if f)
                        for old, study in zip(effects["flags"], effects["study_id"])]
    return effects


# ----------------------------------------------------------------------------- GRADE

# Only judgements are compared. Imprecision and inconsistency are computed from the pooled numbers
# (analysis.findings.grade_computed) and grade.csv must hold the computed value, so no reviewer's input
# decides them: comparing two reviewers on them would score agreement with arithmetic.
GRADE_COMPUTED_DOMAINS = reviewer_tables.GRADE_COMPUTED_DOMAINS
GRADE_DOMAINS = reviewer_tables.GRADE_JUDGED_DOMAINS  # risk of bias, indirectness, publication bias
GRADE_ITEMS = ("design", "studies") + GRADE_DOMAINS + ("upgrade_levels",)
# readers see this note in the agreement table: it names no module (the computing code is
# analysis.findings.grade_computed)
GRADE_NOT_COMPARED_NOTE = ("imprecision and inconsistency are computed from the pooled numbers, "
                           "not judged, and are not compared")
OUTCOME = "(outcome)"  # the "domain" of an outcome that only one reviewer judged


def compare_grade(question: str, data_dir: Path | str | None = None) -> pd.DataFrame:
    """Every judged GRADE item of every outcome judged by both reviewers (design, the studies as a
    set, the judged domains :data:`GRADE_DOMAINS`, upgrade levels with empty = 0; not the computed
    :data:`GRADE_COMPUTED_DOMAINS`), plus ``(outcome)`` rows for an outcome only one reviewer listed: outcome, domain, reviewer_a, value_a, reviewer_b, value_b, status, open,
    consensus, resolved_by, reason. Empty without a second reviewer's GRADE table."""
    columns = ["outcome", "domain", "reviewer_a", "value_a", "reviewer_b", "value_b", "status", "open",
               "consensus", "resolved_by", "reason"]
    second = _optional(question, "grade_independent", data_dir)
    first_path = _root(data_dir) / schemas.question_folder(question) / "grade.csv"
    if second is None or not first_path.exists():
        return pd.DataFrame(columns=columns)
    first = read_csv_text(first_path).set_index("outcome")
    decided = _reconciled(_optional(question, "grade_reconciliation", data_dir), ["outcome", "domain"])
    reviewer_b = str(second["reviewer"].iloc[0]) if len(second) else ""
    second = second.set_index("outcome")

    def norm(item: str, value: str) -> str:
        if item == "studies":
            return " ".join(sorted(value.split()))
        return (value or "0") if item == "upgrade_levels" else value

    records = []

    def add(outcome, item, a_now, b):
        decision = decided.get((outcome, item))
        a = a_now if decision is None else str(decision["value_a"])
        if a == b == "":
            return  # nothing judged (an outcome no study informs)
        status = "agree" if a == b else "disagree"
        is_open = status == "disagree" and (decision is None or str(decision["value_b"]) != b
                                            or str(decision["consensus"]) != a_now)
        records.append({"outcome": outcome, "domain": item, "reviewer_a": FIRST_REVIEWER, "value_a": a,
                        "reviewer_b": reviewer_b, "value_b": b, "status": status, "open": is_open,
                        "consensus": "" if decision is None else str(decision["consensus"]),
                        "resolved_by": "" if decision is None else str(decision["resolved_by"]),
                        "reason": "" if decision is None else str(decision["reason"])})

    for outcome in list(first.index) + [o for o in second.index if o not in first.index]:
        if outcome not in second.index or outcome not in first.index:
            add(outcome, OUTCOME, "listed" if outcome in first.index else "",
                "listed" if outcome in second.index else "")
            continue
        for item in GRADE_ITEMS:
            add(outcome, item, norm(item, str(first.at[outcome, item])), norm(item, str(second.at[outcome, item])))
    return pd.DataFrame.from_records(records, columns=columns)


@dataclass(frozen=True)
class GradeAgreement:
    """Agreement of the two GRADE assessments: Cohen's kappa over the judged domains
    (:data:`GRADE_DOMAINS`) of the outcomes both judged with studies (``domains``), percentage
    agreement over every judged item (``items``: compared, agree, share), every disagreement with
    its consensus, and ``not_compared`` saying which domains are computed and so not compared."""

    question: str
    domains: KappaResult
    items: tuple[int, int, float | None]
    disagreements: pd.DataFrame
    not_compared: str = GRADE_NOT_COMPARED_NOTE


def grade_agreement(question: str, data_dir: Path | str | None = None) -> GradeAgreement:
    compared = compare_grade(question, data_dir)
    judged = compared[compared["domain"].isin(GRADE_DOMAINS)
                      & ((compared["value_a"] != "") | (compared["value_b"] != ""))]
    return GradeAgreement(schemas.question_folder(question),
                          cohen_kappa_ci(list(judged["value_a"]), list(judged["value_b"])),
                          _percent(compared[compared["domain"] != OUTCOME]),
                          compared[compared["status"] == "disagree"].reset_index(drop=True))
