"""Every fenced ``geo-violence`` command of the README, run as written on the shared data.

The commands run in temporary project folders beside a ``shared`` link to the shared data, so
their relative paths resolve as in the README and their outputs land in the temporary folder;
``PATH`` starts with this interpreter's folder, as after the README's
``source .venv/bin/activate``. Templates (a cluster's address) are fenced as ``text``, not
``bash``. The weekly section has its own test (``test_weekly``).
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
#: Sections whose commands other tests follow (the weekly run needs its local portal).
OWN_TESTS = ("## Scheduled weekly runs",)


def readme_commands() -> list[tuple[str, str]]:
    """``(section, command)`` for each fenced bash line that calls ``geo-violence``, with its
    continuation lines joined and its comments dropped, in the README's order."""
    text = README.read_text(encoding="utf-8")
    commands = []
    for section in re.split(r"\n(?=## )", text):
        heading = section.splitlines()[0]
        if heading.startswith(OWN_TESTS):
            continue
        for block in re.findall(r"```bash\n(.*?)```", section, flags=re.S):
            for line in block.replace("\\\n", " ").splitlines():
                line = line.split(" #", 1)[0].strip()
                if line.startswith("geo-violence "):
                    commands.append((heading, " ".join(line.split())))
    return commands


COMMANDS = readme_commands()


def test_the_readme_has_commands_and_says_how_to_reach_them():
    assert len(COMMANDS) >= 15
    text = README.read_text(encoding="utf-8")
    assert "source .venv/bin/activate" in text.split("## Running on the city's files", 1)[0]


@pytest.fixture(scope="module")
def workplace(shared_data, tmp_path_factory) -> Path:
    """A folder holding ``shared/`` (a link to the shared data's grandparent): a project folder
    made inside it finds ``../shared/data/chicago`` as the README's commands expect."""
    root = tmp_path_factory.mktemp("readme")
    (root / "shared").symlink_to(shared_data.parents[1], target_is_directory=True)
    return root


def run_as_written(command: str, cwd: Path) -> subprocess.CompletedProcess:
    """Run one README command in a shell whose PATH starts with the venv's ``bin``."""
    env = dict(os.environ)
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    env.pop("GEO_VIOLENCE_PROGRESS", None)
    return subprocess.run(
        ["bash", "-c", command], cwd=cwd, env=env, capture_output=True, text=True, timeout=600
    )


def groups(commands: list[tuple[str, str]]) -> list[list[str]]:
    """The commands, one test each, except that a command reading a folder an earlier command
    wrote (``report maps/emerging-beats``) runs after it, in the same test."""
    writers: dict[str, list[str]] = {}
    result: list[list[str]] = []
    for _, command in commands:
        words = shlex.split(command)
        reads = [word for word in words[2:3] if word in writers]
        group = [*writers[reads[0]], command] if reads else [command]
        if reads:
            result.remove(writers[reads[0]])
        result.append(group)
        if "--out" in words:
            writers[words[words.index("--out") + 1]] = group
    return result


@pytest.mark.parametrize("group", groups(COMMANDS), ids=lambda group: group[-1][:60])
def test_every_readme_command_runs_as_written(group, workplace):
    """Each in a project folder of its own beside ``shared/``, so they can run side by side."""
    here = workplace / f"project-{len(list(workplace.iterdir()))}"
    here.mkdir()
    for command in group:
        done = run_as_written(command, here)
        assert done.returncode == 0, f"{command}\n{done.stderr[-2000:]}"
        words = shlex.split(command)
        if "--out" in words:
            assert (here / words[words.index("--out") + 1]).is_dir(), command
