"""Stage 6, jobs: options in, a folder of outputs and a manifest out; one module per command.

Every job runs on one skeleton (:mod:`.skeleton`: the folder and its files, the first stages,
neighbours, the writers, the manifest) and takes the same stage options (:mod:`.options`), so a
job module holds only its own analysis and outputs: :mod:`.counts`, :mod:`.hotspots`,
:mod:`.emerging`, :mod:`.compare`, :mod:`.report`, :mod:`.demo` (with its synthetic data,
:mod:`.demo_data`), :mod:`.weekly` and :mod:`.fetch`. The command line only parses options and
calls these functions.
"""

from __future__ import annotations

from ..lazy import load_lazily

#: Each public name and the module it comes from: imported on first use, so that
#: ``import geo_violence`` and ``geo-violence --help`` do not pay for numpy, pandas,
#: scipy, numba and folium (see ``tests/test_startup.py``).
_LAZY = {
    "CompareRun": ".compare",
    "CountsSource": ".compare",
    "run_compare": ".compare",
    "run_counts": ".counts",
    "run_demo": ".demo",
    "EmergingRun": ".emerging",
    "run_emerging": ".emerging",
    "HotspotRun": ".hotspots",
    "run_hotspots": ".hotspots",
    "CubeOptions": ".options",
    "MapOptions": ".options",
    "NeighbourOptions": ".options",
    "ReadOptions": ".options",
    "StageOptions": ".options",
    "UnitOptions": ".options",
    "ReportRun": ".report",
    "run_report": ".report",
    "Job": ".skeleton",
    "PreparedCube": ".skeleton",
    "prepare_cube": ".skeleton",
}

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


def __getattr__(name: str) -> object:
    """Import a public name on first use (PEP 562)."""
    return load_lazily(__name__, _LAZY, name, globals())


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
