"""Progress on stderr: drawn on a terminal, never with -q, in a pipe or a file (cron)."""

from __future__ import annotations

import io
import logging
import os
import pty
import select
import subprocess
import sys
from pathlib import Path

import pytest

from geo_violence import progress


class Terminal(io.StringIO):
    """A stream that says it is a terminal."""

    def isatty(self) -> bool:
        return True


@pytest.fixture
def immediate(monkeypatch):
    """Draw at once (no quiet start, no redraw interval), with the log at INFO."""
    monkeypatch.setattr(progress, "QUIET_SECONDS", 0.0)
    monkeypatch.setattr(progress, "REDRAW_SECONDS", 0.0)
    monkeypatch.delenv("GEO_VIOLENCE_PROGRESS", raising=False)
    logger = logging.getLogger("geo_violence")
    level = logger.level
    logger.setLevel(logging.INFO)
    yield
    logger.setLevel(level)


def test_a_terminal_gets_one_line_redrawn_in_place_and_ended(immediate):
    stream = Terminal()
    assert list(progress.tracked(range(4), "permutations", unit="steps", stream=stream)) == [
        0,
        1,
        2,
        3,
    ]
    text = stream.getvalue()
    assert text.count("\r") == 5 and text.endswith("\n") and text.count("\n") == 1
    assert "\rpermutations: 4/4 steps (100%, 0 s)\n" in text
    assert "permutations: 2/4 steps (50%" in text


def test_nothing_is_drawn_off_a_terminal_when_quiet_or_turned_off(immediate, monkeypatch):
    piped = io.StringIO()
    list(progress.tracked(range(3), "x", stream=piped))
    assert piped.getvalue() == ""
    logging.getLogger("geo_violence").setLevel(logging.WARNING)  # -q
    quiet = Terminal()
    list(progress.tracked(range(3), "x", stream=quiet))
    assert quiet.getvalue() == ""
    logging.getLogger("geo_violence").setLevel(logging.INFO)
    monkeypatch.setenv("GEO_VIOLENCE_PROGRESS", "0")
    off = Terminal()
    list(progress.tracked(range(3), "x", stream=off))
    assert off.getvalue() == ""


def test_an_error_inside_the_loop_still_ends_the_line(immediate):
    stream = Terminal()
    with pytest.raises(RuntimeError), progress.Progress("portal", unit="pages", stream=stream) as p:
        p.advance()
        raise RuntimeError("the portal fell over")
    assert stream.getvalue().endswith("portal: 1 pages (0 s)\n")


#: The command line in a new process, drawing at once: how long the loop takes on this machine
#: (under the quiet start or not) must not decide what the test sees.
IMMEDIATE_MAIN = (
    "import sys; from geo_violence import progress; "
    "progress.QUIET_SECONDS = progress.REDRAW_SECONDS = 0.0; "
    "from geo_violence.cli import main; sys.argv[0] = 'geo-violence'; main()"
)


def _run_backtest(homicides: Path, folder: Path, *flags: str) -> str:
    """Run a backtest (5 origins) with stderr on a pseudo-terminal, and return what reached it."""
    command = [
        sys.executable,
        "-c",
        IMMEDIATE_MAIN,
        *flags,
        "backtest",
        str(homicides),
        "--start",
        "2016-01-04",
        "--end",
        "2023-12-31",
        "--origins",
        "2022-01-03..2022-01-31",
        "--out",
        str(folder / f"out{len(flags)}"),
    ]
    env = {k: v for k, v in os.environ.items() if k != "GEO_VIOLENCE_PROGRESS"}
    main, secondary = pty.openpty()
    process = subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=secondary, env=env, close_fds=True
    )
    os.close(secondary)
    chunks = []
    while True:
        ready, _, _ = select.select([main], [], [], 1.0)
        if ready:
            try:
                chunk = os.read(main, 4096)
            except OSError:  # the terminal closed: the process is done
                break
            if not chunk:
                break
            chunks.append(chunk)
        elif process.poll() is not None:
            break
    assert process.wait(timeout=300) == 0
    os.close(main)
    return b"".join(chunks).decode()


@pytest.mark.skipif(not hasattr(pty, "openpty"), reason="needs a pseudo-terminal")
def test_the_backtest_shows_its_origins_on_a_terminal_only(tmp_path, shared_data):
    homicides = shared_data / "homicides_2001_2024.csv"
    shown = _run_backtest(homicides, tmp_path)
    assert "\rbacktest: " in shown and "/5 origins (" in shown
    assert "\rbacktest: " not in _run_backtest(homicides, tmp_path, "-q")
    # a pipe, as in cron, draws nothing: test_nothing_is_drawn_off_a_terminal_... above


def _stderr(*args: str):
    """Run the command line in this process; the result's ``stderr`` is what it logged."""
    from click.testing import CliRunner

    from geo_violence.cli import main

    result = CliRunner().invoke(main, list(args))
    result.returncode = result.exit_code
    return result


def test_verbose_says_each_stage_and_its_time_and_very_verbose_says_more(tmp_path):
    from geo_violence.jobs.demo_data import write_demo_incidents

    demo = str(write_demo_incidents(tmp_path))
    plain = _stderr("emerging", demo, "--out", str(tmp_path / "plain"))
    verbose = _stderr("-v", "emerging", demo, "--out", str(tmp_path / "v"))
    very = _stderr("-vv", "emerging", demo, "--out", str(tmp_path / "vv"))
    quiet = _stderr("-q", "emerging", demo, "--out", str(tmp_path / "q"))
    assert {plain.returncode, verbose.returncode, very.returncode, quiet.returncode} == {0}
    stage = "emerging: drew emerging.html: "
    assert stage not in plain.stderr and "categories:" in plain.stderr
    assert stage in verbose.stderr and "emerging: queen neighbours: " in verbose.stderr
    assert " geo_violence DEBUG: " + stage in very.stderr  # times and logger names
    assert "categories:" not in quiet.stderr  # only warnings with -q
    assert len(quiet.stderr) < len(plain.stderr) < len(verbose.stderr) < len(very.stderr)
    # an error stays one line, and -vv adds where it arose
    missing = str(tmp_path / "missing.csv")
    assert _stderr("emerging", missing).stderr.count("\n") == 1
    traced = _stderr("-vv", "emerging", missing)
    assert traced.returncode == 1 and "Traceback" in traced.stderr
    assert traced.stderr.rstrip().splitlines()[-1].startswith("error: ")
    _stderr("emerging", missing)  # a later run takes -vv's handler off the root logger again
    assert not [h for h in logging.getLogger().handlers if h.get_name() == "geo-violence"]
