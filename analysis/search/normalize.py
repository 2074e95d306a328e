"""Keys for comparing records: DOIs, PMIDs, titles, URLs, journals, first-author surnames, years.

Every function takes any value (``None``, NaN, numbers) and returns a string key, ``""`` when
the value holds nothing usable.
"""
from __future__ import annotations

import html
import re
import unicodedata
from functools import lru_cache
from urllib.parse import unquote

_DOI_PREFIX = re.compile(r"^(?:https?://)?(?:dx\.|www\.)?doi\.org/|^(?:info:|urn:)?doi[:/]\s*|^doi\s+",
                         re.IGNORECASE)
_DOI_IN_TEXT = re.compile(r"10\.\d{4,9}/[^\s\"'<>&]+")
_SPACE = re.compile(r"\s+")
_PMID_PREFIX = re.compile(r"^(?:pmid|pubmed)\s*:?\s*", re.IGNORECASE)
_DOI_SHAPE = re.compile(r"^10\.\d{4,9}/\S+$")
_TAG = re.compile(r"<[^>]{0,200}>")
_NON_ALNUM = re.compile(r"[^0-9a-z]+")
# a year, also as the start of a compact date (20170812): not inside a longer number otherwise
_YEAR = re.compile(r"(?<!\d)(1[89]\d\d|20\d\d)(?:(?!\d)|(?=[01]\d[0-3]\d(?!\d)))")
_INITIALS = re.compile(r"^[A-Z]{1,4}$|^(?:[A-Z]\.){1,4}$|^(?:[A-Z]\.-?){1,4}[A-Z]?\.?$")
# country abbreviations that title variants spell out ("in the U.S." / "in the United States")
_TITLE_ABBREVIATIONS = [(re.compile(r"\bU\.\s?S\.(?:\s?A\.)?"), "United States"),
                        (re.compile(r"\bU\.\s?K\."), "United Kingdom")]
# letters that NFKD does not decompose into a base letter plus a combining mark
_FOLD = str.maketrans({"ß": "ss", "æ": "ae", "Æ": "AE", "ø": "o", "Ø": "O", "œ": "oe", "Œ": "OE",
                       "ł": "l", "Ł": "L", "đ": "d", "Đ": "D", "þ": "th", "ı": "i"})
# DOI prefixes of preprint servers: a preprint has its own DOI, distinct from the article's
# (bioRxiv/medRxiv 10.1101, Research Square 10.21203, PsyArXiv/OSF 10.31234/10.31219, arXiv
# 10.48550, SSRN 10.2139, Preprints.org 10.20944, JMIR Preprints 10.2196/preprints.)
PREPRINT_DOI_PREFIXES = ("10.1101/", "10.21203/", "10.31234/", "10.31219/", "10.48550/", "10.2139/",
                         "10.20944/", "10.2196/preprints.")
_PREPRINT_SERVER = re.compile(r"preprint|arxiv|ssrn|research square|preprints org")


def _missing(value: object) -> bool:
    return value is None or (isinstance(value, float) and value != value)


def fold_diacritics(text: str) -> str:
    """``Bessière`` -> ``Bessiere``: NFKD decomposition without combining marks."""
    if text.isascii():
        return text
    decomposed = unicodedata.normalize("NFKD", text.translate(_FOLD))
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def normalize_doi(value: object) -> str:
    """Lower-case bare DOI (``10.xxxx/...``) or ``""``.

    Removes resolver prefixes (``https://doi.org/``, ``dx.doi.org``, ``doi:``, ``info:doi/``),
    URL escapes (``%2F``), markup left by reference managers (``10.1186/x<br/``, ``&lt;``),
    surrounding whitespace and trailing punctuation picked up from citations. DOIs are
    case-insensitive (DOI Handbook, section 2.4), so lower case is the canonical form here.
    """
    if _missing(value):
        return ""
    doi = html.unescape(unquote(str(value))).strip()
    doi = re.split(r"<|\[(?:doi|pii)\]", doi, maxsplit=1, flags=re.IGNORECASE)[0]  # markup, MEDLINE tags
    doi = doi.strip().strip("\"'>")
    previous = None
    while previous != doi:
        previous = doi
        doi = _DOI_PREFIX.sub("", doi).strip()
    doi = _SPACE.sub("", doi).rstrip(".,;:)]}").lower()
    return doi if _DOI_SHAPE.match(doi) else ""


def find_doi(value: object) -> str:
    """The first DOI inside a longer text, e.g. an OpenURL link (``...&id=doi:10.4103%2F2303-9027.138783&...``)."""
    if _missing(value):
        return ""
    match = _DOI_IN_TEXT.search(unquote(str(value)))
    return normalize_doi(match.group(0)) if match else ""


def is_preprint_doi(doi: str) -> bool:
    return doi.startswith(PREPRINT_DOI_PREFIXES)


def normalize_pmid(value: object) -> str:
    """PubMed id as digits without leading zeros, or ``""`` (``PMID: 012345`` -> ``12345``)."""
    if _missing(value):
        return ""
    text = _PMID_PREFIX.sub("", str(value).strip())
    text = text.removesuffix(".0") if re.fullmatch(r"\d+\.0", text) else text
    return text.lstrip("0") if text.isdigit() and text.strip("0") else ""


def strip_translation_brackets(title: str) -> str:
    """MEDLINE writes a title translated into English in square brackets: ``[Behavioural addiction:
    an independent diagnostic category?].`` -> the title without them (NLM, MEDLINE/PubMed data
    element TI: "titles in brackets are translations of non-English titles")."""
    text = title.strip()
    match = re.fullmatch(r"\[(.+)\]\.?", text, flags=re.DOTALL)
    return match.group(1).strip() if match and "[" not in match.group(1) else title


def normalize_title(value: object) -> str:
    """Title key: HTML entities and tags resolved, diacritics folded, lower case, punctuation as
    single spaces. ``"Internet &amp; Depression: <i>A</i> Study."`` -> ``"internet depression a study"``
    (``&`` and ``and`` both drop out so that the two spellings match).
    """
    if _missing(value):
        return ""
    text = str(value)
    for _ in range(2):  # double-escaped entities (&amp;amp;) occur in scraped pages
        text = html.unescape(text)
    text = _TAG.sub(" ", text)
    for pattern, expansion in _TITLE_ABBREVIATIONS:
        text = pattern.sub(expansion, text)
    text = fold_diacritics(text).lower()
    text = _NON_ALNUM.sub(" ", text)
    return " ".join(word for word in text.split() if word != "and")


def is_description(title: object) -> bool:
    """True for a reviewer-written description in square brackets (``[title not shown ...] ...``):
    not a bibliographic title, so it must not be matched like one. Readers of database exports
    remove MEDLINE's translation brackets first, so only the review's own hit lists keep them."""
    return str(title or "").lstrip().startswith("[")


def normalize_url(value: object) -> str:
    """URL key: no scheme, no ``www.``, no trailing slash, lower-case host, fragment dropped."""
    text = "" if _missing(value) else str(value).strip()
    if not text:
        return ""
    text = re.sub(r"^[a-z]+://", "", text, flags=re.IGNORECASE).split("#")[0].rstrip("/")
    host, _, rest = text.partition("/")
    host = host.lower().removeprefix("www.")
    return f"{host}/{rest}" if rest else host


@lru_cache(maxsize=65536)
def normalize_journal(value: object) -> str:
    """Journal key: folded, lower case, punctuation and ``of/the/and/&`` removed, and without the
    place or edition in parentheses that catalogues add (``Journal of Public Health (Oxford,
    England)``, ``BMJ (Clinical research ed.)``)."""
    text = "" if _missing(value) else re.sub(r"\([^()]*\)", " ", str(value))
    words = normalize_title(text).split()
    return " ".join(w for w in words if w not in ("of", "the", "for", "in", "on"))


def is_preprint_server(journal_key: str) -> bool:
    return bool(_PREPRINT_SERVER.search(journal_key))


def journals_compatible(a: str, b: str) -> bool:
    """True unless two normalised journal names are clearly different sources.

    Empty names and preprint servers are compatible with anything. ``j med internet res`` and ``journal medical
    internet research`` are compatible: every word of the shorter name starts a word of the longer
    one, in order (ISO 4 abbreviations shorten words from the end).
    """
    if not a or not b or a == b:
        return True
    if is_preprint_server(a) or is_preprint_server(b):
        return True  # a preprint is the same work as the article it becomes
    short, long_ = sorted((a.split(), b.split()), key=len)
    position = 0
    for word in short:
        while position < len(long_) and not long_[position].startswith(word):
            position += 1
        if position == len(long_):
            return False
        position += 1
    return True


def author_surname(value: object) -> str:
    """Surname key of a first author in any common form, folded and lower case.

    ``"Gould MS"``, ``"Gould, Madelyn S."``, ``"Madelyn S. Gould"`` -> ``"gould"``;
    ``"Gil-Fortoul Bucheli JD"`` -> ``"gilfortoulbucheli"``; ``"Bessière K"`` -> ``"bessiere"``.
    """
    text = fold_diacritics(html.unescape("" if _missing(value) else str(value))).strip()
    text = text.split(";")[0].split(" and ")[0].strip()
    if not text:
        return ""
    part = text.split(",")[0].strip()
    words = part.split()
    if len(words) > 1 and _INITIALS.match(words[-1]):
        surname = " ".join(words[:-1])  # Vancouver: "Surname AB", also "Surname A., Other B."
    elif "," in text:
        surname = part  # "Surname, Given"
    elif len(words) > 1:
        surname = words[-1]  # "Given Surname", "A. B. Surname"
    else:
        surname = part
    return re.sub(r"[^a-z]", "", surname.lower())


def surnames_compatible(a: str, b: str) -> bool:
    """Two surname keys of one person: equal, one missing, or one the end of the other (a
    compound surname written in full in one database: ``palmerdupreez`` / ``dupreez``,
    ``murrayboyle`` / ``boyle``)."""
    if not a or not b or a == b:
        return True
    short, long_ = sorted((a, b), key=len)
    return len(short) >= 4 and long_.endswith(short)


def parse_year(value: object) -> str:
    """First four-digit year 1800-2099 in the value (``"2016 May 16"``, ``"Start date: 20170812"``),
    else ``""``."""
    match = _YEAR.search("" if _missing(value) else str(value))
    return match.group(1) if match else ""
