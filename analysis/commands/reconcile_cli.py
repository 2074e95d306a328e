"""The two-reviewer commands: ``form`` (blank forms for an independent second reviewer, and storing
filled ones; :mod:`analysis.commands.review_forms`) and ``reconcile`` (the disagreements field by field, the
agreement and the consensus forms; :mod:`analysis.reviewers.reconcile`)."""
from __future__ import annotations

import argparse
import csv
import io
import re
import sys
from pathlib import Path

import pandas as pd

from analysis.search import records as rec
from . import review_forms
from analysis.io import reviewer_tables, schemas
from analysis.reviewers.reconcile import (compare_extraction, compare_grade, compare_risk_of_bias,
                                          extraction_agreement, grade_agreement, risk_of_bias_agreement)

_TARGETS = {"extraction": "reconciliation", "risk_of_bias": "risk_of_bias_reconciliation",
            "grade": "grade_reconciliation"}


def open_items_form(question: str, table: str = "extraction", data_dir: Path | str | None = None) -> pd.DataFrame:
    """The open disagreements as rows of the reconciliation table, consensus to be filled in."""
    compare = {"extraction": compare_extraction, "risk_of_bias": compare_risk_of_bias,
               "grade": compare_grade}[table]
    compared = compare(question, data_dir)
    schema = schemas.optional_schema(schemas.question_folder(question), _TARGETS[table])
    items = compared[compared["open"]].copy()
    items["consensus"], items["resolved_by"], items["reason"] = "", "", ""
    return items.reindex(columns=list(schema.names)).fillna("")


def _fmt(value) -> str:
    return "-" if value is None or (isinstance(value, float) and pd.isna(value)) else f"{value:.2f}"


def add_reconcile_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--question", required=True, help="q1 or q2 (or the folder name)")
    parser.add_argument("--table", choices=tuple(_TARGETS), default="extraction")
    parser.add_argument("--out", help="write the open disagreements to this CSV (fill consensus, "
                                      "resolved_by, reason; then --append it)")
    parser.add_argument("--append", help="store a filled reconciliation form")


def run_reconcile(args: argparse.Namespace) -> int:
    from .review_forms import FormError, append_form
    from analysis.io.problems import DataError

    target = _TARGETS[args.table]
    try:
        if args.append:
            stored = append_form(args.append, args.question, target)
            print(f"{stored} consensus row(s) appended to "
                  f"data/{schemas.question_folder(args.question)}/{target}.csv")
            return 0
        if args.table == "extraction":
            result = extraction_agreement(args.question)
            lines = [f"{s.study_id}: {s.status} ({s.agree}/{s.compared} fields agree, {s.not_read} not read "
                     f"by the second reviewer, {s.disagreements} disagreement(s), {s.open} open)"
                     for s in result.by_study.itertuples()]
            kappa = result.categories
            lines.append(f"numbers agreeing within printed precision: {result.numbers[1]}/{result.numbers[0]}; "
                         f"categorical fields: kappa {_fmt(kappa.kappa)} (95% CI {_fmt(kappa.ci_low)} to "
                         f"{_fmt(kappa.ci_high)}, n = {kappa.n})")
            disagreements = result.disagreements
            label = lambda d: f"{d.study_id} {d.extraction_id or d.row_key} {d.field}"
        elif args.table == "grade":
            result = grade_agreement(args.question)
            k = result.domains
            lines = [f"GRADE domains: kappa {_fmt(k.kappa)} (95% CI {_fmt(k.ci_low)} to {_fmt(k.ci_high)}, "
                     f"n = {k.n} judgements); {result.items[1]}/{result.items[0]} items agree; "
                     f"{result.not_compared}"]
            disagreements = result.disagreements
            label = lambda d: f"{d.outcome} {d.domain}"
        else:
            result = risk_of_bias_agreement(args.question)
            lines = [f"{tool}: kappa {_fmt(k.kappa)} (95% CI {_fmt(k.ci_low)} to {_fmt(k.ci_high)}, "
                     f"n = {k.n} domain judgements)" for tool, k in result.by_tool.items()]
            disagreements = result.disagreements
            label = lambda d: f"{d.study_id} {d.domain}"
        for line in lines:
            print(line)
        for d in disagreements.itertuples():
            state = "OPEN" if d.open else f"consensus {d.consensus!r} by {d.resolved_by}: {d.reason}"
            print(f"  {label(d)}: {d.reviewer_a} {d.value_a!r} / {d.reviewer_b} {d.value_b!r} -> {state}")
        if args.out:
            form = open_items_form(args.question, args.table)
            rec_write(Path(args.out), form)
            print(f"{len(form)} open disagreement(s) written to {args.out}")
    except FormError as error:
        for problem in error.problems:
            print(f"error: {problem}", file=sys.stderr)
        print("nothing was written.", file=sys.stderr)
        return 1
    except (DataError, ValueError, KeyError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


def rec_write(path: Path, frame: pd.DataFrame) -> None:
    from analysis.search.records import write_atomic

    write_atomic(path, frame.to_csv(index=False, lineterminator="\n"))


def add_form_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--question", required=True, help="q1 or q2 (or the folder name)")
    parser.add_argument("--table", required=True, choices=("extraction", "risk_of_bias", "screening"))
    parser.add_argument("--reviewer", help="the second reviewer's id, reviewer_<n> (for a new form)")
    parser.add_argument("--out", help="write the blank form to this CSV file")
    parser.add_argument("--append", help="store this filled form")
    parser.add_argument("--fraction", type=float, default=0.2, help="screening sample fraction (0.2)")
    parser.add_argument("--seed", type=int, help="screening sample seed (required for --table screening)")


def run_form(args: argparse.Namespace) -> int:
    table = {"extraction": "extraction_independent", "risk_of_bias": "risk_of_bias_independent"}.get(args.table)
    try:
        if args.append and table is None:
            if args.seed is None:
                raise review_forms.FormError(["--seed (and --fraction) of the sample are required to store it"])
            stored = review_forms.store_screening_sample(args.append, args.question, args.fraction, args.seed)
            print(f"{stored} decision(s) appended to screening.csv and the sample recorded in "
                  f"data/{schemas.question_folder(args.question)}/screening_sample.csv")
            return 0
        if args.append:
            stored = review_forms.append_form(args.append, args.question, table)
            print(f"{stored} row(s) appended to data/{schemas.question_folder(args.question)}/{table}.csv")
            return 0
        if not args.reviewer or not re.fullmatch(reviewer_tables.REVIEWER_ID, args.reviewer):
            raise review_forms.FormError([f"--reviewer must be reviewer_<number> (found {args.reviewer!r})"])
        if not args.out:
            raise review_forms.FormError(["--out is required to write a form"])
        if args.table == "extraction":
            form = review_forms.extraction_form(args.question, args.reviewer)
        elif args.table == "risk_of_bias":
            form = review_forms.risk_of_bias_form(args.question, args.reviewer)
        else:
            if args.seed is None:
                raise review_forms.FormError(["--seed is required for a screening sample (record it)"])
            form = review_forms.screening_form(args.question, args.reviewer, args.fraction, args.seed)
        buffer = io.StringIO()
        form.to_csv(buffer, index=False, lineterminator="\n", quoting=csv.QUOTE_MINIMAL)
        rec.write_atomic(Path(args.out), buffer.getvalue())
    except review_forms.FormError as error:
        for problem in error.problems:
            print(f"error: {problem}", file=sys.stderr)
        print("nothing was written.", file=sys.stderr)
        return 1
    except (ValueError, KeyError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(f"{len(form)} row(s) written to {args.out}; the first reviewer's values are not in it")
    return 0
