"""The portal downloader and the weekly job, over real HTTP to a local portal on 127.0.0.1 that
serves the shared homicides, with faults; the job killed at several points; the README's weekly
section followed as written."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from geo_violence import load_units
from geo_violence.cli import main
from geo_violence.jobs.weekly import LOCK_FILE, read_config, week_to_report
from geo_violence.sources.portal import (
    FetchOptions,
    SchemaChangedError,
    SourceUnavailableError,
    pull_crimes,
)
from geo_violence.testing.fake_portal import FakePortal, portal_records

README = Path(__file__).resolve().parents[1] / "README.md"
SINCE = "2022-01-01"


@pytest.fixture(scope="module")
def records(shared_data):
    return portal_records(shared_data / "homicides_2001_2024.csv")


@pytest.fixture
def portal(records):
    server = FakePortal(records)
    server.url = server.start()
    yield server
    server.stop()


def options(url: str, **changes) -> FetchOptions:
    return FetchOptions(
        base_url=url,
        page_size=changes.pop("page_size", 500),
        timeout=changes.pop("timeout", 1.0),
        backoff=0.01,
        **changes,
    )


def expected_ids(portal: FakePortal, since: str = SINCE) -> set[str]:
    return {
        record_id
        for record_id, record in portal.records.items()
        if record.get("date", "") >= since and record.get("primary_type") == "HOMICIDE"
    }


def stored(path: Path) -> pd.DataFrame:
    return pd.read_parquet(path)


def assert_store_matches(path: Path, portal: FakePortal) -> None:
    table = stored(path)
    assert table["ID"].is_unique, "a record was stored twice"
    assert set(table["ID"]) == expected_ids(portal), "a record was lost or kept after deletion"
    for record_id in list(table["ID"])[:: max(1, len(table) // 50)]:
        source = portal.records[record_id]
        row = table.set_index("ID").loc[record_id]
        assert row["Updated On"] == source["updated_on"] and row["Block"] == source.get("block")


def test_a_first_pull_stores_every_record_once_and_reads_as_the_export(portal, tmp_path):
    store = tmp_path / "crimes.parquet"
    result = pull_crimes(store, since=SINCE, types=("HOMICIDE",), options=options(portal.url))
    assert_store_matches(store, portal)
    assert result.records == len(expected_ids(portal)) and result.deleted == 0
    assert not Path(f"{store}.partial").exists()
    from geo_violence import read_incidents

    read = read_incidents(store)
    assert any("portal" in note for note in read.notes)
    assert len(read.incidents) + read.rows_rejected == result.records


@pytest.mark.parametrize("fault", ["500", "429", "cut", "slow"])
def test_transient_faults_are_retried_and_nothing_is_lost(portal, tmp_path, fault):
    store = tmp_path / "crimes.parquet"
    waits: list[float] = []
    portal.faults += ["ok", fault, "ok", fault]  # the second and fourth requests fail once each
    # a slow answer outlasts the timeout by far, and a normal one stays far inside it even on a
    # loaded machine (a 1 s timeout once cut a normal answer there)
    portal.slow_seconds = 6.0
    pull_crimes(
        store,
        since=SINCE,
        types=("HOMICIDE",),
        options=options(portal.url, timeout=3.0),
        sleep=waits.append,
    )
    assert_store_matches(store, portal)
    assert len(waits) == 2
    if fault == "429":
        assert waits == [1.0, 1.0]  # the server's Retry-After, not the backoff


def test_records_updated_or_deleted_after_a_pull_replace_what_was_stored(portal, tmp_path):
    store = tmp_path / "crimes.parquet"
    pull_crimes(store, since=SINCE, types=("HOMICIDE",), options=options(portal.url))
    ids = sorted(expected_ids(portal), key=int)
    portal.update(ids[0], "2024-06-01T10:00:00.000", block="001XX W CORRECTED ST")
    portal.delete(ids[1])
    portal.add(
        dict(
            portal.records[ids[2]],
            id="99999999",
            case_number="ZZ1",
            updated_on="2024-06-02T00:00:00.000",
        )
    )
    before = len(portal.requests)
    result = pull_crimes(store, since=SINCE, types=("HOMICIDE",), options=options(portal.url))
    assert (result.fetched, result.replaced, result.deleted) == (2, 1, 1)
    assert_store_matches(store, portal)
    table = stored(store).set_index("ID")
    assert table.loc[ids[0], "Block"] == "001XX W CORRECTED ST"
    changed_query = portal.requests[before]
    assert "updated_on" in changed_query  # only the records updated since the last pull


def test_a_changed_schema_stops_the_pull_and_leaves_the_store_alone(portal, tmp_path):
    store = tmp_path / "crimes.parquet"
    pull_crimes(store, since=SINCE, types=("HOMICIDE",), options=options(portal.url))
    before = store.read_bytes()
    ids = sorted(expected_ids(portal), key=int)
    portal.update(ids[0], "2024-06-01T10:00:00.000")
    portal.faults.append("schema")
    with pytest.raises(SchemaChangedError, match="lack date"):
        pull_crimes(store, since=SINCE, types=("HOMICIDE",), options=options(portal.url))
    assert store.read_bytes() == before


def test_an_unavailable_portal_changes_nothing_and_an_interrupted_pull_resumes(portal, tmp_path):
    store = tmp_path / "crimes.parquet"
    portal.faults += ["ok", "ok", "ok", "500", "500"]  # page 4 of 5 fails on both attempts
    with pytest.raises(SourceUnavailableError, match="did not answer after 2 attempts"):
        pull_crimes(
            store,
            since=SINCE,
            types=("HOMICIDE",),
            options=options(portal.url, retries=1, page_size=300),
            sleep=lambda s: None,
        )
    assert not store.exists()
    assert len(list(Path(f"{store}.partial").glob("page-*.parquet"))) == 3
    result = pull_crimes(
        store, since=SINCE, types=("HOMICIDE",), options=options(portal.url, page_size=300)
    )
    assert result.resumed_from_page == 3
    assert_store_matches(store, portal)


def test_boundaries_go_to_the_cache_with_their_hash_and_then_need_no_file(
    shared_data, tmp_path, monkeypatch
):
    monkeypatch.setenv("GEO_VIOLENCE_CACHE", str(tmp_path / "cache"))
    server = FakePortal([], {"aerh-rz74": shared_data / "police_beats.geojson"})
    url = server.start()
    try:
        result = CliRunner().invoke(main, ["fetch", "boundaries", "beats", "--base-url", url])
    finally:
        server.stop()
    assert result.exit_code == 0, result.output
    cached = tmp_path / "cache" / "boundaries" / "beats.geojson"
    assert cached.read_bytes() == (shared_data / "police_beats.geojson").read_bytes()
    layer = load_units("beats")
    assert len(layer.units) == 275 and layer.source == str(cached)
    cached.write_bytes(cached.read_bytes().replace(b"1713", b"9999"))  # no longer the download
    from geo_violence.errors import OptionError

    with pytest.raises(OptionError, match="geo-violence fetch boundaries beats"):
        load_units("beats")


# --- the weekly job ----------------------------------------------------------------------------


def write_config(folder: Path, url: str, shared_data: Path) -> Path:
    config = folder / "weekly.toml"
    config.write_text(
        f"""[source]
base_url = "{url}"
since = "2023-01-01"
types = ["HOMICIDE"]
page_size = 1000
timeout = 5
retries = 1

[output]
folder = "runs"
store = "data/crimes.parquet"

[[layers]]
units = "community_areas"

[[layers]]
units = "beats"
units_file = "{shared_data / "police_beats.geojson"}"

[maps]
embed = true
""",
        encoding="utf-8",
    )
    return config


def weekly(config: Path, today: str, **environment) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "geo_violence", "weekly", "--config", str(config), "--today", today],
        capture_output=True,
        text=True,
        env=os.environ | environment,
        timeout=300,
    )


EVERY_OUTPUT = {
    "emerging.csv",
    "emerging_bins.parquet",
    "emerging.html",
    "embed.html",
    "hotspots.csv",
    "hotspots.parquet",
    "hotspots.html",
    "shift.csv",
    "shift.parquet",
    "shift.html",
    "shift.png",
    "summary.html",
    "summary.md",
    "deploy.csv",
    "watch.csv",
    "rejects.csv",
    "unassigned.csv",
    "manifest-emerging.json",
    "manifest-hotspots.json",
    "manifest-compare.json",
    "counts.parquet",
    "manifest-counts.json",
    "trends.csv",
    "trends.parquet",
    "trends.html",
    "manifest-trends.json",
    "clusters.csv",
    "cluster_steps.csv",
    "scan.html",
    "manifest-scan.json",
}


def test_the_weekly_job_publishes_every_output_and_reruns_identically(
    portal, tmp_path, shared_data
):
    config = write_config(tmp_path, portal.url, shared_data)
    done = weekly(config, "2024-04-24")
    assert done.returncode == 0, done.stderr
    runs = tmp_path / "runs"
    assert os.readlink(runs / "latest") == "2024-W16"
    for layer in ("community_areas", "beats"):
        assert {path.name for path in (runs / "2024-W16" / layer).iterdir()} == EVERY_OUTPUT
    assert (runs / "2024-W16" / "manifest.json").exists()
    tables = {
        path.relative_to(runs / "2024-W16"): path.read_bytes()
        for path in (runs / "2024-W16").rglob("*")
        if path.suffix in (".csv", ".parquet")
    }
    again = weekly(config, "2024-04-24")
    assert again.returncode == 0, again.stderr
    for relative, content in tables.items():
        assert (runs / "2024-W16" / relative).read_bytes() == content, relative
    assert len(list((runs / ".weeks").iterdir())) == 1  # the rerun replaced the week
    assert not list(runs.glob(".staging-*")) and not (runs / LOCK_FILE).exists()
    # the archive's headline figures are those of the published outputs
    headlines = json.loads((runs / "2024-W16" / "manifest.json").read_text())["headlines"]
    archive = (runs / "index.html").read_text()
    for layer in ("community_areas", "beats"):
        folder = runs / "2024-W16" / layer
        bins = pd.read_parquet(folder / "emerging_bins.parquet")
        week = bins[bins["step_start"] == bins["step_start"].max()]
        trends = pd.read_csv(folder / "trends.csv")
        clusters = json.loads((folder / "manifest-scan.json").read_text())
        assert headlines[layer] == {
            "incidents": int(week["count"].sum()),
            "hot_units": int((week["bin"] > 0).sum()),
            "alarms": clusters["jobs"]["scan"]["n_alarms"],
            "rising_units": int((trends["direction"] == "rising").sum()),
        }
        assert f'href="2024-W16/{layer}/summary.html"' in archive
    assert archive.count('<tr><th scope="row">2024-W16') == 2  # one row per layer


def test_print_config_shows_the_effective_configuration(portal, tmp_path, shared_data):
    config = write_config(tmp_path, portal.url, shared_data)
    result = CliRunner().invoke(main, ["weekly", "--config", str(config), "--print-config"])
    assert result.exit_code == 0
    assert f'base_url = "{portal.url}"' in result.output
    assert "emerging_weeks = 52" in result.output and 'units = "beats"' in result.output
    config.write_text("[source]\nsince = 2024\nfoo = 1\n")
    result = CliRunner().invoke(main, ["weekly", "--config", str(config), "--print-config"])
    assert result.exit_code == 1 and "unknown key(s) foo" in result.output


@pytest.fixture(scope="module")
def week_15(records, shared_data, build_once) -> Path:
    """A folder with week 15 published and its store, built once for every worker: each
    killed-run case starts from a copy (the runs' links are relative, so a copy is a working
    folder)."""

    def publish(folder: Path) -> None:
        server = FakePortal(records)
        url = server.start()
        try:
            done = weekly(write_config(folder, url, shared_data), "2024-04-17")
        finally:
            server.stop()
        assert done.returncode == 0, done.stderr

    return build_once("week15", publish)


@pytest.mark.parametrize("point", ["after-fetch", "mid-write", "before-publish", "mid-publish"])
def test_a_killed_run_leaves_the_published_run_and_the_next_run_completes(
    portal, tmp_path, shared_data, point, week_15
):
    shutil.copytree(week_15, tmp_path, symlinks=True, dirs_exist_ok=True)
    config = write_config(tmp_path, portal.url, shared_data)  # week 15 is published
    runs = tmp_path / "runs"
    assert os.readlink(runs / "latest") == "2024-W15"
    killed = weekly(config, "2024-04-24", GEO_VIOLENCE_CRASH_AT=point)
    assert killed.returncode == -signal.SIGKILL
    assert os.readlink(runs / "latest") == "2024-W15"
    assert (runs / "latest" / "beats" / "summary.html").exists()
    assert not (runs / "2024-W16").exists()
    archive = (runs / "index.html").read_text()
    assert "2024-W15" in archive and "2024-W16" not in archive
    assert (runs / LOCK_FILE).exists()  # left by the killed run: stale
    done = weekly(config, "2024-04-24")
    assert done.returncode == 0, done.stderr
    assert "stale lock" in done.stderr
    assert os.readlink(runs / "latest") == "2024-W16"
    assert {p.name for p in (runs / "2024-W16" / "beats").iterdir()} == EVERY_OUTPUT
    assert not list(runs.glob(".staging-*"))
    published = {(runs / week).resolve() for week in ("2024-W15", "2024-W16")}
    assert set((runs / ".weeks").iterdir()) == published  # nothing the killed run left
    archive = (runs / "index.html").read_text()
    assert archive.index("2024-W16") < archive.index("2024-W15")  # newest first


def test_exit_codes_a_scheduler_can_act_on(portal, tmp_path, shared_data):
    config = write_config(tmp_path, portal.url, shared_data)
    runs = tmp_path / "runs"
    runs.mkdir()
    (runs / LOCK_FILE).write_text(
        f'{{"pid": {os.getpid()}, "host": "{socket.gethostname()}", "started": "now"}}'
    )
    busy = weekly(config, "2024-04-24")
    assert busy.returncode == 4 and "holds" in busy.stderr
    (runs / LOCK_FILE).unlink()
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    (tmp_path / "down").mkdir()
    down = write_config(tmp_path / "down", f"http://127.0.0.1:{port}", shared_data)
    result = weekly(down, "2024-04-24")
    assert result.returncode == 2 and "did not answer" in result.stderr
    assert not (tmp_path / "down" / "runs" / "latest").exists()
    portal.faults.append("schema")
    result = weekly(config, "2024-04-24")
    assert result.returncode == 3, result.stderr
    assert not (runs / "latest").exists()


def test_week_to_report_is_the_last_complete_iso_week():
    assert week_to_report(pd.Timestamp("2024-04-22").date())[0] == "2024-W16"  # a Monday
    assert week_to_report(pd.Timestamp("2024-04-21").date())[0] == "2024-W15"  # a Sunday
    assert week_to_report(pd.Timestamp("2021-01-05").date())[0] == "2020-W53"


def test_the_readme_weekly_section_works_as_written(shared_data, tmp_path):
    """Follow the README: start the local portal, write its weekly.toml, run the job."""
    text = README.read_text(encoding="utf-8")
    section = text.split("## Scheduled weekly runs", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```(\w+)\n(.*?)```", section, flags=re.S)
    toml = next(body for kind, body in blocks if kind == "toml")
    commands = [line for kind, body in blocks if kind == "bash" for line in body.splitlines()]
    server_line = next(line for line in commands if "fake_portal" in line)
    port = int(re.search(r"--port (\d+)", server_line).group(1))
    with socket.socket() as probe:
        if probe.connect_ex(("127.0.0.1", port)) == 0:
            pytest.skip(f"port {port} of the README's example is in use")
    shared = str(shared_data)
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "geo_violence.testing.fake_portal",
            str(shared_data / "homicides_2001_2024.csv"),
            "--port",
            str(port),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert "serving" in server.stdout.readline()
        config = tmp_path / "weekly.toml"
        config.write_text(toml.replace("../shared/data/chicago", shared), encoding="utf-8")
        assert read_config(config).source.base_url == f"http://127.0.0.1:{port}"
        run_line = next(
            line
            for line in commands
            if "geo-violence weekly --config" in line and "--print-config" not in line
        )
        arguments = run_line.split("geo-violence", 1)[1].split()
        started = time.perf_counter()
        result = subprocess.run(
            [sys.executable, "-m", "geo_violence", *arguments],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert result.returncode == 0, result.stderr
        assert time.perf_counter() - started < 120
        latest = tmp_path / "runs" / "latest"
        for layer in read_config(config).layers:
            assert {p.name for p in (latest / Path(layer.units).stem).iterdir()} == EVERY_OUTPUT
    finally:
        server.terminate()
        server.wait(10)
