"""The review, built once from ``data/``: every stage computed once and handed forward.

:func:`current` returns the :class:`Review` of the data folder as it is now. It is rebuilt only
when a file under ``data/`` changes (the cache key is each file's path, size and modification
time), so every chapter, figure, table, the release command and the command line read the
same records, clusters, counts, effect sizes and pooled results. Each stage is computed on
first use and then held: views format what they are handed and never re-read files or refit.

Stages of one question (:class:`QuestionReview`): search log, records, automatic duplicate
links, clusters with the reviewers' links, screening decisions, flow counts (PRISMA), the
evidence tables, effect sizes per data scenario, each pooled analysis per scenario and model,
and the sensitivity analyses of each (leave-one-out, cumulative, Baujat, GOSH, small-study
tests), computed lazily from the held arrays. Review-wide stages: the results table, the
comparison with the published reviews and the audit of their printed numbers.

Held tables are shared: callers must not modify them (copy first).
"""
from __future__ import annotations

import threading
from functools import cached_property
from pathlib import Path
from types import MappingProxyType
from typing import Any, Mapping

import pandas as pd

from . import questions as registry
from .io.paths import data_dir
from .pooling.synthesis import Pooled

__all__ = ["Review", "QuestionReview", "current", "clear_cache"]

_LOCK = threading.Lock()
_CACHE: dict[Path, tuple[tuple, "Review"]] = {}


def _signature(root: Path) -> tuple:
    """Path, size and modification time of every file under ``root``: changes with any edit."""
    entries = []
    for path in sorted(root.rglob("*")):
        if path.is_file():
            stat = path.stat()
            entries.append((path.relative_to(root).as_posix(), stat.st_size, stat.st_mtime_ns))
    return tuple(entries)


def current(root: Path | str | None = None) -> "Review":
    """The review of the data folder (``data/``, or REVIEW_DATA_DIR) as it is now."""
    folder = Path(root).resolve() if root is not None else data_dir()
    signature = _signature(folder)
    with _LOCK:
        cached = _CACHE.get(folder)
        if cached is not None and cached[0] == signature:
            return cached[1]
        review = Review(folder)
        _CACHE[folder] = (signature, review)
        return review


def clear_cache() -> None:
    """Forget every built review (tests that rewrite files within one clock tick use it)."""
    with _LOCK:
        _CACHE.clear()


class QuestionReview:
    """Every stage of one question, each computed on first use and then held."""

    def __init__(self, review: "Review", question: registry.Question):
        self.review = review
        self.question = question
        self._effect_sizes: dict[str, pd.DataFrame] = {}
        self._pooled: dict[tuple[str, str, str], Pooled] = {}
        self._sensitivity: dict[tuple[str, str], Any] = {}

    def __repr__(self) -> str:
        return f"QuestionReview({self.question.id!r}, {str(self.review.root)!r})"

    @property
    def folder(self) -> Path:
        return self.review.root / self.question.folder

    # ------------------------------------------------------------------ tables as written
    def table(self, name: str) -> pd.DataFrame:
        """A validated table of this question (``validate.load``, read once)."""
        from .io.validate import load

        return load(self.question.id, name, self.review.root)

    @cached_property
    def search_log(self) -> pd.DataFrame:
        from .search import records

        return records.read_search_log(self.question.folder)

    @cached_property
    def records(self) -> pd.DataFrame:
        """Every record of every search run, in log order."""
        from .search import records

        return records.load_records(self.question.folder)

    @cached_property
    def automatic_clusters(self) -> pd.DataFrame:
        """Duplicate links found by the automatic rules alone."""
        from .search.dedup import dedup

        return dedup(self.records)

    @cached_property
    def reviewer_links(self) -> pd.DataFrame | None:
        """The reviewers' recorded links (``dedup_map.csv``), or None where there are none."""
        from .search import records

        if not (self.folder / "dedup_map.csv").exists():
            return None
        return records.labelled_clusters(self.question.folder)

    @cached_property
    def clusters(self) -> pd.DataFrame:
        """Every record with its duplicate cluster (automatic links joined with the reviewers')."""
        from .selection import screening

        return screening.clusters_table(self.records, self.reviewer_links)

    @cached_property
    def screening(self) -> pd.DataFrame:
        from .selection import screening

        return screening.read_screening(self.question.folder)

    @cached_property
    def counts(self) -> Mapping[str, Any]:
        """The flow counts of this question (PRISMA 2020, updated-review layout): the one
        definition of identified, unique, screened, awaiting full text, assessed, included."""
        from .selection import prisma

        counts = prisma.flow_counts(
            self.question.folder, clusters=self.clusters, automatic=self.automatic_clusters,
            screening=self.screening, search_log=self.search_log,
            queries=self._optional_table("queries"), previous=prisma.previous_version(self.question.folder))
        return MappingProxyType(counts)

    def _optional_table(self, name: str) -> pd.DataFrame | None:
        from .io import schemas

        schema = schemas.schema_for(self.question.id, name)
        return self.table(name) if (self.folder / schema.file).exists() else None

    # ------------------------------------------------------------------ evidence
    @cached_property
    def studies(self) -> pd.DataFrame:
        return self.table("studies")

    @cached_property
    def risk_of_bias(self) -> pd.DataFrame:
        """The checked risk-of-bias judgements, one row per study and domain."""
        from .evidence import rob

        return rob.load_risk_of_bias(self.question.folder, root=self.review.root)

    @cached_property
    def grade(self) -> pd.DataFrame:
        """The checked GRADE judgements with their computed certainty."""
        from .evidence import grade

        return grade.load_grade_table(self.question.folder, root=self.review.root)

    @cached_property
    def scenarios(self) -> list[str]:
        from .evidence import extraction

        return extraction.scenarios(self.question.id, self.review.root)

    def effect_sizes(self, scenario: str = "primary") -> pd.DataFrame:
        """Every effect size of this question in one data scenario (computed once)."""
        from .evidence import extraction

        if scenario not in self._effect_sizes:
            self._effect_sizes[scenario] = extraction.effect_sizes(self.question.id, scenario,
                                                                   self.review.root)
        return self._effect_sizes[scenario]

    def pooled(self, outcome: str, scenario: str = "primary", model: str = "primary") -> Pooled:
        """One pooled analysis (each outcome, scenario and model fitted once)."""
        from .pooling import synthesis

        spec = registry.analysis_spec(self.question.id, outcome)
        key = (spec.outcome, scenario, model)
        if key not in self._pooled:
            self._pooled[key] = synthesis.pool(spec, self.effect_sizes(scenario), scenario, model)
        return self._pooled[key]

    def sensitivity(self, outcome: str, kind: str) -> Any:
        """A sensitivity analysis of the primary analysis of ``outcome``, computed on first use
        from the held arrays: "leave_one_out", "cumulative", "baujat", "gosh", "egger", "panel" (the
        small-k inference panel of :mod:`analysis.pooling.panel`, None below two studies)."""
        from .engine.gosh import gosh
        from .engine.influence import baujat, leave_one_out
        from .engine.small_study import egger_test
        from .pooling import synthesis

        key = (outcome, kind)
        if key in self._sensitivity:
            return self._sensitivity[key]
        pooled = self.pooled(outcome)
        method, test = pooled.model.method, pooled.model.test
        if kind == "leave_one_out":
            value = leave_one_out(pooled.yi, pooled.vi, labels=pooled.labels, method=method, test=test)
        elif kind == "cumulative":
            value = synthesis.cumulative_table(pooled)
        elif kind == "baujat":
            value = baujat(pooled.yi, pooled.vi, labels=pooled.labels, method=method, test=test)
        elif kind == "gosh":
            value = gosh(pooled.yi, pooled.vi, labels=pooled.labels, method="FE")
        elif kind == "egger":
            value = egger_test(pooled.yi, pooled.vi, method=method)
        elif kind == "panel":
            from .pooling import panel

            value = panel.pooled_panel(pooled, data_dir=self.review.root)
        else:
            raise KeyError(f"unknown sensitivity analysis {kind!r}")
        self._sensitivity[key] = value
        return value

    def subgroup_analysis(self, outcome: str, scenario: str = "primary") -> Any:
        """The subgroup analysis of one held analysis (None with fewer than two subgroups)."""
        from .engine.subgroups import subgroup_analysis

        key = (outcome, f"subgroups:{scenario}")
        if key not in self._sensitivity:
            pooled = self.pooled(outcome, scenario)
            rows = pooled.effect_sizes
            value = None
            if pooled.result is not None and rows["subgroup"].nunique() >= 2:
                value = subgroup_analysis(
                    pooled.yi, pooled.vi, rows["subgroup"].astype(str).to_numpy(),
                    method=pooled.model.method, test=pooled.model.test, labels=pooled.labels)
            self._sensitivity[key] = value
        return self._sensitivity[key]

    @cached_property
    def included_studies(self) -> int:
        """Studies with at least one effect size in the primary data."""
        return int(self.effect_sizes()["study_id"].nunique())


class Review:
    """The whole review of one data folder. Build it with :func:`current`."""

    def __init__(self, root: Path):
        self.root = Path(root)
        self._questions: dict[str, QuestionReview] = {}

    def __repr__(self) -> str:
        return f"Review({str(self.root)!r})"

    def question(self, name: str) -> QuestionReview:
        entry = registry.question(name)
        if entry.id not in self._questions:
            self._questions[entry.id] = QuestionReview(self, entry)
        return self._questions[entry.id]

    @property
    def questions(self) -> list[QuestionReview]:
        return [self.question(entry.id) for entry in registry.QUESTIONS]

    def pooled(self, question: str, outcome: str, scenario: str = "primary", model: str = "primary") -> Pooled:
        return self.question(question).pooled(outcome, scenario, model)

    @cached_property
    def fingerprint(self) -> str:
        from .io.fingerprint import data_fingerprint

        return data_fingerprint(self.root)

    @cached_property
    def results(self) -> pd.DataFrame:
        """Every pooled result: question x outcome x scenario x model (synthesis.RESULT_COLUMNS)."""
        from .pooling import synthesis

        rows = []
        for spec in registry.ANALYSES:
            part = self.question(spec.question)
            for scenario in part.scenarios:
                models = ["primary", "dl_z"] if scenario == "primary" else ["primary"]
                for model in models:
                    rows.append(dict(part.pooled(spec.outcome, scenario, model).row))
        return synthesis.object_frame(rows, synthesis.RESULT_COLUMNS)

    @cached_property
    def primary_results(self) -> pd.DataFrame:
        """The primary data under the primary model: one row per outcome."""
        table = self.results
        keep = (table["scenario"] == "primary") & (table["model_name"] == "primary")
        return table[keep].reset_index(drop=True)

    @cached_property
    def published(self) -> pd.DataFrame:
        from .io.validate import load

        return load(None, "published_syntheses", self.root)

    @cached_property
    def comparison(self) -> pd.DataFrame:
        from .pooling import synthesis

        return synthesis.published_comparison(self.primary_results, self.published)

    @cached_property
    def audit(self) -> pd.DataFrame:
        from .evidence import audit

        return audit.audit_published_syntheses(self.root)

    @cached_property
    def last_search(self) -> str:
        dates = [str(d) for part in self.questions for d in part.search_log["date_run"] if str(d)]
        return max(dates) if dates else "none"

    @cached_property
    def totals(self) -> Mapping[str, int]:
        """Review-wide counts, each the sum of the questions' (the release log records these)."""
        keys = ("search_runs", "search_files", "records_identified", "unique_records",
                "new_studies_included")
        return MappingProxyType({key: int(sum(part.counts[key] for part in self.questions)) for key in keys})
