"""The ``scan`` command: outputs, the demo's planted cluster raised as an alarm, bad input."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from click.testing import CliRunner

from geo_violence.cli import main
from geo_violence.jobs.demo_data import write_demo_incidents


def run(*args: object):
    return CliRunner().invoke(main, [str(arg) for arg in args])


@pytest.fixture(scope="module")
def demo_scan(tmp_path_factory):
    folder = tmp_path_factory.mktemp("scan")
    path = write_demo_incidents(folder, seed=5)
    result = run("scan", path, "--permutations", 199, "--out", folder / "out")
    assert result.exit_code == 0, result.output
    return folder / "out", result


def test_writes_the_clusters_their_steps_the_map_and_the_alarms(demo_scan):
    out, result = demo_scan
    clusters = pd.read_csv(out / "clusters.csv", dtype={"unit_ids": str})
    for column in (
        "cluster_id",
        "unit_ids",
        "names",
        "n_units",
        "start",
        "end",
        "observed",
        "expected",
        "relative_risk",
        "llr",
        "p_value",
        "recurrence_interval",
        "recurrence_words",
    ):
        assert column in clusters.columns, column
    first = clusters.iloc[0]
    assert {"32", "8"} <= set(first["unit_ids"].split(";")) and first["n_units"] <= 8
    assert first["p_value"] <= 0.05 and first["observed"] > first["expected"]
    steps = pd.read_csv(out / "cluster_steps.csv")
    assert set(steps["cluster_id"]) == set(clusters["cluster_id"])
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["scan"]["permutations"] == 199
    assert "Loop" in manifest["alarms"][0] and "by chance" in manifest["alarms"][0]
    assert "Loop" in result.output
    page = (out / "scan.html").read_text()
    assert '"outline":"#000000"' in page and "expected from the unit" in page


def test_no_alarm_is_said_plainly(tmp_path):
    # one rate everywhere, no cluster: the strongest cluster is no alarm
    rows = ["when,lon,lat"]
    for day in pd.date_range("2024-01-01", "2024-12-29", freq="D"):
        rows.append(f"{day:%Y-%m-%d} 10:00,-87.6298,41.8781")
        rows.append(f"{day:%Y-%m-%d} 11:00,-87.7,41.95")
    path = tmp_path / "flat.csv"
    path.write_text("\n".join(rows) + "\n")
    result = run(
        "scan",
        path,
        "--time-col",
        "when",
        "--x-col",
        "lon",
        "--y-col",
        "lat",
        "--permutations",
        99,
        "--out",
        tmp_path / "out",
    )
    assert result.exit_code == 0, result.output
    alarms = json.loads((tmp_path / "out" / "manifest.json").read_text())["alarms"]
    assert alarms[0].startswith("No alarm")


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--max-units", 500], "max_units"),
        (["--permutations", 9], "19"),
        (["--history", 6, "--max-steps", 4], "half"),
    ],
)
def test_bad_input_is_one_line(tmp_path, extra, message):
    path = write_demo_incidents(tmp_path, seed=1)
    result = run("scan", path, *extra, "--out", tmp_path / "out")
    assert result.exit_code == 1, result.output
    last = result.output.strip().splitlines()[-1]
    assert last.startswith("error:") and message in last, last
    assert "Traceback" not in result.output
