"""Free-text agreement: normalisation, Jaccard, representative description (hand-computed)."""

import math

import numpy as np
import pytest

from study.analysis.text import TextNormalizer, jaccard, mean_pairwise, pairwise_jaccard, representative_index


@pytest.fixture(scope="module")
def normalizer():
    return TextNormalizer()


def test_tokens_are_lower_cased_stemmed_and_without_stop_words(normalizer):
    assert normalizer.tokens("The Dog's metal BUCKLES, it looks like a collar!") == {"dog", "metal", "buckl", "collar"}
    assert normalizer.tokens("") == frozenset()
    assert normalizer.tokens(None) == frozenset()


def test_jaccard_by_hand(normalizer):
    a = normalizer.tokens("A metal buckle on the strap")  # {metal, buckl, strap}
    b = normalizer.tokens("metal buckles")  # {metal, buckl}
    assert jaccard(a, b) == pytest.approx(2 / 3)
    assert jaccard(a, frozenset()) == 0.0
    assert math.isnan(jaccard(frozenset(), frozenset()))


def test_mean_pairwise_and_representative_by_hand(normalizer):
    texts = ["red stripes", "red stripes on shirt", "a blue sky"]
    sets = [normalizer.tokens(t) for t in texts]  # {red, stripe}, {red, stripe, shirt}, {blue, sky}
    matrix = pairwise_jaccard(sets)
    # pairs: (0,1) = 2/3, (0,2) = 0, (1,2) = 0 -> mean 2/9
    assert mean_pairwise(matrix) == pytest.approx(2 / 9)
    # mean agreement with the others: text0 = 1/3, text1 = 1/3, text2 = 0; the tie goes to text1 (more words)
    assert representative_index(matrix, [len(s) for s in sets]) == 1


def test_representative_tie_with_equal_length_goes_to_the_earliest():
    sets = [frozenset({"a", "b"}), frozenset({"a", "c"})]
    assert representative_index(pairwise_jaccard(sets), [2, 2]) == 0


def test_texts_without_content_words_are_not_chosen_and_single_texts_have_no_agreement(normalizer):
    sets = [normalizer.tokens("the and of"), normalizer.tokens("zipper")]
    assert representative_index(pairwise_jaccard(sets), [len(s) for s in sets]) == 1
    assert mean_pairwise(pairwise_jaccard(sets)) == 0.0  # nothing shared with a text that says nothing
    one = pairwise_jaccard([frozenset({"x"})])
    assert math.isnan(mean_pairwise(one))
    assert representative_index(np.zeros((0, 0)), []) is None
