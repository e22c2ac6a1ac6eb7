"""Stage 7, present: maps and tables for people. The only stage that converts to EPSG:4326."""

from .choropleth import choropleth_map, unit_map
from .emerging import emerging_map
from .hotspots import hotspot_map
from .shift import shift_map, shift_png
from .static import panels_png

__all__ = [
    "choropleth_map",
    "emerging_map",
    "hotspot_map",
    "panels_png",
    "shift_map",
    "shift_png",
    "unit_map",
]
