"""The book's prose makes no comparative claim of its own: every one is generated.

Comparative words ("larger", "consistent with", "changed"...) in a chapter's Markdown must come
from a glue reference, whose text analysis.findings.comparison and analysis.views.pooled_results
generate from a computed verdict. This test reads the Markdown cells of every notebook, removes
glue references, code, maths, comments and link targets, and fails on any comparative word left.
"""
from __future__ import annotations

import json
import re

import pytest

from analysis.io.paths import REPO_ROOT

NOTEBOOKS = sorted((REPO_ROOT / "book").glob("*.ipynb"))
COMPARATIVE = re.compile(
    r"\b(larger|smaller|bigger|higher|lower|greater|weaker|stronger|consistent with|"
    r"inconsistent with|in line with|similar to|differs? from|different from|changed|"
    r"increased|decreased|exceeds?|exceeded|more than|less than|fewer than|outperform\w*)\b",
    re.IGNORECASE)
# Phrases that use such a word without comparing results, each with why it is allowed.
ALLOWED = (
    re.compile(r"^#+\s*What changed\s*$", re.IGNORECASE | re.MULTILINE),  # the release log's title
    re.compile(r"what\s+changed\s+since\s+the\s+previous\s+release", re.IGNORECASE),  # points to that log
)


def _prose(text: str) -> str:
    text = re.sub(r"\{glue(:\w+)?\}`[^`]*`", " ", text)
    text = re.sub(r"```.*?```", " ", text, flags=re.DOTALL)
    text = re.sub(r"`[^`]*`", " ", text)
    text = re.sub(r"\$\$.*?\$\$|\$[^$]*\$", " ", text, flags=re.DOTALL)
    text = re.sub(r"<!--.*?-->", " ", text, flags=re.DOTALL)
    text = re.sub(r"\]\([^)]*\)", "]", text)
    for pattern in ALLOWED:
        text = pattern.sub(" ", text)
    return text


def comparative_claims(text: str) -> list[str]:
    """Comparative words left in Markdown once generated text is taken out, with context."""
    prose = _prose(text)
    return [prose[max(0, m.start() - 60):m.end() + 40].replace("\n", " ")
            for m in COMPARATIVE.finditer(prose)]


def test_the_checker_finds_a_typed_claim_and_accepts_a_glued_one():
    assert comparative_claims("This estimate is larger than Bizzotto's.")
    assert comparative_claims("The result is consistent with Ni et al.")
    assert not comparative_claims("This version's estimate is {glue:text}`d_q1_compare`.")
    assert not comparative_claims("# What changed\n\nThe log.")


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_markdown_has_no_typed_comparative_claim(notebook):
    cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
    found = []
    for number, cell in enumerate(cells):
        if cell["cell_type"] == "markdown":
            found += [f"cell {number}: ...{claim}..." for claim in comparative_claims("".join(cell["source"]))]
    assert not found, "\n".join(found)
