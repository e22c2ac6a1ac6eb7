"""Options shared by the commands, each group reaching its command as one options object.

A click option per flag; :func:`option_group` turns a group of them into the dataclass the jobs
take (``ReadOptions``, ``UnitOptions``, ...), so a command only hands objects on.
"""

from __future__ import annotations

import functools
import importlib
import math
from collections.abc import Callable
from pathlib import Path

import click

from ..choices import (
    ASSIGN_METHODS,
    BASEMAPS,
    FDR_METHODS,
    HOTSPOT_P_VALUE_METHODS,
    ISLAND_POLICIES,
    NEIGHBOUR_METHODS,
    P_VALUE_METHODS,
    SMOOTHING_METHODS,
    STEPS,
    TREND_CORRECTIONS,
    WINDOWS,
)
from ..jobs.options import (
    CubeOptions,
    MapOptions,
    NeighbourOptions,
    ReadOptions,
    UnitOptions,
)


class WholeNumber(click.ParamType):
    """A whole number of at least ``minimum``, also written as ``1e6`` or ``10_000``."""

    name = "integer"

    def __init__(self, minimum: int = 0) -> None:
        self.minimum = minimum

    def convert(self, value, param, ctx) -> int:
        if isinstance(value, int) and not isinstance(value, bool):
            number = value
        else:
            text = str(value).strip().replace("_", "")
            try:
                number = int(text)
            except ValueError:
                try:
                    as_float = float(text)
                except ValueError:
                    self.fail(f"{value!r} is not a whole number", param, ctx)
                if not math.isfinite(as_float) or not as_float.is_integer():
                    self.fail(f"{value!r} is not a whole number", param, ctx)
                number = int(as_float)
        if number < self.minimum:
            self.fail(f"{value} is smaller than the minimum {self.minimum}", param, ctx)
        return number


#: A count of things (permutations, seeds, steps): a whole number, zero or more.
COUNT = WholeNumber(0)
#: A significance level: above 0, below 1.
PROBABILITY = click.FloatRange(0, 1, min_open=True, max_open=True)


def split_values(values: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(part.strip() for value in values for part in value.split(",") if part.strip())


def built_later(module: str, name: str) -> Callable[..., object]:
    """A builder that imports ``module.name`` when a command runs, not when ``--help`` is read
    (the analyses' options classes live beside numpy and scipy).

    Examples
    --------
    >>> built_later("geo_violence.stats.shift", "ShiftOptions")(seed=3).seed
    3
    """

    def build(**values: object) -> object:
        return getattr(importlib.import_module(module), name)(**values)

    return build


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
        filter_category=split_values(filter_category), **columns
    ),
    [
        click.option("--time-col", help="Column with the time (portal export: Date)."),
        click.option("--x-col", help="Column with x or longitude (portal: X Coordinate)."),
        click.option("--y-col", help="Column with y or latitude (portal: Y Coordinate)."),
        click.option("--crs", help="CRS of the coordinates, e.g. EPSG:4326 (portal: EPSG:3435)."),
        click.option("--id-col", help="Column with the incident id (default: the line number)."),
        click.option("--category-col", help="Column with the category (portal: Primary Type)."),
        click.option(
            "--time-format",
            help="strftime format of the time column, e.g. '%m/%d/%Y %I:%M:%S %p' (default: "
            "detected from the values: ISO 8601, with or without an offset, or the portal's "
            "MM/DD/YYYY hh:mm:ss AM).",
        ),
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


def _step_options(default: str) -> list[Callable]:
    return [
        click.option(
            "--step",
            type=click.Choice(STEPS),
            default=default,
            show_default=True,
            help="Length of a step: ISO weeks from Monday, calendar months, or days.",
        ),
        click.option("--keep-partial", is_flag=True, help="Keep incomplete first/last steps."),
    ]


def cube_options(*, steps: bool = True, period: bool = True, step: str = "week") -> Callable:
    """Options of assignment and counting (``steps=False`` for one period, no step length;
    ``period=False`` where the command takes its periods otherwise; ``step`` the default
    step)."""
    return option_group(
        "cube_options",
        CubeOptions,
        _ASSIGN_OPTIONS
        + (_START_END_OPTIONS if period else [])
        + _POPULATION_OPTIONS
        + (_step_options(step) if steps else []),
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

_SEED = click.option(
    "--seed",
    type=COUNT,
    default=12345,
    show_default=True,
    help="Seed of the random draws: the same seed gives the same tables.",
)
_FDR = click.option(
    "--fdr",
    type=click.Choice(FDR_METHODS),
    default="bh",
    show_default=True,
    help="Correction for testing many at once: Benjamini-Hochberg, Bonferroni, none.",
)
_ALPHA = click.option(
    "--alpha",
    type=PROBABILITY,
    default=0.05,
    show_default=True,
    help="Level at which a corrected p-value (q) is significant.",
)

hotspot_options = option_group(
    "hotspot_options",
    built_later("geo_violence.stats.hotspots", "HotspotOptions"),
    [
        _FDR,
        _ALPHA,
        click.option(
            "--permutations",
            type=COUNT,
            default=0,
            show_default=True,
            help="Gi* conditional permutations (0: analytic, as --p-values says).",
        ),
        click.option(
            "--p-values",
            type=click.Choice(HOTSPOT_P_VALUE_METHODS),
            default="auto",
            show_default=True,
            help="Gi* p-values: auto (the exact distribution of Gi*'s null where counts are "
            "too sparse for the normal tail: holds its error rate; permutations when asked), "
            "arcgis (ArcGIS's normal tail, or permutations), normal, exact (count tails), "
            "randomisation, permutation.",
        ),
        click.option(
            "--lisa-permutations",
            type=WholeNumber(1),
            default=999,
            show_default=True,
            help="Conditional permutations for local Moran's I (the smallest p is 1/(N+1)).",
        ),
        _SEED,
        click.option(
            "--smoothing",
            type=click.Choice(SMOOTHING_METHODS),
            default="eb",
            show_default=True,
            help="With --population: Gi* and local Moran's I on Empirical Bayes standardised "
            "rates, or on raw rates.",
        ),
    ],
)

emerging_options = option_group(
    "emerging_options",
    built_later("geo_violence.stats.emerging", "EmergingOptions"),
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
            help="Conditional permutations for the p-values (0: analytic, as --p-values says).",
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
        click.option(
            "--trend-alpha",
            type=PROBABILITY,
            default=0.05,
            show_default=True,
            help="Level of the Mann-Kendall trend test behind intensifying and diminishing.",
        ),
        click.option(
            "--drop-empty", is_flag=True, help="Leave units with no event out of the statistics."
        ),
        click.option(
            "--p-values",
            type=click.Choice(P_VALUE_METHODS),
            default="auto",
            show_default=True,
            help="Bin p-values: auto (exact count tails where counts are too sparse for the "
            "normal tail: holds its error rate; permutations when asked), arcgis (ArcGIS's "
            "normal tail, or permutations), normal, exact, rate, permutation.",
        ),
        click.option(
            "--trend-correction",
            type=click.Choice(TREND_CORRECTIONS),
            default="window",
            show_default=True,
            help="Mann-Kendall's variance allowing for the serial correlation of the z series: "
            "the window's, estimated (hamed-rao, yue-wang), or none (ArcGIS, sfdep).",
        ),
        click.option(
            "--recent-fraction",
            type=click.FloatRange(0, 1, min_open=True, max_open=True),
            default=0.25,
            show_default=True,
            help="The share of the last steps recent_hot_share and recent_rate_ratio call recent.",
        ),
    ],
)


shift_options = option_group(
    "shift_options",
    built_later("geo_violence.stats.shift", "ShiftOptions"),
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
            "--lisa-permutations",
            type=WholeNumber(1),
            default=999,
            show_default=True,
            help="Conditional permutations for local Moran's I (the smallest p is 1/(N+1)).",
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


trend_options = option_group(
    "trend_options",
    built_later("geo_violence.stats.trends", "TrendOptions"),
    [
        click.option(
            "--alpha",
            type=PROBABILITY,
            default=0.05,
            show_default=True,
            help="Level of the corrected p-values (q) for rising and falling.",
        ),
        _FDR,
        click.option(
            "--confidence",
            type=PROBABILITY,
            default=0.95,
            show_default=True,
            help="Level of the intervals (rate ratio per year, when the change began).",
        ),
        click.option(
            "--exact-max-events",
            type=COUNT,
            default=50,
            show_default=True,
            help="Units with at most this many events get exact p-values.",
        ),
        click.option(
            "--lisa-permutations",
            type=click.IntRange(min=1),
            default=999,
            show_default=True,
            help="Permutations of the local Moran's I of the trends (clusters of change).",
        ),
        _SEED,
    ],
)


scan_options = option_group(
    "scan_options",
    built_later("geo_violence.jobs.scan", "ScanOptions"),
    [
        click.option(
            "--history",
            type=click.IntRange(min=2),
            default=52,
            show_default=True,
            help="Steps scanned, ending at the last: the expectations come from them.",
        ),
        click.option(
            "--max-steps",
            type=click.IntRange(min=1),
            default=4,
            show_default=True,
            help="The longest cluster, in steps (at most half the history).",
        ),
        click.option(
            "--max-units",
            type=click.IntRange(min=1),
            default=None,
            help="The largest cluster, in units [default: 10% of the units, at most 100].",
        ),
        click.option(
            "--permutations",
            type=click.IntRange(min=1),
            default=999,
            show_default=True,
            help="Random tables for the p-values (19 at least for p <= 0.05).",
        ),
        click.option(
            "--alpha",
            type=PROBABILITY,
            default=0.05,
            show_default=True,
            help="Level of an alarm.",
        ),
        _SEED,
        click.option(
            "--min-observed",
            type=click.IntRange(min=1),
            default=2,
            show_default=True,
            help="The fewest incidents a cluster may hold.",
        ),
    ],
)
