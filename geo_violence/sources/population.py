"""Residents per unit, read from a CSV, for rates per 100,000."""

from __future__ import annotations

import logging
import zlib
from pathlib import Path

import numpy as np
import pandas as pd

from ..codes import as_text, canonical_codes
from ..errors import DataError, InputFileError, MissingColumnError, OptionError

logger = logging.getLogger(__name__)


def read_population(
    path: str | Path,
    *,
    id_col: str | None = None,
    population_col: str | None = None,
) -> pd.Series:
    """Read a population table: one row per unit, an id column and a population column.

    Without ``id_col``, the first column whose name ends in ``id`` (or the first column) is the
    id; without ``population_col``, the first column whose name starts with ``pop``.

    Parameters
    ----------
    path : str or Path
        A CSV file, such as the shared ``community_areas_population_2020.csv``.
    id_col, population_col : str, optional
        The columns to use.

    Returns
    -------
    pandas.Series
        Population (float) indexed by the unit id as written in the file; NaN where it is not a
        finite number (``1e309`` is not infinitely many people).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "pop.csv"
    >>> _ = path.write_text("area_id,population_2020\\n01,55628\\n32,42298\\n")
    >>> read_population(path).to_dict()
    {'01': 55628.0, '32': 42298.0}
    """
    path = Path(path)
    if not path.exists():
        raise InputFileError(f"population file {str(path)!r} does not exist")
    try:
        table = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (OSError, EOFError, zlib.error, ValueError, UnicodeDecodeError) as error:
        raise InputFileError(f"cannot read population file {str(path)!r}: {error}") from error
    columns = list(table.columns)
    id_col = id_col or next((c for c in columns if c.lower().endswith("id")), columns[0])
    if population_col is None:
        population_col = next((c for c in columns if c.lower().startswith("pop")), None)
        if population_col is None:
            raise OptionError(
                f"no population column found in {str(path)!r}: name it with "
                f"--population-col (columns present: {', '.join(map(repr, columns))})"
            )
    for name, role in (
        (id_col, "the population id column"),
        (population_col, "the population column"),
    ):
        if name not in table.columns:
            raise MissingColumnError(name, columns, role)
    values = pd.to_numeric(table[population_col].str.replace(",", ""), errors="coerce")
    values = values.to_numpy(dtype=float, copy=True)
    ids = as_text(table[id_col]).to_numpy()
    infinite = np.isinf(values)  # "1e309" and "inf" read as infinity: no count of people
    if infinite.any():
        logger.warning(
            "population of %s is not a finite number (%s): read as missing",
            ", ".join(map(str, ids[infinite][:10])),
            ", ".join(table[population_col].to_numpy()[infinite][:10]),
        )
        values[infinite] = np.nan
    return pd.Series(values, index=ids, name="population")


def align_population(population: pd.Series, unit_ids: pd.Index) -> tuple[np.ndarray, list[str]]:
    """Population in the units' order, matching ids by their canonical spelling ("01" = "1").

    Parameters
    ----------
    population : pandas.Series
        As :func:`read_population` gives it.
    unit_ids : pandas.Index
        The units' ids.

    Returns
    -------
    numpy.ndarray
        One population per unit; NaN where the file has none, or zero or a non-number.
    list of str
        Notes naming the units without a usable population.

    Raises
    ------
    DataError
        No unit id matches any id of the population file.

    Examples
    --------
    >>> values, notes = align_population(pd.Series({"01": 100.0, "02": 0.0}),
    ...                                  pd.Index(["1", "2", "3"]))
    >>> values.tolist()
    [100.0, nan, nan]
    >>> notes
    ['population is zero or missing for units 2, 3: their rates are left empty']
    """
    by_code = pd.Series(population.to_numpy(), index=canonical_codes(population.index).to_numpy())
    repeated = sorted(set(population.index[by_code.index.duplicated(keep=False)]))
    if repeated:
        raise DataError(
            f"the population file names some units more than once: {', '.join(repeated[:10])}"
        )
    unit_codes = canonical_codes(unit_ids).to_numpy()
    values = by_code.reindex(unit_codes).to_numpy(dtype=float, copy=True)
    if np.isnan(values).all():
        raise DataError(
            "no unit id matches an id of the population file (units look like "
            f"{', '.join(map(str, unit_ids[:3]))}; the file's like "
            f"{', '.join(map(str, population.index[:3]))})"
        )
    unusable = ~(values > 0)
    notes = []
    if unusable.any():
        names = ", ".join(str(unit) for unit in unit_ids[unusable])
        notes.append(f"population is zero or missing for units {names}: their rates are left empty")
    values[unusable] = np.nan
    return values, notes
