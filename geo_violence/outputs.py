"""Writing outputs: to a temporary name then renamed, never over a file without ``overwrite``, and
never by two runs at once (a lock on each run folder and store)."""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import hashlib
import io
import json
import logging
import os
import re
import secrets
import socket
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import BusyError, InputFileError, OutputExistsError

if TYPE_CHECKING:  # pandas and pyarrow load when a table is written: locks and atomic writes,
    import numpy as np
    import pandas as pd  # which every command takes first, import neither

logger = logging.getLogger(__name__)

#: Key of the geo_violence entry in Parquet schema metadata.
PARQUET_METADATA_KEY = b"geo_violence"
#: Packages whose versions go into every manifest and Parquet file.
RECORDED_PACKAGES = (
    "geo-violence",
    "geopandas",
    "shapely",
    "pyproj",
    "pandas",
    "numpy",
    "scipy",
    "pyarrow",
    "libpysal",
    "esda",
    "folium",
)


def package_versions() -> dict[str, str]:
    """The installed versions of the packages that shape the results.

    Examples
    --------
    >>> "numpy" in package_versions()
    True
    """
    versions = {}
    for name in RECORDED_PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def sha256_of(path: str | Path) -> str:
    """The sha256 of a file's bytes, as hex (taken from :func:`start_sha256` when that already
    began hashing the file as it is now).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "a.txt"
    >>> _ = path.write_bytes(b"abc")
    >>> sha256_of(path)[:12]
    'ba7816bf8f01'
    """
    key = _file_version(path)
    with _HASHING_LOCK:
        pending = _HASHING.pop(key, None) if key is not None else None
    if pending is not None:
        digest = pending.result()
        if _file_version(path) == key:  # unchanged while it was hashed
            return digest
    return _sha256_now(path)


def start_sha256(path: str | Path) -> None:
    """Begin hashing a file in a background thread, for a later :func:`sha256_of` of it: a large
    input is hashed while the job reads and counts it, not after (hashlib and file reads let
    go of the interpreter). A file changed in between is hashed again; an unreadable one is
    left to :func:`sha256_of` to report.

    On Linux the thread runs at the lowest priority (:func:`_yield_the_cores`): it takes a
    core the job leaves idle, and does not slow the reading that keeps every core busy.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "a.txt"
    >>> _ = path.write_bytes(b"abc")
    >>> start_sha256(path)
    >>> sha256_of(path) == hashlib.sha256(b"abc").hexdigest()
    True
    >>> _ = path.write_bytes(b"abcd")  # changed after the hash began: hashed again
    >>> sha256_of(path) == hashlib.sha256(b"abcd").hexdigest()
    True
    """
    from concurrent.futures import Future

    key = _file_version(path)
    if key is None:
        return
    future: Future = Future()
    with _HASHING_LOCK:
        if key in _HASHING:
            return
        _HASHING[key] = future

    def run() -> None:
        _yield_the_cores()
        try:
            future.set_result(_sha256_now(path))
        except BaseException as error:  # handed to whoever asks for the digest
            future.set_exception(error)

    threading.Thread(target=run, name="sha256", daemon=True).start()


def _yield_the_cores() -> None:
    """Give the calling thread the lowest priority (Linux: a thread is a task of its own, with
    its own nice value; elsewhere, or when refused, nothing changes)."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 19)


#: Hashes under way (:func:`start_sha256`), by file version.
_HASHING: dict[tuple, object] = {}
_HASHING_LOCK = threading.Lock()


def _file_version(path: str | Path) -> tuple | None:
    """What identifies a file's content as it is now: its path, size, modification time and inode
    (None when it is not a readable regular file)."""
    try:
        status = Path(path).stat()
    except OSError:
        return None
    if not Path(path).is_file():
        return None
    return (str(Path(path).resolve()), status.st_size, status.st_mtime_ns, status.st_ino)


def _sha256_now(path: str | Path) -> str:
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def manifest_base(
    command: str, inputs: Iterable[str | Path], outputs: dict[str, Path], **sections: object
) -> dict:
    """What every ``manifest.json`` holds: the command, when, each input (sha256 and size for a
    file, the path alone for a folder), package versions and each output's sha256; the job's
    own ``sections`` follow.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "a.txt"
    >>> _ = path.write_text("a")
    >>> record = manifest_base("counts", [path], {"a.txt": path}, rows={"read": 1})
    >>> record["inputs"][0]["bytes"], record["outputs"]["a.txt"][:8], record["rows"]
    (1, 'ca978112', {'read': 1})
    """
    records = []
    for path in map(Path, inputs):
        if path.is_file():
            records.append(
                {"path": str(path), "sha256": sha256_of(path), "bytes": path.stat().st_size}
            )
        else:
            records.append({"path": str(path)})
    return {
        "command": command,
        "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "inputs": records,
        "packages": package_versions(),
        "outputs": {name: sha256_of(path) for name, path in sorted(outputs.items())},
        **sections,
    }


def prepare_output_dir(out_dir: str | Path, names: Iterable[str], *, overwrite: bool) -> Path:
    """Check the output folder: refuse to replace existing outputs without ``overwrite``.

    The folder itself is created by the first write (:func:`write_atomically`), so a run that
    fails before writing leaves nothing behind.

    Raises
    ------
    OutputExistsError
        Some of ``names`` exist in ``out_dir`` and ``overwrite`` is False.

    Examples
    --------
    >>> import tempfile
    >>> folder = prepare_output_dir(tempfile.mkdtemp(), ["counts.parquet"], overwrite=False)
    >>> folder.is_dir()
    True
    >>> prepare_output_dir(folder / "new", ["counts.parquet"], overwrite=False).exists()
    False
    """
    folder = Path(out_dir)
    if folder.exists() and not folder.is_dir():
        raise InputFileError(f"output folder {str(folder)!r} is a file")
    existing = sorted(name for name in names if (folder / name).exists())
    if existing and not overwrite:
        raise OutputExistsError(
            f"{str(folder)!r} already holds {', '.join(existing)}; use --overwrite to replace "
            "them or choose another --out"
        )
    return folder


def write_atomically(path: str | Path, write: Callable[[Path], None]) -> Path:
    """Call ``write(temporary_path)`` in the target's folder, then rename it onto ``path``.

    An interrupted run leaves the previous file (or none), never a half-written one; a run killed
    outright leaves its temporary file (``.NAME.PID.XXXXXXXX.tmp``), which the next run that locks
    the folder removes (:func:`folder_lock`).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> target = pathlib.Path(tempfile.mkdtemp()) / "x.txt"
    >>> write_atomically(target, lambda tmp: tmp.write_text("done")).read_text()
    'done'
    """
    target = Path(path)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise InputFileError(
            f"cannot create output folder {str(target.parent)!r}: {error}"
        ) from error
    handle, temporary = tempfile.mkstemp(
        dir=target.parent, prefix=f".{target.name}.{os.getpid()}.", suffix=".tmp"
    )
    os.close(handle)
    temporary_path = Path(temporary)
    try:
        write(temporary_path)
        os.chmod(temporary_path, 0o644)
        os.replace(temporary_path, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            temporary_path.unlink()
        raise
    return target


def write_csv(frame: pd.DataFrame, path: str | Path) -> Path:
    """Write a table as CSV (UTF-8, no index), atomically, with every text cell that a
    spreadsheet would run as a formula escaped (:func:`escape_formulas`).

    A text with a carriage return is a line break to a CSV reader, and pandas does not quote it;
    a table holding one is written with every text quoted, so it reads back whole.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> import pandas as pd
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "t.csv"
    >>> _ = write_csv(pd.DataFrame({"name": ["A\\rB", "=1"], "n": [1, 2]}), path)
    >>> pd.read_csv(path)["name"].tolist()
    ['A\\rB', "'=1"]
    """
    safe = escape_formulas(frame)
    quoting = csv.QUOTE_NONNUMERIC if _holds_return(safe) else csv.QUOTE_MINIMAL
    return write_atomically(path, lambda tmp: safe.to_csv(tmp, index=False, quoting=quoting))


def _holds_return(frame: pd.DataFrame) -> bool:
    import pandas as pd

    for column in frame.columns:
        values = frame[column]
        if isinstance(values.dtype, pd.CategoricalDtype):
            values = pd.Series(values.cat.categories.astype(object))
        elif not (values.dtype == object or pd.api.types.is_string_dtype(values.dtype)):
            continue
        is_text, strings = _text_cells(values)
        if is_text.any() and strings.str.contains("\r", regex=False).any():
            return True
    return False


def _text_cells(values: pd.Series) -> tuple[np.ndarray, pd.Series]:
    """Which cells of a column hold text, and the column as ``str`` with ``""`` elsewhere.

    A column of a string dtype holds only text and missing values, so it is read as it is (on
    a rejects table of millions of rows a Python call per cell took most of the write); any
    other column is checked cell by cell (a number in an object column is not text)."""
    import pandas as pd

    if values.dtype != object and pd.api.types.is_string_dtype(values.dtype):
        is_text = values.notna().to_numpy(dtype=bool)
        return is_text, values.fillna("").astype(str)
    text = values.astype(object)
    is_text = text.map(lambda value: isinstance(value, str)).to_numpy(dtype=bool)
    return is_text, text.where(is_text, "").astype(str)


#: What a spreadsheet takes as the start of a formula (OWASP's list: = + - @, tab, return).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?"


def escape_formulas(frame: pd.DataFrame) -> pd.DataFrame:
    """The table with a ``'`` before every text cell that starts with ``=``, ``+``, ``-``, ``@``,
    a tab or a carriage return and is not a plain number, so that a spreadsheet shows it as text
    instead of running it (CSV formula injection). Numbers, and text like ``-87.6``, stay as
    they are.

    Examples
    --------
    >>> import pandas as pd
    >>> frame = pd.DataFrame({"name": ["=HYPERLINK(1)", "-87.6", "@x", "Loop"], "n": [-1, 2, 3, 4]})
    >>> escape_formulas(frame)["name"].tolist()
    ["'=HYPERLINK(1)", '-87.6', "'@x", 'Loop']
    """
    import pandas as pd

    escaped = {}
    for column in frame.columns:
        values = frame[column]
        if isinstance(values.dtype, pd.CategoricalDtype):
            categories = values.cat.categories
            if categories.dtype == object or pd.api.types.is_string_dtype(categories.dtype):
                renamed = [_escape(value) for value in categories]
                if renamed != list(categories):
                    escaped[column] = values.cat.rename_categories(renamed)
        elif values.dtype == object or pd.api.types.is_string_dtype(values.dtype):
            risky = _formula_mask(values)
            if risky.any():
                escaped[column] = values.where(~risky, "'" + values.astype(object).where(risky, ""))
    return frame.assign(**escaped) if escaped else frame


def unescape_formulas(values: pd.Series) -> pd.Series:
    """Text as it was before :func:`escape_formulas` (for reading our own CSV tables back).

    Examples
    --------
    >>> import pandas as pd
    >>> unescape_formulas(pd.Series(["'=1+1", "'-87.6", "Loop"])).tolist()
    ['=1+1', "'-87.6", 'Loop']
    """
    is_text, strings = _text_cells(values)
    quoted = is_text & strings.str.startswith("'").to_numpy(dtype=bool)
    inner = strings.where(quoted, "").str[1:]
    undo = quoted & _formula_mask(inner).to_numpy()
    return values.astype(object).where(~undo, inner)


def _formula_mask(values: pd.Series) -> pd.Series:
    import numpy as np
    import pandas as pd

    is_text, strings = _text_cells(values)
    risky = is_text & strings.str[:1].isin(FORMULA_STARTS).to_numpy(dtype=bool)
    rows = np.flatnonzero(risky)  # a number such as -87.6 is not a formula
    if len(rows):
        number = strings.iloc[rows].str.fullmatch(_NUMBER).fillna(False).to_numpy(dtype=bool)
        risky[rows[number]] = False
    return pd.Series(risky, index=values.index)


def _escape(value: object) -> object:
    if isinstance(value, str) and value[:1] in FORMULA_STARTS and not re.fullmatch(_NUMBER, value):
        return "'" + value
    return value


def write_text(text: str, path: str | Path) -> Path:
    """Write text (UTF-8), atomically."""
    return write_atomically(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def write_json(data: object, path: str | Path) -> Path:
    """Write JSON (sorted keys, indented), atomically."""
    text = json.dumps(data, indent=2, sort_keys=True, default=str) + "\n"
    return write_text(text, path)


def write_parquet(frame: pd.DataFrame, path: str | Path, run_metadata: dict) -> Path:
    """Write a table (GeoParquet for a GeoDataFrame) with run metadata, atomically.

    ``run_metadata`` (options, seed, package versions) is stored as JSON under the
    ``geo_violence`` key of the schema metadata. Nothing time-dependent goes in, so a rerun with
    the same inputs and options gives the same bytes.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> import pandas as pd
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "t.parquet"
    >>> _ = write_parquet(pd.DataFrame({"a": [1]}), path, {"seed": 1})
    >>> read_run_metadata(path)["seed"]
    1
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    if hasattr(frame, "to_wkb") and hasattr(frame, "geometry"):
        buffer = io.BytesIO()
        frame.to_parquet(buffer, index=False)  # geopandas writes the GeoParquet "geo" metadata
        table = pq.read_table(io.BytesIO(buffer.getvalue()))
    else:
        table = pa.Table.from_pandas(frame, preserve_index=False)
    existing = dict(table.schema.metadata or {})
    existing[PARQUET_METADATA_KEY] = json.dumps(run_metadata, sort_keys=True, default=str).encode()
    table = table.replace_schema_metadata(existing)
    return write_atomically(path, lambda tmp: pq.write_table(table, tmp))


def read_run_metadata(path: str | Path) -> dict:
    """The run metadata that :func:`write_parquet` stored in a Parquet file."""
    import pyarrow.parquet as pq

    schema_metadata = pq.read_schema(path).metadata or {}
    return json.loads(schema_metadata.get(PARQUET_METADATA_KEY, b"{}"))


# --- locks ------------------------------------------------------------------------------------

#: The lock file of a run folder, there while a job writes into the folder.
LOCK_NAME = ".geo_violence.lock"
#: Another host's lock cannot be checked from here: it is live for this many hours, then stale.
FOREIGN_LOCK_HOURS = 24.0
#: A temporary file of :func:`write_atomically` without a process id (an older version) is left
#: alone for this many seconds.
_OLD_TEMPORARY_SECONDS = 3600.0
_TEMPORARY = re.compile(r"^\..+\.(\d+)\.[a-z0-9_]{8}\.tmp$")
_OLD_TEMPORARY = re.compile(r"^\..+\.[a-z0-9_]{8}\.tmp$")

_HELD: dict[str, list] = {}  # lock path -> [times entered, our record]: a process may re-enter
_HELD_GUARD = threading.RLock()


class file_lock:  # noqa: N801 - used like a function: ``with file_lock(path, what=...):``
    """Hold the lock file ``path`` while the block runs; :class:`BusyError` (exit 4) if another
    run holds it.

    The lock records the process id, the process's start time (``/proc/PID/stat``), the host
    name, the machine id and the boot id, and what holds it. A lock is stale, and taken over with
    a warning, when its host is this machine and the machine has restarted since, or its process
    is gone, or its process id now belongs to a process started at another time (a reused pid).
    Another host's lock cannot be checked from here: it is live until it is
    :data:`FOREIGN_LOCK_HOURS` old. A lock is created complete (written aside, then hard-linked
    into place), so no run ever reads a half-written one; it is taken over by renaming it away
    first, so two runs that find the same stale lock cannot both take it. The same process may
    enter it again (a job run by another job); it is released when the outermost block ends.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "store.lock"
    >>> with file_lock(path, what="an example"):
    ...     json.loads(path.read_text())["what"]
    'an example'
    >>> path.exists()
    False
    """

    def __init__(self, path: str | Path, *, what: str) -> None:
        self.path = Path(path)
        self.what = what
        self.key = str(self.path.absolute())
        self.reentered = False

    def __enter__(self) -> file_lock:
        with _HELD_GUARD:
            held = _HELD.get(self.key)
            if held is not None:
                held[0] += 1
                self.reentered = True
                return self
            _HELD[self.key] = [1, _take(self.path, self.what)]
        return self

    def __exit__(self, *exc_info) -> None:
        with _HELD_GUARD:
            held = _HELD[self.key]
            held[0] -= 1
            if held[0]:
                return
            del _HELD[self.key]
        _release(self.path, held[1])


class folder_lock:  # noqa: N801 - used like a function
    """Hold a run folder's lock (``FOLDER/.geo_violence.lock``) while a job writes into it.

    The folder is made for the lock when missing, and taken away again if the job wrote nothing
    into it. Under the lock, the temporary files that runs killed outright left in the folder
    are removed (no other run can be writing there).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp()) / "run"
    >>> with folder_lock(folder, what="an example"):
    ...     _ = write_text("done", folder / "out.txt")
    >>> sorted(path.name for path in folder.iterdir())
    ['out.txt']
    """

    def __init__(self, folder: str | Path, *, what: str) -> None:
        self.folder = Path(folder)
        self.lock = file_lock(self.folder / LOCK_NAME, what=what)
        self.created: list[Path] = []

    def __enter__(self) -> folder_lock:
        if self.folder.exists() and not self.folder.is_dir():
            raise InputFileError(f"output folder {str(self.folder)!r} is a file")
        missing = [self.folder, *self.folder.parents]
        self.created = [folder for folder in missing if not folder.exists()]
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise InputFileError(
                f"cannot create output folder {str(self.folder)!r}: {error}"
            ) from error
        try:
            self.lock.__enter__()
        except BaseException:
            self._remove_created()
            raise
        if not self.lock.reentered:
            remove_dead_temporaries(self.folder)
        return self

    def __exit__(self, *exc_info) -> None:
        self.lock.__exit__(*exc_info)
        if not self.lock.reentered:
            self._remove_created()

    def _remove_created(self) -> None:
        for folder in self.created:  # deepest first; only while empty
            try:
                folder.rmdir()
            except OSError:
                break


def remove_dead_temporaries(folder: Path, names: str = "*") -> list[Path]:
    """Remove the temporary files (``.NAME.PID.XXXXXXXX.tmp``) that another process left in
    ``folder``: call it holding the folder's lock, when no other run can be writing there.
    A temporary file without a process id (an older version's) goes once it is an hour old.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (folder / ".counts.parquet.999999999.abcd1234.tmp").write_text("half")
    >>> [path.name for path in remove_dead_temporaries(folder)]
    ['.counts.parquet.999999999.abcd1234.tmp']
    """
    removed = []
    now = time.time()
    for path in sorted(folder.glob(f".{names}.tmp")):
        found = _TEMPORARY.match(path.name)
        if found is not None:
            dead = int(found.group(1)) != os.getpid()
        elif _OLD_TEMPORARY.match(path.name):
            try:
                dead = now - path.stat().st_mtime > _OLD_TEMPORARY_SECONDS
            except OSError:
                continue
        else:
            continue
        if dead and path.is_file():
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
                logger.info("removed %s, left by an interrupted run", path.name)
                removed.append(path)
    return removed


def _take(path: Path, what: str) -> dict:
    """Create the lock file, taking over a stale one; the record written."""
    if path.exists() and not path.is_file():
        raise InputFileError(f"{path} is in the way of the lock: it is not a lock file; remove it")
    record = _lock_record(what)
    text = json.dumps(record, indent=1)
    for _ in range(5):
        if _create_complete(path, text):
            return record
        raw = _read_bytes(path)
        if raw is None:  # released between the two calls
            continue
        live, holder = _judge(raw, path)
        if live:
            raise BusyError(f"another run ({holder}) holds {path}; try again when it has finished")
        logger.warning("removing a stale lock %s (%s)", path, holder)
        _remove_if_unchanged(path, raw)
    raise BusyError(f"could not take the lock {path}: it keeps changing hands")


def _lock_record(what: str) -> dict:
    pid = os.getpid()
    return {
        "what": what,
        "pid": pid,
        "pid_start": process_start(pid),
        "host": socket.gethostname(),
        "machine": _first_line("/etc/machine-id"),
        "boot": _first_line("/proc/sys/kernel/random/boot_id"),
        "started": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "token": secrets.token_hex(8),
    }


def _create_complete(path: Path, text: str) -> bool:
    """Create ``path`` holding ``text``, atomically; False if it exists."""
    aside = path.parent / f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.new"
    aside.write_text(text, encoding="utf-8")
    try:
        os.link(aside, path)
        return True
    except FileExistsError:
        return False
    except OSError:  # a file system without hard links: exclusive creation, then the text
        try:
            handle = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            return False
        with os.fdopen(handle, "w", encoding="utf-8") as lock:
            lock.write(text)
        return True
    finally:
        aside.unlink(missing_ok=True)


def _judge(raw: bytes, path: Path) -> tuple[bool, str]:
    """Whether the lock's holder may still be running, and who it is, in words."""
    try:
        holder = json.loads(raw)
    except ValueError:
        holder = None
    if not isinstance(holder, dict) or not isinstance(holder.get("pid"), int):
        return False, "unreadable"
    pid, host = holder["pid"], str(holder.get("host"))
    who = f"{holder.get('what', 'a run')}: pid {pid} on {host}, started {holder.get('started')}"
    machine = _first_line("/etc/machine-id")
    same_host = host == socket.gethostname() and (
        not holder.get("machine") or not machine or holder["machine"] == machine
    )
    if not same_host:
        age = _age_hours(holder.get("started"), path)
        if age is None or age > FOREIGN_LOCK_HOURS:
            return False, f"{who}; another host's lock older than {FOREIGN_LOCK_HOURS:g} hours"
        return True, f"{who}; another host, which cannot be checked from here"
    boot = _first_line("/proc/sys/kernel/random/boot_id")
    if holder.get("boot") and boot and holder["boot"] != boot:
        return False, f"{who}; the machine has restarted since"
    if not process_alive(pid):
        return False, f"{who}; that process is gone"
    recorded, current = holder.get("pid_start"), process_start(pid)
    if recorded is not None and current is not None and recorded != current:
        return False, f"{who}; that process id now belongs to another process"
    return True, who


def _remove_if_unchanged(path: Path, raw: bytes) -> None:
    """Take a stale lock away, unless another run replaced it since it was read."""
    aside = path.parent / f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.stale"
    try:
        os.rename(path, aside)
    except FileNotFoundError:
        return
    if _read_bytes(aside) != raw:  # a fresh lock, taken meanwhile: put it back
        with contextlib.suppress(OSError):
            os.link(aside, path)
    aside.unlink(missing_ok=True)


def _release(path: Path, record: dict) -> None:
    raw = _read_bytes(path)
    try:
        token = json.loads(raw or b"{}").get("token")
    except (ValueError, AttributeError):
        token = None
    if token == record["token"]:
        path.unlink(missing_ok=True)
    else:
        logger.warning("the lock %s was taken over by another run while this one held it", path)


def _age_hours(started: object, path: Path) -> float | None:
    try:
        stamp = dt.datetime.fromisoformat(str(started))
        if stamp.tzinfo is None:
            stamp = stamp.replace(tzinfo=dt.UTC)
        return (dt.datetime.now(dt.UTC) - stamp).total_seconds() / 3600
    except ValueError:
        try:
            return (time.time() - path.stat().st_mtime) / 3600
        except OSError:
            return None


def _read_bytes(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError:
        return b""


def _first_line(path: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError):
        return ""


def process_alive(pid: int) -> bool:
    """Whether a process with this id runs on this machine.

    Examples
    --------
    >>> process_alive(os.getpid())
    True
    """
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OverflowError:
        return False
    return True


def process_start(pid: int) -> int | None:
    """When a process started, in clock ticks after boot (``/proc/PID/stat``); None where
    unknown. A pid whose start differs from the one recorded is another process.

    Examples
    --------
    >>> process_start(os.getpid()) == process_start(os.getpid())
    True
    """
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="utf-8", errors="replace")
        return int(stat.rsplit(")", 1)[1].split()[19])
    except (OSError, IndexError, ValueError):
        return None
