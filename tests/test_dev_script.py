"""The README's two commands, the ``./dev`` script and ``.ci/run`` say the same thing.

README "Run it" is ``./dev lab`` and "Test it" is ``./dev test``; ``.ci/run`` runs
``./dev test`` (so CI runs what the README says); the extras ``./dev`` installs are
pyproject's and the README names them; its minimum Python is pyproject's. The script
itself runs here with ``--dry-run`` on a PATH without apt-get, which is what a machine
without a package manager (or without root and sudo) sees: browser tests skipped with the
reason, or a failure when ``GEMMA_MAGICS_BROWSER_TESTS=required``.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

try:
    import tomllib
except ImportError:  # Python 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]
DEV = ROOT / "dev"
#: What ./dev runs besides python3 (when a first set-up compiles, a C++ compiler too).
TOOLS = ("env", "id", "uname", "nproc", "grep", "mktemp", "rm", "mkdir", "dirname", "cksum",
         "sed")


def script_value(name: str) -> str:
    match = re.search(rf'^{name}="([^"]*)"', DEV.read_text(), flags=re.M)
    assert match, f"./dev defines no {name}"
    return match.group(1)


def readme_section(title: str, until: str) -> str:
    readme = (ROOT / "README.md").read_text()
    return readme[readme.index(title):readme.index(until)]


def first_bash_block(section: str) -> list[str]:
    block = re.search(r"```bash\n(.*?)```", section, flags=re.S)
    assert block, "no bash block"
    return block.group(1).strip().splitlines()


def test_readme_run_and_test_are_one_dev_command_each():
    run = readme_section("## Run it", "## Test it")
    test = readme_section("## Test it", "## A 60-second tour")
    assert first_bash_block(run) == ["./dev lab"]
    assert first_bash_block(test) == ["./dev test"]
    assert f'`[{script_value("LAB_EXTRAS")}]`' in run, "README names other extras than ./dev lab"
    assert f'`[{script_value("TEST_EXTRAS")}]`' in test, "README names other extras than ./dev test"
    assert "GEMMA_MAGICS_BROWSER_TESTS=required" in test


def test_ci_runs_the_readme_test_command_with_the_browser_required():
    commands = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()
                if line.strip() and not line.lstrip().startswith("#")]
    assert commands[-1] == "./dev test", commands
    assert "export GEMMA_MAGICS_BROWSER_TESTS=required" in commands
    assert os.access(DEV, os.X_OK), "./dev must be executable (git update-index --chmod=+x dev)"
    assert DEV.read_text().startswith("#!/usr/bin/env bash\n")


def _names(requirements: list[str]) -> set[str]:
    return {re.split(r"[\[<>=!~; ]", r, maxsplit=1)[0].lower().replace("_", "-")
            for r in requirements}


def test_dev_installs_pyprojects_extras():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    lab = set(script_value("LAB_EXTRAS").split(","))
    test = set(script_value("TEST_EXTRAS").split(","))
    assert lab <= set(extras) and test <= set(extras), "./dev names an extra pyproject lacks"
    assert lab | test == set(extras), f"no command installs {set(extras) - lab - test}"
    # the suite runs every notebook, so the test environment has what `lab` opens them with
    tested = set().union(*(_names(extras[name]) for name in test))
    assert _names(extras["lab"]) <= tested
    assert project["requires-python"] == ">=" + script_value("MIN_PYTHON")


def dry_run(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    """./dev --dry-run ARGS with only the tools it needs on PATH: no apt-get, no sudo."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    compiler = shutil.which("c++") or shutil.which("g++") or shutil.which("clang++")
    if compiler is None:
        pytest.skip("no C++ compiler here: ./dev would stop before the step under test")
    tools = {name: shutil.which(name) for name in TOOLS}
    assert all(tools.values()), f"missing {[n for n, p in tools.items() if not p]}"
    tools |= {"python3": sys.executable, "c++": compiler}
    for name, path in tools.items():
        link = bin_dir / name
        if not link.exists():
            link.symlink_to(path)
    clean = {k: v for k, v in os.environ.items()
             if k not in ("DISPLAY", "WAYLAND_DISPLAY", "SSH_CONNECTION", "CMAKE_ARGS")
             and not k.startswith("GEMMA_MAGICS_")}
    clean |= {"PATH": str(bin_dir), "DEV_VENV": str(tmp_path / "venv"),
              "XDG_CACHE_HOME": str(tmp_path / "cache"),
              "GEMMA_MAGICS_CHROMIUM": str(tmp_path / "no-chromium"), **env}
    return subprocess.run([shutil.which("bash"), str(DEV), "--dry-run", *args], env=clean,
                          capture_output=True, text=True, timeout=60, cwd=tmp_path)


def would_run(out: str) -> list[str]:
    return [line.split("would run: ", 1)[1] for line in out.splitlines() if "would run: " in line]


def test_dev_test_without_apt_says_the_browser_tests_skip_then_runs_pytest(tmp_path):
    done = dry_run(tmp_path, "test", "-q")
    assert done.returncode == 0, done.stderr
    assert "browser tests (tests/browser/) will be SKIPPED" in done.stderr
    assert "no apt-get on this system" in done.stderr
    steps = would_run(done.stdout)
    assert f'python -m pip install -q -e .[{script_value("TEST_EXTRAS")}]' in steps
    assert "ruff check gemma_magics tests benchmarks" in steps and "lint-imports" in steps
    assert steps[-1] == "python -m pytest -ra -q"
    assert not (tmp_path / "venv").exists(), "--dry-run created the venv"


def test_dev_test_fails_without_a_browser_when_it_is_required(tmp_path):
    done = dry_run(tmp_path, "test", GEMMA_MAGICS_BROWSER_TESTS="required")
    assert done.returncode != 0
    assert "GEMMA_MAGICS_BROWSER_TESTS=required" in done.stderr
    assert not any("pytest" in step for step in would_run(done.stdout))


def test_dev_lab_prints_the_address_on_a_machine_without_a_display(tmp_path):
    done = dry_run(tmp_path, "lab", "--port", "9000")
    assert done.returncode == 0, done.stderr
    steps = would_run(done.stdout)
    assert f'python -m pip install -q -e .[{script_value("LAB_EXTRAS")}]' in steps
    lab = steps[-1].split()
    assert lab[:3] == ["jupyter", "lab", "notebooks/quickstart.ipynb"]
    assert "--no-browser" in lab and lab[-2:] == ["--port", "9000"]
    assert "ssh -L 8888:localhost:8888" in done.stdout
