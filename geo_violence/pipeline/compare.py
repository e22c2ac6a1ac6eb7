"""The compare job: two periods side by side, unit by unit (``shift.csv``, maps, PNG)."""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd

from ..aggregates import UnitCounts, read_unit_counts
from ..boundaries import UnitLayer
from ..columns import NAME, OCCURRED_AT, UNIT_ID
from ..cube import local_days
from ..errors import OptionError
from ..outputs import (
    manifest_base,
    package_versions,
    prepare_output_dir,
    write_csv,
    write_json,
    write_parquet,
)
from ..periods import Period, check_periods, parse_period
from ..population import align_population, read_population
from ..render import shift_content, shift_png
from ..stats.shift import ShiftOptions, compare_periods
from ..weights import Neighbours
from .common import (
    MANIFEST_FILE,
    REJECTS_FILE,
    UNASSIGNED_FILE,
    CubeOptions,
    MapOptions,
    NeighbourOptions,
    PreparedCube,
    ReadOptions,
    UnitOptions,
    layer_for,
    manifest,
    map_file_names,
    neighbours_for,
    prepare_cube,
    write_map_files,
    write_row_reports,
)

logger = logging.getLogger(__name__)

SHIFT_CSV = "shift.csv"
SHIFT_PARQUET = "shift.parquet"
SHIFT_MAP = "shift.html"
SHIFT_PNG = "shift.png"


@dataclass(frozen=True)
class CountsSource:
    """Counts already aggregated per unit: the file and its two period columns."""

    path: str
    before_col: str
    after_col: str
    id_col: str | None = None


@dataclass
class CompareRun:
    """What :func:`run_compare` computed: the table, the units and what the rates are per."""

    table: pd.DataFrame
    layer: UnitLayer
    neighbours: Neighbours
    rate_label: str
    prepared: PreparedCube | None = None
    notes: list[str] = field(default_factory=list)


def rate_label(with_population: bool, with_dates: bool) -> str:
    """What the rates are per, in words.

    Examples
    --------
    >>> rate_label(True, True), rate_label(False, False)
    ('per 100,000 residents per year', 'per period')
    """
    per_people = "per 100,000 residents " if with_population else ""
    return per_people + ("per year" if with_dates else "per period")


def run_compare(
    incidents_path: str | Path | None,
    out_dir: str | Path,
    *,
    before: str | None = None,
    after: str | None = None,
    counts: CountsSource | None = None,
    read_options: ReadOptions | None = None,
    unit_options: UnitOptions | None = None,
    cube_options: CubeOptions | None = None,
    neighbour_options: NeighbourOptions | None = None,
    shift_options: ShiftOptions | None = None,
    map_options: MapOptions | None = None,
    overwrite: bool = False,
) -> CompareRun:
    """The ``compare`` job: rates of two periods, the exact rate ratio, shares, labels, clusters.

    Either an incident file with ``before`` and ``after`` periods (``START..END``, days included),
    or ``counts`` already aggregated per unit (the periods are then optional; with them the rates
    are per year). Writes ``shift.csv``, ``shift.parquet`` (GeoParquet), ``shift.html``,
    ``shift.png`` and ``manifest.json`` (and ``rejects.csv``, ``unassigned.csv`` from incidents).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from geo_violence.demo import make_demo_incidents
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> make_demo_incidents(seed=1).to_csv(folder / "demo.csv", index=False)
    >>> run = run_compare(folder / "demo.csv", folder / "out",
    ...     before="2024-01-01..2024-12-29", after="2024-12-30..2025-12-28")
    >>> run.table.loc[["32", "25"], "label"].tolist()
    ['emerging', 'fading']
    """
    neighbour_options = neighbour_options or NeighbourOptions()
    shift_options = shift_options or ShiftOptions()
    cube_options = cube_options or CubeOptions()
    if (incidents_path is None) == (counts is None):
        raise OptionError("give either an incident file or --counts FILE, not both or neither")
    periods = _periods(before, after, required=incidents_path is not None)
    map_options = map_options or MapOptions()
    names = [SHIFT_CSV, SHIFT_PARQUET, SHIFT_PNG, MANIFEST_FILE]
    names += map_file_names(SHIFT_MAP, replace(map_options, png=False))
    if incidents_path is not None:
        names += [REJECTS_FILE, UNASSIGNED_FILE]
    folder = prepare_output_dir(out_dir, names, overwrite=overwrite)

    prepared = None
    aggregated: UnitCounts | None = None
    notes: list[str] = []
    if incidents_path is not None:
        before_period, after_period = periods
        prepared, count_before, count_after = _count_incidents(
            incidents_path, before_period, after_period, read_options, unit_options, cube_options
        )
        layer = prepared.layer
        population = prepared.cube.population
        notes.extend(prepared.notes)
    else:
        unit_options = unit_options or UnitOptions()
        layer = layer_for(unit_options)
        aggregated = read_unit_counts(
            counts.path,
            layer.units.index,
            before_col=counts.before_col,
            after_col=counts.after_col,
            id_col=counts.id_col,
        )
        count_before, count_after = aggregated.before, aggregated.after
        population = None
        if cube_options.population:
            population, population_notes = align_population(
                read_population(
                    cube_options.population,
                    id_col=cube_options.population_id_col,
                    population_col=cube_options.population_col,
                ),
                layer.units.index,
            )
            notes.extend(population_notes)
        notes.extend([*layer.notes, *aggregated.notes])
        if periods is None:
            notes.append("no --before/--after dates: the periods are taken as equally long")
    neighbours = neighbours_for(layer.units, neighbour_options)
    notes.extend(neighbours.notes)
    table = compare_periods(
        count_before,
        count_after,
        neighbours,
        years_before=None if periods is None else periods[0].years,
        years_after=None if periods is None else periods[1].years,
        population=None if population is None else pd.Series(population, index=layer.units.index),
        options=shift_options,
    )
    label = rate_label(population is not None, periods is not None)
    what = (
        f"{periods[0]} against {periods[1]}"
        if periods
        else f"{counts.before_col} against {counts.after_col}"
    )
    outputs = write_shift_outputs(
        folder,
        layer,
        table,
        title=f"Where violence rose and fell ({layer.title})",
        subtitle=what,
        source=Path(incidents_path if incidents_path is not None else counts.path).name,
        map_options=map_options,
        rate_label=label,
        metadata={
            "periods": None if periods is None else [str(p) for p in periods],
            "rates": label,
            "shift": asdict(shift_options),
            "neighbours": asdict(neighbour_options),
            "packages": package_versions(),
        },
    )
    extra = {
        "periods": {
            "before": None if periods is None else str(periods[0]),
            "after": None if periods is None else str(periods[1]),
            "years": None if periods is None else [periods[0].years, periods[1].years],
        },
        "rates": label,
        "shift": asdict(shift_options),
        "neighbours": asdict(neighbour_options) | {"islands_found": neighbours.islands},
        "labels": table["label"].value_counts().sort_index().to_dict(),
    }
    if prepared is not None:
        outputs |= write_row_reports(prepared, folder)
        prepared.notes = notes
        document = manifest("compare", prepared, outputs, **extra)
    else:
        document = _counts_manifest(counts, layer, aggregated, notes, outputs, extra)
    write_json(document, folder / MANIFEST_FILE)
    return CompareRun(table, layer, neighbours, label, prepared, notes)


def _periods(
    before: str | None, after: str | None, *, required: bool
) -> tuple[Period, Period] | None:
    if before is None and after is None and not required:
        return None
    if before is None or after is None:
        missing = "--before" if before is None else "--after"
        raise OptionError(
            f"{missing} is missing: give both periods as START..END "
            "(for example --before 2015-01-01..2019-12-31 --after 2020-01-01..2023-12-31)"
        )
    periods = parse_period(before, "--before"), parse_period(after, "--after")
    check_periods(*periods)
    return periods


def _count_incidents(
    incidents_path: str | Path,
    before: Period,
    after: Period,
    read_options: ReadOptions | None,
    unit_options: UnitOptions | None,
    cube_options: CubeOptions,
) -> tuple[PreparedCube, pd.Series, pd.Series]:
    """Count each unit's incidents in each period (a daily cube over both periods)."""
    first, last = min(before.first, after.first), max(before.last, after.last)
    prepared = prepare_cube(
        incidents_path,
        read_options=read_options,
        unit_options=unit_options,
        cube_options=replace(
            cube_options, step="day", start=str(first), end=str(last), keep_partial=True
        ),
    )
    days = local_days(prepared.read.incidents[OCCURRED_AT])
    if len(days):
        check_periods(before, after, data_first=days.min(), data_last=days.max())
    cube = prepared.cube
    step_days = cube.step_starts.tz_localize(None).to_numpy(dtype="datetime64[D]")
    counts = {}
    for name, period in (("count_before", before), ("count_after", after)):
        counts[name] = pd.Series(
            cube.counts[:, period.contains(step_days)].sum(axis=1), index=cube.unit_ids, name=name
        )
    return prepared, counts["count_before"], counts["count_after"]


def write_shift_outputs(
    folder: Path,
    layer: UnitLayer,
    table: pd.DataFrame,
    *,
    title: str,
    rate_label: str,
    metadata: dict,
    subtitle: str = "",
    source: str = "",
    map_options: MapOptions | None = None,
) -> dict[str, Path]:
    """Write ``shift.csv``, ``shift.parquet`` (GeoParquet), ``shift.html`` and ``shift.png``
    (before | after | change, always), and ``embed.html`` with ``map_options.embed``."""
    import geopandas as gpd

    units = layer.units
    tidy = table.copy()
    tidy.insert(0, NAME, units[NAME].reindex(tidy.index).to_numpy())
    tidy = tidy.rename_axis(UNIT_ID).reset_index()
    geometry = units.geometry.reindex(table.index).to_numpy()
    return {
        SHIFT_CSV: write_csv(tidy, folder / SHIFT_CSV),
        SHIFT_PARQUET: write_parquet(
            gpd.GeoDataFrame(tidy, geometry=geometry, crs=units.crs),
            folder / SHIFT_PARQUET,
            metadata,
        ),
        **write_map_files(
            folder,
            units,
            shift_content(
                table, title=title, rate_label=rate_label, subtitle=subtitle, source=source
            ),
            SHIFT_MAP,
            replace(map_options or MapOptions(), png=False),  # shift.png is the three panels
        ),
        SHIFT_PNG: shift_png(
            units,
            table,
            title=f"{title}, {subtitle}" if subtitle else title,
            rate_label=rate_label,
            path=folder / SHIFT_PNG,
        ),
    }


def _counts_manifest(
    counts: CountsSource,
    layer: UnitLayer,
    aggregated: UnitCounts,
    notes: list[str],
    outputs: dict[str, Path],
    extra: dict,
) -> dict:
    inputs = [Path(counts.path)]
    if Path(layer.source).is_file():
        inputs.append(Path(layer.source))
    return manifest_base(
        "compare",
        inputs,
        outputs,
        options={"counts": asdict(counts) | {"id_col_used": aggregated.id_column}},
        units={"layer": layer.title, "source": layer.source, "count": len(layer.units)},
        totals={
            "before": int(np.sum(aggregated.before)),
            "after": int(np.sum(aggregated.after)),
        },
        notes=notes,
        **extra,
    )
