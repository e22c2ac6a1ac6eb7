"""Property: whatever the rows, read = filtered + rejected + unassigned + assigned, and the cube
counts every assigned incident of the period."""

from __future__ import annotations

import csv
import datetime as dt

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from geo_violence import assign_units, build_cube, read_incidents

X0, Y0 = 1_170_000.0, 1_900_000.0

times = st.one_of(
    st.datetimes(min_value=dt.datetime(2023, 1, 1), max_value=dt.datetime(2024, 12, 31)).map(
        lambda t: t.strftime("%Y-%m-%d %H:%M:%S")
    ),
    st.sampled_from(["", "nope", "2024-02-30 10:00", "03/10/2024 02:30:00 AM"]),
)
coordinates = st.one_of(
    st.floats(min_value=X0 - 1500, max_value=X0 + 5000).map(lambda v: f"{v:.1f}"),
    st.sampled_from(["", "abc", "inf", "0", "1e12", str(X0 + 1000)]),
)
rows = st.lists(
    st.tuples(times, coordinates, coordinates, st.sampled_from(["A", "B"])), max_size=60
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(rows=rows)
def test_no_row_is_ever_lost(tmp_path_factory, grid_units, rows):
    path = tmp_path_factory.mktemp("rows") / "x.csv"
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["when", "x", "y", "kind"])
        for when, x, y, kind in rows:
            writer.writerow([when, x, f"{float(y) - X0 + Y0:.1f}" if _number(y) else y, kind])
    read = read_incidents(
        path,
        time_col="when",
        x_col="x",
        y_col="y",
        crs="EPSG:3435",
        category_col="kind",
        filter_category=["A"],
    )
    assignment = assign_units(read.incidents, grid_units)
    assert read.rows_read == len(rows)
    assert read.rows_read == (
        read.rows_filtered_out
        + read.rows_rejected
        + len(assignment.unassigned)
        + len(assignment.incidents)
    )
    if len(assignment.incidents):
        cube = build_cube(assignment.incidents, grid_units, keep_partial=True)
        assert cube.counts.sum() + cube.outside_period == len(assignment.incidents)
        assert cube.outside_period == 0


def _number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
