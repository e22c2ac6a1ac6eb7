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

# first, before the heavy imports: in the command line, Ctrl-C during start-up is one line
from . import errors  # noqa: F401
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
from .lazy import load_lazily

#: Each public name and the module it comes from: imported on first use, so that
#: ``import geo_violence`` and ``geo-violence --help`` do not pay for numpy, pandas,
#: scipy, numba and folium (see ``tests/test_startup.py``).
_LAZY = {
    "Cube": ".cube.counts",
    "build_cube": ".cube.counts",
    "Period": ".cube.periods",
    "parse_period": ".cube.periods",
    "dask_parquet_cube": ".cube.scale",
    "stream_parquet_cube": ".cube.scale",
    "CountsSource": ".jobs",
    "CubeOptions": ".jobs",
    "MapOptions": ".jobs",
    "NeighbourOptions": ".jobs",
    "PreparedCube": ".jobs",
    "ReadOptions": ".jobs",
    "UnitOptions": ".jobs",
    "prepare_cube": ".jobs",
    "run_compare": ".jobs",
    "run_counts": ".jobs",
    "run_demo": ".jobs",
    "run_emerging": ".jobs",
    "run_hotspots": ".jobs",
    "run_report": ".jobs",
    "BacktestRun": ".jobs.backtest",
    "run_backtest": ".jobs.backtest",
    "ScanOptions": ".jobs.scan",
    "ScanRun": ".jobs.scan",
    "run_scan": ".jobs.scan",
    "TrendsRun": ".jobs.trends",
    "run_trends": ".jobs.trends",
    "MapContent": ".render",
    "MapSeries": ".render",
    "emerging_content": ".render",
    "write_map": ".render",
    "read_unit_counts": ".sources.aggregates",
    "PORTAL_COLUMNS": ".sources.incidents",
    "IncidentColumns": ".sources.incidents",
    "IncidentRead": ".sources.incidents",
    "read_incidents": ".sources.incidents",
    "align_population": ".sources.population",
    "read_population": ".sources.population",
    "FetchOptions": ".sources.portal",
    "pull_crimes": ".sources.portal",
    "adjust_p": ".stats",
    "local_gi_star": ".stats",
    "local_moran": ".stats",
    "Backtest": ".stats.backtest",
    "backtest": ".stats.backtest",
    "EmergingOptions": ".stats.emerging",
    "emerging_hotspots": ".stats.emerging",
    "space_time_gi_star": ".stats.emerging",
    "Forecast": ".stats.forecast",
    "forecast_counts": ".stats.forecast",
    "HotspotOptions": ".stats.hotspots",
    "hotspot_table": ".stats.hotspots",
    "rank_for_outreach": ".stats.outreach",
    "ScanResult": ".stats.scan",
    "space_time_scan": ".stats.scan",
    "ShiftOptions": ".stats.shift",
    "compare_periods": ".stats.shift",
    "rate_ratio_test": ".stats.shift",
    "share_test": ".stats.shift",
    "mann_kendall": ".stats.trend",
    "TrendOptions": ".stats.trends",
    "TrendResult": ".stats.trends",
    "detect_trends": ".stats.trends",
    "Assignment": ".units.assign",
    "CodeAgreement": ".units.assign",
    "assign_units": ".units.assign",
    "LayerSpec": ".units.layers",
    "UnitLayer": ".units.layers",
    "catalogue": ".units.layers",
    "load_units": ".units.layers",
    "locate_points": ".units.locate",
    "Neighbours": ".units.neighbours",
    "build_weights": ".units.neighbours",
    "PolygonGrid": ".units.polygon_grid",
    "locate_many": ".units.polygon_grid",
}


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


def __getattr__(name: str) -> object:
    """Import a public name on first use (PEP 562)."""
    if name == "__version__":  # read from the installed metadata on first use, too
        from importlib.metadata import PackageNotFoundError, version

        try:
            return version("geo-violence")
        except PackageNotFoundError:  # pragma: no cover - running from a source tree
            return "0+unknown"
    return load_lazily(__name__, _LAZY, name, globals())


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY) | {"__version__"})
