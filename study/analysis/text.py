"""Agreement between free-text descriptions: token Jaccard after normalisation.

Two workers who write "a metal buckle" and "buckles made of metal" mean the same thing,
so descriptions are lower-cased, split into word tokens, stripped of English stop words
and stemmed (Porter) before their token sets are compared.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field

import numpy as np

# A small built-in list so the analysis needs no corpus download (nltk's list needs one).
STOP_WORDS = frozenset(
    """
    a about above after again against all almost also am an and any are around as at be
    because been before being below between both but by can could did do does doing done
    down during each either else etc even ever every few for from further get gets got had
    has have having he her here hers herself him himself his how i if in into is it its
    itself just like likely look looks looking maybe me might more most much must my myself
    no nor not of off often on once one only or other our ours ourselves out over own per
    perhaps quite rather really same seem seems she should so some something such than that
    the their theirs them themselves then there these they thing things this those through
    thus to too under until up upon us very was we were what when where which while who
    whom why will with within without would yes yet you your yours yourself yourselves
    image images picture pictures
    """.split()
)

_TOKEN = re.compile(r"[a-z0-9]+")


@dataclass
class TextNormalizer:
    """Turns a description into its set of stemmed content tokens.

    The stemmer is nltk's PorterStemmer, which is pure Python and needs no data download.
    Stems are cached per normalizer because a study repeats the same words thousands of times.
    """

    stop_words: frozenset[str] = STOP_WORDS
    _cache: dict[str, str] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        from nltk.stem import PorterStemmer

        self._stemmer = PorterStemmer()

    def tokens(self, text: str | None) -> frozenset[str]:
        if not isinstance(text, str):
            return frozenset()
        # Apostrophes are dropped first so that "dog's" becomes "dogs" (stem "dog"), not "dog" + "s".
        words = _TOKEN.findall(text.lower().replace("'", "").replace("\u2019", ""))
        out = set()
        for word in words:
            if word in self.stop_words:
                continue
            stem = self._cache.get(word)
            if stem is None:
                stem = self._stemmer.stem(word)
                self._cache[word] = stem
            if stem not in self.stop_words:
                out.add(stem)
        return frozenset(out)


def jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    """|a ∩ b| / |a ∪ b|; NaN when both descriptions have no content words (nothing to compare)."""
    union = len(a | b)
    if union == 0:
        return float("nan")
    return len(a & b) / union


def pairwise_jaccard(token_sets: list[frozenset[str]]) -> np.ndarray:
    """Symmetric matrix of Jaccard similarities; the diagonal is NaN (a text is not its own peer)."""
    n = len(token_sets)
    matrix = np.full((n, n), np.nan)
    for i, j in itertools.combinations(range(n), 2):
        matrix[i, j] = matrix[j, i] = jaccard(token_sets[i], token_sets[j])
    return matrix


def mean_pairwise(matrix: np.ndarray) -> float:
    """Mean over the distinct pairs that have a defined similarity; NaN with fewer than one pair."""
    n = matrix.shape[0]
    if n < 2:
        return float("nan")
    upper = matrix[np.triu_indices(n, k=1)]
    upper = upper[~np.isnan(upper)]
    return float(upper.mean()) if upper.size else float("nan")


def representative_index(matrix: np.ndarray, token_counts: list[int]) -> int | None:
    """Index of the most representative text: the highest mean similarity to the others.

    Tie rule: among texts with the same mean similarity (to 1e-12), the one with more content
    tokens wins (it says more), then the earliest in input order. Texts without content
    words are never chosen unless nothing else exists; None when there are no texts.
    """
    n = matrix.shape[0]
    if n == 0:
        return None
    candidates = [i for i in range(n) if token_counts[i] > 0] or list(range(n))
    if n == 1 or len(candidates) == 1:
        return candidates[0]
    with np.errstate(invalid="ignore"):
        scores = [np.nanmean(matrix[i]) if np.any(~np.isnan(matrix[i])) else -1.0 for i in range(n)]
    best = max(candidates, key=lambda i: (round(float(scores[i]), 12), token_counts[i], -i))
    return best
