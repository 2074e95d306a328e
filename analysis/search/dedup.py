"""Deduplication: duplicate records linked into clusters, never deleted.

The order follows the usual automated tools (e.g. ASySD, Hair et al. 2023, BMC Biol 21:189):
exact identifier matches (DOI, PMID, URL), then exact normalised title, then fuzzy title
matching with rapidfuzz inside blocks, each title link checked against year, first-author
surname and journal. Links are merged with union-find into clusters.

Identifiers are respected throughout: two clusters are never joined when each carries a DOI
(or a PMID) and the two sets share none, so distinct items with one generic title (referee
reports, consecutive report numbers, letters in one journal) stay apart. A preprint DOI does
not count against the article's DOI (a preprint has its own DOI and is the same work).
"""
from __future__ import annotations

import bisect
import sys
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .normalize import (author_surname, is_description, is_preprint_doi, is_preprint_server,
                        journals_compatible, normalize_doi, normalize_journal, normalize_pmid,
                        normalize_title, normalize_url, parse_year, surnames_compatible)

CLUSTER_COLUMNS = ["record_id", "cluster_id", "first_record_id", "reason", "linked_to", "score"]
STOP_WORDS = frozenset("a an the of in on for to with by from at as or is are its their among".split())


@dataclass(frozen=True)
class DedupSettings:
    """Thresholds of the title links (rapidfuzz scores 0-100)."""
    fuzzy_title_score: float = 93.0   # ratio of the two normalised titles
    prefix_min_chars: int = 40        # a truncated title must keep at least this many characters
    min_title_chars: int = 20         # shorter titles ("Introduction") are never matched on title
    year_tolerance: int = 1           # online-first vs issue year
    identifier_title_score: float = 85.0  # a DOI/PMID/URL link needs titles at least this close...
    other_language_overlap: float = 0.2   # ...or titles sharing at most this share of words (a translation)
    max_block_size: int = 100         # larger blocks are compared within two-year windows


class _Clusters:
    """Union-find over records that keeps, per cluster, the DOIs and PMIDs of its members."""

    def __init__(self, dois: list[str], pmids: list[str]):
        self.parent = list(range(len(dois)))
        self.dois = [{d} if d else set() for d in dois]
        self.pmids = [{p} if p else set() for p in pmids]

    def find(self, i: int) -> int:
        root = i
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[i] != root:
            self.parent[i], i = root, self.parent[i]
        return root

    def conflict(self, i: int, j: int) -> bool:
        """True when joining would put two different DOIs (or PMIDs) in one cluster."""
        ri, rj = self.find(i), self.find(j)
        if ri == rj:
            return False
        return bool(self.dois[ri] and self.dois[rj] and self.dois[ri].isdisjoint(self.dois[rj])) or \
            bool(self.pmids[ri] and self.pmids[rj] and self.pmids[ri].isdisjoint(self.pmids[rj]))

    def union(self, i: int, j: int) -> bool:
        ri, rj = self.find(i), self.find(j)
        if ri == rj:
            return False
        if ri > rj:
            ri, rj = rj, ri
        self.parent[rj] = ri  # the earlier record stays the root
        self.dois[ri] |= self.dois[rj]
        self.pmids[ri] |= self.pmids[rj]
        return True


def _is_truncation(a: str, b: str, min_chars: int) -> bool:
    """True when the shorter normalised title is the start of the longer one, allowing the last
    word to be cut (a title truncated mid-word by a database or a page excerpt)."""
    short, long_ = sorted((a, b), key=len)
    if long_.startswith(short) and len(short) >= min_chars:
        return True
    head = short.rsplit(" ", 1)[0]
    return len(head) >= min_chars and long_.startswith(head + " ")


def _blocking_keys(title: str) -> tuple[str, str]:
    """Two keys so that a typo at one end of a title still leaves the other key intact: the first
    three and the last three content words (4 letters each). A truncated title keeps its head."""
    words = [w for w in title.split() if w not in STOP_WORDS] or title.split()
    head = " ".join(w[:4] for w in words[:3])
    tail = " ".join(w[:4] for w in words[-3:])
    return head, tail


def _word_overlap(a: str, b: str) -> float:
    """Share of words two titles have in common (Jaccard); near 0 for a title and its translation."""
    left, right = set(a.split()), set(b.split())
    return len(left & right) / len(left | right) if left and right else 0.0


def dedup(records: pd.DataFrame, settings: DedupSettings = DedupSettings(), *,
          manual_links: pd.DataFrame | None = None, progress: bool = False) -> pd.DataFrame:
    """Duplicate clusters of a record table (records in search order; none removed).

    Returns one row per record: ``record_id``, ``cluster_id`` (1, 2, ... in order of first
    occurrence), ``first_record_id`` (the cluster's earliest record), ``reason`` (how this record
    was linked: ``doi``, ``pmid``, ``url``, ``exact title``, ``title prefix``, ``fuzzy title``; empty
    for a cluster's first record), ``linked_to`` (the record it was linked to) and ``score``
    (rapidfuzz score of a title link, 100 for exact links; NaN for a first record).

    ``manual_links`` (``record_id, first_record_id``, e.g. the reviewers' ``dedup_map.csv``) are
    joined last with reason ``manual``: reviewers' merges that no automatic rule finds; they may
    join clusters whose identifiers differ.

    An identifier link needs titles that agree (or one title missing), or titles in two
    languages (almost no word in common) with the same year and first author. Title links need
    compatible years (within ``year_tolerance``, or one missing), first-author surnames (equal, one
    missing, or one a compound surname ending in the other) and journals (an exact title with the
    same first author and year may differ in journal name), and never join clusters whose DOIs or
    PMIDs differ.
    Reviewer-written descriptions in square brackets are not titles and only link through DOI,
    PMID or URL.
    """
    from rapidfuzz import fuzz, process

    n = len(records)
    ids = records["record_id"].astype(str).tolist()
    doi = [normalize_doi(v) for v in records["doi"].tolist()]
    pmid = [normalize_pmid(v) for v in records["pmid"].tolist()]
    url = [normalize_url(v) for v in records["url"].tolist()] if "url" in records else [""] * n
    raw_titles = records["title"].astype(str).tolist()
    title = ["" if is_description(t) else normalize_title(t) for t in raw_titles]
    year = [int(y) if y else None for y in (parse_year(v) for v in records["year"].tolist())]
    author = [author_surname(v) for v in records["first_author"].tolist()]
    journal = [normalize_journal(v) for v in records["journal"].tolist()] if "journal" in records else [""] * n
    # a preprint's DOI differs from its article's by design: it does not count as a conflict
    comparable_doi = ["" if is_preprint_doi(d) or is_preprint_server(journal[i]) else d for i, d in enumerate(doi)]

    clusters = _Clusters(comparable_doi, pmid)
    link: dict[int, tuple[str, int, float]] = {}

    def add(i: int, j: int, reason: str, score: float, *, check_identifiers: bool = True) -> None:
        if i > j:
            i, j = j, i
        if check_identifiers and clusters.conflict(i, j):
            return
        if clusters.union(i, j) or j not in link:
            link.setdefault(j, (reason, i, score))

    def compatible(i: int, j: int) -> bool:
        if year[i] is not None and year[j] is not None and abs(year[i] - year[j]) > settings.year_tolerance:
            return False
        if not surnames_compatible(author[i], author[j]):
            return False
        return journals_compatible(journal[i], journal[j]) and not clusters.conflict(i, j)

    def same_work_by_exact_title(i: int, j: int) -> bool:
        """An exact title with the same first author and year despite journal names that do not
        match: one journal under two names (Nordisk alkohol- & narkotikatidskrift / Nordic
        Studies on Alcohol and Drugs)."""
        if compatible(i, j):
            return True
        return bool(author[i]) and author[i] == author[j] and year[i] is not None and year[i] == year[j] \
            and not clusters.conflict(i, j)

    # 1. identifiers. A news item, commentary or review table that cites an article can carry the
    # article's DOI; such a link is refused when both records show titles that disagree, unless the
    # titles are one work's title in two languages (same year and first author, almost no shared word).
    def titles_agree(i: int, j: int) -> bool:
        if not title[i] or not title[j]:
            return True
        short, long_ = sorted((title[i], title[j]), key=len)
        if long_.startswith(short) or fuzz.ratio(title[i], title[j]) >= settings.identifier_title_score:
            return True
        same_work = (year[i] is not None and year[i] == year[j] and author[i] and author[i] == author[j])
        return bool(same_work) and _word_overlap(title[i], title[j]) <= settings.other_language_overlap

    for reason, keys in (("doi", doi), ("pmid", pmid), ("url", url)):
        members_of: dict[str, list[int]] = {}
        for j, key in enumerate(keys):
            if not key:
                continue
            members = members_of.setdefault(key, [])
            partner = next((i for i in members if titles_agree(i, j) and not clusters.conflict(i, j)), None)
            if partner is not None:
                add(partner, j, reason, 100.0)
            members.append(j)

    # 2. exact normalised title (with year and author checks against the group's members)
    usable = [i for i in range(n) if len(title[i]) >= settings.min_title_chars]
    by_title: dict[str, list[int]] = {}
    for i in usable:
        by_title.setdefault(title[i], []).append(i)
    for members in by_title.values():
        for position, j in enumerate(members[1:], start=1):
            partner = next((i for i in members[:position] if same_work_by_exact_title(i, j)), None)
            if partner is not None:
                add(partner, j, "exact title", 100.0)

    # 3. fuzzy and truncated titles inside blocks; every distinct title once (members of one exact
    # title that could not be joined, e.g. for different DOIs, are compared separately)
    representatives = sorted({members[0] for members in by_title.values()}
                             | {i for members in by_title.values() for i in members
                                if clusters.find(i) != clusters.find(members[0])})
    blocks: dict[tuple[int, str], list[int]] = {}
    for i in representatives:
        for side, key in enumerate(_blocking_keys(title[i])):
            blocks.setdefault((side, key), []).append(i)
    groups = [members for members in blocks.values() if len(members) > 1]
    if progress:
        from tqdm import tqdm

        groups = tqdm(groups, desc="comparing titles in blocks", unit="block", file=sys.stderr,
                      delay=0.5, disable=None)

    def compare(queries: list[int], choices: list[int]) -> None:
        """Fuzzy and truncated-title links between two lists of records (may be the same list)."""
        query_texts = [title[i] for i in queries]
        choice_texts = [title[i] for i in choices]
        # scores below the cutoff come back as 0, so only candidate pairs are visited in Python
        scores = process.cdist(query_texts, choice_texts, scorer=fuzz.ratio,
                               score_cutoff=settings.fuzzy_title_score)
        fuzzy_pairs = set()
        for a, b in zip(*(axis.tolist() for axis in np.nonzero(scores))):
            i, j = queries[a], choices[b]
            if i != j:
                fuzzy_pairs.add((min(i, j), max(i, j)))
                if compatible(i, j):
                    add(i, j, "fuzzy title", float(scores[a, b]))
        # truncated titles: the titles that start with a given one (or with it minus a cut last
        # word) form one contiguous run of the sorted titles
        pairs = ((queries, choices), (choices, queries)) if queries is not choices else ((queries, queries),)
        for shorts, longs in pairs:
            order = sorted(longs, key=title.__getitem__)
            ordered = [title[i] for i in order]
            for i in shorts:
                text = title[i]
                head = text.rsplit(" ", 1)[0] if " " in text else text
                stem = head if len(head) >= settings.prefix_min_chars else text
                if len(stem) < settings.prefix_min_chars:
                    continue
                low = bisect.bisect_left(ordered, stem)
                high = bisect.bisect_left(ordered, stem + "\uffff")
                for j in order[low:high]:
                    if len(title[j]) <= len(text) or (min(i, j), max(i, j)) in fuzzy_pairs:
                        continue
                    if _is_truncation(text, title[j], settings.prefix_min_chars) and compatible(i, j):
                        add(i, j, "title prefix", 100.0)

    for members in groups:
        if len(members) <= settings.max_block_size:
            compare(members, members)
            continue
        # a large block (a common title start or end) is split into overlapping two-year
        # windows: a title link needs years within 1, so every such pair shares a window;
        # records without a year are compared with the whole block
        by_year: dict[int, list[int]] = {}
        undated = []
        for i in members:
            (undated if year[i] is None else by_year.setdefault(year[i], [])).append(i)
        for y in sorted(by_year):
            window = by_year[y] + by_year.get(y + 1, [])
            if len(window) > 1:
                compare(window, window)
        if undated:
            compare(undated, members)
        # members of the same exact title follow their representative through union-find

    # 4. the reviewers' own links
    if manual_links is not None:
        index = {record_id: i for i, record_id in enumerate(ids)}
        for record_id, first_id in zip(manual_links["record_id"], manual_links["first_record_id"]):
            if record_id in index and first_id in index and record_id != first_id:
                add(index[first_id], index[record_id], "manual", 100.0, check_identifiers=False)

    roots = [clusters.find(i) for i in range(n)]
    cluster_number: dict[int, int] = {}
    for root in roots:
        cluster_number.setdefault(root, len(cluster_number) + 1)
    rows = []
    for i in range(n):
        reason, partner, score = link.get(i, ("", None, float("nan")))
        if roots[i] == i:
            reason, partner, score = "", None, float("nan")
        rows.append((ids[i], cluster_number[roots[i]], ids[roots[i]], reason,
                     ids[partner] if partner is not None else "", score))
    return pd.DataFrame(rows, columns=CLUSTER_COLUMNS)


def pairwise_agreement(predicted: pd.DataFrame, truth: pd.DataFrame) -> dict[str, float | int]:
    """Pairwise precision and recall of a clustering against labelled clusters.

    A pair is two records placed in the same cluster. Precision = pairs in both clusterings /
    predicted pairs; recall = pairs in both / labelled pairs (the pairwise measures of record
    linkage, e.g. Christen 2012, Data Matching, section 7.3). Both tables need ``record_id`` and
    ``first_record_id``; only records present in both are counted.
    """
    merged = predicted[["record_id", "first_record_id"]].merge(
        truth[["record_id", "first_record_id"]], on="record_id", suffixes=("_pred", "_true"))
    if len(merged) == 0:
        raise ValueError("no record id in common between the clusters and the labels")

    def pairs(frame: pd.DataFrame, key) -> int:
        sizes = frame.groupby(key).size()
        return int((sizes * (sizes - 1) // 2).sum())

    predicted_pairs = pairs(merged, "first_record_id_pred")
    true_pairs = pairs(merged, "first_record_id_true")
    common = pairs(merged, ["first_record_id_pred", "first_record_id_true"])
    return {"records": int(len(merged)), "predicted_pairs": predicted_pairs, "true_pairs": true_pairs,
            "common_pairs": common,
            "precision": common / predicted_pairs if predicted_pairs else 1.0,
            "recall": common / true_pairs if true_pairs else 1.0}


def cluster_summary(clusters: pd.DataFrame) -> dict[str, int]:
    """Records, unique records (clusters), duplicates and the number of links of each reason."""
    summary = {"records": int(len(clusters)), "unique_records": int(clusters["cluster_id"].nunique())}
    summary["duplicates"] = summary["records"] - summary["unique_records"]
    for reason, count in clusters.loc[clusters["reason"] != "", "reason"].value_counts().items():
        summary[f"linked by {reason}"] = int(count)
    return summary


def new_records_summary(clusters: pd.DataFrame, is_new: "np.ndarray | pd.Series | list[bool]") -> dict[str, int]:
    """How the records of one new search run relate to the rest: ``new_unique`` (first of their
    cluster), ``within_file`` (copies of another record of the same run, and of nothing held
    before), ``already_held`` (in a cluster that a record of an earlier run opened)."""
    is_new = np.asarray(is_new, dtype=bool)
    first_is_new = dict(zip(clusters["record_id"], is_new))
    new = clusters[is_new]
    opened_by_new = new["first_record_id"].map(first_is_new).astype(bool)
    new_unique = int((new["record_id"] == new["first_record_id"]).sum())
    within_file = int((opened_by_new & (new["record_id"] != new["first_record_id"])).sum())
    return {"records": int(len(new)), "new_unique": new_unique, "within_file": within_file,
            "already_held": int(len(new)) - new_unique - within_file}
