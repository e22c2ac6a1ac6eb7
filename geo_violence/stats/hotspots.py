"""The local hot spot table: Gi* and local Moran's I of one value per unit, corrected for
testing every unit at once, with the classes a map shows."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..choices import SMOOTHING_METHODS  # noqa: F401 - importable from here too
from ..units.neighbours import Neighbours
from .emerging import NEIGHBOURS_ONLY
from .local import local_gi_star, local_moran
from .rates import eb_standardised_rates
from .significance import CONFIDENCE_BINS, NOT_SIGNIFICANT, adjust_p, gi_classes, lisa_clusters

#: LISA label of a unit left out of the statistics (an island with ``islands="drop"``).
NOT_TESTED = "not tested (no neighbour)"
#: Confidence, in percent, of each Gi* class level.
CONFIDENCE = {level: round(100 * (1 - q)) for q, level in CONFIDENCE_BINS}


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
        Gi* conditional permutations; 0 (the default) for analytic normal p-values.
    lisa_permutations : int
        Local Moran's I conditional permutations (999).
    seed : int
        Seed of every permutation.
    smoothing : {"eb", "none"}
        With a population: Empirical Bayes standardised rates for local Moran's I, or raw rates.
    """

    fdr: str = "bh"
    alpha: float = 0.05
    permutations: int = 0
    lisa_permutations: int = 999
    seed: int = 12345
    smoothing: str = "eb"


def hotspot_table(
    counts: pd.Series,
    neighbours: Neighbours,
    *,
    population: pd.Series | None = None,
    options: HotspotOptions | None = None,
) -> pd.DataFrame:
    """Gi* and local Moran's I for every unit, with q-values and classes.

    Parameters
    ----------
    counts : pandas.Series
        Incidents per unit in the period, indexed by unit id.
    neighbours : Neighbours
        The units' neighbours; units it leaves out (dropped islands) get no statistic.
    population : pandas.Series, optional
        Residents per unit: the statistics then run on rates per 100,000.
    options : HotspotOptions, optional
        Correction, level, permutations, seed and smoothing (the defaults of
        :class:`HotspotOptions` when not given).

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
    gi = local_gi_star(
        values.loc[tested], neighbours, permutations=options.permutations, seed=gi_seed
    )
    lisa = local_moran(
        lisa_values.loc[tested],
        neighbours,
        permutations=options.lisa_permutations,
        seed=lisa_seed,
    )
    gi["gi_q"] = adjust_p(gi["gi_p"].to_numpy(), options.fdr)
    gi["gi_class"] = gi_classes(gi["gi_z"].to_numpy(), gi["gi_q"].to_numpy())
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
