"""Neighbourhood shift: compare two periods unit by unit, and name where violence rises or fades.

Two questions per unit, each with an exact test conditional on the unit's total, so that both
hold for the small counts of quiet areas:

- **Did the rate change?** Given ``n = count_before + count_after``, ``count_after`` is binomial
  with ``pi = RR E_a / (RR E_a + E_b)``, where ``E`` are the exposures (years, or person-years with
  a population: the population cancels) and ``RR`` the rate ratio. The test of ``RR = 1`` is the
  two-sided binomial test (probabilities no larger than the observed one are summed, as
  :func:`scipy.stats.binomtest` does), and the 95% interval maps the Clopper-Pearson interval of
  ``pi`` to ``RR = pi / (1 - pi) * E_b / E_a``.
- **Did the unit's share of the city change?** The 2x2 table of the unit against the rest of the
  city, before and after, under Fisher's exact test (conditional on both margins). This separates
  a place rising with the city from one rising against it.

Labels (``direction`` first, then ``label``), with ``alpha`` (0.10 by default, the 90% confidence
of the Gi* classes) on the FDR-adjusted ``q_value``:

========== ==================================================================
direction  rule
========== ==================================================================
rising     ``q_value <= alpha`` and ``rate_ratio > 1``
falling    ``q_value <= alpha`` and ``rate_ratio < 1``
stable     otherwise (and always for a unit with no event in either period)
========== ==================================================================

============ ================================================================================
label        rule
============ ================================================================================
emerging     rising, and not a Gi* hot spot in the before period
intensifying rising, and a Gi* hot spot in the before period
fading       falling, and a Gi* hot spot in the before period
cooling      falling, and not a Gi* hot spot in the before period
stable       stable
============ ================================================================================

A unit is a Gi* hot spot in the before period (``hot_before``) when its Gi* of the before
period's counts (or, with a population, their Empirical Bayes standardised rates, as the hot spot
table's default) has ``z > 0`` and an FDR-adjusted p-value ``<= alpha``, the p-values chosen as
the hot spot table chooses them (:func:`geo_violence.stats.hotspots.gi_of_counts`: on counts,
the exact distribution of Gi*'s null where the normal tail is poor); with the same rate
everywhere before, no unit was (``gi_z_before`` is then empty).

Where the change clusters: local Moran's I of ``rate_after - rate_before`` (GeoDa's differential
local Moran), so a block of neighbouring units rising together shows as an ``HH`` cluster.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from ..errors import DataError
from ..units.neighbours import Neighbours
from .hotspots import gi_of_counts
from .local import local_moran
from .significance import adjust_p, lisa_clusters

#: The directions and labels a unit can get.
DIRECTIONS = ("rising", "falling", "stable")
LABELS = ("emerging", "intensifying", "fading", "cooling", "stable")
#: Relative tolerance when summing the probabilities "no larger than the observed one" (scipy's).
_RELATIVE_TOLERANCE = 1 + 1e-7


@dataclass(frozen=True)
class ShiftOptions:
    """Options of the period comparison.

    Attributes
    ----------
    alpha : float
        Level of the FDR-adjusted p-values for a change, a hot spot before and a cluster: 0.10 by
        default, the weakest confidence (90%) at which the Gi* classes, as ArcGIS bins them, call
        a unit hot. ``confidence_level`` in the table says whether a change also holds at 95% or
        99%; pass 0.05 for the stricter reading.
    fdr : {"bh", "bonferroni", "none"}
        Correction for testing every unit.
    confidence : float
        Level of the rate-ratio interval.
    lisa_permutations : int
        Permutations of the differential local Moran's I.
    seed : int
        Seed of the permutations.
    """

    alpha: float = 0.10
    fdr: str = "bh"
    confidence: float = 0.95
    lisa_permutations: int = 999
    seed: int = 12345


def rate_ratio_test(
    count_before: np.ndarray,
    count_after: np.ndarray,
    exposure_before: float | np.ndarray,
    exposure_after: float | np.ndarray,
    *,
    confidence: float = 0.95,
) -> pd.DataFrame:
    """Rate ratio after/before, its exact interval and the exact test of "no change".

    Parameters
    ----------
    count_before, count_after : numpy.ndarray
        Events per unit in each period (non-negative integers).
    exposure_before, exposure_after : float or numpy.ndarray
        Exposure of each period (years, or person-years), one value or one per unit.
    confidence : float
        Level of the interval (0.95 by default).

    Returns
    -------
    pandas.DataFrame
        ``rate_ratio``, ``rate_ratio_low``, ``rate_ratio_high``, ``p_value``, one row per unit.
        With no event in either period the ratio and its interval are NaN and ``p_value`` is 1;
        with none before, the ratio and the upper bound are infinite.

    Examples
    --------
    >>> rate_ratio_test(np.array([10]), np.array([22]), 5.0, 4.0).round(3).to_dict("records")
    [{'rate_ratio': 2.75, 'rate_ratio_low': 1.25, 'rate_ratio_high': 6.505, 'p_value': 0.007}]
    """
    before = np.asarray(count_before, dtype=np.int64)
    after = np.asarray(count_after, dtype=np.int64)
    total = before + after
    exposure_before = np.broadcast_to(np.asarray(exposure_before, dtype=float), before.shape)
    exposure_after = np.broadcast_to(np.asarray(exposure_after, dtype=float), before.shape)
    odds_to_ratio = exposure_before / exposure_after
    tail = (1 - confidence) / 2
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = (after / exposure_after) / (before / exposure_before)
        low_pi = np.where(after > 0, stats.beta.ppf(tail, after, before + 1), 0.0)
        high_pi = np.where(before > 0, stats.beta.ppf(1 - tail, after + 1, before), 1.0)
        low = low_pi / (1 - low_pi) * odds_to_ratio
        high = np.where(high_pi < 1, high_pi / (1 - high_pi) * odds_to_ratio, np.inf)
    null_pi = exposure_after / (exposure_after + exposure_before)
    p_value = _two_sided_exact(
        after,
        support_low=np.zeros_like(total),
        support_high=total,
        pmf=lambda k, unit: stats.binom.pmf(k, total[unit], null_pi[unit]),
    )
    empty = total == 0
    ratio[empty], low[empty], high[empty] = np.nan, np.nan, np.nan
    return pd.DataFrame(
        {"rate_ratio": ratio, "rate_ratio_low": low, "rate_ratio_high": high, "p_value": p_value}
    )


def share_test(count_before: np.ndarray, count_after: np.ndarray) -> pd.DataFrame:
    """Each unit's share of the city's total before and after, and Fisher's exact test of a change.

    Parameters
    ----------
    count_before, count_after : numpy.ndarray
        Events per unit in each period; the city's totals are their sums.

    Returns
    -------
    pandas.DataFrame
        ``share_before``, ``share_after`` (fractions of the period's total) and ``share_p`` (two
        sided; 1 for a unit with no event in either period).

    Examples
    --------
    >>> share_test(np.array([30, 70]), np.array([10, 90])).round(4).to_dict("list")
    {'share_before': [0.3, 0.7], 'share_after': [0.1, 0.9], 'share_p': [0.0007, 0.0007]}
    """
    before = np.asarray(count_before, dtype=np.int64)
    after = np.asarray(count_after, dtype=np.int64)
    total_before, total_after = int(before.sum()), int(after.sum())
    if total_before == 0 or total_after == 0:
        raise DataError(
            "one of the periods has no event anywhere: shares of the city's total need events "
            f"in both (before: {total_before}, after: {total_after})"
        )
    unit_total = before + after
    city = total_before + total_after
    # count_after ~ hypergeometric: city events, of which total_after are "after", unit_total drawn
    support_low = np.maximum(0, unit_total - total_before)
    support_high = np.minimum(unit_total, total_after)
    share_p = _two_sided_exact(
        after,
        support_low=support_low,
        support_high=support_high,
        pmf=lambda k, unit: stats.hypergeom.pmf(k, city, total_after, unit_total[unit]),
    )
    return pd.DataFrame(
        {
            "share_before": before / total_before,
            "share_after": after / total_after,
            "share_p": share_p,
        }
    )


def _two_sided_exact(observed, *, support_low, support_high, pmf) -> np.ndarray:
    """Sum, per unit, the probabilities of the outcomes no more likely than the observed one.

    All units at once: their supports are laid end to end in one array, ``pmf(k, unit)`` is
    evaluated on it, and the sums are a ``bincount`` by unit.
    """
    sizes = (support_high - support_low + 1).astype(np.int64)
    unit = np.repeat(np.arange(len(sizes)), sizes)
    offsets = np.cumsum(sizes) - sizes
    outcome = support_low[unit] + (np.arange(sizes.sum()) - offsets[unit])
    probabilities = pmf(outcome, unit)
    observed_probability = probabilities[offsets + (observed - support_low)]
    as_likely = probabilities <= observed_probability[unit] * _RELATIVE_TOLERANCE
    summed = np.bincount(unit, weights=probabilities * as_likely, minlength=len(sizes))
    return np.minimum(summed, 1.0)


def compare_periods(
    count_before: pd.Series,
    count_after: pd.Series,
    neighbours: Neighbours,
    *,
    years_before: float | None = None,
    years_after: float | None = None,
    population: pd.Series | None = None,
    options: ShiftOptions | None = None,
) -> pd.DataFrame:
    """Compare two periods unit by unit: rates, the exact rate ratio, shares, labels, clusters.

    Parameters
    ----------
    count_before, count_after : pandas.Series
        Events per unit in each period, indexed by unit id (the same units).
    neighbours : Neighbours
        The units' neighbours, for the Gi* of the before period and the differential local
        Moran's I (units it leaves out get neither).
    years_before, years_after : float, optional
        Length of each period in years: rates are then per year. Without them the periods are
        taken as equally long and rates are counts per period.
    population : pandas.Series, optional
        Residents per unit: rates are then per 100,000 residents (per year). A unit with a
        missing or zero population keeps its rate ratio (the population cancels) but no rate.
    options : ShiftOptions, optional
        Level, correction, interval, permutations and seed.

    Returns
    -------
    pandas.DataFrame
        Indexed like ``count_before``: ``count_before``, ``count_after``, ``rate_before``,
        ``rate_after``, ``rate_ratio``, ``rate_ratio_low``, ``rate_ratio_high``, ``p_value``,
        ``q_value``, ``share_before``, ``share_after``, ``share_p``, ``share_q``,
        ``confidence_level`` (99, 95 or 90 when ``q_value`` is at most 0.01, 0.05 or 0.10, else
        0), ``direction``,
        ``gi_z_before``, ``gi_q_before``, ``hot_before``, ``label``, ``change``,
        ``change_lisa_i``, ``change_lisa_p``, ``change_lisa_q``, ``change_cluster``.

    Examples
    --------
    >>> from scipy import sparse
    >>> ring = np.roll(np.eye(24), 1, axis=1) + np.roll(np.eye(24), -1, axis=1)
    >>> ids = pd.Index(list("abcdefghijklmnopqrstuvwx"), name="unit_id")
    >>> neighbours = Neighbours(sparse.csr_array(ring), ids, "rook")
    >>> before = pd.Series([60, 50, 55, 5, 5, 4, 6, 5, 5, 4, 6, 5] * 2, index=ids)
    >>> before.iloc[12:15] = 5  # one busy block, a to c
    >>> after = pd.Series([20, 18, 21, 5, 30, 5, 4, 6, 5, 4, 6, 5] * 2, index=ids)
    >>> after.iloc[12:15] = 5
    >>> table = compare_periods(before, after, neighbours, years_before=5, years_after=5)
    >>> table.loc[["b", "a", "e", "d"], "label"].tolist()
    ['fading', 'cooling', 'emerging', 'stable']

    Only ``b`` was a significant Gi* hot spot before (its neighbours ``a`` and ``c`` have one
    quiet neighbour each: two busy units side by side among 24 are not rare enough), so ``a`` is
    cooling rather than fading.
    """
    options = options or ShiftOptions()
    if (years_before is None) != (years_after is None):
        raise ValueError("give both period lengths or neither")
    before = _counts(count_before, "before")
    after = _counts(count_after.reindex(count_before.index), "after")
    years_before = 1.0 if years_before is None else float(years_before)
    years_after = 1.0 if years_after is None else float(years_after)
    table = pd.DataFrame({"count_before": before, "count_after": after}, index=count_before.index)
    scale = pd.Series(1.0, index=table.index)
    if population is not None:
        residents = population.reindex(table.index).astype(float)
        scale = 100_000 / residents.where(residents > 0)
    table["rate_before"] = before / years_before * scale
    table["rate_after"] = after / years_after * scale

    ratio = rate_ratio_test(
        before.to_numpy(),
        after.to_numpy(),
        years_before,
        years_after,
        confidence=options.confidence,
    ).set_index(table.index)
    table = table.join(ratio)
    table["q_value"] = adjust_p(table["p_value"].to_numpy(), options.fdr)
    shares = share_test(before.to_numpy(), after.to_numpy()).set_index(table.index)
    table = table.join(shares)
    table["share_q"] = adjust_p(table["share_p"].to_numpy(), options.fdr)
    table["confidence_level"] = np.select(
        [table["q_value"] <= level for level in (0.01, 0.05, 0.10)], [99, 95, 90], default=0
    )
    changed = table["q_value"] <= options.alpha
    table["direction"] = np.select(
        [changed & (table["rate_ratio"] > 1), changed & (table["rate_ratio"] < 1)],
        ["rising", "falling"],
        default="stable",
    )

    tested = neighbours.unit_ids
    # the counts (their z-scores are those of the rate per year), or with residents their EB
    # standardised rates: raw rates of small areas would make false hot spots
    gi = gi_of_counts(
        before.loc[tested], neighbours, population=population, fdr=options.fdr, seed=options.seed
    )
    table["gi_z_before"] = gi["gi_z"].reindex(table.index)
    table["gi_q_before"] = gi["gi_q"].reindex(table.index)
    table["hot_before"] = (table["gi_z_before"] > 0) & (table["gi_q_before"] <= options.alpha)
    table["label"] = np.select(
        [
            (table["direction"] == "rising") & ~table["hot_before"],
            (table["direction"] == "rising") & table["hot_before"],
            (table["direction"] == "falling") & table["hot_before"],
            (table["direction"] == "falling") & ~table["hot_before"],
        ],
        ["emerging", "intensifying", "fading", "cooling"],
        default="stable",
    )

    change = table["rate_after"] - table["rate_before"]
    if change.loc[tested].isna().any():
        change = after / years_after - before / years_before
    table["change"] = change
    table = table.join(_change_clusters(change.loc[tested], neighbours, options))
    table["change_cluster"] = table["change_cluster"].fillna("not tested").astype(object)
    return table


def _counts(values: pd.Series, which: str) -> pd.Series:
    numbers = pd.to_numeric(values, errors="coerce")
    bad = numbers.isna() | (numbers < 0) | (numbers != np.round(numbers))
    if bad.any():
        named = ", ".join(map(str, values.index[bad][:10]))
        raise DataError(
            f"the {which} counts must be whole numbers of events, at least 0; units {named} "
            f"have {', '.join(map(str, values[bad][:10].tolist()))}"
        )
    return numbers.astype(np.int64)


def _change_clusters(
    change: pd.Series, neighbours: Neighbours, options: ShiftOptions
) -> pd.DataFrame:
    """Differential local Moran's I of the change in rate (empty when the change is constant)."""
    columns = ["change_lisa_i", "change_lisa_p", "change_lisa_q", "change_cluster"]
    if np.ptp(change.to_numpy(dtype=float)) == 0:
        return pd.DataFrame(
            {column: np.nan for column in columns} | {"change_cluster": "not significant"},
            index=change.index,
        )
    lisa = local_moran(
        change.astype(float),
        neighbours,
        permutations=options.lisa_permutations,
        seed=options.seed,
    )
    q = adjust_p(lisa["lisa_p"].to_numpy(), options.fdr)
    return pd.DataFrame(
        {
            "change_lisa_i": lisa["lisa_i"].to_numpy(),
            "change_lisa_p": lisa["lisa_p"].to_numpy(),
            "change_lisa_q": q,
            "change_cluster": lisa_clusters(lisa["lisa_quadrant"].to_numpy(), q, options.alpha),
        },
        index=change.index,
    )
