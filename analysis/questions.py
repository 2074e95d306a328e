"""The registry of what the review asks: its questions, their analyses and the models used.

This is the one place that names a question. A question has one id ("q1", "q2") used in code,
results and the book; its data live in a folder under ``data/`` ("q1_webhelp"). Functions that
take a question accept either spelling at the boundary (:func:`question`) and use the id inside.
The list of analyses is data (:data:`ANALYSES`): a new outcome is a new entry, not new code.

Model choice. Each question has only a handful of studies. With so few, the DerSimonian-Laird
estimator with a normal (z) test gives confidence intervals that are too narrow; the primary
model is therefore REML for tau² with the Hartung-Knapp-Sidik-Jonkman (Knapp-Hartung) t-based
interval (Cochrane Handbook v6.4, section 10.10.4; IntHout, Ioannidis & Borm 2014, BMC Med Res
Methodol 14:25). DerSimonian-Laird with z is kept as a sensitivity analysis.
"""
from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["Question", "QUESTIONS", "UnknownQuestion", "question", "question_ids",
           "ModelSpec", "MODELS", "AnalysisSpec", "ANALYSES", "analysis_spec", "analyses_of"]


class UnknownQuestion(KeyError):
    """A question id or folder that the registry does not know."""

    def __str__(self) -> str:  # KeyError would print the message with quotes around it
        return str(self.args[0])


@dataclass(frozen=True)
class Question:
    """One question of the review."""

    id: str  # "q1": used in code, results and the book
    folder: str  # "q1_webhelp": its folder under data/
    number: int
    title: str  # what readers see after "Question n: "
    subgroup_by: str  # what the effect-size table's ``subgroup`` column means here
    published_review: str  # the review this question updates, as cited
    favours: tuple[str, str]  # words under the left and right side of its forest plots

    @property
    def label(self) -> str:
        return f"Question {self.number}: {self.title}"


QUESTIONS: tuple[Question, ...] = (
    Question("q1", "q1_webhelp", 1, "web-based help seeking and depressive symptoms",
             "form of web-based help seeking", "Bizzotto et al. 2023",
             ("Negative association", "Positive association")),
    Question("q2", "q2_interventions", 2, "interventions to improve help seeking",
             "intervention type", "Ni et al. 2025",
             ("Favours control", "Favours intervention")),
)


def question(name: str | Question) -> Question:
    """The question with this id ("q1") or data folder ("q1_webhelp")."""
    if isinstance(name, Question):
        return name
    for entry in QUESTIONS:
        if name in (entry.id, entry.folder):
            return entry
    known = ", ".join(f"{q.id} ({q.folder})" for q in QUESTIONS)
    raise UnknownQuestion(f"unknown question {name!r}; known: {known}")


def question_ids() -> list[str]:
    return [entry.id for entry in QUESTIONS]


@dataclass(frozen=True)
class ModelSpec:
    """One random-effects model: tau² estimator and the test for the pooled estimate."""

    name: str  # short key stored in results: "primary" or "dl_z"
    method: str  # tau² estimator, as in analysis.engine.meta_analysis.meta_analysis
    test: str  # "knha" (t with k-1 df, Knapp-Hartung) or "z"
    description: str


MODELS: dict[str, ModelSpec] = {
    "primary": ModelSpec("primary", "REML", "knha", "REML, Knapp-Hartung (HKSJ) t-based interval"),
    "dl_z": ModelSpec("dl_z", "DL", "z", "DerSimonian-Laird, normal (z) interval"),
}


@dataclass(frozen=True)
class AnalysisSpec:
    """One outcome of one question, as the book reports it."""

    question: str  # question id, "q1" or "q2"
    outcome: str  # value of the effect-size table's ``outcome`` column
    label: str  # what readers see
    analysis_measure: str  # scale of yi/vi, a key of analysis.measures.MEASURES
    reader_measure: str  # scale shown: "r", "OR", "SMD"
    subgroup_by: str
    published_id: str | None  # synthesis_id in data/published_syntheses.csv
    published_note: str = ""  # why the published number is (or is not) comparable
    aliases: tuple[str, ...] = field(default=())  # other outcome spellings in the data
    # The effect-size outcome this analysis draws on, when it is a subset of another outcome.
    source_outcome: str | None = None
    # Only effect sizes of this population group (effect-size column ``population_group``).
    population_group: str | None = None

    @property
    def key(self) -> str:
        return f"{self.question}/{self.outcome}"


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


def analysis_spec(question_name: str, outcome: str) -> AnalysisSpec:
    """The definition of one analysis; a clear error for an unknown question or outcome."""
    qid = question(question_name).id
    for spec in ANALYSES:
        if spec.question == qid and (outcome == spec.outcome or outcome in spec.aliases):
            return spec
    known = ", ".join(spec.key for spec in ANALYSES)
    raise KeyError(f"no analysis defined for question {qid!r}, outcome {outcome!r}; "
                   f"known analyses: {known}")


def analyses_of(question_name: str) -> list[AnalysisSpec]:
    qid = question(question_name).id
    return [spec for spec in ANALYSES if spec.question == qid]
