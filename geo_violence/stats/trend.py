"""Trend of every unit's series at once: Mann-Kendall with the tie correction, and Sen's slope.

``S`` and Sen's slope are exact, and come from one compiled pass over the pairs of steps of each
series (numba, no Python loop over units or pairs). Sen's slope is a selection, not a sort: the
slopes of ``SAMPLE_PAIRS`` fixed random pairs bracket the median, one branch-free pass counts the
pairs below and above the bracket (and ``S``) while it keeps the pairs inside it, and the median is
selected among those. When the bracket misses the median (rare by construction), the series is
done again over all its pairs, so the result never depends on the sample. Blocks of series run on
a thread pool (the kernel releases the GIL); memory is one buffer of pair slopes per thread. The
ties are counted on the sorted rows.

Serial correlation. Mann-Kendall's variance assumes independent steps. A series that is
autocorrelated has a larger variance of ``S``, and the plain test rejects too often. Hamed and
Rao (1998) multiply the variance by ``n / n* = 1 + 2 / (n (n-1) (n-2)) sum_k (n-k) (n-k-1) (n-k-2)
rho_k``, with ``rho_k`` the autocorrelation at lag ``k``; Yue and Wang (2004) by ``1 + 2 sum_k
(1 - k/n) rho_k``. :func:`mann_kendall` takes the autocorrelation as given, and
:func:`serial_correlation` estimates it from the series as both papers (and pymannkendall) do,
limited to the first lags. A space-time Gi* with a time window ``K`` sums ``K + 1`` steps, so its
z-scores share ``K + 1 - k`` of their ``K + 1`` steps at lag ``k``: :func:`window_autocorrelation`
gives that correlation, ``rho_k = 1 - k / (K + 1)`` for ``k <= K`` and 0 beyond, which is known
exactly and need not be estimated (the estimate from 104 steps misses most of it at ``K >= 4``).
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numba
import numpy as np
from scipy import stats

from ..errors import OptionError

#: Series handed to one thread at a time.
ROWS_PER_TASK = 256
#: Random pairs of steps whose slopes bracket each series' median slope.
SAMPLE_PAIRS = 1024
#: Half-width of the bracket, in standard deviations of the sample's median rank.
BRACKET_SIGMAS = 3.0
#: The variance corrections for serial correlation.
CORRECTIONS = ("hamed-rao", "yue-wang")


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
    variance : numpy.ndarray
        The variance of ``S`` that ``p`` uses (tie-corrected, and corrected for the serial
        correlation when one was given).
    variance_factor : numpy.ndarray
        The serial correlation's factor on the tie-corrected variance (``n / n*``; 1 without
        correction).
    """

    s: np.ndarray
    tau: np.ndarray
    p: np.ndarray
    sen_slope: np.ndarray
    variance: np.ndarray
    variance_factor: np.ndarray


def mann_kendall(
    series: np.ndarray,
    *,
    autocorrelation: np.ndarray | None = None,
    correction: str = "hamed-rao",
) -> MannKendall:
    """Mann-Kendall trend test and Sen's slope of each row of ``series``.

    The variance of ``S`` is ``(n (n-1) (2n+5) - sum_g t_g (t_g-1) (2 t_g+5)) / 18`` with ``t_g``
    the sizes of the groups of tied values, times the serial correlation's factor when
    ``autocorrelation`` is given. NaN values are left out of the pairs (and of ``n``).

    Parameters
    ----------
    series : numpy.ndarray
        Shape ``(n_series, n_steps)``, in time order.
    autocorrelation : numpy.ndarray, optional
        ``rho_1 .. rho_L``, the autocorrelation of the series at lags 1 to ``L``: one row for all
        series (shape ``(L,)``) or one per series (``(n_series, L)``); lags from ``n - 2`` on
        are ignored. None (the default) for independent steps.
    correction : {"hamed-rao", "yue-wang"}
        The variance factor: Hamed and Rao's ``1 + 2 / (n (n-1) (n-2)) sum_k (n-k) (n-k-1)
        (n-k-2) rho_k`` or Yue and Wang's ``1 + 2 sum_k (1 - k/n) rho_k`` (``n`` the series'
        number of known values).

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

    A series of Gi* z-scores with a time window of 1 step is correlated 0.5 at lag 1: the
    variance of ``S`` about doubles, and the p-value grows.

    >>> rising = np.arange(12.0)[None, :]
    >>> corrected = mann_kendall(rising, autocorrelation=np.array([0.5]))
    >>> plain = mann_kendall(rising)
    >>> corrected.variance_factor.tolist(), f"{plain.p[0]:.1e} -> {corrected.p[0]:.1e}"
    ([1.75], '8.3e-06 -> 7.5e-04')
    """
    if correction not in CORRECTIONS:
        raise OptionError.expected("correction", correction, CORRECTIONS)
    values = np.asarray(series, dtype=float)
    if values.ndim != 2:
        raise ValueError("series must be 2-dimensional: (series, steps)")
    s, sen_slope = pairwise_trend(values)
    n = np.isfinite(values).sum(axis=1).astype(float)
    tie_variance, tie_pairs = _tie_terms(values)
    factor = np.ones(len(values))
    if autocorrelation is not None:
        factor = variance_factor(autocorrelation, n, correction)
    variance = (n * (n - 1) * (2 * n + 5) - tie_variance) / 18 * factor
    with np.errstate(invalid="ignore", divide="ignore"):
        z = np.where(variance > 0, (s - np.sign(s)) / np.sqrt(variance), 0.0)
        pairs = n * (n - 1) / 2
        tau = s / np.sqrt(pairs * (pairs - tie_pairs))
    p = 2 * stats.norm.sf(np.abs(z))
    p = np.where(n >= 2, p, np.nan)
    return MannKendall(
        s=s, tau=tau, p=p, sen_slope=sen_slope, variance=variance, variance_factor=factor
    )


def variance_factor(
    autocorrelation: np.ndarray, n: np.ndarray, correction: str = "hamed-rao"
) -> np.ndarray:
    """The factor ``n / n*`` on the variance of ``S`` for series of ``n`` values.

    Parameters
    ----------
    autocorrelation : numpy.ndarray
        ``rho_1 .. rho_L``, shape ``(L,)`` or ``(len(n), L)``.
    n : numpy.ndarray
        The number of values of each series.
    correction : {"hamed-rao", "yue-wang"}
        See :func:`mann_kendall`.

    Returns
    -------
    numpy.ndarray
        One factor per series.

    Examples
    --------
    >>> variance_factor(np.array([0.5]), np.array([100.0, 1000.0])).round(4).tolist()
    [1.97, 1.997]
    >>> variance_factor(np.array([0.5]), np.array([100.0]), "yue-wang").tolist()
    [1.99]
    """
    if correction not in CORRECTIONS:
        raise OptionError.expected("correction", correction, CORRECTIONS)
    n = np.asarray(n, dtype=float)
    rho = np.atleast_2d(np.asarray(autocorrelation, dtype=float))
    lags = np.arange(1, rho.shape[1] + 1)[None, :]
    size = n[:, None]
    if correction == "hamed-rao":
        # lags from n - 2 on have no triple of steps: their weight is zero
        weights = np.clip(size - lags, 0, None) * np.clip(size - lags - 1, 0, None)
        weights = weights * np.clip(size - lags - 2, 0, None)
        with np.errstate(invalid="ignore", divide="ignore"):
            scale = np.where(size > 2, 2 / (size * (size - 1) * (size - 2)), 0.0)
        return 1 + scale[:, 0] * (weights * rho).sum(axis=1)
    weights = np.where(lags < size, 1 - lags / size, 0.0)
    return 1 + 2 * (weights * rho).sum(axis=1)


def window_autocorrelation(time_window: int) -> np.ndarray:
    """The autocorrelation that a window of ``K + 1`` summed steps builds into a series.

    Sums over the steps ``t-K .. t`` of independent, equally variable steps share ``K + 1 - k``
    of their ``K + 1`` steps at lag ``k``, so their correlation is ``1 - k / (K + 1)`` for
    ``k = 1 .. K`` and 0 beyond: a Gi* z series with time window ``K`` under the null of no
    pattern in time.

    Examples
    --------
    >>> window_autocorrelation(3).tolist()
    [0.75, 0.5, 0.25]
    >>> window_autocorrelation(0).tolist()
    []
    """
    if time_window < 0:
        raise OptionError(f"'time_window' was {time_window} but must be 0 or more")
    return 1 - np.arange(1, time_window + 1) / (time_window + 1)


def serial_correlation(
    series: np.ndarray, lags: int, *, correction: str = "hamed-rao", alpha: float = 0.05
) -> np.ndarray:
    """Each series' autocorrelation at lags ``1 .. lags``, estimated as Hamed-Rao or Yue-Wang do.

    The series is detrended by its Sen's slope (NaN values left out, the rest taken as
    consecutive). Hamed and Rao's correction uses the autocorrelation of the ranks of the
    detrended series, keeping only the lags significant at ``alpha`` (``|rho_k| >
    z_{1-alpha/2} / sqrt(n)``; the others count as 0); Yue and Wang's that of the detrended
    values, every lag kept. The autocovariance at lag ``k`` is ``sum_t y_t y_{t+k} / n``, as in
    pymannkendall (``hamed_rao_modification_test`` and ``yue_wang_modification_test`` with
    ``lag=lags``).

    Parameters
    ----------
    series : numpy.ndarray
        Shape ``(n_series, n_steps)``.
    lags : int
        The largest lag.
    correction : {"hamed-rao", "yue-wang"}
        Whose estimate.
    alpha : float
        Level of the significance screen of Hamed-Rao's lags.

    Returns
    -------
    numpy.ndarray
        Shape ``(n_series, lags)``.

    Examples
    --------
    >>> series = np.array([[0.0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1]])
    >>> serial_correlation(series, 2).round(3).tolist()
    [[-0.917, 0.833]]
    """
    if correction not in CORRECTIONS:
        raise OptionError.expected("correction", correction, CORRECTIONS)
    values = np.asarray(series, dtype=float)
    n_series, n_steps = values.shape
    result = np.zeros((n_series, lags))
    if lags < 1 or n_series == 0:
        return result
    known = np.isfinite(values)
    n = known.sum(axis=1)
    order = np.argsort(~known, axis=1, kind="stable")  # the known values first, in time order
    packed = np.take_along_axis(values, order, axis=1)
    inside = np.arange(n_steps)[None, :] < n[:, None]
    _, slope = pairwise_trend(values)
    # steps counted from 1, as pymannkendall does: the rounding, and so the ties, are the same
    detrended = packed - slope[:, None] * np.arange(1, n_steps + 1)[None, :]
    if correction == "hamed-rao":
        detrended = stats.rankdata(np.where(inside, detrended, np.inf), axis=1)
    detrended = np.where(inside, detrended, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = detrended.sum(axis=1) / n
    centred = np.where(inside, detrended - mean[:, None], 0.0)
    variance = (centred**2).sum(axis=1)
    for lag in range(1, min(lags, n_steps - 1) + 1):
        covariance = (centred[:, lag:] * centred[:, :-lag]).sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            result[:, lag - 1] = np.where(variance > 0, covariance / variance, 0.0)
    if correction == "hamed-rao":
        with np.errstate(invalid="ignore", divide="ignore"):
            bound = stats.norm.ppf(1 - alpha / 2) / np.sqrt(n)
        result = np.where(np.abs(result) > bound[:, None], result, 0.0)
    return result


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
