"""Front matter comes only from the authors' files; an empty field says "not yet stated"."""
from __future__ import annotations

import pytest

from analysis.views import front_matter


def test_empty_fields_say_not_yet_stated(tmp_path):
    fields = tmp_path / "front_matter.yml"
    fields.write_text("authors: []\nfunding: ''\nprotocol: PROSPERO CRD420261234\n", encoding="utf-8")
    block = front_matter.front_matter_block(fields, tmp_path / "absent.cff")
    text = repr(block)
    assert "Protocol: PROSPERO CRD420261234" in text
    for name in ("How to cite", "Authors and contributions", "Funding", "Declarations of interest", "Contact"):
        assert f"{name}: not yet stated" in text
    assert block.html_text.count("not yet stated") == 5


def test_citation_from_citation_cff(tmp_path):
    cff = tmp_path / "CITATION.cff"
    cff.write_text(
        "cff-version: 1.2.0\ntitle: A living review\nversion: 1.1.0\ndate-released: 2027-01-02\n"
        "authors:\n  - family-names: Doe\n    given-names: Jane Anne\n  - name: The Review Group\n"
        "doi: 10.5281/zenodo.1\n", encoding="utf-8")
    assert front_matter.citation_text(cff) == (
        "Doe JA, The Review Group. A living review. Version 1.1.0, 2027-01-02. doi:10.5281/zenodo.1")


def test_authors_are_escaped_and_need_a_name(tmp_path):
    fields = tmp_path / "front_matter.yml"
    fields.write_text("authors:\n  - name: '<b>X</b>'\n    contributions: analysis\n", encoding="utf-8")
    page = front_matter.front_matter_block(fields, tmp_path / "absent.cff").html_text
    assert "&lt;b&gt;X&lt;/b&gt;" in page and "<b>X" not in page
    fields.write_text("authors:\n  - affiliation: somewhere\n", encoding="utf-8")
    with pytest.raises(ValueError, match="author 1 needs a name"):
        front_matter.front_matter(fields)


def test_the_repository_files_read():
    # whatever the authors have filled in so far, the block renders
    assert "How to cite" in repr(front_matter.front_matter_block())
