"""The options of the stages every job goes through, and the keyword arguments that carry them.

Each stage's options are a frozen dataclass (:class:`ReadOptions`, :class:`UnitOptions`,
:class:`CubeOptions`, :class:`NeighbourOptions`, :class:`MapOptions`); :class:`StageOptions`
holds one of each plus ``overwrite``. :func:`takes_stage_options` gives a job function the
public keywords ``read_options=``, ``unit_options=``, ``cube_options=``,
``neighbour_options=``, ``map_options=`` and ``overwrite=`` (each ``None`` for that stage's
defaults; ``overwrite=False``) and hands it one :class:`StageOptions` as ``stages``, so every job
spells them the same way and none repeats them; it also holds the lock of the job's output folder
(its ``out_dir``) while the job runs, so two runs never write into one folder at once.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import ParamSpec, TypeVar

from ..outputs import folder_lock


@dataclass(frozen=True)
class ReadOptions:
    """How to read the incident file (see :func:`geo_violence.read_incidents`)."""

    time_col: str | None = None
    x_col: str | None = None
    y_col: str | None = None
    crs: str | None = None
    id_col: str | None = None
    category_col: str | None = None
    time_format: str | None = None
    filter_category: tuple[str, ...] = ()


@dataclass(frozen=True)
class UnitOptions:
    """Which units to use (see :func:`geo_violence.load_units`)."""

    units: str = "community_areas"
    units_file: str | None = None
    id_field: str | None = None
    name_field: str | None = None
    crs: str | None = None


@dataclass(frozen=True)
class CubeOptions:
    """How to assign and count (see :func:`geo_violence.assign_units` and ``build_cube``)."""

    step: str = "week"
    start: str | None = None
    end: str | None = None
    keep_partial: bool = False
    assign: str = "polygon"
    code_col: str | None = None
    population: str | None = None
    population_id_col: str | None = None
    population_col: str | None = None


@dataclass(frozen=True)
class NeighbourOptions:
    """How to find neighbours (see :func:`geo_violence.build_weights`)."""

    method: str = "queen"
    k: int = 6
    distance: float | None = None
    islands: str = "nearest"


@dataclass(frozen=True)
class MapOptions:
    """How maps are written: basemap tiles, a static PNG beside each map, an embed snippet."""

    basemap: str = "none"
    png: bool = False
    embed: bool = False


@dataclass(frozen=True)
class StageOptions:
    """One of each stage's options, and whether outputs may be replaced.

    Examples
    --------
    >>> StageOptions().units.units, StageOptions(overwrite=True).overwrite
    ('community_areas', True)
    """

    read: ReadOptions = field(default_factory=ReadOptions)
    units: UnitOptions = field(default_factory=UnitOptions)
    cube: CubeOptions = field(default_factory=CubeOptions)
    neighbours: NeighbourOptions = field(default_factory=NeighbourOptions)
    maps: MapOptions = field(default_factory=MapOptions)
    overwrite: bool = False


#: The public keyword of each stage's options, its class, and the StageOptions field it fills.
STAGE_KEYWORDS = {
    "read_options": (ReadOptions, "read"),
    "unit_options": (UnitOptions, "units"),
    "cube_options": (CubeOptions, "cube"),
    "neighbour_options": (NeighbourOptions, "neighbours"),
    "map_options": (MapOptions, "maps"),
}

P = ParamSpec("P")
R = TypeVar("R")


def takes_stage_options(job: Callable[..., R]) -> Callable[..., R]:
    """Give a job the stage keywords of every job and hand it one :class:`StageOptions`.

    The job is written with a keyword-only ``stages`` parameter; the function users call takes
    ``read_options``, ``unit_options``, ``cube_options``, ``neighbour_options``,
    ``map_options`` (each ``None`` for the defaults) and ``overwrite`` (``False``) instead, and
    its signature says so. A job with an ``out_dir`` parameter runs holding that folder's lock
    (:func:`geo_violence.outputs.folder_lock`; :class:`geo_violence.errors.BusyError` when another
    run holds it).

    Examples
    --------
    >>> @takes_stage_options
    ... def run_nothing(path, *, stages):
    ...     return stages.cube.step, stages.overwrite
    >>> run_nothing("x.csv", cube_options=CubeOptions(step="month"), overwrite=True)
    ('month', True)
    >>> list(inspect.signature(run_nothing).parameters)[1:4]
    ['read_options', 'unit_options', 'cube_options']
    """
    signature = inspect.signature(job)

    @functools.wraps(job)
    def with_stage_options(*args, overwrite: bool = False, **kwargs) -> R:
        given = {
            target: kwargs.pop(keyword, None) or cls()
            for keyword, (cls, target) in STAGE_KEYWORDS.items()
        }
        stages = StageOptions(**given, overwrite=overwrite)
        try:
            out_dir = signature.bind_partial(*args, **kwargs).arguments.get("out_dir")
        except TypeError:  # a wrong call: the job says so
            out_dir = None
        if out_dir is None:
            return job(*args, stages=stages, **kwargs)
        name = job.__name__.removeprefix("run_")
        with folder_lock(out_dir, what=f"geo-violence {name} into {out_dir}"):
            return job(*args, stages=stages, **kwargs)

    keyword_only = inspect.Parameter.KEYWORD_ONLY
    own = [p for p in signature.parameters.values() if p.name != "stages"]
    positional = [p for p in own if p.kind != keyword_only]
    stage_parameters = [
        inspect.Parameter(keyword, keyword_only, default=None, annotation=f"{cls.__name__} | None")
        for keyword, (cls, _) in STAGE_KEYWORDS.items()
    ]
    overwrite = inspect.Parameter("overwrite", keyword_only, default=False, annotation="bool")
    with_stage_options.__signature__ = signature.replace(  # type: ignore[attr-defined]
        parameters=[
            *positional,
            *stage_parameters,
            *[p for p in own if p.kind == keyword_only],
            overwrite,
        ]
    )
    return with_stage_options
