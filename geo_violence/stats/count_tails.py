"""Exact tail p-values of sums of counts, and when the normal approximation is good enough.

A Gi* z-score standardises a neighbourhood's sum by the mean ``mu`` and variance ``v`` that the
sum would have if the window's values were spread at random. Its two-sided normal p-value is
wrong for sparse counts: the sum of a few small counts is skewed, so the normal tail is far too
thin on the hot side (too many hot bins) and far too thick on the cold side (a sum cannot go
below zero, so cold bins are unreachable where a normal tail says they are not).

Here the sum gets the tail of a count distribution with the same mean and variance: Poisson when
``v <= mu`` (the window's counts are no more variable than Poisson counts), negative binomial
with ``r = mu^2 / (v - mu)`` and ``p = mu / v`` when they are overdispersed. The two-sided p-value
doubles the smaller tail, ``min(1, 2 min(P(X >= k), P(X <= k)))``; both tails include the
observed count, so the p-value is valid (never below its nominal rate) however discrete the
counts are.

A second null, for counts, asks another question: is the neighbourhood's rate above the
window's? Its sum then gets a Poisson tail with mean ``mu = xbar |N|``, negative binomial with
variance ``phi mu`` when the counts vary from step to step more than Poisson counts
(:func:`week_to_week_dispersion`). Differences of level between units are then findings, not
noise: an area whose rate stays above the city's is hot in every step where the data show it.

The normal approximation is used for counts only when it is good at the level a bin must reach
after the correction for testing every bin: a lone bin needs ``p <= alpha / m`` (``m`` bins) under
Benjamini-Hochberg and Bonferroni, so ``|z| >= z* = Phi^-1(1 - alpha / (2 m))``. The first
Edgeworth term puts the relative error of the normal tail there at ``gamma (z*^2 - 1) phi(z*) /
(6 (1 - Phi(z*)))``, with ``gamma`` the skewness of the sum; the normal is used when that is at most
``NORMAL_TAIL_TOLERANCE`` (10%) in every neighbourhood. With 28,600 bins at ``alpha = 0.05``
(``z* = 4.78``) a Poisson sum needs a mean of about 33,000 events for that: weekly counts of
violence are always "sparse" in this sense.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy import stats

from ..errors import OptionError

#: The largest relative error of the normal tail, at the corrected threshold, that is accepted.
NORMAL_TAIL_TOLERANCE = 0.10
#: Above this many (parameter, count) cells the tails are looked up through a sort, not a table.
DENSE_CELLS = 4_000_000
#: A negative binomial with more than this size parameter is taken as Poisson.
POISSON_SIZE = 1e10


def count_tail_p(
    observed: np.ndarray, group: np.ndarray, mean: np.ndarray, variance: np.ndarray
) -> np.ndarray:
    """Two-sided exact tail p-value of each observed sum under its group's count distribution.

    Parameters
    ----------
    observed : numpy.ndarray
        Sums of counts (whole numbers, at least 0), any shape.
    group : numpy.ndarray of int
        The same shape: which ``mean`` and ``variance`` each sum has under the null.
    mean, variance : numpy.ndarray
        One value per group (NaN for a group that has no distribution: its p-values are NaN).

    Returns
    -------
    numpy.ndarray
        ``min(1, 2 min(P(X >= k), P(X <= k)))``, shaped like ``observed``; ``X`` is Poisson with
        the group's mean when its variance is at most its mean, else negative binomial with its
        mean and variance.

    Examples
    --------
    >>> p = count_tail_p(np.array([0, 2, 9]), np.array([0, 0, 0]), np.array([2.0]),
    ...                  np.array([2.0]))
    >>> p.round(4).tolist()  # Poisson(2): 2 P(X = 0), 1, 2 P(X >= 9)
    [0.2707, 1.0, 0.0005]
    >>> bool(np.isclose(p[2], 2 * stats.poisson.sf(8, 2.0)))
    True
    """
    counts = np.rint(np.asarray(observed, dtype=float)).astype(np.int64)
    shape = counts.shape
    counts = counts.ravel()
    group = np.asarray(group, dtype=np.int64).ravel()
    mean = np.asarray(mean, dtype=float)
    variance = np.asarray(variance, dtype=float)
    result = np.full(counts.size, np.nan)
    if counts.size == 0:
        return result.reshape(shape)
    width = int(counts.max()) + 1
    key = group * width + counts
    if len(mean) * width <= DENSE_CELLS:
        present = np.zeros(len(mean) * width, dtype=bool)
        present[key] = True
        cells = np.flatnonzero(present)
        table = np.empty(len(mean) * width)
        table[cells] = _two_sided(cells % width, mean[cells // width], variance[cells // width])
        result = table[key]
    else:
        cells, where = np.unique(key, return_inverse=True)
        result = _two_sided(cells % width, mean[cells // width], variance[cells // width])[where]
    return result.reshape(shape)


def _two_sided(k: np.ndarray, mean: np.ndarray, variance: np.ndarray) -> np.ndarray:
    """``min(1, 2 min(P(X >= k), P(X <= k)))`` with ``X`` Poisson or negative binomial."""
    upper = np.full(k.shape, np.nan)
    lower = np.full(k.shape, np.nan)
    known = np.isfinite(mean) & np.isfinite(variance) & (mean > 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        size = mean**2 / (variance - mean)
    poisson = known & ((variance <= mean) | (size > POISSON_SIZE))
    upper[poisson] = stats.poisson.sf(k[poisson] - 1, mean[poisson])
    lower[poisson] = stats.poisson.cdf(k[poisson], mean[poisson])
    spread = known & ~poisson
    probability = mean[spread] / variance[spread]
    upper[spread] = stats.nbinom.sf(k[spread] - 1, size[spread], probability)
    lower[spread] = stats.nbinom.cdf(k[spread], size[spread], probability)
    return np.minimum(1.0, 2 * np.minimum(upper, lower))


def skewness(mean: np.ndarray, variance: np.ndarray) -> np.ndarray:
    """Skewness of the count distribution :func:`count_tail_p` gives a sum.

    ``(2 v / mu - 1) / sqrt(v)`` for the negative binomial (``v > mu``), ``1 / sqrt(mu)`` for the
    Poisson.

    Examples
    --------
    >>> skewness(np.array([4.0, 4.0]), np.array([4.0, 8.0])).round(4).tolist()
    [0.5, 1.0607]
    """
    mean = np.asarray(mean, dtype=float)
    v = np.maximum(np.asarray(variance, dtype=float), mean)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (2 * v / mean - 1) / np.sqrt(v)


def threshold_z(n_tests: int, alpha: float, fdr: str) -> float:
    """The ``|z|`` a lone test must reach to be significant after the correction.

    Examples
    --------
    >>> round(threshold_z(28_600, 0.05, "bh"), 2), round(threshold_z(28_600, 0.05, "none"), 2)
    (4.78, 1.96)
    """
    level = alpha if fdr == "none" else alpha / max(n_tests, 1)
    return float(stats.norm.isf(level / 2))


def normal_tail_error(skew: np.ndarray, z: float) -> np.ndarray:
    """Relative error of the normal tail at ``z`` by the first Edgeworth term:
    ``gamma (z^2 - 1) phi(z) / (6 (1 - Phi(z)))``.

    Examples
    --------
    >>> normal_tail_error(np.array([1 / np.sqrt(33_100), 1 / np.sqrt(28)]), 4.78).round(3).tolist()
    [0.1, 3.423]
    """
    hazard = stats.norm.pdf(z) / stats.norm.sf(z)
    return np.abs(np.asarray(skew, dtype=float)) * (z**2 - 1) * hazard / 6


def week_to_week_dispersion(values: np.ndarray) -> float:
    """How much more the counts vary from step to step than Poisson counts would: the variance of
    the counts once each unit's and each step's mean are taken out, over the mean (at least 1).

    The residual variance ``sum (x_it - xbar_i. - xbar_.t + xbar)^2 / ((N-1)(T-1))`` leaves out
    the differences of level between units and between steps, so it measures noise, not pattern:
    about 1 for Poisson counts whatever their rates, ``1 + mu / k`` for gamma-Poisson counts of
    shape ``k``.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> levels = rng.uniform(0.5, 5, (200, 1))  # unequal but constant rates: still Poisson noise
    >>> round(week_to_week_dispersion(rng.poisson(levels, (200, 300))), 1)
    1.0
    >>> gamma_poisson = rng.poisson(rng.gamma(1.0, 2.0, (200, 300)))  # mean 2, variance 6
    >>> round(week_to_week_dispersion(gamma_poisson))
    3
    """
    x = np.asarray(values, dtype=float)
    mean = x.mean()
    if mean <= 0 or min(x.shape) < 2:
        return 1.0
    residual = x - x.mean(axis=1, keepdims=True) - x.mean(axis=0, keepdims=True) + mean
    variance = (residual**2).sum() / ((x.shape[0] - 1) * (x.shape[1] - 1))
    return float(max(1.0, variance / mean))


def are_counts(values: np.ndarray) -> bool:
    """Whether every finite value is a whole number of at least 0 (and there is one).

    Examples
    --------
    >>> are_counts(np.array([0.0, 3.0, np.nan])), are_counts(np.array([0.5, 1.0]))
    (True, False)
    """
    values = np.asarray(values, dtype=float)
    finite = np.isfinite(values)
    if not finite.all():
        values = values[finite]
    if values.size == 0 or values.min() < 0:
        return False
    return bool(np.array_equal(values, np.rint(values)))


def check_p_value_options(p_values: str, permutations: int, methods: tuple[str, ...]) -> None:
    """Refuse a p-value method that is not in ``methods``, or one that contradicts
    ``permutations`` (permutations asked with an analytic method, or none with "permutation").

    Examples
    --------
    >>> try:
    ...     check_p_value_options("exact", 99, ("auto", "exact", "permutation"))
    ... except OptionError as error:
    ...     print(str(error)[:49])
    'permutations' was 99 but p_values 'exact' uses n
    """
    if p_values not in methods:
        raise OptionError.expected("p_values", p_values, methods)
    if permutations < 0:
        raise OptionError(f"'permutations' was {permutations} but must be 0 or more")
    if p_values == "permutation" and permutations == 0:
        raise OptionError(
            "'permutations' was 0 but p_values 'permutation' needs at least 1 (999, say)"
        )
    if p_values not in ("auto", "arcgis", "permutation") and permutations > 0:
        raise OptionError(
            f"'permutations' was {permutations} but p_values {p_values!r} uses none: give "
            "p_values 'permutation' (or 'auto'), or permutations 0"
        )


def choose_p_values(
    asked: str,
    permutations: int,
    values: np.ndarray,
    moments: Callable[[], tuple[np.ndarray, np.ndarray]],
    *,
    n_tests: int,
    alpha: float,
    fdr: str,
    tested: str = "bins",
) -> tuple[str, str]:
    """The p-values a Gi* analysis uses, and why: ``"normal"``, ``"exact"`` or
    ``"permutation"``, or any other method as asked (``"rate"``, ``"randomisation"``).

    ``"auto"`` takes permutations when some are asked, the normal tail for values that are not
    counts, and otherwise the normal tail only where it is good at the corrected threshold:
    :func:`normal_tail_error` at :func:`threshold_z` at most :data:`NORMAL_TAIL_TOLERANCE` in the
    most skewed neighbourhood; else exact count tails. ``"arcgis"`` is ArcGIS's choice: the
    normal tail, or permutations when asked.

    Parameters
    ----------
    asked : str
        The method asked for: "auto", "arcgis", or a method itself.
    permutations : int
        Permutations asked (0: none).
    values : numpy.ndarray
        The values tested.
    moments : callable
        Returns the null mean and variance of each group of equal null distributions (asked
        only when needed).
    n_tests, alpha, fdr : int, float, str
        What the correction's threshold depends on: the tests, the level, the correction.
    tested : str
        What a test is, for the reason ("bins", "units").

    Raises
    ------
    OptionError
        "exact", "rate" or "randomisation" asked for values that are not counts.

    Examples
    --------
    >>> moments = lambda: (np.array([3.0]), np.array([3.0]))
    >>> choose_p_values("auto", 0, np.array([0.0, 2, 5]), moments, n_tests=77, alpha=0.1,
    ...                 fdr="bh")[0]
    'exact'
    >>> choose_p_values("auto", 0, np.array([0.5, 2, 5]), moments, n_tests=77, alpha=0.1,
    ...                 fdr="bh")
    ('normal', 'the values are not counts')
    """
    values = np.asarray(values, dtype=float)
    counts = are_counts(values)
    if asked in ("exact", "rate", "randomisation") and not counts:
        finite = values[np.isfinite(values)]
        bad = finite[(finite < 0) | (finite != np.rint(finite))]
        raise OptionError(
            f"p_values {asked!r} needs counts (whole numbers of at least 0); the values include "
            f"{bad[:3].tolist()}"
        )
    if asked == "arcgis":
        if permutations > 0:
            return "permutation", f"{permutations} permutations asked"
        return "normal", (
            "ArcGIS's normal tail, as asked (on sparse counts it is too liberal: "
            "--p-values auto chooses exact count tails there)"
        )
    if asked != "auto":
        return asked, "as asked"
    if permutations > 0:
        return "permutation", f"{permutations} permutations asked"
    if not counts:
        return "normal", "the values are not counts"
    mean, variance = moments()
    known = np.isfinite(mean) & np.isfinite(variance)
    if not known.any():
        return "normal", f"no {tested[:-1]} has a null distribution"
    z_star = threshold_z(n_tests, alpha, fdr)
    error = float(normal_tail_error(np.nanmax(skewness(mean[known], variance[known])), z_star))
    sparsest = float(np.nanmin(mean[known]))
    if error <= NORMAL_TAIL_TOLERANCE:
        return "normal", (
            f"counts dense enough: the normal tail is within {error:.0%} of the exact one at "
            f"|z| = {z_star:.2f}, the threshold after the {fdr} correction"
        )
    return "exact", (
        f"counts too sparse for the normal approximation: in the sparsest neighbourhood "
        f"({sparsest:.3g} events expected) its tail at |z| = {z_star:.2f}, the threshold "
        f"after the {fdr} correction over {n_tests} {tested}, is off by {error:.0%} "
        f"(more than {NORMAL_TAIL_TOLERANCE:.0%})"
    )
