"""Which data files each chapter reads, so that a build re-executes only the chapters whose
inputs changed.

While ``make notebooks`` executes a chapter, the kernel records every file it opens under the
data folder (a Python audit hook on the ``open`` event, installed by :func:`record_reads` when
``REVIEW_INPUT_LOG`` names a log file). The chapter's notebook then stores, in its metadata
under ``review_inputs``, the SHA-256 of each of those files and of the ``analysis`` package.
A build compares them with the files as they are: a chapter whose recorded inputs are unchanged
shows its stored outputs, which nbval has proven equal to a fresh execution on these inputs;
any other chapter is executed again. A change under ``analysis/`` re-executes every chapter.
"""
from __future__ import annotations

import hashlib
import os
import sys
from pathlib import Path

from analysis.io.paths import REPO_ROOT, data_dir

METADATA_KEY = "review_inputs"
LOG_VARIABLE = "REVIEW_INPUT_LOG"


def record_reads(log_path: str) -> None:
    """Append the path of every file opened under the data folder to ``log_path`` (one per line)."""
    root = str(data_dir()) + os.sep
    log = open(log_path, "a", encoding="utf-8")  # opened once, before the hook is installed

    def hook(event: str, args: tuple) -> None:
        if event == "open" and args and isinstance(args[0], (str, os.PathLike)):
            path = os.path.abspath(os.fspath(args[0]))
            if path.startswith(root):
                log.write(path + "\n")
                log.flush()

    sys.addaudithook(hook)


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def package_fingerprint() -> str:
    """SHA-256 over the paths and bytes of the ``analysis`` package's files."""
    digest = hashlib.sha256()
    package = REPO_ROOT / "analysis"
    for path in sorted(package.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts:
            digest.update(path.relative_to(package).as_posix().encode() + b"\0")
            digest.update(_sha256(path).encode())
    return digest.hexdigest()


def inputs_of(logged_paths: list[str], root: Path | None = None) -> dict:
    """The inputs record of one execution: each data file read (relative path -> SHA-256)
    and the package fingerprint."""
    root = (root or data_dir()).resolve()
    files = {}
    for text in sorted(set(logged_paths)):
        path = Path(text)
        if path.is_file():
            files[path.relative_to(root).as_posix()] = _sha256(path)
    return {"analysis": package_fingerprint(), "data": files}


def changed_inputs(recorded: dict | None, root: Path | None = None,
                   package: str | None = None) -> list[str]:
    """What differs between a chapter's recorded inputs and the files now (empty: unchanged).

    A chapter with no record, or one made by another version of the package, counts as changed.
    """
    if not recorded or "data" not in recorded:
        return ["no record of the chapter's inputs"]
    if recorded.get("analysis") != (package or package_fingerprint()):
        return ["analysis/"]
    root = (root or data_dir()).resolve()
    changed = []
    for relative, digest in recorded["data"].items():
        path = root / relative
        if not path.is_file() or _sha256(path) != digest:
            changed.append(relative)
    return changed
