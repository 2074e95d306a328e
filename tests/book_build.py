"""Build the book once per test session, the way `make book` does, for the tests that read HTML."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
JUPYTER_BOOK = Path(sys.executable).with_name("jupyter-book")


def build_book(output_dir: Path, data_dir: Path | None = None, source_dir: Path = REPO_ROOT) -> subprocess.CompletedProcess:
    """Run the strict build into ``output_dir``; ``data_dir`` replaces data/ for every kernel."""
    env = dict(os.environ)
    if data_dir is not None:
        env["REVIEW_DATA_DIR"] = str(data_dir)
    return subprocess.run(
        [str(JUPYTER_BOOK), "build", "-W", "-n", "--keep-going", "--path-output", str(output_dir), str(source_dir)],
        cwd=source_dir, env=env, capture_output=True, text=True, timeout=1800,
    )


def copy_data(destination: Path) -> Path:
    """A writable copy of the review's data/ for tests that change it."""
    target = destination / "data"
    shutil.copytree(REPO_ROOT / "data", target)
    return target
