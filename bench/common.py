"""What the benchmarks share: where the real data are, and the beats with the assaults."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

#: The real Chicago files: ``../shared/data/chicago`` beside the repository, or this variable.
DATA = Path(
    os.environ.get(
        "GEO_VIOLENCE_SHARED_DATA",
        Path(__file__).resolve().parents[1].parent / "shared" / "data" / "chicago",
    )
)


def best_of(repeats: int, call: Callable[[], object]) -> float:
    """The shortest wall time of ``repeats`` calls."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return min(times)


def assaults_by_beat(step: str = "week", start: str | None = None, end: str | None = None):
    """The 2010-2019 aggravated assaults counted per beat, and the beats' queen neighbours."""
    from geo_violence import assign_units, build_cube, build_weights, load_units, read_incidents

    layer = load_units("beats", units_file=DATA / "police_beats.geojson")
    read = read_incidents(
        DATA / "aggravated_assaults_2010_2019.csv.gz",
        time_col="date",
        x_col="longitude",
        y_col="latitude",
        crs="EPSG:4326",
    )
    assigned = assign_units(read.incidents, layer.units).incidents
    cube = build_cube(assigned, layer.units, step=step, start=start, end=end, keep_partial=True)
    return cube, build_weights(layer.units)
