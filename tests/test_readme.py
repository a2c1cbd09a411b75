"""Every shell command in the bash blocks of the README and its pages (docs/) runs as printed
(so they cannot rot), except blocks marked ``<!-- not run by tests/test_readme.py: REASON -->``
— installs, downloads, hours of scoring, a luigid scheduler — each with its reason. The
commands run in a scratch folder laid out like the repository (luigi.cfg, ../shared beside
it), with an empty TORCH_HOME and no network (a dead local CIFAR mirror). Every ``python``
block runs too, as a script in a folder holding only the database ``tfnas db init`` writes; a
``# 92.77 ± 1.04`` comment in it is output the script must print."""

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


#: The documentation whose commands and examples run: the README and the pages it links.
DOCUMENTS = ("README.md", "docs/API.md", "docs/RESULTS.md")


def documentation() -> str:
    return "\n".join((REPO / name).read_text() for name in DOCUMENTS)


def test_the_readme_links_to_pages_that_exist():
    for name in DOCUMENTS:
        for target in re.findall(r"\]\(((?!https?:|#)[^)#]+)", (REPO / name).read_text()):
            assert ((REPO / name).parent / target).exists(), (name, target)
    readme = (REPO / "README.md").read_text()
    assert "](docs/API.md)" in readme and "](docs/RESULTS.md)" in readme


def blocks() -> list[tuple[str | None, list[str]]]:
    """(reason not run or None, commands) for each bash block, continuation lines joined."""
    out = []
    for match in BLOCK.finditer(documentation()):
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


PYTHON = re.compile(r"^```python\n(?P<body>.*?)^```", re.S | re.M)


def test_the_readme_python_examples_run_as_printed(tmp_path):
    from db.bundle import init_database

    found = [m["body"] for m in PYTHON.finditer(documentation())]
    assert len(found) >= 3
    init_database(tmp_path / "out" / "tfnas.duckdb")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    for body in found:
        done = subprocess.run([sys.executable, "-c", body], cwd=tmp_path, env=env, text=True,
                              capture_output=True, timeout=300)
        assert done.returncode == 0, f"{body}\n{done.stderr[-3000:]}"
        for expected in re.findall(r"# (-?\d+\.\d+ ± \d+\.\d+)", body):
            assert expected in done.stdout, (expected, done.stdout)
