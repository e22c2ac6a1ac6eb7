"""The columnar reading path: incident files read with pyarrow, only the columns a run needs, and
the reading rules applied to whole arrays.

Each rule here settles the values it can decide exactly and leaves the rest to the per-value rules
of :mod:`.incidents` (pandas), which read every value before: a time in one of the known layouts
(the portal's ``MM/DD/YYYY hh:mm:ss AM``, ISO 8601 with or without an offset) is parsed from its
bytes, a plain decimal coordinate is cast by Arrow, text is cleaned only where its first or last
character could be white space, and categories are compared on their few distinct values. So the
result is the one the per-value rules give, at the speed of the disk.

Also here: reading a CSV (plain, ``.gz``, ``.bz2``) whole or in blocks while counting its line
breaks in the same pass, so that each record's line is known without reading the file twice.
"""

from __future__ import annotations

import bz2
import functools
import gzip
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

#: Rows handled at a time by the array rules (bounds their temporary memory).
ROWS_AT_A_TIME = 1 << 16
#: A missing time as int64 (numpy's NaT).
NAT = np.iinfo(np.int64).min
_US_PER_DAY = 86_400_000_000
_DIGIT, _LITERAL, _T_OR_SPACE, _A_OR_P, _SIGN = range(5)


# --- Arrow arrays as bytes ---------------------------------------------------------------------


def one_array(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    """One contiguous array (a chunked array's chunks combined; text too large for 32-bit
    offsets becomes ``large_string``).

    Examples
    --------
    >>> one_array(pa.chunked_array([["a"], ["b", None]])).to_pylist()
    ['a', 'b', None]
    """
    if isinstance(values, pa.Array):
        return values
    if values.num_chunks == 1:
        return values.chunk(0)
    if values.num_chunks == 0:
        return pa.array([], type=values.type)
    if pa.types.is_string(values.type) and values.nbytes >= (1 << 31) - (1 << 24):
        values = values.cast(pa.large_string())
    return values.combine_chunks()


#: Rows the array rules take at a time, at least: pyarrow reads a CSV in small blocks (to keep
#: its memory low), and consecutive blocks are joined up to this size.
PIECE_ROWS = 1 << 15


#: Rows the array rules take at a time, at most: a longer array is taken in slices. Small
#: temporaries stay in the cache and are reused from one piece to the next; a megabyte or more
#: each goes back to the system when freed, and comes back as fresh pages the system must zero
#: (with pieces of 131,072 rows, the times of a million rows took 14,500 fresh pages and 0.16 to
#: 0.19 s in a new process; with 32,768, 5,100 and 0.11 to 0.16 s).
MAX_PIECE_ROWS = 1 << 16


def chunks(values: pa.Array | pa.ChunkedArray) -> Iterator[pa.Array]:
    """The contiguous pieces of an array, one at a time, in order: a chunked array's chunks,
    small consecutive ones joined up to :data:`PIECE_ROWS` rows, and any piece longer than
    :data:`MAX_PIECE_ROWS` in slices (at least one piece).

    Examples
    --------
    >>> [len(piece) for piece in chunks(pa.array(np.zeros(MAX_PIECE_ROWS + 5)))]
    [65536, 5]
    """
    for piece in _joined_chunks(values):
        if len(piece) <= MAX_PIECE_ROWS:
            yield piece
            continue
        for begin in range(0, len(piece), MAX_PIECE_ROWS):
            yield piece.slice(begin, MAX_PIECE_ROWS)


def _joined_chunks(values: pa.Array | pa.ChunkedArray) -> Iterator[pa.Array]:
    if not isinstance(values, pa.ChunkedArray):
        yield values
        return
    waiting: list[pa.Array] = []
    rows = 0
    given = False
    for chunk in values.chunks:
        waiting.append(chunk)
        rows += len(chunk)
        if rows >= PIECE_ROWS:
            yield waiting[0] if len(waiting) == 1 else pa.concat_arrays(waiting)
            given = True
            waiting, rows = [], 0
    if len(waiting) > 1:
        yield pa.concat_arrays(waiting)
    elif waiting:
        yield waiting[0]
    elif not given:
        yield pa.array([], type=values.type)


def text_lengths(values: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """The length in bytes of each text value (0 for a null).

    Examples
    --------
    >>> text_lengths(pa.chunked_array([["ab"], [None, "c"]])).tolist()
    [2, 0, 1]
    """
    return np.concatenate([TextBytes.of(part).length for part in chunks(values)])


def is_text(values: pa.Array | pa.ChunkedArray) -> bool:
    """Whether an Arrow array holds text (``string``, ``large_string`` or ``string_view``)."""
    kind = values.type
    return pa.types.is_string(kind) or pa.types.is_large_string(kind) or _is_view(kind)


def _is_view(kind: pa.DataType) -> bool:
    return getattr(pa.types, "is_string_view", lambda _: False)(kind)


@dataclass
class TextBytes:
    """A text array as its bytes: each value is ``data[start:start + length]``; nulls have
    length 0 and ``null`` set."""

    data: np.ndarray
    start: np.ndarray
    length: np.ndarray
    null: np.ndarray

    def __len__(self) -> int:
        return len(self.start)

    @classmethod
    def of(cls, values: pa.Array | pa.ChunkedArray) -> TextBytes:
        """The bytes of a text array.

        Examples
        --------
        >>> text = TextBytes.of(pa.array(["ab", None, "c"]))
        >>> text.length.tolist(), text.null.tolist()
        ([2, 0, 1], [False, True, False])
        """
        array = one_array(values)
        if _is_view(array.type):
            array = array.cast(pa.large_string())
        width = np.int64 if pa.types.is_large_string(array.type) else np.int32
        n = len(array)
        buffers = array.buffers()
        offsets = np.frombuffer(buffers[1], dtype=width, count=array.offset + n + 1)
        offsets = offsets[array.offset :].astype(np.int64)
        data = (
            np.frombuffer(buffers[2], dtype=np.uint8)
            if buffers[2] is not None
            else np.zeros(0, dtype=np.uint8)
        )
        null = (
            array.is_null().to_numpy(zero_copy_only=False)
            if array.null_count
            else np.zeros(n, dtype=bool)
        )
        length = np.diff(offsets)
        length[null] = 0
        return cls(data=data, start=offsets[:-1], length=length, null=null)

    def one_width(self) -> tuple[int, np.ndarray] | None:
        """The usual column: every value that is not empty of one width, one after another in
        the data (an empty value holds no bytes). Then the width, and those values as a
        ``(values, width)`` matrix, a view of the data; else None.

        Examples
        --------
        >>> width, values = TextBytes.of(pa.array(["ab", "", "cd"])).one_width()
        >>> width, values.tobytes()
        (2, b'abcd')
        >>> TextBytes.of(pa.array(["ab", "c"])).one_width() is None
        True
        """
        if not len(self):
            return None
        width = int(self.length.max())
        total = int(self.length.sum())
        if not width or total != width * int(np.count_nonzero(self.length)):
            return None
        first = int(self.start[0])
        if int(self.start[-1] + self.length[-1]) - first != total:  # a null holding bytes
            return None
        return width, self.data[first : first + total].reshape(-1, width)

    def first_and_last(self) -> tuple[np.ndarray, np.ndarray]:
        """The first and last byte of each value (0 for an empty value)."""
        uniform = self.one_width()
        if uniform is not None and len(uniform[1]) == len(self):
            return uniform[1][:, 0].copy(), uniform[1][:, -1].copy()
        has = self.length > 0
        first = np.zeros(len(self), dtype=np.uint8)
        last = np.zeros(len(self), dtype=np.uint8)
        first[has] = self.data[self.start[has]]
        last[has] = self.data[self.start[has] + self.length[has] - 1]
        return first, last

    def by_width(
        self, rows: np.ndarray, at_a_time: int | None = None
    ) -> Iterator[tuple[int, np.ndarray]]:
        """``rows`` grouped by their values' length in bytes, shortest first, each group in
        parts of at most ``at_a_time`` rows (whole without it): what :meth:`matrix` takes.

        Examples
        --------
        >>> text = TextBytes.of(pa.array(["ab", "c", "de", "fg"]))
        >>> [(width, part.tolist()) for width, part in text.by_width(np.arange(4), 2)]
        [(1, [1]), (2, [0, 2]), (2, [3])]
        """
        lengths = self.length[rows]
        for width in np.flatnonzero(np.bincount(lengths, minlength=1)):
            group = rows[lengths == width]
            step = at_a_time or len(group)
            for begin in range(0, len(group), step):
                yield int(width), group[begin : begin + step]

    def matrix(self, rows: np.ndarray, width: int) -> np.ndarray:
        """The bytes of ``rows`` (all of length ``width``) as a ``(len(rows), width)`` matrix; a
        view of the data when those rows lie one after another."""
        if len(rows) == 0:
            return np.zeros((0, width), dtype=np.uint8)
        starts = self.start[rows]
        first = int(starts[0])
        if int(starts[-1]) - first == width * (len(rows) - 1) and np.array_equal(
            np.diff(starts), np.full(len(rows) - 1, width)
        ):
            return self.data[first : first + width * len(rows)].reshape(len(rows), width)
        return self.data[starts[:, None] + np.arange(width)]


#: Bytes that can never be, or begin, white space as ``str.strip`` sees it: printable ASCII
#: other than the space. Any other first or last byte (controls, the space, UTF-8 lead bytes)
#: sends a value to ``str.strip``.
_PLAIN_EDGE = np.zeros(256, dtype=bool)
_PLAIN_EDGE[0x21:0x7F] = True


def strip_needed(text: TextBytes) -> np.ndarray:
    """Which non-empty values ``str.strip`` could change (first or last byte not plain ASCII).

    Examples
    --------
    >>> strip_needed(TextBytes.of(pa.array(["a", " b", "c\\t", "", "é"]))).tolist()
    [False, True, True, False, True]
    """
    first, last = text.first_and_last()
    return (text.length > 0) & ~(_PLAIN_EDGE[first] & _PLAIN_EDGE[last])


# --- times ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class TimeLayout:
    """A fixed layout of a time written as text, one rule per byte.

    ``kinds`` says what each byte must be (a digit, a given character, ``T`` or a space, ``A``
    or ``P``, a sign); ``fields`` which part of the time each digit belongs to (``Y`` year,
    ``m`` month, ``d`` day, ``H`` hour, ``I`` hour on a 12-hour clock, ``M`` minute, ``S``
    second, ``f`` fraction, ``o`` offset hours, ``q`` offset minutes; ``p`` the ``A``/``P`` of
    AM/PM, ``s`` the offset's sign, ``Z`` an offset of zero).
    """

    kinds: tuple[int, ...]
    literals: tuple[int, ...]
    fields: str
    naive: bool

    @property
    def width(self) -> int:
        return len(self.kinds)


def _layout(parts: list[tuple[str, str]]) -> TimeLayout:
    """A layout from parts: ``("9", field)`` a digit, ``("L", char)`` a literal, ``("T", "")``,
    ``("P", "p")``, ``("S", "s")``."""
    kinds, literals, fields = [], [], []
    for kind, value in parts:
        if kind == "9":
            kinds.append(_DIGIT)
            literals.append(0)
            fields.append(value)
        elif kind == "L":
            kinds.append(_LITERAL)
            literals.append(ord(value))
            fields.append("Z" if value == "Z" else ".")
        elif kind == "T":
            kinds.append(_T_OR_SPACE)
            literals.append(0)
            fields.append(".")
        elif kind == "P":
            kinds.append(_A_OR_P)
            literals.append(0)
            fields.append("p")
        else:
            kinds.append(_SIGN)
            literals.append(0)
            fields.append("s")
    return TimeLayout(
        tuple(kinds),
        tuple(literals),
        "".join(fields),
        naive="s" not in fields and "Z" not in fields,
    )


def _digits(field: str, count: int) -> list[tuple[str, str]]:
    return [("9", field)] * count


def _text(chars: str) -> list[tuple[str, str]]:
    return [("L", char) for char in chars]


#: strftime directives a layout can be made of, with their fixed width in digits.
_DIRECTIVES = {"Y": ("Y", 4), "m": ("m", 2), "d": ("d", 2), "H": ("H", 2), "I": ("I", 2)}
_DIRECTIVES |= {"M": ("M", 2), "S": ("S", 2)}


def layout_of_format(time_format: str) -> TimeLayout | None:
    """The fixed layout that a ``strftime`` format reads with two-digit fields (``%m/%d/%Y
    %I:%M:%S %p`` reads ``09/08/2021 04:45:00 PM``), or None when the format has a directive
    other than ``%Y %m %d %H %I %M %S %p`` (each at most once), a character other than printable
    ASCII, or two spaces in a row.

    Examples
    --------
    >>> layout_of_format("%m/%d/%Y %I:%M:%S %p").width
    22
    >>> layout_of_format("%d %B %Y") is None
    True
    """
    parts: list[tuple[str, str]] = []
    position = 0
    while position < len(time_format):
        char = time_format[position]
        if char == "%":
            directive = time_format[position + 1 : position + 2]
            if directive == "p":
                parts += [("P", "p"), ("L", "M")]
            elif directive in _DIRECTIVES:
                parts += _digits(*_DIRECTIVES[directive])
            else:
                return None
            position += 2
            continue
        if not " " <= char <= "~" or time_format[position : position + 2] == "  ":
            return None
        parts.append(("L", char))
        position += 1
    layout = _layout(parts)
    counts = {field: layout.fields.count(field) for field in "YmdHIMSp"}
    widths = {field: width for field, width in _DIRECTIVES.values()} | {"p": 1}
    if any(count not in (0, widths[field]) for field, count in counts.items()):
        return None
    if not (counts["Y"] and counts["m"] and counts["d"]) or bool(counts["I"]) != bool(counts["p"]):
        return None
    if counts["H"] and counts["I"]:
        return None
    return layout


def _iso_layouts() -> list[TimeLayout]:
    """Every ISO 8601 layout read exactly here: a date; a date and ``hh:mm``, ``hh:mm:ss`` or
    ``hh:mm:ss.f`` (1 to 6 digits) after ``T`` or a space; those times followed by ``Z``,
    ``+hh``, ``+hhmm`` or ``+hh:mm``."""
    date = _digits("Y", 4) + _text("-") + _digits("m", 2) + _text("-") + _digits("d", 2)
    clock = [("T", ""), *_digits("H", 2), *_text(":"), *_digits("M", 2)]
    times = [clock, clock + _text(":") + _digits("S", 2)]
    times += [times[1] + _text(".") + _digits("f", k) for k in range(1, 7)]
    offsets = [
        _text("Z"),
        [("S", "s"), *_digits("o", 2)],
        [("S", "s"), *_digits("o", 2), *_digits("q", 2)],
        [("S", "s"), *_digits("o", 2), *_text(":"), *_digits("q", 2)],
    ]
    layouts = [_layout(date)]
    layouts += [_layout(date + time) for time in times]
    layouts += [_layout(date + time + offset) for time in times for offset in offsets]
    return layouts


ISO_LAYOUTS = tuple(_iso_layouts())


def layouts_for(formats: tuple[str, ...]) -> list[TimeLayout]:
    """The layouts read exactly for times without an offset under ``formats`` (``ISO8601`` or
    ``strftime`` formats), and, always, ISO 8601 with an offset (converted, whatever the format).

    Examples
    --------
    >>> sorted({layout.width for layout in layouts_for(("%m/%d/%Y %I:%M:%S %p",))})[:3]
    [17, 19, 20]
    """
    layouts = [layout for layout in ISO_LAYOUTS if not layout.naive]
    for time_format in formats:
        if time_format == "ISO8601":
            layouts += [layout for layout in ISO_LAYOUTS if layout.naive]
        else:
            layout = layout_of_format(time_format)
            if layout is not None:
                layouts.append(layout)
    return list(dict.fromkeys(layouts))


@dataclass
class ArrayTimes:
    """What the array rules settled of a column of times.

    Attributes
    ----------
    wall : numpy.ndarray of int64
        Microseconds of the local clock time, where ``naive`` (else :data:`NAT`).
    utc : numpy.ndarray of int64
        Microseconds since the epoch (UTC), where ``aware`` (else :data:`NAT`).
    naive, aware : numpy.ndarray of bool
        Rows read in a layout without, or with, an offset, and inside the plausible window.
    missing : numpy.ndarray of bool
        Rows with no text at all (null or empty).
    utc_ns, unsure : numpy.ndarray, optional
        Once localised (by the reader): the instant of each settled time in UTC nanoseconds, and
        the clock times too near a change of offset to be read without pandas.
    """

    wall: np.ndarray
    utc: np.ndarray
    naive: np.ndarray
    aware: np.ndarray
    missing: np.ndarray
    utc_ns: np.ndarray | None = None
    unsure: np.ndarray | None = None

    @property
    def settled(self) -> np.ndarray:
        """Rows the per-value rules need not see."""
        return self.naive | self.aware | self.missing

    @classmethod
    def empty(cls, n: int) -> ArrayTimes:
        """``n`` rows with nothing settled yet."""
        times = cls.unset(n)
        times.clear(0, n)
        return times

    @classmethod
    def unset(cls, n: int) -> ArrayTimes:
        """``n`` rows not yet written: each part is :meth:`clear`-ed by whoever reads it (the
        memory is first touched there, by the threads that read the parts)."""
        return cls(*(np.empty(n, dtype=kind) for kind in [np.int64] * 2 + [bool] * 3))

    def clear(self, start: int, stop: int) -> None:
        """Rows ``start`` to ``stop`` with nothing settled."""
        part = slice(start, stop)
        self.wall[part] = self.utc[part] = NAT
        self.naive[part] = self.aware[part] = self.missing[part] = False


def read_times(
    values: pa.Array | pa.ChunkedArray,
    layouts: list[TimeLayout],
    window: tuple[np.datetime64, np.datetime64],
    *,
    into: ArrayTimes | None = None,
    start: int = 0,
) -> ArrayTimes:
    """Parse the times of a text array written in one of ``layouts``, when they fall inside the
    plausible ``window``; every other non-empty value is left unsettled. With ``into``, the
    results go to its rows from ``start`` on.

    Examples
    --------
    >>> window = (np.datetime64("1900-01-01", "us"), np.datetime64("2100-01-01", "us"))
    >>> times = read_times(pa.array(["09/08/2021 04:45:00 PM", "2021-09-08T21:45:00Z", "",
    ...                              "soon"]), layouts_for(("%m/%d/%Y %I:%M:%S %p",)), window)
    >>> times.wall[:1].astype("datetime64[us]").astype(str).tolist(), times.settled.tolist()
    (['2021-09-08T16:45:00.000000'], [True, True, True, False])
    >>> times.utc[1:2].astype("datetime64[us]").astype(str).tolist()
    ['2021-09-08T21:45:00.000000']
    """
    result = ArrayTimes.empty(len(values)) if into is None else into
    low = window[0].astype("datetime64[us]").astype(np.int64)
    high = window[1].astype("datetime64[us]").astype(np.int64)
    by_width: dict[int, list[TimeLayout]] = {}
    for layout in layouts:
        by_width.setdefault(layout.width, []).append(layout)
    for piece in chunks(values):
        _read_times_of_piece(piece, by_width, (low, high), result, start)
        start += len(piece)
    return result


def _read_times_of_piece(
    piece: pa.Array, by_width: dict, window: tuple[int, int], result: ArrayTimes, offset: int
) -> None:
    text = TextBytes.of(piece)
    result.missing[offset : offset + len(text)] = text.length == 0
    widths = np.array(sorted(by_width), dtype=np.int64)
    if not len(widths) or not len(text):
        return
    uniform = text.one_width()
    if uniform is not None and uniform[0] in by_width:  # the usual column, read in place
        width, values = uniform
        rows = None if len(values) == len(text) else np.flatnonzero(text.length)
        _read_rows(values, by_width[width], window, result, offset, rows)
        return
    wanted = np.zeros(int(widths[-1]) + 2, dtype=bool)
    wanted[widths] = True
    candidate = np.flatnonzero(wanted[np.minimum(text.length, len(wanted) - 1)])
    for width, rows in text.by_width(candidate, ROWS_AT_A_TIME):
        _read_rows(text.matrix(rows, width), by_width[width], window, result, offset, rows)


def _read_rows(
    values: np.ndarray,
    layouts: list[TimeLayout],
    window: tuple[int, int],
    result: ArrayTimes,
    offset: int,
    rows: np.ndarray | None,
) -> None:
    """Read ``values`` (a ``(rows, width)`` matrix of bytes) in the layouts of their width, into
    ``result`` at ``offset + rows`` (``offset`` on, one after another, when ``rows`` is None)."""
    low, high = window
    block = np.ascontiguousarray(values.T)
    n = block.shape[1]
    # the layout most of the first values have first: usually the only one tried
    sample = block[:, :1000]
    tried = sorted(layouts, key=lambda layout: -_shaped(sample, layout).sum())
    open_rows = None  # all of them
    for layout in tried:
        where = None if open_rows is None else np.flatnonzero(open_rows)
        if where is not None and not len(where):
            break
        value, ok = _read_layout(block if where is None else block[:, where], layout)
        ok &= (value >= low) & (value <= high)
        times, found = (result.wall, result.naive) if layout.naive else (result.utc, result.aware)
        if where is None and rows is None:  # every row, in place
            part = slice(offset, offset + n)
            np.copyto(times[part], value, where=ok)
            found[part] |= ok
        else:
            chosen = np.flatnonzero(ok) if where is None else where[ok]
            at = offset + (chosen if rows is None else rows[chosen])
            times[at] = value[ok]
            found[at] = True
        if where is None:
            if ok.all():
                break
            open_rows = ~ok
        else:
            open_rows[where[ok]] = False


def days_from_civil(year: np.ndarray, month: np.ndarray, day: np.ndarray) -> np.ndarray:
    """Days since 1970-01-01 of proleptic Gregorian dates (years 0 to 9999), in integer
    arithmetic (H. Hinnant's ``days_from_civil``).

    Examples
    --------
    >>> days_from_civil(np.array([1970, 2024, 1900]), np.array([1, 3, 3]), np.array([1, 10, 1]))
    array([     0,  19792, -25508])
    """
    year = np.asarray(year, dtype=np.int64) - (np.asarray(month) <= 2)
    era = year // 400
    year_of_era = year - era * 400
    month = np.asarray(month, dtype=np.int64)
    day_of_year = (153 * (month + np.where(month > 2, -3, 9)) + 2) // 5 + np.asarray(day) - 1
    day_of_era = year_of_era * 365 + year_of_era // 4 - year_of_era // 100 + day_of_year
    return era * 146_097 + day_of_era - 719_468


@functools.cache
def _months() -> tuple[np.ndarray, np.ndarray]:
    """By ``year * 12 + month - 1`` (years 0 to 9999): the day (since 1970-01-01) each month
    starts, and its number of days.

    The Gregorian calendar repeats every 400 years (146,097 days): one cycle is worked out
    and the others shifted from it (a millisecond; the whole table at once took 15).
    """
    index = np.arange(400 * 12)
    year, month = index // 12, index % 12 + 1
    first = days_from_civil(year, month, np.ones_like(index))
    following = days_from_civil(year + (month == 12), month % 12 + 1, np.ones_like(index))
    cycles = np.arange(25, dtype=np.int64)[:, None] * 146_097
    return (first + cycles).ravel(), np.tile((following - first).astype(np.uint8), 25)


#: The 24-hour clock's hour of a 12-hour clock's hour ``h`` (1 to 12) and AM/PM flag ``pm``, by
#: ``2 * h + pm`` (any ``h`` a byte holds: rows with other hours are rejected anyway).
_HOUR_OF_12 = np.zeros(2 * 256, dtype=np.int32)
_HOUR_OF_12[2 * np.arange(1, 13)] = np.arange(1, 13) % 12
_HOUR_OF_12[2 * np.arange(1, 13) + 1] = np.arange(1, 13) % 12 + 12

_EITHER = {_T_OR_SPACE: b"T ", _A_OR_P: b"AP", _SIGN: b"+-"}


def _shaped(columns: np.ndarray, layout: TimeLayout) -> np.ndarray:
    """Which values have the layout's characters where it has characters (digits unchecked)."""
    ok = np.ones(columns.shape[1], dtype=bool)
    for position, (kind, literal) in enumerate(zip(layout.kinds, layout.literals, strict=True)):
        if kind == _LITERAL:
            ok &= columns[position] == literal
        elif kind in _EITHER:
            either = _EITHER[kind]
            ok &= (columns[position] == either[0]) | (columns[position] == either[1])
    return ok


def _read_layout(columns: np.ndarray, layout: TimeLayout) -> tuple[np.ndarray, np.ndarray]:
    """Microseconds (local clock, or UTC for a layout with an offset) of each value, and whether
    the value is a valid time in ``layout``. ``columns`` holds the values' bytes position by
    position: ``columns[j]`` is byte ``j`` of every value."""
    n = columns.shape[1]
    ok = _shaped(columns, layout)
    every = bool(ok.all())
    rows = None if every else np.flatnonzero(ok)
    if rows is not None:
        if not len(rows):
            return np.empty(n, dtype=np.int64), ok
        columns = columns[:, rows]
    positions = [position for position, kind in enumerate(layout.kinds) if kind == _DIGIT]
    digits = columns[positions]  # one row per digit of the layout (a copy)
    digits -= np.uint8(48)
    good = digits.max(axis=0) < 10
    at = {}
    for row, position in enumerate(positions):
        at.setdefault(layout.fields[position], []).append(row)

    def number(field: str, kind: type = np.uint8) -> np.ndarray:
        """A field's value: two digits as a byte (at most 99), other counts in ``np.int32``,
        or in ``kind`` when it is wider."""
        rows_of_field = at.get(field, [])
        if len(rows_of_field) == 2 and kind is np.uint8:
            return digits[rows_of_field[0]] * np.uint8(10) + digits[rows_of_field[1]]
        result = np.zeros(digits.shape[1], dtype=np.promote_types(kind, np.int32))
        for row in rows_of_field:
            result = result * 10 + digits[row]
        return result

    fields = set(layout.fields)
    year, month, day = number("Y"), number("m"), number("d")
    month_index = year * 12 + (month.astype(np.int32) - 1)
    good &= month - np.uint8(1) < 12  # (bytes: 0 - 1 wraps round to 255)
    month_index[~good] = 0  # a bad digit or month indexes nothing out of the table
    first_day, month_length = _months()
    good &= day - np.uint8(1) < month_length[month_index]
    if "I" in fields:
        hour = number("I")
        good &= hour - np.uint8(1) < 12
        pm = columns[layout.fields.index("p")] == ord("P")
        hour = _HOUR_OF_12[hour.astype(np.intp) * 2 + pm]
    else:
        hour = number("H")
        good &= hour < 24
    minute, second = number("M"), number("S")
    good &= (minute < 60) & (second < 60)
    clock = hour * np.int32(3600) + minute * np.int32(60) + second  # seconds into the day
    if "s" in fields:
        hours, minutes = number("o"), number("q")
        good &= (hours <= 18) & (minutes < 60)
        east = columns[layout.fields.index("s")] == ord("+")
        offset = hours * np.int32(3600) + minutes * np.int32(60)
        clock = np.where(east, clock - offset, clock + offset)
    found = first_day[month_index]  # (a new array: worked on in place)
    found += day
    found -= 1
    found *= 86_400
    found += clock
    found *= 1_000_000
    if "f" in fields:
        found += number("f", np.int64) * 10 ** (6 - layout.fields.count("f"))
    if every:
        return found, good
    value = np.empty(n, dtype=np.int64)
    ok[rows] = good
    value[rows] = found
    return value, ok


# --- local clock time to instants ---------------------------------------------------------------


def localize_clock(
    wall: np.ndarray, zone: str, per_second: int = 1_000_000
) -> tuple[np.ndarray, np.ndarray]:
    """The UTC instants of local clock times whose offset in ``zone`` is certain, and which times
    fall in a DST gap or a repeated hour: those are left to pandas (:data:`NAT` there).

    ``wall`` and the result count ``1 / per_second`` seconds since the epoch. The zone's
    changes of offset over the span of the times are read from pandas' own conversion: a clock
    time between two changes, outside the gap or the repeated hour of both, has one reading.

    Examples
    --------
    >>> wall = np.array(["2024-03-10T02:30", "2024-07-01T12:00"], dtype="datetime64[us]")
    >>> utc, unsure = localize_clock(wall.astype(np.int64), "America/Chicago")
    >>> unsure.tolist(), utc[1:].astype("datetime64[us]").astype(str).tolist()
    ([True, False], ['2024-07-01T17:00:00.000000'])
    """
    valid = wall != NAT
    every = bool(valid.all())
    if not every and not valid.any():
        return np.full(len(wall), NAT, dtype=np.int64), np.zeros(len(wall), dtype=bool)
    lowest, highest = np.iinfo(np.int64).min, np.iinfo(np.int64).max
    if every:  # (no copy of the valid rows to find their span)
        first, last = int(wall.min()), int(wall.max())
    else:
        first = int(np.min(wall, where=valid, initial=highest))
        last = int(np.max(wall, where=valid, initial=lowest))
    changes, before, after = zone_changes(
        zone, first // per_second - 2 * 86_400, last // per_second + 2 * 86_400
    )
    # segment k holds the instants between change k-1 and change k, at offsets[k]; its clock
    # times run from starts[k] to ends[k], and those from ends[k - 1] on are in segment k - 1 too
    offsets = np.concatenate([before[:1], after]) * per_second
    starts = np.concatenate([[lowest], (changes + after) * per_second])
    ends = np.concatenate([(changes + before) * per_second, [highest]])
    segment = np.searchsorted(starts, wall, side="right") - 1
    sure = wall < ends[segment]
    sure &= wall >= np.concatenate([[lowest], ends[:-1]])[segment]  # not also the one before
    if not every:
        sure &= valid
    utc = np.subtract(wall, offsets[segment])  # (a NaT's wraps round: it is reset below)
    np.copyto(utc, NAT, where=~sure)
    return utc, ~sure if every else valid & ~sure


def zone_changes(zone: str, low: int, high: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The instants (seconds since the epoch, UTC) between ``low`` and ``high`` where ``zone``'s
    offset changes, with the offsets (seconds) before and after each change; with no change,
    ``before`` holds the one offset.

    Examples
    --------
    >>> start = int(np.datetime64("2024-01-01", "s").astype(np.int64))
    >>> changes, before, after = zone_changes("America/Chicago", start, start + 365 * 86_400)
    >>> changes.astype("datetime64[s]").astype(str).tolist(), before.tolist(), after.tolist()
    (['2024-03-10T08:00:00', '2024-11-03T07:00:00'], [-21600, -18000], [-18000, -21600])
    """
    day = 86_400
    changes, before, after = _changes_by_day(zone, low // day, high // day + 1)
    inside = (changes >= low) & (changes <= high)
    if not len(changes):
        return changes, before, after
    if not inside.any():
        offset = _offsets(zone, np.array([low], dtype=np.int64))
        return np.zeros(0, np.int64), offset, np.zeros(0, np.int64)
    return changes[inside], before[inside], after[inside]


@functools.lru_cache(maxsize=64)
def _changes_by_day(zone: str, first_day: int, last_day: int):
    """:func:`zone_changes` between two days (kept: the batches of a file ask for the same)."""
    day = 86_400
    low, high = first_day * day, last_day * day
    samples = np.arange(low - low % day, high + day, day, dtype=np.int64)
    offsets = _offsets(zone, samples)
    where = np.flatnonzero(offsets[1:] != offsets[:-1])
    if not len(where):
        return np.zeros(0, np.int64), offsets[:1], np.zeros(0, np.int64)
    left, right = samples[where], samples[where + 1]
    first = offsets[where]
    while (right - left > 1).any():  # bisect each change to the second
        middle = left + (right - left) // 2
        same = _offsets(zone, middle) == first
        left = np.where(same, middle, left)
        right = np.where(same, right, middle)
    return right, first, offsets[where + 1]


def _offsets(zone: str, utc_seconds: np.ndarray) -> np.ndarray:
    """The zone's UTC offset (seconds) at each instant, by pandas' conversion."""
    instants = pd.DatetimeIndex(utc_seconds.astype("datetime64[s]").astype("datetime64[ns]"))
    local = instants.tz_localize("UTC").tz_convert(zone).tz_localize(None)
    return (local.asi8 - instants.asi8) // 1_000_000_000


# --- numbers ------------------------------------------------------------------------------------

#: The most significant digits a plain decimal may have to be read here (exactly, either way).
MAX_DIGITS = 15


def read_plain_numbers(
    values: pa.Array | pa.ChunkedArray,
    *,
    into: tuple[np.ndarray, ...] | None = None,
    start: int = 0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The numbers of a text array written as plain decimals (``-87.6298``, ``1144907``: an
    optional ``-``, digits, and an optional ``.`` with digits; at most 15 digits, not a negative
    zero), which values those are, which of them have a decimal point, and which values are
    empty (or null). Other values are NaN and left unsettled. With ``into``, the results go to
    its rows from ``start`` on.

    Examples
    --------
    >>> numbers, plain, dotted, empty = read_plain_numbers(
    ...     pa.array(["-87.6", "1e3", "", "12", "-0.0", "5."]))
    >>> numbers[plain].tolist(), plain.tolist(), dotted[plain].tolist(), empty.tolist()
    ([-87.6, 12.0], [True, False, False, True, False, False], [True, False], \
[False, False, True, False, False, False])
    """
    if into is None:
        n = len(values)
        into = tuple([np.full(n, np.nan), *(np.zeros(n, dtype=bool) for _ in range(3))])
    number, plain, dotted, empty = into
    for piece in chunks(values):
        text = TextBytes.of(piece)
        empty[start : start + len(piece)] = text.length == 0
        uniform = text.one_width()
        if uniform is not None and uniform[0] <= MAX_DIGITS + 2:  # the usual column, in place
            value, ok, dot = _plain_decimals(np.ascontiguousarray(uniform[1].T))
            part = slice(start, start + len(piece))
            if len(value) == len(piece):
                np.copyto(number[part], value, where=ok)
                plain[part], dotted[part] = ok, ok & dot
            else:
                filled = text.length > 0
                number[part][filled] = np.where(ok, value, np.nan)
                plain[part][filled], dotted[part][filled] = ok, ok & dot
            start += len(piece)
            continue
        short = np.flatnonzero((text.length > 0) & (text.length <= MAX_DIGITS + 2))
        for width, part in text.by_width(short, ROWS_AT_A_TIME):
            block = np.ascontiguousarray(text.matrix(part, width).T)
            value, ok, dot = _plain_decimals(block)
            at = start + part
            number[at[ok]] = value[ok]
            plain[at[ok]] = True
            dotted[at[ok & dot]] = True
        start += len(piece)
    return into


def _plain_decimals(columns: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The values of fixed-width text given byte position by byte position (``columns[j]`` is
    byte ``j`` of every value), whether each is a plain decimal, and whether it has a point.

    With at most 15 digits, the digits make an integer below 2**53 and the point a power of ten
    up to 10**15, both exact as floats, so their quotient is the correctly rounded value: the
    float that Arrow's and pandas' parsers give."""
    width, n = columns.shape
    uniform = _uniform_decimals(columns)
    if uniform is not None:
        return uniform
    minus = columns[0] == ord("-")
    ok = np.ones(n, dtype=bool)
    seen_dot = np.zeros(n, dtype=bool)
    after_dot = np.zeros(n, dtype=np.int64)
    mantissa = np.zeros(n, dtype=np.int64)
    nonzero = np.zeros(n, dtype=bool)
    previous_digit = np.zeros(n, dtype=bool)
    for position in range(width):
        byte = columns[position]
        digit = byte - np.uint8(48)
        is_digit = digit < 10
        is_dot = byte == ord(".")
        if position == 0:
            ok &= is_digit | minus
        else:
            # a point only right after a digit, and only one
            ok &= is_digit | (is_dot & previous_digit & ~seen_dot)
        if position == 1:
            ok &= is_digit | ~minus  # a digit right after the sign
        if is_digit.all():
            mantissa = mantissa * 10 + digit
        elif is_digit.any():
            mantissa = np.where(is_digit, mantissa * 10 + digit, mantissa)
        after_dot += is_digit & seen_dot
        nonzero |= is_digit & (digit > 0)
        seen_dot |= is_dot
        previous_digit = is_digit
    ok &= previous_digit  # ends with a digit
    ok &= width - minus - seen_dot <= MAX_DIGITS
    ok &= ~minus | nonzero  # a negative zero is read as 0 or -0 depending on the other values
    value = mantissa / np.power(10.0, after_dot)
    return np.where(minus, -value, value), ok, seen_dot


def _uniform_decimals(columns: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """:func:`_plain_decimals` for the usual column: every value has its digits, its point and
    its sign (if any) in the same places (``1144907``, ``41.873191445``); else None."""
    width, n = columns.shape
    kinds = []
    for position in range(width):
        column = columns[position]
        if ((column - np.uint8(48)) < 10).all():
            kinds.append("9")
        elif (column == ord(".")).all():
            kinds.append(".")
        elif position == 0 and (column == ord("-")).all():
            kinds.append("-")
        else:
            return None
    layout = "".join(kinds)
    digits = layout.count("9")
    body = layout.lstrip("-")
    if layout.count("-") > 1 or body.count(".") > 1 or digits > MAX_DIGITS:
        return None
    if not body or body[0] != "9" or body[-1] != "9":
        return None
    mantissa = np.zeros(n, dtype=np.int64)
    for position, kind in enumerate(layout):
        if kind == "9":
            mantissa = mantissa * 10 + (columns[position] - np.uint8(48))
    places = len(body) - body.index(".") - 1 if "." in body else 0
    value = mantissa / 10.0**places
    ok = np.ones(n, dtype=bool)
    if layout[0] == "-":
        value = -value
        ok = mantissa != 0  # a negative zero is left to the per-value rules
    return value, ok, np.full(n, "." in body)


# --- distinct values ----------------------------------------------------------------------------


def encode(values: pa.Array | pa.ChunkedArray) -> tuple[np.ndarray, list]:
    """Each value's position in the list of distinct values (nulls too: ``None`` is one of them).

    Examples
    --------
    >>> encode(pa.chunked_array([["b", "a"], [None, "b"]]))
    (array([0, 1, 2, 0]), ['b', 'a', None])
    """
    distinct = pc.unique(values)
    positions = pc.index_in(values, value_set=distinct, skip_nulls=False)
    if isinstance(positions, pa.ChunkedArray):
        positions = positions.combine_chunks() if positions.num_chunks else pa.array([], pa.int32())
    return positions.to_numpy(zero_copy_only=False).astype(np.int64), distinct.to_pylist()


# --- hashing text -------------------------------------------------------------------------------

_FNV_OFFSET = np.uint64(0xCBF29CE484222325)
_FNV_PRIME = np.uint64(0x100000001B3)
#: Longer values are hashed one by one in Python (a field may hold megabytes).
_LONGEST_HASHED_AS_ARRAY = 64


def hash_text(
    values: pa.Array | pa.ChunkedArray, *, into: np.ndarray | None = None, start: int = 0
) -> np.ndarray:
    """A 64-bit hash of each text value (up to 8 bytes: the bytes themselves, mixed with the length;
    longer: FNV-1a over its UTF-8 bytes, seeded by its length); the same text always has the same
    hash, whatever array it is in. With ``into``, the hashes go to
    its rows from ``start`` on.

    Examples
    --------
    >>> a = hash_text(pa.array(["id-1", "id-2", "x" * 100]))
    >>> b = hash_text(pa.array(["x" * 100, "id-1"]))
    >>> bool(a[0] == b[1]), bool(a[2] == b[0]), bool(a[0] == a[1])
    (True, True, False)
    """
    into = np.zeros(len(values), dtype=np.uint64) if into is None else into
    for piece in chunks(values):
        into[start : start + len(piece)] = hash_bytes(TextBytes.of(piece))
        start += len(piece)
    return into


def hash_bytes(text: TextBytes) -> np.ndarray:
    """:func:`hash_text` of values already seen as their bytes.

    Examples
    --------
    >>> values = pa.array(["id-1", "", "x" * 100])
    >>> bool((hash_bytes(TextBytes.of(values)) == hash_text(values)).all())
    True
    """
    n = len(text)
    uniform = text.one_width()
    if uniform is not None and uniform[0] <= 8 and len(uniform[1]) == n:  # the usual ids
        return _short_hashes(uniform[1])
    hashes = np.empty(n, dtype=np.uint64)
    # up to 8 bytes (most ids): the bytes as one integer, mixed with the length (a one-to-one
    # mix: two different texts of one length never share a hash)
    for width, rows in text.by_width(np.flatnonzero(text.length <= 8)):
        hashes[rows] = _short_hashes(text.matrix(rows, width))
    # longer: FNV-1a over the bytes, seeded by the length
    middle = np.flatnonzero((text.length > 8) & (text.length <= _LONGEST_HASHED_AS_ARRAY))
    order = middle[np.argsort(-text.length[middle], kind="stable")]
    lengths = text.length[order]
    starts = text.start[order]
    state = np.full(len(order), _FNV_OFFSET, dtype=np.uint64) ^ lengths.astype(np.uint64)
    active = len(order)
    for position in range(int(lengths[0]) if len(lengths) else 0):
        while active and lengths[active - 1] <= position:
            active -= 1
        byte = text.data[starts[:active] + position].astype(np.uint64)
        state[:active] = (state[:active] ^ byte) * _FNV_PRIME
    hashes[order] = state
    for row in np.flatnonzero(text.length > _LONGEST_HASHED_AS_ARRAY):
        start, length = int(text.start[row]), int(text.length[row])
        digest = hashlib.blake2b(text.data[start : start + length].tobytes(), digest_size=8)
        hashes[row] = np.frombuffer(digest.digest(), dtype=np.uint64)[0]
    return hashes


def _short_hashes(values: np.ndarray) -> np.ndarray:
    """The hashes of values of one width, at most 8 bytes (a ``(values, width)`` matrix): the
    bytes as one integer, mixed with the width (a one-to-one mix: two different texts of one
    width never share a hash)."""
    count, width = values.shape
    if width == 8 and values.flags.c_contiguous:
        packed = values.view(np.uint64).ravel()
    else:
        whole = np.zeros((count, 8), dtype=np.uint8)
        whole[:, :width] = values
        packed = whole.view(np.uint64).ravel()
    return _mix(packed ^ np.uint64((width * 0x9E3779B97F4A7C15) % (1 << 64)))


def _mix(values: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser: a one-to-one mix of 64-bit integers."""
    values = values ^ (values >> np.uint64(30))
    values = values * np.uint64(0xBF58476D1CE4E5B9)
    values = values ^ (values >> np.uint64(27))
    values = values * np.uint64(0x94D049BB133111EB)
    return values ^ (values >> np.uint64(31))


# --- reading a CSV while counting its lines ---------------------------------------------------


class LineCounter:
    """A binary file for pyarrow to read, which counts line breaks in what is read through it.

    ``newlines``, ``returns`` and ``pairs`` count ``\\n``, ``\\r`` and ``\\r\\n``; ``size`` the
    bytes and ``last`` the last byte. A ``.gz`` or ``.bz2`` file is decompressed once.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        name = self.path.name.lower()
        if name.endswith(".gz"):
            self._stream = gzip.open(self.path, "rb")  # noqa: SIM115 - closed by close()
        elif name.endswith(".bz2"):
            self._stream = bz2.open(self.path, "rb")  # noqa: SIM115 - closed by close()
        else:
            self._stream = self.path.open("rb")
        self._position = 0
        self.newlines = self.returns = self.pairs = self.size = 0
        self.last = b""
        self.closed = False
        self._found = np.empty(0, dtype=bool)

    # the file protocol pyarrow uses
    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def writable(self) -> bool:
        return False

    def tell(self) -> int:
        return self._position

    def read(self, size: int = -1) -> bytes:
        chunk = self._stream.read(size if size is not None and size >= 0 else -1)
        self._count(np.frombuffer(chunk, dtype=np.uint8))
        self._position += len(chunk)
        return chunk

    def read_buffer(self, size: int = -1) -> pa.Buffer | bytes:
        """The next ``size`` bytes, in a buffer of Arrow's memory pool (what pyarrow asks for
        when a file has this method).

        Arrow's pool reuses the memory of blocks already parsed; a ``bytes`` object for each
        block (:meth:`read`) takes fresh pages from the system, which it must zero: 0.1 s more
        for a million rows of the portal's export.
        """
        if size is None or size < 0:
            return self.read()
        buffer = pa.allocate_buffer(size, resizable=True)
        with memoryview(buffer) as view:
            got = 0
            while got < size:  # a decompressing stream may give less than asked
                n = self._stream.readinto(view[got:])
                if not n:
                    break
                got += n
        if got < size:
            buffer.resize(got)
        self._count(np.frombuffer(buffer, dtype=np.uint8))
        self._position += got
        return buffer

    def _count(self, as_bytes: np.ndarray) -> None:
        if not len(as_bytes):
            return
        if len(self._found) < len(as_bytes):
            self._found = np.empty(len(as_bytes), dtype=bool)
        found = self._found[: len(as_bytes)]  # one buffer for every block: no fresh pages
        self.newlines += int(np.count_nonzero(np.equal(as_bytes, 10, out=found)))
        returns = int(np.count_nonzero(np.equal(as_bytes, 13, out=found)))
        if returns:
            self.returns += returns
            self.pairs += int(np.count_nonzero(found[:-1] & (as_bytes[1:] == 10)))
        if self.last == b"\r" and as_bytes[0] == 10:
            self.pairs += 1
        self.size += len(as_bytes)
        self.last = as_bytes[-1:].tobytes()

    @property
    def lines(self) -> int:
        """Lines in what was read, as an editor counts them (a last line without a break too)."""
        unfinished = 1 if self.size and self.last not in (b"\n", b"\r") else 0
        return self.newlines + self.returns - self.pairs + unfinished

    def simple_lines(self, n_records: int) -> bool:
        """Whether each of ``n_records`` records after the header is one line of its own."""
        return self.lines == n_records + 1 and self.returns == self.pairs

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self._stream.close()

    def __enter__(self) -> LineCounter:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def csv_options(
    wanted: list[str], block: int, *, newlines_in_values: bool, use_threads: bool = True
) -> dict:
    """The pyarrow options that read ``wanted`` as bytes (``binary``), empty fields as ``""``.

    Bytes, not text: pyarrow checks text value by value as it reads, a fifth of the reading
    time of the portal's export; :func:`text_columns` then checks each column's bytes at once.
    (Not ``large_binary``, though pandas holds text with 64-bit offsets: 4 bytes more a value
    in every column read, 0.16 GiB more at the peak of counting 5 million rows, for no time
    saved.)
    """
    return {
        "read_options": pacsv.ReadOptions(block_size=block, use_threads=use_threads),
        "parse_options": pacsv.ParseOptions(newlines_in_values=newlines_in_values),
        "convert_options": pacsv.ConvertOptions(
            include_columns=wanted,
            column_types=dict.fromkeys(wanted, pa.binary()),
            strings_can_be_null=False,
            quoted_strings_can_be_null=False,
        ),
    }


def read_csv_counting(
    path: Path, wanted: list[str], block: int, *, newlines_in_values: bool
) -> tuple[pa.Table, LineCounter]:
    """The wanted columns of a CSV as bytes (see :func:`text_columns`), and the counter of its
    lines (read in one pass)."""
    with LineCounter(path) as counter:
        table = pacsv.read_csv(
            counter, **csv_options(wanted, block, newlines_in_values=newlines_in_values)
        )
    return table, counter


# --- bytes read from a CSV as text ------------------------------------------------------------


@dataclass
class NotUtf8:
    """The values of a CSV read that were not UTF-8 text, by column: how many, and the line of
    the first. Such a value is read with each byte that is not UTF-8 written as ``\\xNN``
    (Python's ``backslashreplace``): the row goes on to the rules like any other (a time or a
    coordinate written so is rejected as unparseable, an id or a category is kept so), nothing
    is lost and the file is not refused for it."""

    count: dict[str, int] = field(default_factory=dict)
    first_line: dict[str, int] = field(default_factory=dict)

    def add(self, column: str, lines: np.ndarray) -> None:
        """``lines``: the lines of values of ``column`` that were not UTF-8."""
        if len(lines):
            self.count[column] = self.count.get(column, 0) + len(lines)
            self.first_line[column] = int(min(self.first_line.get(column, lines[0]), lines[0]))

    def notes(self) -> list[str]:
        """What the run says of them, a line per column.

        Examples
        --------
        >>> found = NotUtf8()
        >>> found.add("ID", np.array([5, 9]))
        >>> found.notes()  # doctest: +NORMALIZE_WHITESPACE
        ["2 'ID' values were not UTF-8 text (the first on line 5): each byte that is not is
        shown as \\\\xNN (save the file as UTF-8 to read them as written)"]
        """
        return [
            f"{n:,} {column!r} value{'s were' if n > 1 else ' was'} not UTF-8 text (the first "
            f"on line {self.first_line[column]:,}): each byte that is not is shown as \\xNN "
            "(save the file as UTF-8 to read them as written)"
            for column, n in self.count.items()
        ]


_HIGH_BITS = np.uint64(0x8080808080808080)


def is_ascii(data: np.ndarray) -> bool:
    """Whether every byte of ``data`` (``uint8``) is below 128: one pass, eight bytes at a time.

    Examples
    --------
    >>> is_ascii(np.frombuffer(b"Loop, 60601", dtype=np.uint8))
    True
    >>> is_ascii(np.frombuffer("Pilsen \u00e9".encode(), dtype=np.uint8))
    False
    """
    whole = len(data) // 8 * 8
    high = np.bitwise_or.reduce(data[:whole].view(np.uint64)) if whole else np.uint64(0)
    tail = int(data[whole:].max()) if whole < len(data) else 0
    return not (int(high & _HIGH_BITS) or tail & 0x80)


def text_of_bytes(values: pa.Array) -> tuple[pa.Array, np.ndarray]:
    """A ``binary`` array as text (``string``): the same buffers when every byte is ASCII (the
    portal's export), else checked as UTF-8 by Arrow; a value that is not UTF-8 is read with
    those bytes escaped (:class:`NotUtf8`). Also the rows (from 0) of such values.

    Examples
    --------
    >>> text, rows = text_of_bytes(pa.array([b"BATTERY", b"", "\u00e9".encode()]))
    >>> text.to_pylist(), rows.tolist()
    (['BATTERY', '', 'é'], [])
    >>> text, rows = text_of_bytes(pa.array([b"ok", b"caf\\xe9"]))
    >>> text.to_pylist(), rows.tolist()
    (['ok', 'caf\\\\xe9'], [1])
    """
    n = len(values)
    none = np.zeros(0, dtype=np.int64)
    buffers = values.buffers()
    offsets = np.frombuffer(buffers[1], dtype=np.int32, count=values.offset + n + 1)
    low, high = int(offsets[values.offset]), int(offsets[values.offset + n])
    data = np.frombuffer(buffers[2], dtype=np.uint8)[low:high] if buffers[2] is not None else None
    if data is None or is_ascii(data):
        text = pa.Array.from_buffers(
            pa.string(), n, buffers, null_count=values.null_count, offset=values.offset
        )
        return text, none
    try:
        return values.cast(pa.string()), none
    except pa.ArrowInvalid:  # value by value: only a block with such bytes comes here
        text, rows = [], []
        for row, value in enumerate(values.to_pylist()):
            try:
                text.append(None if value is None else value.decode("utf-8"))
            except UnicodeDecodeError:
                text.append(value.decode("utf-8", "backslashreplace"))
                rows.append(row)
        return pa.array(text, type=pa.string()), np.array(rows, dtype=np.int64)


def text_columns(table: pa.Table, lines: np.ndarray, found: NotUtf8 | None = None) -> pa.Table:
    """The ``binary`` columns of a CSV read (:func:`csv_options`) as text.

    ``lines`` holds each record's line in the file; the values that are not UTF-8 are counted
    in ``found``, with their lines (:class:`NotUtf8`).

    Examples
    --------
    >>> found = NotUtf8()
    >>> table = text_columns(pa.table({"ID": pa.array([b"1", b"2\\xc9"])}), np.array([2, 3]), found)
    >>> table.column("ID").to_pylist(), found.count, found.first_line
    (['1', '2\\\\xc9'], {'ID': 1}, {'ID': 3})
    """
    columns = []
    for name in table.column_names:
        values = table.column(name)
        if not pa.types.is_binary(values.type):
            columns.append(values)
            continue
        pieces, first = [], 0
        for chunk in values.chunks:
            text, rows = text_of_bytes(chunk)
            pieces.append(text)
            if len(rows) and found is not None:
                found.add(name, lines[first + rows])
            first += len(chunk)
        columns.append(pa.chunked_array(pieces, pa.string()))
    return pa.table(columns, names=table.column_names)
