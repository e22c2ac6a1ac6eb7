"""The faults an adversarial review found (issue 16), each kept fixed: concurrent writers, zero
usable incidents, impossible dates, config and option values, a hostile portal, run folders shared
by several jobs, and the rest. Hostile files are generated here (hypothesis where it fits), the
hostile portal is a local HTTP server on 127.0.0.1, and concurrent runs are real processes.

Every command run here either succeeds with its rows adding up
(``read = filtered_out + rejected + unassigned + assigned``) or fails with a one-line message,
no traceback, and the exit status the README gives.
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from conftest import write_csv
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from geo_violence import load_units, read_incidents
from geo_violence.cli import main
from geo_violence.errors import BusyError
from geo_violence.outputs import LOCK_NAME, file_lock, folder_lock
from geo_violence.outputs import write_csv as write_table
from geo_violence.sources.portal import (
    FetchOptions,
    SourceUnavailableError,
    pull_crimes,
)
from geo_violence.testing.fake_portal import FakePortal

OPTIONS = ["--time-col", "when", "--x-col", "lon", "--y-col", "lat"]
#: A point in the Loop (community area 32), longitude/latitude and Illinois East feet.
LOOP = (-87.6298, 41.8781)
LOOP_FEET = (1176000, 1900000)
ENVIRONMENT = os.environ | {
    "PYTHONPATH": str(Path(__file__).resolve().parents[1]),
    "OMP_NUM_THREADS": "1",
    "NUMBA_NUM_THREADS": "1",
}


def run(*args: str):
    return CliRunner().invoke(main, [str(arg) for arg in args], catch_exceptions=False)


def one_line_error(result, status: int = 1) -> str:
    """The run failed with ``status`` and said why in one line, with no traceback."""
    output = result.output if hasattr(result, "output") else result.stderr
    code = result.exit_code if hasattr(result, "exit_code") else result.returncode
    assert code == status, output
    assert "Traceback" not in output and "Aborted!" not in output, output
    lines = output.strip().splitlines()
    assert [line for line in lines if line.startswith("error: ")] == [lines[-1]], output
    return lines[-1]


def rows_add_up(folder: Path) -> dict:
    """The manifest's rows: every row read went somewhere, and the files say the same."""
    rows = json.loads((folder / "manifest.json").read_text())["rows"]
    assert rows["read"] == (
        rows["filtered_out"] + rows["rejected"] + rows["unassigned"] + rows["assigned"]
    ), rows
    assert rows["assigned"] == rows["counted"] + rows["outside_period"], rows
    rejects = pd.read_csv(folder / "rejects.csv")
    assert rejects["line"].nunique() == rows["rejected"]
    assert len(pd.read_csv(folder / "unassigned.csv")) == rows["unassigned"]
    return rows


def portal_csv(path: Path, rows: list[tuple[str, str]], *, extra: str = "") -> Path:
    """A small file in the portal export's shape: (ID, Date) per row, in the Loop."""
    header = "ID,Date,X Coordinate,Y Coordinate,Beat,Community Area,Primary Type" + extra
    lines = [
        f"{row_id},{when},{LOOP_FEET[0]},{LOOP_FEET[1]},0111,32,HOMICIDE" for row_id, when in rows
    ]
    return write_csv(path, header, lines)


def no_temporary_files(folder: Path) -> None:
    assert not [p.name for p in folder.rglob("*") if p.name.endswith(".tmp")]
    assert not (folder / LOCK_NAME).exists()


# --- 1. concurrent writers of one store or run folder -------------------------------------------


def hold(path: Path, kind: str) -> subprocess.Popen:
    """Another process holding the lock with the package's own code until its stdin closes
    (it loads ``geo_violence.outputs`` alone, without the package's heavy imports)."""
    package = Path(__file__).resolve().parents[1] / "geo_violence"
    code = (
        "import sys, types\nfrom pathlib import Path\n"
        "package = types.ModuleType('geo_violence')\n"
        f"package.__path__ = [{str(package)!r}]\n"
        "sys.modules['geo_violence'] = package\n"
        "from geo_violence.outputs import file_lock, folder_lock\n"
        f"path = Path({str(path)!r})\n"
        f"lock = folder_lock(path, what='test') if {kind!r} == 'folder' else "
        "file_lock(path, what='test')\n"
        "with lock:\n    print('held', flush=True)\n    sys.stdin.read()\n"
    )
    holder = subprocess.Popen(
        [sys.executable, "-c", code],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=ENVIRONMENT,
    )
    assert holder.stdout.readline().strip() == "held"
    return holder


@pytest.fixture
def loop_file(tmp_path) -> Path:
    return write_csv(
        tmp_path / "x.csv",
        "when,lon,lat",
        [f"2024-01-0{day} 10:00,{LOOP[0]},{LOOP[1]}" for day in range(1, 8)],
    )


def test_a_run_folder_in_use_is_refused_with_exit_4_then_a_dead_holder_is_taken_over(
    tmp_path, loop_file
):
    out = tmp_path / "out"
    holder = hold(out, "folder")
    try:
        busy = run("counts", loop_file, *OPTIONS, "--out", out)
        assert "holds" in one_line_error(busy, 4)
        assert sorted(p.name for p in out.iterdir()) == [LOCK_NAME]  # nothing written
    finally:
        holder.kill()
        holder.wait()
    done = run("counts", loop_file, *OPTIONS, "--out", out)  # the holder died: a stale lock
    assert done.exit_code == 0, done.output
    assert "stale lock" in done.output
    rows_add_up(out)
    no_temporary_files(out)


def lock_record(**changes) -> str:
    record = {
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "started": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }
    return json.dumps(record | changes)


@pytest.mark.parametrize(
    ("record", "busy"),
    [
        # this live process, with the start time /proc gives it: a real holder
        (lambda: lock_record(pid_start=_start_of(os.getpid())), True),
        # a process that has ended
        (lambda: lock_record(pid=_ended_process()), False),
        # this pid, but a process that started at another time: the pid was reused
        (lambda: lock_record(pid_start=_start_of(os.getpid()) + 12345), False),
        # the machine rebooted since the lock was taken
        (lambda: lock_record(boot="0000-not-this-boot"), False),
        # another host, fresh: it cannot be checked from here, so it is live
        (lambda: lock_record(host="another-host", pid=1), True),
        # another host, three days old: stale
        (
            lambda: lock_record(
                host="another-host",
                pid=1,
                started=(dt.datetime.now(dt.UTC) - dt.timedelta(days=3)).isoformat(),
            ),
            False,
        ),
        (lambda: "{not json", False),
    ],
    ids=[
        "live",
        "ended",
        "reused-pid",
        "rebooted",
        "other-host-fresh",
        "other-host-old",
        "garbage",
    ],
)
def test_stale_detection_does_not_trust_a_pid_or_another_host_blindly(
    tmp_path, loop_file, record, busy
):
    out = tmp_path / "out"
    out.mkdir()
    (out / LOCK_NAME).write_text(record())
    result = run("counts", loop_file, *OPTIONS, "--out", out)
    if busy:
        assert "holds" in one_line_error(result, 4)
        assert (out / LOCK_NAME).exists()
    else:
        assert result.exit_code == 0, result.output
        assert "stale lock" in result.output
        rows_add_up(out)
        no_temporary_files(out)


def _ended_process() -> int:
    finished = subprocess.Popen(["true"])
    finished.wait()
    return finished.pid


def _start_of(pid: int) -> int:
    stat = Path(f"/proc/{pid}/stat").read_text()
    return int(stat.rsplit(")", 1)[1].split()[19])


def test_the_lock_is_reentrant_in_one_process_and_exclusive_across_processes(tmp_path):
    lock = tmp_path / "store.lock"
    with file_lock(lock, what="a pull"), file_lock(lock, what="a pull"):
        assert lock.exists()
    assert not lock.exists()
    holder = hold(lock, "file")
    try:
        with pytest.raises(BusyError, match="holds"), file_lock(lock, what="a pull"):
            pass
    finally:
        holder.stdin.close()
        assert holder.wait(60) == 0
    assert not lock.exists()  # released by its holder, not left for a takeover
    with file_lock(lock, what="a pull"):
        pass
    with folder_lock(tmp_path / "new" / "deeper", what="a job"):
        assert (tmp_path / "new" / "deeper" / LOCK_NAME).exists()
    assert not (tmp_path / "new").exists()  # nothing written: the folders it made are gone


RECORDS = [
    {
        "id": str(1000 + i),
        "case_number": f"JA{i:06d}",
        "date": f"2024-0{1 + i % 3}-{1 + i % 27:02d}T10:00:00.000",
        "block": "001XX W MADISON ST",
        "primary_type": "HOMICIDE",
        "beat": "0111",
        "community_area": "32",
        "x_coordinate": str(LOOP_FEET[0] + 10 * i),
        "y_coordinate": str(LOOP_FEET[1]),
        "latitude": "41.8781",
        "longitude": "-87.6298",
        "updated_on": f"2024-04-{1 + i % 20:02d}T00:00:00.000",
    }
    for i in range(40)
]


@pytest.fixture
def portal():
    server = FakePortal(RECORDS)
    server.url = server.start()
    yield server
    if server.gate is not None:
        server.gate.set()
    server.stop()


def test_two_pulls_into_one_store_cannot_both_run(portal, tmp_path):
    """The review's case: two ``fetch crimes`` into one --out shared the staging folder, the store
    ended empty and both exited 0."""
    store = tmp_path / "crimes.parquet"
    portal.gate = threading.Event()  # the first pull waits at its first request
    command = ["fetch", "crimes", "--since", "2024-01-01", "--out", str(store)]
    command += ["--base-url", portal.url, "--page-size", "7"]
    first = subprocess.Popen(
        [sys.executable, "-m", "geo_violence", *command],
        stderr=subprocess.PIPE,
        text=True,
        env=ENVIRONMENT,
    )
    try:
        for _ in range(600):
            if portal.requests:
                break
            time.sleep(0.1)
        assert portal.requests, "the first pull never asked the portal"
        second = run(*command)
        assert "holds" in one_line_error(second, 4)
    finally:
        portal.gate.set()
        assert first.wait(120) == 0, first.stderr.read()
    table = pd.read_parquet(store)
    assert sorted(table["ID"]) == sorted(record["id"] for record in RECORDS)
    assert not Path(f"{store}.partial").exists() and not Path(f"{store}.lock").exists()


# --- 2. zero usable incidents ------------------------------------------------------------------

PERIOD = ["--start", "2024-01-01", "--end", "2024-01-14"]


@pytest.mark.parametrize(
    "rows",
    [[], [("1", "not a date"), ("2", "")]],
    ids=["header-only", "every-row-rejected"],
)
def test_counts_with_no_usable_incident_gives_an_honest_zero_cube_with_a_note(tmp_path, rows):
    source = portal_csv(tmp_path / "x.csv", rows)  # with Community Area: the agreement report
    out = tmp_path / "out"
    result = run("counts", source, *PERIOD, "--out", out)
    assert result.exit_code == 0, result.output
    counts = pd.read_parquet(out / "counts.parquet")
    assert len(counts) == 77 * 2 and counts["count"].sum() == 0
    notes = json.loads((out / "manifest.json").read_text())["notes"]
    assert any("no usable incident" in note for note in notes), notes
    assert "no usable incident" in result.output
    rows_add_up(out)
    beats = run("counts", source, *PERIOD, "--assign", "recorded", "--out", tmp_path / "b")
    assert beats.exit_code == 0, beats.output


def test_counts_with_no_usable_incident_and_no_period_says_why_in_one_line(tmp_path):
    source = portal_csv(tmp_path / "x.csv", [("1", "not a date")])
    line = one_line_error(run("counts", source, "--out", tmp_path / "o"))
    assert "no usable incident" in line and "1 unparseable time" in line
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("command", ["hotspots", "emerging", "compare"])
@pytest.mark.parametrize(
    ("rows", "extra", "why"),
    [
        ([], [], "0 rows read"),
        ([("1", "not a date")], [], "1 rejected"),
        ([("1", "01/03/2024 10:00:00 AM")], ["--filter-category", "THEFT"], "THEFT"),
    ],
    ids=["header-only", "all-rejected", "filter-matches-nothing"],
)
def test_analyses_with_no_usable_incident_say_so_in_one_line(tmp_path, command, rows, extra, why):
    source = portal_csv(tmp_path / "x.csv", rows)
    period = (
        ["--before", "2024-01-01..2024-01-07", "--after", "2024-01-08..2024-01-14"]
        if command == "compare"
        else PERIOD
    )
    line = one_line_error(run(command, source, *period, *extra, "--out", tmp_path / "o"))
    assert "no usable incident" in line and why in line, line


def weekly_config(folder: Path, url: str, **sections: str) -> Path:
    text = {
        "source": f'base_url = "{url}"\nsince = "2024-01-01"\ntypes = ["HOMICIDE"]\n'
        "page_size = 100\ntimeout = 5\nretries = 0",
        "output": 'folder = "runs"\nstore = "data/crimes.parquet"',
        "analyses": "emerging_weeks = 10\nshift_before_weeks = 4",
    } | sections
    path = folder / "weekly.toml"
    body = "\n".join(f"[{name}]\n{value}\n" for name, value in text.items())
    path.write_text(body + '[[layers]]\nunits = "community_areas"\n')
    return path


def test_a_weekly_pull_with_no_record_says_so_and_publishes_nothing(tmp_path):
    server = FakePortal([])
    url = server.start()
    try:
        config = weekly_config(tmp_path, url)
        result = run("weekly", "--config", config, "--today", "2024-04-24")
    finally:
        server.stop()
    line = one_line_error(result)
    assert "no record" in line and "HOMICIDE" in line
    assert not (tmp_path / "runs" / "latest").exists()


# --- 3. impossible dates -----------------------------------------------------------------------


def test_times_out_of_range_or_implausible_are_rejected_not_wrapped(tmp_path):
    future = (dt.date.today() + dt.timedelta(days=400)).isoformat()
    times = [
        "1677-01-01 10:00",  # became 2261-07-22
        "9999-12-31 10:00",  # became 1816-03-30
        "0001-01-01 00:00",
        "1899-12-31 23:00",
        "2262-04-12 00:00",
        "99999-01-01 00:00",
        f"{future} 10:00",
        "9999-12-31T00:00:00Z",
        "2024-01-03 10:00",
    ]
    source = write_csv(
        tmp_path / "x.csv", "when,lon,lat", [f"{t},{LOOP[0]},{LOOP[1]}" for t in times]
    )
    read = read_incidents(source, time_col="when", x_col="lon", y_col="lat")
    assert read.incidents["occurred_at"].dt.year.tolist() == [2024]
    rejected = read.rejects.set_index("line")["reason"]
    assert sorted(rejected.index) == list(range(2, 10))
    assert all("time" in reason for reason in rejected), rejected.tolist()
    out = tmp_path / "out"
    result = run("counts", source, *OPTIONS, "--step", "day", "--out", out)
    assert result.exit_code == 0, result.output
    counts = pd.read_parquet(out / "counts.parquet")
    assert counts["step_start"].dt.year.unique().tolist() == [2024]
    rows_add_up(out)


def test_parquet_times_beyond_pandas_range_are_rejected_not_wrapped(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    stamps = pa.array(
        [dt.datetime(1500, 1, 1), dt.datetime(3000, 1, 1), dt.datetime(2024, 1, 3, 10)],
        type=pa.timestamp("ms"),
    )
    table = pa.table({"when": stamps, "lon": [LOOP[0]] * 3, "lat": [LOOP[1]] * 3})
    pq.write_table(table, tmp_path / "x.parquet")
    read = read_incidents(tmp_path / "x.parquet", time_col="when", x_col="lon", y_col="lat")
    assert read.incidents["occurred_at"].dt.year.tolist() == [2024]
    assert sorted(read.rejects["line"]) == [1, 2]


def test_a_cube_spanning_a_century_is_refused_naming_the_rows(tmp_path):
    rows = [f"2024-01-0{day} 10:00,{LOOP[0]},{LOOP[1]}" for day in range(1, 8)]
    rows.insert(3, f"1901-02-03 10:00,{LOOP[0]},{LOOP[1]}")
    source = write_csv(tmp_path / "x.csv", "when,lon,lat", rows)
    line = one_line_error(run("counts", source, *OPTIONS, "--out", tmp_path / "o"))
    assert "line 5 (1901-02-03)" in line and "--start" in line
    assert not (tmp_path / "o").exists()
    with_period = run(
        "counts", source, *OPTIONS, *PERIOD, "--out", tmp_path / "p"
    )  # a period given: the row is outside it, counted as such
    assert with_period.exit_code == 0, with_period.output
    assert rows_add_up(tmp_path / "p")["outside_period"] == 1


@pytest.mark.parametrize(
    "period", [["--start", "1000-01-01"], ["--end", "9999-12-31"], ["--start", "0001-01-01"]]
)
def test_a_period_of_thousands_of_years_is_refused(tmp_path, loop_file, period):
    line = one_line_error(run("counts", loop_file, *OPTIONS, *period, "--out", tmp_path / "o"))
    assert period[0] in line


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    year=st.integers(1, 99999),
    month=st.integers(1, 12),
    day=st.integers(1, 28),
    offset=st.sampled_from(["", "Z", "-05:00"]),
)
def test_any_date_is_read_as_written_or_rejected(tmp_path, year, month, day, offset):
    text = f"{year:04d}-{month:02d}-{day:02d}T12:00:00{offset}"
    source = write_csv(tmp_path / "h.csv", "when,lon,lat", [f"{text},{LOOP[0]},{LOOP[1]}"] * 2)
    read = read_incidents(source, time_col="when", x_col="lon", y_col="lat")
    this_year = dt.date.today().year
    if len(read.incidents):
        assert 1900 <= year <= this_year + 1, text
        assert read.incidents["occurred_at"].dt.year.tolist() == [year, year]
    else:
        assert read.rows_rejected == 2
        assert read.rejects["reason"].str.contains("time").all()
        assert not 1901 <= year < this_year, text


# --- 4. config and option values ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("section", "text", "key"),
    [
        ("analyses", "alpha = 5", "alpha"),
        ("analyses", 'alpha = "0.05"', "alpha"),
        ("analyses", "shift_alpha = 0", "shift_alpha"),
        ("analyses", "emerging_weeks = 3", "emerging_weeks"),
        ("analyses", "hotspot_weeks = 1.5", "hotspot_weeks"),
        ("analyses", "permutations = -1", "permutations"),
        ("analyses", "seed = true", "seed"),
        ("source", 'types = "HOMICIDE"', "types"),
        ("source", "types = [1, 2]", "types"),
        ("source", 'since = "yesterday"', "since"),
        ("source", "since = 2024-01-01T10:00:00", "since"),
        ("source", "page_size = 0", "page_size"),
        ("source", 'page_size = "100"', "page_size"),
        ("source", "timeout = -1", "timeout"),
        ("source", "retries = true", "retries"),
        ("source", 'base_url = "ftp://example.org"', "base_url"),
        ("maps", 'embed = "no"', "embed"),
        ("maps", 'basemap = "satellite"', "basemap"),
        ("output", "folder = 5", "folder"),
        ("output", 'store = ""', "store"),
    ],
)
def test_every_weekly_config_value_is_checked_with_its_key_named(tmp_path, section, text, key):
    config = weekly_config(tmp_path, "http://127.0.0.1:9", **{section: text})
    line = one_line_error(run("weekly", "--config", config, "--print-config"))
    assert f"[{section}] {key}" in line, line


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('source = 5\n[[layers]]\nunits = "beats"', "[source]"),
        ('layers = "beats"', "[[layers]]"),
        ("[[layers]]\nunits = 5", "[[layers]] units"),
        ('[[layers]]\nunits = "beats"\nunits_file = []', "[[layers]] units_file"),
    ],
)
def test_config_sections_of_the_wrong_shape_are_refused(tmp_path, text, message):
    config = tmp_path / "weekly.toml"
    config.write_text(text + "\n")
    assert message in one_line_error(run("weekly", "--config", config, "--print-config"))


def test_a_toml_date_literal_is_a_date(tmp_path):
    config = weekly_config(tmp_path, "http://127.0.0.1:9")
    config.write_text(config.read_text().replace('since = "2024-01-01"', "since = 2024-01-01"))
    result = run("weekly", "--config", config, "--print-config")
    assert result.exit_code == 0, result.output
    assert 'since = "2024-01-01"' in result.output


@pytest.mark.parametrize(
    ("command", "option"),
    [
        ("hotspots", ["--permutations", "1e9"]),
        ("hotspots", ["--permutations", "1000000000"]),
        ("hotspots", ["--lisa-permutations", "1000000000"]),
        ("emerging", ["--permutations", "1e9"]),
        ("compare", ["--lisa-permutations", "1e9"]),
    ],
)
def test_permutations_that_cannot_fit_in_memory_are_refused_with_the_size(
    tmp_path, loop_file, command, option
):
    period = (
        ["--before", "2024-01-01..2024-01-03", "--after", "2024-01-04..2024-01-07"]
        if command == "compare"
        else []
    )
    line = one_line_error(
        run(command, loop_file, *OPTIONS, *period, *option, "--out", tmp_path / "o")
    )
    assert option[0] in line and "memory" in line and "GB" in line, line
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("units", ["h3:15", "h3:12", "grid:0.001", "grid:0.5"])
def test_grids_too_fine_to_build_are_refused_at_once_with_their_size(tmp_path, loop_file, units):
    started = time.perf_counter()
    line = one_line_error(
        run("counts", loop_file, *OPTIONS, "--units", units, "--out", tmp_path / "o")
    )
    assert "cells" in line and units.split(":")[0] in line, line
    assert time.perf_counter() - started < 30  # not minutes of work that ignores Ctrl-C


# --- 5. a hostile or broken portal -------------------------------------------------------------


def fetch(url: str, store: Path, *extra: str):
    return run(
        "fetch",
        "crimes",
        "--since",
        "2024-01-01",
        "--out",
        store,
        "--base-url",
        url,
        "--page-size",
        "10",
        *extra,
    )


def quick(url: str, **changes) -> FetchOptions:
    return FetchOptions(
        base_url=url,
        page_size=changes.pop("page_size", 10),
        timeout=changes.pop("timeout", 2.0),
        backoff=0.01,
        **changes,
    )


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("soon", [0.01]),  # not a number: the backoff
        ("-5", [0.0]),
        ("nan", [0.01]),
        ("1e400", None),  # infinite: more than the cap
        ("999999", None),  # eleven days: more than the cap
        ("Wed, 21 Oct 2015 07:28:00 GMT", [0.0]),  # a date in the past
        ("Wed, 21 Oct 2015 07:28:00 -0000", [0.0]),  # a date without a zone
        ("Thu, 99 Foo 2015 99:99:99 GMT", [0.01]),  # a broken date
    ],
)
def test_any_retry_after_is_obeyed_up_to_a_cap_or_ignored(portal, tmp_path, header, expected):
    portal.faults.append(f"429:{header}")
    waits: list[float] = []
    store = tmp_path / "crimes.parquet"
    if expected is None:
        with pytest.raises(SourceUnavailableError, match="Retry-After"):
            pull_crimes(store, since="2024-01-01", options=quick(portal.url), sleep=waits.append)
        assert waits == []
        return
    result = pull_crimes(store, since="2024-01-01", options=quick(portal.url), sleep=waits.append)
    assert waits == pytest.approx(expected, abs=0.01) and result.records == len(RECORDS)


def test_a_retry_after_date_in_the_future_is_waited_for(portal, tmp_path):
    import email.utils

    soon = email.utils.format_datetime(dt.datetime.now(dt.UTC) + dt.timedelta(seconds=30), True)
    portal.faults.append(f"429:{soon}")
    waits: list[float] = []
    pull_crimes(
        tmp_path / "s.parquet", since="2024-01-01", options=quick(portal.url), sleep=waits.append
    )
    assert len(waits) == 1 and 25 <= waits[0] <= 31


@pytest.mark.parametrize(
    ("fault", "status", "message"),
    [
        ("not-a-list", 3, "not a list"),
        ("not-records", 3, "not records"),
        ("no-id", 3, "without id"),
        ("null-id", 3, "without id"),
        ("ok,ok,ok,ok,ok,no-id", 3, "without id"),  # the listing of live ids
        ("ok,ok,ok,ok,ok,not-records", 3, "not records"),
        ("html", 2, "unreadable"),
        ("404", 2, "HTTP 404"),
    ],
)
def test_a_broken_answer_ends_with_exit_2_or_3_and_one_line(
    portal, tmp_path, fault, status, message
):
    portal.faults += fault.split(",")
    store = tmp_path / "crimes.parquet"
    result = fetch(portal.url, store, "--retries", "0")
    assert message in one_line_error(result, status)
    assert not store.exists()


def test_a_drip_feeding_server_times_out_within_the_deadline(portal, tmp_path):
    portal.faults.append("drip")
    started = time.perf_counter()
    with pytest.raises(SourceUnavailableError, match="deadline"):
        pull_crimes(
            tmp_path / "s.parquet",
            since="2024-01-01",
            options=quick(portal.url, retries=0, timeout=1.0, deadline=2.0),
        )
    assert time.perf_counter() - started < 15


def test_a_server_ignoring_offset_is_caught(portal, tmp_path):
    portal.ignore_offset = True
    store = tmp_path / "crimes.parquet"
    started = time.perf_counter()
    assert "$offset" in one_line_error(fetch(portal.url, store), 3)
    assert len(portal.requests) < 5 and time.perf_counter() - started < 30
    assert not store.exists()


def test_an_answer_larger_than_any_page_is_refused(portal, tmp_path):
    portal.faults.append("huge")
    with pytest.raises(SourceUnavailableError, match="larger than"):
        pull_crimes(
            tmp_path / "s.parquet",
            since="2024-01-01",
            options=quick(portal.url, retries=0, page_size=1),
        )


# --- 6. run folders shared by several jobs -----------------------------------------------------


@pytest.fixture(scope="module")
def demo_file(tmp_path_factory) -> Path:
    from geo_violence.jobs.demo_data import write_demo_incidents

    return write_demo_incidents(tmp_path_factory.mktemp("demo"), seed=5)


@pytest.fixture(scope="module")
def emerging_folder(demo_file, tmp_path_factory) -> Path:
    """An ``emerging`` run of the demo's incidents, for the tests to copy."""
    out = tmp_path_factory.mktemp("emerging") / "run"
    assert run("emerging", demo_file, "--out", out).exit_code == 0
    return out


def copy_of(folder: Path, tmp_path: Path) -> Path:
    import shutil

    return Path(shutil.copytree(folder, tmp_path / "run"))


def test_jobs_sharing_a_folder_keep_each_manifest_and_report_reads_the_emerging_step(
    tmp_path, demo_file, emerging_folder
):
    out = copy_of(emerging_folder, tmp_path)
    common = [demo_file, "--out", out, "--overwrite"]
    hotspots = run("hotspots", *common, "--start", "2025-12-01", "--end", "2025-12-28")
    assert hotspots.exit_code == 0, hotspots.output
    periods = ["--before", "2025-09-01..2025-10-26", "--after", "2025-10-27..2025-12-21"]
    compare = run("compare", *common, *periods)
    assert compare.exit_code == 0, compare.output
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["command"] == "compare"  # the last job's, as before
    assert set(manifest["jobs"]) == {"emerging", "hotspots", "compare"}
    assert manifest["jobs"]["emerging"]["steps"]["step"] == "week"
    assert manifest["jobs"]["hotspots"]["steps"]["step"] == "day"
    assert manifest["jobs"]["emerging"]["outputs"]["emerging.csv"]
    rows_add_up(out)
    report = run("report", out)
    assert report.exit_code == 0, report.output
    summary = (out / "summary.md").read_text()
    assert "next week" in summary and "next day" not in summary


def test_report_reads_the_step_even_when_no_manifest_says_it(tmp_path, demo_file):
    out = tmp_path / "run"
    assert run("emerging", demo_file, "--step", "month", "--out", out).exit_code == 0
    (out / "manifest.json").unlink()
    assert run("report", out).exit_code == 0
    assert "next month" in (out / "summary.md").read_text()


# --- 7. everything else found ------------------------------------------------------------------


def test_engine_stream_on_a_folder_is_one_line(tmp_path, loop_file):
    # a CSV is streamed since issue 21 (tests/test_columnar_read.py); a folder is not one file
    line = one_line_error(
        run("counts", tmp_path, *OPTIONS, *PERIOD, "--engine", "stream", "--out", tmp_path / "o")
    )
    assert "Parquet" in line and "--engine memory" in line


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("emerging_bins.parquet", b"PAR1 not really"),
        ("emerging_bins.parquet", b""),
        ("emerging.csv", b""),
        ("emerging.csv", b"unit_id,name\n"),
        ("emerging.csv", b"\x00\xff\xfe garbage"),
        ("emerging_bins.parquet", "no rows"),
    ],
    ids=["bins-garbage", "bins-empty", "csv-empty", "csv-header-only", "csv-binary", "bins-none"],
)
def test_report_on_corrupt_or_empty_emerging_outputs_is_one_line(
    tmp_path, emerging_folder, name, content
):
    out = copy_of(emerging_folder, tmp_path)
    if content == "no rows":
        pd.read_parquet(out / name).head(0).to_parquet(out / name)
    else:
        (out / name).write_bytes(content)
    line = one_line_error(run("report", out))
    assert name in line and "emerging" in line


def test_a_truncated_gzip_file_is_one_line_naming_it(tmp_path):
    rows = "when,lon,lat\n" + "".join(
        f"2024-01-0{1 + i % 7} 10:00,{LOOP[0]},{LOOP[1]}\n" for i in range(3000)
    )
    data = gzip.compress(rows.encode())
    source = tmp_path / "x.csv.gz"
    for cut in (len(data) // 2, 30, 5):
        source.write_bytes(data[:cut])
        line = one_line_error(run("counts", source, *OPTIONS, "--out", tmp_path / "o"))
        assert "x.csv.gz" in line, line


def test_a_units_file_without_a_crs_points_to_the_units_option(tmp_path, loop_file):
    shapefile = tmp_path / "units.shp"
    load_units("community_areas").units.head(3).reset_index().to_file(shapefile)
    shapefile.with_suffix(".prj").unlink()
    common = [*OPTIONS, *PERIOD, "--units", shapefile, "--id-field", "unit_id"]
    common += ["--out", tmp_path / "o"]
    line = one_line_error(run("counts", loop_file, *common))
    assert "--units-crs" in line
    done = run("counts", loop_file, *common, "--units-crs", "EPSG:3435")
    assert done.exit_code == 0, done.output
    rows_add_up(tmp_path / "o")


def test_temporary_files_of_a_killed_run_are_cleared_by_the_next(tmp_path, loop_file):
    out = tmp_path / "out"
    out.mkdir()
    dead = _ended_process()
    left = [
        out / f".counts.parquet.{dead}.abc123de.tmp",
        out / ".rejects.csv.x1y2z3w4.tmp",  # an older spelling, without the pid
    ]
    for path in left:
        path.write_text("half")
    os.utime(left[1], (time.time() - 7200, time.time() - 7200))
    done = run("counts", loop_file, *OPTIONS, "--out", out)
    assert done.exit_code == 0, done.output
    assert not any(path.exists() for path in left)
    no_temporary_files(out)


def test_rejected_lines_are_file_lines_when_fields_hold_newlines(tmp_path):
    text = (
        "id,when,lon,lat,note\n"
        f'1,2024-01-03 10:00,{LOOP[0]},{LOOP[1]},"a\nb\nc"\n'
        f"2,bad,{LOOP[0]},{LOOP[1]},x\n"
        "\n"
        f'3,bad,{LOOP[0]},{LOOP[1]},"say ""hi""\r\nthere"\n'
        f"4,2024-01-04 10:00,{LOOP[0]},{LOOP[1]},y"
    )
    (tmp_path / "x.csv").write_text(text, newline="")
    read = read_incidents(
        tmp_path / "x.csv", time_col="when", x_col="lon", y_col="lat", id_col="id"
    )
    assert read.rejects["line"].tolist() == [5, 7]
    assert read.incidents["line"].tolist() == [2, 9]


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.lists(
        st.tuples(
            st.booleans(),
            st.text(alphabet=st.sampled_from('ab\n"=,+ \r'), max_size=8),
            st.integers(0, 2),
        ),
        min_size=1,
        max_size=12,
    )
)
def test_every_rejected_line_is_where_its_record_starts(tmp_path, records):
    lines = ["id,when,lon,lat,note"]
    starts = {}
    line_number = 2
    for position, (good, note, blanks) in enumerate(records):
        lines.extend([""] * blanks)
        line_number += blanks
        quoted = '"' + note.replace('"', '""') + '"'
        when = "2024-01-03 10:00" if good else "bad"
        record = f"{position},{when},{LOOP[0]},{LOOP[1]},{quoted}"
        starts[str(position)] = line_number
        lines.append(record)
        line_number += record.count("\n") + record.count("\r") - record.count("\r\n") + 1
    (tmp_path / "h.csv").write_text("\n".join(lines) + "\n", newline="")
    read = read_incidents(
        tmp_path / "h.csv", time_col="when", x_col="lon", y_col="lat", id_col="id"
    )
    assert read.rows_read == len(records)
    for frame in (read.rejects, read.incidents):
        for record_id, line in zip(frame["incident_id"], frame["line"], strict=True):
            assert starts[record_id] == line


def test_duplicate_incident_ids_are_counted_once_and_said(tmp_path):
    source = portal_csv(
        tmp_path / "x.csv",
        [
            ("7", "01/03/2024 10:00:00 AM"),
            ("8", "01/04/2024 10:00:00 AM"),
            ("7", "01/03/2024 10:00:00 AM"),
            ("7", "01/05/2024 10:00:00 AM"),
        ],
    )
    out = tmp_path / "out"
    result = run("counts", source, *PERIOD, "--out", out)
    assert result.exit_code == 0, result.output
    rejects = pd.read_csv(out / "rejects.csv")
    assert rejects["line"].tolist() == [4, 5]
    assert rejects["reason"].str.contains("duplicate incident id").all()
    assert "line 2" in rejects["reason"].iloc[0]
    assert pd.read_parquet(out / "counts.parquet")["count"].sum() == 2
    assert "duplicate" in result.output
    rows_add_up(out)


def test_duplicate_ids_across_stream_batches_are_counted_once(tmp_path):
    from geo_violence import stream_parquet_cube

    frame = pd.DataFrame(
        {
            "id": ["a", "b", "c", "a", "d", "b"],
            "when": ["2024-01-03 10:00"] * 6,
            "lon": [LOOP[0]] * 6,
            "lat": [LOOP[1]] * 6,
        }
    )
    frame.to_parquet(tmp_path / "x.parquet", row_group_size=2)
    units = load_units("community_areas").units
    result = stream_parquet_cube(
        tmp_path / "x.parquet",
        units,
        start="2024-01-01",
        end="2024-01-07",
        read_options={"time_col": "when", "x_col": "lon", "y_col": "lat", "id_col": "id"},
        batch_rows=2,
    )
    assert int(result.cube.counts.sum()) == 4 and result.rejected == 2
    assert sorted(result.rejects["line"]) == [4, 6]


@pytest.mark.parametrize("value", ["1e309", "inf", "-inf", "NaN", "-5"])
def test_a_population_that_is_not_a_finite_positive_number_gets_no_rate(tmp_path, loop_file, value):
    population = write_csv(
        tmp_path / "pop.csv", "area_id,population", [f"{i},{1000 * i}" for i in range(1, 78)]
    )
    population.write_text(population.read_text().replace("32,32000", f"32,{value}"))
    out = tmp_path / "out"
    result = run("counts", loop_file, *OPTIONS, "--population", population, "--out", out)
    assert result.exit_code == 0, result.output
    counts = pd.read_parquet(out / "counts.parquet")
    loop = counts[counts["unit_id"] == "32"]
    assert loop["population"].isna().all() and loop["rate"].isna().all()
    assert np.isfinite(counts["rate"].dropna()).all()
    notes = json.loads((out / "manifest.json").read_text())["notes"]
    assert any("32" in note and "population" in note for note in notes)


def test_a_valid_csv_with_a_field_of_megabytes_is_read(tmp_path):
    note = "x" * 3_000_000
    source = write_csv(
        tmp_path / "x.csv",
        "when,lon,lat,note",
        [
            f'2024-01-03 10:00,{LOOP[0]},{LOOP[1]},"{note}"',
            f"2024-01-04 10:00,{LOOP[0]},{LOOP[1]},y",
        ],
    )
    read = read_incidents(source, time_col="when", x_col="lon", y_col="lat")
    assert len(read.incidents) == 2 and read.rows_rejected == 0


def test_ctrl_c_during_start_up_is_one_line_and_exit_130(tmp_path):
    """Ctrl-C while the command starts and waits (on a portal that never answers: start-up
    itself now takes a fraction of a second, see test_startup) is one line and status 130."""
    with socket.socket() as silent:  # accepts connections, never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        port = silent.getsockname()[1]
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "geo_violence",
                "fetch",
                "crimes",
                "--since",
                "2024-01-01",
                "--base-url",
                f"http://127.0.0.1:{port}",
                "--out",
                str(tmp_path / "crimes.parquet"),
                "--timeout",
                "60",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=ENVIRONMENT,
            # as from a shell: Ctrl-C acts (a test runner's worker may ignore SIGINT, and a
            # child inherits that)
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        )
        time.sleep(0.8)  # starting up, or already waiting for the portal
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=120)
    assert "Traceback" not in stderr and stderr.strip().splitlines()[-1] == "error: interrupted"


HOSTILE = ['=HYPERLINK("http://x","y")', "+SUM(1,1)", "-2+3", "@cmd", "=1+1"]


def test_no_csv_we_write_holds_a_formula_for_a_spreadsheet(tmp_path):
    units = load_units("community_areas").units.reset_index()
    units["name"] = [HOSTILE[i % len(HOSTILE)] for i in range(len(units))]
    path = tmp_path / "units.geojson"
    gpd.GeoDataFrame(units, crs=units.crs).to_file(path, driver="GeoJSON")
    rows = [
        f"=cmd|' /C calc'!A{i},2024-01-0{1 + i % 7} 10:00,{LOOP[0]},{LOOP[1]}" for i in range(5)
    ]
    rows += [
        f"@evil,=1+1,{LOOP[0]},{LOOP[1]}",
        f"-5,2024-01-03 10:00,=2+2,{LOOP[1]}",
        "+7,2024-01-03 10:00,-87.0,-95.5",
        "-8,2024-01-04 10:00,-87.9,42.4",
    ]
    source = write_csv(tmp_path / "x.csv", "id,when,lon,lat", rows)
    out = tmp_path / "out"
    common = [
        *OPTIONS,
        "--id-col",
        "id",
        "--units",
        path,
        "--id-field",
        "unit_id",
        "--name-field",
        "name",
    ]
    result = run("hotspots", source, *common, "--out", out)
    assert result.exit_code == 0, result.output
    written = list(out.glob("*.csv"))
    assert {"hotspots.csv", "rejects.csv", "unassigned.csv"} <= {p.name for p in written}
    for path in written:
        table = pd.read_csv(path, dtype=str, keep_default_na=False)
        for column in table.columns:
            for cell in table[column]:
                assert not _formula(cell), (path.name, column, cell)
    hotspots = pd.read_csv(out / "hotspots.csv", dtype=str)
    assert set(hotspots["name"]) == {"'" + name for name in HOSTILE}
    rejects = pd.read_csv(out / "rejects.csv", dtype=str)
    assert "'=1+1" in set(rejects["value"]) and "'@evil" in set(rejects["incident_id"])
    assert "-5" in set(rejects["incident_id"])  # a number stays a number


def _formula(cell: str) -> bool:
    if not cell or cell[0] not in "=+-@\t\r":
        return False
    try:
        float(cell)
    except ValueError:
        return True
    return False


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.lists(
        st.text(st.characters(exclude_categories=("Cs",), exclude_characters="\x00"), max_size=6),
        min_size=1,
        max_size=6,
    )
)
def test_write_csv_escapes_every_text_a_spreadsheet_would_run(tmp_path, cells):
    # an object column (checked cell by cell) and an Arrow string column (read as a whole)
    frame = pd.DataFrame({"text": cells, "number": range(len(cells))})
    frame["number"] = -frame["number"]
    frame["arrow"] = pd.array(cells, dtype="string[pyarrow]")
    write_table(frame, tmp_path / "t.csv")
    back = pd.read_csv(tmp_path / "t.csv", dtype=str, keep_default_na=False)
    for column in ("text", "arrow"):
        for written, original in zip(back[column], cells, strict=True):
            assert not _formula(written)
            assert written == ("'" + original if _formula(original) else original)
    assert back["number"].tolist() == [str(-i) for i in range(len(cells))]


# --- found by the fresh pass after the fixes ---------------------------------------------------


def test_a_directory_where_the_lock_goes_is_one_line(tmp_path, loop_file):
    (tmp_path / "out" / LOCK_NAME).mkdir(parents=True)
    assert "in the way" in one_line_error(
        run("counts", loop_file, *OPTIONS, "--out", tmp_path / "out")
    )
    assert (tmp_path / "out" / LOCK_NAME).is_dir()  # left as it was


@pytest.mark.parametrize("url", ["http://[::1", "not a url", "ftp://127.0.0.1", "file:///etc"])
def test_a_base_url_that_is_no_http_address_is_one_line(tmp_path, url):
    assert "--base-url" in one_line_error(fetch(url, tmp_path / "s.parquet", "--retries", "0"))


def test_a_store_that_is_no_store_is_one_line(portal, tmp_path, loop_file):
    line = one_line_error(fetch(portal.url, loop_file))
    assert "store" in line and loop_file.read_text().startswith("when")  # untouched


def test_a_config_with_a_byte_order_mark_and_an_impossible_today(tmp_path):
    config = weekly_config(tmp_path, "http://127.0.0.1:9")
    config.write_bytes(b"\xef\xbb\xbf" + config.read_bytes())
    assert run("weekly", "--config", config, "--print-config").exit_code == 0
    line = one_line_error(run("weekly", "--config", config, "--today", "0001-01-01"))
    assert "--today" in line


def test_aggregated_counts_of_1e309_are_refused_by_name(tmp_path):
    counts = write_csv(
        tmp_path / "c.csv",
        "area_id,b,a",
        [f"{i},{'1e309' if i == 7 else i},{i}" for i in range(1, 78)],
    )
    line = one_line_error(
        run(
            "compare",
            "--counts",
            counts,
            "--before-col",
            "b",
            "--after-col",
            "a",
            "--out",
            tmp_path / "o",
        )
    )
    assert "1e309" in line


def test_report_reads_bins_rewritten_without_their_metadata(tmp_path, emerging_folder):
    out = copy_of(emerging_folder, tmp_path)
    pd.read_parquet(out / "emerging_bins.parquet").to_parquet(out / "emerging_bins.parquet")
    result = run("report", out, "--overwrite")
    assert result.exit_code == 0, result.output
    assert "next week" in (out / "summary.md").read_text()


def test_a_weekly_run_whose_last_days_had_no_incident_publishes(portal, tmp_path):
    """The week ends on 2024-03-31 but the last incident is of 2024-03-27: quiet days, not days
    without data (compare refused the period as outside the data's dates)."""
    config = weekly_config(tmp_path, portal.url)
    result = run("weekly", "--config", config, "--today", "2024-04-03")
    assert result.exit_code == 0, result.output
    latest = tmp_path / "runs" / "latest" / "community_areas"
    assert (latest / "shift.csv").exists() and (latest / "summary.md").exists()
    assert not list((tmp_path / "runs").rglob(LOCK_NAME))


@pytest.mark.parametrize(
    ("layers", "message"),
    [
        ('[[layers]]\nunits = "beats"\n[[layers]]\nunits = "beats"\n', "more than once"),
        ("", "is a file"),
    ],
)
def test_weekly_layers_sharing_a_folder_or_runs_being_a_file_are_one_line(
    tmp_path, layers, message
):
    config = weekly_config(tmp_path, "http://127.0.0.1:9")
    if layers:
        text = config.read_text().split("[[layers]]")[0]
        config.write_text(text + layers)
    else:
        (tmp_path / "runs").write_text("a file")
    assert message in one_line_error(run("weekly", "--config", config, "--today", "2024-04-03"))
