"""The exact distribution of Gi*'s randomisation null against every subset written out."""

from __future__ import annotations

import itertools

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from geo_violence.stats.randomisation import randomisation_p, subset_sums, table_size


def by_enumeration(values: list[int], size: int, observed: int) -> float:
    sums = np.array([sum(chosen) for chosen in itertools.combinations(values, size)])
    return min(1.0, 2 * min(np.mean(sums >= observed), np.mean(sums <= observed)))


@settings(max_examples=150, deadline=None)
@given(
    values=st.lists(st.integers(0, 12), min_size=2, max_size=10),
    picks=st.lists(st.tuples(st.integers(1, 10), st.integers(-2, 130)), min_size=1, max_size=6),
)
def test_p_values_equal_the_enumeration_of_every_subset(values, picks):
    n = len(values)
    sizes = np.array([min(size, n) for size, _ in picks])
    observed = np.array([total for _, total in picks])
    p = randomisation_p(np.array(values), sizes, observed)
    for got, size, total in zip(p, sizes, observed, strict=True):
        if size == n:
            assert np.isnan(got)  # every unit in the neighbourhood: a fixed sum
        else:
            assert abs(got - by_enumeration(values, int(size), int(total))) < 1e-12


def test_the_table_counts_subsets_and_stays_exact_with_many_units():
    values = np.array([0] * 5000 + [1] * 900 + [3] * 90 + [40] * 10)  # H3-like: mostly empty
    ways = subset_sums(values, 7)
    assert ways.shape == (8, 7 * 40 + 1)
    from scipy.special import comb

    np.testing.assert_allclose(ways.sum(axis=1), comb(len(values), np.arange(8)), rtol=1e-12)
    # one cell worked out: the 7-subsets summing to 0 are those of the 5000 zeros
    assert ways[7, 0] == comb(5000, 7)
    # a sum of 80 or more needs two of the ten 40s (one 40 and six 3s make 58): hypergeometric
    p = randomisation_p(values, np.array([7]), np.array([80]))
    np.testing.assert_allclose(p, 2 * stats.hypergeom.sf(1, len(values), 10, 7), rtol=1e-10)
    assert table_size(values, np.array([7, 3])) == (ways.size, ways.size * 4)  # 4 values
