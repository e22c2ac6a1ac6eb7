"""The demo job: seeded synthetic incidents (:mod:`.demo_data`) through every stage."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..cube.periods import Period
from ..outputs import folder_lock
from ..render import choropleth_map
from ..stats.emerging import EmergingOptions
from ..stats.hotspots import HotspotOptions
from ..stats.shift import ShiftOptions, compare_periods
from ..stats.trends import TrendOptions
from .compare import SHIFT_FILES, SHIFT_MAP, rate_label, write_shift
from .counts import write_counts
from .demo_data import DEMO_FILE, write_demo_incidents
from .emerging import EMERGING_FILES, EMERGING_MAP, emerging_of, write_emerging
from .hotspots import HOTSPOTS_FILES, HOTSPOTS_MAP, hotspots_of, write_hotspots
from .options import CubeOptions, StageOptions
from .report import REPORT_FILES, run_report
from .scan import SCAN_FILES, SCAN_MAP, ScanOptions, alarm_lines, scan_of, write_scan
from .skeleton import COUNTS_FILE, Job, PreparedCube, prepare_cube
from .trends import TRENDS_FILES, TRENDS_MAP, trends_of, write_trends

DEMO_MAP_FILE = "last_four_weeks.html"
#: What the demo's maps say about their data.
SOURCE = "synthetic incidents (geo-violence demo), not real data"


def run_demo(
    out_dir: str | Path = "maps/demo", *, seed: int = 20240101, overwrite: bool = False
) -> PreparedCube:
    """The demo job: synthetic incidents (see :mod:`geo_violence.jobs.demo_data`) through every
    stage.

    Writes ``demo_incidents.csv`` (the synthetic input), the ``counts`` outputs,
    ``last_four_weeks.html`` (a choropleth of the last four weeks' counts), the ``hotspots``
    outputs of those four weeks, the ``emerging`` outputs over all 104 weeks, the ``shift``
    outputs of the first 52 weeks against the last 52, the ``trends`` outputs over the whole
    months, the early-warning scan of the last weeks (``clusters.csv``, ``cluster_steps.csv``,
    ``scan.html``), and the weekly summary (``summary.html``, ``summary.md``, ``deploy.csv``,
    ``watch.csv``).

    Examples
    --------
    >>> import tempfile
    >>> prepared = run_demo(tempfile.mkdtemp(), seed=3)
    >>> prepared.cube.n_units, prepared.cube.n_steps
    (77, 104)
    """
    with folder_lock(out_dir, what=f"geo-violence demo into {out_dir}"):
        return _demo(out_dir, seed=seed, overwrite=overwrite)


def _demo(out_dir: str | Path, *, seed: int, overwrite: bool) -> PreparedCube:
    files = [
        DEMO_FILE,
        COUNTS_FILE,
        *HOTSPOTS_FILES,
        *EMERGING_FILES,
        *SHIFT_FILES,
        *TRENDS_FILES,
        *SCAN_FILES,
        *REPORT_FILES,
    ]
    maps = [DEMO_MAP_FILE, HOTSPOTS_MAP, EMERGING_MAP, SHIFT_MAP, TRENDS_MAP, SCAN_MAP]
    job = Job("demo", out_dir, StageOptions(overwrite=overwrite), files=files, maps=maps)
    incidents_path = write_demo_incidents(job.folder, seed=seed)
    prepared = job.use(prepare_cube(incidents_path))
    write_counts(job, prepared)
    cube, units = prepared.cube, prepared.layer.units
    last_four = pd.Series(cube.counts[:, -4:].sum(axis=1), index=cube.unit_ids)
    four_weeks = f"4 weeks from {cube.step_starts[-4]:%Y-%m-%d}"
    job.file(
        DEMO_MAP_FILE,
        choropleth_map(
            units,
            last_four,
            title="Synthetic demo: incidents in the last 4 weeks",
            subtitle=four_weeks,
            source=SOURCE,
            value_label="incidents in the last 4 weeks",
            path=job.folder / DEMO_MAP_FILE,
        ),
    )
    hotspot_options = HotspotOptions(seed=seed)
    _, table = hotspots_of(job, units, last_four, population=None, options=hotspot_options)
    write_hotspots(
        job,
        units,
        table,
        title="Synthetic demo: hot spots of the last 4 weeks",
        subtitle=four_weeks,
        source=SOURCE,
        options=hotspot_options,
    )
    emerging_options = EmergingOptions(seed=seed)
    _, result, table, bins = emerging_of(job, units, cube, options=emerging_options)
    write_emerging(
        job,
        units,
        table,
        bins,
        cube=cube,
        result=result,
        title="Synthetic demo: emerging and fading hot spots",
        subtitle=prepared.period_text(),
        source=SOURCE,
        options=emerging_options,
    )
    _write_demo_shift(job, prepared, seed)
    scan = scan_of(job, prepared, options=ScanOptions(seed=seed))
    write_scan(job, prepared, scan, title="Synthetic demo: clusters that started lately")
    monthly = prepare_cube(incidents_path, cube_options=CubeOptions(step="month"))
    trend_options = TrendOptions(seed=seed)
    _, trends = trends_of(job, monthly, options=trend_options)
    write_trends(
        job,
        monthly,
        trends,
        title="Synthetic demo: where incidents are rising and falling",
        source=SOURCE,
    )
    job.file(DEMO_FILE, incidents_path)
    job.finish(seed=seed, alarms=alarm_lines(scan, units["name"]))
    report = run_report(job.folder, overwrite=True)  # the names were checked above
    job.outputs |= report.outputs
    job.finish(seed=seed, alarms=alarm_lines(scan, units["name"]))
    return prepared


def _write_demo_shift(job: Job, prepared: PreparedCube, seed: int) -> None:
    """The first half of the weeks against the second."""
    cube = prepared.cube
    half = cube.n_steps // 2
    days = cube.edges.tz_localize(None).to_numpy(dtype="datetime64[D]")
    one_day = np.timedelta64(1, "D")
    before = Period(days[0], days[half] - one_day)
    after = Period(days[half], days[-1] - one_day)
    shift_options = ShiftOptions(seed=seed)
    shift = compare_periods(
        pd.Series(cube.counts[:, :half].sum(axis=1), index=cube.unit_ids),
        pd.Series(cube.counts[:, half:].sum(axis=1), index=cube.unit_ids),
        job.neighbours(prepared.layer.units),
        years_before=before.years,
        years_after=after.years,
        options=shift_options,
    )
    write_shift(
        job,
        prepared.layer,
        shift,
        title="Synthetic demo: where incidents rose and fell",
        subtitle=f"{before} against {after}",
        source=SOURCE,
        rate_label=rate_label(False, True),
        metadata=job.metadata(shift=shift_options),
    )
