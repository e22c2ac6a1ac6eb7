"""Periods given as ``START..END`` (both days included), as the ``compare`` command takes them."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import PeriodError
from .counts import as_day

#: Days in a mean Gregorian year: the unit of "per year" rates.
DAYS_PER_YEAR = 365.2425


@dataclass(frozen=True)
class Period:
    """A run of whole days, ``first`` to ``last`` included.

    Examples
    --------
    >>> period = parse_period("2015-01-01..2019-12-31", "--before")
    >>> period.days, round(period.years, 3), str(period)
    (1826, 4.999, '2015-01-01..2019-12-31')
    """

    first: np.datetime64
    last: np.datetime64

    @property
    def days(self) -> int:
        """Number of days, both ends included."""
        return int((self.last - self.first).astype(int)) + 1

    @property
    def years(self) -> float:
        """Length in mean Gregorian years."""
        return self.days / DAYS_PER_YEAR

    def contains(self, days: np.ndarray) -> np.ndarray:
        """Which of the calendar days (``datetime64[D]``) fall in the period."""
        return (days >= self.first) & (days <= self.last)

    def __str__(self) -> str:
        return f"{self.first}..{self.last}"


def parse_period(text: str, option: str) -> Period:
    """Read ``START..END`` (ISO dates, both included).

    Raises
    ------
    PeriodError
        Not two dates joined by ``..``, or the end before the start.

    Examples
    --------
    >>> parse_period("2024-01-01..2024-09-30", "--after").days
    274
    >>> parse_period("2024-01-01", "--after")
    Traceback (most recent call last):
    ...
    geo_violence.errors.PeriodError: '--after' was '2024-01-01': expected START..END, \
for example 2015-01-01..2019-12-31
    """
    parts = str(text).split("..")
    if len(parts) != 2 or not all(part.strip() for part in parts):
        raise PeriodError(
            f"{option!r} was {text!r}: expected START..END, for example 2015-01-01..2019-12-31"
        )
    first = as_day(parts[0].strip(), f"{option} start")
    last = as_day(parts[1].strip(), f"{option} end")
    if last < first:
        raise PeriodError(
            f"{option!r} was {text!r}: the period is empty (it ends before it starts)"
        )
    return Period(first, last)


def check_periods(
    before: Period,
    after: Period,
    *,
    data_first: np.datetime64 | None = None,
    data_last: np.datetime64 | None = None,
) -> None:
    """Refuse overlapping periods, and periods outside the data's dates when those are known.

    Examples
    --------
    >>> check_periods(parse_period("2015-01-01..2019-12-31", "--before"),
    ...               parse_period("2019-06-01..2023-12-31", "--after"))
    Traceback (most recent call last):
    ...
    geo_violence.errors.PeriodError: the periods overlap: --before 2015-01-01..2019-12-31 and \
--after 2019-06-01..2023-12-31 share 214 days; a comparison needs separate periods
    """
    shared_first, shared_last = max(before.first, after.first), min(before.last, after.last)
    if shared_first <= shared_last:
        shared = int((shared_last - shared_first).astype(int)) + 1
        raise PeriodError(
            f"the periods overlap: --before {before} and --after {after} share {shared} days; "
            "a comparison needs separate periods"
        )
    if data_first is None or data_last is None:
        return
    for option, period in (("--before", before), ("--after", after)):
        if period.first < data_first or period.last > data_last:
            raise PeriodError(
                f"{option} {period} is not inside the data's dates ({data_first}..{data_last}): "
                "a count over days with no data would understate the rate"
            )
