"""Counts already aggregated per unit (one column per period), read from CSV, Parquet or GeoJSON.

Such tables come from dashboards and reports that never publish incidents: the shared
``beats_violence_ytd_2024_2025.geojson`` has per-beat counts for the first nine months of 2024
and of 2025. They feed :func:`geo_violence.stats.shift.compare_periods` like counted incidents.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ..codes import as_text, canonical_codes
from ..errors import DataError, InputFileError, MissingColumnError

#: The id column looked for first; otherwise the column whose values name the most units.
DEFAULT_ID_COLUMN = "unit_id"


@dataclass
class UnitCounts:
    """Two counts per unit, aligned on a layer's units.

    Attributes
    ----------
    before, after : pandas.Series
        Counts indexed by the layer's unit ids (every unit present).
    id_column : str
        The column of the file that named the units.
    notes : list of str
        What a user should know (the id column guessed, repeated rows merged).
    """

    before: pd.Series
    after: pd.Series
    id_column: str
    notes: list[str] = field(default_factory=list)


def read_unit_counts(
    path: str | Path,
    unit_ids: pd.Index,
    *,
    before_col: str,
    after_col: str,
    id_col: str | None = None,
) -> UnitCounts:
    """Read per-unit counts of two periods and align them on the units.

    Ids match by their canonical spelling ("0111" = "111"). A unit named on several rows with the
    same counts (a beat drawn in several parts) is counted once.

    Parameters
    ----------
    path : str or Path
        CSV, Parquet, or any vector file (GeoJSON, GeoPackage...) whose attributes hold the counts.
    unit_ids : pandas.Index
        The layer's unit ids.
    before_col, after_col : str
        The columns holding each period's counts.
    id_col : str, optional
        The column naming the units: by default ``unit_id``, else the column whose values match
        the most unit ids.

    Returns
    -------
    UnitCounts

    Raises
    ------
    MissingColumnError
        A named column is not in the file (the message lists those present).
    DataError
        Units of the layer missing from the file or the reverse (named), a unit on several rows
        with different counts, or a count that is not a whole number >= 0.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "counts.csv"
    >>> _ = path.write_text("area,y2024,y2025\\n01,3,5\\n2,0,1\\n")
    >>> counts = read_unit_counts(path, pd.Index(["1", "2"]), before_col="y2024",
    ...                           after_col="y2025")
    >>> counts.before.tolist(), counts.after.tolist(), counts.id_column
    ([3, 0], [5, 1], 'area')
    """
    path = Path(path)
    table = _read_attributes(path)
    columns = list(table.columns)
    for name, role in ((before_col, "--before-col"), (after_col, "--after-col")):
        if name not in table.columns:
            raise MissingColumnError(name, columns, role)
    notes: list[str] = []
    unit_codes = pd.Index(canonical_codes(unit_ids).to_numpy())
    if id_col is None:
        id_col = _guess_id_column(table, unit_codes, path)
        if id_col != DEFAULT_ID_COLUMN:
            notes.append(f"units named by the column {id_col!r} of {path.name}")
    elif id_col not in table.columns:
        raise MissingColumnError(id_col, columns, "--id-col")
    codes = canonical_codes(as_text(table[id_col])).to_numpy()
    values = pd.DataFrame(
        {
            "before": _whole_numbers(table[before_col], before_col, table[id_col]),
            "after": _whole_numbers(table[after_col], after_col, table[id_col]),
        },
        index=pd.Index(codes, name="code"),
    )
    repeated = values.index[values.index.duplicated()].unique()
    if len(repeated):
        differing = [code for code in repeated if len(values.loc[[code]].drop_duplicates()) > 1]
        if differing:
            raise DataError(
                f"{path.name} names units {', '.join(differing[:10])} on several rows with "
                "different counts: merge them into one row per unit first"
            )
        notes.append(
            f"units {', '.join(repeated[:10])} are on several rows of {path.name} with the same "
            "counts (one unit drawn in several parts): counted once"
        )
        values = values[~values.index.duplicated()]
    missing = unit_codes.difference(values.index)
    extra = values.index.difference(unit_codes)
    if len(missing) or len(extra):
        parts = []
        if len(missing):
            parts.append(f"units of the layer missing from it: {', '.join(missing[:10])}")
        if len(extra):
            parts.append(f"ids that are no unit of the layer: {', '.join(extra[:10])}")
        raise DataError(f"{path.name} does not match the units ({'; '.join(parts)})")
    aligned = values.reindex(unit_codes)
    return UnitCounts(
        before=pd.Series(aligned["before"].to_numpy(), index=unit_ids, name="count_before"),
        after=pd.Series(aligned["after"].to_numpy(), index=unit_ids, name="count_after"),
        id_column=id_col,
        notes=notes,
    )


def _read_attributes(path: Path) -> pd.DataFrame:
    if not path.exists():
        raise InputFileError(f"counts file {str(path)!r} does not exist")
    suffixes = "".join(path.suffixes).lower()
    try:
        if suffixes.endswith((".csv", ".csv.gz", ".txt")):
            return pd.read_csv(path, dtype=str, keep_default_na=False)
        if suffixes.endswith((".parquet", ".geoparquet")):
            return pd.read_parquet(path).drop(columns="geometry", errors="ignore")
        import pyogrio

        return pyogrio.read_dataframe(path, read_geometry=False)
    except (OSError, EOFError, zlib.error, ValueError, UnicodeDecodeError) as error:
        raise InputFileError(f"cannot read counts file {str(path)!r}: {error}") from error
    except Exception as error:  # pyogrio's own errors for unreadable vector files
        if type(error).__module__.startswith("pyogrio"):
            raise InputFileError(f"cannot read counts file {str(path)!r}: {error}") from error
        raise


def _guess_id_column(table: pd.DataFrame, unit_codes: pd.Index, path: Path) -> str:
    if DEFAULT_ID_COLUMN in table.columns:
        return DEFAULT_ID_COLUMN
    matches = {
        column: int(canonical_codes(as_text(table[column])).isin(unit_codes).sum())
        for column in table.columns
    }
    best = max(matches, key=lambda column: matches[column], default=None)
    if best is None or matches[best] < len(unit_codes) / 2:
        raise DataError(
            f"no column of {path.name} names the units (at most {matches.get(best, 0)} of "
            f"{len(unit_codes)} ids matched): name it with --id-col "
            f"(columns present: {', '.join(map(repr, table.columns))})"
        )
    return best


def _whole_numbers(values: pd.Series, column: str, ids: pd.Series) -> np.ndarray:
    numbers = pd.to_numeric(as_text(values).str.replace(",", ""), errors="coerce")
    bad = numbers.isna() | ~np.isfinite(numbers) | (numbers < 0) | (numbers != np.round(numbers))
    if bad.any():
        shown = ", ".join(
            f"{unit} ({value!r})" for unit, value in zip(ids[bad][:5], values[bad][:5], strict=True)
        )
        raise DataError(
            f"the column {column!r} must hold whole numbers of events >= 0; it does not for "
            f"{int(bad.sum())} rows: {shown}"
        )
    return numbers.to_numpy(dtype=np.int64)
