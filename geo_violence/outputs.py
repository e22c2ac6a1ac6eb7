"""Writing outputs: to a temporary name then renamed, never over a file without ``overwrite``."""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import io
import json
import os
import tempfile
from collections.abc import Callable, Iterable
from importlib import metadata
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from .errors import InputFileError, OutputExistsError

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
    """The sha256 of a file's bytes, as hex.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "a.txt"
    >>> _ = path.write_bytes(b"abc")
    >>> sha256_of(path)[:12]
    'ba7816bf8f01'
    """
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

    An interrupted run leaves the previous file (or none), never a half-written one.

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
        dir=target.parent, prefix=f".{target.name}.", suffix=".tmp"
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
    """Write a table as CSV (UTF-8, no index), atomically."""
    return write_atomically(path, lambda tmp: frame.to_csv(tmp, index=False))


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
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "t.parquet"
    >>> _ = write_parquet(pd.DataFrame({"a": [1]}), path, {"seed": 1})
    >>> read_run_metadata(path)["seed"]
    1
    """
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
    schema_metadata = pq.read_schema(path).metadata or {}
    return json.loads(schema_metadata.get(PARQUET_METADATA_KEY, b"{}"))
