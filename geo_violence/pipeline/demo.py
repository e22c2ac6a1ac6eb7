"""The demo job: seeded synthetic incidents through every stage."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd

from ..outputs import (
    prepare_output_dir,
    write_csv,
    write_json,
)
from ..periods import Period
from ..stats.emerging import EmergingOptions
from ..stats.hotspots import HotspotOptions
from ..stats.shift import ShiftOptions, compare_periods
from .common import (
    COUNTS_FILE,
    EMERGING_BINS,
    EMERGING_CSV,
    EMERGING_MAP,
    HOTSPOTS_CSV,
    HOTSPOTS_MAP,
    HOTSPOTS_PARQUET,
    MANIFEST_FILE,
    REJECTS_FILE,
    UNASSIGNED_FILE,
    MapOptions,
    NeighbourOptions,
    manifest,
    neighbours_for,
    prepare_cube,
    run_metadata,
    write_cube_outputs,
)
from .compare import (
    SHIFT_CSV,
    SHIFT_MAP,
    SHIFT_PARQUET,
    SHIFT_PNG,
    rate_label,
    write_shift_outputs,
)
from .emerging import emerging_of, write_emerging_outputs
from .hotspots import hotspots_of, resolution_notes, write_hotspot_outputs
from .report import DEPLOY_CSV, SUMMARY_HTML, SUMMARY_MD, run_report

logger = logging.getLogger(__name__)

DEMO_MAP_FILE = "last_four_weeks.html"
#: What the demo's maps say about their data.
SOURCE = "synthetic incidents (geo-violence demo), not real data"


def run_demo(out_dir: str | Path = "maps/demo", *, seed: int = 20240101, overwrite: bool = False):
    """The demo job: synthetic incidents (see :mod:`geo_violence.demo`) through every stage.

    Writes ``demo_incidents.csv`` (the synthetic input), the ``counts`` outputs,
    ``last_four_weeks.html`` (a choropleth of the last four weeks' counts), the ``hotspots``
    outputs of those four weeks, the ``emerging`` outputs over all 104 weeks, the ``shift``
    outputs of the first 52 weeks against the last 52, and the weekly summary (``summary.html``,
    ``summary.md``, ``deploy.csv``).

    Examples
    --------
    >>> import tempfile
    >>> prepared = run_demo(tempfile.mkdtemp(), seed=3)
    >>> prepared.cube.n_units, prepared.cube.n_steps
    (77, 104)
    """
    from ..demo import DEMO_FILE, make_demo_incidents
    from ..render import choropleth_map

    names = [
        DEMO_FILE,
        COUNTS_FILE,
        REJECTS_FILE,
        UNASSIGNED_FILE,
        MANIFEST_FILE,
        DEMO_MAP_FILE,
        HOTSPOTS_CSV,
        HOTSPOTS_PARQUET,
        HOTSPOTS_MAP,
        EMERGING_CSV,
        EMERGING_BINS,
        EMERGING_MAP,
        SHIFT_CSV,
        SHIFT_PARQUET,
        SHIFT_MAP,
        SHIFT_PNG,
        SUMMARY_HTML,
        SUMMARY_MD,
        DEPLOY_CSV,
    ]
    folder = prepare_output_dir(out_dir, names, overwrite=overwrite)
    incidents_path = write_csv(make_demo_incidents(seed=seed), folder / DEMO_FILE)
    prepared = prepare_cube(incidents_path)
    outputs = write_cube_outputs(prepared, folder)
    cube = prepared.cube
    last_four = cube.counts[:, -4:].sum(axis=1)
    first_week = cube.step_starts[-4]
    outputs[DEMO_MAP_FILE] = choropleth_map(
        prepared.layer.units,
        pd.Series(last_four, index=cube.unit_ids),
        title="Synthetic demo: incidents in the last 4 weeks",
        subtitle=f"4 weeks from {first_week:%Y-%m-%d}",
        source=SOURCE,
        value_label="incidents in the last 4 weeks",
        path=folder / DEMO_MAP_FILE,
    )
    hotspot_options = HotspotOptions(seed=seed)
    neighbours, table = hotspots_of(
        prepared.layer.units,
        pd.Series(last_four, index=cube.unit_ids),
        population=None,
        neighbour_options=NeighbourOptions(),
        hotspot_options=hotspot_options,
    )
    prepared.notes.extend([*neighbours.notes, *resolution_notes(cube.n_units, hotspot_options)])
    outputs |= write_hotspot_outputs(
        folder,
        prepared.layer.units,
        table,
        title="Synthetic demo: hot spots of the last 4 weeks",
        subtitle=f"4 weeks from {first_week:%Y-%m-%d}",
        source=SOURCE,
        run_metadata=run_metadata(prepared, hotspots=hotspot_options),
    )
    emerging_options = EmergingOptions(seed=seed)
    neighbours, result, table, bins = emerging_of(
        prepared.layer.units,
        cube,
        neighbour_options=NeighbourOptions(),
        emerging_options=emerging_options,
    )
    prepared.notes.extend(result.notes)
    outputs |= write_emerging_outputs(
        folder,
        prepared.layer.units,
        table,
        bins,
        cube=cube,
        result=result,
        title="Synthetic demo: emerging and fading hot spots",
        subtitle=prepared.period_text(),
        source=SOURCE,
        run_metadata=run_metadata(prepared, emerging=emerging_options),
        map_options=MapOptions(),
    )
    half = cube.n_steps // 2
    days = cube.edges.tz_localize(None).to_numpy(dtype="datetime64[D]")
    one_day = np.timedelta64(1, "D")
    before = Period(days[0], days[half] - one_day)
    after = Period(days[half], days[-1] - one_day)
    neighbours = neighbours_for(prepared.layer.units, NeighbourOptions())
    shift_options = ShiftOptions(seed=seed)
    shift = compare_periods(
        pd.Series(cube.counts[:, :half].sum(axis=1), index=cube.unit_ids),
        pd.Series(cube.counts[:, half:].sum(axis=1), index=cube.unit_ids),
        neighbours,
        years_before=before.years,
        years_after=after.years,
        options=shift_options,
    )
    outputs |= write_shift_outputs(
        folder,
        prepared.layer,
        shift,
        title="Synthetic demo: where incidents rose and fell",
        subtitle=f"{before} against {after}",
        source=SOURCE,
        rate_label=rate_label(False, True),
        metadata=run_metadata(prepared, shift=shift_options),
    )
    outputs[DEMO_FILE] = incidents_path
    write_json(manifest("demo", prepared, outputs, seed=seed), folder / MANIFEST_FILE)
    report = run_report(folder, overwrite=True)  # the names were checked above
    outputs |= report.outputs
    write_json(manifest("demo", prepared, outputs, seed=seed), folder / MANIFEST_FILE)
    return prepared
