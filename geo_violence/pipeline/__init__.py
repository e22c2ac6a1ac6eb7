"""Stage 8, orchestrate: options in, a folder of outputs and a manifest out.

Each job chains the stages (read, units, assign, cube, ...) and writes every output through
:mod:`geo_violence.outputs`. The command line only parses options and calls these functions.
One module per job; :mod:`.common` holds what they share.
"""

from .common import (
    CubeOptions,
    MapOptions,
    NeighbourOptions,
    PreparedCube,
    ReadOptions,
    UnitOptions,
    prepare_cube,
    run_counts,
)
from .compare import CompareRun, CountsSource, run_compare
from .demo import run_demo
from .emerging import EmergingRun, run_emerging
from .hotspots import HotspotRun, run_hotspots
from .report import ReportRun, run_report

__all__ = [
    "CompareRun",
    "CountsSource",
    "CubeOptions",
    "EmergingRun",
    "HotspotRun",
    "MapOptions",
    "NeighbourOptions",
    "PreparedCube",
    "ReadOptions",
    "ReportRun",
    "UnitOptions",
    "prepare_cube",
    "run_compare",
    "run_counts",
    "run_demo",
    "run_emerging",
    "run_hotspots",
    "run_report",
]
