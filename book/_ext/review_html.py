"""The book's own Sphinx extension: results follow the data, and small corrections to pages.

- Sphinx rebuilds a page only when its source changed, and the notebooks' sources do not
  change when ``data/`` or ``analysis/`` do. Every build therefore fingerprints the inputs of
  the analysis (every file under the data folder, which ``REVIEW_DATA_DIR`` may replace, and
  the ``analysis`` package) and marks every notebook outdated when the fingerprint differs
  from the last build's, so that ``make book`` re-executes them on the current data.

- sphinx-thebe registers its configuration script twice in this toolchain, and a browser
  then stops at "Identifier 'THEBE_JS_URL' has already been declared": keep each script once.
- The theme leaves the colour mode empty unless one is chosen, and its script then reports
  "Got invalid theme mode" as an error on every page: choose the light mode.
- The execution record (myst-nb's ``nb-exec-table``) marks each chapter with an emoji that
  many systems draw as an empty box: say it in words.
"""


import hashlib
import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]


def analysis_inputs_fingerprint() -> str:
    """SHA-256 over the paths and bytes of the data files and the analysis package."""
    data = Path(os.environ.get("REVIEW_DATA_DIR") or REPO_ROOT / "data").resolve()
    digest = hashlib.sha256(str(data).encode())
    for folder, pattern in ((data, "*"), (REPO_ROOT / "analysis", "*")):
        for path in sorted(folder.rglob(pattern)):
            if path.is_file() and "__pycache__" not in path.parts:
                digest.update(str(path.relative_to(folder)).encode() + b"\0")
                digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def _notebooks_outdated_by_data(app, env, added, changed, removed):
    fingerprint = analysis_inputs_fingerprint()
    if getattr(env, "review_inputs_fingerprint", None) == fingerprint:
        return []
    env.review_inputs_fingerprint = fingerprint
    return [name for name in env.found_docs
            if str(env.doc2path(name, base=False)).endswith(".ipynb")]


def _tidy_page(app, pagename, templatename, context, doctree):
    seen = set()
    unique = []
    for script in context.get("script_files", []):
        # The same script can be registered twice at different priorities: compare what it
        # loads or runs, not where it sorts.
        # (an inline script may be registered with filename None once and "" the other time)
        key = (str(getattr(script, "filename", script) or ""),
               tuple(sorted((getattr(script, "attributes", None) or {}).items())))
        if key in seen:
            continue
        seen.add(key)
        unique.append(script)
    if "script_files" in context:
        context["script_files"][:] = unique
    if not context.get("default_mode"):
        context["default_mode"] = "light"


def _execution_status_in_words():
    from myst_nb.ext import execution_tables

    execution_tables._key2transform["succeeded"] = (
        lambda ok: "ran without errors" if ok is True else "failed")


def setup(app):
    _execution_status_in_words()
    app.connect("env-get-outdated", _notebooks_outdated_by_data)
    app.connect("html-page-context", _tidy_page, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
