"""The weekly job: pull the new week from the portal, run every analysis for every units layer,
and publish ``runs/YYYY-Www/`` with ``runs/latest`` moved only when the whole run succeeded.

Trust:

- **A lock** (``runs/.weekly.lock``, as :func:`geo_violence.outputs.file_lock` keeps it: pid and
  the process's start time, host, machine and boot ids) keeps a second run from starting while
  one runs (:class:`BusyError`, exit 4); a lock whose process is gone (or whose pid now belongs to
  another process, or taken before the machine restarted) is stale and taken over; another host's
  lock is live for a day.
- **Nothing half-done is published.** The run is built in ``runs/.staging-YYYY-Www-PID/``,
  moved to ``runs/.weeks/``, and only then are the symlinks ``runs/YYYY-Www`` and
  ``runs/latest`` replaced, each atomically. A run killed at any point leaves the previous
  published runs and ``latest`` as they were (a rerun of a week included); the next run clears
  what the dead run left.
- **Reruns are byte-identical** for the tables (CSV and Parquet hold no time stamps); a rerun of
  the same week replaces that week's folder as a whole.
- **Exit codes** for cron and systemd: 0 done, 1 a user error (config, options, data), 2 the data
  source unavailable (nothing published), 3 the source's schema changed (nothing published),
  4 another run holds the lock, 130 interrupted.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import math
import os
import re
import shutil
import signal
import tomllib
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from ..columns import TIMEZONE
from ..errors import BusyError as BusyError  # raised by the lock; importable from here too
from ..errors import DataError, InputFileError, OptionError
from ..outputs import file_lock, manifest_base, process_alive, write_json
from ..render import BASEMAPS
from ..render.archive import ArchivedWeek, archive_html
from ..sources.portal import FetchOptions, pull_crimes
from ..stats.emerging import EmergingOptions
from ..stats.hotspots import HotspotOptions
from ..stats.shift import ShiftOptions
from ..stats.trends import MIN_STEPS as TREND_MIN_STEPS
from ..stats.trends import TrendOptions
from .compare import run_compare
from .counts import run_counts
from .emerging import run_emerging
from .hotspots import run_hotspots
from .options import CubeOptions, MapOptions, UnitOptions
from .report import SUMMARY_HTML, run_report
from .scan import ScanOptions, run_scan
from .skeleton import MANIFEST_FILE, sharing_reads
from .trends import run_trends

logger = logging.getLogger(__name__)

LOCK_FILE = ".weekly.lock"
LATEST = "latest"
#: The archive page of every published week, beside ``latest``.
ARCHIVE = "index.html"
#: The name of a published week's link.
WEEK_NAME = re.compile(r"\d{4}-W\d{2}")
#: Where the published runs live; ``runs/YYYY-Www`` and ``runs/latest`` are symlinks into it.
WEEKS_FOLDER = ".weeks"
#: Set to a crash point's name to kill the job there (for the tests of interrupted runs).
CRASH_VARIABLE = "GEO_VIOLENCE_CRASH_AT"


@dataclass(frozen=True)
class SourceConfig:
    base_url: str = "https://data.cityofchicago.org"
    dataset: str = "ijzp-q8t2"
    since: str = "2024-01-01"
    types: tuple[str, ...] = ("HOMICIDE",)
    page_size: int = 50_000
    timeout: float = 60.0
    retries: int = 5


@dataclass(frozen=True)
class OutputConfig:
    folder: str = "runs"
    store: str = "data/crimes.parquet"


@dataclass(frozen=True)
class LayerConfig:
    units: str = "community_areas"
    units_file: str | None = None


@dataclass(frozen=True)
class AnalysesConfig:
    hotspot_weeks: int = 4
    emerging_weeks: int = 52
    shift_after_weeks: int = 4
    shift_before_weeks: int = 52
    alpha: float = 0.05
    shift_alpha: float = 0.10
    trends_months: int = 36
    scan_weeks: int = 4
    permutations: int = 0
    seed: int = 12345


@dataclass(frozen=True)
class WeeklyConfig:
    """The weekly job's configuration (a TOML file; relative paths are from its folder)."""

    source: SourceConfig = field(default_factory=SourceConfig)
    output: OutputConfig = field(default_factory=OutputConfig)
    layers: tuple[LayerConfig, ...] = (LayerConfig(),)
    analyses: AnalysesConfig = field(default_factory=AnalysesConfig)
    maps: MapOptions = field(default_factory=lambda: MapOptions(embed=True))
    folder: Path = Path(".")

    def path(self, value: str) -> Path:
        """A path of the config, relative to the config file's folder."""
        path = Path(value).expanduser()
        return path if path.is_absolute() else self.folder / path


def read_config(path: str | Path) -> WeeklyConfig:
    """Read and check a weekly TOML file: unknown sections and keys are refused by name, and
    every value is checked for its type and range, the message naming the key
    (``[analyses] alpha was 5; expected a number between 0 and 1, both excluded``).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "weekly.toml"
    >>> _ = path.write_text('[source]\\nsince = "2024-06-01"\\n[[layers]]\\nunits = "beats"\\n')
    >>> config = read_config(path)
    >>> config.source.since, [layer.units for layer in config.layers]
    ('2024-06-01', ['beats'])
    >>> _ = path.write_text('[analyses]\\nalpha = 5\\n')
    >>> read_config(path)
    Traceback (most recent call last):
    ...
    geo_violence.errors.OptionError: [analyses] alpha was 5; expected a number between 0 and 1, \
both excluded
    """
    path = Path(path)
    if not path.exists():
        raise InputFileError(f"config file {str(path)!r} does not exist")
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8-sig"))  # a BOM is no statement
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise InputFileError(f"cannot read config file {str(path)!r}: {error}") from error
    sections = {
        "source": SourceConfig,
        "output": OutputConfig,
        "analyses": AnalysesConfig,
        "maps": MapOptions,
    }
    unknown = set(raw) - {*sections, "layers"}
    if unknown:
        raise OptionError(
            f"{path.name}: unknown section(s) {', '.join(sorted(unknown))} "
            f"(known: {', '.join([*sections, 'layers'])})"
        )
    values = {
        name: _section(raw.get(name, {}), kind, f"[{name}]") for name, kind in sections.items()
    }
    layer_tables = raw.get("layers", [{}])
    if not isinstance(layer_tables, list):
        raise OptionError(
            f"[[layers]] was {layer_tables!r}; expected one [[layers]] table per units layer "
            '(for example [[layers]] then units = "beats")'
        )
    layers = tuple(_section(layer, LayerConfig, "[[layers]]") for layer in layer_tables)
    if not layers:
        raise OptionError(f"{path.name}: [[layers]] names no units layer")
    folders = [_folder_name(layer) for layer in layers]
    twice = sorted({name for name in folders if folders.count(name) > 1})
    if twice:
        raise OptionError(
            f"[[layers]] units {', '.join(twice)} appear more than once: each layer writes "
            "runs/YYYY-Www/NAME/, so each needs its own name"
        )
    defaults = WeeklyConfig()
    if "maps" not in raw:
        values["maps"] = defaults.maps
    return WeeklyConfig(layers=layers, folder=path.resolve().parent, **values)


def _section(values: object, kind, label: str):
    if not isinstance(values, dict):
        raise OptionError(f"{label} was {values!r}; expected a table of keys ({label} then lines)")
    known = {item.name for item in fields(kind)}
    unknown = set(values) - known
    if unknown:
        raise OptionError(
            f"{label} has unknown key(s) {', '.join(sorted(unknown))} "
            f"(known: {', '.join(sorted(known))})"
        )
    checked = {}
    for key, value in values.items():
        check, expected = _RULES[label.strip("[]"), key]
        try:
            checked[key] = check(value)
        except (TypeError, ValueError):
            raise OptionError(f"{label} {key} was {value!r}; expected {expected}") from None
    return kind(**checked)


def _whole(low: int) -> object:
    def check(value: object) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise ValueError
        return value

    return check


def _number(low: float, high: float | None = None) -> object:
    def check(value: object) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError
        if not math.isfinite(value) or value <= low or (high is not None and value >= high):
            raise ValueError
        return value

    return check


def _text(value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError
    return value


def _flag(value: object) -> bool:
    if not isinstance(value, bool):
        raise ValueError
    return value


def _day(value: object) -> str:
    if isinstance(value, dt.datetime) or not isinstance(value, (str, dt.date)):
        raise ValueError  # a TOML date literal is a date; a date and time is not
    day = value if isinstance(value, dt.date) else dt.date.fromisoformat(value)
    if day.year < 1900:
        raise ValueError
    return day.isoformat()


def _url(value: object) -> str:
    if not isinstance(value, str) or not re.match(r"^https?://[^\s/]+", value):
        raise ValueError
    return value


def _types(value: object) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ValueError
    return tuple(_text(item).strip() for item in value)


def _optional_text(value: object) -> str:
    return _text(value)


def _basemap(value: object) -> str:
    if value not in BASEMAPS:
        raise ValueError
    return value


#: How each key of the weekly TOML is checked, and what it expects, in words.
_RULES = {
    ("source", "base_url"): (_url, "an http:// or https:// address"),
    ("source", "dataset"): (_text, "a dataset id (text), e.g. ijzp-q8t2"),
    ("source", "since"): (_day, 'a day from 1900 on, e.g. since = "2024-01-01"'),
    ("source", "types"): (_types, 'a list of primary types, e.g. types = ["HOMICIDE"]'),
    ("source", "page_size"): (_whole(1), "a whole number, 1 or more"),
    ("source", "timeout"): (_number(0), "a number of seconds above 0"),
    ("source", "retries"): (_whole(0), "a whole number, 0 or more"),
    ("output", "folder"): (_text, "a folder (text)"),
    ("output", "store"): (_text, "a file (text)"),
    ("layers", "units"): (_text, 'a units layer (text), e.g. units = "beats"'),
    ("layers", "units_file"): (_optional_text, "a file (text)"),
    ("analyses", "hotspot_weeks"): (_whole(1), "a whole number of weeks, 1 or more"),
    ("analyses", "emerging_weeks"): (
        _whole(10),
        "a whole number of weeks, 10 or more (the trend needs 10 steps)",
    ),
    ("analyses", "shift_after_weeks"): (_whole(1), "a whole number of weeks, 1 or more"),
    ("analyses", "shift_before_weeks"): (_whole(1), "a whole number of weeks, 1 or more"),
    ("analyses", "alpha"): (_number(0, 1), "a number between 0 and 1, both excluded"),
    ("analyses", "shift_alpha"): (_number(0, 1), "a number between 0 and 1, both excluded"),
    ("analyses", "permutations"): (_whole(0), "a whole number, 0 or more"),
    ("analyses", "seed"): (_whole(0), "a whole number, 0 or more"),
    ("analyses", "trends_months"): (_whole(6), "a whole number of months, 6 or more"),
    ("analyses", "scan_weeks"): (_whole(1), "a whole number of weeks, 1 or more"),
    ("maps", "basemap"): (_basemap, f"one of {', '.join(BASEMAPS)}"),
    ("maps", "png"): (_flag, "true or false"),
    ("maps", "embed"): (_flag, "true or false"),
}


def config_toml(config: WeeklyConfig) -> str:
    """The effective configuration as TOML (``geo-violence weekly --print-config``).

    Examples
    --------
    >>> print(config_toml(WeeklyConfig()).splitlines()[1])
    base_url = "https://data.cityofchicago.org"
    """
    lines: list[str] = []
    for name in ("source", "output", "analyses", "maps"):
        lines.append(f"[{name}]")
        lines.extend(
            f"{key} = {_toml_value(value)}" for key, value in asdict(getattr(config, name)).items()
        )
        lines.append("")
    for layer in config.layers:
        lines.append("[[layers]]")
        lines.extend(
            f"{key} = {_toml_value(value)}"
            for key, value in asdict(layer).items()
            if value is not None
        )
        lines.append("")
    return "\n".join(lines)


def _toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(item) for item in value) + "]"
    return json.dumps(str(value))


def week_to_report(today: dt.date) -> tuple[str, dt.date, dt.date]:
    """The last complete ISO week (Monday to Sunday) before ``today``: label, first and last day.

    Examples
    --------
    >>> week_to_report(dt.date(2024, 4, 24))
    ('2024-W16', datetime.date(2024, 4, 15), datetime.date(2024, 4, 21))
    """
    last = today - dt.timedelta(days=today.isoweekday())  # the Sunday before today
    first = last - dt.timedelta(days=6)
    year, week, _ = first.isocalendar()
    return f"{year}-W{week:02d}", first, last


@dataclass
class WeeklyRun:
    week: str
    folder: Path
    pull: object
    layers: dict[str, Path]


def run_weekly(config: WeeklyConfig, *, today: dt.date | None = None) -> WeeklyRun:
    """Pull, analyse every layer, publish ``runs/YYYY-Www`` and move ``runs/latest``."""
    runs = config.path(config.output.folder)
    if runs.exists() and not runs.is_dir():
        raise InputFileError(f"[output] folder {str(runs)!r} is a file, not a folder")
    runs.mkdir(parents=True, exist_ok=True)
    with file_lock(runs / LOCK_FILE, what="a weekly run"):
        _clear_dead_staging(runs)
        source = config.source
        pull = pull_crimes(
            config.path(config.output.store),
            since=source.since,
            types=source.types,
            options=FetchOptions(
                base_url=source.base_url,
                dataset=source.dataset,
                page_size=source.page_size,
                timeout=source.timeout,
                retries=source.retries,
            ),
        )
        logger.info(
            "store: %d records (%d fetched, %d replaced, %d deleted)",
            pull.records,
            pull.fetched,
            pull.replaced,
            pull.deleted,
        )
        if pull.records == 0:
            kinds = ", ".join(source.types) or "any type"
            raise OptionError(
                f"the portal ({source.base_url}, dataset {source.dataset}) has no record of "
                f"{kinds} since {source.since}: check [source] types and since; nothing was "
                "published"
            )
        _crash_point("after-fetch")
        today = today or dt.datetime.now(dt.UTC).astimezone(_zone()).date()
        week, first, last = week_to_report(today)
        staging = runs / f".staging-{week}-{os.getpid()}"
        shutil.rmtree(staging, ignore_errors=True)
        layers = {}
        headlines = {}
        with sharing_reads():  # the store is read once, and assigned once per layer
            for position, layer in enumerate(config.layers):
                folder = staging / _folder_name(layer)
                layers[layer.units], headlines[folder.name] = _analyse_layer(
                    config, layer, folder, first, last
                )
                if position == 0:
                    _crash_point("mid-write")
        manifest = _manifest(config, week, first, last, pull, staging) | {"headlines": headlines}
        write_json(manifest, staging / MANIFEST_FILE)
        _crash_point("before-publish")
        published = _publish(runs, staging, week)
        write_archive(runs)
    logger.info("published %s; the archive of every week is %s", published, runs / ARCHIVE)
    return WeeklyRun(week, published, pull, {k: published / v.name for k, v in layers.items()})


def _analyse_layer(
    config: WeeklyConfig, layer: LayerConfig, folder: Path, first: dt.date, last: dt.date
) -> tuple[Path, dict[str, int | None]]:
    """Run every analysis of one layer into ``folder``; return it with the week's headline
    figures for the archive (``None`` for an analysis the week was too thin for)."""
    store = config.path(config.output.store)
    analyses = config.analyses
    units = UnitOptions(
        units=layer.units,
        units_file=None if layer.units_file is None else str(config.path(layer.units_file)),
    )
    week = dt.timedelta(days=7)
    emerging_first = first - (analyses.emerging_weeks - 1) * week
    emerging = run_emerging(
        store,
        folder,
        unit_options=units,
        cube_options=CubeOptions(start=str(emerging_first), end=str(last)),
        emerging_options=EmergingOptions(
            alpha=analyses.alpha, permutations=analyses.permutations, seed=analyses.seed
        ),
        map_options=config.maps,
    )
    (folder / MANIFEST_FILE).replace(folder / "manifest-emerging.json")
    run_counts(
        store,
        folder,
        unit_options=units,
        cube_options=CubeOptions(start=str(emerging_first), end=str(last)),
        overwrite=True,
    )
    (folder / MANIFEST_FILE).replace(folder / "manifest-counts.json")
    run_hotspots(
        store,
        folder,
        unit_options=units,
        cube_options=CubeOptions(
            start=str(first - (analyses.hotspot_weeks - 1) * week), end=str(last)
        ),
        hotspot_options=HotspotOptions(alpha=analyses.alpha, seed=analyses.seed),
        map_options=MapOptions(basemap=config.maps.basemap, png=config.maps.png),
        overwrite=True,
    )
    (folder / MANIFEST_FILE).replace(folder / "manifest-hotspots.json")
    after_first = first - (analyses.shift_after_weeks - 1) * week
    before_last = after_first - dt.timedelta(days=1)
    before_first = after_first - analyses.shift_before_weeks * week
    run_compare(
        store,
        folder,
        before=f"{before_first}..{before_last}",
        after=f"{after_first}..{last}",
        unit_options=units,
        shift_options=ShiftOptions(alpha=analyses.shift_alpha, seed=analyses.seed),
        map_options=MapOptions(basemap=config.maps.basemap),
        data_until=str(last),  # the pull covers the week: a quiet last day is not missing data
        overwrite=True,
    )
    (folder / MANIFEST_FILE).replace(folder / "manifest-compare.json")
    alarms = None
    try:
        scan = run_scan(
            store,
            folder,
            unit_options=units,
            cube_options=CubeOptions(start=str(emerging_first), end=str(last)),
            scan_options=ScanOptions(
                history=analyses.emerging_weeks,
                max_steps=min(analyses.scan_weeks, analyses.emerging_weeks // 2),
                seed=analyses.seed,
            ),
            map_options=MapOptions(basemap=config.maps.basemap),
            overwrite=True,
        )
    except DataError as error:  # a week too thin to scan (one unit, few incidents) still publishes
        logger.warning("%s: no early-warning scan this week: %s", folder.name, error)
    else:
        (folder / MANIFEST_FILE).replace(folder / "manifest-scan.json")
        alarms = len(scan.result.alarms)
    months = _trend_months(config, last)
    rising = None
    if months is not None:
        rising = _trends_or_note(
            store,
            folder,
            unit_options=units,
            cube_options=CubeOptions(step="month", start=str(months[0]), end=str(months[1])),
            trend_options=TrendOptions(seed=analyses.seed),
            png=config.maps.png,
            map_options=MapOptions(basemap=config.maps.basemap, png=config.maps.png),
            overwrite=True,
        )
    run_report(folder, overwrite=True)
    bins = emerging.bins  # the table emerging_bins.parquet holds
    week_bins = bins[bins["step_start"] == bins["step_start"].max()]
    return folder, {
        "incidents": int(week_bins["count"].sum()),
        "hot_units": int((week_bins["bin"] > 0).sum()),
        "alarms": alarms,
        "rising_units": rising,
    }


def _trends_or_note(store: Path, folder: Path, **options: object) -> int | None:
    """The trends job, or a warning when the period is too thin for a trend (no event at all,
    too few steps): the week still publishes. Returns the number of units rising (None
    without trends)."""
    try:
        run = run_trends(store, folder, **options)
    except DataError as error:
        logger.warning("%s: no trends this week: %s", folder.name, error)
        return None
    (folder / MANIFEST_FILE).replace(folder / "manifest-trends.json")
    return int((run.result.units["direction"] == "rising").sum())


def write_archive(runs: Path) -> Path:
    """Write ``runs/index.html`` (replaced atomically): every published week (the
    ``runs/YYYY-Www`` links) with its headline figures per layer, and links to its summaries.

    A week published before the archive existed, or whose manifest cannot be read, is listed
    with the figures it has ("not computed" for the others).
    """
    weeks = []
    for link in sorted(runs.iterdir()):
        if not (link.is_symlink() and WEEK_NAME.fullmatch(link.name) and link.is_dir()):
            continue
        try:
            manifest = json.loads((link / MANIFEST_FILE).read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            logger.warning("the archive lists %s without figures: %s", link.name, error)
            manifest = {}
        headlines = manifest.get("headlines")
        if not isinstance(headlines, dict):
            headlines = {
                folder.name: {}
                for folder in sorted(link.iterdir())
                if (folder / SUMMARY_HTML).exists()
            }
        weeks.append(
            ArchivedWeek(
                week=link.name,
                first_day=str(manifest.get("first_day", "")),
                last_day=str(manifest.get("last_day", "")),
                layers={str(layer): dict(figures) for layer, figures in headlines.items()},
                summaries={
                    str(layer): f"{link.name}/{layer}/{SUMMARY_HTML}"
                    for layer in headlines
                    if (link / str(layer) / SUMMARY_HTML).exists()
                },
            )
        )
    return archive_html(weeks, runs / ARCHIVE, title="Weekly hot spot runs")


def _trend_months(config: WeeklyConfig, last: dt.date) -> tuple[dt.date, dt.date] | None:
    """The whole months of the trends: the last ``trends_months`` that end by ``last`` and
    begin on or after the store's first day; None when fewer than the trend needs.

    Examples
    --------
    >>> config = WeeklyConfig(source=SourceConfig(since="2023-01-01"))
    >>> _trend_months(config, dt.date(2024, 4, 21))
    (datetime.date(2023, 1, 1), datetime.date(2024, 3, 31))
    >>> _trend_months(WeeklyConfig(source=SourceConfig(since="2024-01-15")), dt.date(2024, 4, 21))
    """
    first_of_last = last.replace(day=1)
    end = last if (last + dt.timedelta(days=1)).day == 1 else first_of_last - dt.timedelta(days=1)
    months_back = config.analyses.trends_months - 1
    year, month = divmod(end.year * 12 + end.month - 1 - months_back, 12)
    start = dt.date(year, month + 1, 1)
    since = dt.date.fromisoformat(config.source.since)
    first_whole = since if since.day == 1 else (since.replace(day=28) + dt.timedelta(days=4))
    start = max(start, first_whole.replace(day=1))
    months = (end.year - start.year) * 12 + end.month - start.month + 1
    return (start, end) if months >= TREND_MIN_STEPS else None


def _folder_name(layer: LayerConfig) -> str:
    return Path(layer.units).stem


def _manifest(config, week, first, last, pull, staging: Path) -> dict:
    outputs = {
        str(path.relative_to(staging)): path
        for path in sorted(staging.rglob("*"))
        if path.is_file()
    }
    return manifest_base(
        "weekly",
        [config.path(config.output.store)],
        outputs,
        week=week,
        first_day=str(first),
        last_day=str(last),
        config=json.loads(json.dumps(asdict(config), default=str)),
        pull=json.loads(json.dumps(asdict(pull), default=str)),
    )


def _publish(runs: Path, staging: Path, week: str) -> Path:
    """Move the staging folder to ``runs/.weeks/``, then swap the ``runs/YYYY-Www`` and
    ``runs/latest`` symlinks onto it, each atomically: at every instant both point to a complete
    run (a rerun of a week never leaves its name pointing nowhere)."""
    weeks = runs / WEEKS_FOLDER
    weeks.mkdir(exist_ok=True)
    target = weeks / f"{week}-{os.getpid()}-{int(dt.datetime.now(dt.UTC).timestamp())}"
    staging.replace(target)
    _crash_point("mid-publish")
    previous = (runs / week).resolve() if (runs / week).is_symlink() else None
    if (runs / week).exists() and not (runs / week).is_symlink():  # an older layout
        shutil.rmtree(runs / week)
    _swap_link(runs / week, Path(WEEKS_FOLDER) / target.name)
    _swap_link(runs / LATEST, Path(week))
    if previous is not None and previous != target.resolve():
        shutil.rmtree(previous, ignore_errors=True)
    return runs / week


def _swap_link(link: Path, points_to: Path) -> None:
    """Make ``link`` point to ``points_to`` by renaming a new symlink over it (atomic)."""
    temporary = link.parent / f".link-{os.getpid()}"
    if temporary.is_symlink() or temporary.exists():
        temporary.unlink()
    temporary.symlink_to(points_to, target_is_directory=True)
    temporary.replace(link)


def _clear_dead_staging(runs: Path) -> None:
    for folder in [*runs.glob(".staging-*"), *runs.glob(".link-*")]:
        pid = folder.name.rsplit("-", 1)[-1]
        if pid.isdigit() and not process_alive(int(pid)):
            logger.info("removing %s, left by an interrupted run", folder.name)
            if folder.is_symlink() or folder.is_file():
                folder.unlink()
            else:
                shutil.rmtree(folder, ignore_errors=True)
    weeks = runs / WEEKS_FOLDER
    if weeks.is_dir():  # runs moved into place by a run killed before its links moved
        linked = {link.resolve() for link in runs.iterdir() if link.is_symlink()}
        for folder in weeks.iterdir():
            if folder.resolve() not in linked:
                logger.info("removing %s, never published", folder.name)
                shutil.rmtree(folder, ignore_errors=True)


def _crash_point(name: str) -> None:
    """Die here, as a kill would, when the tests ask for it."""
    if os.environ.get(CRASH_VARIABLE) == name:
        os.kill(os.getpid(), signal.SIGKILL)


def _zone():
    from zoneinfo import ZoneInfo

    return ZoneInfo(TIMEZONE)
