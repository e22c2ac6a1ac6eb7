"""Stage 5, present: maps and tables for people. The only stage that converts to EPSG:4326.

Every interactive map goes through :func:`page.write_map` (one look, one legend, one escaping,
inlined assets); every static one through :mod:`static`.
"""

from .choropleth import choropleth_map
from .emerging import emerging_content, emerging_map
from .hotspots import hotspot_content, hotspot_map
from .page import BASEMAPS, MapContent, MapSeries, write_map
from .shift import shift_content, shift_map, shift_png
from .static import map_png, panels_png
from .trends import trends_content

__all__ = [
    "BASEMAPS",
    "MapContent",
    "MapSeries",
    "choropleth_map",
    "emerging_content",
    "emerging_map",
    "hotspot_content",
    "hotspot_map",
    "map_png",
    "panels_png",
    "shift_content",
    "shift_map",
    "shift_png",
    "trends_content",
    "write_map",
]
