"""Stage 4, cube: counts per (unit, step), every unit in every step, zeros kept.

Steps are calendar steps in America/Chicago: ISO weeks starting Monday 00:00 (``week``, the
default), calendar months (``month``) or days (``day``). A step that the period covers only in
part (the first or last) is left out unless ``keep_partial`` is set, and the run says so.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from ..choices import STEPS
from ..columns import (
    COUNT,
    NAME,
    OCCURRED_AT,
    POPULATION,
    RATE,
    RATE_PER,
    SOURCE_LINE,
    STEP_START,
    TIMEZONE,
    UNIT_ID,
)
from ..errors import OptionError, PeriodError

logger = logging.getLogger(__name__)

#: The days a cube can cover (a period given outside them is refused).
FIRST_DAY = np.datetime64("1900-01-01", "D")
LAST_DAY = np.datetime64("2100-12-31", "D")
#: Without --start and --end the data's dates make the period; longer than this, a few rows far
#: from the others are the likelier cause, and the cube is refused naming them.
MAX_DATA_YEARS = 50
#: Incidents counted at a time (bounds the temporaries of counting millions).
_AT_A_TIME = 1 << 20
#: The most cells (units x steps) a cube may have: beyond, it and the statistics on it would not
#: fit in memory (each cell costs tens of bytes in an analysis).
MAX_CELLS = 100_000_000


@dataclass
class Cube:
    """Counts per unit and step.

    Attributes
    ----------
    counts : numpy.ndarray
        Integer counts, shape ``(n_units, n_steps)``.
    unit_ids : pandas.Index
        The units, in the rows' order.
    names : numpy.ndarray
        The units' names, in the rows' order.
    step : str
        ``week``, ``month`` or ``day``.
    edges : pandas.DatetimeIndex
        ``n_steps + 1`` tz-aware (America/Chicago) boundaries: step ``t`` covers
        ``[edges[t], edges[t + 1])``.
    population : numpy.ndarray or None
        Residents per unit (NaN where unknown), for rates.
    outside_period : int
        Incidents given that fall outside the period or in a left-out partial step.
    notes : list of str
    """

    counts: np.ndarray
    unit_ids: pd.Index
    names: np.ndarray
    step: str
    edges: pd.DatetimeIndex
    population: np.ndarray | None = None
    outside_period: int = 0
    notes: list[str] = field(default_factory=list)

    def last_steps(self, n_steps: int) -> Cube:
        """The cube of the last ``n_steps`` steps (all of them when it has fewer).

        Incidents of the steps left out count in ``outside_period``.

        Examples
        --------
        >>> edges = pd.DatetimeIndex(["2024-01-01", "2024-01-08", "2024-01-15"],
        ...                          tz="America/Chicago")
        >>> cube = Cube(np.array([[1, 0], [2, 3]]), pd.Index(["1", "2"]),
        ...             np.array(["A", "B"], dtype=object), "week", edges)
        >>> last = cube.last_steps(1)
        >>> last.counts.tolist(), last.outside_period, str(last.edges[0].date())
        ([[0], [3]], 3, '2024-01-08')
        """
        first = max(0, self.n_steps - int(n_steps))
        return replace(
            self,
            counts=self.counts[:, first:],
            edges=self.edges[first:],
            outside_period=self.outside_period + int(self.counts[:, :first].sum()),
            notes=list(self.notes),
        )

    @property
    def step_starts(self) -> pd.DatetimeIndex:
        """The start of each step (tz-aware)."""
        return self.edges[:-1]

    @property
    def n_units(self) -> int:
        """Number of units (rows)."""
        return int(self.counts.shape[0])

    @property
    def n_steps(self) -> int:
        """Number of steps (columns)."""
        return int(self.counts.shape[1])

    def rates(self) -> np.ndarray:
        """Counts per 100,000 residents, NaN where the population is unknown.

        Raises
        ------
        OptionError
            The cube has no population.
        """
        if self.population is None:
            raise OptionError("rates need a population per unit (--population FILE)")
        return self.counts / self.population[:, None] * RATE_PER

    def to_frame(self) -> pd.DataFrame:
        """The cube as a tidy table: one row per unit and step.

        Columns ``unit_id``, ``name``, ``step_start``, ``count`` (and ``population``, ``rate``
        with a population), ordered by unit then step.

        Examples
        --------
        >>> edges = pd.DatetimeIndex(["2024-01-01", "2024-01-08", "2024-01-15"],
        ...                          tz="America/Chicago")
        >>> cube = Cube(np.array([[1, 0], [2, 3]]), pd.Index(["1", "2"]),
        ...             np.array(["A", "B"], dtype=object), "week", edges)
        >>> cube.to_frame()["count"].tolist()
        [1, 0, 2, 3]
        """
        n_units, n_steps = self.counts.shape
        frame = pd.DataFrame(
            {
                UNIT_ID: np.repeat(self.unit_ids.to_numpy(dtype=object), n_steps),
                NAME: np.repeat(self.names, n_steps),
                STEP_START: self.step_starts.take(np.tile(np.arange(n_steps), n_units)),
                COUNT: self.counts.reshape(-1).astype(np.int64),
            }
        )
        if self.population is not None:
            frame[POPULATION] = np.repeat(self.population, n_steps)
            frame[RATE] = self.rates().reshape(-1)
        return frame


def step_floor(local_days: np.ndarray, step: str) -> np.ndarray:
    """The first day of the step that holds each local calendar day.

    Parameters
    ----------
    local_days : numpy.ndarray of datetime64[D]
        Calendar days in local time.
    step : {"week", "month", "day"}
        The step length.

    Returns
    -------
    numpy.ndarray of datetime64[D]

    Examples
    --------
    >>> days = np.array(["2024-03-10", "2024-03-11", "2024-03-17"], dtype="datetime64[D]")
    >>> step_floor(days, "week").astype(str).tolist()
    ['2024-03-04', '2024-03-11', '2024-03-11']
    >>> step_floor(days, "month").astype(str).tolist()
    ['2024-03-01', '2024-03-01', '2024-03-01']
    """
    days = np.asarray(local_days, dtype="datetime64[D]")
    if step == "day":
        return days
    if step == "week":
        day_number = days.astype(np.int64)
        return (day_number - (day_number + 3) % 7).astype("datetime64[D]")  # 1970-01-01 is a Thu
    if step == "month":
        return days.astype("datetime64[M]").astype("datetime64[D]")
    raise OptionError.expected("step", step, STEPS)


def _next_step(first_days: np.ndarray, step: str) -> np.ndarray:
    if step == "day":
        return first_days + np.timedelta64(1, "D")
    if step == "week":
        return first_days + np.timedelta64(7, "D")
    return (first_days.astype("datetime64[M]") + np.timedelta64(1, "M")).astype("datetime64[D]")


def as_day(value: str | dt.date | pd.Timestamp | None, option: str) -> np.datetime64 | None:
    """The calendar day of a date given as an option (a tz-aware time: its Chicago day).

    Raises :class:`PeriodError` naming ``option`` when ``value`` is not a date.

    Examples
    --------
    >>> str(as_day("2024-03-05", "--start")), as_day(None, "--start") is None
    ('2024-03-05', True)
    >>> as_day("1000-01-01", "--start")
    Traceback (most recent call last):
    ...
    geo_violence.errors.PeriodError: '--start' was '1000-01-01', outside the days a cube can \
cover (1900-01-01 to 2100-12-31)
    """
    if value is None:
        return None
    try:
        stamp = pd.Timestamp(value)
    except (ValueError, TypeError) as error:
        raise PeriodError(f"{option!r} was {value!r}, which is not a date (YYYY-MM-DD)") from error
    if pd.isna(stamp):
        raise PeriodError(f"{option!r} was {value!r}, which is not a date (YYYY-MM-DD)")
    if stamp.tzinfo is not None:
        stamp = stamp.tz_convert(TIMEZONE).tz_localize(None)
    day = np.datetime64(stamp.date(), "D")
    if not FIRST_DAY <= day <= LAST_DAY:
        raise PeriodError(
            f"{option!r} was {value!r}, outside the days a cube can cover ({FIRST_DAY} to "
            f"{LAST_DAY})"
        )
    return day


def local_days(occurred_at: pd.Series) -> np.ndarray:
    """The local (America/Chicago) calendar day of each tz-aware time.

    Examples
    --------
    >>> times = pd.Series(pd.to_datetime(["2024-01-01T05:30:00Z"], utc=True))
    >>> local_days(times).astype(str).tolist()
    ['2023-12-31']
    """
    # pandas converts from each instant's offset, found by a binary search of the zone's changes:
    # 0.12-0.22 s for 5 million times (our own search of the changes took 0.20-0.28 s)
    wall = pd.DatetimeIndex(occurred_at).tz_convert(TIMEZONE).tz_localize(None)
    return wall.to_numpy(dtype="datetime64[D]")


def _check_data_span(incidents: pd.DataFrame, first: np.datetime64, last: np.datetime64) -> None:
    """Refuse a period made by the data that spans more than :data:`MAX_DATA_YEARS` years,
    naming the rows that lie far from the others (a typo in a year, most often)."""
    span_days = int((last - first).astype(np.int64))
    if span_days <= MAX_DATA_YEARS * 365.25:
        return
    days = local_days(incidents[OCCURRED_AT])
    middle = np.sort(days)[len(days) // 2]
    distance = np.abs((days - middle).astype(np.int64))
    far = np.flatnonzero(distance > MAX_DATA_YEARS * 365.25 / 2)
    if not len(far):
        far = np.array([int(np.argmin(days)), int(np.argmax(days))])
    far = far[np.argsort(days[far], kind="stable")]
    shown = np.unique(np.concatenate([far[:3], far[-3:]]))
    shown = shown[np.argsort(days[shown], kind="stable")]
    lines = (
        incidents[SOURCE_LINE].to_numpy()
        if SOURCE_LINE in incidents.columns
        else np.arange(1, len(days) + 1)
    )
    named = ", ".join(f"line {lines[i]} ({days[i]})" for i in shown)
    more = f" and {len(far) - len(shown):,} more" if len(far) > len(shown) else ""
    raise PeriodError(
        f"the incidents span {first}..{last} ({span_days / 365.25:.0f} years), because of rows "
        f"far from the others: {named}{more}; correct them, or give --start and --end"
    )


def _unit_positions(unit_ids: pd.Series, index: pd.Index) -> np.ndarray:
    """The position in ``index`` of each incident's unit (-1: not a unit of the layer), looked
    up once for each distinct id."""
    if isinstance(unit_ids.dtype, pd.CategoricalDtype) and unit_ids.cat.categories.equals(index):
        return unit_ids.cat.codes.to_numpy().astype(np.int64)  # (a missing id: -1)
    ids = index.to_numpy(dtype=object)
    values = unit_ids.array
    text = isinstance(values.dtype, pd.StringDtype) and values.dtype.storage == "pyarrow"
    if text and index.is_unique and all(isinstance(unit_id, str) for unit_id in ids):
        import pyarrow as pa
        import pyarrow.compute as pc

        found = pc.index_in(pa.array(values), value_set=pa.array(ids, type=pa.large_string()))
        return found.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64)
    codes, distinct = pd.factorize(unit_ids, use_na_sentinel=True)
    found = index.get_indexer(pd.Index(np.asarray(distinct, dtype=object)))
    return np.append(found, -1)[codes] if len(codes) else np.zeros(0, dtype=np.int64)


def build_cube(
    incidents: pd.DataFrame,
    units: pd.DataFrame,
    *,
    step: str = "week",
    start: str | dt.date | None = None,
    end: str | dt.date | None = None,
    keep_partial: bool = False,
    population: np.ndarray | None = None,
) -> Cube:
    """Count assigned incidents per unit and step, with every unit in every step.

    Parameters
    ----------
    incidents : pandas.DataFrame
        Assigned incidents with ``unit_id`` and ``occurred_at`` (tz-aware), as
        :func:`geo_violence.assign_units` gives them.
    units : pandas.DataFrame
        The units, indexed by ``unit_id``, with ``name``.
    step : {"week", "month", "day"}
        The step length. Weeks are ISO weeks starting Monday 00:00 America/Chicago.
    start, end : str or date, optional
        First and last day of the period, both included (``YYYY-MM-DD``). By default, the first
        and last day with an incident.
    keep_partial : bool
        Keep a first or last step that the period covers only in part (left out by default).
    population : numpy.ndarray, optional
        Residents per unit, in the units' order, for rates.

    Returns
    -------
    Cube

    Raises
    ------
    PeriodError
        The period is reversed, holds no complete step, lies outside 1900-2100, makes a cube of
        more than :data:`MAX_CELLS` cells, or (taken from the data) spans more than
        :data:`MAX_DATA_YEARS` years: the message names the rows far from the others.

    Examples
    --------
    >>> units = pd.DataFrame({"name": ["A", "B"]}, index=pd.Index(["1", "2"], name="unit_id"))
    >>> incidents = pd.DataFrame({"unit_id": ["1", "1", "2"],
    ...     "occurred_at": pd.to_datetime(["2024-01-01 10:00", "2024-01-09 10:00",
    ...                                    "2024-01-14 23:59"]).tz_localize("America/Chicago")})
    >>> cube = build_cube(incidents, units, start="2024-01-01", end="2024-01-14")
    >>> cube.counts.tolist(), cube.step_starts.strftime("%Y-%m-%d").tolist()
    ([[1, 1], [0, 1]], ['2024-01-01', '2024-01-08'])
    """
    if step not in STEPS:
        raise OptionError.expected("step", step, STEPS)
    notes: list[str] = []
    # each incident's instant (UTC, in the column's unit; NaT the smallest integer): steps are
    # counted by their edges' instants, with no local time made for each incident
    instants = (
        pd.DatetimeIndex(incidents[OCCURRED_AT]).tz_convert(TIMEZONE)
        if len(incidents)
        else pd.DatetimeIndex([], dtype=pd.DatetimeTZDtype("ns", TIMEZONE))
    )
    first = as_day(start, "--start")
    last = as_day(end, "--end")
    if first is None or last is None:
        lowest, highest = instants.min(), instants.max()  # (a missing time left out)
        if pd.isna(lowest):
            raise PeriodError("no incident to count: give --start and --end for an empty cube")
        first = np.datetime64(lowest.date(), "D") if first is None else first
        last = np.datetime64(highest.date(), "D") if last is None else last
        _check_data_span(incidents, first, last)
    if first > last:
        whose = {
            (True, True): "",
            (True, False): " (the end is the data's last day)",
            (False, True): " (the start is the data's first day)",
            (False, False): "",
        }[(start is not None, end is not None)]
        raise PeriodError(f"the period is reversed: start {first} is after end {last}{whose}")

    first_step = step_floor(np.array([first]), step)[0]
    starts = np.arange(first_step, last + np.timedelta64(1, "D"), dtype="datetime64[D]")
    starts = np.unique(step_floor(starts, step))
    ends = _next_step(starts, step)  # exclusive
    partial = (starts < first) | (ends > last + np.timedelta64(1, "D"))
    if partial.any():
        labels = ", ".join(f"{s}" for s in starts[partial])
        if keep_partial:
            notes.append(f"kept the incomplete {step}(s) starting {labels} (--keep-partial)")
        else:
            notes.append(
                f"left out the incomplete {step}(s) starting {labels}; --keep-partial keeps them"
            )
            starts, ends = starts[~partial], ends[~partial]
    if len(starts) == 0:
        raise PeriodError(
            f"the period {first}..{last} holds no complete {step}; give a longer period or "
            "--keep-partial"
        )

    cells = len(units) * len(starts)
    if cells > MAX_CELLS:
        raise PeriodError(
            f"a cube of {len(units):,} units x {len(starts):,} {step}s has {cells:,} cells, more "
            f"than {MAX_CELLS:,} (about {cells * 64 / 1e9:,.0f} GB in an analysis): give a "
            "shorter period, a longer --step or larger units"
        )
    edges_days = np.append(starts, ends[-1])
    unit_index = _unit_positions(incidents[UNIT_ID], units.index)
    if (unit_index < 0).any():
        unknown = sorted(set(incidents[UNIT_ID].to_numpy(dtype=object)[unit_index < 0]))[:5]
        raise OptionError(f"incidents name units that are not in the layer: {unknown}")
    edges = pd.DatetimeIndex(edges_days).tz_localize(TIMEZONE)
    # local midnights (they exist and are unique in Chicago: its clocks change at 2 am), so an
    # instant's local day is in a step exactly when the instant lies between its edges
    counted_days = [max(first, starts[0]), min(last + np.timedelta64(1, "D"), ends[-1])]
    low, high = pd.DatetimeIndex(counted_days).tz_localize(TIMEZONE).as_unit(instants.unit).asi8
    edge_instants = edges.as_unit(instants.unit).asi8
    times = instants.asi8
    counts = np.zeros(len(units) * len(starts), dtype=np.int64)
    n_counted = 0
    for begin in range(0, len(times), _AT_A_TIME):  # a million at a time: few temporaries
        part = times[begin : begin + _AT_A_TIME]
        counted = np.flatnonzero((part >= low) & (part < high))
        step_index = np.searchsorted(edge_instants, part[counted], side="right") - 1
        cell = unit_index[begin + counted] * len(starts) + step_index
        counts += np.bincount(cell, minlength=len(counts))
        n_counted += len(counted)
    counts = counts.reshape(len(units), len(starts))
    outside = int(len(incidents) - n_counted)
    if outside:
        notes.append(
            f"{outside} incidents fall outside the period ({first}..{last}) or its "
            f"left-out partial {step}s"
        )
    if len(incidents) and n_counted == 0:
        notes.append(f"no incident falls in the period {first}..{last}: every count is zero")
    for note in notes:
        logger.info(note)
    return Cube(
        counts=counts,
        unit_ids=pd.Index(units.index, name=UNIT_ID),
        names=units[NAME].to_numpy(dtype=object),
        step=step,
        edges=edges,
        population=population,
        outside_period=outside,
        notes=notes,
    )
