"""The counts job: the cube as a table (``counts.parquet``), in memory or, beyond memory,
``--engine stream`` (one Parquet or CSV file in batches) or ``--engine dask`` (a dataset of
Parquet files on a dask.distributed cluster)."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

from ..cube.scale import ScaledCube, dask_parquet_cube, stream_cube
from ..outputs import package_versions, start_sha256
from .options import StageOptions, takes_stage_options
from .skeleton import COUNTS_FILE, REJECTS_FILE, UNASSIGNED_FILE, Job, PreparedCube, layer_for


@takes_stage_options
def run_counts(incidents_path: str | Path, out_dir: str | Path, *, stages: StageOptions):
    """The ``counts`` job: write ``counts.parquet``, ``rejects.csv``, ``unassigned.csv`` and
    ``manifest.json`` into ``out_dir``.

    Parameters
    ----------
    incidents_path, out_dir : str or Path
        The incident file, and the folder of the outputs.
    stages : StageOptions
        The stage options every job takes, as keywords (see :mod:`geo_violence.jobs.options`).

    Returns
    -------
    PreparedCube
        What was read, the layer, the assignment and the cube.

    Examples
    --------
    >>> from geo_violence.jobs.demo_data import write_demo_incidents
    >>> path = write_demo_incidents(seed=1)
    >>> prepared = run_counts(path, path.parent / "counts")
    >>> sorted(p.name for p in (path.parent / "counts").iterdir())
    ['counts.parquet', 'manifest.json', 'rejects.csv', 'unassigned.csv']
    >>> prepared.cube.counts.shape
    (77, 104)
    """
    job = Job("counts", out_dir, stages, files=[COUNTS_FILE])
    prepared = job.prepare(incidents_path, allow_empty=True)
    write_counts(job, prepared)
    job.finish()
    return prepared


def write_counts(job: Job, prepared: PreparedCube) -> None:
    """Write the cube as ``counts.parquet`` (one row per unit and step, zeros kept)."""
    job.parquet(COUNTS_FILE, prepared.cube.to_frame(), job.metadata())


@takes_stage_options
def run_scaled_counts(
    incidents: str | Path,
    out_dir: str | Path,
    *,
    engine: str,
    scheduler: str | None = None,
    stages: StageOptions,
) -> ScaledCube:
    """The ``counts`` job with ``engine="stream"`` or ``"dask"``: the same outputs as the
    in-memory job (``counts.parquet``, ``rejects.csv``, ``unassigned.csv``, ``manifest.json``).

    ``incidents`` is a Parquet or CSV file (stream) or a folder of Parquet files (dask). The period
    (``cube_options.start`` and ``end``) is required.
    """
    job = Job(
        "counts",
        out_dir,
        stages,
        files=[COUNTS_FILE, REJECTS_FILE, UNASSIGNED_FILE],
        row_reports=False,
    )
    start_sha256(incidents)  # for the manifest, while the file is read and counted
    layer = layer_for(stages.units)
    columns = {
        key: value
        for key, value in asdict(stages.read).items()
        if key != "filter_category" and value is not None
    }
    cube = stages.cube
    period = {"step": cube.step, "start": cube.start, "end": cube.end}
    if engine == "dask":
        result = dask_parquet_cube(
            incidents, layer.units, read_options=columns, scheduler=scheduler, **period
        )
    else:
        result = stream_cube(incidents, layer.units, read_options=columns, **period)
    options = {"read": columns, "units": asdict(stages.units), "cube": period}
    metadata = {"engine": engine, "options": options, "packages": package_versions()}
    job.parquet(COUNTS_FILE, result.cube.to_frame(), metadata)
    job.table(REJECTS_FILE, result.rejects)
    job.table(UNASSIGNED_FILE, result.unassigned_rows)
    job.note(*result.notes)
    job.finish(
        inputs=[Path(incidents)],
        engine=engine,
        scheduler=scheduler,
        options=options,
        rows={
            "read": result.rows_read,
            "rejected": result.rejected,
            "unassigned": result.unassigned,
            "outside_period": result.cube.outside_period,
            "counted": int(result.cube.counts.sum()),
            "parts": result.parts,
        },
    )
    return result
