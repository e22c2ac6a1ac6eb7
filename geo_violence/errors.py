"""Every error a user can cause is a :class:`GeoViolenceError`.

The command line prints these as one line and exits with status 1 (or the status the class
carries: 4 for :class:`BusyError`); anything else is a bug.
"""

from __future__ import annotations

import itertools
import signal
import sys
import threading
from collections.abc import Iterable
from pathlib import Path


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


# --- Ctrl-C while the command line starts ------------------------------------------------------


def _interrupted_at_start_up(signum, frame) -> None:
    sys.stderr.write("error: interrupted\n")
    sys.stderr.flush()
    raise SystemExit(130)


def is_command_line() -> bool:
    """Whether this process is the command line (``geo-violence ...`` or
    ``python -m geo_violence ...``) rather than a program using the package.

    Examples
    --------
    >>> is_command_line()
    False
    """
    if sys.argv and Path(sys.argv[0]).name == "geo-violence":
        return True
    arguments = list(getattr(sys, "orig_argv", []))
    return any(
        flag == "-m" and module in ("geo_violence", "geo_violence.cli")
        for flag, module in itertools.pairwise(arguments)
    )


def end_quietly_on_interrupt_at_start_up() -> None:
    """In the command line, make Ctrl-C during start-up (seconds of imports) print
    ``error: interrupted`` and exit with status 130, as it does once the command runs, instead of
    a traceback from inside an import. The command group restores Python's own handler when it
    starts (:func:`restore_interrupts`). A program importing the package is left alone."""
    if threading.current_thread() is not threading.main_thread() or not is_command_line():
        return
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:  # not ignored by a parent
        signal.signal(signal.SIGINT, _interrupted_at_start_up)


def restore_interrupts() -> None:
    """Ctrl-C raises KeyboardInterrupt again (the command turns it into one line)."""
    if signal.getsignal(signal.SIGINT) is _interrupted_at_start_up:
        signal.signal(signal.SIGINT, signal.default_int_handler)


# this module is the first the package imports: from here on, start-up is covered
end_quietly_on_interrupt_at_start_up()
