"""The ``geo-violence`` command line: each command parses options and calls one library function.

Every error a user can cause is printed as one line (``error: ...``) with exit status 1.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import sys
from collections.abc import Callable
from pathlib import Path

import click

from .assign import ASSIGN_METHODS
from .cache import fetch_boundaries
from .cube import STEPS
from .errors import GeoViolenceError, OptionError
from .pipeline import (
    CountsSource,
    CubeOptions,
    MapOptions,
    NeighbourOptions,
    ReadOptions,
    UnitOptions,
    run_compare,
    run_counts,
    run_demo,
    run_emerging,
    run_hotspots,
    run_report,
)
from .pipeline.scaled import run_scaled_counts
from .pipeline.weekly import config_toml, read_config, run_weekly
from .portal import CRIMES_DATASET, DEFAULT_BASE_URL, FetchOptions, pull_crimes
from .render import BASEMAPS
from .scale import ENGINES
from .stats.emerging import WINDOWS, EmergingOptions
from .stats.hotspots import SMOOTHING_METHODS, HotspotOptions
from .stats.shift import ShiftOptions
from .stats.significance import FDR_METHODS
from .weights import ISLAND_POLICIES, NEIGHBOUR_METHODS

logger = logging.getLogger("geo_violence")

#: A count of things (permutations, seeds, steps): a whole number, zero or more.
COUNT = click.IntRange(min=0)
#: A significance level: above 0, below 1.
PROBABILITY = click.FloatRange(0, 1, min_open=True, max_open=True)


class _Group(click.Group):
    """A click group that turns user errors into one line and exit status 1."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except click.UsageError as error:  # a bad option value: one line too, not the usage
            command = f" {error.ctx.info_name}" if error.ctx and error.ctx.parent else ""
            _fail(ctx, f"{error.format_message()} (see geo-violence{command} --help)")
        except (GeoViolenceError, OSError) as error:  # OSError: disk full, permission denied
            _fail(ctx, str(error), getattr(error, "exit_code", 1))
        except KeyboardInterrupt:
            _fail(ctx, "interrupted", 130)


def _fail(ctx: click.Context, message: str, status: int = 1) -> None:
    """Print an error as one line and exit with its status (1 for a user error; see
    ``geo-violence weekly --help`` for the others)."""
    click.echo("error: " + " ".join(message.split()), err=True)
    ctx.exit(status)


def _configure_logging(verbose: int, quiet: int) -> None:
    level = logging.INFO - 10 * verbose + 10 * quiet
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    logger.handlers[:] = [handler]
    logger.setLevel(max(logging.DEBUG, level))
    logger.propagate = False


@click.group(cls=_Group)
@click.version_option(package_name="geo-violence")
@click.option("-v", "--verbose", count=True, help="Say more (repeat for debug output).")
@click.option("-q", "--quiet", count=True, help="Say less: only warnings and errors.")
def main(verbose: int, quiet: int) -> None:
    """Where violence is concentrating and where it is fading, unit by unit."""
    _configure_logging(verbose, quiet)


def _split(values: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(part.strip() for value in values for part in value.split(",") if part.strip())


def option_group(key: str, build: Callable[..., object], options: list[Callable]) -> Callable:
    """Shared options that reach the command as one object.

    ``build`` receives the options' values by their parameter names and returns the object
    (an options dataclass) that the command gets as its ``key`` argument.
    """

    def probe() -> None: ...

    for option in options:
        option(probe)
    names = [param.name for param in probe.__click_params__]

    def decorate(command: Callable) -> Callable:
        @functools.wraps(command)
        def wrapper(**kwargs):
            kwargs[key] = build(**{name: kwargs.pop(name) for name in names})
            return command(**kwargs)

        for option in reversed(options):
            wrapper = option(wrapper)
        return wrapper

    return decorate


read_options = option_group(
    "read_options",
    lambda filter_category, **columns: ReadOptions(
        filter_category=_split(filter_category), **columns
    ),
    [
        click.option("--time-col", help="Column with the time (portal export: Date)."),
        click.option("--x-col", help="Column with x or longitude (portal: X Coordinate)."),
        click.option("--y-col", help="Column with y or latitude (portal: Y Coordinate)."),
        click.option("--crs", help="CRS of the coordinates, e.g. EPSG:4326 (portal: EPSG:3435)."),
        click.option("--id-col", help="Column with the incident id (default: the line number)."),
        click.option("--category-col", help="Column with the category (portal: Primary Type)."),
        click.option("--time-format", help="strftime format of the time column (default: ISO)."),
        click.option(
            "--filter-category",
            multiple=True,
            help="Keep only these categories (repeat, or separate with commas).",
        ),
    ],
)

unit_options = option_group(
    "unit_options",
    lambda units_crs, **fields: UnitOptions(crs=units_crs, **fields),
    [
        click.option(
            "--units",
            default="community_areas",
            show_default=True,
            help="community_areas, beats, districts, wards, or a polygon file.",
        ),
        click.option("--units-file", help="File of a catalogue layer (beats, districts, wards)."),
        click.option("--id-field", help="Field with the unit id (needed for a file of your own)."),
        click.option("--name-field", help="Field with the unit name."),
        click.option("--units-crs", help="CRS of a units file that does not record one."),
    ],
)

_ASSIGN_OPTIONS = [
    click.option(
        "--assign",
        type=click.Choice(ASSIGN_METHODS),
        default="polygon",
        show_default=True,
        help="The polygon that contains the point, or the incident's recorded code.",
    ),
    click.option("--code-col", help="Column with the recorded unit code (portal: Beat)."),
]
_START_END_OPTIONS = [
    click.option("--start", help="First day of the period, YYYY-MM-DD (included)."),
    click.option("--end", help="Last day of the period, YYYY-MM-DD (included)."),
]
_POPULATION_OPTIONS = [
    click.option("--population", type=click.Path(), help="CSV of residents per unit."),
    click.option("--population-id-col", help="Id column of the population file."),
    click.option("--population-col", help="Population column of the population file."),
]
_STEP_OPTIONS = [
    click.option("--step", type=click.Choice(STEPS), default="week", show_default=True),
    click.option("--keep-partial", is_flag=True, help="Keep incomplete first/last steps."),
]


def cube_options(*, steps: bool = True, period: bool = True) -> Callable:
    """Options of assignment and counting (``steps=False`` for one period, no step length;
    ``period=False`` where the command takes its periods otherwise)."""
    return option_group(
        "cube_options",
        CubeOptions,
        _ASSIGN_OPTIONS
        + (_START_END_OPTIONS if period else [])
        + _POPULATION_OPTIONS
        + (_STEP_OPTIONS if steps else []),
    )


neighbour_options = option_group(
    "neighbour_options",
    lambda neighbours, **rest: NeighbourOptions(method=neighbours, **rest),
    [
        click.option(
            "--neighbours",
            type=click.Choice(NEIGHBOUR_METHODS),
            default="queen",
            show_default=True,
            help="Contiguity (queen, rook), k nearest, or a distance band.",
        ),
        click.option(
            "--k",
            type=click.IntRange(min=1),
            default=6,
            show_default=True,
            help="Neighbours for knn.",
        ),
        click.option(
            "--distance",
            type=click.FloatRange(min=0, min_open=True),
            help="Band for --neighbours distance, in feet.",
        ),
        click.option(
            "--islands",
            type=click.Choice(ISLAND_POLICIES),
            default="nearest",
            show_default=True,
            help="Units with no neighbour: join to the nearest unit, refuse, or leave out.",
        ),
    ],
)

_SEED = click.option("--seed", type=COUNT, default=12345, show_default=True)
_FDR = click.option(
    "--fdr",
    type=click.Choice(FDR_METHODS),
    default="bh",
    show_default=True,
    help="Correction for testing many at once: Benjamini-Hochberg, Bonferroni, none.",
)
_ALPHA = click.option("--alpha", type=PROBABILITY, default=0.05, show_default=True)

hotspot_options = option_group(
    "hotspot_options",
    HotspotOptions,
    [
        _FDR,
        _ALPHA,
        click.option(
            "--permutations",
            type=COUNT,
            default=0,
            show_default=True,
            help="Gi* conditional permutations (0: analytic normal p-values).",
        ),
        click.option(
            "--lisa-permutations", type=click.IntRange(min=1), default=999, show_default=True
        ),
        _SEED,
        click.option(
            "--smoothing",
            type=click.Choice(SMOOTHING_METHODS),
            default="eb",
            show_default=True,
            help="With --population: Empirical Bayes rates for local Moran's I, or raw rates.",
        ),
    ],
)

emerging_options = option_group(
    "emerging_options",
    EmergingOptions,
    [
        click.option(
            "--time-window",
            type=COUNT,
            default=1,
            show_default=True,
            help="K: neighbours at the K steps before are neighbours too.",
        ),
        click.option(
            "--window",
            type=click.Choice(WINDOWS),
            default="cube",
            show_default=True,
            help="Whose mean and deviation standardise a bin: the cube, its step, or t-K..t.",
        ),
        click.option(
            "--permutations",
            type=COUNT,
            default=0,
            show_default=True,
            help="Conditional permutations for the p-values (0: analytic normal).",
        ),
        _SEED,
        _FDR,
        _ALPHA,
        click.option(
            "--persistence",
            type=click.FloatRange(0, 1, min_open=True),
            default=0.9,
            show_default=True,
            help="Share of steps for persistent, intensifying, diminishing, historical.",
        ),
        click.option("--trend-alpha", type=PROBABILITY, default=0.05, show_default=True),
        click.option(
            "--drop-empty", is_flag=True, help="Leave units with no event out of the statistics."
        ),
    ],
)


shift_options = option_group(
    "shift_options",
    ShiftOptions,
    [
        _FDR,
        click.option(
            "--alpha",
            type=PROBABILITY,
            default=0.10,
            show_default=True,
            help="Level of the corrected p-values for rising, falling and hot before "
            "(0.10: 90%, the weakest Gi* class).",
        ),
        click.option(
            "--lisa-permutations", type=click.IntRange(min=1), default=999, show_default=True
        ),
        _SEED,
    ],
)


map_options = option_group(
    "map_options",
    MapOptions,
    [
        click.option(
            "--basemap",
            type=click.Choice(tuple(BASEMAPS)),
            default="none",
            show_default=True,
            help="Tiles under the map (the only thing a page fetches); none reads offline.",
        ),
        click.option("--png", is_flag=True, help="Also write the map as a PNG, for print."),
        click.option(
            "--embed",
            is_flag=True,
            help="Also write embed.html: a responsive, sandboxed iframe for articles.",
        ),
    ],
)


def output_options(default: str) -> Callable:
    """``--out`` and ``--overwrite``."""

    def decorate(command: Callable) -> Callable:
        command = click.option(
            "--overwrite", is_flag=True, help="Replace outputs that exist already."
        )(command)
        return click.option(
            "--out",
            "out_dir",
            type=click.Path(path_type=Path),
            default=default,
            show_default=True,
            help="Output folder.",
        )(command)

    return decorate


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
    help="memory; stream (one Parquet file in batches); dask (a folder of Parquet files on a "
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
    run = run_emerging(incidents, out_dir, overwrite=overwrite, **options)
    logger.info(run.prepared.summary())
    counts = run.table["category"].value_counts()
    logger.info(
        "categories: %s; wrote %s",
        ", ".join(f"{n} {name}" for name, n in counts.items()),
        out_dir,
    )


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
    """Weekly summary of a run folder (summary.html, summary.md) and deploy.csv for outreach."""
    run = run_report(run_dir, out_dir, top=top, overwrite=overwrite)
    first = run.deploy.head(3)
    logger.info(
        "top units for outreach: %s; wrote %s",
        ", ".join(f"{row.name} ({row.score:g})" for row in first.itertuples()) or "none",
        out_dir or run_dir,
    )


@main.group(cls=_Group)
def fetch() -> None:
    """Download from the city's data portal: crimes into a store, boundaries into the cache."""


@fetch.command("crimes")
@click.option("--since", required=True, help="First day of the records kept, YYYY-MM-DD.")
@click.option(
    "--types", multiple=True, help="Primary types to keep (HOMICIDE,...); all when not given."
)
@click.option(
    "--out",
    "store",
    type=click.Path(path_type=Path),
    required=True,
    help="The Parquet store, kept and updated between pulls.",
)
@click.option("--base-url", default=DEFAULT_BASE_URL, show_default=True)
@click.option("--dataset", default=CRIMES_DATASET, show_default=True)
@click.option("--page-size", type=click.IntRange(min=1), default=50_000, show_default=True)
@click.option(
    "--timeout",
    type=click.FloatRange(min=0, min_open=True),
    default=60.0,
    show_default=True,
    help="Seconds to wait for an answer.",
)
@click.option("--retries", type=COUNT, default=5, show_default=True)
def fetch_crimes(since, types, store, base_url, dataset, page_size, timeout, retries) -> None:
    """New, corrected and deleted records since the last pull ("Crimes - 2001 to Present").

    The app token, if any, is read from the GEO_VIOLENCE_APP_TOKEN environment variable.
    Exit status 2 when the portal is unavailable, 3 when its records changed shape.
    """
    result = pull_crimes(
        store,
        since=since,
        types=_split(types),
        options=FetchOptions(
            base_url=base_url,
            dataset=dataset,
            page_size=page_size,
            timeout=timeout,
            retries=retries,
        ),
    )
    logger.info(
        "%s: %d records (%d fetched, %d replaced, %d deleted; newest update %s)",
        store,
        result.records,
        result.fetched,
        result.replaced,
        result.deleted,
        result.last_updated,
    )


@fetch.command("boundaries")
@click.argument("layer", type=click.Choice(["beats", "districts", "wards", "community_areas"]))
@click.option("--base-url", default=DEFAULT_BASE_URL, show_default=True)
def fetch_boundaries_command(layer: str, base_url: str) -> None:
    """Store a layer's GeoJSON in the cache (GEO_VIOLENCE_CACHE moves it), with its sha256,
    so that --units LAYER works with no file option."""
    path = fetch_boundaries(layer, base_url=base_url)
    logger.info("stored %s", path)


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
    run = run_weekly(config, today=day)
    logger.info("week %s published in %s", run.week, run.folder)


@main.command()
@click.option("--seed", type=COUNT, default=20240101, show_default=True, help="Random seed.")
@output_options("maps/demo")
def demo(seed: int, out_dir: Path, overwrite: bool) -> None:
    """Run every stage on seeded synthetic incidents over the 77 community areas (offline)."""
    prepared = run_demo(out_dir, seed=seed, overwrite=overwrite)
    logger.info("synthetic data, planted patterns: see the README")
    logger.info(prepared.summary())
    logger.info("wrote %s", out_dir)
