"""Re-execute the book's chapters and store their outputs in place (``make notebooks``).

Authors run this after changing ``data/`` so that the committed outputs, which nbval compares
with a fresh execution, follow from the current data again.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

from .paths import REPO_ROOT

KERNEL_NAME = "python3"


def chapter_notebooks(root: Path = REPO_ROOT) -> list[Path]:
    """The executable chapters, in the order of ``_toc.yml``."""
    import yaml

    toc = yaml.safe_load((root / "_toc.yml").read_text(encoding="utf-8"))
    files = [toc["root"]]
    for part in toc.get("parts", []):
        files.extend(chapter["file"] for chapter in part.get("chapters", []))
    return [root / f"{name}.ipynb" for name in files if (root / f"{name}.ipynb").exists()]


def execute_notebook(path: Path, timeout: int = 600) -> float:
    """Execute one notebook in its own folder and write it back atomically; return seconds."""
    import nbformat
    from nbclient import NotebookClient

    notebook = nbformat.read(path, as_version=4)
    started = time.perf_counter()
    client = NotebookClient(
        notebook,
        timeout=timeout,
        kernel_name=KERNEL_NAME,
        resources={"metadata": {"path": str(path.parent)}},
    )
    client.execute()
    for cell in notebook.cells:
        # Execution counts and timing metadata change on every run and say nothing of results.
        cell.get("metadata", {}).pop("execution", None)
    handle, temporary = tempfile.mkstemp(dir=path.parent, suffix=".ipynb.tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            nbformat.write(notebook, stream)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return time.perf_counter() - started


def add_notebooks_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("names", nargs="*",
                        help="chapter file names (e.g. 02_screening); default: every chapter")
    parser.add_argument("--timeout", type=int, default=600, help="seconds allowed per cell")


def run_notebooks(args: argparse.Namespace) -> int:
    notebooks = chapter_notebooks()
    if args.names:
        wanted = {name.removesuffix(".ipynb") for name in args.names}
        unknown = wanted - {path.stem for path in notebooks}
        if unknown:
            print(f"error: no chapter named {', '.join(sorted(unknown))}", file=sys.stderr)
            return 2
        notebooks = [path for path in notebooks if path.stem in wanted]
    for path in notebooks:
        try:
            seconds = execute_notebook(path, timeout=args.timeout)
        except Exception as error:  # the cell's own traceback is in the message
            print(f"error: {path.relative_to(REPO_ROOT)} failed; its stored outputs were kept.\n"
                  f"{error}", file=sys.stderr)
            return 1
        print(f"executed {path.relative_to(REPO_ROOT)} in {seconds:.1f} s")
    return 0
