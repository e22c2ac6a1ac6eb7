"""The scan job: did a cluster of incidents start in the last steps? (``clusters.csv``,
``scan.html``)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..render.scan import scan_content
from ..stats.scan import ScanResult, space_time_scan
from .options import StageOptions, takes_stage_options
from .skeleton import Job, PreparedCube

CLUSTERS_CSV = "clusters.csv"
CLUSTER_STEPS_CSV = "cluster_steps.csv"
SCAN_MAP = "scan.html"
SCAN_FILES = (CLUSTERS_CSV, CLUSTER_STEPS_CSV)


@dataclass(frozen=True)
class ScanOptions:
    """The scan's settings (see :func:`~geo_violence.stats.scan.space_time_scan`).

    Attributes
    ----------
    history : int
        Steps the scan looks at, ending at the last (the expectations come from them).
    max_steps : int
        The longest cluster, in steps.
    max_units : int or None
        The largest cluster, in units (10% of the units, at most 100, by default).
    permutations : int
        Random tables for the p-values.
    alpha : float
        Level of an alarm.
    seed : int
        Seed of the random tables.
    min_observed : int
        The fewest incidents a cluster may hold.

    Examples
    --------
    >>> ScanOptions().permutations, ScanOptions().max_steps
    (999, 4)
    """

    history: int = 52
    max_steps: int = 4
    max_units: int | None = None
    permutations: int = 999
    alpha: float = 0.05
    seed: int = 12345
    min_observed: int = 2


@dataclass
class ScanRun:
    """What :func:`run_scan` computed."""

    prepared: PreparedCube
    result: ScanResult


def scan_of(job: Job, prepared: PreparedCube, *, options: ScanOptions) -> ScanResult:
    """The scan of the cube's last ``options.history`` steps; its notes join the job's."""
    cube = prepared.cube.last_steps(options.history)
    result = space_time_scan(
        cube.counts,
        prepared.layer.units.loc[cube.unit_ids],
        max_steps=options.max_steps,
        max_units=options.max_units,
        min_observed=options.min_observed,
        permutations=options.permutations,
        alpha=options.alpha,
        seed=options.seed,
        step=cube.step,
        step_starts=cube.edges,
    )
    job.note(*result.notes)
    return result


def alarm_lines(result: ScanResult, names: pd.Series) -> list[str]:
    """The alarms in words, strongest first, or one line saying there is none.

    Examples
    --------
    >>> clusters = pd.DataFrame({"unit_ids": ["32;8"], "start_date": ["2025-11-03"],
    ...     "observed": [40], "expected": [8.0], "p_value": [0.001],
    ...     "recurrence_words": ["once in 19 years of weekly runs"]})
    >>> class R: alarms = clusters; alpha = 0.05; step = "week"; permutations = 999
    >>> alarm_lines(R(), pd.Series({"32": "Loop", "8": "Near North Side"}))[0]
    'Loop, Near North Side: 40 incidents since 2025-11-03 where 8 were expected (p = 0.001; \
a cluster this strong happens by chance once in 19 years of weekly runs)'
    """
    if len(result.alarms) == 0:
        return [
            f"No alarm: no cluster of the last {result.step}s stands out from chance at "
            f"p <= {result.alpha:g} ({result.permutations} random tables)."
        ]
    lines = []
    for _, row in result.alarms.iterrows():
        units = [str(names.get(unit, unit)) for unit in str(row["unit_ids"]).split(";")]
        shown = ", ".join(units[:6]) + (f" and {len(units) - 6} more" if len(units) > 6 else "")
        lines.append(
            f"{shown}: {row['observed']:,.0f} incidents since {row['start_date']} where "
            f"{row['expected']:,.3g} were expected (p = {row['p_value']:.3g}; a cluster this "
            f"strong happens by chance {row['recurrence_words']})"
        )
    return lines


def write_scan(job: Job, prepared: PreparedCube, result: ScanResult, *, title: str) -> None:
    """Write ``clusters.csv``, ``cluster_steps.csv`` and ``scan.html``."""
    clusters = result.clusters.copy()
    names = prepared.layer.units["name"]
    clusters.insert(
        2,
        "names",
        [
            ";".join(str(names.get(unit, unit)) for unit in str(ids).split(";"))
            for ids in clusters["unit_ids"]
        ],
    )
    job.table(CLUSTERS_CSV, clusters)
    job.table(CLUSTER_STEPS_CSV, result.cluster_steps)
    cube = prepared.cube.last_steps(result.n_steps)
    counts = cube.counts.astype(float)
    total = counts.sum()
    expected = np.outer(counts.sum(axis=1), counts.sum(axis=0)) / total if total else counts * 0.0
    content = scan_content(
        result.clusters,
        cube.unit_ids,
        counts=counts,
        expected=expected,
        dates=[f"{start:%Y-%m-%d}" for start in cube.step_starts],
        step_name=cube.step,
        alpha=result.alpha,
        title=title,
        subtitle=(
            f"clusters of up to {result.max_steps} {cube.step}s ending "
            f"{cube.edges[-1] - pd.Timedelta(days=1):%Y-%m-%d}, against {result.n_steps} "
            f"{cube.step}s of history"
        ),
        source=prepared.source_text(),
    )
    job.map(SCAN_MAP, prepared.layer.units, content)


@takes_stage_options
def run_scan(
    incidents_path: str | Path,
    out_dir: str | Path,
    *,
    scan_options: ScanOptions | None = None,
    stages: StageOptions,
) -> ScanRun:
    """The ``scan`` job: the prospective space-time permutation scan (Kulldorff et al. 2005) of
    the last steps, every cluster ending at the last step, alarms with their p-value and
    recurrence interval.

    Parameters
    ----------
    incidents_path, out_dir : str or Path
        The incident file, and the folder of the outputs.
    scan_options : ScanOptions, optional
        History, cluster sizes, permutations, level and seed.
    stages : StageOptions
        The stage options every job takes, as keywords (see :mod:`geo_violence.jobs.options`).

    Returns
    -------
    ScanRun
        The prepared cube and the scan (``clusters``, ``alarms``).

    Examples
    --------
    >>> from geo_violence.jobs.demo_data import write_demo_incidents
    >>> path = write_demo_incidents(seed=1)
    >>> run = run_scan(path, path.parent / "scan", scan_options=ScanOptions(permutations=99))
    >>> first = run.result.alarms.iloc[0]
    >>> sorted(set(first["unit_ids"].split(";")) & {"32", "8"})
    ['32', '8']
    """
    options = scan_options or ScanOptions()
    job = Job("scan", out_dir, stages, files=SCAN_FILES, maps=[SCAN_MAP])
    prepared = job.prepare(incidents_path)
    result = scan_of(job, prepared, options=options)
    write_scan(
        job,
        prepared,
        result,
        title=f"Early warning: clusters that started lately ({prepared.layer.title})",
    )
    names = prepared.layer.units["name"]
    job.finish(
        seed=options.seed,
        scan=asdict(options),
        alarms=alarm_lines(result, names),
        n_alarms=len(result.alarms),
        clusters=len(result.clusters),
    )
    return ScanRun(prepared, result)
