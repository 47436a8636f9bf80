"""Agreement statistics against values worked out by hand."""

import math

import numpy as np
import pytest

from study.analysis.agreement import count_table, fleiss_kappa, item_agreement, krippendorff_alpha


def test_fleiss_kappa_matches_hand_computation():
    # 4 items, 3 raters, 2 categories.
    table = np.array([[3, 0], [0, 3], [2, 1], [1, 2]])
    # P_i = sum n_ij (n_ij - 1) / (n (n - 1)): 6/6, 6/6, 2/6, 2/6 -> P_bar = 2/3.
    # p_j = 6/12 each -> P_e = 0.25 + 0.25 = 1/2.  kappa = (2/3 - 1/2) / (1 - 1/2) = 1/3.
    result = fleiss_kappa(table)
    assert result.kappa == pytest.approx(1 / 3)
    assert (result.n_items, result.n_raters, result.n_items_left_out) == (4, 3, 0)
    assert item_agreement(table) == pytest.approx([1, 1, 1 / 3, 1 / 3])


def test_fleiss_kappa_uses_items_with_the_common_rater_count_and_says_how_many_were_left_out():
    table = np.array([[3, 0], [0, 3], [2, 1], [1, 2], [1, 1]])  # the last item has 2 ratings
    result = fleiss_kappa(table)
    assert result.kappa == pytest.approx(1 / 3)
    assert (result.n_items, result.n_raters, result.n_items_left_out) == (4, 3, 1)


def test_fleiss_kappa_is_undefined_when_every_answer_is_the_same():
    result = fleiss_kappa(np.array([[3, 0], [3, 0]]))
    assert math.isnan(result.kappa)
    assert "same" in result.note


def test_krippendorff_alpha_ordinal_matches_hand_computation():
    # Units {1,1}, {2,3}, {3,3} on a 1..3 scale; value counts n_1=2, n_2=1, n_3=3, n=6.
    # Coincidences: o_11=2, o_23=o_32=1, o_33=2.
    # Ordinal distances: d_12=((2+1)/2)^2=2.25, d_13=(6-(2+3)/2)^2=12.25, d_23=((1+3)/2)^2=4.
    # alpha = 1 - (n-1) * sum o*d / sum n_c n_k d = 1 - 5 * (2*4) / (2*(2*2.25 + 6*12.25 + 3*4)) = 1 - 40/180 = 7/9.
    table = np.array([[2, 0, 0], [0, 1, 1], [0, 0, 2]])
    result = krippendorff_alpha(table, "ordinal", [1, 2, 3])
    assert result.alpha == pytest.approx(7 / 9)
    # Nominal: every disagreement costs 1 -> 1 - 5 * 2 / (2*(2 + 6 + 3)) = 12/22.
    assert krippendorff_alpha(table, "nominal", [1, 2, 3]).alpha == pytest.approx(12 / 22)


def test_krippendorff_alpha_ordinal_counts_a_near_miss_as_less_disagreement_than_nominal():
    near = np.array([[2, 0, 0, 0, 0], [0, 0, 0, 1, 1], [0, 0, 0, 0, 2], [0, 1, 1, 0, 0]])
    ordinal = krippendorff_alpha(near, "ordinal", [1, 2, 3, 4, 5]).alpha
    nominal = krippendorff_alpha(near, "nominal", [1, 2, 3, 4, 5]).alpha
    assert ordinal > nominal


def test_krippendorff_alpha_leaves_out_single_ratings_and_is_nan_for_one_value():
    table = np.array([[2, 0, 0], [0, 1, 1], [0, 0, 2], [0, 1, 0]])  # last unit: one rating, not pairable
    result = krippendorff_alpha(table, "ordinal", [1, 2, 3])
    assert result.alpha == pytest.approx(7 / 9)
    assert result.n_items == 3
    assert math.isnan(krippendorff_alpha(np.array([[2, 0], [3, 0]]), "ordinal", [1, 2]).alpha)


def test_count_table_skips_missing_answers():
    codes = np.array([0, 1, -1, 1])
    items = np.array([0, 0, 1, 1])
    assert count_table(codes, items, 2, 2).tolist() == [[1, 1], [0, 1]]
