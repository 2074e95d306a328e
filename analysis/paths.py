"""Where the review's files live.

The data directory is ``data/`` next to the package, unless the environment variable
``REVIEW_DATA_DIR`` names another one: the end-to-end tests run the whole workflow on a copy.
"""
from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


def data_dir() -> Path:
    """The folder holding the review's data tables."""
    override = os.environ.get("REVIEW_DATA_DIR")
    return Path(override).resolve() if override else REPO_ROOT / "data"
