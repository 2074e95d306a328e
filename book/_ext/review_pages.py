"""Directives that print the review's own records into Markdown pages.

``review-front-matter`` prints the authors' front matter (``book/front_matter.yml``, and how to
cite from ``CITATION.cff``), through :func:`analysis.views.front_matter.front_matter_block`, so a
Markdown page shows exactly what the authors wrote and "not yet stated" where they have not.
"""
from __future__ import annotations

import sys
from pathlib import Path

from docutils import nodes
from docutils.parsers.rst import Directive

REPO_ROOT = Path(__file__).resolve().parents[2]


class FrontMatter(Directive):
    has_content = False

    def run(self):
        if str(REPO_ROOT) not in sys.path:
            sys.path.insert(0, str(REPO_ROOT))
        from analysis.views.front_matter import CITATION_FILE, FRONT_MATTER_FILE, front_matter_block

        env = self.state.document.settings.env
        for path in (FRONT_MATTER_FILE, CITATION_FILE):
            env.note_dependency(str(path))  # the page is rebuilt when the authors edit a file
        return [nodes.raw("", front_matter_block().html_text, format="html")]


def setup(app):
    app.add_directive("review-front-matter", FrontMatter)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
