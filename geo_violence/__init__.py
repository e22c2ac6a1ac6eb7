"""geo_violence: where violence is concentrating and where it is fading, unit by unit.

The public API, in the order data flows through it::

    read = read_incidents("crimes.csv")                      # 1. read
    layer = load_units("beats", units_file="beats.geojson")   # 2. units
    assignment = assign_units(read.incidents, layer.units)    # 3. assign
    cube = build_cube(assignment.incidents, layer.units)      # 4. cube
    neighbours = build_weights(layer.units)                   # 5. neighbours
    emerging = emerging_hotspots(cube.counts, neighbours.matrix, cube.unit_ids)  # 6. statistics
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from .assign import Assignment, CodeAgreement, assign_units, locate_points
from .boundaries import LayerSpec, UnitLayer, catalogue, load_units
from .cube import Cube, build_cube
from .errors import (
    DataError,
    GeoViolenceError,
    InputFileError,
    MissingColumnError,
    OptionError,
    OutputExistsError,
    PeriodError,
    UnitsError,
)
from .ingest import PORTAL_COLUMNS, IncidentColumns, IncidentRead, read_incidents
from .pipeline import (
    CubeOptions,
    NeighbourOptions,
    PreparedCube,
    ReadOptions,
    UnitOptions,
    prepare_cube,
    run_counts,
    run_demo,
    run_emerging,
    run_hotspots,
)
from .population import align_population, read_population
from .stats import adjust_p, local_gi_star, local_moran
from .stats.emerging import EmergingOptions, emerging_hotspots, space_time_gi_star
from .stats.hotspots import HotspotOptions, hotspot_table
from .stats.trend import mann_kendall
from .weights import Neighbours, build_weights

try:
    __version__ = version("geo-violence")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0+unknown"

__all__ = [
    "PORTAL_COLUMNS",
    "Assignment",
    "CodeAgreement",
    "Cube",
    "CubeOptions",
    "DataError",
    "EmergingOptions",
    "GeoViolenceError",
    "HotspotOptions",
    "IncidentColumns",
    "IncidentRead",
    "InputFileError",
    "LayerSpec",
    "MissingColumnError",
    "NeighbourOptions",
    "Neighbours",
    "OptionError",
    "OutputExistsError",
    "PeriodError",
    "PreparedCube",
    "ReadOptions",
    "UnitLayer",
    "UnitOptions",
    "UnitsError",
    "__version__",
    "adjust_p",
    "align_population",
    "assign_units",
    "build_cube",
    "build_weights",
    "catalogue",
    "emerging_hotspots",
    "hotspot_table",
    "load_units",
    "local_gi_star",
    "local_moran",
    "locate_points",
    "mann_kendall",
    "prepare_cube",
    "read_incidents",
    "read_population",
    "run_counts",
    "run_demo",
    "run_emerging",
    "run_hotspots",
    "space_time_gi_star",
]
