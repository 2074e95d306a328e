"""Risk of bias of the included studies: judgements per study and domain, read from ``data/``.

Two tools, one per study design:

* **RoB 2** (Sterne JAC et al. RoB 2: a revised tool for assessing risk of bias in randomised
  trials. BMJ 2019;366:l4898) for the randomised trials of question 2: domains D1-D5 and an
  overall judgement in {low, some concerns, high}; a domain that the available text does not let
  us judge is recorded as "no information".
* **JBI critical appraisal checklist for analytical cross-sectional studies** (Moola S et al.
  Chapter 7: Systematic reviews of etiology and risk. In: Aromataris E, Munn Z (eds). JBI Manual
  for Evidence Synthesis, 2020) for the cross-sectional studies of question 1: eight items answered
  yes / no / unclear / not applicable. JBI defines no overall score; this review derives one with a
  stated rule (:func:`jbi_overall`) so that studies can be compared at a glance.

``data/<question>/risk_of_bias.csv`` holds one row per study and domain with columns
``study_id, tool, domain, judgement, support, rationale, source_record, basis``. ``support`` quotes
the text that supports the judgement verbatim, or says that the information is not reported in the
available abstract; ``basis`` says what text the judgement rests on (abstract-level text only).
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from analysis.io.problems import Problem

from .judgement_tables import column_values, read_for_checking

ROB2 = "RoB 2"
JBI_CROSS_SECTIONAL = "JBI analytical cross-sectional"

ROB2_DOMAINS: dict[str, str] = {
    "D1": "Bias arising from the randomisation process",
    "D2": "Bias due to deviations from intended interventions",
    "D3": "Bias due to missing outcome data",
    "D4": "Bias in measurement of the outcome",
    "D5": "Bias in selection of the reported result",
    "Overall": "Overall risk of bias",
}

# Item wording from the JBI checklist; in this review the exposure is depressive symptoms and the
# outcome is web-based help seeking.
JBI_CROSS_SECTIONAL_ITEMS: dict[str, str] = {
    "Q1": "Criteria for inclusion in the sample clearly defined",
    "Q2": "Study subjects and setting described in detail",
    "Q3": "Exposure (depressive symptoms) measured in a valid and reliable way",
    "Q4": "Objective, standard criteria used for measurement of the condition",
    "Q5": "Confounding factors identified",
    "Q6": "Strategies to deal with confounding factors stated",
    "Q7": "Outcome (web-based help seeking) measured in a valid and reliable way",
    "Q8": "Appropriate statistical analysis used",
    "Overall": "Overall risk of bias (review's rule)",
}

TOOL_NAMES: dict[str, str] = {
    ROB2: "RoB 2: Cochrane risk-of-bias tool for randomised trials (Sterne et al. 2019)",
    JBI_CROSS_SECTIONAL: "JBI checklist for analytical cross-sectional studies (Moola et al. 2020)",
}

TOOLS: dict[str, dict[str, str]] = {ROB2: ROB2_DOMAINS, JBI_CROSS_SECTIONAL: JBI_CROSS_SECTIONAL_ITEMS}

OVERALL_JUDGEMENTS = ("low", "some concerns", "high")
DOMAIN_JUDGEMENTS: dict[str, tuple[str, ...]] = {
    ROB2: ("low", "some concerns", "high", "no information"),
    JBI_CROSS_SECTIONAL: ("yes", "no", "unclear", "not applicable"),
}
NOT_REPORTED = "not reported in the available abstract"
DERIVED = "derived from the domain judgements"

COLUMNS = ("study_id", "tool", "domain", "judgement", "support", "rationale", "source_record", "basis")

_SEVERITY = {"low": 0, "some concerns": 1, "high": 2}
# RoB 2 guidance: "no information" cannot support a low overall judgement.
_ROB2_DOMAIN_SEVERITY = {"low": 0, "some concerns": 1, "no information": 1, "high": 2}
_JBI_CRITICAL_ITEMS = ("Q3", "Q4", "Q5", "Q6", "Q7")


class RiskOfBiasError(ValueError):
    """The risk-of-bias table breaks a rule; ``problems`` lists every one found."""

    def __init__(self, problems: list[Problem]):
        self.problems = list(problems)
        super().__init__("\n".join(str(problem) for problem in self.problems))


def domain_labels(tool: str) -> dict[str, str]:
    """Domain code -> label for a tool, in display order (the overall judgement last)."""
    if tool not in TOOLS:
        raise ValueError(f"unknown risk-of-bias tool {tool!r}; expected one of {sorted(TOOLS)}")
    return dict(TOOLS[tool])


def jbi_overall(items: dict[str, str]) -> str:
    """This review's overall judgement from the eight JBI answers.

    high: any confounding (Q5, Q6) or measurement (Q3, Q4, Q7) item answered "no";
    low: every item "yes" or "not applicable"; some concerns: otherwise.
    """
    if any(items.get(q) == "no" for q in _JBI_CRITICAL_ITEMS):
        return "high"
    if all(items.get(f"Q{i}") in ("yes", "not applicable") for i in range(1, 9)):
        return "low"
    return "some concerns"


def rob2_minimum_overall(domains: dict[str, str]) -> str:
    """The least severe overall RoB 2 judgement the domain judgements allow (Sterne 2019, Table 2):
    low only if every domain is low; high if any domain is high; otherwise at least some concerns.
    """
    worst = max((_ROB2_DOMAIN_SEVERITY[j] for j in domains.values()), default=0)
    return OVERALL_JUDGEMENTS[worst]


def _extraction_study_ids(question: str, root: Path) -> set[str] | None:
    return column_values(question, "extraction", "study_id", root)


def _known_study(study_id: str, extraction_ids: set[str]) -> bool:
    # A trial with several arms is extracted as "<study>_<arm>" rows; it is appraised once.
    return study_id in extraction_ids or any(e.startswith(study_id + "_") for e in extraction_ids)


def risk_of_bias_problems(question: str, *, root: Path | None = None) -> list[Problem]:
    """Every problem in ``data/<question>/risk_of_bias.csv`` (empty list when valid)."""
    table, problems, where, root = read_for_checking(question, "risk_of_bias.csv", COLUMNS, root=root)
    if table is None:
        return problems

    extraction_ids = _extraction_study_ids(question, root)
    if extraction_ids is None:
        problems.append(Problem(where, None, None,
                                f"cannot check study ids, {question}/extraction.csv not found"))
    record_ids = column_values(question, "records", "record_id", root)
    seen: dict[tuple[str, str], int] = {}
    for index, row in table.iterrows():
        line = index + 2  # header is line 1
        values = {c: str(row[c]).strip() for c in COLUMNS}
        for column in ("study_id", "tool", "domain", "judgement", "support", "rationale", "basis"):
            if not values[column]:
                problems.append(Problem(where, line, column, "empty"))
        study, tool, domain, judgement = (values[c] for c in ("study_id", "tool", "domain", "judgement"))
        if tool and tool not in TOOLS:
            problems.append(Problem(where, line, "tool", f"{tool!r} is not one of {sorted(TOOLS)}"))
            continue
        if study and extraction_ids is not None and not _known_study(study, extraction_ids):
            problems.append(Problem(where, line, "study_id", f"{study!r} is not a study in "
                                                             f"{question}/extraction.csv"))
        if values["source_record"] and record_ids is not None and values["source_record"] not in record_ids:
            problems.append(Problem(where, line, "source_record", f"{values['source_record']!r} is "
                                                                  f"not a record in {question}/records.csv"))
        if domain and tool and domain not in TOOLS[tool]:
            problems.append(Problem(where, line, "domain", f"{domain!r} is not a {tool} domain "
                                                           f"({', '.join(TOOLS[tool])})"))
        elif domain and judgement:
            allowed = OVERALL_JUDGEMENTS if domain == "Overall" else DOMAIN_JUDGEMENTS[tool]
            if judgement not in allowed:
                problems.append(Problem(where, line, "judgement", f"{judgement!r} is not allowed for "
                                                                  f"{domain} (allowed: {', '.join(allowed)})"))
        if study and domain:
            if (study, domain) in seen:
                problems.append(Problem(where, line, None, f"study {study!r}, domain {domain!r} already "
                                                           f"given on line {seen[(study, domain)]}"))
            else:
                seen[(study, domain)] = line
    if problems:
        return problems

    for study, rows in table.groupby("study_id", sort=False):
        tools = set(rows["tool"])
        if len(tools) > 1:
            problems.append(Problem(where, None, None, f"study {study!r} is appraised with more than "
                                                       f"one tool ({', '.join(sorted(tools))})"))
            continue
        tool = tools.pop()
        given = dict(zip(rows["domain"], rows["judgement"]))
        absent = [d for d in TOOLS[tool] if d not in given]
        if absent:
            problems.append(Problem(where, None, None,
                                    f"study {study!r} has no row for domain(s) {', '.join(absent)}"))
            continue
        domains = {d: j for d, j in given.items() if d != "Overall"}
        if tool == ROB2:
            floor = rob2_minimum_overall(domains)
            if _SEVERITY[given["Overall"]] < _SEVERITY[floor]:
                problems.append(Problem(where, None, None, f"study {study!r} overall {given['Overall']!r} "
                                                           f"is less severe than its domains allow "
                                                           f"(at least {floor!r})"))
        else:
            expected = jbi_overall(domains)
            if given["Overall"] != expected:
                problems.append(Problem(where, None, None, f"study {study!r} overall {given['Overall']!r} "
                                                           f"does not follow the review's JBI rule, "
                                                           f"which gives {expected!r}"))
    return problems


def load_risk_of_bias(question: str, *, root: Path | None = None) -> pd.DataFrame:
    """The validated risk-of-bias table of ``question`` ("q1_webhelp" or "q2_interventions").

    Returns one row per study and domain with the file's columns plus ``domain_label``; raises
    :class:`RiskOfBiasError` listing every problem (file, line, column) when the table is invalid.
    """
    problems = risk_of_bias_problems(question, root=root)
    if problems:
        raise RiskOfBiasError(problems)
    table = read_for_checking(question, "risk_of_bias.csv", COLUMNS, root=root)[0]
    table = table.apply(lambda column: column.str.strip())
    table["domain_label"] = [TOOLS[t][d] for t, d in zip(table["tool"], table["domain"])]
    return table


def risk_of_bias_wide(rob: pd.DataFrame) -> pd.DataFrame:
    """Studies as rows, domains as columns (in the tool's order), judgements as cells."""
    order = [d for tool in dict.fromkeys(rob["tool"]) for d in TOOLS[tool]]
    wide = rob.pivot(index="study_id", columns="domain", values="judgement")
    wide = wide.reindex(index=list(dict.fromkeys(rob["study_id"])),
                        columns=list(dict.fromkeys(order)))
    wide.columns.name = None
    return wide.reset_index()
