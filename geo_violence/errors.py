"""Every error a user can cause is a :class:`GeoViolenceError`.

The command line prints these as one line and exits with status 1 (or the status the class
carries: 4 for :class:`BusyError`); anything else is a bug.
"""

from __future__ import annotations

from collections.abc import Iterable


class GeoViolenceError(Exception):
    """Base class of the errors a user can cause (bad file, bad option, unusable data)."""


class InputFileError(GeoViolenceError):
    """A file is missing, unreadable or of a kind that is not supported."""


class MissingColumnError(GeoViolenceError):
    """A column the run needs is not in the file.

    Examples
    --------
    >>> str(MissingColumnError("Date", ["ID", "Beat"], "the time column"))
    "the time column 'Date' is not in the file; columns present: 'ID', 'Beat'"
    """

    def __init__(self, column: str, present: Iterable[str], role: str = "column") -> None:
        present_list = ", ".join(repr(str(name)) for name in present) or "(none)"
        super().__init__(f"{role} {column!r} is not in the file; columns present: {present_list}")
        self.column = column


class OptionError(GeoViolenceError):
    """An option has a value it cannot take."""

    @classmethod
    def expected(cls, option: str, value: object, accepted: Iterable[object]) -> OptionError:
        """Build the house-style message: ``'step' was "x" but is expected to be in [...]``.

        Examples
        --------
        >>> str(OptionError.expected("step", "year", ["week", "month", "day"]))
        "'step' was 'year' but is expected to be in ['week', 'month', 'day']"
        """
        return cls(f"{option!r} was {value!r} but is expected to be in {list(accepted)!r}")


class UnitsError(GeoViolenceError):
    """The units layer cannot be used (no polygons, unknown layer, bad fields)."""


class PeriodError(GeoViolenceError):
    """A date range is empty, reversed or outside the data."""


class OutputExistsError(GeoViolenceError):
    """An output file exists and ``overwrite`` was not asked for."""


class DataError(GeoViolenceError):
    """The data cannot support the statistic (zero variance, too few steps, islands, ...)."""


class BusyError(GeoViolenceError):
    """Another run holds the lock of the folder or store this run would write (exit status 4)."""

    exit_code = 4

