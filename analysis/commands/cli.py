"""The authors' command line: ``python -m analysis <command>``. Only this module prints.

Every command is an entry of :data:`COMMANDS`: ``name -> (module, function that adds its
arguments, function that runs it, help)``; a command of another module is added there the same
way, and ``--help`` lists every command even when one module fails to import.

Exit codes, the same for every command: 0 done; 1 the data or an input file is wrong (one
message naming file, row and column; nothing was written); 2 the command was called wrongly
(an unknown option, question or date form); 130 interrupted by Ctrl-C or SIGTERM ("interrupted;
nothing was changed", or what was rolled back). Output piped into a command that stops reading
early (``| head``) ends quietly.
"""
from __future__ import annotations

import argparse
import importlib
import os
import re
import signal
import sys
from pathlib import Path

from analysis.io.paths import data_dir

COMMANDS: dict[str, tuple[str, str, str, str]] = {
    "check": ("analysis.commands.cli", "add_check_arguments", "run_check",
              "validate every data table; list all problems; exit 1 on any"),
    "import": ("analysis.commands.cli", "add_import_arguments", "run_import",
               "add a search export (RIS, nbib, BibTeX, CSV) to data/ as a new search run"),
    "dedup": ("analysis.commands.cli", "add_dedup_arguments", "run_dedup",
              "link duplicate records and report the clusters"),
    "queue": ("analysis.commands.cli", "add_queue_arguments", "run_queue",
              "list the unique records that still need a screening decision"),
    "screen": ("analysis.commands.cli", "add_screen_arguments", "run_screen",
               "append screening decisions from a CSV file"),
    "full-text-arrived": ("analysis.commands.cli", "add_arrived_arguments", "run_arrived",
                          "decide a report that was awaiting its full text, now that it arrived"),
    "form": ("analysis.commands.reconcile_cli", "add_form_arguments", "run_form",
             "write a blank form for an independent second reviewer (or store a filled one)"),
    "reconcile": ("analysis.commands.reconcile_cli", "add_reconcile_arguments", "run_reconcile",
                  "list the two reviewers' disagreements field by field, with agreement and consensus"),
    "awaiting": ("analysis.commands.cli", "add_awaiting_arguments", "run_awaiting",
                 "write a request sheet per report awaiting full text, or import a filled one"),
    "release": ("analysis.commands.cli", "add_release_arguments", "run_release",
                "record a new release of the review with its pooled results"),
    "notebooks": ("analysis.commands.cli", "add_notebooks_arguments", "run_notebooks",
                  "re-execute every chapter and store the outputs in place"),
}

EXIT_BAD_DATA, EXIT_USAGE, EXIT_INTERRUPTED, EXIT_BROKEN_PIPE = 1, 2, 130, 141

# What the running command has already written (set right after its transaction committed), so
# that Ctrl-C while it is still printing does not claim that nothing was changed.
_written: list[str] = []


class UsageError(Exception):
    """The command was called wrongly (exit 2)."""


def _error(message: object) -> None:
    print(f"error: {message}", file=sys.stderr)


def _question(value: str) -> str:
    """A question of the registry (``q1``, ``q1_webhelp``), never a path."""
    from analysis.io.schemas import QUESTIONS, question_folder

    try:
        return question_folder(value)
    except KeyError:
        known = ", ".join(f"{short} ({name})" for short, name in QUESTIONS.items())
        raise UsageError(f"--question {value!r} is not a question of the review; known: {known}") from None


def _iso_date(value: str, option: str = "--date") -> str:
    import datetime as dt

    try:
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
            raise ValueError
        dt.date.fromisoformat(value)
    except ValueError:
        raise UsageError(f"{option} {value!r} is not a date in the form YYYY-MM-DD "
                         f"(for example 2027-05-01)") from None
    return value


# ----------------------------------------------------------------------------- check

def add_check_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data-dir", default=None,
                        help="the data folder to check (default: data/, or $REVIEW_DATA_DIR)")


def run_check(args: argparse.Namespace) -> int:
    """Print every problem (file:row:column: message) and a summary; 1 on any problem."""
    from . import checks

    try:
        problems = checks.check_all(args.data_dir)
    except Exception as error:  # the command must never end in a traceback
        _error(f"check could not read the data: {type(error).__name__}: {error}")
        return EXIT_BAD_DATA
    for problem in problems:
        print(problem)
    if problems:
        files = len({problem.file for problem in problems})
        pending = sum(problem.pending for problem in problems)
        print(f"{len(problems)} problem(s) in {files} of {checks.table_count()} tables"
              + (f" ({pending} of them work still to do: rows to add for included studies)"
                 if pending else ""))
        return EXIT_BAD_DATA
    print(f"all {checks.table_count()} tables valid")
    return 0


# ----------------------------------------------------------------------------- import, dedup

def add_import_arguments(parser: argparse.ArgumentParser) -> None:
    from analysis.io.search_tables import FORMATS

    parser.add_argument("file", help="the export: RIS, MEDLINE/.nbib, BibTeX, EndNote tagged, "
                                     "Web of Science plain text or tab-delimited, database CSV")
    parser.add_argument("--question", required=True, help="q1 / q1_webhelp or q2 / q2_interventions")
    parser.add_argument("--source", required=True, help="database or platform searched, e.g. 'MEDLINE (PubMed)'")
    parser.add_argument("--query", required=True, help="the full search string as run")
    parser.add_argument("--date", required=True, help="date the search was run, YYYY-MM-DD")
    parser.add_argument("--format", choices=FORMATS[1:], help="override the format detected from the file")
    parser.add_argument("--note", default="", help="limits, filters or anything else PRISMA-S asks to report")


def run_import(args: argparse.Namespace) -> int:
    from . import checks
    from analysis.search import records as rec
    from analysis import review
    from analysis.search.dedup import new_records_summary

    question = _question(args.question)
    _iso_date(args.date)
    row = rec.import_search(args.file, question, args.source, args.query, args.date,
                            fmt=args.format, note=args.note, check=checks.blocking_problems)
    _written.append(f"search {row['search_id']} was imported")
    print(f"{row['search_id']}: {row['n_hits']} records ({row['format']}) from {row['source']}, "
          f"run {row['date_run']}, stored as data/{question}/{row['file']}; search log appended.")
    for skipped in row["skipped"]:
        print(f"skipped {skipped}")
    for remark in row["remarks"]:
        print(f"read with a remark: {remark}")
    part = review.current().question(question)
    clusters = part.clusters
    new = new_records_summary(clusters, clusters["search_id"].to_numpy() == row["search_id"])
    print(f"{new['new_unique']} of them are new unique records; {new['within_file']} repeat another "
          f"record of the same file; {new['already_held']} link to records already held.")
    return 0


def add_dedup_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--question", required=True, help="q1 / q1_webhelp or q2 / q2_interventions")
    parser.add_argument("--out", help="write the cluster table (one row per record) to this CSV file")


def run_dedup(args: argparse.Namespace) -> int:
    """The counts the book and the PRISMA diagram show, from the same clusters."""
    from analysis.search import records as rec
    from analysis.views import flow_tables
    from analysis import review

    question = _question(args.question)
    part = review.current().question(question)
    counts = part.counts
    if args.out:
        from analysis.io.safe_csv import csv_for_people  # a table to check by eye: formulas neutralised

        rec.write_atomic(Path(args.out), csv_for_people(part.clusters))
    print(f"records identified: {counts['records_identified']}")
    print(f"duplicates linked automatically (DOI, PMID, URL, title): {counts['duplicates_linked_automatically']}")
    print(f"duplicates linked by reviewers only (dedup_map.csv, the first round's hand-made links "
          f"that no automatic rule makes): {counts['duplicates_linked_by_reviewers']}")
    print(f"unique records: {counts['unique_records']}")
    agreement = flow_tables.dedup_agreement(part)
    if agreement["true_pairs"]:
        print(f"automatic links against dedup_map.csv ({agreement['records']} labelled records): "
              f"pairwise precision {agreement['precision']}, recall {agreement['recall']}")
    if args.out:
        print(f"clusters written to {args.out}")
    return 0


# ----------------------------------------------------------------------------- queue, screen

def add_queue_arguments(parser: argparse.ArgumentParser) -> None:
    from analysis.selection.screening import STAGES

    parser.add_argument("--question", required=True, help="q1 / q1_webhelp or q2 / q2_interventions")
    parser.add_argument("--stage", choices=STAGES, default="title_abstract")
    parser.add_argument("--reviewer", help="only records this reviewer has not yet decided")
    parser.add_argument("--out", help="write the queue to this CSV file (a screening form to fill in)")


def run_queue(args: argparse.Namespace) -> int:
    from analysis import review
    from analysis.search import records as rec
    from analysis.selection import screening as scr

    question = _question(args.question)
    part = review.current().question(question)
    queue = scr.screening_queue(part.clusters, part.screening, args.stage, reviewer=args.reviewer)
    if args.out:
        form = scr.screening_form(queue, args.stage, args.reviewer)
        rec.write_atomic(Path(args.out), scr.form_csv(form))
    print(f"{len(queue)} unique record(s) of {question} await a {args.stage} decision"
          + (f" by {args.reviewer}" if args.reviewer else "") + ".")
    for row in queue.head(50).itertuples(index=False):
        print(f"  {row.record_id}  {row.year or '----'}  {str(row.title)[:90]}")
    if len(queue) > 50:
        print(f"  ... and {len(queue) - 50} more" + ("" if args.out else " (use --out to write them all)"))
    if args.out:
        decisions = ("include, exclude or awaiting_full_text" if args.stage == "full_text"
                     else "include or exclude")
        print(f"queue written to {args.out} (fill in reviewer, decision ({decisions}) and reason, "
              f"then run `screen`)")
    return 0


def add_screen_arguments(parser: argparse.ArgumentParser) -> None:
    from analysis.selection.screening import SCREENING_COLUMNS

    parser.add_argument("decisions", help=f"CSV with columns {', '.join(SCREENING_COLUMNS)}")
    parser.add_argument("--question", required=True, help="q1 / q1_webhelp or q2 / q2_interventions")


def run_screen(args: argparse.Namespace) -> int:
    from . import screening_decisions

    question = _question(args.question)
    appended = screening_decisions.append_decisions(args.decisions, question)
    _written.append(f"{appended} decision(s) were appended")
    print(f"{appended} decision(s) appended to data/{question}/screening.csv")
    return 0


def add_arrived_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("record_id", help="the record awaiting its full text, e.g. R0002")
    parser.add_argument("--question", required=True, help="q1 / q1_webhelp or q2 / q2_interventions")
    parser.add_argument("--decision", choices=("include", "exclude"), default="include")
    parser.add_argument("--reason", default="", help="for an exclusion: a full-text reason of "
                        "data/screening_reasons.csv")
    parser.add_argument("--reviewer", help="whose awaiting decision this is (needed when several "
                        "reviewers recorded one)")
    parser.add_argument("--note", default="", help="free text kept with the decision")
    parser.add_argument("--date", help="the day the full text arrived, YYYY-MM-DD (default: today)")


def run_arrived(args: argparse.Namespace) -> int:
    from . import screening_decisions

    question = _question(args.question)
    arrived = _iso_date(args.date) if args.date else None
    done = screening_decisions.resolve_awaiting(question, args.record_id, args.decision,
                                                reviewer=args.reviewer, reason=args.reason,
                                                note=args.note, arrived=arrived)
    _written.append(f"the decision on {args.record_id} was recorded")
    print(f"{done['record_id']}: full-text decision of {done['reviewer']} is now "
          f"{done['decision']}" + (f" ({done['reason']})" if done["reason"] else "")
          + " in data/" + question + "/screening.csv"
          + ("; removed from awaiting_full_text.csv" if done["removed_from_awaiting"] else ""))
    if done["decision"] == "include":
        print(f"next: add the study's rows to studies.csv, extraction.csv, risk_of_bias.csv and "
              f"grade.csv of data/{question}/ (appendix step 4), then run `make check`")
    return 0


# ----------------------------------------------------------------------------- release

def add_release_arguments(parser: argparse.ArgumentParser) -> None:
    from analysis.versions.release_command import KINDS

    parser.add_argument("--summary", required=True,
                        help='one line saying what changed, e.g. "Added Smith 2026 (Q1)"')
    parser.add_argument("--date", help="release date, YYYY-MM-DD (default: today, UTC)")
    parser.add_argument("--kind", choices=KINDS,
                        help="override the inferred kind (major: new search; minor: a pooled "
                             "number changed; patch: no number changed)")
    parser.add_argument("--dry-run", action="store_true",
                        help="show the release that would be made; write nothing")
    parser.add_argument("--all-changes", action="store_true",
                        help="list every changed number (default: the primary results' changes "
                             "and the first 20 others)")


def release_problems() -> list:
    """Every problem ``check`` reports: a release needs none (tests replace this)."""
    from . import checks

    return checks.check_all()


def run_release(args: argparse.Namespace) -> int:
    """Validate, compute, infer the version, write; then print (the version last)."""
    from . import checks
    from analysis.versions import release_command
    from analysis.versions.release_archive import ReleaseError
    from analysis.versions.release_changes import ordered_changes

    if args.date:
        _iso_date(args.date)
    try:
        problems = release_problems()
    except Exception as error:  # a table that cannot even be read is a validation failure
        problems = [f"{type(error).__name__}: {error}"]
    if problems:
        for problem in problems:
            print(problem, file=sys.stderr)
        _error(f"the data have {len(problems)} problem(s); nothing was released. Fix them "
               f"(python -m analysis check lists them) and run release again.")
        return EXIT_BAD_DATA
    try:
        plan = release_command.plan_release(args.summary, date=args.date, kind=args.kind)
    except ReleaseError:
        raise
    except Exception as error:  # e.g. a statistic that cannot be converted: one message
        _error(f"the pooled results could not be computed: {error}; nothing was written.")
        return EXIT_BAD_DATA
    if not args.dry_run:
        release_command.write_release(plan, check=checks.check_all)  # written before anything is printed: a closed pipe cannot stop it
        _written.append(f"release {plan.version} was recorded")
    print(f"release {plan.version} ({plan.kind}) dated {plan.date}: {plan.reason}")
    print(f"  data fingerprint {plan.fingerprint[:12]}; {plan.n_search_runs} search runs, "
          f"{plan.n_records} records, {plan.n_included} included; {len(plan.results)} result rows")
    changes = ordered_changes(plan.changes)
    primary = [c for c in changes if "/primary/primary:" in c]
    others = changes[len(primary):]
    shown = others if args.all_changes else others[:20]
    for change in primary + shown:
        print(f"  changed: {change}")
    if len(others) > len(shown):
        print(f"  ... and {len(others) - len(shown)} more changes in sensitivity analyses and other "
              f"models (--all-changes lists them)")
    if args.dry_run:
        print("dry run: nothing was written")
        return 0
    print(plan.version)
    return 0


# ----------------------------------------------------------------------------- notebooks

def add_notebooks_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("names", nargs="*",
                        help="chapter file names (e.g. 02_screening); default: every chapter")
    parser.add_argument("--timeout", type=int, default=600, help="seconds allowed per cell")


def run_notebooks(args: argparse.Namespace) -> int:
    from analysis.views.notebooks import chapter_notebooks, execute_notebook
    from analysis.io.paths import REPO_ROOT

    notebooks = chapter_notebooks()
    if args.names:
        wanted = {name.removesuffix(".ipynb") for name in args.names}
        unknown = wanted - {path.stem for path in notebooks}
        if unknown:
            raise UsageError(f"no chapter named {', '.join(sorted(unknown))}")
        notebooks = [path for path in notebooks if path.stem in wanted]
    for path in notebooks:
        try:
            seconds = execute_notebook(path, timeout=args.timeout)
        except Exception as error:  # the cell's own traceback is in the message
            _error(f"{path.relative_to(REPO_ROOT)} failed; its stored outputs were kept.\n{error}")
            return EXIT_BAD_DATA
        print(f"executed {path.relative_to(REPO_ROOT)} in {seconds:.1f} s")
    return 0


# ----------------------------------------------------------------------------- awaiting

def add_awaiting_arguments(parser: argparse.ArgumentParser) -> None:
    from analysis.io import schemas

    parser.add_argument("--out", default="evidence_requests",
                        help="folder for the requests and sheets (default: evidence_requests)")
    parser.add_argument("--question", action="append", choices=[*schemas.QUESTIONS,
                                                                *schemas.QUESTIONS.values()],
                        help="only this question (repeatable; default: every question)")
    parser.add_argument("--import", dest="sheet", metavar="SHEET",
                        help="import a filled sheet into extraction.csv (needs one --question)")
    parser.add_argument("--reviewer", default="consensus",
                        help="who recorded the full-text decision of an imported report "
                             "(reviewer_N or consensus; default consensus)")


def run_awaiting(args: argparse.Namespace) -> int:
    """``python -m analysis awaiting``: write request sheets, or import a filled one."""
    from analysis.versions.evidence_requests import EvidenceImportError, import_sheet, request_sheets

    from . import checks

    if args.sheet:
        if not args.question or len(args.question) != 1:
            print("error: --import needs exactly one --question", file=sys.stderr)
            return 1
        try:
            outcome = import_sheet(args.sheet, args.question[0], args.reviewer,
                                   check=checks.blocking_problems)
        except EvidenceImportError as error:
            for problem in error.problems:
                print(problem, file=sys.stderr)
            print(f"error: {len(error.problems)} problem(s); nothing was imported or changed.",
                  file=sys.stderr)
            return 1
        print(f"imported {outcome['rows']} row(s) for {', '.join(outcome['reports'])}"
              + (f"; new studies: {', '.join(outcome['new_studies'])}" if outcome["new_studies"] else "")
              + f"; {outcome['awaiting']} report(s) still await full text")
        return 0
    try:
        written = request_sheets(args.out, args.question)
    except (OSError, ValueError, KeyError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(f"wrote {len(written)} request sheet(s) under {args.out}")
    return 0


# ----------------------------------------------------------------------------- dispatch

def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m analysis",
                                     description="The authors' command line of the living review.")
    sub = parser.add_subparsers(dest="command", metavar="command")
    for name, (module_name, add_args, _, help_text) in COMMANDS.items():
        command_parser = sub.add_parser(name, help=help_text, description=help_text)
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            continue  # listed in --help; running it reports the missing module
        getattr(module, add_args)(command_parser)
    return parser


def _raise_interrupt(signum, frame):  # SIGTERM ends a command the way Ctrl-C does
    raise KeyboardInterrupt


def _bad_data_errors() -> tuple[type[BaseException], ...]:
    from analysis.search import records
    from analysis.versions.release_archive import ReleaseError
    from analysis.selection import screening
    from analysis.io import storage

    return (storage.StorageError, records.ExportError, screening.ScreeningError,
            ReleaseError, ValueError, OSError)


def _run(args: argparse.Namespace) -> int:
    from analysis.selection import screening
    from analysis.io import storage

    module_name, _, run, _ = COMMANDS[args.command]
    notice = storage.recover(data_dir()) if args.command != "notebooks" else None
    if notice:
        print(f"note: {notice}", file=sys.stderr)
    try:
        return int(getattr(importlib.import_module(module_name), run)(args) or 0)
    except UsageError as error:
        _error(error)
        return EXIT_USAGE
    except storage.Interrupted as interrupted:
        if interrupted.rolled_back:
            print(f"interrupted; rolled back {interrupted.description}: "
                  f"{', '.join(interrupted.rolled_back)} restored, nothing was changed",
                  file=sys.stderr)
        else:
            print("interrupted; nothing was changed", file=sys.stderr)
        return EXIT_INTERRUPTED
    except screening.ScreeningError as error:
        for problem in error.problems:
            _error(problem)
        print("nothing was written.", file=sys.stderr)
        return EXIT_BAD_DATA
    except storage.ValidationFailed as error:
        _error(str(error))
        return EXIT_BAD_DATA
    except _bad_data_errors() as error:
        if isinstance(error, BrokenPipeError):
            raise
        text = str(error)
        _error(text if "nothing" in text else f"{text}; nothing was written")
        return EXIT_BAD_DATA


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return EXIT_USAGE
    previous = signal.signal(signal.SIGTERM, _raise_interrupt)
    _written.clear()
    try:
        try:
            return _run(args)
        except KeyboardInterrupt:
            if _written:
                print(f"interrupted after the command had finished writing: {'; '.join(_written)}",
                      file=sys.stderr)
            else:
                print("interrupted; nothing was changed", file=sys.stderr)
            return EXIT_INTERRUPTED
        finally:
            sys.stdout.flush()
    except BrokenPipeError:
        # the reader stopped early (`| head`): say nothing more, and keep Python from
        # complaining when it flushes stdout at exit
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_BROKEN_PIPE
    finally:
        signal.signal(signal.SIGTERM, previous)
