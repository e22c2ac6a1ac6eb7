"""Counts with no pattern in space, shaped like the city's: for the calibration tests and
``bench/bench_calibration.py``, which must draw the same null."""

from __future__ import annotations

import numpy as np


def period_counts(kind: str, n_units: int, rng: np.random.Generator) -> np.ndarray:
    """One period's counts per unit with no pattern in space.

    ``kind`` is ``"poisson m"`` (Poisson at mean ``m`` everywhere), ``"overdispersed m"``
    (gamma-Poisson with variance three times the mean) or ``"season m"`` (four weeks of a citywide
    season, +-50% over the year around a mean of ``m`` a week, starting in a random week).

    Examples
    --------
    >>> x = period_counts("overdispersed 2", 100_000, np.random.default_rng(0))
    >>> round(float(x.mean()), 1), round(float(x.var() / x.mean()), 1)
    (2.0, 3.0)
    """
    name, _, value = kind.partition(" ")
    mean = float(value)
    if name == "poisson":
        return rng.poisson(mean, n_units).astype(float)
    if name == "overdispersed":
        shape = mean / 2
        return rng.poisson(rng.gamma(shape, mean / shape, n_units)).astype(float)
    first = rng.integers(0, 52)
    season = 1 + 0.5 * np.sin(2 * np.pi * (first + np.arange(4)) / 52)
    return rng.poisson(mean * season.sum(), n_units).astype(float)
