"""The local hot spot table: Gi* and local Moran's I of one value per unit, corrected for
testing every unit at once, with the classes a map shows.

Gi*'s p-values (``p_values="auto"``, the default) keep the normal tail only where it is good at
the threshold the correction sets (:func:`geo_violence.stats.count_tails.choose_p_values`): a
period's counts per beat or community area are sparse and skewed, and there the normal tail that
ArcGIS's Hot Spot Analysis and esda use flags units with no pattern behind them far more often
than its stated rate. Elsewhere the p-value comes from the exact distribution of Gi*'s own null,
the counts dealt to the units at random (:mod:`geo_violence.stats.randomisation`), so the z-scores
are unchanged and only the p-values and classes differ. Counts too large for that table get the
tail of a count with the null's mean and variance (Poisson or negative binomial, ``"exact"``, as
``emerging`` does). ``"arcgis"`` and ``"normal"`` keep the normal tail.

With a population, Gi* and local Moran's I run on Empirical Bayes standardised rates by default
(raw rates of unequal populations are not interchangeable between units, as Gi*'s null assumes).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..choices import HOTSPOT_P_VALUE_METHODS, SMOOTHING_METHODS  # noqa: F401 - from here too
from ..errors import OptionError
from ..units.neighbours import Neighbours
from .count_tails import check_p_value_options, choose_p_values
from .emerging import NEIGHBOURS_ONLY, gi_null_moments, space_time_count_p
from .local import local_gi_star, local_moran
from .randomisation import MAX_CELLS, fits, randomisation_p, table_size
from .rates import eb_standardised_rates
from .significance import CONFIDENCE_BINS, NOT_SIGNIFICANT, adjust_p, gi_classes, lisa_clusters

#: LISA label of a unit left out of the statistics (an island with ``islands="drop"``).
NOT_TESTED = "not tested (no neighbour)"
#: Confidence, in percent, of each Gi* class level.
CONFIDENCE = {level: round(100 * (1 - q)) for q, level in CONFIDENCE_BINS}
#: What a hot spot table of rates (with a population) warns: measured by
#: ``bench/bench_calibration.py``, table 8.
RATES_CAVEAT = (
    "Gi* on raw rates (--smoothing none) does not hold its error rate: a small area's rate "
    "varies more, and with every community area at the same risk 18-23% of runs had a hot or "
    "cold area where 10% is promised (4-11% on the Empirical Bayes standardised rates of the "
    "default --smoothing eb)"
)
#: The columns of :func:`gi_star_table`.
GI_COLUMNS = ["gi_z", "gi_p", "gi_q", "gi_class"]
#: The level of the weakest Gi* class (90% confidence): the threshold ``auto`` judges the normal
#: tail at.
GI_LEVEL = max(q for q, _ in CONFIDENCE_BINS)


@dataclass(frozen=True)
class HotspotOptions:
    """Options of the local hot spot statistics.

    Attributes
    ----------
    fdr : {"bh", "bonferroni", "none"}
        Correction for testing every unit (Benjamini-Hochberg by default).
    alpha : float
        Level at which a LISA cluster is significant (after correction).
    permutations : int
        Gi* conditional permutations; 0 (the default) for analytic p-values (``p_values``).
    lisa_permutations : int
        Local Moran's I conditional permutations (999).
    seed : int
        Seed of every permutation.
    smoothing : {"eb", "none"}
        With a population: Gi* and local Moran's I on Empirical Bayes standardised rates (the
        default: a rate of few residents varies more, and raw rates make Gi* find hot spots
        where every area has the same risk), or on raw rates.
    p_values : {"auto", "arcgis", "normal", "exact", "randomisation", "permutation"}
        Gi*'s p-values: "auto" (the default) takes the exact distribution of Gi*'s null
        ("randomisation") where counts are too sparse for the normal tail (the module
        docstring), permutations when some are asked; "exact" the count tail with the null's
        mean and variance (as ``emerging`` does); "arcgis" the normal tail (or permutations), as
        ArcGIS does.
    """

    fdr: str = "bh"
    alpha: float = 0.05
    permutations: int = 0
    lisa_permutations: int = 999
    seed: int = 12345
    smoothing: str = "eb"
    p_values: str = "auto"

    def __post_init__(self) -> None:
        check_p_value_options(self.p_values, self.permutations, HOTSPOT_P_VALUE_METHODS)


def hotspot_table(
    counts: pd.Series,
    neighbours: Neighbours,
    *,
    population: pd.Series | None = None,
    options: HotspotOptions | None = None,
    notes: list[str] | None = None,
) -> pd.DataFrame:
    """Gi* and local Moran's I for every unit, with q-values and classes.

    Parameters
    ----------
    counts : pandas.Series
        Incidents per unit in the period, indexed by unit id.
    neighbours : Neighbours
        The units' neighbours; units it leaves out (dropped islands) get no statistic.
    population : pandas.Series, optional
        Residents per unit: the statistics then run on rates per 100,000 (their Empirical Bayes
        standardised form with ``smoothing="eb"``, the default; ``rate`` is the raw rate).
    options : HotspotOptions, optional
        Correction, level, permutations, seed, smoothing and Gi*'s p-values (the defaults of
        :class:`HotspotOptions` when not given).
    notes : list of str, optional
        Receives which p-values Gi* used, and why.

    Returns
    -------
    pandas.DataFrame
        Indexed like ``counts``: ``count``, (``rate``), ``gi_z``, ``gi_p``, ``gi_q``, ``gi_class``
        (-3..3; missing for a unit left out of the statistics), ``lisa_i``, ``lisa_z``,
        ``lisa_p``, ``lisa_q``, ``lisa_cluster``, ``gi_category`` (the Gi* class in words, e.g.
        "hot spot, 99% confidence"; a hot spot with no incident of its own in the period, hot
        only through its neighbours, ends in " (neighbours only)").

    Examples
    --------
    >>> from scipy import sparse
    >>> ring = sparse.csr_array(np.roll(np.eye(6), 1, axis=1) + np.roll(np.eye(6), -1, axis=1))
    >>> ids = pd.Index(list("abcdef"), name="unit_id")
    >>> table = hotspot_table(pd.Series([9, 8, 9, 1, 0, 1], index=ids),
    ...                       Neighbours(sparse.csr_array(ring), ids, "rook"))
    >>> table.columns.tolist()[:5]
    ['count', 'gi_z', 'gi_p', 'gi_q', 'gi_class']
    """
    options = options or HotspotOptions()
    table = pd.DataFrame({"count": counts.astype(np.int64)})
    values = counts.astype(float)
    lisa_values = values
    if population is not None:
        population = population.reindex(counts.index).astype(float)
        with np.errstate(invalid="ignore", divide="ignore"):
            values = values / population.where(population > 0) * 100_000
        table["rate"] = values
        if options.smoothing == "eb":
            lisa_values = eb_standardised_rates(
                counts.loc[neighbours.unit_ids].astype(float), population
            )
        else:
            lisa_values = values
    tested = neighbours.unit_ids
    gi_seed, lisa_seed = np.random.SeedSequence(options.seed).spawn(2)  # independent draws
    gi_values = values.loc[tested]
    smoothed = population is not None and options.smoothing == "eb"
    if smoothed and np.isfinite(gi_values.to_numpy(float)).all():  # (else the rate's own error)
        gi_values = lisa_values.loc[tested]  # a rate of few residents weighs less
    gi = gi_star_table(gi_values, neighbours, options, seed=gi_seed, notes=notes)
    if population is not None and not smoothed and notes is not None:
        notes.append(RATES_CAVEAT)
    lisa = local_moran(
        lisa_values.loc[tested],
        neighbours,
        permutations=options.lisa_permutations,
        seed=lisa_seed,
    )
    lisa["lisa_q"] = adjust_p(lisa["lisa_p"].to_numpy(), options.fdr)
    lisa["lisa_cluster"] = lisa_clusters(
        lisa["lisa_quadrant"].to_numpy(), lisa["lisa_q"].to_numpy(), options.alpha
    )
    table = table.join(gi).join(lisa.drop(columns="lisa_quadrant"))
    untested = ~table.index.isin(tested)
    table["gi_class"] = table["gi_class"].astype("Int64")  # missing where not tested
    table["lisa_cluster"] = table["lisa_cluster"].astype(object)
    table.loc[untested, "lisa_cluster"] = NOT_TESTED
    table["lisa_cluster"] = table["lisa_cluster"].fillna(NOT_SIGNIFICANT)
    table["gi_category"] = gi_categories(table["gi_class"], table["count"])
    return table


def gi_star_table(
    values: pd.Series,
    neighbours: Neighbours,
    options: HotspotOptions,
    *,
    seed: int | np.random.SeedSequence | None = None,
    notes: list[str] | None = None,
) -> pd.DataFrame:
    """Gi* of one value per unit with the p-values ``options.p_values`` chooses, corrected.

    Parameters
    ----------
    values : pandas.Series
        One value per unit of ``neighbours`` (counts, or rates), indexed by unit id.
    neighbours : Neighbours
        The units' neighbours.
    options : HotspotOptions
        The p-values, permutations and correction.
    seed : int or numpy.random.SeedSequence, optional
        Seed of the permutations (``options.seed`` when not given).
    notes : list of str, optional
        Receives which p-values were used, and why.

    Returns
    -------
    pandas.DataFrame
        Indexed like ``neighbours.unit_ids``: ``gi_z``, ``gi_p``, ``gi_q`` and ``gi_class``.

    Examples
    --------
    >>> from scipy import sparse
    >>> ring = sparse.csr_array(np.roll(np.eye(6), 1, axis=1) + np.roll(np.eye(6), -1, axis=1))
    >>> ids = pd.Index(list("abcdef"), name="unit_id")
    >>> table = gi_star_table(pd.Series([9, 8, 9, 1, 0, 1], index=ids),
    ...                       Neighbours(ring, ids, "rook"), HotspotOptions())
    >>> table.columns.tolist()
    ['gi_z', 'gi_p', 'gi_q', 'gi_class']
    """
    seed = options.seed if seed is None else seed
    gi = local_gi_star(values, neighbours)  # (checks the values first)
    x = values.reindex(neighbours.unit_ids).to_numpy(float)
    method, reason = gi_p_value_method(x, neighbours, options)
    if notes is not None:
        notes.append(f"Gi* p-values: {method} ({reason})")
    if method == "permutation":
        gi = local_gi_star(values, neighbours, permutations=options.permutations, seed=seed)
    elif method == "exact":
        gi["gi_p"] = space_time_count_p(x[:, None], neighbours.matrix, time_window=0)[:, 0]
    elif method == "randomisation":
        sizes = _star_sizes(neighbours)
        sums = neighbours.matrix @ x + x
        gi["gi_p"] = np.where(gi["gi_z"].isna(), np.nan, randomisation_p(x, sizes, sums))
    gi["gi_q"] = adjust_p(gi["gi_p"].to_numpy(), options.fdr)
    gi["gi_class"] = gi_classes(gi["gi_z"].to_numpy(), gi["gi_q"].to_numpy())
    return gi


def gi_of_counts(
    counts: pd.Series,
    neighbours: Neighbours,
    *,
    population: pd.Series | None = None,
    fdr: str = "bh",
    seed: int = 12345,
) -> pd.DataFrame:
    """Gi* of one period's counts as the hot spot table computes it by default: on the counts,
    or, with a population above 0 for every unit, on their Empirical Bayes standardised rates;
    the p-values ``auto`` chooses. What ``compare`` and ``trends`` call "a hot spot before".

    Returns
    -------
    pandas.DataFrame
        Indexed like ``counts``: ``gi_z``, ``gi_p``, ``gi_q`` and ``gi_class``; all NaN when
        every value is the same (no unit is a hot spot then).

    Examples
    --------
    >>> from scipy import sparse
    >>> ring = sparse.csr_array(np.roll(np.eye(6), 1, axis=1) + np.roll(np.eye(6), -1, axis=1))
    >>> ids = pd.Index(list("abcdef"), name="unit_id")
    >>> same = gi_of_counts(pd.Series(3, index=ids), Neighbours(ring, ids, "rook"))
    >>> bool(same["gi_q"].isna().all())
    True
    """
    values = counts.astype(float)
    if population is not None:
        people = population.reindex(counts.index).astype(float)
        if (people > 0).all():  # (else the counts: a rate needs residents)
            values = eb_standardised_rates(values, people)
    if np.ptp(values.to_numpy()) == 0:
        return pd.DataFrame(np.nan, index=counts.index, columns=GI_COLUMNS)
    return gi_star_table(values, neighbours, HotspotOptions(fdr=fdr, seed=seed))


def gi_p_value_method(
    values: np.ndarray, neighbours: Neighbours, options: HotspotOptions
) -> tuple[str, str]:
    """Which p-values Gi* uses on ``values`` (one per unit of ``neighbours``), and why.

    ``"auto"`` follows :func:`geo_violence.stats.count_tails.choose_p_values`, and where that
    chooses count tails it takes the exact randomisation distribution instead
    (:mod:`geo_violence.stats.randomisation`) when its table is small enough.

    Raises
    ------
    OptionError
        "randomisation" asked on values that are not counts, or on counts too large for its
        table.

    Examples
    --------
    >>> from scipy import sparse
    >>> ring = sparse.csr_array(np.roll(np.eye(6), 1, axis=1) + np.roll(np.eye(6), -1, axis=1))
    >>> ids = pd.Index(list("abcdef"), name="unit_id")
    >>> gi_p_value_method(np.array([9.0, 8, 9, 1, 0, 1]), Neighbours(ring, ids, "rook"),
    ...                   HotspotOptions())[0]
    'randomisation'
    """
    x = np.asarray(values, dtype=float)[:, None]
    method, reason = choose_p_values(
        options.p_values,
        options.permutations,
        x,
        lambda: gi_null_moments(x, neighbours.matrix, time_window=0),
        n_tests=len(x),
        alpha=GI_LEVEL,
        fdr=options.fdr,
        tested="units",
    )
    if method not in ("exact", "randomisation") or options.p_values == "exact":
        return method, reason
    sizes = _star_sizes(neighbours)
    if fits(x[:, 0], sizes):
        if options.p_values == "auto":
            reason += "; the exact distribution of Gi*'s null (the counts dealt at random) is used"
        return "randomisation", reason
    cells, work = table_size(x[:, 0], sizes)
    too_large = f"a table of {cells:,} cells ({work:,} cell updates)"
    if options.p_values == "randomisation":
        raise OptionError(
            f"p_values 'randomisation' would need {too_large} for these counts (at most "
            f"{MAX_CELLS:,} cells); give p_values 'exact' (count tails) or 'normal'"
        )
    return "exact", (
        f"{reason}; the exact distribution would need {too_large}, so the count tail with the "
        "same mean and variance is used"
    )


def _star_sizes(neighbours: Neighbours) -> np.ndarray:
    """Units in each neighbourhood, the unit itself included."""
    return np.asarray(neighbours.matrix.sum(axis=1)).ravel().astype(np.int64) + 1


def gi_categories(gi_class: pd.Series, count: pd.Series) -> list[str]:
    """Gi* classes in words; a hot spot with no incident of its own says that only its
    neighbours make it one (Gi* is hot where the neighbourhood is).

    Examples
    --------
    >>> gi_categories(pd.Series([3, 3, -1, 0, None], dtype="Int64"),
    ...               pd.Series([4, 0, 0, 2, 1]))  # doctest: +NORMALIZE_WHITESPACE
    ['hot spot, 99% confidence', 'hot spot, 99% confidence (neighbours only)',
     'cold spot, 90% confidence', 'not significant', 'not tested']
    """
    labels = []
    for level, own in zip(gi_class, count, strict=True):
        if pd.isna(level):
            labels.append("not tested")
        elif level == 0:
            labels.append(NOT_SIGNIFICANT)
        else:
            kind = "hot spot" if level > 0 else "cold spot"
            label = f"{kind}, {CONFIDENCE[abs(int(level))]}% confidence"
            labels.append(label + (NEIGHBOURS_ONLY if level > 0 and own == 0 else ""))
    return labels
