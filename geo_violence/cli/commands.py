"""The analysis commands: each parses its options and calls one job of :mod:`geo_violence.jobs`."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import click

from ..choices import ENGINES
from ..errors import OptionError
from .app import logger, main
from .options import (
    COUNT,
    PROBABILITY,
    cube_options,
    emerging_options,
    hotspot_options,
    map_options,
    neighbour_options,
    output_options,
    read_options,
    scan_options,
    shift_options,
    trend_options,
    unit_options,
)


@main.command()
@click.argument("incidents", type=click.Path(path_type=Path))
@read_options
@unit_options
@cube_options()
@click.option(
    "--engine",
    type=click.Choice(ENGINES),
    default="memory",
    show_default=True,
    help="memory; stream (one Parquet, CSV or CSV.gz file in batches); dask (a folder of "
    "Parquet files on a "
    "dask.distributed cluster). stream and dask need --start and --end.",
)
@click.option(
    "--scheduler",
    help="With --engine dask: the scheduler's address (tcp://host:8786); default a local cluster.",
)
@output_options("maps/counts")
def counts(
    incidents: Path, out_dir: Path, overwrite: bool, engine: str, scheduler: str | None, **options
) -> None:
    """Counts per unit per step: counts.parquet, rejects.csv, unassigned.csv, manifest.json."""
    from ..jobs.counts import run_counts, run_scaled_counts  # here: --help stays fast

    if engine != "memory":
        if options["read_options"].filter_category:
            raise OptionError("--filter-category works with --engine memory only")
        result = run_scaled_counts(
            incidents, out_dir, engine=engine, scheduler=scheduler, overwrite=overwrite, **options
        )
        logger.info(
            "read %s rows in %d parts: %s rejected, %s in no unit; %s counted; wrote %s",
            f"{result.rows_read:,}",
            result.parts,
            f"{result.rejected:,}",
            f"{result.unassigned:,}",
            f"{int(result.cube.counts.sum()):,}",
            out_dir,
        )
        return
    prepared = run_counts(incidents, out_dir, overwrite=overwrite, **options)
    logger.info(prepared.summary())
    logger.info("wrote %s", out_dir)


@main.command()
@click.argument("incidents", type=click.Path(path_type=Path))
@read_options
@unit_options
@cube_options(steps=False)
@neighbour_options
@hotspot_options
@map_options
@output_options("maps/hotspots")
def hotspots(incidents: Path, out_dir: Path, overwrite: bool, **options) -> None:
    """Local hot spots of one period: Gi* and local Moran's I, corrected for many tests."""
    from ..jobs.hotspots import run_hotspots  # here: --help stays fast

    run = run_hotspots(incidents, out_dir, overwrite=overwrite, **options)
    logger.info(run.prepared.summary())
    classes = run.table["gi_class"]
    logger.info(
        "%d hot and %d cold units at 90%% confidence or more after correction; wrote %s",
        int((classes > 0).sum()),
        int((classes < 0).sum()),
        out_dir,
    )


@main.command()
@click.argument("incidents", type=click.Path(path_type=Path))
@read_options
@unit_options
@cube_options()
@neighbour_options
@emerging_options
@map_options
@output_options("maps/emerging")
def emerging(incidents: Path, out_dir: Path, overwrite: bool, **options) -> None:
    """Emerging and fading hot spots over weekly (or monthly, daily) steps."""
    from ..jobs.emerging import run_emerging  # here: --help stays fast

    run = run_emerging(incidents, out_dir, overwrite=overwrite, **options)
    logger.info(run.prepared.summary())
    counts = run.table["category"].value_counts()
    logger.info(
        "categories: %s; wrote %s",
        ", ".join(f"{n} {name}" for name, n in counts.items()),
        out_dir,
    )


@main.command()
@click.argument("incidents", type=click.Path(path_type=Path))
@read_options
@unit_options
@cube_options(step="month")
@neighbour_options
@trend_options
@map_options
@output_options("maps/trends")
def trends(incidents: Path, out_dir: Path, overwrite: bool, **options) -> None:
    """Where violence has been rising or falling, unit by unit, over the whole period: the
    rate ratio per year, when the change began, and against the city (months by default)."""
    from ..jobs.trends import run_trends  # here: --help stays fast

    run = run_trends(incidents, out_dir, overwrite=overwrite, **options)
    logger.info(run.prepared.summary())
    counts = run.result.units["label"].value_counts()
    city = run.result.city
    logger.info(
        "the city: %.3g a year (%.3g to %.3g), %s; units: %s; wrote %s",
        city["rate_ratio_per_year"],
        city["rate_ratio_low"],
        city["rate_ratio_high"],
        city["direction"],
        ", ".join(f"{n} {name}" for name, n in counts.items()),
        out_dir,
    )


@main.command()
@click.argument("incidents", type=click.Path(path_type=Path))
@read_options
@unit_options
@cube_options()
@neighbour_options
@click.option(
    "--origins",
    required=True,
    help="START..END: each step starting in it is an origin (ranked on the steps before it).",
)
@click.option(
    "--top",
    type=click.IntRange(min=1),
    multiple=True,
    default=(20,),
    show_default=True,
    help="Units in the list (K) the capture, PAI, PEI* and RRI are taken at (repeat).",
)
@click.option(
    "--horizon",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Steps scored after each origin.",
)
@click.option(
    "--level",
    type=PROBABILITY,
    default=0.9,
    show_default=True,
    help="Level of the forecast's prediction intervals (their coverage is scored).",
)
@click.option("--seed", type=COUNT, default=0, show_default=True, help="Bootstrap seed.")
@output_options("maps/backtest")
def backtest(incidents: Path, out_dir: Path, overwrite: bool, **options) -> None:
    """Replay the outreach rankings over past steps: what share of the next incidents the
    forecast's top units held, against simple baselines (backtest.csv, backtest.html)."""
    from ..jobs.backtest import run_backtest  # here: --help stays fast

    options["top"] = tuple(options["top"])
    run = run_backtest(incidents, out_dir, overwrite=overwrite, **options)
    logger.info(run.prepared.summary())
    k = options["top"][0]
    capture = run.result.summary.query(f"metric == 'capture_{k}'")
    logger.info(
        "top %d, mean share of the next incidents: %s; wrote %s",
        k,
        "; ".join(f"{row.ranking} {row.mean:.1%}" for row in capture.itertuples()),
        out_dir,
    )


@main.command()
@click.argument("incidents", type=click.Path(path_type=Path))
@read_options
@unit_options
@cube_options()
@scan_options
@map_options
@output_options("maps/scan")
def scan(incidents: Path, out_dir: Path, overwrite: bool, **options) -> None:
    """Early warning: did a cluster of incidents start in the last steps? The prospective
    space-time permutation scan (clusters.csv, scan.html)."""
    from ..jobs.scan import alarm_lines, run_scan  # here: --help stays fast

    run = run_scan(incidents, out_dir, overwrite=overwrite, **options)
    logger.info(run.prepared.summary())
    for line in alarm_lines(run.result, run.prepared.layer.units["name"]):
        logger.info(line)
    logger.info("wrote %s", out_dir)


@main.command()
@click.argument("incidents", type=click.Path(path_type=Path), required=False)
@click.option("--before", help="First period, START..END (days included).")
@click.option("--after", help="Second period, START..END (days included).")
@click.option(
    "--counts",
    "counts_file",
    type=click.Path(),
    help="Counts already aggregated per unit, instead of INCIDENTS (CSV, Parquet, GeoJSON).",
)
@click.option("--before-col", help="With --counts: the column of the first period's counts.")
@click.option("--after-col", help="With --counts: the column of the second period's counts.")
@click.option(
    "--counts-id-col", help="With --counts: the column naming the units (default: guessed)."
)
@read_options
@unit_options
@cube_options(steps=False, period=False)
@neighbour_options
@shift_options
@map_options
@output_options("maps/compare")
def compare(
    incidents: Path | None,
    counts_file: str | None,
    before_col: str | None,
    after_col: str | None,
    counts_id_col: str | None,
    out_dir: Path,
    overwrite: bool,
    **options,
) -> None:
    """Compare two periods unit by unit: where violence rose or fell more than chance."""
    from ..jobs.compare import CountsSource, run_compare  # here: --help stays fast

    counts_source = None
    if counts_file is not None:
        if not before_col or not after_col:
            raise OptionError("--counts needs --before-col and --after-col")
        counts_source = CountsSource(counts_file, before_col, after_col, counts_id_col)
    elif before_col or after_col or counts_id_col:
        raise OptionError("--before-col, --after-col and --counts-id-col go with --counts FILE")
    run = run_compare(incidents, out_dir, counts=counts_source, overwrite=overwrite, **options)
    if run.prepared is not None:
        logger.info(run.prepared.summary())
    labels = run.table["label"].value_counts()
    logger.info(
        "rates %s; %s; wrote %s",
        run.rate_label,
        ", ".join(f"{n} {label}" for label, n in labels.items()),
        out_dir,
    )


@main.command()
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.option(
    "--out",
    "out_dir",
    type=click.Path(path_type=Path),
    help="Folder for summary.html, summary.md and deploy.csv (default: RUN_DIR).",
)
@click.option(
    "--top",
    type=click.IntRange(min=1),
    default=10,
    show_default=True,
    help="Units in the summary's outreach table.",
)
@click.option("--overwrite", is_flag=True, help="Replace outputs that exist already.")
def report(run_dir: Path, out_dir: Path | None, top: int, overwrite: bool) -> None:
    """Weekly summary of a run folder (summary.html, summary.md) and deploy.csv for outreach.

    RUN_DIR must hold the outputs of `geo-violence emerging` (emerging.csv and
    emerging_bins.parquet; the weekly job writes them); the shift, trends, scan and backtest
    outputs there are used when present.
    """
    from ..jobs.report import run_report  # here: --help stays fast

    run = run_report(run_dir, out_dir, top=top, overwrite=overwrite)
    first = run.deploy.head(3)
    logger.info(
        "top units for outreach: %s; wrote %s",
        ", ".join(f"{row.name} ({row.score:g})" for row in first.itertuples()) or "none",
        out_dir or run_dir,
    )


@main.command()
@click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path),
    required=True,
    help="The weekly TOML file.",
)
@click.option("--print-config", is_flag=True, help="Show the effective configuration and stop.")
@click.option("--today", help="Report the last complete week before this day (YYYY-MM-DD).")
def weekly(config_path: Path, print_config: bool, today: str | None) -> None:
    """Pull the new week, run every analysis for every layer, publish runs/YYYY-Www.

    Exit status: 0 done; 1 a user error (config, options, data); 2 the data source unavailable
    (nothing published); 3 the source's records changed shape (nothing published); 4 another run
    holds the lock; 130 interrupted. runs/latest moves only when the whole run succeeded.
    """
    from ..jobs.weekly import config_toml, read_config, run_weekly  # here: --help stays fast

    config = read_config(config_path)
    if print_config:
        click.echo(config_toml(config))
        return
    day = None
    if today is not None:
        try:
            day = dt.date.fromisoformat(today)
        except ValueError as error:
            raise OptionError(f"--today was {today!r}, which is not a date (YYYY-MM-DD)") from error
        if not dt.date(1901, 1, 1) <= day <= dt.date(2100, 12, 31):
            raise OptionError(f"--today was {today!r}: give a day from 1901 to 2100")
    run = run_weekly(config, today=day)
    logger.info("week %s published in %s", run.week, run.folder)


@main.command()
@click.option("--seed", type=COUNT, default=20240101, show_default=True, help="Random seed.")
@output_options("maps/demo")
def demo(seed: int, out_dir: Path, overwrite: bool) -> None:
    """Run every stage on seeded synthetic incidents over the 77 community areas (offline)."""
    from ..jobs.demo import run_demo  # here: --help stays fast

    prepared = run_demo(out_dir, seed=seed, overwrite=overwrite)
    logger.info("synthetic data, planted patterns: see the README")
    logger.info(prepared.summary())
    logger.info("wrote %s", out_dir)
