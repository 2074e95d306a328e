"""The built HTML book: every chapter exists, shows no error, has its figures with alt text,
and follows the current data/ (a changed data row reaches the page; untrusted text is escaped)."""
from __future__ import annotations

import re
from html.parser import HTMLParser


class _PageParser(HTMLParser):
    """Collects what a reader would see: images with their alt text, error outputs, text."""

    def __init__(self):
        super().__init__()
        self.images: list[dict] = []
        self.error_blocks = 0
        self.text_parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        classes = (attributes.get("class") or "").split()
        if tag == "img" or (tag == "svg" and "review-svg" in classes):
            self.images.append(attributes)
        if "traceback" in classes or "stderr" in classes:
            self.error_blocks += 1
        if tag in ("script", "style"):
            self._skip += 1

    def handle_endtag(self, tag):
        if tag in ("script", "style") and self._skip:
            self._skip -= 1

    def handle_data(self, data):
        if not self._skip:
            self.text_parts.append(data)

    @property
    def text(self) -> str:
        return re.sub(r"\s+", " ", " ".join(self.text_parts))


def _parse(path):
    parser = _PageParser()
    parser.feed(path.read_text(encoding="utf-8"))
    return parser


def test_every_chapter_page_is_built(built_book, chapter_pages):
    missing = [page for page in chapter_pages if not (built_book / page).exists()]
    assert not missing, f"pages missing from the build: {missing}"


def test_no_page_shows_an_error(built_book, chapter_pages):
    for page in chapter_pages:
        parsed = _parse(built_book / page)
        assert parsed.error_blocks == 0, f"{page} shows error output"
        for marker in ("Traceback (most recent call last)", "Error:", "Warning:"):
            assert marker not in parsed.text, f"{page} shows {marker!r}"


def test_figures_are_there_with_alt_text(built_book):
    for page, minimum in (("book/02_screening.html", 1), ("book/04_webhelp_correlations.html", 1),
                          ("book/05_interventions.html", 2)):
        # the book's figures are inline SVG, labelled for screen readers with aria-label
        images = [img for img in _parse(built_book / page).images if "review-svg" in (img.get("class") or "")]
        assert len(images) >= minimum, f"{page}: {len(images)} figures, expected at least {minimum}"
        assert all(len(img.get("aria-label", "").strip()) > 20 for img in images), f"{page}: a figure lacks alt text"


def test_changed_data_row_reaches_the_pages(built_book, changed_book):
    changed = changed_book["html"]
    extraction = _parse(changed / "book" / "03_extraction.html").text
    assert "9.6" in extraction, "the changed chi-square does not appear on the extraction page"
    before = _parse(built_book / "book" / "04_webhelp_correlations.html").text
    after = _parse(changed / "book" / "04_webhelp_correlations.html").text
    assert before != after, "the pooling chapter did not change when its data changed"


def test_untrusted_title_is_escaped(changed_book):
    page = (changed_book["html"] / "book" / "02_screening.html").read_text(encoding="utf-8")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert changed_book["hostile_title"] not in page


def test_references_use_one_style_and_keep_their_capitals(built_book):
    references = _parse(built_book / "book" / "07_references.html").text
    assert "and others" not in references and "et al." in references
    for kept in ("GRADE", "RoB 2", "COVID-19", "PRISMA"):
        assert kept in references, f"{kept!r} lost its capitals in the bibliography"
    assert "Moola" in references  # the JBI checklist for the cross-sectional studies is cited
    intro = _parse(built_book / "book" / "methods.html").text
    assert "Bizzotto and others" not in intro


def test_execution_record_is_text_and_front_matter_never_invented(built_book):
    methods = _parse(built_book / "book" / "methods.html").text
    assert "ran without errors" in methods and "\u2705" not in methods
    about = _parse(built_book / "book" / "about.html").text
    for field in ("How to cite", "Funding", "Declarations of interest", "Protocol"):
        assert field in about
    assert "not yet stated" in about or "Version" in about


def test_a_changed_table_re_executes_only_the_chapters_that_read_it(tmp_path):
    """Each chapter records the data files it read (analysis.views.chapter_inputs); after a change to
    one file, a build executes exactly the chapters that read it and shows the others' stored
    outputs. The file is the one read by the fewest chapters, so the test sees both sides."""
    import json

    from analysis.io.paths import REPO_ROOT
    from book_build import build_book, copy_data

    recorded = {path.stem: json.loads(path.read_text(encoding="utf-8"))["metadata"]["review_inputs"]["data"]
                for path in sorted((REPO_ROOT / "book").glob("*.ipynb"))}
    readers_of: dict[str, set[str]] = {}
    for chapter, files in recorded.items():
        for name in files:
            readers_of.setdefault(name, set()).add(chapter)
    changed = min((name for name in readers_of if len(readers_of[name]) < len(recorded)),
                  key=lambda name: (len(readers_of[name]), name))
    data = copy_data(tmp_path)
    (data / changed).write_bytes((data / changed).read_bytes() + b"\n")  # the same table, new bytes
    result = build_book(tmp_path / "out", data)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    log = result.stdout + result.stderr
    shown_from_store = set(re.findall(r"/book/(\w+)\.ipynb: Excluded from execution", log))
    executed = set(recorded) - shown_from_store
    assert executed == readers_of[changed], (changed, sorted(executed))
    assert shown_from_store, "every chapter was executed"
