"""Wilson intervals, binomial p-values and BH q-values against known values."""

import numpy as np
import pytest

from analysis_core.leaf_stats import benjamini_hochberg, binomial_p_greater, wilson_interval


def test_wilson_interval_known_value():
    low, high = wilson_interval([5, 0], [10, 0])
    assert low[0] == pytest.approx(0.2366, abs=1e-4) and high[0] == pytest.approx(0.7634, abs=1e-4)
    assert np.isnan(low[1]) and np.isnan(high[1])  # empty leaf: no interval


def test_binomial_p_value_one_sided():
    # P(X >= 3 | n=3, p=0.4) = 0.4^3; P(X >= 0) = 1.
    p = binomial_p_greater([3, 0, 1], [3, 5, 1], [0.4, 0.4, 0.5])
    assert p[0] == pytest.approx(0.064)
    assert p[1] == pytest.approx(1.0)
    assert p[2] == pytest.approx(0.5)


def test_benjamini_hochberg_by_hand():
    q = benjamini_hochberg([0.01, 0.04, 0.03, 0.5, np.nan])
    assert q[:4] == pytest.approx([0.04, 0.04 * 4 / 3, 0.04 * 4 / 3, 0.5])
    assert np.isnan(q[4])
