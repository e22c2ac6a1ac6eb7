"""Emerging hot spot analysis: space-time Gi*, FDR over every bin, Mann-Kendall, categories.

The method of ``shared/specs/emerging-hotspots.md``, vectorised over the whole cube: the
neighbourhood sums are one sparse product and a windowed cumulative sum, the moments of the three
global windows are column sums, the trend test runs on every unit at once.

Category rules (hot family; the cold family mirrors them, the trend's sign reversed). ``H`` and
``C`` are the fractions of steps that were hot and cold, "last" the final step. A unit hot at the
last step gets a hot category, one cold at the last step a cold one; a unit significant neither
way at the last step can only be historical or no pattern. Within a family the rules are checked
in this order, the first match winning: 1, 2, 3, 5, 4, 7, 6.

==== ======================= ==============================================================
code name                    rule
==== ======================= ==============================================================
1    new hot spot            hot at last; never hot before
2    consecutive hot spot    one unbroken run of >= 2 hot steps ending at last; never hot
                             before that run; ``H < persistence``
3    intensifying hot spot   ``H >= persistence``; hot at last; significant upward trend
5    diminishing hot spot    ``H >= persistence``; hot at last; significant downward trend
4    persistent hot spot     ``H >= persistence``; hot at last; no significant trend
7    oscillating hot spot    hot at last; cold at some earlier step; ``H < persistence``
6    sporadic hot spot       hot at last; hot before but not in one run; ``H < persistence``;
                             never cold
8    historical hot spot     not significant at last; ``H >= persistence``
0    no pattern              none of the above
==== ======================= ==============================================================

Bin p-values (``p_values``). Gi*'s null hypothesis is that the window's values are spread at
random, and its z-score standardises the neighbourhood's sum by the mean and variance that the sum
then has. ``"normal"``: the two-sided normal tail of z, as ArcGIS does; far too thin on the hot
side for sparse counts, and too thick on the cold side. ``"exact"``: the same null with a tail
of the right shape, the count distribution with the same mean and variance (Poisson, or negative
binomial when the window is overdispersed; :mod:`geo_violence.stats.count_tails`), the smaller
tail doubled; valid however sparse the counts. On the real assaults by beat and on the demo's
cube it finds the same hot bins (to 2%) as the exact randomisation distribution of the sum (the
window's values convolved), which permutations approach.
``"permutation"``: conditional permutations of the same null. ``"rate"``: another null, for
counts: that the neighbourhood's rate is the window's mean rate, with Poisson noise, or negative
binomial noise when the counts vary from step to step more than that; units whose rates differ
from the city's are then hot or cold, not noise (an option: it answers another question than
Gi*'s z-score). ``"auto"`` (the default) takes permutations when ``permutations > 0``; otherwise
the exact tail for counts unless the normal tail is within 10% of it at the threshold a lone bin
must reach after the correction (by the first Edgeworth term, in the sparsest neighbourhood); the
normal tail for values that are not counts. The z-scores are the same whichever is used.

Trend (``trend_correction``). Mann-Kendall on each unit's z series. With a time window ``K`` the
z-scores of neighbouring steps sum ``K`` common steps of their ``K + 1``, so the series are
autocorrelated, ``rho_k = 1 - k / (K + 1)`` for ``k <= K``, and the plain test rejects 16% of
units with no trend at ``K = 1`` and 38% at ``K = 4``. ``"window"`` (the default) corrects the
variance of ``S`` for exactly that correlation by Hamed and Rao's factor, on the steps from ``K``
on (the first ``K`` windows are not full, and their z-scores drift as the window fills).
``"hamed-rao"`` and ``"yue-wang"`` estimate the autocorrelation at lags ``1 .. K`` from each series
instead, on the same steps (as pymannkendall does with ``lag=K``; the estimate from a short series
misses much of it when ``K`` is large). ``"none"`` is the plain test of ArcGIS and sfdep, on every
step. Correlation that the counts have of their own (a rate that changes slowly) is what a trend
is, and is not corrected for.

Reading a rise. Next to the category, ``last_hot_run`` (hot steps in a row up to the last one),
``recent_hot_share`` (the share of the last ``recent_fraction`` of the steps that were hot) and
``recent_rate_ratio`` (the rate of those steps over the rate before them, with its exact
conditional interval) tell a reader what a rise looks like when the rules call it sporadic (one
hot noise step long before, or one gap inside the run).

Neighbours only. Gi* is hot where the neighbourhood is: a unit with no event at all can be a
"consecutive hot spot" because the units around it are busy (on 1 km H3 cells, rosettes of hot
cells around each incident). A reader takes "hot spot" to mean violence there, so a hot category
whose unit had no event of its own in the window of any of its hot steps says so:
"consecutive hot spot (neighbours only)" (``neighbours_only``; ``category_code`` is unchanged),
and the run's notes count such units.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import sparse, stats

from ..choices import P_VALUE_METHODS, TREND_CORRECTIONS, WINDOWS
from ..errors import DataError, OptionError
from ..progress import tracked
from .count_tails import (
    are_counts,
    check_p_value_options,
    choose_p_values,
    count_tail_p,
    week_to_week_dispersion,
)
from .permutation import conditional_draw_sums, two_sided_pseudo_p
from .significance import adjust_p, gi_classes, resolution_note
from .trend import mann_kendall, serial_correlation, window_autocorrelation

#: The fewest steps the trend test is run on.
MIN_STEPS = 10

CATEGORY_NAMES = {
    1: "new hot spot",
    2: "consecutive hot spot",
    3: "intensifying hot spot",
    4: "persistent hot spot",
    5: "diminishing hot spot",
    6: "sporadic hot spot",
    7: "oscillating hot spot",
    8: "historical hot spot",
    0: "no pattern",
    -1: "new cold spot",
    -2: "consecutive cold spot",
    -3: "intensifying cold spot",
    -4: "persistent cold spot",
    -5: "diminishing cold spot",
    -6: "sporadic cold spot",
    -7: "oscillating cold spot",
    -8: "historical cold spot",
}
#: Added to a hot category when the unit had no incident of its own in any hot step's window:
#: Gi* is hot where the neighbourhood is, so only its neighbours make it hot.
NEIGHBOURS_ONLY = " (neighbours only)"


def base_category(category: str) -> str:
    """The category without the neighbours-only mark.

    Examples
    --------
    >>> base_category("consecutive hot spot (neighbours only)"), base_category("no pattern")
    ('consecutive hot spot', 'no pattern')
    """
    return category.removesuffix(NEIGHBOURS_ONLY)


def own_events_when_hot(counts: np.ndarray, hot: np.ndarray, time_window: int) -> np.ndarray:
    """Per unit: its own events in the windows (steps ``t-K .. t``) of the steps it was hot.

    Zero for a hot unit means that no event of its own went into any of its hot z-scores: the
    neighbours alone made it hot.

    Examples
    --------
    >>> counts = np.array([[0.0, 0, 0, 0], [0, 3, 0, 0], [5, 5, 5, 5]])
    >>> hot = np.array([[0, 1, 1, 0], [0, 0, 1, 0], [1, 1, 1, 1]], dtype=bool)
    >>> own_events_when_hot(counts, hot, time_window=1).tolist()
    [0.0, 3.0, 35.0]
    """
    windowed = _windowed_sum(np.nan_to_num(np.asarray(counts, dtype=float)), time_window)
    return np.where(hot, windowed, 0.0).sum(axis=1)


@dataclass(frozen=True)
class EmergingOptions:
    """Options of the emerging hot spot analysis.

    Attributes
    ----------
    time_window : int
        ``K``: the neighbours at steps ``t-K .. t`` are neighbours of ``(i, t)`` (backward only).
    window : {"cube", "step", "neighbourhood"}
        Whose mean and standard deviation standardise each bin: the whole cube (ArcGIS's
        default), the bin's own step, or the steps ``t-K .. t``.
    permutations : int
        0 for analytic two-sided normal p-values, else that many conditional permutations drawn
        from the same window.
    seed : int
        Seed of the permutations.
    fdr : {"bh", "bonferroni", "none"}
        Correction over all unit-steps.
    alpha : float
        Level at which a bin is hot or cold (after correction).
    persistence : float
        The share of steps that makes a unit persistent, intensifying, diminishing or historical.
    trend_alpha : float
        Level of the Mann-Kendall test.
    drop_empty : bool
        Leave units with no event at all out of the statistics (they stay in the output as
        "no pattern"), as ArcGIS does.
    p_values : {"auto", "arcgis", "normal", "exact", "rate", "permutation"}
        How the bins' p-values are computed (see the module docstring). "auto" (the default)
        takes permutations when ``permutations > 0``, else exact count tails where the counts
        are too sparse for the normal approximation, else the normal one: it holds the stated
        error rates on sparse counts (``tests/test_emerging_calibration.py``). "arcgis" is
        ArcGIS's: normal, or permutations when ``permutations > 0`` (far too many hot bins on
        sparse counts). "rate" tests the neighbourhood's rate against the window's instead.
    trend_correction : {"window", "hamed-rao", "yue-wang", "none"}
        How the Mann-Kendall test allows for the serial correlation of the z series: the
        correlation the time window builds in (the default), one estimated from each series at
        lags up to ``K``, or none (ArcGIS, sfdep).
    recent_fraction : float
        The share of the last steps that ``recent_hot_share`` and ``recent_rate_ratio`` call
        recent (a quarter by default; rounded up to whole steps).
    """

    time_window: int = 1
    window: str = "cube"
    permutations: int = 0
    seed: int = 12345
    fdr: str = "bh"
    alpha: float = 0.05
    persistence: float = 0.9
    trend_alpha: float = 0.05
    drop_empty: bool = False
    p_values: str = "auto"
    trend_correction: str = "window"
    recent_fraction: float = 0.25


def space_time_gi_star(
    values: np.ndarray,
    adjacency: sparse.csr_array,
    *,
    time_window: int = 1,
    window: str = "cube",
) -> np.ndarray:
    """Gi* z-score of every bin of a ``(units, steps)`` array, binary space-time neighbours.

    The neighbourhood of ``(i, t)`` is ``i`` and its spatial neighbours at the steps
    ``max(0, t-K) .. t``; with ``n``, ``xbar``, ``S`` the size, mean and population standard
    deviation of the global window, and ``|N|`` the size of the neighbourhood::

        z = (sum_N x - xbar |N|) / (S sqrt((n |N| - |N|^2) / (n - 1)))

    Parameters
    ----------
    values : numpy.ndarray
        Counts (or rates), shape ``(n_units, n_steps)``.
    adjacency : scipy.sparse.csr_array
        Binary spatial neighbours, without the unit itself.
    time_window : int
        ``K``.
    window : {"cube", "step", "neighbourhood"}
        The global window.

    Returns
    -------
    numpy.ndarray
        z-scores, shape ``(n_units, n_steps)``; NaN where the window has no variance or the
        neighbourhood is the whole window.

    Examples
    --------
    >>> chain = sparse.csr_array(np.array([[0, 1, 0], [1, 0, 1], [0, 1, 0]], dtype=float))
    >>> z = space_time_gi_star(np.array([[1.0, 2.0], [2.0, 4.0], [6.0, 9.0]]), chain,
    ...                        time_window=0, window="step")
    >>> z[:, 0].round(4).tolist()  # step 0 alone is the 1-step example of local_gi_star
    [-1.3887, nan, 0.9258]
    """
    return _z_scores(_gi_parts(values, adjacency, time_window, window))


@dataclass(frozen=True)
class _GiParts:
    """What a space-time Gi* is made of: each bin's neighbourhood sum and size, and its window's
    size, mean and population standard deviation (broadcastable to ``(n_units, n_steps)``)."""

    neighbourhood_sum: np.ndarray
    size: np.ndarray
    count: np.ndarray
    mean: np.ndarray
    spread: np.ndarray
    star_count: np.ndarray
    time_window: int
    window: str


def _gi_parts(
    values: np.ndarray, adjacency: sparse.csr_array, time_window: int, window: str
) -> _GiParts:
    if window not in WINDOWS:
        raise OptionError.expected("window", window, WINDOWS)
    if time_window < 0:
        raise OptionError(f"'time_window' was {time_window} but must be 0 or more")
    x = np.asarray(values, dtype=float)
    n_units, n_steps = x.shape
    star = adjacency + sparse.eye_array(n_units, format="csr")
    spatial_sum = np.asarray(star @ x)
    neighbourhood_sum = _windowed_sum(spatial_sum, time_window)
    steps_in = np.minimum(np.arange(n_steps), time_window) + 1  # steps in the neighbourhood
    star_count = np.rint(np.asarray(star.sum(axis=1)).ravel()).astype(np.int64)
    size = star_count[:, None] * steps_in[None, :]
    count, mean, spread = _window_moments(x, time_window, window)
    return _GiParts(neighbourhood_sum, size, count, mean, spread, star_count, time_window, window)


def _z_scores(parts: _GiParts) -> np.ndarray:
    size, count, spread = parts.size, parts.count, parts.spread
    room = count * size - size**2  # zero or less: the neighbourhood fills the whole window
    with np.errstate(invalid="ignore", divide="ignore"):
        z = (parts.neighbourhood_sum - parts.mean * size) / (spread * np.sqrt(room / (count - 1)))
    return np.where((spread > 0) & (room > 0), z, np.nan)


def space_time_count_p(
    values: np.ndarray,
    adjacency: sparse.csr_array,
    *,
    time_window: int = 1,
    window: str = "cube",
    null: str = "randomisation",
) -> np.ndarray:
    """Two-sided exact p-value of every bin's neighbourhood sum of counts.

    Under Gi*'s null (``"randomisation"``), the sum gets the count distribution with the mean and
    variance that its z-score standardises it by, ``mu = xbar |N|`` and ``v = S^2 |N| (n - |N|) /
    (n - 1)``: Poisson when ``v <= mu``, negative binomial when the window is overdispersed; the
    p-value doubles the smaller tail (:func:`geo_violence.stats.count_tails.count_tail_p`). So the
    z-scores stay those of :func:`space_time_gi_star` and only the shape of the tail changes: a
    sum of sparse counts is skewed, which the normal tail ignores. Under ``"rate"`` the variance is
    ``phi mu`` instead, ``phi`` the counts' week-to-week dispersion
    (:func:`geo_violence.stats.count_tails.week_to_week_dispersion`): the neighbourhood's rate is
    tested against the window's.

    Parameters
    ----------
    values : numpy.ndarray
        Counts (whole numbers, at least 0), shape ``(n_units, n_steps)``.
    adjacency : scipy.sparse.csr_array
        Binary spatial neighbours, without the unit itself.
    time_window : int
        ``K``.
    window : {"cube", "step", "neighbourhood"}
        The global window.
    null : {"randomisation", "rate"}
        The null hypothesis (see above).

    Returns
    -------
    numpy.ndarray
        Shape ``(n_units, n_steps)``; NaN where the z-score is NaN.

    Raises
    ------
    OptionError
        The values are not counts, or ``null`` is neither of the two.

    Examples
    --------
    >>> chain = sparse.csr_array(np.array([[0, 1, 0], [1, 0, 1], [0, 1, 0]], dtype=float))
    >>> x = np.ones((3, 12)); x[0, -1] = 6
    >>> p = space_time_count_p(x, chain, time_window=0)

    The window's variance is below its mean, so the end unit's sum at the last step (6 + 1, of
    two units) gets the Poisson tail of the window's mean over two bins:

    >>> round(float(p[0, -1]), 4), round(float(2 * stats.poisson.sf(6, 2 * x.mean())), 4)
    (0.0178, 0.0178)
    """
    x = np.asarray(values, dtype=float)
    if not are_counts(x):
        raise OptionError(
            "exact p-values need counts (whole numbers of at least 0); the values include "
            f"{x[np.isfinite(x) & ((x < 0) | (x != np.rint(x)))][:3].tolist()}"
        )
    if null not in ("randomisation", "rate"):
        raise OptionError.expected("null", null, ["randomisation", "rate"])
    parts = _gi_parts(x, adjacency, time_window, window)
    dispersion = week_to_week_dispersion(x) if null == "rate" else None
    return _count_p(parts, np.isnan(_z_scores(parts)), dispersion=dispersion)


def gi_null_moments(
    values: np.ndarray,
    adjacency: sparse.csr_array,
    *,
    time_window: int = 1,
    window: str = "cube",
) -> tuple[np.ndarray, np.ndarray]:
    """The mean and variance of the neighbourhood sums under Gi*'s randomisation null, one per
    group of equal null distributions (what :func:`space_time_count_p` gives its tails).

    Examples
    --------
    >>> chain = sparse.csr_array(np.array([[0, 1, 0], [1, 0, 1], [0, 1, 0]], dtype=float))
    >>> mean, variance = gi_null_moments(np.array([[1.0], [2.0], [6.0]]), chain, time_window=0)
    >>> mean.tolist(), variance.round(4).tolist()  # neighbourhoods of 2 units and of all 3
    ([6.0, nan], [4.6667, nan])

    A neighbourhood of every unit has a fixed sum: no distribution (NaN).
    """
    parts = _gi_parts(np.asarray(values, dtype=float), adjacency, time_window, window)
    _, mean, variance = _count_groups(parts)
    return mean, variance


def _count_groups(parts: _GiParts) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each bin's group of equal null distributions, and each group's mean and variance.

    A bin's distribution depends on its neighbourhood's size (the unit's neighbours times the
    steps in its window) and, for the windows "step" and "neighbourhood", on its step.
    """
    n_steps = parts.neighbourhood_sum.shape[1]
    k = parts.time_window
    counts_of_star, star_group = np.unique(parts.star_count, return_inverse=True)
    lag_group = np.minimum(np.arange(n_steps), k)
    size_group = star_group[:, None] * (k + 1) + lag_group[None, :]
    size_of_group = (counts_of_star[:, None] * np.arange(1, k + 2)[None, :]).ravel()
    n_sizes = size_of_group.size
    count = np.ravel(parts.count)
    mean = np.ravel(parts.mean)
    spread = np.ravel(parts.spread)
    columns = count.size  # 1 for the cube window, else one per step
    group = size_group + n_sizes * (np.arange(n_steps)[None, :] if columns > 1 else 0)
    size = size_of_group[None, :]
    n = count[:, None]
    with np.errstate(invalid="ignore", divide="ignore"):
        group_mean = mean[:, None] * size
        group_variance = spread[:, None] ** 2 * size * (n - size) / (n - 1)
    usable = (spread[:, None] > 0) & (n > size)
    group_mean = np.where(usable, group_mean, np.nan).ravel()
    group_variance = np.where(usable, group_variance, np.nan).ravel()
    return group, group_mean, group_variance


def _count_p(
    parts: _GiParts, undefined: np.ndarray, *, dispersion: float | None = None
) -> np.ndarray:
    """Exact tails under the randomisation null, or, with ``dispersion``, under the null of the
    window's mean rate with that overdispersion."""
    group, mean, variance = _count_groups(parts)
    if dispersion is not None:
        variance = np.where(np.isfinite(variance), dispersion * mean, np.nan)
    p = count_tail_p(parts.neighbourhood_sum, group, mean, variance)
    return np.where(undefined, np.nan, p)


def _windowed_sum(values: np.ndarray, time_window: int) -> np.ndarray:
    """Sum over the steps ``t-K .. t`` of each column ``t`` (fewer at the start)."""
    running = np.cumsum(values, axis=1)
    result = running.copy()
    if time_window + 1 < values.shape[1]:
        result[:, time_window + 1 :] -= running[:, : -(time_window + 1)]
    return result


def _window_moments(
    x: np.ndarray, time_window: int, window: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Size, mean and population standard deviation of each bin's global window, broadcastable
    to ``(n_units, n_steps)``."""
    n_units, n_steps = x.shape
    if window == "cube":
        return (
            np.array([[x.size]], dtype=float),
            np.array([[x.mean()]]),
            np.array([[x.std()]]),
        )
    column_sum = x.sum(axis=0)
    column_squares = (x**2).sum(axis=0)
    lag = 0 if window == "step" else time_window
    steps_in = np.minimum(np.arange(n_steps), lag) + 1
    count = (n_units * steps_in).astype(float)
    mean = _windowed_sum(column_sum[None, :], lag)[0] / count
    second = _windowed_sum(column_squares[None, :], lag)[0] / count
    spread = np.sqrt(np.maximum(second - mean**2, 0.0))
    spread = np.where(spread > 1e-12 * np.maximum(1.0, np.abs(mean)), spread, 0.0)
    return count[None, :], mean[None, :], spread[None, :]


def space_time_permutation_p(
    values: np.ndarray,
    adjacency: sparse.csr_array,
    *,
    time_window: int,
    window: str,
    permutations: int,
    seed: int | None,
) -> np.ndarray:
    """Two-sided conditional-permutation p-value of every bin's neighbourhood sum.

    Each bin keeps its own value; the rest of its neighbourhood (``|N| - 1`` values) is drawn
    without replacement from the other bins of the same global window as its z-score uses (one
    window per run).

    Examples
    --------
    >>> chain = sparse.csr_array(np.array([[0, 1, 0], [1, 0, 1], [0, 1, 0]], dtype=float))
    >>> x = np.arange(36.0).reshape(3, 12)
    >>> p = space_time_permutation_p(x, chain, time_window=1, window="cube", permutations=99,
    ...                              seed=0)
    >>> p.shape, bool((p > 0).all() and (p <= 1).all())
    ((3, 12), True)
    """
    x = np.asarray(values, dtype=float)
    n_units, n_steps = x.shape
    rng = np.random.default_rng(seed)
    star = adjacency + sparse.eye_array(n_units, format="csr")
    observed = _windowed_sum(np.asarray(star @ x), time_window)
    steps_in = np.minimum(np.arange(n_steps), time_window) + 1
    size = (np.asarray(star.sum(axis=1)).ravel()[:, None] * steps_in[None, :]).astype(np.int64)
    p = np.empty((n_units, n_steps))
    if window == "cube":
        pool = x.ravel()
        own = np.arange(x.size)
        simulated = conditional_draw_sums(
            pool, own, size.ravel() - 1, permutations, rng, progress="permutations"
        )
        simulated += pool[:, None]
        return two_sided_pseudo_p(observed.ravel(), simulated).reshape(n_units, n_steps)
    lag = 0 if window == "step" else time_window
    for step in tracked(range(n_steps), "permutations", unit="steps"):
        first = max(0, step - lag)
        pool = x[:, first : step + 1].ravel(order="F")  # column by column
        own = np.arange(n_units) + (step - first) * n_units
        draws = np.minimum(size[:, step] - 1, len(pool) - 1)
        simulated = conditional_draw_sums(pool, own, draws, permutations, rng) + x[:, step, None]
        p[:, step] = two_sided_pseudo_p(observed[:, step], simulated)
    return p


@dataclass
class EmergingResult:
    """What :func:`emerging_hotspots` gives.

    Attributes
    ----------
    units : pandas.DataFrame
        One row per unit (indexed by unit id): ``category_code``, ``category`` (a hot category
        ends in " (neighbours only)" when ``neighbours_only``, below),
        ``hot_fraction``, ``cold_fraction``, ``n_hot``, ``n_cold``, ``first_hot``, ``last_hot``
        (step numbers from 0, -1 if never), ``last_z``, ``last_p``, ``mk_tau``, ``mk_p``
        (corrected as ``trend_correction`` says), ``sen_slope``, ``total``, ``last_count``;
        then ``last_hot_run`` and ``last_cold_run`` (hot, or cold, steps in a row ending at the
        last step; 0 if the last step is not), ``recent_hot_share`` and ``recent_cold_share``
        (the share of the last ``recent_steps`` steps that were hot, or cold),
        ``recent_rate_ratio`` (the mean count per step of the last ``recent_steps`` steps over
        that of the steps before them; infinite with none before, NaN with none at all) and
        ``recent_rate_ratio_low``, ``recent_rate_ratio_high`` (its exact 95% interval,
        conditional on the unit's total: Clopper-Pearson; NaN when the values are not counts);
        then ``neighbours_only`` (a hot category whose unit had no event of its own in the window
        of any step it was hot) and ``own_events_when_hot`` (its own events in those windows).
    z, p, q : numpy.ndarray
        Per bin, shape ``(n_units, n_steps)`` (NaN for units left out).
    bins : numpy.ndarray
        Per bin: -3..3, hot or cold at 99/95/90% confidence after correction.
    hot, cold : numpy.ndarray of bool
        Per bin: significant at ``alpha`` after correction, with z above or below zero.
    notes : list of str
        What a reader of the run must know: the p-values and trend test used and why, units left
        out, permutations too few to reach the corrected threshold.
    p_values : str
        The p-values used: "normal", "exact", "rate" or "permutation" (None only in a result
        built by hand).
    trend_correction : str
        The trend test's correction for serial correlation (see :class:`EmergingOptions`).
    resolution_note : str or None
        When permutations cannot reach the corrected threshold: why, and how many would.
    recent_steps : int
        The number of last steps that the ``recent_*`` columns call recent.
    """

    units: pd.DataFrame
    z: np.ndarray
    p: np.ndarray
    q: np.ndarray
    bins: np.ndarray
    hot: np.ndarray
    cold: np.ndarray
    notes: list
    p_values: str | None = None
    trend_correction: str | None = None
    resolution_note: str | None = None
    recent_steps: int = 0


def emerging_hotspots(
    counts: np.ndarray,
    adjacency: sparse.csr_array,
    unit_ids: pd.Index,
    *,
    options: EmergingOptions | None = None,
) -> EmergingResult:
    """The whole analysis: space-time Gi*, FDR over every bin, Mann-Kendall, categories.

    Parameters
    ----------
    counts : numpy.ndarray
        Shape ``(n_units, n_steps)``: every unit in every step, zeros included.
    adjacency : scipy.sparse.csr_array
        Binary spatial neighbours of the units (without the unit itself).
    unit_ids : pandas.Index
        The units, in the rows' order.
    options : EmergingOptions, optional
        The method's parameters (the defaults of :class:`EmergingOptions` when not given).

    Returns
    -------
    EmergingResult

    Raises
    ------
    DataError
        Fewer than 10 steps, or a cube with no variance.
    OptionError
        An option out of its range, ``p_values="exact"`` on values that are not counts, or
        ``p_values`` and ``permutations`` that contradict each other.

    Examples
    --------
    >>> ring = np.roll(np.eye(8), 1, axis=1) + np.roll(np.eye(8), -1, axis=1)
    >>> counts = np.full((8, 20), 2.0); counts[0, -3:] = 12
    >>> result = emerging_hotspots(counts, sparse.csr_array(ring), pd.Index(list("abcdefgh")),
    ...                            options=EmergingOptions(p_values="auto"))
    >>> unit = result.units.loc["a"]
    >>> unit["category"], int(unit["last_hot_run"]), float(unit["recent_hot_share"])
    ('consecutive hot spot', 2, 0.4)
    >>> result.p_values, result.recent_steps
    ('exact', 5)
    """
    options = options or EmergingOptions()
    _check_options(options)
    x = np.asarray(counts, dtype=float)
    n_units, n_steps = x.shape
    if n_steps < MIN_STEPS:
        raise DataError(
            f"emerging hot spots need at least {MIN_STEPS} steps; the cube has {n_steps} "
            "(use a longer period or a shorter step)"
        )
    notes: list[str] = []
    totals = x.sum(axis=1)
    tested = np.ones(n_units, dtype=bool)
    if options.drop_empty:
        tested = totals > 0
        if (~tested).any():
            notes.append(
                f"{int((~tested).sum())} units with no event left out of the statistics "
                "(--drop-empty); they are 'no pattern'"
            )
    x_tested = x[tested]
    if x_tested.size == 0 or np.ptp(x_tested) == 0:
        raise DataError(
            "every bin of the cube has the same value: with zero variance there are no hot or "
            "cold spots (choose a longer period, other units or other incidents)"
        )
    sub_adjacency = sparse.csr_array(adjacency)[tested][:, tested]
    parts = _gi_parts(x_tested, sub_adjacency, options.time_window, options.window)
    z_tested = _z_scores(parts)
    undefined = np.isnan(z_tested)
    n_tests = int((~undefined).sum())
    method, reason = _p_value_method(options, x_tested, parts, n_tests)
    notes.append(f"bin p-values: {method} ({reason})")
    permutation_note = None
    if method == "permutation":
        p_tested = space_time_permutation_p(
            x_tested,
            sub_adjacency,
            time_window=options.time_window,
            window=options.window,
            permutations=options.permutations,
            seed=options.seed,
        )
        p_tested = np.where(undefined, np.nan, p_tested)
        permutation_note = resolution_note(
            n_tests, options.permutations, options.alpha, options.fdr, tested="unit-steps"
        )
        if permutation_note:
            if are_counts(x_tested):
                permutation_note += " (or exact count p-values, which need no permutations)"
            notes.append(permutation_note)
    elif method == "exact":
        p_tested = _count_p(parts, undefined)
    elif method == "rate":
        dispersion = week_to_week_dispersion(x_tested)
        notes.append(f"rate p-values: the counts vary {dispersion:.2f} times as much as Poisson")
        p_tested = _count_p(parts, undefined, dispersion=dispersion)
    else:
        p_tested = 2 * stats.norm.sf(np.abs(z_tested))
    if options.window != "cube":
        flat_steps = int(np.isnan(z_tested).all(axis=0).sum())
        if flat_steps:
            notes.append(f"{flat_steps} steps have no variance in their window: no hot spots there")

    z = np.full((n_units, n_steps), np.nan)
    p = np.full((n_units, n_steps), np.nan)
    z[tested], p[tested] = z_tested, p_tested
    q = adjust_p(p.ravel(), options.fdr).reshape(n_units, n_steps)
    significant = q <= options.alpha
    hot = significant & (z > 0)
    cold = significant & (z < 0)
    bins = gi_classes(z, q)

    trend = _trend(z_tested, options)
    notes.append(_trend_note(options, n_steps))
    tau = np.full(n_units, np.nan)
    trend_p = np.full(n_units, np.nan)
    slope = np.full(n_units, np.nan)
    tau[tested], trend_p[tested], slope[tested] = trend.tau, trend.p, trend.sen_slope

    codes = classify(
        hot,
        cold,
        trend_p=trend_p,
        trend_tau=tau,
        persistence=options.persistence,
        trend_alpha=options.trend_alpha,
    )
    codes[~tested] = 0
    recent_steps = recent_steps_of(n_steps, options.recent_fraction)
    change = recent_change(x, recent_steps)
    change[~tested] = np.nan
    own_when_hot = own_events_when_hot(x, hot, options.time_window)
    neighbours_only = (codes > 0) & (own_when_hot == 0)
    if neighbours_only.any():
        notes.append(
            f"{int(neighbours_only.sum())} hot spot units had no event of their own in any step "
            "they were hot (nor in its window): their neighbours alone make them hot; their "
            f"category says '{NEIGHBOURS_ONLY.strip()}'"
        )
    units = pd.DataFrame(
        {
            "category_code": codes,
            "category": [
                CATEGORY_NAMES[int(code)] + (NEIGHBOURS_ONLY if alone else "")
                for code, alone in zip(codes, neighbours_only, strict=True)
            ],
            "hot_fraction": hot.mean(axis=1),
            "cold_fraction": cold.mean(axis=1),
            "n_hot": hot.sum(axis=1),
            "n_cold": cold.sum(axis=1),
            "first_hot": _first_true(hot),
            "last_hot": _last_true(hot),
            "last_z": z[:, -1],
            "last_p": p[:, -1],
            "mk_tau": tau,
            "mk_p": trend_p,
            "sen_slope": slope,
            "total": totals,
            "last_count": x[:, -1],
            "last_hot_run": _final_run(hot),
            "last_cold_run": _final_run(cold),
            "recent_hot_share": hot[:, -recent_steps:].mean(axis=1),
            "recent_cold_share": cold[:, -recent_steps:].mean(axis=1),
            "recent_rate_ratio": change[:, 0],
            "recent_rate_ratio_low": change[:, 1],
            "recent_rate_ratio_high": change[:, 2],
            "neighbours_only": neighbours_only,
            "own_events_when_hot": own_when_hot,
        },
        index=unit_ids,
    )
    return EmergingResult(
        units,
        z,
        p,
        q,
        bins,
        hot,
        cold,
        notes,
        p_values=method,
        trend_correction=options.trend_correction,
        resolution_note=permutation_note,
        recent_steps=recent_steps,
    )


def _check_options(options: EmergingOptions) -> None:
    check_p_value_options(options.p_values, options.permutations, P_VALUE_METHODS)
    if options.trend_correction not in TREND_CORRECTIONS:
        raise OptionError.expected("trend_correction", options.trend_correction, TREND_CORRECTIONS)
    if not 0 < options.recent_fraction < 1:
        raise OptionError(
            f"'recent_fraction' was {options.recent_fraction} but must be above 0 and below 1"
        )


def _p_value_method(
    options: EmergingOptions, x: np.ndarray, parts: _GiParts, n_tests: int
) -> tuple[str, str]:
    """The p-values to use, and why (the ``auto`` rule of the module docstring)."""

    def moments() -> tuple[np.ndarray, np.ndarray]:
        _, mean, variance = _count_groups(parts)
        return mean, variance

    return choose_p_values(
        options.p_values,
        options.permutations,
        x,
        moments,
        n_tests=n_tests,
        alpha=options.alpha,
        fdr=options.fdr,
    )


def _trend(z: np.ndarray, options: EmergingOptions):
    """Mann-Kendall on each unit's z-scores, as ``trend_correction`` says.

    The corrected tests leave out the first ``K`` steps, whose windows are not full: their
    z-scores sum fewer steps, so for a unit whose rate is above (or below) the window's mean they
    grow (or fall) as the window fills, a rise that is only the window's (at K = 52 on 104 weeks
    of units with unequal constant rates, 23% of units "trend" with them, 1.5% without).
    """
    k = options.time_window
    if options.trend_correction == "none" or k == 0:
        return mann_kendall(z)
    full = z[:, k:]
    if options.trend_correction == "window":
        return mann_kendall(full, autocorrelation=window_autocorrelation(k))
    correction = options.trend_correction
    rho = serial_correlation(full, k, correction=correction, alpha=options.trend_alpha)
    return mann_kendall(full, autocorrelation=rho, correction=correction)


def _trend_note(options: EmergingOptions, n_steps: int) -> str:
    k = options.time_window
    if options.trend_correction == "none":
        return "trend: Mann-Kendall on the z-scores, no correction for serial correlation"
    if k == 0:
        return "trend: Mann-Kendall on the z-scores (time window 0: no serial correlation built in)"
    steps = f"on the {n_steps - k} steps with a full window (from step {k})"
    few = ""
    if n_steps - k < MIN_STEPS:
        few = f"; only {n_steps - k} steps: the trend test has almost no power"
    if options.trend_correction == "window":
        return (
            f"trend: Mann-Kendall on the z-scores {steps}, variance corrected (Hamed-Rao) for "
            f"the correlation of windows of {k + 1} steps, rho_k = 1 - k/{k + 1} for k <= {k}{few}"
        )
    return (
        f"trend: Mann-Kendall on the z-scores {steps}, variance corrected "
        f"({options.trend_correction}) for the autocorrelation estimated from each series at "
        f"lags 1..{k}{few}"
    )


def recent_steps_of(n_steps: int, fraction: float) -> int:
    """The last steps that are "recent": ``fraction`` of them, rounded up, at least 1 and at
    most ``n_steps - 1``.

    Examples
    --------
    >>> recent_steps_of(104, 0.25), recent_steps_of(10, 0.25), recent_steps_of(2, 0.9)
    (26, 3, 1)
    """
    return int(min(max(np.ceil(fraction * n_steps - 1e-9), 1), n_steps - 1))


def recent_text(share: float, run: float, recent_steps: int, step: str) -> str:
    """The recent hot weeks in words.

    Examples
    --------
    >>> recent_text(7 / 8, 3, 8, "week")
    'hot in 7 of the last 8 weeks, the last 3 in a row'
    >>> recent_text(0.0, 0, 26, "week")
    'not hot in the last 26 weeks'
    >>> recent_text(1.0, 104, 26, "week")
    'hot in all of the last 26 weeks (104 in a row)'
    """
    hot = round(float(share) * recent_steps) if np.isfinite(share) else 0
    if hot == 0:
        return f"not hot in the last {recent_steps} {step}s"
    if run >= recent_steps:
        return f"hot in all of the last {recent_steps} {step}s ({int(run)} in a row)"
    text = f"hot in {hot} of the last {recent_steps} {step}s"
    if run >= 2:
        text += f", the last {int(run)} in a row"
    elif run == 1:
        text += f", and the last {step}"
    return text


def recent_change(counts: np.ndarray, recent_steps: int, *, confidence: float = 0.95) -> np.ndarray:
    """Rate ratio of the last ``recent_steps`` steps to the steps before, and its exact interval.

    Given a unit's total ``n = b + a`` (``b`` events in the ``T - R`` steps before, ``a`` in the
    last ``R``), ``a`` is binomial with ``pi = RR R / (RR R + T - R)``; the Clopper-Pearson
    interval of ``pi`` maps to ``RR = pi / (1 - pi) (T - R) / R`` (the interval of
    :func:`geo_violence.stats.shift.rate_ratio_test`, without its test).

    Parameters
    ----------
    counts : numpy.ndarray
        Shape ``(n_units, n_steps)``.
    recent_steps : int
        ``R``, from 1 to ``n_steps - 1``.
    confidence : float
        Level of the interval.

    Returns
    -------
    numpy.ndarray
        Shape ``(n_units, 3)``: the ratio, the interval's low and high ends. The ratio is
        infinite with no event before (and the high end then too), NaN with none at all; the
        interval is NaN when the values are not counts.

    Examples
    --------
    >>> counts = np.array([[0, 0, 1, 0, 0, 0, 1, 2], [1, 1, 1, 1, 1, 1, 1, 1]])
    >>> recent_change(counts, 2).round(3).tolist()
    [[9.0, 0.723, 472.476], [1.0, 0.099, 5.592]]
    """
    x = np.asarray(counts, dtype=float)
    n_steps = x.shape[1]
    before = x[:, :-recent_steps].sum(axis=1)
    after = x[:, -recent_steps:].sum(axis=1)
    exposure_before, exposure_after = n_steps - recent_steps, recent_steps
    odds_to_ratio = exposure_before / exposure_after
    tail = (1 - confidence) / 2
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = (after / exposure_after) / (before / exposure_before)
        low_pi = np.where(after > 0, stats.beta.ppf(tail, after, before + 1), 0.0)
        high_pi = np.where(before > 0, stats.beta.ppf(1 - tail, after + 1, before), 1.0)
        low = low_pi / (1 - low_pi) * odds_to_ratio
        high = np.where(high_pi < 1, high_pi / (1 - high_pi) * odds_to_ratio, np.inf)
    empty = (before + after) == 0
    ratio[empty] = np.nan
    if not are_counts(x):
        low[:], high[:] = np.nan, np.nan
    low[empty], high[empty] = np.nan, np.nan
    return np.column_stack([ratio, low, high])


def classify(
    hot: np.ndarray,
    cold: np.ndarray,
    *,
    trend_p: np.ndarray,
    trend_tau: np.ndarray,
    persistence: float = 0.9,
    trend_alpha: float = 0.05,
) -> np.ndarray:
    """The category code of every unit from its hot and cold steps and its trend.

    Parameters
    ----------
    hot, cold : numpy.ndarray of bool
        Shape ``(n_units, n_steps)``: significant bins with z above / below zero.
    trend_p, trend_tau : numpy.ndarray
        The Mann-Kendall p-value and tau of each unit's z-scores.
    persistence : float
        The share of steps for persistent, intensifying, diminishing and historical.
    trend_alpha : float
        The trend test's level.

    Returns
    -------
    numpy.ndarray of int
        Codes -8..8 (see the module docstring).

    Examples
    --------
    >>> hot = np.array([[False] * 9 + [True], [True] * 10])
    >>> classify(hot, np.zeros_like(hot), trend_p=np.array([0.5, 0.5]),
    ...          trend_tau=np.array([0.0, 0.0])).tolist()
    [1, 4]
    """
    upward = (trend_p < trend_alpha) & (trend_tau > 0)
    downward = (trend_p < trend_alpha) & (trend_tau < 0)
    hot_codes = _family_codes(hot, cold, upward, downward, persistence)
    cold_codes = _family_codes(cold, hot, downward, upward, persistence)
    codes = np.where(hot[:, -1], hot_codes, np.where(cold[:, -1], -cold_codes, 0))
    neither = ~hot[:, -1] & ~cold[:, -1]
    historical_hot = neither & (hot.mean(axis=1) >= persistence)
    historical_cold = neither & (cold.mean(axis=1) >= persistence)
    codes = np.where(historical_hot, 8, np.where(historical_cold, -8, codes))
    return codes.astype(np.int64)


def _family_codes(
    own: np.ndarray,
    other: np.ndarray,
    strengthening: np.ndarray,
    weakening: np.ndarray,
    persistence: float,
) -> np.ndarray:
    """Codes 1..7 for units significant (``own``) at the last step; 0 where none applies.

    ``strengthening`` is the significant trend that makes the family intensify (upward for hot
    spots, downward for cold ones), ``weakening`` the one that makes it diminish.
    """
    fraction = own.mean(axis=1)
    count = own.sum(axis=1)
    final_run = _final_run(own)
    alone_in_run = count == final_run  # no own step before the final run
    persistent = fraction >= persistence
    other_before = other[:, :-1].any(axis=1)
    rules = [
        (count == 1, 1),  # new: this step is the only one
        ((final_run >= 2) & alone_in_run & ~persistent, 2),
        (persistent & strengthening, 3),
        (persistent & weakening, 5),
        (persistent, 4),
        (other_before & ~persistent, 7),
        ((count > final_run) & ~persistent & ~other_before, 6),
    ]
    codes = np.zeros(len(own), dtype=np.int64)
    decided = np.zeros(len(own), dtype=bool)
    for condition, code in rules:
        take = condition & ~decided
        codes[take] = code
        decided |= take
    return codes


def _final_run(mask: np.ndarray) -> np.ndarray:
    """Per row: how many ``True`` in a row end at the last column (0 if it is ``False``)."""
    reversed_mask = mask[:, ::-1]
    first_false = np.argmax(~reversed_mask, axis=1)
    return np.where(reversed_mask.all(axis=1), mask.shape[1], first_false)


def _first_true(mask: np.ndarray) -> np.ndarray:
    return np.where(mask.any(axis=1), mask.argmax(axis=1), -1)


def _last_true(mask: np.ndarray) -> np.ndarray:
    last = mask.shape[1] - 1 - mask[:, ::-1].argmax(axis=1)
    return np.where(mask.any(axis=1), last, -1)
