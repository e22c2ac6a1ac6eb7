"""Rates for small areas: Empirical Bayes standardisation (esda is called here, only here)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..errors import DataError


def eb_standardised_rates(events: pd.Series, population: pd.Series) -> pd.Series:
    """Assunção and Reis' Empirical Bayes standardised rates (esda's ``assuncao_rate``).

    Each unit's raw rate ``events / population`` is centred on the city's rate and divided by an
    estimate of its standard error that grows as the population shrinks, so that small areas with
    few residents do not dominate a local Moran's I. This is what ``esda.Moran_Local_Rate`` runs
    its statistic on.

    Parameters
    ----------
    events, population : pandas.Series
        Counts and residents per unit, on the same index.

    Returns
    -------
    pandas.Series
        On the same index.

    Examples
    --------
    >>> events = pd.Series([10.0, 1.0, 30.0], index=list("abc"))
    >>> people = pd.Series([1000.0, 100.0, 1000.0], index=list("abc"))
    >>> eb_standardised_rates(events, people).round(3).tolist()
    [-0.996, -0.583, 1.096]
    """
    from esda.smoothing import assuncao_rate

    population = population.reindex(events.index)
    bad = ~(population.to_numpy(dtype=float) > 0)
    if bad.any():
        names = ", ".join(map(str, events.index[bad][:10]))
        raise DataError(
            f"Empirical Bayes rates need a population above zero; units {names} have none"
        )
    standardised = assuncao_rate(events.to_numpy(dtype=float), population.to_numpy(dtype=float))
    return pd.Series(np.asarray(standardised, dtype=float), index=events.index)
