"""Near-duplicate text: character 5-gram Jaccard similarity after normalisation, found without
comparing every pair.

Two texts are near duplicates when the Jaccard similarity of their sets of character 5-grams,
after `normalise` (Unicode NFKC, case folded, runs of punctuation and spacing made one space), is at
least the threshold (0.9 by default), and they hold the same numbers: "an alarm at 08:10" and "an
alarm at 08:15" are two requests, however alike the text. Character n-grams work the same for
English and Chinese.

All pairs at or above the threshold are found exactly with prefix filtering (Bayardo et al.,
"Scaling up all pairs similarity search", 2007): with 5-grams ordered rarest first, two sets whose
Jaccard similarity is at least t share a 5-gram among the first |A| − ⌈t·|A|⌉ + 1 of each. Only
pairs sharing one are verified, so a split of a few thousand examples takes well under a second.
"""
from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter, defaultdict

NGRAM = 5
THRESHOLD = 0.9
MEASURE = (f"Jaccard similarity of character {NGRAM}-grams after normalising Unicode (NFKC), case, punctuation "
           "and spacing; texts with different numbers are never near duplicates")


def normalise(text: str) -> str:
    """Case, width, punctuation and spacing folded: texts that differ only in these compare equal."""
    text = unicodedata.normalize("NFKC", text).casefold()
    return re.sub(r"[\W_]+", " ", text).strip()


def shingles(text: str, n: int = NGRAM) -> frozenset[str]:
    """The character n-grams of the normalised text (the whole text when it is shorter than n)."""
    norm = normalise(text)
    if len(norm) <= n:
        return frozenset([norm])
    return frozenset(norm[i:i + n] for i in range(len(norm) - n + 1))


def numbers(text: str) -> tuple[str, ...]:
    """The runs of digits in the text, in order: near duplicates must agree on them."""
    return tuple(re.findall(r"\d+", unicodedata.normalize("NFKC", text)))


def jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    """|a ∩ b| / |a ∪ b| (1.0 for two empty sets)."""
    if not a and not b:
        return 1.0
    inter = len(a & b)
    return inter / (len(a) + len(b) - inter)


def _prefix_length(size: int, threshold: float) -> int:
    # 1e-9 guards against 0.9 * n landing a hair above an integer in floating point
    return size - math.ceil(threshold * size - 1e-9) + 1


def similar_pairs(left: list[frozenset[str]], right: list[frozenset[str]] | None = None,
                  threshold: float = THRESHOLD) -> list[tuple[int, int, float]]:
    """Every pair (i, j, similarity) with similarity ≥ threshold: within `left` (i < j) when `right` is
    None, else between left[i] and right[j]. Exact (no pair is missed), sorted by (i, j)."""
    within = right is None
    others = left if right is None else right
    frequency = Counter(g for s in (left if within else left + others) for g in s)

    def ordered(s: frozenset[str]) -> list[str]:
        return sorted(s, key=lambda g: (frequency[g], g))

    index: dict[str, list[int]] = defaultdict(list)
    for j, s in enumerate(others):
        for g in ordered(s)[:_prefix_length(len(s), threshold)]:
            index[g].append(j)
    found = []
    for i, s in enumerate(left):
        candidates: set[int] = set()
        for g in ordered(s)[:_prefix_length(len(s), threshold)]:
            candidates.update(index.get(g, ()))
        for j in sorted(candidates):
            if within and j <= i:
                continue
            small, large = sorted((len(s), len(others[j])))
            if small < threshold * large - 1e-9:  # too different in size to reach the threshold
                continue
            sim = jaccard(s, others[j])
            if sim >= threshold - 1e-12:
                found.append((i, j, sim))
    return found
