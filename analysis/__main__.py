"""The authors' command line: ``python -m analysis <command>``.

Each command lives in the module that owns its stage; this file only dispatches, so that
``--help`` lists every command even when one module fails to import.
"""
from __future__ import annotations

import argparse
import importlib
import sys

# command -> (module, function that adds its arguments, function that runs it, help)
COMMANDS: dict[str, tuple[str, str, str, str]] = {
    "check": ("analysis.validate", "add_check_arguments", "run_check",
              "validate every data table; list all problems; exit 1 on any"),
    "import": ("analysis.records", "add_import_arguments", "run_import",
               "add a search export (RIS, nbib, BibTeX, CSV) to data/ as a new search run"),
    "dedup": ("analysis.records", "add_dedup_arguments", "run_dedup",
              "link duplicate records and report the clusters"),
    "queue": ("analysis.screening", "add_queue_arguments", "run_queue",
              "list the unique records that still need a screening decision"),
    "screen": ("analysis.screening", "add_screen_arguments", "run_screen",
               "append screening decisions from a CSV file"),
    "release": ("analysis.releases", "add_release_arguments", "run_release",
                "record a new release of the review with its pooled results"),
    "awaiting": ("analysis.evidence_requests", "add_awaiting_arguments", "run_awaiting",
                 "write a request sheet per report awaiting full text, or import a filled one"),
    "notebooks": ("analysis.notebooks", "add_notebooks_arguments", "run_notebooks",
                  "re-execute every chapter and store the outputs in place"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m analysis", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", metavar="command")
    for name, (module_name, add_args, _, help_text) in COMMANDS.items():
        command_parser = sub.add_parser(name, help=help_text, description=help_text)
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            continue  # listed in --help; running it reports the missing module
        getattr(module, add_args)(command_parser)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    module_name, _, run, _ = COMMANDS[args.command]
    module = importlib.import_module(module_name)
    return int(getattr(module, run)(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
