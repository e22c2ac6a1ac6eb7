"""Trend of every unit's series at once: Mann-Kendall with the tie correction, and Sen's slope.

``S`` and Sen's slope are exact, and come from one compiled pass over the pairs of steps of each
series (numba, no Python loop over units or pairs). Sen's slope is a selection, not a sort: the
slopes of ``SAMPLE_PAIRS`` fixed random pairs bracket the median, one branch-free pass counts the
pairs below and above the bracket (and ``S``) while it keeps the pairs inside it, and the median is
selected among those. When the bracket misses the median (rare by construction), the series is
done again over all its pairs, so the result never depends on the sample. Blocks of series run on
a thread pool (the kernel releases the GIL); memory is one buffer of pair slopes per thread. The
ties are counted on the sorted rows.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numba
import numpy as np
from scipy import stats

#: Series handed to one thread at a time.
ROWS_PER_TASK = 256
#: Random pairs of steps whose slopes bracket each series' median slope.
SAMPLE_PAIRS = 1024
#: Half-width of the bracket, in standard deviations of the sample's median rank.
BRACKET_SIGMAS = 3.0


@dataclass(frozen=True)
class MannKendall:
    """Mann-Kendall results, one value per series.

    Attributes
    ----------
    s : numpy.ndarray
        The statistic ``S = sum_{a<b} sign(x_b - x_a)``.
    tau : numpy.ndarray
        Kendall's tau-b between time and the series (ties in the series accounted for).
    p : numpy.ndarray
        Two-sided p-value of the normal approximation with the tie-corrected variance and the
        continuity correction: ``Z = (S - sign(S)) / sqrt(var S)``.
    sen_slope : numpy.ndarray
        Median of ``(x_b - x_a) / (b - a)`` over all pairs ``a < b``.
    """

    s: np.ndarray
    tau: np.ndarray
    p: np.ndarray
    sen_slope: np.ndarray


def mann_kendall(series: np.ndarray) -> MannKendall:
    """Mann-Kendall trend test and Sen's slope of each row of ``series``.

    The variance of ``S`` is ``(n (n-1) (2n+5) - sum_g t_g (t_g-1) (2 t_g+5)) / 18`` with ``t_g``
    the sizes of the groups of tied values. NaN values are left out of the pairs (and of ``n``).

    Parameters
    ----------
    series : numpy.ndarray
        Shape ``(n_series, n_steps)``, in time order.

    Returns
    -------
    MannKendall

    Examples
    --------
    >>> result = mann_kendall(np.array([[1.0, 2.0, 3.0, 4.0, 5.0], [3.0, 1.0, 3.0, 1.0, 3.0]]))
    >>> result.s.tolist(), result.tau.round(3).tolist(), result.sen_slope.tolist()
    ([10.0, 0.0], [1.0, 0.0], [1.0, 0.0])
    >>> round(float(result.p[0]), 4)
    0.0275
    """
    values = np.asarray(series, dtype=float)
    if values.ndim != 2:
        raise ValueError("series must be 2-dimensional: (series, steps)")
    s, sen_slope = pairwise_trend(values)
    n = np.isfinite(values).sum(axis=1).astype(float)
    tie_variance, tie_pairs = _tie_terms(values)
    variance = (n * (n - 1) * (2 * n + 5) - tie_variance) / 18
    with np.errstate(invalid="ignore", divide="ignore"):
        z = np.where(variance > 0, (s - np.sign(s)) / np.sqrt(variance), 0.0)
        pairs = n * (n - 1) / 2
        tau = s / np.sqrt(pairs * (pairs - tie_pairs))
    p = 2 * stats.norm.sf(np.abs(z))
    p = np.where(n >= 2, p, np.nan)
    return MannKendall(s=s, tau=tau, p=p, sen_slope=sen_slope)


def _tie_terms(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per row: ``sum t(t-1)(2t+5)`` and ``sum t(t-1)/2`` over groups of tied finite values."""
    ordered = np.sort(values, axis=1)  # NaN last
    n_series, n_steps = ordered.shape
    same = (ordered[:, 1:] == ordered[:, :-1]) & np.isfinite(ordered[:, 1:])
    # a group starts wherever a value differs from the one before it
    starts = np.ones((n_series, n_steps), dtype=bool)
    starts[:, 1:] = ~same
    group_id = np.cumsum(starts.ravel()) - 1
    sizes = np.bincount(group_id)
    row_of_group = np.repeat(np.arange(n_series), starts.sum(axis=1))
    finite_group = np.isfinite(ordered.ravel()[np.flatnonzero(starts.ravel())])
    t = sizes.astype(float) * finite_group
    variance_term = np.bincount(row_of_group, weights=t * (t - 1) * (2 * t + 5), minlength=n_series)
    pair_term = np.bincount(row_of_group, weights=t * (t - 1) / 2, minlength=n_series)
    return variance_term, pair_term


def pairwise_trend(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mann-Kendall ``S`` and Sen's slope of each row, from the slopes of every pair of steps.

    Pairs with a NaN are left out of both. The slope of the pair ``a < b`` is
    ``(x_b - x_a) / (b - a)``, and ``S`` counts the signs of those slopes.

    Parameters
    ----------
    values : numpy.ndarray
        Shape ``(n_series, n_steps)``, in time order.

    Returns
    -------
    s : numpy.ndarray
        ``sum_{a<b} sign(x_b - x_a)`` per row.
    sen_slope : numpy.ndarray
        Median of ``(x_b - x_a) / (b - a)`` over the pairs ``a < b`` (NaN with no pair).

    Examples
    --------
    >>> s, slope = pairwise_trend(np.array([[0.0, 1.0, 2.0, 10.0], [3.0, 2.0, np.nan, 0.0]]))
    >>> s.tolist(), slope.round(3).tolist()
    ([6.0, -3.0], [2.167, -1.0])
    """
    values = np.ascontiguousarray(values, dtype=float)
    n_series, n_steps = values.shape
    s = np.zeros(n_series)
    slope = np.full(n_series, np.nan)
    if n_steps < 2 or n_series == 0:
        return s, slope
    first, second = _sample_pairs(n_steps)
    starts = range(0, n_series, ROWS_PER_TASK)

    def run(start: int) -> None:
        block = slice(start, start + ROWS_PER_TASK)
        s[block], slope[block] = _trend_rows(values[block], first, second, BRACKET_SIGMAS)

    workers = min(len(starts), os.cpu_count() or 1)
    if workers <= 1:
        for start in starts:
            run(start)
    else:
        with ThreadPoolExecutor(workers) as pool:
            list(pool.map(run, starts))
    return s, slope


def _sample_pairs(n_steps: int) -> tuple[np.ndarray, np.ndarray]:
    """``SAMPLE_PAIRS`` pairs of steps ``a < b`` drawn uniformly from all pairs, the same on every
    call (the seed is fixed)."""
    rng = np.random.default_rng(0)
    one = rng.integers(0, n_steps, 2 * SAMPLE_PAIRS + 64)
    other = rng.integers(0, n_steps, one.size)
    distinct = one != other
    one, other = one[distinct][:SAMPLE_PAIRS], other[distinct][:SAMPLE_PAIRS]
    return np.minimum(one, other), np.maximum(one, other)


@numba.njit(cache=True, nogil=True)
def _trend_rows(
    values: np.ndarray, first: np.ndarray, second: np.ndarray, sigmas: float
) -> tuple[np.ndarray, np.ndarray]:
    """``S`` and Sen's slope of each row (see :func:`pairwise_trend`)."""
    n_rows, n_steps = values.shape
    s_out = np.zeros(n_rows)
    slope_out = np.full(n_rows, np.nan)
    steps = np.empty(n_steps)
    known = np.empty(n_steps)
    sample = np.empty(first.size)
    kept_slopes = np.empty(n_steps * (n_steps - 1) // 2 + 1)
    for row in range(n_rows):
        n = 0
        for step in range(n_steps):
            value = values[row, step]
            if value == value:  # not NaN
                known[n] = value
                steps[n] = step
                n += 1
        n_pairs = n * (n - 1) // 2
        if n_pairs == 0:
            continue
        low_rank = (n_pairs - 1) // 2
        high_rank = n_pairs // 2
        lower = -np.inf
        upper = np.inf
        if n == n_steps and n_pairs > 8 * first.size:
            for pair in range(first.size):
                a = first[pair]
                b = second[pair]
                sample[pair] = (known[b] - known[a]) / (b - a)
            spread = sigmas * np.sqrt(sample.size / 4.0)
            below_rank = int(np.floor(low_rank / n_pairs * sample.size - spread))
            above_rank = int(np.ceil(high_rank / n_pairs * sample.size + spread))
            if below_rank >= 0:
                lower = _select(sample, sample.size, below_rank)
            if above_rank < sample.size:
                upper = _select(sample, sample.size, above_rank)
        s, below, above, kept = _count_and_keep(
            known, steps, n, n == n_steps, lower, upper, kept_slopes
        )
        s_out[row] = s
        if below <= low_rank and high_rank < n_pairs - above:
            if lower == upper:  # the median is inside a tie
                slope_out[row] = lower
                continue
        else:  # the bracket missed the median: keep every pair
            s, below, above, kept = _count_and_keep(
                known, steps, n, n == n_steps, -np.inf, np.inf, kept_slopes
            )
        low = _select(kept_slopes, kept, low_rank - below)
        high = low
        if high_rank > low_rank:  # the next one up: the smallest of those selected above it
            high = np.min(kept_slopes[low_rank - below + 1 : kept])
        slope_out[row] = (low + high) / 2
    return s_out, slope_out


@numba.njit(cache=True, nogil=True)
def _count_and_keep(
    known: np.ndarray,
    steps: np.ndarray,
    n: int,
    evenly_spaced: bool,
    lower: float,
    upper: float,
    kept_slopes: np.ndarray,
) -> tuple[int, int, int, int]:
    """One pass over the pairs of ``known[:n]``: ``S``, the pairs below ``lower`` and above
    ``upper``, and the slopes in between written to ``kept_slopes`` (branch-free, so it
    vectorises)."""
    s = 0
    below = 0
    above = 0
    kept = 0
    if evenly_spaced:
        lag_slopes = np.empty(n)
        for lag in range(1, n):
            spacing = float(lag)
            width = n - lag
            # the slopes and the counts vectorise; keeping the slopes inside the bracket is a
            # second, branch-free loop
            for a in range(width):
                slope = (known[a + lag] - known[a]) / spacing
                lag_slopes[a] = slope
                s += (slope > 0) - (slope < 0)
                below += slope < lower
                above += slope > upper
            for a in range(width):
                slope = lag_slopes[a]
                kept_slopes[kept] = slope
                kept += (slope >= lower) & (slope <= upper)
    else:
        for a in range(n - 1):
            for b in range(a + 1, n):
                slope = (known[b] - known[a]) / (steps[b] - steps[a])
                s += (slope > 0) - (slope < 0)
                inside = (slope >= lower) & (slope <= upper)
                below += slope < lower
                above += slope > upper
                kept_slopes[kept] = slope
                kept += inside
    return s, below, above, kept


@numba.njit(cache=True, nogil=True)
def _select(values: np.ndarray, count: int, rank: int) -> float:
    """The ``rank``-th smallest (from 0) of ``values[:count]``, by quickselect (reorders them)."""
    low = 0
    high = count - 1
    while high > low:
        middle = (low + high) >> 1
        pivot = _median_of_three(values[low], values[middle], values[high])
        i = low
        j = high
        while i <= j:
            while values[i] < pivot:
                i += 1
            while values[j] > pivot:
                j -= 1
            if i <= j:
                values[i], values[j] = values[j], values[i]
                i += 1
                j -= 1
        if rank <= j:
            high = j
        elif rank >= i:
            low = i
        else:
            return values[rank]
    return values[rank]


@numba.njit(cache=True, nogil=True)
def _median_of_three(a: float, b: float, c: float) -> float:
    """The middle one of three values (the quickselect pivot)."""
    return max(min(a, b), min(max(a, b), c))
