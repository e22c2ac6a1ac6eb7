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
    """Upper bounds of equal-count classes of the values (distinct, increasing).

    Examples
    --------
    >>> class_breaks(np.array([0, 0, 1, 2, 3, 4, 10, 20, 30, 40])).tolist()
    [0.0, 2.0, 4.0, 20.0, 40.0]
    """
    finite = values[np.isfinite(values)]
    if len(finite) == 0:
        return np.array([0.0])
    quantiles = np.quantile(finite, np.linspace(0, 1, n_classes + 1)[1:], method="lower")
    return np.unique(quantiles.astype(float))


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
    legend = []
    lower = None
    for position, upper in enumerate(breaks):
        span = f"up to {upper:g}" if lower is None else f"over {lower:g}, up to {upper:g}"
        legend.append((SEQUENTIAL_COLOURS[offset + position], f"{value_label}: {span}"))
        lower = upper
    content = MapContent(
        title=title,
        colours=colours,
        legend=legend,
        hover=pd.DataFrame({value_label: aligned}),
        subtitle=subtitle,
        source=source,
    )
    return write_map(units, content, path, basemap=basemap)


def _sequential_colour(value: float, breaks: np.ndarray) -> str:
    if not np.isfinite(value):
        return NO_DATA_COLOUR
    position = int(np.searchsorted(breaks, value, side="left"))
    offset = len(SEQUENTIAL_COLOURS) - len(breaks)
    return SEQUENTIAL_COLOURS[min(offset + position, len(SEQUENTIAL_COLOURS) - 1)]
