"""The command line: outputs, manifest, one-line errors, no overwriting, the demo."""

from __future__ import annotations

import json
import subprocess
import sys

import click
import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from conftest import write_csv

from geo_violence.cli import main
from geo_violence.jobs.demo_data import DemoPlan
from geo_violence.outputs import read_run_metadata, sha256_of

HEADER = "id,when,lon,lat,kind"
ROWS = [
    "1,2024-01-02 10:00,-87.6298,41.8781,A",  # the Loop
    "2,2024-01-09 10:00,-87.6298,41.8781,A",
    "3,2024-01-10 10:00,-87.7650,41.8800,A",  # Austin
    "4,bad date,-87.7650,41.8800,A",
    "5,2024-01-10 10:00,-87.50,41.95,A",  # Lake Michigan
]
OPTIONS = [
    "--time-col",
    "when",
    "--x-col",
    "lon",
    "--y-col",
    "lat",
    "--id-col",
    "id",
    "--start",
    "2024-01-01",
    "--end",
    "2024-01-14",
]


def _run(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_counts_writes_every_output_and_a_manifest(tmp_path):
    source = write_csv(tmp_path / "x.csv", HEADER, ROWS)
    out = tmp_path / "out"
    result = _run("counts", str(source), *OPTIONS, "--out", str(out))
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == [
        "counts.parquet",
        "manifest.json",
        "rejects.csv",
        "unassigned.csv",
    ]
    counts = pd.read_parquet(out / "counts.parquet")
    assert counts.columns.tolist() == ["unit_id", "name", "step_start", "count"]
    assert len(counts) == 77 * 2
    loop = counts[counts["unit_id"] == "32"]["count"].tolist()
    assert loop == [1, 1]
    assert counts["count"].sum() == 3
    rejects = pd.read_csv(out / "rejects.csv")
    assert rejects[["line", "reason"]].values.tolist() == [[5, "unparseable time"]]
    unassigned = pd.read_csv(out / "unassigned.csv", dtype={"incident_id": str})
    assert unassigned["incident_id"].tolist() == ["5"]
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["rows"] == {
        "read": 5,
        "filtered_out": 0,
        "rejected": 1,
        "unassigned": 1,
        "assigned": 3,
        "outside_period": 0,
        "counted": 3,
    }
    assert manifest["inputs"][0]["sha256"] == sha256_of(source)
    assert manifest["packages"]["geopandas"]
    assert manifest["outputs"]["counts.parquet"] == sha256_of(out / "counts.parquet")
    assert read_run_metadata(out / "counts.parquet")["options"]["cube"]["step"] == "week"
    assert "read 5 rows" in result.output


def test_rerun_gives_byte_identical_tables(tmp_path):
    source = write_csv(tmp_path / "x.csv", HEADER, ROWS)
    digests = []
    for attempt in ("a", "b"):
        out = tmp_path / attempt
        _run("counts", str(source), *OPTIONS, "--out", str(out))
        digests.append(
            [sha256_of(out / n) for n in ("counts.parquet", "rejects.csv", "unassigned.csv")]
        )
    assert digests[0] == digests[1]


def test_outputs_are_not_overwritten_without_overwrite(tmp_path):
    source = write_csv(tmp_path / "x.csv", HEADER, ROWS)
    out = tmp_path / "out"
    assert _run("counts", str(source), *OPTIONS, "--out", str(out)).exit_code == 0
    before = (out / "counts.parquet").read_bytes()
    refused = _run("counts", str(source), *OPTIONS, "--out", str(out))
    assert refused.exit_code == 1
    assert "--overwrite" in refused.output and "Traceback" not in refused.output
    assert (out / "counts.parquet").read_bytes() == before
    assert _run("counts", str(source), *OPTIONS, "--out", str(out), "--overwrite").exit_code == 0


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--time-col", "time"], "'time' is not in the file; columns present: 'id', 'when'"),
        (["--units", "precincts"], "'units' was 'precincts'"),
        (["--units", "beats"], "--units-file"),
        (["--start", "2024-02-01", "--end", "2024-01-01"], "reversed"),
        (["--population", "nope.csv"], "does not exist"),
    ],
)
def test_user_errors_are_one_line_and_exit_1(tmp_path, extra, message):
    source = write_csv(tmp_path / "x.csv", HEADER, ROWS)
    options = dict(zip(OPTIONS[::2], OPTIONS[1::2], strict=True))
    options.update(dict(zip(extra[::2], extra[1::2], strict=True)))
    args = [item for pair in options.items() for item in pair]
    result = _run("counts", str(source), *args, "--out", str(tmp_path / "o"))
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    errors = [line for line in lines if line.startswith("error: ")]
    assert errors == [lines[-1]] and message in lines[-1]
    assert "Traceback" not in result.output


def test_missing_input_file_is_one_line(tmp_path):
    result = _run("counts", str(tmp_path / "nope.csv"), "--out", str(tmp_path / "o"))
    assert result.exit_code == 1 and result.output.startswith("error: ")


def test_population_gives_rates(tmp_path, shared_data):
    source = write_csv(tmp_path / "x.csv", HEADER, ROWS)
    out = tmp_path / "out"
    result = _run(
        "counts",
        str(source),
        *OPTIONS,
        "--population",
        str(shared_data / "community_areas_population_2020.csv"),
        "--out",
        str(out),
    )
    assert result.exit_code == 0, result.output
    counts = pd.read_parquet(out / "counts.parquet").set_index(["unit_id"])
    loop = counts.loc["32"].iloc[0]
    assert loop["population"] == 42_298
    assert loop["rate"] == pytest.approx(1 / 42_298 * 100_000)


def test_beats_from_the_catalogue_with_recorded_assignment(tmp_path, shared_data):
    out = tmp_path / "out"
    result = _run(
        "counts",
        str(shared_data / "homicides_2001_2024.csv"),
        "--units",
        "beats",
        "--units-file",
        str(shared_data / "police_beats.geojson"),
        "--assign",
        "recorded",
        "--start",
        "2020-01-06",
        "--end",
        "2023-12-31",
        "--out",
        str(out),
    )
    assert result.exit_code == 0, result.output
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["units"]["count"] == 275
    assert manifest["recorded_code_agreement"]["column"] == "Beat"
    counts = pd.read_parquet(out / "counts.parquet")
    assert counts["unit_id"].str.len().eq(4).all()
    assert counts["count"].sum() == manifest["rows"]["counted"]


def test_demo_finds_its_planted_counts(tmp_path):
    out = tmp_path / "demo"
    result = _run("demo", "--out", str(out))
    assert result.exit_code == 0, result.output
    names = sorted(p.name for p in out.iterdir())
    assert names == [
        "cluster_steps.csv",
        "clusters.csv",
        "counts.parquet",
        "demo_incidents.csv",
        "deploy.csv",
        "emerging.csv",
        "emerging.html",
        "emerging_bins.parquet",
        "hotspots.csv",
        "hotspots.html",
        "hotspots.parquet",
        "last_four_weeks.html",
        "manifest.json",
        "rejects.csv",
        "scan.html",
        "shift.csv",
        "shift.html",
        "shift.parquet",
        "shift.png",
        "summary.html",
        "summary.md",
        "trends.csv",
        "trends.html",
        "trends.parquet",
        "trends.png",
        "unassigned.csv",
        "watch.csv",
    ]
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["rows"]["rejected"] == 5 and manifest["rows"]["unassigned"] == 2
    counts = pd.read_parquet(out / "counts.parquet")
    weekly = counts.pivot(index="unit_id", columns="step_start", values="count")
    plan = DemoPlan()
    last = weekly.iloc[:, -plan.emerging_weeks :].mean(axis=1)
    early = weekly.iloc[:, :40].mean(axis=1)
    assert last[list(plan.emerging)].min() > 4 and early[list(plan.emerging)].max() < 1
    assert early[list(plan.fading)].min() > 8
    # planted: 12 a week falling to 8, so the last weeks are about 0.7 of the early ones
    assert (last[list(plan.fading)] < 0.85 * early[list(plan.fading)]).all()
    page = (out / "last_four_weeks.html").read_text()
    assert "Near North Side" in page and "incidents in the last 4 weeks" in page
    assert "<script src=" not in page and '<link rel="stylesheet" href=' not in page
    assert "L.map(" in page or "L.map (" in page
    assert np.isclose(counts["count"].sum(), manifest["rows"]["counted"])
    hotspots = pd.read_csv(out / "hotspots.csv", dtype={"unit_id": str}).set_index("unit_id")
    # the Loop is the strongest hot spot; with two planted areas among 77 the exact count tails
    # make it a 90% one (the normal tail called both planted areas 99%: far too sure, see
    # test_hotspot_calibration.py)
    assert hotspots["gi_z"].idxmax() == "32" and hotspots.loc["32", "gi_class"] >= 1
    emerging = pd.read_csv(out / "emerging.csv", dtype={"unit_id": str}).set_index("unit_id")
    downtown = emerging.loc[list(plan.emerging), "category"]
    west_side = emerging.loc[list(plan.fading), "category"]
    assert set(downtown) <= {"new hot spot", "consecutive hot spot"}
    # still hot while fading: the calibrated p-values call 77% of such units diminishing or
    # historical (12 seeds); never a rising category
    assert west_side.isin(["diminishing hot spot", "historical hot spot"]).sum() >= 4
    assert not west_side.isin(
        ["new hot spot", "consecutive hot spot", "intensifying hot spot"]
    ).any()
    bins = pd.read_parquet(out / "emerging_bins.parquet")
    assert len(bins) == 77 * 104 and set(bins["bin"]) <= set(range(-3, 4))
    shift = pd.read_csv(out / "shift.csv", dtype={"unit_id": str}).set_index("unit_id")
    assert (shift.loc[list(plan.emerging), "label"] == "emerging").all()
    assert (shift.loc[list(plan.fading), "label"] == "fading").all()
    background = shift.index.difference([*plan.emerging, *plan.fading])
    assert (shift.loc[background, "label"] == "stable").mean() > 0.9
    deploy = pd.read_csv(out / "deploy.csv", dtype={"unit_id": str})
    assert set(deploy["unit_id"].head(2)) == set(plan.emerging)
    assert deploy["reason"].str.len().min() > 20
    # every unit is listed, in the order of its stated expectation
    assert len(deploy) == 77
    assert deploy["expected"].is_monotonic_decreasing
    assert deploy["rank"].tolist() == list(range(1, 78))
    assert (deploy["expected_low"] <= deploy["expected"]).all()
    assert (deploy["expected"] <= deploy["expected_high"]).all()


def test_the_console_script_runs(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "geo_violence", "--version"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0 and "version" in result.stdout


def _commands(group: click.Group, prefix: str = ""):
    for name, command in sorted(group.commands.items()):
        yield f"{prefix}{name}", command
        if isinstance(command, click.Group):
            yield from _commands(command, f"{prefix}{name} ")


def test_every_option_of_every_command_says_what_it_does():
    missing = [
        f"{name} {param.opts[0]}"
        for name, command in _commands(main)
        for param in command.params
        if isinstance(param, click.Option) and not (param.help or "").strip()
    ]
    assert missing == []
    assert all((command.help or "").strip() for _, command in _commands(main))
    report_help = CliRunner().invoke(main, ["report", "--help"]).output
    assert "emerging.csv" in report_help
    time_format_help = CliRunner().invoke(main, ["counts", "--help"]).output
    assert "detected" in time_format_help and "(default: ISO)" not in time_format_help
