"""Every shell command in the README's bash blocks runs as printed (so the README cannot rot),
except blocks marked ``<!-- not run by tests/test_readme.py: REASON -->`` — installs, downloads,
hours of scoring, a luigid scheduler — each with its reason. The commands run in a scratch
folder laid out like the repository (queries/, luigi.cfg, ../shared beside it), with an empty
TORCH_HOME and no network (a dead local CIFAR mirror)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO

BLOCK = re.compile(r"(?:<!-- not run by tests/test_readme\.py: (?P<why>[^>]*?) -->\s*)?"
                   r"^[ \t]*```bash\n(?P<body>.*?)^[ \t]*```", re.S | re.M)


def blocks() -> list[tuple[str | None, list[str]]]:
    """(reason not run or None, commands) for each bash block, continuation lines joined."""
    out = []
    for match in BLOCK.finditer((REPO / "README.md").read_text()):
        text = re.sub(r"\\\n\s*", " ", match["body"])
        commands = [line.strip() for line in text.splitlines() if line.strip()]
        out.append((match["why"], commands))
    return out


def test_every_skipped_block_says_why_and_most_commands_run():
    found = blocks()
    assert len(found) >= 8
    assert all(why is None or len(why) > 20 for why, _ in found)
    runnable = [c for why, commands in found if why is None for c in commands]
    assert len(runnable) >= 15
    assert any(c.startswith("tfnas db init") for c in runnable)
    assert any(c.startswith("luigi --module pipeline ScoreAll") for c in runnable)
    marked = [c for why, commands in found if why is not None for c in commands]
    assert any("--scheduler-host" in c for c in marked)  # tests/test_luigid.py runs it


@pytest.mark.slow
def test_the_readme_commands_run_as_printed(tmp_path, shared_data):
    work = tmp_path / "repo"
    work.mkdir()
    (tmp_path / "shared").symlink_to(shared_data.parent)
    (work / "queries").symlink_to(REPO / "queries")
    (work / "luigi.cfg").write_text((REPO / "luigi.cfg").read_text())
    env = {**os.environ, "TORCH_HOME": str(tmp_path / "torch-home"), "OMP_NUM_THREADS": "1",
           "TFNAS_CIFAR_MIRROR": "http://127.0.0.1:9/", "PYTHONPATH": str(REPO),
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    ran = 0
    for why, commands in blocks():
        if why is not None:
            continue
        for command in commands:
            done = subprocess.run(["bash", "-c", command], cwd=work, env=env, text=True,
                                  capture_output=True, timeout=600)
            assert done.returncode == 0, f"{command}\n{done.stderr[-3000:]}"
            ran += 1
    assert ran >= 15
    assert (work / "out" / "tfnas.duckdb").is_file()
    assert (work / "out" / "figures" / "fig3_synflow.png").is_file()
