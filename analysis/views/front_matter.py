"""The review's front matter as its authors wrote it: authors and contributions, funding,
declarations of interest, protocol, contact, and how to cite.

Read from ``book/front_matter.yml`` (filled in by the authors) and ``CITATION.cff`` at the top
of the repository. The book never invents any of it: an empty or missing field reads
"not yet stated".
"""
from __future__ import annotations

import html
from pathlib import Path
from typing import Any

from analysis.io.paths import REPO_ROOT

from .blocks import HtmlBlock

__all__ = ["NOT_STATED", "FRONT_MATTER_FILE", "CITATION_FILE", "citation_text", "front_matter",
           "front_matter_block"]

FRONT_MATTER_FILE = REPO_ROOT / "book" / "front_matter.yml"
CITATION_FILE = REPO_ROOT / "CITATION.cff"
NOT_STATED = "not yet stated"
FIELDS = ("funding", "conflicts_of_interest", "protocol", "contact")


def _load_yaml(path: Path) -> dict:
    import yaml

    if not path.exists():
        return {}
    try:
        loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        raise ValueError(f"{path.name}: not valid YAML ({error})") from None
    if loaded is None:
        return {}
    if not isinstance(loaded, dict):
        raise ValueError(f"{path.name}: expected a mapping of fields at the top level")
    return loaded


def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()


def front_matter(path: Path | None = None) -> dict:
    """The authors' fields: ``authors`` (list of dicts: name, affiliation, orcid,
    contributions) and ``funding``, ``conflicts_of_interest``, ``protocol``, ``contact``
    (str; "" when not stated)."""
    data = _load_yaml(path or FRONT_MATTER_FILE)
    authors = data.get("authors") or []
    if not isinstance(authors, list):
        raise ValueError("front_matter.yml: authors must be a list")
    cleaned = []
    for position, author in enumerate(authors, start=1):
        if not isinstance(author, dict) or not _text(author.get("name")):
            raise ValueError(f"front_matter.yml: author {position} needs a name")
        cleaned.append({key: _text(author.get(key)) for key in ("name", "affiliation", "orcid", "contributions")})
    return {"authors": cleaned, **{field: _text(data.get(field)) for field in FIELDS}}


def _cff_name(person: dict) -> str:
    if _text(person.get("name")):
        return _text(person["name"])
    family = _text(person.get("family-names"))
    given = _text(person.get("given-names"))
    initials = "".join(part[0] for part in given.replace("-", " ").split() if part)
    return f"{family} {initials}".strip()


def citation_text(path: Path | None = None) -> str:
    """How to cite the review, from CITATION.cff (Vancouver-like); "" when it is absent or has
    no title."""
    data = _load_yaml(path or CITATION_FILE)
    title = _text(data.get("title"))
    if not title:
        return ""
    names = [_cff_name(p) for p in data.get("authors") or [] if isinstance(p, dict)]
    names = [n for n in names if n]
    authors = ", ".join(names[:6]) + (", et al." if len(names) > 6 else "")
    parts = [authors + "." if authors else "", title.rstrip(".") + "."]
    version, released = _text(data.get("version")), _text(data.get("date-released"))
    if version:
        parts.append(f"Version {version}" + (f", {released}." if released else "."))
    elif released:
        parts.append(f"{released}.")
    identifier = _text(data.get("doi"))
    if identifier:
        parts.append(f"doi:{identifier}")
    elif _text(data.get("url")) or _text(data.get("repository-code")):
        parts.append(_text(data.get("url")) or _text(data.get("repository-code")))
    return " ".join(p for p in parts if p)


def _value(text: str) -> str:
    if text:
        return html.escape(text)
    return f'<span class="review-not-stated">{NOT_STATED}</span>'


def front_matter_block(front_matter_path: Path | None = None, citation_path: Path | None = None) -> HtmlBlock:
    """The front matter as a definition list, each empty field reading "not yet stated"."""
    fields = front_matter(front_matter_path)
    citation = citation_text(citation_path)
    if fields["authors"]:
        authors_html = "<ul>" + "".join(
            f"<li>{html.escape(a['name'])}"
            + (f", {html.escape(a['affiliation'])}" if a["affiliation"] else "")
            + (f" (ORCID {html.escape(a['orcid'])})" if a["orcid"] else "")
            + f". Contributions: {_value(a['contributions'])}</li>" for a in fields["authors"]) + "</ul>"
        authors_text = "; ".join(f"{a['name']} ({a['contributions'] or NOT_STATED})" for a in fields["authors"])
    else:
        authors_html, authors_text = _value(""), NOT_STATED
    items = [("How to cite", _value(citation), citation or NOT_STATED),
             ("Authors and contributions", authors_html, authors_text),
             ("Funding", _value(fields["funding"]), fields["funding"] or NOT_STATED),
             ("Declarations of interest", _value(fields["conflicts_of_interest"]),
              fields["conflicts_of_interest"] or NOT_STATED),
             ("Protocol", _value(fields["protocol"]), fields["protocol"] or NOT_STATED),
             ("Contact", _value(fields["contact"]), fields["contact"] or NOT_STATED)]
    html_text = ('<dl class="review-box-list review-front-matter">'
                 + "".join(f"<dt>{html.escape(name)}</dt><dd>{value}</dd>" for name, value, _ in items)
                 + "</dl>")
    return HtmlBlock(html_text, "\n".join(f"{name}: {text}" for name, _, text in items))
