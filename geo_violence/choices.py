"""The choices the options offer, in one module that imports nothing heavy.

The stages that act on a choice import its tuple from here (``stats.emerging.WINDOWS`` is
``choices.WINDOWS``), and the command line reads them to build ``--help`` without importing
numpy, pandas, scipy, numba or folium (``tests/test_startup.py`` holds ``geo-violence --help``
under half a second).

Examples
--------
>>> from geo_violence.choices import STEPS, WINDOWS
>>> STEPS[0], WINDOWS[0]
('week', 'cube')
"""

from __future__ import annotations

#: Step lengths of a cube: ISO weeks from Monday, calendar months, days.
STEPS = ("week", "month", "day")
#: How the counts are built: in memory, one Parquet or CSV file in batches, or a dask cluster.
ENGINES = ("memory", "stream", "dask")
#: How a point finds its unit: the polygon that contains it, or the code recorded in the row.
ASSIGN_METHODS = ("polygon", "recorded")
#: How neighbours are found.
NEIGHBOUR_METHODS = ("queen", "rook", "knn", "distance")
#: What to do with units that have no neighbour.
ISLAND_POLICIES = ("nearest", "error", "drop")
#: Corrections for testing many units at once.
FDR_METHODS = ("bh", "bonferroni", "none")
#: Rates for local Moran's I with a population: Empirical Bayes, or raw.
SMOOTHING_METHODS = ("eb", "none")
#: Whose mean and standard deviation standardise a space-time bin.
WINDOWS = ("cube", "step", "neighbourhood")
#: How the bins' p-values are computed.
P_VALUE_METHODS = ("auto", "arcgis", "normal", "exact", "rate", "permutation")
#: How a hot spot table's Gi* p-values are computed (one period: no step-to-step rate null).
HOTSPOT_P_VALUE_METHODS = ("auto", "arcgis", "normal", "exact", "randomisation", "permutation")
#: How the trend test allows for the serial correlation of the z series.
TREND_CORRECTIONS = ("window", "hamed-rao", "yue-wang", "none")
#: Basemap tiles: none by default (the map reads without them), or a light or an OSM basemap.
BASEMAPS: dict[str, tuple[str, str] | None] = {
    "none": None,
    "light": (
        "https://{s}.basemaps.cartocdn.com/light_all/{z}/{x}/{y}{r}.png",
        '&copy; <a href="https://www.openstreetmap.org/copyright">OpenStreetMap</a> '
        'contributors &copy; <a href="https://carto.com/attributions">CARTO</a>',
    ),
    "osm": (
        "https://tile.openstreetmap.org/{z}/{x}/{y}.png",
        '&copy; <a href="https://www.openstreetmap.org/copyright">OpenStreetMap</a> contributors',
    ),
}
#: The City of Chicago's open data portal, and its "Crimes - 2001 to Present" dataset.
DEFAULT_BASE_URL = "https://data.cityofchicago.org"
CRIMES_DATASET = "ijzp-q8t2"
