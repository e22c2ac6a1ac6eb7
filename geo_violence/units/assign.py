"""Stage 3, assign: each incident gets the unit that contains it; the rest are listed.

The edge rule: a point inside a unit belongs to it; a point on an edge (inside no unit) belongs to
the first unit, in the layer's id order, whose boundary it touches; where units overlap, the first
in id order that contains the point wins. So every point gets exactly one unit or none.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
from pyproj import Transformer

from ..choices import ASSIGN_METHODS
from ..codes import canonical_codes
from ..columns import (
    INCIDENT_ID,
    MAP_CRS,
    OCCURRED_AT,
    REASON,
    SOURCE_LINE,
    UNIT_ID,
    WORKING_CRS,
)
from ..errors import MissingColumnError, OptionError
from ..sources.points import point_coordinates
from .polygon_grid import locate_many

logger = logging.getLogger(__name__)

OUTSIDE_EVERY_UNIT = "outside every unit"


@dataclass(frozen=True)
class CodeAgreement:
    """How often an incident's recorded code names the unit its point falls in.

    Attributes
    ----------
    column : str
        The recorded code column (``Beat``, ``District``, ...).
    compared : int
        Incidents with both a recorded code and a containing unit.
    disagree : int
        Of those, how many record another unit.
    missing_code : int
        Incidents with no recorded code.
    """

    column: str
    compared: int
    disagree: int
    missing_code: int

    @property
    def disagreement_rate(self) -> float:
        """Share of compared incidents whose recorded code is another unit."""
        return self.disagree / self.compared if self.compared else float("nan")


@dataclass
class Assignment:
    """What :func:`assign_units` gives.

    Attributes
    ----------
    incidents : geopandas.GeoDataFrame
        The assigned incidents, each with its ``unit_id``: made when first asked for (a job
        that only counts them reads :meth:`counted` instead, and copies no other column).
    unassigned : pandas.DataFrame
        The incidents with no unit: ``line``, ``incident_id``, ``occurred_at``, ``x``, ``y``
        (working CRS), ``longitude``, ``latitude`` and ``reason``.
    how : str
        ``"polygon"`` or ``"recorded"``.
    agreement : CodeAgreement or None
        Recorded code against containing polygon, when the incidents carry a code column.
    notes : list of str
    """

    rows: AssignedRows = field(repr=False)
    unassigned: pd.DataFrame
    how: str
    agreement: CodeAgreement | None
    notes: list[str] = field(default_factory=list)

    @property
    def incidents(self) -> gpd.GeoDataFrame:
        """The assigned incidents, each with its ``unit_id`` (made once, when first asked for)."""
        return self.rows.frame()

    @property
    def n_assigned(self) -> int:
        """How many incidents have a unit."""
        return len(self.rows.positions)

    def counted(self) -> pd.DataFrame:
        """What :func:`~geo_violence.cube.counts.build_cube` reads of the assigned incidents:
        ``occurred_at``, ``line`` and ``unit_id`` (categorical over the units, so the cube takes
        each one's position as it is, with no lookup of millions of ids). The example of
        :func:`assign_units` shows it.
        """
        return self.rows.counted()


@dataclass(eq=False)
class AssignedRows:
    """The assigned rows of a read: which rows (``assigned``), and the position of each one's
    unit in ``unit_index``; their table is made from ``read`` only when asked for."""

    read: gpd.GeoDataFrame
    assigned: np.ndarray
    positions: np.ndarray
    unit_index: pd.Index
    _frame: gpd.GeoDataFrame | None = field(default=None, repr=False)

    def frame(self) -> gpd.GeoDataFrame:
        """The assigned incidents with their ``unit_id`` (a new frame sharing the selected rows'
        values: adding the unit column leaves the read as it was)."""
        if self._frame is None:
            everyone = bool(self.assigned.all())
            frame = (self.read if everyone else _rows(self.read, self.assigned)).copy(deep=False)
            frame[UNIT_ID] = _unit_ids(self.unit_index, self.positions)
            self._frame = frame
        return self._frame

    def counted(self) -> pd.DataFrame:
        """See :meth:`Assignment.counted`."""
        if self._frame is not None:
            return self._frame
        everyone = bool(self.assigned.all())
        columns = {
            name: self.read[name].array if everyone else self.read[name].array[self.assigned]
            for name in (OCCURRED_AT, SOURCE_LINE)
            if name in self.read.columns
        }
        columns[UNIT_ID] = pd.Categorical.from_codes(self.positions, categories=self.unit_index)
        return pd.DataFrame(columns, copy=False)


def assign_units(
    incidents: gpd.GeoDataFrame,
    units: gpd.GeoDataFrame,
    *,
    how: str = "polygon",
    code_column: str | None = None,
) -> Assignment:
    """Give each incident the unit it belongs to, and list those that belong to none.

    Parameters
    ----------
    incidents : geopandas.GeoDataFrame
        Points in the working CRS, as :func:`geo_violence.read_incidents` gives them.
    units : geopandas.GeoDataFrame
        Units indexed by ``unit_id``, as :func:`geo_violence.load_units` gives them.
    how : {"polygon", "recorded"}
        ``"polygon"``: the unit whose polygon contains the point (exact, with the module's edge
        rule). ``"recorded"``: the unit named by the incident's own ``code_column``.
    code_column : str, optional
        The incidents' column with the recorded unit code (``Beat``, ``Community Area``...).
        In both modes, when present, the run reports how often it disagrees with the polygon.

    Returns
    -------
    Assignment

    Examples
    --------
    >>> import shapely
    >>> units = gpd.GeoDataFrame({"name": ["West", "East"]},
    ...     geometry=[shapely.box(0, 0, 1, 1), shapely.box(1, 0, 2, 1)],
    ...     index=pd.Index(["1", "2"], name="unit_id"), crs="EPSG:3435")
    >>> points = gpd.GeoDataFrame({"incident_id": ["a", "b", "c"], "line": [2, 3, 4],
    ...     "occurred_at": pd.to_datetime(["2024-01-01"] * 3).tz_localize("America/Chicago")},
    ...     geometry=shapely.points([0.5, 1.5, 9], [0.5, 0.5, 9]), crs="EPSG:3435")
    >>> result = assign_units(points, units)
    >>> result.incidents["unit_id"].tolist(), result.unassigned["reason"].tolist()
    (['1', '2'], ['outside every unit'])
    >>> counted = result.counted()  # what the cube reads: no other column copied
    >>> counted["unit_id"].tolist(), counted["line"].tolist(), result.n_assigned
    (['1', '2'], [2, 3], 2)
    """
    if how not in ASSIGN_METHODS:
        raise OptionError.expected("assign", how, ASSIGN_METHODS)
    if incidents.crs is not None and units.crs is not None and incidents.crs != units.crs:
        raise OptionError(
            f"incidents are in {incidents.crs.to_string()} but units in "
            f"{units.crs.to_string()}; read both with geo_violence so they share {WORKING_CRS}"
        )
    notes: list[str] = []
    x, y = point_coordinates(incidents.geometry)
    position = locate_many(x, y, units.geometry.to_numpy())

    agreement = None
    recorded_position = None
    if code_column is not None:
        if code_column not in incidents.columns:
            raise MissingColumnError(
                code_column,
                [c for c in incidents.columns if c != incidents.geometry.name],
                "the recorded code column",
            )
        has_code, recorded_position = _recorded_units(incidents[code_column], units.index)
        agreement = _agreement(code_column, has_code, recorded_position, position)
        notes.append(
            f"recorded {code_column} disagrees with the containing polygon for "
            f"{agreement.disagree} of {agreement.compared} incidents "
            f"({agreement.disagreement_rate:.1%})"
        )
    elif how == "recorded":
        raise OptionError(
            "assign 'recorded' needs the incidents' recorded code column: the layer names none, "
            "or the file lacks it; give --code-col"
        )

    # why each incident has no unit, as a code into ``reasons`` (0: it has one); codes, not
    # strings, because millions of strings cost seconds to build and compare
    if how == "polygon":
        chosen = position
        reasons = ["", OUTSIDE_EVERY_UNIT]
        reason_code = (position < 0).astype(np.int8)
    else:
        chosen = recorded_position
        reasons = [
            "",
            f"no recorded {code_column}",
            f"recorded {code_column} is not a unit of the layer",
        ]
        reason_code = np.where(~has_code, 1, np.where(chosen < 0, 2, 0)).astype(np.int8)
    assigned = reason_code == 0
    rows = AssignedRows(incidents, assigned, chosen[assigned], units.index)
    unassigned = _unassigned_table(incidents, x, y, ~assigned, reason_code, reasons)
    if len(unassigned):
        notes.append(
            f"{len(unassigned)} of {len(incidents)} incidents have no unit: "
            + "; ".join(f"{n} {reason}" for reason, n in unassigned[REASON].value_counts().items())
        )
    for note in notes:
        logger.info(note)
    return Assignment(rows, unassigned=unassigned, how=how, agreement=agreement, notes=notes)


def _rows(frame: gpd.GeoDataFrame, mask: np.ndarray) -> gpd.GeoDataFrame:
    """``frame.loc[mask]``, with its text columns (pyarrow-backed ``str``) selected by Arrow's
    filter, several times faster than pandas' take on millions of rows."""
    names = list(frame.columns)
    if len(set(names)) != len(names) or not isinstance(frame, gpd.GeoDataFrame):
        return frame.loc[mask]
    keep = pa.array(mask)
    data = {}
    for name in names:
        values = frame[name].array
        if isinstance(values.dtype, pd.StringDtype) and values.dtype.storage == "pyarrow":
            data[name] = pa.array(values).filter(keep).to_pandas().array
        else:
            data[name] = values[mask]
    selected = pd.DataFrame(data, index=frame.index[mask], copy=False)
    return gpd.GeoDataFrame(selected, geometry=frame.geometry.name, crs=frame.crs, copy=False)


def _recorded_units(codes: pd.Series, unit_index: pd.Index) -> tuple[np.ndarray, np.ndarray]:
    """Which incidents have a recorded code, and the position of the unit it names (-1: none).

    Codes are compared in their canonical spelling (:func:`canonical_codes`), worked out once
    for each distinct code; where two units share a spelling, the later names it."""
    index, distinct = pd.factorize(codes, use_na_sentinel=True)
    spelled = canonical_codes(np.asarray(distinct, dtype=object)).to_numpy(dtype=object)
    lookup = dict(zip(canonical_codes(unit_index), range(len(unit_index)), strict=True))
    unit_of = np.array([lookup.get(code, -1) for code in spelled] + [-1], dtype=np.int64)
    named = np.append(spelled != "", False)
    return named[index], unit_of[index]


def _unit_ids(unit_index: pd.Index, positions: np.ndarray):
    """The ids of the units at ``positions``, as pandas holds them in a table (text as ``str``,
    built by Arrow without a Python string per incident)."""
    ids = unit_index.to_numpy(dtype=object)
    if len(positions) and all(isinstance(unit_id, str) for unit_id in ids):
        return pa.array(ids, type=pa.string()).take(pa.array(positions)).to_pandas().array
    return ids[positions]


def _agreement(
    column: str, has_code: np.ndarray, recorded_position: np.ndarray, position: np.ndarray
) -> CodeAgreement:
    compared = has_code & (position >= 0)
    differs = compared & (recorded_position != position)
    return CodeAgreement(
        column=column,
        compared=int(compared.sum()),
        disagree=int(differs.sum()),
        missing_code=int((~has_code).sum()),
    )


def _unassigned_table(
    incidents: gpd.GeoDataFrame,
    x: np.ndarray,
    y: np.ndarray,
    mask: np.ndarray,
    reason_code: np.ndarray,
    reasons: list[str],
) -> pd.DataFrame:
    to_lon_lat = Transformer.from_crs(WORKING_CRS, MAP_CRS, always_xy=True)
    longitude, latitude = to_lon_lat.transform(x[mask], y[mask])
    rows = np.flatnonzero(mask)
    lines = incidents[SOURCE_LINE].to_numpy()[rows] if SOURCE_LINE in incidents else rows + 1
    return pd.DataFrame(
        {
            SOURCE_LINE: lines,
            # object, not pandas' string dtype: converting millions of ids costs a second
            INCIDENT_ID: pd.Series(incidents[INCIDENT_ID].iloc[rows].to_numpy(), dtype=object),
            OCCURRED_AT: incidents[OCCURRED_AT].iloc[rows].reset_index(drop=True),
            "x": x[mask],
            "y": y[mask],
            "longitude": np.round(longitude, 7),
            "latitude": np.round(latitude, 7),
            REASON: pd.Categorical.from_codes(
                reason_code[mask] - 1, categories=pd.Index(reasons[1:], dtype=object)
            ).remove_unused_categories(),
        }
    )
