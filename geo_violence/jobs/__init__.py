"""Stage 6, jobs: options in, a folder of outputs and a manifest out; one module per command.

Every job runs on one skeleton (:mod:`.skeleton`: the folder and its files, the first stages,
neighbours, the writers, the manifest) and takes the same stage options (:mod:`.options`), so a
job module holds only its own analysis and outputs: :mod:`.counts`, :mod:`.hotspots`,
:mod:`.emerging`, :mod:`.compare`, :mod:`.report`, :mod:`.demo` (with its synthetic data,
:mod:`.demo_data`), :mod:`.weekly` and :mod:`.fetch`. The command line only parses options and
calls these functions.
"""

from .compare import CompareRun, CountsSource, run_compare
from .counts import run_counts
from .demo import run_demo
from .emerging import EmergingRun, run_emerging
from .hotspots import HotspotRun, run_hotspots
from .options import (
    CubeOptions,
    MapOptions,
    NeighbourOptions,
    ReadOptions,
    StageOptions,
    UnitOptions,
)
from .report import ReportRun, run_report
from .skeleton import Job, PreparedCube, prepare_cube

__all__ = [
    "CompareRun",
    "CountsSource",
    "CubeOptions",
    "EmergingRun",
    "HotspotRun",
    "Job",
    "MapOptions",
    "NeighbourOptions",
    "PreparedCube",
    "ReadOptions",
    "ReportRun",
    "StageOptions",
    "UnitOptions",
    "prepare_cube",
    "run_compare",
    "run_counts",
    "run_demo",
    "run_emerging",
    "run_hotspots",
    "run_report",
]
