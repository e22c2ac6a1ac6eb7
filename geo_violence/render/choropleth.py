"""Maps of one colour per unit, as self-contained interactive HTML (Leaflet inlined)."""

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


def unit_map(
    units: gpd.GeoDataFrame,
    colours: pd.Series,
    *,
    legend: list[tuple[str, str]],
    title: str,
    details: pd.DataFrame,
    path: str | Path,
) -> Path:
    """Write a map that fills each unit with its colour, with a legend and hover details.

    Every string that comes from data (names, ids, labels, details) is escaped before it goes
    into the page.

    Parameters
    ----------
    units : geopandas.GeoDataFrame
        Units indexed by ``unit_id`` with ``name`` and ``geometry`` (working CRS).
    colours : pandas.Series
        A CSS colour per unit, on the units' index.
    legend : list of (colour, label)
        The legend's rows.
    title : str
        The map's title.
    details : pandas.DataFrame
        On the units' index: the columns shown on hover, by their column names.
    path : str or Path
        The HTML file to write.

    Returns
    -------
    Path
    """
    shapes = units[[NAME, "geometry"]].copy()
    shapes["geometry"] = shapes.geometry.simplify(SIMPLIFY_FEET, preserve_topology=True)
    shapes = shapes.to_crs(MAP_CRS)
    properties = {
        "unit": [html.escape(str(name)) for name in shapes[NAME]],
        "colour": colours.reindex(units.index).fillna(NO_DATA_COLOUR).to_numpy(),
    }
    fields = ["unit"]
    for position, column in enumerate(details.columns):
        key = f"detail_{position}"
        properties[key] = [
            html.escape(_display(value)) for value in details[column].reindex(units.index)
        ]
        fields.append(key)
    frame = gpd.GeoDataFrame(
        properties,
        geometry=shapely.set_precision(shapes.geometry.to_numpy(), DEGREE_PRECISION),
        crs=MAP_CRS,
    )
    x_min, y_min, x_max, y_max = frame.total_bounds
    page = inline_leaflet(folium.Map(tiles=None, control_scale=True))
    page.fit_bounds([[y_min, x_min], [y_max, x_max]])
    folium.GeoJson(
        frame.to_json(),
        style_function=lambda feature: {
            "fillColor": feature["properties"]["colour"],
            "color": "#555555",
            "weight": 0.8,
            "fillOpacity": 0.85,
        },
        tooltip=folium.GeoJsonTooltip(
            fields=fields,
            aliases=["", *[html.escape(str(column)) for column in details.columns]],
            labels=True,
        ),
    ).add_to(page)
    page.get_root().html.add_child(folium.Element(_legend_box(title, legend)))
    return write_atomically(path, lambda tmp: page.save(str(tmp)))


def choropleth_map(
    units: gpd.GeoDataFrame,
    values: pd.Series,
    *,
    title: str,
    value_label: str,
    path: str | Path,
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
        legend.append((SEQUENTIAL_COLOURS[offset + position], span))
        lower = upper
    return unit_map(
        units,
        colours,
        legend=[("", value_label), *legend],
        title=title,
        details=pd.DataFrame({value_label: aligned}),
        path=path,
    )


def _display(value: object) -> str:
    if isinstance(value, float):
        return "" if np.isnan(value) else f"{value:,.3g}" if abs(value) < 1000 else f"{value:,.0f}"
    return str(value)


def _sequential_colour(value: float, breaks: np.ndarray) -> str:
    if not np.isfinite(value):
        return NO_DATA_COLOUR
    position = int(np.searchsorted(breaks, value, side="left"))
    offset = len(SEQUENTIAL_COLOURS) - len(breaks)
    return SEQUENTIAL_COLOURS[min(offset + position, len(SEQUENTIAL_COLOURS) - 1)]


def _legend_box(title: str, legend: list[tuple[str, str]]) -> str:
    rows = []
    for colour, label in legend:
        if not colour:
            rows.append(f"<div><em>{html.escape(label)}</em></div>")
            continue
        rows.append(
            f'<div><span style="background:{html.escape(colour)};display:inline-block;'
            "width:14px;height:14px;margin-right:6px;border:1px solid #777;"
            f'vertical-align:middle"></span>{html.escape(label)}</div>'
        )
    return (
        '<div class="gv-legend" style="position:fixed;top:10px;right:10px;z-index:1000;'
        "background:white;padding:8px 10px;border:1px solid #999;font:13px sans-serif;"
        f'max-width:280px"><strong>{html.escape(title)}</strong>' + "".join(rows) + "</div>"
    )
