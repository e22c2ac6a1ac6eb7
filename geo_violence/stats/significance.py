"""Multiple testing and the classes a map shows (hot/cold at 90/95/99%, LISA clusters)."""

from __future__ import annotations

import numpy as np

from ..choices import FDR_METHODS
from ..errors import OptionError

#: Confidence bins after correction, as ArcGIS draws them: +-3 (99%), +-2 (95%), +-1 (90%).
CONFIDENCE_BINS = ((0.01, 3), (0.05, 2), (0.10, 1))
LISA_LABELS = {1: "HH", 2: "LH", 3: "LL", 4: "HL"}
NOT_SIGNIFICANT = "not significant"


def adjust_p(p_values: np.ndarray, method: str = "bh") -> np.ndarray:
    """p-values adjusted for testing them all at once (q-values).

    Parameters
    ----------
    p_values : numpy.ndarray
        One p-value per test; NaN stays NaN and does not count as a test.
    method : {"bh", "bonferroni", "none"}
        Benjamini-Hochberg false discovery rate, Bonferroni's family-wise bound, or none.

    Returns
    -------
    numpy.ndarray

    Examples
    --------
    >>> adjust_p(np.array([0.01, 0.02, 0.03, 0.5])).round(3).tolist()
    [0.04, 0.04, 0.04, 0.5]
    >>> adjust_p(np.array([0.01, 0.5]), "bonferroni").tolist()
    [0.02, 1.0]
    """
    if method not in FDR_METHODS:
        raise OptionError.expected("fdr", method, FDR_METHODS)
    p_values = np.asarray(p_values, dtype=float)
    adjusted = np.full(p_values.shape, np.nan)
    tested = np.isfinite(p_values)
    if not tested.any():
        return adjusted
    if method == "none":
        adjusted[tested] = p_values[tested]
    elif method == "bonferroni":
        adjusted[tested] = np.minimum(p_values[tested] * tested.sum(), 1.0)
    else:
        adjusted[tested] = benjamini_hochberg(p_values[tested])
    return adjusted


def benjamini_hochberg(p_values: np.ndarray) -> np.ndarray:
    """Benjamini-Hochberg q-values of finite p-values in [0, 1], as
    :func:`scipy.stats.false_discovery_control` gives them, in less time on millions of bins.

    The q-value of the ``i``-th smallest of ``m`` p-values is ``min_{j >= i} p_(j) m / j``. The
    order of the p-values comes from sorting plain 64-bit keys (a non-negative float's bits, in
    the same order as its value, with the row number in the lowest bits), which numpy sorts
    several times faster than an ``argsort`` of the values. Values that differ only in those
    lowest bits may come out of order; each group of them that does is then put in order by its
    values, so the result is exact. Ties get the same q-value in any order.

    Parameters
    ----------
    p_values : numpy.ndarray
        Finite p-values in [0, 1], any shape (flattened).

    Returns
    -------
    numpy.ndarray
        One q-value per p-value, in their order, flat.

    Examples
    --------
    >>> benjamini_hochberg(np.array([0.5, 0.01, 0.03, 0.02])).round(3).tolist()
    [0.5, 0.04, 0.04, 0.04]
    """
    # + 0.0 turns -0.0 into 0.0, whose bits sort first (-0.0's sign bit would sort it last)
    p = np.ravel(np.asarray(p_values, dtype=float)) + 0.0
    m = p.size
    if m == 0:
        return p
    bits = max(1, (m - 1).bit_length())
    row_bits = np.uint64((1 << bits) - 1)
    keys = p.view(np.uint64) & ~row_bits
    keys |= np.arange(m, dtype=np.uint64)
    keys.sort()
    order = (keys & row_bits).astype(np.intp)
    ranked = p[order]
    if m > 1 and (ranked[1:] < ranked[:-1]).any():
        order = _in_order_within_groups(keys >> np.uint64(bits), order, ranked)
        ranked = p[order]
    ranked *= m / np.arange(1, m + 1)
    backwards = ranked[::-1]
    np.minimum.accumulate(backwards, out=backwards)
    np.minimum(ranked, 1.0, out=ranked)
    q = np.empty(m)
    q[order] = ranked
    return q


def _in_order_within_groups(
    prefix: np.ndarray, order: np.ndarray, ranked: np.ndarray
) -> np.ndarray:
    """``order`` with each run of equal ``prefix`` (a sorted key's value bits) that is out of
    order put in order by the values (``ranked``); runs are contiguous, so this sorts the whole."""
    group = np.concatenate([[0], np.cumsum(prefix[1:] != prefix[:-1])])
    disordered = np.zeros(group[-1] + 1, dtype=bool)
    disordered[group[1:][ranked[1:] < ranked[:-1]]] = True
    where = np.flatnonzero(disordered[group])
    within = np.lexsort((ranked[where], group[where]))
    fixed = order.copy()
    fixed[where] = order[where][within]
    return fixed


def gi_classes(z: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Hot (+) or cold (-) at 99% (3), 95% (2) or 90% (1) confidence after correction, else 0.

    Examples
    --------
    >>> gi_classes(np.array([3.0, -2.5, 1.7, 2.0]), np.array([0.001, 0.02, 0.08, 0.2])).tolist()
    [3, -2, 1, 0]
    """
    z = np.asarray(z, dtype=float)
    q = np.asarray(q, dtype=float)
    level = np.zeros(z.shape, dtype=np.int64)
    for threshold, value in reversed(CONFIDENCE_BINS):
        level = np.where(q <= threshold, value, level)
    return (np.sign(np.nan_to_num(z)) * level).astype(np.int64)


def lisa_clusters(quadrant: np.ndarray, q: np.ndarray, alpha: float = 0.05) -> np.ndarray:
    """The LISA cluster of each unit: HH, LL, HL, LH where ``q <= alpha``, else not significant.

    Examples
    --------
    >>> lisa_clusters(np.array([1, 3, 4]), np.array([0.01, 0.2, 0.04])).tolist()
    ['HH', 'not significant', 'HL']
    """
    labels = np.array([LISA_LABELS.get(int(code), NOT_SIGNIFICANT) for code in quadrant])
    return np.where(np.asarray(q) <= alpha, labels, NOT_SIGNIFICANT).astype(object)


def permutations_needed(n_tests: int, alpha: float, fdr: str) -> int:
    """The fewest permutations whose smallest two-sided p-value, ``2 / (permutations + 1)``, lets
    one test alone be significant at ``alpha`` after the correction over ``n_tests`` tests.

    Examples
    --------
    >>> permutations_needed(277, 0.05, "bh"), permutations_needed(28_600, 0.05, "bh")
    (11079, 1143999)
    >>> permutations_needed(28_600, 0.05, "none")
    39
    """
    if fdr not in FDR_METHODS:
        raise OptionError.expected("fdr", fdr, FDR_METHODS)
    tests = 1 if fdr == "none" else max(int(n_tests), 1)
    return int(np.ceil(2 * tests / alpha - 1 - 1e-9))


def resolution_note(
    n_tests: int, permutations: int, alpha: float, fdr: str, *, tested: str = "units"
) -> str | None:
    """A warning when too few permutations keep a lone test from ever being significant.

    The smallest two-sided permutation p-value is ``2 / (permutations + 1)``; after a correction
    over ``n_tests`` tests, one test alone is significant only if that times ``n_tests`` is at most
    ``alpha`` (Benjamini-Hochberg lets ``k`` tests at that p-value through together once ``k`` is at
    least ``n_tests`` times it over ``alpha``).

    Parameters
    ----------
    n_tests : int
        The number of tests the correction is over.
    permutations : int
        The permutations each p-value comes from (0: none, no note).
    alpha : float
        The level after the correction.
    fdr : {"bh", "bonferroni", "none"}
        The correction.
    tested : str
        What a test is, for the message ("units", "unit-steps").

    Returns
    -------
    str or None
        None when a lone test can be significant.

    Examples
    --------
    >>> resolution_note(277, 999, 0.05, "bh")[:40]
    'with 999 permutations the smallest p-val'
    >>> resolution_note(77, 99999, 0.05, "bh") is None
    True
    >>> print(resolution_note(28_600, 999, 0.05, "bh", tested="unit-steps"))
    with 999 permutations the smallest p-value is 0.0020, so after the bh correction over 28600 \
unit-steps a unit-step can be significant only together with others (at least 1144 at that \
p-value); use at least 1143999 permutations to let a lone unit-step reach 0.05
    """
    if fdr == "none" or permutations <= 0:
        return None
    smallest = 2 / (permutations + 1)
    if smallest * n_tests <= alpha:
        return None
    needed = permutations_needed(n_tests, alpha, fdr)
    one = tested[:-1] if tested.endswith("s") else tested
    together = ""
    if fdr == "bh":
        together = f" (at least {int(np.ceil(smallest * n_tests / alpha - 1e-9))} at that p-value)"
    return (
        f"with {permutations} permutations the smallest p-value is {smallest:.4f}, so after the "
        f"{fdr} correction over {n_tests} {tested} a {one} can be significant only together with "
        f"others{together}; use at least {needed} permutations to let a lone {one} reach {alpha}"
    )
