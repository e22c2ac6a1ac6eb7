"""The ``trends`` command and job: outputs, what the demo's planted patterns give, bad input."""

from __future__ import annotations

import json
import re

import pandas as pd
import pytest
from click.testing import CliRunner

from geo_violence.cli import main
from geo_violence.jobs.demo_data import write_demo_incidents

OUTPUTS = ["trends.csv", "trends.parquet", "trends.html", "trends.png", "manifest.json"]


def run(*args: str):
    return CliRunner().invoke(main, list(args))


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("trends")
    path = write_demo_incidents(folder, seed=7)
    result = run("trends", str(path), "--out", str(folder / "out"))
    assert result.exit_code == 0, result.output
    return folder / "out", result


def test_writes_every_output_with_monthly_steps_by_default(demo_run):
    out, result = demo_run
    for name in [*OUTPUTS, "rejects.csv", "unassigned.csv"]:
        assert (out / name).exists(), name
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["command"] == "trends"
    assert manifest["steps"]["step"] == "month"
    assert manifest["trends"]["alpha"] == 0.05
    assert set(manifest["labels"]) <= {"emerging", "intensifying", "fading", "cooling", "stable"}
    # the demo covers 23 whole months: the season cannot be told from a trend, and it says so
    assert any("season" in note for note in manifest["notes"])
    assert "the city:" in result.output


def test_the_demo_rises_downtown_and_fades_on_the_west_side(demo_run):
    out, _ = demo_run
    table = pd.read_csv(out / "trends.csv", dtype={"unit_id": str}).set_index("unit_id")
    assert table.loc[["32", "8"], "direction"].tolist() == ["rising", "rising"]
    assert set(table.loc[["32", "8"], "label"]) == {"emerging"}
    west = ["25", "26", "27", "23", "29"]
    assert (table.loc[west, "direction"] == "falling").sum() >= 4
    assert set(table.loc[west, "label"]) <= {"fading", "stable"}
    # the background has no pattern: few of the 70 other areas move after the correction
    others = table.drop(index=[*west, "32", "8"])
    assert (others["direction"] != "stable").sum() <= 3
    parquet = pd.read_parquet(out / "trends.parquet")
    assert "geometry" in parquet.columns and len(parquet) == 77


def test_the_map_draws_each_series_with_its_fitted_trend(demo_run):
    out, _ = demo_run
    page = (out / "trends.html").read_text()
    assert '"fittedLabel":"fitted trend, the city' in page
    assert "Emerging: the rate rose" in page
    assert re.search(r'"stepName":"month"', page)


def test_rerun_gives_identical_tables(demo_run, tmp_path):
    out, _ = demo_run
    path = write_demo_incidents(tmp_path, seed=7)
    again = run("trends", str(path), "--out", str(tmp_path / "out"))
    assert again.exit_code == 0
    assert (tmp_path / "out" / "trends.csv").read_bytes() == (out / "trends.csv").read_bytes()


def test_too_few_steps_is_one_line_saying_how_many_are_needed(tmp_path):
    path = write_demo_incidents(tmp_path, seed=1)
    result = run(
        "trends",
        str(path),
        "--start",
        "2024-01-01",
        "--end",
        "2024-04-30",
        "--out",
        str(tmp_path / "out"),
    )
    assert result.exit_code == 1
    message = result.output.strip().splitlines()[-1]
    assert message.startswith("error:") and "at least 6 steps" in message
    assert "Traceback" not in result.output


def test_units_with_no_event_stay_stable_and_are_counted(tmp_path):
    # incidents in two community areas only, every month of 2022-2023
    rows = ["when,lon,lat"]
    for month in pd.date_range("2022-01-01", "2023-12-01", freq="MS"):
        day = month + pd.Timedelta(days=3)
        rows += [f"{day:%Y-%m-%d} 10:00,-87.6298,41.8781", f"{day:%Y-%m-%d} 11:00,-87.7,41.95"]
    path = tmp_path / "two.csv"
    path.write_text("\n".join(rows) + "\n")
    result = run(
        "trends",
        str(path),
        "--time-col",
        "when",
        "--x-col",
        "lon",
        "--y-col",
        "lat",
        "--out",
        str(tmp_path / "out"),
    )
    assert result.exit_code == 0, result.output
    table = pd.read_csv(tmp_path / "out" / "trends.csv", dtype={"unit_id": str})
    empty = table[table["events"] == 0]
    assert len(empty) == 75
    assert (empty["direction"] == "stable").all() and empty["rate_ratio_per_year"].isna().all()
    notes = json.loads((tmp_path / "out" / "manifest.json").read_text())["notes"]
    assert any("75 units have no event at all" in note for note in notes)


def test_a_population_gives_rates_per_100000_and_says_the_ratio_is_the_counts(tmp_path):
    path = write_demo_incidents(tmp_path, seed=2)
    population = tmp_path / "population.csv"
    population.write_text(
        "community_area_id,population_2020\n"
        + "\n".join(f"{i},{1000 * i}" for i in range(1, 78))
        + "\n"
    )
    result = run(
        "trends", str(path), "--population", str(population), "--out", str(tmp_path / "out")
    )
    assert result.exit_code == 0, result.output
    table = pd.read_csv(tmp_path / "out" / "trends.csv", dtype={"unit_id": str})
    loop = table.set_index("unit_id").loc["32"]
    assert loop["population"] == 32_000
    assert loop["rate_per_year"] == pytest.approx(loop["events"] / (23 / 12) / 32_000 * 100_000)
    notes = json.loads((tmp_path / "out" / "manifest.json").read_text())["notes"]
    assert any("population" in note for note in notes)
