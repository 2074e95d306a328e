"""Re-execute the book's chapters and store their outputs in place (``make notebooks``).

Authors run this after changing ``data/`` so that the committed outputs, which nbval compares
with a fresh execution, follow from the current data again.
"""
from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

from analysis.io.paths import REPO_ROOT

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
    """Execute one notebook in its own folder and write it back atomically; return seconds.

    The data files the chapter read are recorded in its metadata (:mod:`analysis.views.chapter_inputs`),
    so that a build re-executes it only when one of them, or the package, changed.
    """
    import nbformat
    from nbclient import NotebookClient

    from . import chapter_inputs

    notebook = nbformat.read(path, as_version=4)
    started = time.perf_counter()
    handle, log_path = tempfile.mkstemp(prefix="review-inputs.", suffix=".log")
    os.close(handle)
    previous = os.environ.get(chapter_inputs.LOG_VARIABLE)
    os.environ[chapter_inputs.LOG_VARIABLE] = log_path  # the kernel inherits the environment
    try:
        client = NotebookClient(
            notebook,
            timeout=timeout,
            kernel_name=KERNEL_NAME,
            resources={"metadata": {"path": str(path.parent)}},
        )
        client.execute()
        logged = Path(log_path).read_text(encoding="utf-8").splitlines()
    finally:
        if previous is None:
            os.environ.pop(chapter_inputs.LOG_VARIABLE, None)
        else:
            os.environ[chapter_inputs.LOG_VARIABLE] = previous
        Path(log_path).unlink(missing_ok=True)
    notebook.metadata[chapter_inputs.METADATA_KEY] = chapter_inputs.inputs_of(logged)
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
