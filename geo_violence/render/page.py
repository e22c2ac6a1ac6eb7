"""One page for every map: units, hover, popups, labels, legend, title, and the week slider.

Python gathers what a map shows into a :class:`MapContent`; :func:`write_map` writes one
self-contained HTML file: Leaflet (from ``xstatic-leaflet``) and the project's own script and
stylesheet (``render/web/``) are inlined, the data go in as one JSON object that cannot close its
``<script>`` element, and the page's script sets every string from the data with
``textContent``, so a name like ``<img src=x onerror=alert(1)>`` shows as text. Nothing is
fetched, except basemap tiles when asked for (``basemap="light"`` or ``"osm"``).
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from branca.element import MacroElement
from jinja2 import Template

from ..choices import BASEMAPS
from ..columns import MAP_CRS, NAME
from ..errors import OptionError
from ..outputs import write_atomically
from .assets import inline_leaflet

NO_DATA_COLOUR = "#d9d9d9"
#: Outlines are simplified by this many feet (a pixel at city zoom) before they go on a map.
SIMPLIFY_FEET = 15.0
#: Coordinates on maps are rounded to this many degrees (about a metre).
DEGREE_PRECISION = 1e-5
#: Gi* bins -3..3 of a week, as the hot spot maps colour them (ColorBrewer RdBu, colour-blind
#: safe), with the slider's legend.
BIN_COLOURS = ("#2166ac", "#67a9cf", "#d1e5f0", "#f7f7f7", "#fddbc7", "#ef8a62", "#b2182b")
BIN_LEGEND = (
    (BIN_COLOURS[6], "Hot, 99% confidence"),
    (BIN_COLOURS[5], "Hot, 95%"),
    (BIN_COLOURS[4], "Hot, 90%"),
    (BIN_COLOURS[3], "Not significant"),
    (BIN_COLOURS[2], "Cold, 90%"),
    (BIN_COLOURS[1], "Cold, 95%"),
    (BIN_COLOURS[0], "Cold, 99% confidence"),
)
#: Milliseconds per step when the slider plays.
PLAY_MILLISECONDS = 350


@dataclass
class MapSeries:
    """A series per unit for the popups' sparklines and, with ``bins``, the week slider.

    Attributes
    ----------
    dates : list of str
        The start of each step (``YYYY-MM-DD``).
    counts : numpy.ndarray
        Shape ``(n_units, n_steps)``, in the units' order.
    bins : numpy.ndarray, optional
        Gi* bins -3..3 per unit and step (NaN where not tested): enables the slider.
    step_name : str
        What a step is called ("week").
    fitted : numpy.ndarray, optional
        Shape ``(n_units, n_steps)``: what a model expected in each step (a fitted trend, a
        scan's expectation), drawn dashed over the counts.
    fitted_label : str
        What the dashed line is, for the caption ("fitted trend").
    """

    dates: list[str]
    counts: np.ndarray
    bins: np.ndarray | None = None
    step_name: str = "week"
    fitted: np.ndarray | None = None
    fitted_label: str = "fitted trend"


@dataclass
class MapContent:
    """What one map shows. Series and frames are indexed by unit id.

    Attributes
    ----------
    title : str
        The map's title (on the map, and the page's title).
    colours : pandas.Series
        A CSS colour per unit.
    legend : list of (colour, sentence)
        One sentence per class.
    hover : pandas.DataFrame
        The headline figures shown on hover (column name: label).
    popup : pandas.DataFrame, optional
        The rows of the popup (by default the hover's).
    heading : pandas.Series, optional
        The popup's first line (a category).
    sentence : pandas.Series, optional
        One sentence under the heading (what the category means).
    subtitle : str
        The data's date range.
    source : str
        Where the data come from.
    series : MapSeries, optional
        Sparklines, and the slider when it has bins.
    outlines : pandas.Series, optional
        A CSS colour per unit to outline (a cluster's units); units not in it keep the thin
        grey edge.
    """

    title: str
    colours: pd.Series
    legend: list[tuple[str, str]]
    hover: pd.DataFrame
    popup: pd.DataFrame | None = None
    heading: pd.Series | None = None
    sentence: pd.Series | None = None
    subtitle: str = ""
    source: str = ""
    series: MapSeries | None = None
    outlines: pd.Series | None = None
    label_zoom: float | None = None
    extra: dict = field(default_factory=dict)


class _Payload(MacroElement):
    """Calls the page's script once the map exists (folium renders children after the map)."""

    _template = Template(
        "{% macro script(this, kwargs) %}\n"
        "geoViolenceMap({{ this._parent.get_name() }}, {{ this.payload }});\n"
        "{% endmacro %}"
    )

    def __init__(self, payload: str) -> None:
        super().__init__()
        self._name = "GeoViolenceData"
        self.payload = payload


def script_json(value: object) -> str:
    """JSON that is safe inside a ``<script>`` element: ``<``, ``>`` and ``&`` are escaped.

    Examples
    --------
    >>> script_json({"name": "</script><img src=x>"})
    '{"name":"\\\\u003c/script\\\\u003e\\\\u003cimg src=x\\\\u003e"}'
    """
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    for raw, escaped in (
        ("<", "\\u003c"),
        (">", "\\u003e"),
        ("&", "\\u0026"),
        ("\u2028", "\\u2028"),
        ("\u2029", "\\u2029"),
    ):
        text = text.replace(raw, escaped)
    return text


@functools.cache
def _web_asset(name: str) -> str:
    return resources.files("geo_violence.render").joinpath("web", name).read_text("utf-8")


def write_map(
    units: gpd.GeoDataFrame, content: MapContent, path: str | Path, *, basemap: str = "none"
) -> Path:
    """Write ``content`` over ``units`` as one self-contained HTML file.

    Parameters
    ----------
    units : geopandas.GeoDataFrame
        Indexed by ``unit_id`` with ``name`` and ``geometry`` (working CRS).
    content : MapContent
        What the map shows.
    path : str or Path
        The HTML file to write.
    basemap : {"none", "light", "osm"}
        Tiles under the units (the only thing the page fetches), with their attribution.

    Returns
    -------
    Path

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from geo_violence import load_units
    >>> units = load_units("community_areas").units
    >>> content = MapContent("T", pd.Series("#ffffff", index=units.index), [("#ffffff", "all")],
    ...                      pd.DataFrame({"incidents": "1"}, index=units.index))
    >>> out = write_map(units, content, pathlib.Path(tempfile.mkdtemp()) / "m.html")
    >>> page = out.read_text()
    >>> "Rogers Park" in page, "<script src=" in page
    (True, False)
    """
    if basemap not in BASEMAPS:
        raise OptionError.expected("basemap", basemap, BASEMAPS)
    payload = _payload(units, content, basemap)
    page = inline_leaflet(folium.Map(location=None, tiles=None, control_scale=True, zoom_snap=0.25))
    header = page.get_root().header
    header.add_child(folium.Element(f"<style>{_web_asset('map.css')}</style>"), name="gv_css")
    script = _web_asset("map.js").replace("</script", "<\\/script")
    header.add_child(folium.Element(f"<script>{script}</script>"), name="gv_js")
    page.add_child(_Payload(script_json(payload)))
    return write_atomically(path, lambda temporary: page.save(str(temporary)))


def _payload(units: gpd.GeoDataFrame, content: MapContent, basemap: str) -> dict:
    index = units.index
    shapes = units.geometry.simplify(SIMPLIFY_FEET, preserve_topology=True).to_crs(MAP_CRS)
    geometry = shapely.set_precision(shapes.to_numpy(), DEGREE_PRECISION)
    features = gpd.GeoDataFrame({"i": np.arange(len(units))}, geometry=geometry, crs=MAP_CRS)
    label_points = shapely.point_on_surface(units.geometry.to_numpy())
    label_points = gpd.GeoSeries(label_points, crs=units.crs).to_crs(MAP_CRS)
    popup = content.popup if content.popup is not None else content.hover
    unit_rows = []
    for position, unit_id in enumerate(index):
        row = {
            "name": str(units[NAME].iloc[position]),
            "colour": str(content.colours.get(unit_id, NO_DATA_COLOUR)),
            "hover": _pairs(content.hover, unit_id),
            "popup": _pairs(popup, unit_id),
        }
        if content.heading is not None:
            row["heading"] = _text(content.heading.get(unit_id))
        if content.sentence is not None:
            row["sentence"] = _text(content.sentence.get(unit_id))
        if content.outlines is not None and isinstance(content.outlines.get(unit_id), str):
            row["outline"] = content.outlines.get(unit_id)
        unit_rows.append(row)
    payload = {
        "title": content.title,
        "subtitle": content.subtitle,
        "source": content.source,
        "legend": [[colour, label] for colour, label in content.legend],
        "features": json.loads(features.to_json(drop_id=True)),
        "units": unit_rows,
        "labels": [[round(p.y, 5), round(p.x, 5)] for p in label_points],
        "labelZoom": content.label_zoom if content.label_zoom is not None else _label_zoom(units),
        "noData": NO_DATA_COLOUR,
        "playMilliseconds": PLAY_MILLISECONDS,
        "basemap": None,
        "series": None,
    }
    if BASEMAPS[basemap] is not None:
        url, attribution = BASEMAPS[basemap]
        payload["basemap"] = {"url": url, "attribution": attribution}
    if content.series is not None:
        payload["series"] = _series(content.series)
    return payload


def _series(series: MapSeries) -> dict:
    counts = np.asarray(series.counts, dtype=float)
    as_int = np.all(np.equal(np.mod(counts, 1), 0))
    result = {
        "dates": list(series.dates),
        "stepName": series.step_name,
        "counts": counts.astype(np.int64).tolist() if as_int else np.round(counts, 3).tolist(),
        "bins": None,
        "binColours": list(BIN_COLOURS),
        "binLegend": [list(row) for row in BIN_LEGEND],
    }
    if series.fitted is not None:
        fitted = np.nan_to_num(np.asarray(series.fitted, dtype=float), nan=0.0, posinf=0.0)
        result["fitted"] = np.round(fitted, 3).tolist()
        result["fittedLabel"] = series.fitted_label
    if series.bins is not None:
        bins = np.asarray(series.bins, dtype=float)
        codes = np.where(np.isnan(bins), ord("x"), np.nan_to_num(bins) + 3 + ord("0"))
        result["bins"] = ["".join(map(chr, row)) for row in codes.astype(np.int64)]
    return result


def _label_zoom(units: gpd.GeoDataFrame) -> float:
    """The zoom at which names fit: a zoom level more for each quadrupling of the unit count."""
    return float(np.clip(10.5 + np.log(max(len(units), 1) / 20) / np.log(4), 11, 15))


def _pairs(frame: pd.DataFrame, unit_id: object) -> list[list[str]]:
    if unit_id not in frame.index:
        return []
    return [[str(column), _text(value)] for column, value in frame.loc[unit_id].items()]


def _text(value: object) -> str:
    """A value as a reader sees it.

    Examples
    --------
    >>> _text(1234.5), _text(0.01234), _text(float("nan")), _text(None), _text(3)
    ('1,234', '0.0123', '', '', '3')
    """
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return ""
    if value is pd.NA:
        return ""
    if isinstance(value, (float, np.floating)):
        value = float(value)
        if np.isinf(value):
            return "infinite"
        return f"{value:,.3g}" if abs(value) < 1000 else f"{value:,.0f}"
    return str(value)
