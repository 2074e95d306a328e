"""The book's own Sphinx extension: results follow the data, and small corrections to pages.

- A chapter is executed again only when what it read changed. ``make notebooks`` records in
  each chapter's metadata the data files it read and the ``analysis`` package it ran
  (:mod:`analysis.views.chapter_inputs`). A build shows a chapter's stored outputs when those are
  unchanged (nbval proves the stored outputs equal a fresh execution on the same inputs) and
  executes it when one of them changed, when the package changed, or when it has no record.
  Sphinx rebuilds a page only when its source changed, and a notebook's source does not change
  when ``data/`` does: a chapter whose inputs changed since the last build is marked outdated.

- sphinx-thebe registers its configuration script twice in this toolchain, and a browser
  then stops at "Identifier 'THEBE_JS_URL' has already been declared": keep each script once.
- The theme leaves the colour mode empty unless one is chosen, and its script then reports
  "Got invalid theme mode" as an error on every page: choose the light mode.
- The execution record (myst-nb's ``nb-exec-table``) marks each chapter with an emoji that
  many systems draw as an empty box: say it in words.
"""


from pathlib import Path


def _chapter_states(app) -> dict[str, tuple[bool, str]]:
    """Per notebook document: (inputs unchanged since its stored outputs, a digest of the state)."""
    import hashlib

    import nbformat

    from analysis.views import chapter_inputs
    from analysis.io.paths import data_dir

    package = chapter_inputs.package_fingerprint()
    root = data_dir()
    states = {}
    for name in sorted(app.env.found_docs):
        path = Path(app.env.doc2path(name))
        if path.suffix != ".ipynb":
            continue
        recorded = nbformat.read(path, as_version=4).metadata.get(chapter_inputs.METADATA_KEY)
        changed = chapter_inputs.changed_inputs(recorded, root, package)
        digest = hashlib.sha256(repr((str(root), package, sorted((recorded or {}).get("data", {}).items()),
                                      changed)).encode()).hexdigest()
        states[name] = (not changed, digest)
    return states


def _execute_only_changed_chapters(app, env, docnames):
    states = _chapter_states(app)
    unchanged = [str(Path(env.doc2path(name)).resolve()) for name, (same, _) in states.items() if same]
    env.mystnb_config = env.mystnb_config.copy(execution_excludepatterns=unchanged)
    env.review_chapter_states = states


def _chapters_outdated_by_their_inputs(app, env, added, changed, removed):
    states = _chapter_states(app)
    before = getattr(env, "review_chapter_digests", {})
    env.review_chapter_digests = {name: digest for name, (_, digest) in states.items()}
    return [name for name, (_, digest) in states.items() if before.get(name) != digest]


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


from docutils import nodes as _nodes
from docutils.parsers.rst import Directive as _Directive


class ChapterRecordNode(_nodes.General, _nodes.Element):
    """Placeholder for the chapter record, filled when the page is resolved."""


class ChapterRecord(_Directive):
    """``{review-chapter-record}``: one line per chapter saying how this build got its outputs."""

    has_content = False

    def run(self):
        return [ChapterRecordNode()]


def _fill_chapter_record(app, doctree, docname):
    from docutils import nodes

    states = getattr(app.env, "review_chapter_states", {})
    for node in doctree.traverse(ChapterRecordNode):
        items = nodes.bullet_list()
        for name, (unchanged, _) in sorted(states.items()):
            title = app.env.titles.get(name)
            label = title.astext() if title is not None else name
            if unchanged:
                text = (f"{label}: stored outputs shown; the data files it reads and the analysis "
                        f"package are unchanged since it ran without errors")
            else:
                text = f"{label}: executed in this build; it ran without errors"
            items += nodes.list_item("", nodes.paragraph(text=text))
        node.replace_self(items)


def setup(app):
    app.add_node(ChapterRecordNode)
    app.add_directive("review-chapter-record", ChapterRecord)
    app.connect("doctree-resolved", _fill_chapter_record)
    _execution_status_in_words()
    app.connect("env-get-outdated", _chapters_outdated_by_their_inputs)
    app.connect("env-before-read-docs", _execute_only_changed_chapters)
    app.connect("html-page-context", _tidy_page, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
