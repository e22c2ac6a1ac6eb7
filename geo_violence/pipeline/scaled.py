"""The counts job beyond memory: ``--engine stream`` (one Parquet file in batches) or
``--engine dask`` (a dataset of Parquet files on a dask.distributed cluster)."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

from ..outputs import (
    manifest_base,
    package_versions,
    prepare_output_dir,
    write_csv,
    write_json,
    write_parquet,
)
from ..scale import ScaledCube, dask_parquet_cube, stream_parquet_cube
from .common import (
    COUNTS_FILE,
    MANIFEST_FILE,
    REJECTS_FILE,
    UNASSIGNED_FILE,
    CubeOptions,
    ReadOptions,
    UnitOptions,
    layer_for,
)


def run_scaled_counts(
    incidents: str | Path,
    out_dir: str | Path,
    *,
    engine: str,
    scheduler: str | None = None,
    read_options: ReadOptions | None = None,
    unit_options: UnitOptions | None = None,
    cube_options: CubeOptions | None = None,
    overwrite: bool = False,
) -> ScaledCube:
    """The ``counts`` job with ``engine="stream"`` or ``"dask"``: the same outputs as the
    in-memory job (``counts.parquet``, ``rejects.csv``, ``unassigned.csv``, ``manifest.json``).

    ``incidents`` is a Parquet file (stream) or a folder of Parquet files (dask). The period
    (``cube_options.start`` and ``end``) is required.
    """
    read_options = read_options or ReadOptions()
    unit_options = unit_options or UnitOptions()
    cube_options = cube_options or CubeOptions()
    folder = prepare_output_dir(
        out_dir, [COUNTS_FILE, REJECTS_FILE, UNASSIGNED_FILE, MANIFEST_FILE], overwrite=overwrite
    )
    layer = layer_for(unit_options)
    columns = {
        key: value
        for key, value in asdict(read_options).items()
        if key != "filter_category" and value is not None
    }
    period = {"step": cube_options.step, "start": cube_options.start, "end": cube_options.end}
    if engine == "dask":
        result = dask_parquet_cube(
            incidents, layer.units, read_options=columns, scheduler=scheduler, **period
        )
    else:
        result = stream_parquet_cube(incidents, layer.units, read_options=columns, **period)
    metadata = {
        "engine": engine,
        "options": {"read": columns, "units": asdict(unit_options), "cube": period},
        "packages": package_versions(),
    }
    outputs = {
        COUNTS_FILE: write_parquet(result.cube.to_frame(), folder / COUNTS_FILE, metadata),
        REJECTS_FILE: write_csv(result.rejects, folder / REJECTS_FILE),
        UNASSIGNED_FILE: write_csv(result.unassigned_rows, folder / UNASSIGNED_FILE),
    }
    write_json(
        manifest_base(
            "counts",
            [incidents],
            outputs,
            engine=engine,
            scheduler=scheduler,
            options=metadata["options"],
            rows={
                "read": result.rows_read,
                "rejected": result.rejected,
                "unassigned": result.unassigned,
                "outside_period": result.cube.outside_period,
                "counted": int(result.cube.counts.sum()),
                "parts": result.parts,
            },
            notes=result.notes,
        ),
        folder / MANIFEST_FILE,
    )
    return result
