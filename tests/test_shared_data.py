"""The real Chicago files: known row counts, rejects, unassigned points and code agreement.

Figures from ../shared/data/chicago/README.md, and where ours differ, why:
- homicides: 13,174 rows; 3 have no coordinates and 37 carry the portal's (0, 0) placeholder
  (X/Y Coordinate 0, latitude 36.6), which we reject rather than place in Missouri. The README's
  "49 of 13,171 located homicides fall inside no beat" counts those 37 as located: 37 + 12 = 49.
- assaults: 148,636 rows, none rejected.
"""

from __future__ import annotations

import pandas as pd
import pytest

from geo_violence import assign_units, build_cube, load_units, read_incidents

pytestmark = pytest.mark.shared_data


@pytest.fixture(scope="module")
def homicides(shared_data):
    return read_incidents(shared_data / "homicides_2001_2024.csv")


@pytest.fixture(scope="module")
def assaults(shared_data):
    return read_incidents(
        shared_data / "aggravated_assaults_2010_2019.csv.gz",
        time_col="date",
        x_col="longitude",
        y_col="latitude",
        crs="EPSG:4326",
        category_col="loc_cat",
    )


@pytest.fixture(scope="module")
def beats(shared_data):
    return load_units("beats", units_file=shared_data / "police_beats.geojson")


def test_homicides_rows_rejects_and_unassigned(homicides, beats):
    assert homicides.rows_read == 13_174
    assert homicides.rows_rejected == 40
    reasons = homicides.rejects.groupby("reason")["line"].nunique().to_dict()
    assert reasons == {"missing coordinate": 3, "placeholder (0, 0) coordinates": 37}
    assignment = assign_units(homicides.incidents, beats.units)
    assert len(assignment.unassigned) == 12
    assert len(assignment.unassigned) + reasons["placeholder (0, 0) coordinates"] == 49
    assert len(assignment.incidents) == 13_174 - 40 - 12


def test_assaults_rows_and_unassigned(assaults, beats):
    assert assaults.rows_read == 148_636
    assert assaults.rows_rejected == 0
    assignment = assign_units(assaults.incidents, beats.units)
    assert len(assignment.incidents) + len(assignment.unassigned) == 148_636
    assert len(assignment.unassigned) == 91
    cube = build_cube(assignment.incidents, beats.units, keep_partial=True)
    assert cube.counts.sum() == len(assignment.incidents)
    assert cube.counts.shape == (275, 523)


@pytest.mark.parametrize(
    ("layer", "file", "low", "high"),
    [
        ("beats", "police_beats.geojson", 0.05, 0.09),  # README: 91-95% agree
        ("districts", "police_districts.geojson", 0.01, 0.03),  # README: 97-99%
        ("community_areas", None, 0.01, 0.03),  # README: about 98%
    ],
)
def test_recorded_code_disagreement_since_the_2012_beat_map(
    shared_data, homicides, layer, file, low, high
):
    units = load_units(layer, units_file=shared_data / file if file else None)
    recent = homicides.incidents[
        homicides.incidents["occurred_at"] >= pd.Timestamp("2012-12-17", tz="America/Chicago")
    ]
    assignment = assign_units(recent, units.units, code_column=units.recorded_column)
    assert low < assignment.agreement.disagreement_rate < high
    recorded = assign_units(recent, units.units, how="recorded", code_column=units.recorded_column)
    assert len(recorded.incidents) + len(recorded.unassigned) == len(recent)


def test_every_beat_code_used_since_2020_is_a_unit(homicides, beats):
    recent = homicides.incidents[
        homicides.incidents["occurred_at"] >= pd.Timestamp("2020-01-01", tz="America/Chicago")
    ]
    recorded = assign_units(recent, beats.units, how="recorded", code_column="Beat")
    assert len(recorded.unassigned) == 0
