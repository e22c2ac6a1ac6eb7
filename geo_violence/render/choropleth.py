"""A sequential choropleth of one value per unit, in equal-count classes."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from .page import NO_DATA_COLOUR, MapContent, write_map

#: ColorBrewer YlOrRd, 5 classes: sequential and colour-blind safe.
SEQUENTIAL_COLOURS = ("#ffffb2", "#fecc5c", "#fd8d3c", "#f03b20", "#bd0026")


def class_breaks(values: np.ndarray, n_classes: int = len(SEQUENTIAL_COLOURS)) -> np.ndarray:
    """Upper bounds of natural classes of the values (distinct, increasing): Fisher-Jenks, the
    classes that keep each value closest to its class's mean, so a few far larger values get a
    class of their own instead of stretching the top class (equal-count classes put 9 and 56
    together).

    Examples
    --------
    >>> class_breaks(np.array([0, 0, 1, 2, 3, 4, 10, 20, 30, 40])).tolist()
    [4.0, 10.0, 20.0, 30.0, 40.0]
    >>> class_breaks(np.array([1, 2, 2, 3, 20, 21, 50, 56]), 3).tolist()
    [3.0, 21.0, 56.0]
    """
    finite = np.asarray(values, dtype=float)
    finite = finite[np.isfinite(finite)]
    if len(finite) == 0:
        return np.array([0.0])
    distinct, weights = np.unique(finite, return_counts=True)
    if len(distinct) > 1000:  # group into 1,000 quantiles: the breaks fall between them
        edges = np.unique(np.quantile(finite, np.linspace(0, 1, 1001), method="lower"))
        groups = np.searchsorted(edges, finite, side="left")
        weights = np.bincount(groups)
        distinct = np.array([finite[groups == g].max() for g in range(len(weights)) if weights[g]])
        weights = weights[weights > 0]
    k = min(n_classes, len(distinct))
    weighted = np.cumsum(weights * distinct)
    squares = np.cumsum(weights * distinct**2)
    counts = np.cumsum(weights).astype(float)

    def cost(start: np.ndarray, end: int) -> np.ndarray:
        """Within-class sum of squares of the values ``start..end`` (inclusive)."""
        before = np.where(start > 0, start - 1, 0)
        has = start > 0
        total = counts[end] - np.where(has, counts[before], 0)
        mean_sum = weighted[end] - np.where(has, weighted[before], 0)
        square_sum = squares[end] - np.where(has, squares[before], 0)
        return square_sum - mean_sum**2 / total

    size = len(distinct)
    best = np.full((k, size), np.inf)
    split = np.zeros((k, size), dtype=int)
    best[0] = [cost(np.array([0]), end)[0] for end in range(size)]
    for classes in range(1, k):
        for end in range(classes, size):
            starts = np.arange(classes, end + 1)
            totals = best[classes - 1, starts - 1] + cost(starts, end)
            choice = int(np.argmin(totals))
            best[classes, end], split[classes, end] = totals[choice], starts[choice]
    uppers, end = [], size - 1
    for classes in range(k - 1, -1, -1):
        uppers.append(distinct[end])
        end = split[classes, end] - 1
    return np.unique(np.array(uppers[::-1], dtype=float))


def choropleth_map(
    units: gpd.GeoDataFrame,
    values: pd.Series,
    *,
    title: str,
    value_label: str,
    path: str | Path,
    subtitle: str = "",
    source: str = "",
    basemap: str = "none",
) -> Path:
    """Write a sequential choropleth of ``values`` (indexed like ``units``) in equal-count classes.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from geo_violence import load_units
    >>> units = load_units("community_areas").units
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "map.html"
    >>> _ = choropleth_map(units, pd.Series(1.0, index=units.index), title="T",
    ...                    value_label="incidents", path=out)
    >>> "Rogers Park" in out.read_text()
    True
    """
    aligned = values.reindex(units.index).astype(float)
    breaks = class_breaks(aligned.to_numpy())
    offset = len(SEQUENTIAL_COLOURS) - len(breaks)
    colours = pd.Series(
        [_sequential_colour(value, breaks) for value in aligned.to_numpy()], index=units.index
    )
    integers = bool(np.all(np.mod(aligned.dropna().to_numpy(), 1) == 0))
    legend = []
    lower = None
    for position, upper in enumerate(breaks):
        legend.append((SEQUENTIAL_COLOURS[offset + position], _span(lower, upper, integers)))
        lower = upper
    content = MapContent(
        title=title,
        colours=colours,
        legend=legend,
        hover=pd.DataFrame({value_label: aligned}),
        subtitle=subtitle,
        source=source,
        legend_title=value_label[:1].upper() + value_label[1:],
    )
    return write_map(units, content, path, basemap=basemap)


def _span(lower: float | None, upper: float, integers: bool) -> str:
    """A class's values in words: ``"5 to 8"`` for counts, ``"over 2.5 to 4"`` otherwise.

    Examples
    --------
    >>> _span(None, 3.0, True), _span(3.0, 4.0, True), _span(4.0, 8.0, True)
    ('0 to 3', '4', '5 to 8')
    >>> _span(None, 2.5, False), _span(2.5, 4.0, False)
    ('up to 2.5', 'over 2.5 to 4')
    """
    if integers:
        first = 0 if lower is None else int(lower) + 1
        first = min(first, int(upper))
        return f"{int(upper):,}" if first == int(upper) else f"{first:,} to {int(upper):,}"
    return f"up to {upper:,.3g}" if lower is None else f"over {lower:,.3g} to {upper:,.3g}"


def _sequential_colour(value: float, breaks: np.ndarray) -> str:
    if not np.isfinite(value):
        return NO_DATA_COLOUR
    position = int(np.searchsorted(breaks, value, side="left"))
    offset = len(SEQUENTIAL_COLOURS) - len(breaks)
    return SEQUENTIAL_COLOURS[min(offset + position, len(SEQUENTIAL_COLOURS) - 1)]
