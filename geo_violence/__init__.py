"""geo_violence: where violence is concentrating and where it is fading, unit by unit.

The public API, in the order data flows through it::

    read = read_incidents("crimes.csv")                      # 1. read
    layer = load_units("beats", units_file="beats.geojson")   # 2. units
    assignment = assign_units(read.incidents, layer.units)    # 3. assign
    cube = build_cube(assignment.incidents, layer.units)      # 4. cube
    neighbours = build_weights(layer.units)                   # 5. neighbours
    emerging = emerging_hotspots(cube.counts, neighbours.matrix, cube.unit_ids)  # 6. statistics
    shift = compare_periods(before, after, neighbours, years_before=5, years_after=4)
    trends = detect_trends(cube.counts, neighbours.matrix, step_starts=cube.step_starts)
    write_map(layer.units, emerging_content(emerging.units, title="..."), "map.html")  # 7.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

# first, before the heavy imports: in the command line, Ctrl-C during start-up is one line
from . import errors  # noqa: F401
from .cube.counts import Cube, build_cube
from .cube.periods import Period, parse_period
from .cube.scale import dask_parquet_cube, stream_parquet_cube
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
from .jobs import (
    CountsSource,
    CubeOptions,
    MapOptions,
    NeighbourOptions,
    PreparedCube,
    ReadOptions,
    UnitOptions,
    prepare_cube,
    run_compare,
    run_counts,
    run_demo,
    run_emerging,
    run_hotspots,
    run_report,
)
from .jobs.backtest import BacktestRun, run_backtest
from .jobs.scan import ScanOptions, ScanRun, run_scan
from .jobs.trends import TrendsRun, run_trends
from .render import MapContent, MapSeries, emerging_content, write_map
from .sources.aggregates import read_unit_counts
from .sources.incidents import PORTAL_COLUMNS, IncidentColumns, IncidentRead, read_incidents
from .sources.population import align_population, read_population
from .sources.portal import FetchOptions, pull_crimes
from .stats import adjust_p, local_gi_star, local_moran
from .stats.backtest import Backtest, backtest
from .stats.emerging import EmergingOptions, emerging_hotspots, space_time_gi_star
from .stats.forecast import Forecast, forecast_counts
from .stats.hotspots import HotspotOptions, hotspot_table
from .stats.outreach import rank_for_outreach
from .stats.scan import ScanResult, space_time_scan
from .stats.shift import ShiftOptions, compare_periods, rate_ratio_test, share_test
from .stats.trend import mann_kendall
from .stats.trends import TrendOptions, TrendResult, detect_trends
from .units.assign import Assignment, CodeAgreement, assign_units
from .units.layers import LayerSpec, UnitLayer, catalogue, load_units
from .units.locate import locate_points
from .units.neighbours import Neighbours, build_weights
from .units.polygon_grid import PolygonGrid, locate_many

try:
    __version__ = version("geo-violence")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0+unknown"

__all__ = [
    "PORTAL_COLUMNS",
    "Assignment",
    "Backtest",
    "BacktestRun",
    "CodeAgreement",
    "CountsSource",
    "Cube",
    "CubeOptions",
    "DataError",
    "EmergingOptions",
    "FetchOptions",
    "Forecast",
    "GeoViolenceError",
    "HotspotOptions",
    "IncidentColumns",
    "IncidentRead",
    "InputFileError",
    "LayerSpec",
    "MapContent",
    "MapOptions",
    "MapSeries",
    "MissingColumnError",
    "NeighbourOptions",
    "Neighbours",
    "OptionError",
    "OutputExistsError",
    "Period",
    "PeriodError",
    "PolygonGrid",
    "PreparedCube",
    "ReadOptions",
    "ScanOptions",
    "ScanResult",
    "ScanRun",
    "ShiftOptions",
    "TrendOptions",
    "TrendResult",
    "TrendsRun",
    "UnitLayer",
    "UnitOptions",
    "UnitsError",
    "__version__",
    "adjust_p",
    "align_population",
    "assign_units",
    "backtest",
    "build_cube",
    "build_weights",
    "catalogue",
    "compare_periods",
    "dask_parquet_cube",
    "detect_trends",
    "emerging_content",
    "emerging_hotspots",
    "forecast_counts",
    "hotspot_table",
    "load_units",
    "local_gi_star",
    "local_moran",
    "locate_many",
    "locate_points",
    "mann_kendall",
    "parse_period",
    "prepare_cube",
    "pull_crimes",
    "rank_for_outreach",
    "rate_ratio_test",
    "read_incidents",
    "read_population",
    "read_unit_counts",
    "run_backtest",
    "run_compare",
    "run_counts",
    "run_demo",
    "run_emerging",
    "run_hotspots",
    "run_report",
    "run_scan",
    "run_trends",
    "share_test",
    "space_time_gi_star",
    "space_time_scan",
    "stream_parquet_cube",
    "write_map",
]
