"""The data's fingerprint: one SHA-256 over every data file, which tells whether the data are
still those a release was made from."""
from __future__ import annotations

import hashlib
from pathlib import Path

from .paths import data_dir

__all__ = ["data_fingerprint"]


def _data_files(root: Path) -> list[Path]:
    """Every data file under data/: not the release archive itself, hidden files or the
    Markdown documentation."""
    files = []
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root)
        if not path.is_file() or relative.parts[0] == "releases":
            continue
        if any(part.startswith(".") or part == "__pycache__" for part in relative.parts):
            continue
        if path.suffix.lower() == ".md":
            continue  # the codebook and provenance notes describe the data; they are not data
        files.append(path)
    return files


def data_fingerprint(root: Path | None = None) -> str:
    """SHA-256 over every data file (path and bytes), ignoring ``data/releases/``."""
    root = root or data_dir()
    digest = hashlib.sha256()
    for path in _data_files(root):
        digest.update(path.relative_to(root).as_posix().encode("utf-8") + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).hexdigest().encode("ascii"))
    return digest.hexdigest()
