"""A choropleth of one value per unit, as an interactive folium map."""

from __future__ import annotations

import html
from pathlib import Path

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from ..columns import MAP_CRS, NAME
from ..outputs import write_atomically
from .assets import inline_leaflet

#: ColorBrewer YlOrRd, 5 classes: sequential and colour-blind safe.
SEQUENTIAL_COLOURS = ("#ffffb2", "#fecc5c", "#fd8d3c", "#f03b20", "#bd0026")
NO_DATA_COLOUR = "#d9d9d9"
#: Outlines are simplified by this many feet (a pixel at city zoom) before they go on a map.
SIMPLIFY_FEET = 15.0
#: Coordinates on maps are rounded to this many degrees (about a metre).
DEGREE_PRECISION = 1e-5


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
) -> Path:
    """Write a choropleth of ``values`` (indexed like ``units``) as an HTML map.

    Names and titles from data are escaped before they go into the page.

    Parameters
    ----------
    units : geopandas.GeoDataFrame
        Units indexed by ``unit_id`` with ``name`` and ``geometry``.
    values : pandas.Series
        One number per unit, on the units' index.
    title, value_label : str
        The map's title, and what the number is ("incidents, last 4 weeks").
    path : str or Path
        The HTML file to write.

    Returns
    -------
    Path

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
    shapes = units[[NAME, "geometry"]].copy()
    shapes["geometry"] = shapes.geometry.simplify(SIMPLIFY_FEET, preserve_topology=True)
    shapes = shapes.to_crs(MAP_CRS)
    shapes["geometry"] = shapely.set_precision(shapes.geometry.to_numpy(), DEGREE_PRECISION)
    shapes = gpd.GeoDataFrame(
        {
            "unit_id": [html.escape(str(unit)) for unit in shapes.index],
            "label": [html.escape(str(name)) for name in shapes[NAME]],
            "value": aligned.to_numpy(),
            "colour": [_colour(value, breaks) for value in aligned.to_numpy()],
        },
        geometry=shapes.geometry.to_numpy(),
        crs=MAP_CRS,
    )
    x_min, y_min, x_max, y_max = shapes.total_bounds
    page = inline_leaflet(folium.Map(tiles=None, control_scale=True))
    page.fit_bounds([[y_min, x_min], [y_max, x_max]])
    folium.GeoJson(
        shapes.to_json(),
        name=html.escape(value_label),
        style_function=lambda feature: {
            "fillColor": feature["properties"]["colour"],
            "color": "#555555",
            "weight": 0.8,
            "fillOpacity": 0.8,
        },
        tooltip=folium.GeoJsonTooltip(
            fields=["label", "value"], aliases=["", html.escape(value_label)], labels=True
        ),
    ).add_to(page)
    page.get_root().html.add_child(folium.Element(_legend(title, value_label, breaks)))
    return write_atomically(path, lambda tmp: page.save(str(tmp)))


def _colour(value: float, breaks: np.ndarray) -> str:
    if not np.isfinite(value):
        return NO_DATA_COLOUR
    position = int(np.searchsorted(breaks, value, side="left"))
    offset = len(SEQUENTIAL_COLOURS) - len(breaks)
    return SEQUENTIAL_COLOURS[min(offset + position, len(SEQUENTIAL_COLOURS) - 1)]


def _legend(title: str, value_label: str, breaks: np.ndarray) -> str:
    offset = len(SEQUENTIAL_COLOURS) - len(breaks)
    rows = []
    lower = None
    for position, upper in enumerate(breaks):
        colour = SEQUENTIAL_COLOURS[offset + position]
        span = f"up to {upper:g}" if lower is None else f"over {lower:g}, up to {upper:g}"
        rows.append(
            f'<div><span style="background:{colour};display:inline-block;width:14px;'
            f'height:14px;margin-right:6px;border:1px solid #777"></span>{span}</div>'
        )
        lower = upper
    return (
        '<div style="position:fixed;top:10px;right:10px;z-index:1000;background:white;'
        'padding:8px 10px;border:1px solid #999;font:13px sans-serif;max-width:260px">'
        f"<strong>{html.escape(title)}</strong><br><em>{html.escape(value_label)}</em>"
        + "".join(rows)
        + "</div>"
    )
