"""Progress of long work on stderr, and how long each stage took.

Long loops (the portal's pages, streamed batches, permutations, backtest origins) wrap their
iterable in :func:`tracked`. It draws one line, rewritten in place, on stderr, but only when
stderr is a terminal and the ``geo_violence`` log says at least INFO: nothing with ``-q``, in cron
(stderr is a file or a pipe there) or under a test runner, and nothing for a library user whose
stderr is not a terminal. ``GEO_VIOLENCE_PROGRESS=0`` turns it off, ``=1`` on whatever stderr is.

:func:`timed` logs a stage's duration at DEBUG (``geo-violence -v``).

Every stage may import this module (like :mod:`geo_violence.errors`): it imports nothing of the
package.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import TextIO, TypeVar

logger = logging.getLogger("geo_violence")
Item = TypeVar("Item")
#: Seconds between two redraws of a progress line.
REDRAW_SECONDS = 0.2
#: Loops shorter than this many seconds draw nothing.
QUIET_SECONDS = 0.5


def progress_enabled(stream: TextIO | None = None) -> bool:
    """Whether progress is drawn on ``stream`` (stderr by default).

    Examples
    --------
    >>> import io
    >>> progress_enabled(io.StringIO())  # not a terminal: a file, a pipe, cron
    False
    """
    stream = sys.stderr if stream is None else stream
    setting = os.environ.get("GEO_VIOLENCE_PROGRESS", "").strip()
    if setting == "0" or not logger.isEnabledFor(logging.INFO):
        return False
    if setting == "1":
        return True
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


class Progress:
    """A progress line for work counted by hand (``advance``), e.g. pages of a ``while`` loop.

    Use it as a context manager: leaving it ends the line. Nothing is drawn unless
    :func:`progress_enabled`, nor for work shorter than :data:`QUIET_SECONDS`.

    Examples
    --------
    >>> with Progress("portal", unit="pages") as pages:
    ...     for _ in range(3):
    ...         pages.advance()
    >>> pages.done
    3
    """

    def __init__(
        self, what: str, *, total: int | None = None, unit: str = "", stream: TextIO | None = None
    ) -> None:
        self.what, self.total, self.unit = what, total, unit
        self.stream = sys.stderr if stream is None else stream
        self.enabled = progress_enabled(self.stream)
        self.done = 0
        self.start = time.monotonic()
        self._drawn_at = self.start
        self._drawn = False

    def advance(self, steps: int = 1) -> None:
        """Count ``steps`` more done, and redraw the line when it is time to."""
        self.done += steps
        if not self.enabled:
            return
        now = time.monotonic()
        if now - self.start >= QUIET_SECONDS and now - self._drawn_at >= REDRAW_SECONDS:
            self._draw(now, end="")
            self._drawn, self._drawn_at = True, now

    def close(self) -> None:
        """End the line (when one was drawn)."""
        if self._drawn:
            self._draw(time.monotonic(), end="\n")
            self._drawn = False

    def _draw(self, now: float, *, end: str) -> None:
        line = progress_line(self.what, self.done, self.total, self.unit, now - self.start)
        self.stream.write("\r" + line + end)
        self.stream.flush()

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def tracked(
    items: Iterable[Item],
    what: str,
    *,
    total: int | None = None,
    unit: str = "",
    stream: TextIO | None = None,
) -> Iterator[Item]:
    """Yield ``items``, drawing ``what: done/total unit (percent, elapsed)`` on stderr as they go.

    Parameters
    ----------
    items : iterable
        The work, one item per step.
    what : str
        What is being done, e.g. ``"permutations"``.
    total : int, optional
        The number of items (taken from ``len(items)`` when it has one).
    unit : str
        What an item is, e.g. ``"pages"``.
    stream : file, optional
        Where to draw (stderr by default); nothing is drawn unless :func:`progress_enabled`.

    Examples
    --------
    >>> list(tracked(range(3), "counting"))  # stderr is not a terminal here: nothing is drawn
    [0, 1, 2]
    """
    if total is None and hasattr(items, "__len__"):
        total = len(items)  # type: ignore[arg-type]
    with Progress(what, total=total, unit=unit, stream=stream) as progress:
        for item in items:
            yield item
            progress.advance()


def progress_line(what: str, done: int, total: int | None, unit: str, seconds: float) -> str:
    """One progress line.

    Examples
    --------
    >>> progress_line("permutations", 250, 1000, "steps", 3.2)
    'permutations: 250/1,000 steps (25%, 3 s)'
    >>> progress_line("portal", 7, None, "pages", 65)
    'portal: 7 pages (1 min 5 s)'
    """
    unit = f" {unit}" if unit else ""
    minutes, rest = divmod(round(seconds), 60)
    elapsed = f"{minutes} min {rest} s" if minutes else f"{rest} s"
    if total:
        return f"{what}: {done:,}/{total:,}{unit} ({done / total:.0%}, {elapsed})"
    return f"{what}: {done:,}{unit} ({elapsed})"


@contextmanager
def timed(what: str) -> Iterator[None]:
    """Log ``what`` and the seconds it took at DEBUG level (``geo-violence -v``).

    Examples
    --------
    >>> with timed("nothing"):
    ...     pass
    """
    start = time.perf_counter()
    yield
    logger.debug("%s: %.2f s", what, time.perf_counter() - start)
