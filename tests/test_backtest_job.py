"""The ``backtest`` command: outputs, a rankings' replay on real data, and bad input."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from click.testing import CliRunner

from geo_violence.cli import main


def run(*args: str):
    return CliRunner().invoke(main, [str(arg) for arg in args])


@pytest.fixture(scope="module")
def homicides_run(shared_data, tmp_path_factory):
    out = tmp_path_factory.mktemp("backtest") / "out"
    result = run(
        "backtest",
        shared_data / "homicides_2001_2024.csv",
        "--start",
        "2016-01-04",
        "--end",
        "2023-12-31",
        "--origins",
        "2022-01-03..2022-03-28",
        "--top",
        "10",
        "--top",
        "20",
        "--out",
        out,
    )
    assert result.exit_code == 0, result.output
    return out, result


def test_writes_rows_per_origin_and_ranking_and_a_summary(homicides_run):
    out, result = homicides_run
    rows = pd.read_csv(out / "backtest.csv")
    rankings = set(rows["ranking"])
    assert {"forecast", "previous deploy.csv score"} <= rankings
    assert rows["origin_start"].nunique() == 13
    assert len(rows) == 13 * len(rankings)
    for column in ("capture_10", "pai_10", "pei_10", "rri_10", "capture_20", "log_score"):
        assert column in rows.columns
    # a share of incidents: between 0 and 1, and the ceiling that knows the future is on top
    summary = pd.read_csv(out / "backtest_summary.csv")
    capture = summary[summary["metric"] == "capture_10"].set_index("ranking")["mean"]
    assert capture.between(0, 1).all()
    assert capture.idxmax().startswith("ceiling")
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["command"] == "backtest" and manifest["backtest"]["top"] == [10, 20]
    assert "mean share of the next incidents" in result.output


def test_the_page_shows_bars_and_the_same_figures_as_a_table(homicides_run):
    out, _ = homicides_run
    page = (out / "backtest.html").read_text()
    assert page.count("<table>") == 2 and '<html lang="en">' in page
    assert "Top 10: share of next incidents captured" in page
    assert "<script" not in page


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--horizon", "14"], "supports 1 to 13"),
        (["--origins", "2030-01-01..2030-02-01"], "no step starts between"),
        (["--origins", "2016-02-01..2016-03-01"], "first possible origin"),
        (["--origins", "2023-01-01"], "--origins"),
    ],
)
def test_bad_input_is_one_line(shared_data, tmp_path, extra, message):
    args = [
        "backtest",
        shared_data / "homicides_2001_2024.csv",
        "--start",
        "2016-01-04",
        "--end",
        "2023-12-31",
        "--origins",
        "2022-01-03..2022-01-31",
        "--out",
        tmp_path,
    ]
    if "--origins" in extra:
        position = args.index("--origins")
        del args[position : position + 2]
    result = run(*args, *extra)
    assert result.exit_code == 1, result.output
    last = result.output.strip().splitlines()[-1]
    assert last.startswith("error:") and message in last
    assert "Traceback" not in result.output
