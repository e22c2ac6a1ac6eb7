"""One page for every map: units, hover, popups, labels, legend, title, the week slider, a text
summary and a table of every unit's figures.

Python gathers what a map shows into a :class:`MapContent`; :func:`write_map` writes one
self-contained HTML file: Leaflet (from ``xstatic-leaflet``) and the project's own script and
stylesheet (``render/web/``) are inlined, the data go in as one JSON object that cannot close its
``<script>`` element, and the page's script sets every string from the data with
``textContent``, so a name like ``<img src=x onerror=alert(1)>`` shows as text. Nothing is
fetched, except basemap tiles when asked for (``basemap="light"`` or ``"osm"``).

The page is built to be read by everyone (WCAG 2.1 AA, checked with axe-core in the browser
tests): a language, a viewport, one ``main`` landmark and an ``h1``; a text summary of the map for
screen readers; units that take the keyboard's focus (Tab), open their popup with Enter and close
it with Escape; a "table" toggle with every unit's figures (the popups' own); controls at least
44 px; and a layout that never scrolls sideways at 320 px (title, legend and table go above and
below the map on a narrow screen).

Embedded in an iframe, the page sizes itself to its width (no viewport units) and tells its host
its height in Pym.js's messages (:mod:`geo_violence.render.embed` has the host's few lines).

The data are packed to keep a map of thousands of units small: outlines simplified to about a
pixel at city zoom, their coordinates quantised to 1e-5 degree and delta-encoded; the popups'
texts stored once and referenced; the weekly series run-length encoded (:func:`encode_series`).
"""

from __future__ import annotations

import functools
import html
import json
import re
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from ..choices import BASEMAPS
from ..columns import MAP_CRS, NAME
from ..errors import OptionError
from ..outputs import write_atomically
from .assets import leaflet_javascript, leaflet_stylesheet

NO_DATA_COLOUR = "#d9d9d9"
#: Outlines are simplified by this many feet (a pixel at city zoom) before they go on a map.
SIMPLIFY_FEET = 15.0
#: Coordinates on maps are rounded to this many degrees (about a metre).
DEGREE_PRECISION = 1e-5
#: A colour that starts with this is drawn striped in the colour that follows (a unit whose
#: category comes from its neighbours only: no incident of its own).
HATCHED = "hatched "
#: Gi* bins -3..3 of a week, as the hot spot maps colour them, with the slider's legend: hot in
#: ColorBrewer's reds, cold in its purples (blue means fading on every map here: see
#: :data:`geo_violence.render.emerging.CATEGORY_STYLE`).
BIN_COLOURS = ("#6a51a3", "#9e9ac8", "#dadaeb", "#f7f7f7", "#fddbc7", "#ef8a62", "#b2182b")
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
#: Symbols of the series codec (:func:`encode_series`): the values 0 to 61.
SERIES_ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
#: Levels of a fitted line in the codec: a sparkline 44 px high needs no more.
FITTED_LEVELS = 61
#: Names listed per class in the text summary before "and N more".
SUMMARY_NAMES = 5
_DATE = re.compile(r"\d{4}-\d{2}(?:-\d{2})?")


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
        The map's title (its ``h1``, and the page's title).
    colours : pandas.Series
        A CSS colour per unit; ``"hatched #rrggbb"`` draws the unit striped in that colour.
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
    legend_title : str
        What the legend's classes are of ("Incidents in the last 4 weeks"); by default "Legend".
    summary : str, optional
        The map in a few sentences, for screen readers and as the PNG's alt text; by default
        the classes of the legend with how many units each holds and their first names.
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
    legend_title: str = ""
    summary: str | None = None


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


def html_with_dates(text: str) -> str:
    """``text`` escaped for HTML, each date kept on one line (a title never breaks "2020-01-↵01").

    Examples
    --------
    >>> html_with_dates("<b> 2020-01-01 to 2020-12")
    '&lt;b&gt; <span class="gv-nowrap">2020-01-01</span> to <span class="gv-nowrap">2020-12</span>'
    """
    parts, last = [], 0
    for match in _DATE.finditer(text):
        parts.append(html.escape(text[last : match.start()]))
        parts.append(f'<span class="gv-nowrap">{match.group(0)}</span>')
        last = match.end()
    parts.append(html.escape(text[last:]))
    return "".join(parts)


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
    >>> "Rogers Park" in page, "<script src=" in page, '<html lang="en">' in page
    (True, False, True)
    """
    if basemap not in BASEMAPS:
        raise OptionError.expected("basemap", basemap, BASEMAPS)
    text = map_page(units, content, basemap=basemap)
    return write_atomically(path, lambda temporary: temporary.write_text(text, encoding="utf-8"))


def map_page(units: gpd.GeoDataFrame, content: MapContent, *, basemap: str = "none") -> str:
    """The map's page as text (see :func:`write_map`).

    Examples
    --------
    >>> from geo_violence import load_units
    >>> units = load_units("community_areas").units
    >>> content = MapContent("T", pd.Series("#ffffff", index=units.index), [("#ffffff", "all")],
    ...                      pd.DataFrame({"incidents": "1"}, index=units.index))
    >>> page = map_page(units, content)
    >>> page.count("<h1"), page.count("<main"), "width=device-width" in page
    (1, 1, True)
    """
    payload = _payload(units, content, basemap)
    summary = payload["summary"]
    script = _web_asset("map.js").replace("</script", "<\\/script")
    header = [f'<h1 class="gv-title-main">{html_with_dates(content.title)}</h1>']
    if content.subtitle:
        header.append(f'<p class="gv-title-sub">{html_with_dates(content.subtitle)}</p>')
    if content.source:
        header.append(f'<p class="gv-title-source">Source: {html_with_dates(content.source)}</p>')
    header.append(f'<p class="gv-sr-only" id="gv-summary">{html.escape(summary)}</p>')
    return "\n".join(
        [
            "<!DOCTYPE html>",
            '<html lang="en">',
            "<head>",
            '<meta charset="utf-8">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            f"<title>{html.escape(content.title)}</title>",
            # before the body is laid out: an embedded page sizes itself to its width
            "<script>if (window.self !== window.top) "
            "document.documentElement.className += ' gv-embedded';</script>",
            f"<style>{leaflet_stylesheet()}</style>",
            f"<style>{_web_asset('map.css')}</style>",
            f"<script>{leaflet_javascript()}</script>",
            f"<script>{script}</script>",
            "</head>",
            "<body>",
            "<main>",
            '<a class="gv-skip" href="#gv-table-section">Skip the map: go to the table of '
            f"{len(units):,} units</a>",
            '<div class="gv-screen">',
            f'<header class="gv-box gv-title">{"".join(header)}</header>',
            '<div class="gv-stage">',
            f'<div class="gv-map" id="gv-map" role="region" aria-label="Map: '
            f"{html.escape(content.title, quote=True)}. Tab moves through the units, Enter opens "
            'one, Escape closes it." aria-describedby="gv-summary"></div>',
            '<section class="gv-box gv-legend" aria-labelledby="gv-legend-title">'
            f'<h2 class="gv-legend-title" id="gv-legend-title">'
            f"{html_with_dates(content.legend_title or 'Legend')}</h2>"
            '<div class="gv-legend-rows"></div></section>',
            "</div>",
            "</div>",
            '<section class="gv-about" id="gv-table-section" aria-label="Table of the units">',
            '<details class="gv-table"><summary>Table: every unit and its figures</summary>'
            '<div class="gv-table-wrap" tabindex="0" role="region" '
            'aria-label="Table of the units, scrolls sideways"></div></details>',
            "</section>",
            "</main>",
            '<svg class="gv-patterns" aria-hidden="true" width="0" height="0" focusable="false">'
            "<defs></defs></svg>",
            "<script>",
            'var gvMap = geoViolenceMap(L.map("gv-map", {zoomSnap: 0.25}), '
            f"{script_json(payload)});",
            "</script>",
            "</body>",
            "</html>",
            "",
        ]
    )


def _payload(units: gpd.GeoDataFrame, content: MapContent, basemap: str) -> dict:
    index = units.index
    popup = content.popup if content.popup is not None else content.hover
    colours = [str(content.colours.get(unit_id, NO_DATA_COLOUR)) for unit_id in index]
    palette = list(dict.fromkeys(colours))
    colour_index = {colour: position for position, colour in enumerate(palette)}
    names = [str(name) for name in units[NAME].to_numpy()]
    payload = {
        "title": content.title,
        "subtitle": content.subtitle,
        "source": content.source,
        "summary": content.summary or map_summary(names, colours, content),
        "legend": [[colour, label] for colour, label in content.legend],
        "names": names,
        "palette": palette,
        "fill": [colour_index[colour] for colour in colours],
        "outlines": [],
        "geometry": _geometry(units),
        "fields": _fields(index, content.hover, popup, content.heading, content.sentence),
        "labelZoom": content.label_zoom if content.label_zoom is not None else _label_zoom(units),
        "noData": NO_DATA_COLOUR,
        "hatched": HATCHED,
        "playMilliseconds": PLAY_MILLISECONDS,
        "basemap": None,
        "series": None,
    }
    payload["fields"]["headingLabel"] = (
        content.legend_title.split(":")[0].split(" (")[0] if content.legend_title else "class"
    )
    if content.outlines is not None:
        for position, unit_id in enumerate(index):
            outline = content.outlines.get(unit_id)
            if isinstance(outline, str):
                payload["outlines"].append({"unit": position, "outline": outline})
    if BASEMAPS[basemap] is not None:
        url, attribution = BASEMAPS[basemap]
        payload["basemap"] = {"url": url, "attribution": attribution}
    if content.series is not None:
        payload["series"] = _series(content.series)
    return payload


def map_description(units: gpd.GeoDataFrame, content: MapContent) -> str:
    """The map in words (its ``summary``, or :func:`map_summary`): for screen readers, and the
    alternative text of its picture.

    Examples
    --------
    >>> from geo_violence import load_units
    >>> units = load_units("community_areas").units
    >>> content = MapContent("T", pd.Series("#ffffff", index=units.index), [("#ffffff", "all")],
    ...                      pd.DataFrame(index=units.index))
    >>> map_description(units, content)[:40]
    'T. Of 77 units: 77 all (Rogers Park, Wes'
    """
    if content.summary:
        return content.summary
    colours = [str(content.colours.get(unit_id, NO_DATA_COLOUR)) for unit_id in units.index]
    return map_summary([str(name) for name in units[NAME].to_numpy()], colours, content)


def map_summary(names: list[str], colours: list[str], content: MapContent) -> str:
    """The map in words: how many units each class of the legend holds, and the first names.

    Examples
    --------
    >>> content = MapContent("Hot spots", pd.Series(dtype=str),
    ...     [("#b2182b", "Hot spot: more than chance."), ("#f7f7f7", "Not significant.")],
    ...     pd.DataFrame(), subtitle="2025")
    >>> map_summary(["Loop", "Austin", "Hegewisch"], ["#b2182b", "#f7f7f7", "#f7f7f7"], content)
    'Hot spots, 2025. Of 3 units: 1 hot spot (Loop); 2 not significant (Austin, Hegewisch).'
    """
    by_colour: dict[str, list[str]] = {}
    for name, colour in zip(names, colours, strict=True):
        by_colour.setdefault(colour, []).append(name)
    parts = []
    described = set()
    for colour, label in content.legend:
        members = by_colour.get(colour, [])
        if not members or colour in described:
            continue
        described.add(colour)
        parts.append(f"{len(members):,} {_short_label(label)} ({_first_names(members)})")
    rest = [
        name for colour, members in by_colour.items() if colour not in described for name in members
    ]
    if rest:
        parts.append(f"{len(rest):,} other ({_first_names(rest)})")
    lead = content.title + (f", {content.subtitle}" if content.subtitle else "")
    return f"{lead}. Of {len(names):,} units: {'; '.join(parts)}."


def _short_label(label: str) -> str:
    """A legend sentence's name for its class, in lower case ("hot spot, 99% confidence")."""
    short = label.split(":")[0].rstrip(".").strip()
    return short[:1].lower() + short[1:] if short[1:2].islower() or len(short) < 2 else short


def _first_names(names: list[str]) -> str:
    shown = ", ".join(names[:SUMMARY_NAMES])
    more = len(names) - SUMMARY_NAMES
    return shown + (f" and {more:,} more" if more > 0 else "")


def _geometry(units: gpd.GeoDataFrame) -> dict:
    """Outlines and label points, quantised to :data:`DEGREE_PRECISION` and delta-encoded.

    Each unit is a list of polygons, each a list of rings, each a flat list ``[x, y, dx, dy,
    ...]`` of integer steps from the origin (the first point) and then from the point before, the
    closing point left out. ``labels`` are flat ``[x, y, ...]`` from the origin.
    """
    scale = round(1 / DEGREE_PRECISION)
    shapes = units.geometry.simplify(SIMPLIFY_FEET, preserve_topology=True).to_crs(MAP_CRS)
    label_points = shapely.point_on_surface(units.geometry.to_numpy())
    label_points = gpd.GeoSeries(label_points, crs=units.crs).to_crs(MAP_CRS)
    xmin, ymin, _, _ = shapes.total_bounds if len(shapes) else (0.0, 0.0, 0.0, 0.0)
    origin = (int(np.floor(xmin * scale)), int(np.floor(ymin * scale)))

    def ring(coordinates: np.ndarray) -> list[int]:
        grid = np.rint(coordinates[:-1, :2] * scale).astype(np.int64) - origin
        keep = np.ones(len(grid), dtype=bool)
        keep[1:] = np.any(grid[1:] != grid[:-1], axis=1)  # points merged by the rounding
        steps = np.diff(grid[keep], axis=0, prepend=[[0, 0]])
        return steps.ravel().tolist()

    def polygons(shape) -> list:
        if shape is None or shape.is_empty:
            return []
        parts = getattr(shape, "geoms", [shape])
        return [
            [ring(np.asarray(part.exterior.coords))]
            + [ring(np.asarray(hole.coords)) for hole in part.interiors]
            for part in parts
            if part.geom_type == "Polygon"
        ]

    labels = np.column_stack([label_points.x.to_numpy(), label_points.y.to_numpy()])
    labels = (np.rint(labels * scale).astype(np.int64) - origin).ravel().tolist()
    return {
        "origin": list(origin),
        "scale": scale,
        "shapes": [polygons(shape) for shape in shapes],
        "labels": labels,
    }


def _fields(
    index: pd.Index,
    hover: pd.DataFrame,
    popup: pd.DataFrame,
    heading: pd.Series | None,
    sentence: pd.Series | None,
) -> dict:
    """The hover's and popup's figures (and the table's), each text stored once.

    ``columns`` are the hover's then the popup's other columns; ``rows`` the distinct rows (a
    list of indices into ``texts`` per column, then the heading's and the sentence's), and
    ``unitRow`` each unit's row.
    """
    columns = list(dict.fromkeys([str(c) for c in hover.columns] + [str(c) for c in popup.columns]))
    source: dict[str, pd.Series] = {}
    for frame in (hover, popup):
        for column in frame.columns:
            source.setdefault(str(column), frame[column])
    extra = [series for series in (heading, sentence) if series is not None]
    cells = [
        [_text(value) for value in series.reindex(index).to_numpy(dtype=object)]
        for series in [source[column] for column in columns] + extra
    ]
    texts: dict[str, int] = {}
    rows: dict[tuple[int, ...], int] = {}
    unit_row = []
    for values in zip(*cells, strict=True) if cells else ([()] * len(index)):
        key = tuple(texts.setdefault(value, len(texts)) for value in values)
        unit_row.append(rows.setdefault(key, len(rows)))
    heading_texts = cells[len(columns)] if heading is not None else None
    return {
        "columns": columns,
        "headingShown": heading_texts is not None
        and not any(column == heading_texts for column in cells[: len(columns)]),
        "hover": [columns.index(str(c)) for c in hover.columns],
        "popup": [columns.index(str(c)) for c in popup.columns],
        "heading": len(columns) if heading is not None else None,
        "sentence": len(columns) + (heading is not None) if sentence is not None else None,
        "texts": list(texts),
        "rows": [list(key) for key in rows],
        "unitRow": unit_row,
    }


def encode_series(values: np.ndarray) -> str:
    """One unit's series of small non-negative integers as text (NaN for a missing value).

    A value below 62 is one symbol of :data:`SERIES_ALPHABET`, a larger one ``(n)``, a missing
    one ``-``; ``*k.`` repeats the value before ``k`` more times. The page's script decodes it.

    Examples
    --------
    >>> encode_series(np.array([0, 0, 0, 0, 0, 0, 3, 70, np.nan, 12]))
    '0*5.3(70)-c'
    """
    tokens = []
    for value in np.asarray(values, dtype=float):
        if np.isnan(value):
            tokens.append("-")
        else:
            number = int(value)
            tokens.append(SERIES_ALPHABET[number] if number < 62 else f"({number})")
    parts, position = [], 0
    while position < len(tokens):
        end = position + 1
        while end < len(tokens) and tokens[end] == tokens[position]:
            end += 1
        run = end - position
        token = tokens[position]
        repeated = f"{token}*{run - 1}."
        parts.append(repeated if len(repeated) < len(token) * run else token * run)
        position = end
    return "".join(parts)


def _series(series: MapSeries) -> dict:
    counts = np.asarray(series.counts, dtype=float)
    finite = np.nan_to_num(counts)
    exact = bool(np.all(np.equal(np.mod(finite, 1), 0)) and finite.min(initial=0) >= 0)
    if exact:
        count_scale, codes = 1.0, counts
    else:  # rates: three decimals, as before
        count_scale, codes = 0.001, np.round(np.clip(counts, 0, None) / 0.001)
    result = {
        "dates": list(series.dates),
        "end": _step_end(series.dates, series.step_name),
        "stepName": series.step_name,
        "countScale": count_scale,
        "counts": [encode_series(row) for row in codes],
        "bins": None,
        "binColours": list(BIN_COLOURS),
        "binLegend": [list(row) for row in BIN_LEGEND],
    }
    if series.fitted is not None:
        fitted = np.nan_to_num(np.asarray(series.fitted, dtype=float), nan=0.0, posinf=0.0)
        fitted = np.clip(fitted, 0, None)
        top = fitted.max(axis=1, initial=0.0)
        scales = np.where(top > 0, top / FITTED_LEVELS, 1.0)
        scales = np.array([float(f"{scale:.4g}") for scale in scales])
        levels = np.clip(np.rint(fitted / scales[:, None]), 0, None)
        result["fitted"] = [
            [scale, encode_series(row)] for scale, row in zip(scales.tolist(), levels, strict=True)
        ]
        result["fittedLabel"] = series.fitted_label
    if series.bins is not None:
        bins = np.asarray(series.bins, dtype=float)
        result["bins"] = [encode_series(row + 3) for row in bins]
    return result


def _step_end(dates: list[str], step_name: str) -> str:
    """The last day of the last step, for captions that end where the title's period ends.

    Examples
    --------
    >>> _step_end(["2019-12-16", "2019-12-23"], "week"), _step_end(["2024-02-01"], "month")
    ('2019-12-29', '2024-02-29')
    """
    if not dates:
        return ""
    last = pd.Timestamp(dates[-1])
    if step_name == "week":
        end = last + pd.Timedelta(days=6)
    elif step_name == "month":
        end = last + pd.offsets.MonthEnd(0)
    elif step_name == "day":
        end = last
    elif len(dates) > 1:
        end = last + (last - pd.Timestamp(dates[-2])) - pd.Timedelta(days=1)
    else:
        end = last
    return f"{end:%Y-%m-%d}"


def _label_zoom(units: gpd.GeoDataFrame) -> float:
    """The zoom at which names fit: a zoom level more for each quadrupling of the unit count."""
    return float(np.clip(10.5 + np.log(max(len(units), 1) / 20) / np.log(4), 11, 15))


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
