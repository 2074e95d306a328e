"""Where the review's files live.

The data directory is ``data/`` next to the package, unless the environment variable
``REVIEW_DATA_DIR`` names another one: the end-to-end tests run the whole workflow on a copy.
:func:`using_data_dir` points the package at another folder for a while (a write checks the
staged state of data/ this way before committing it).
"""
from __future__ import annotations

import contextlib
import contextvars
import os
from pathlib import Path
from typing import Iterator

REPO_ROOT = Path(__file__).resolve().parents[2]

_OVERRIDE: contextvars.ContextVar[Path | None] = contextvars.ContextVar("data_dir", default=None)


def data_dir() -> Path:
    """The folder holding the review's data tables."""
    override = _OVERRIDE.get()
    if override is not None:
        return override
    environment = os.environ.get("REVIEW_DATA_DIR")
    return Path(environment).resolve() if environment else REPO_ROOT / "data"


@contextlib.contextmanager
def using_data_dir(folder: Path) -> Iterator[Path]:
    """Within the block, :func:`data_dir` is ``folder``."""
    token = _OVERRIDE.set(Path(folder))
    try:
        yield Path(folder)
    finally:
        _OVERRIDE.reset(token)
