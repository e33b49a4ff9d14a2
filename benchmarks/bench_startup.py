"""Start-up benchmark: one-file commands as a user runs them after `pip install elfship`, with anchors.

    python benchmarks/bench_startup.py                 # median of 20 runs each, FILE = /usr/bin/ls
    python benchmarks/bench_startup.py --runs 50 --file /usr/bin/curl

elfship is built into a wheel and installed into a fresh venv (no system site-packages, bytecode compiled
by pip as on any install), and run as `VENV/bin/elfship`. Every command runs --runs times, interleaved
with its anchors so that a busy machine slows both alike; the table gives the median wall time and the
median CPU time (user + system) of each, and the goal from issue 12. Anchors, in the same run:
`python -c pass` in the same venv (the floor for any Python CLI), libtree (tree), `readelf -d -V`
(inspect), and the system loader's own `--list` (check --root /, which it answers by running it).

Prints numbers; asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
LOADER = "/lib64/ld-linux-x86-64.so.2"


def build_venv(work: Path) -> Path:
    """A venv holding elfship from this tree, installed from its wheel (not editable, no dependencies:
    the commands measured here import none of them)."""
    source = work / "source"
    shutil.copytree(REPO / "src", source / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(REPO / name, source / name)
    quiet = {"check": True, "capture_output": True}
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", work, source], **quiet)
    (wheel,) = work.glob("elfship-*.whl")
    venv = work / "venv"
    subprocess.run([sys.executable, "-m", "venv", venv], **quiet)
    pip = [venv / "bin" / "python", "-m", "pip", "install", "-q", "--no-deps", "--no-index", wheel]
    subprocess.run(pip, **quiet, env=_environment())
    return venv


def _environment() -> dict[str, str]:
    """This shell's environment minus what would change what is measured: PYTHONPATH (a source tree) and
    PYTHONDONTWRITEBYTECODE (an install has its bytecode; without it every run would compile)."""
    drop = ("PYTHONPATH", "PYTHONDONTWRITEBYTECODE", "PYTHONSTARTUP")
    return {k: v for k, v in os.environ.items() if k not in drop}


def run_once(argv: list[str], env: dict[str, str]) -> tuple[float, float]:
    """(wall seconds, CPU seconds of the child) for one run, output discarded."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, check=False)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def measure(commands: list[list[str]], runs: int, env: dict[str, str]) -> list[tuple[float, float]]:
    """Median (wall, CPU) of each command, the commands interleaved run by run."""
    samples: list[list[tuple[float, float]]] = [[] for _ in commands]
    for argv in commands:
        run_once(argv, env)  # warm the page cache
    for _ in range(runs):
        for index, argv in enumerate(commands):
            samples[index].append(run_once(argv, env))
    return [
        (statistics.median(w for w, _ in runs_of), statistics.median(c for _, c in runs_of))
        for runs_of in samples
    ]


def rows(venv: Path, file: str) -> list[tuple[str, list[str], float | None, list[tuple[str, list[str]]]]]:
    """(label, elfship argv, goal in ms, anchors) for each command measured."""
    elfship = str(venv / "bin" / "elfship")
    python = str(venv / "bin" / "python")
    floor = ("python -c pass (same venv)", [python, "-c", "pass"])
    anchors_tree = [("libtree", ["libtree", file])] if shutil.which("libtree") else []
    anchors_inspect = (
        [("readelf -d -V", ["readelf", "-d", "-V", "-W", file])] if shutil.which("readelf") else []
    )
    anchors_root = (
        [(f"{Path(LOADER).name} --list", [LOADER, "--list", file])] if os.path.exists(LOADER) else []
    )
    return [
        ("--version", [elfship, "--version"], 25.0, [floor]),
        ("inspect FILE", [elfship, "inspect", file], 40.0, anchors_inspect),
        ("tree FILE", [elfship, "tree", file], 40.0, anchors_tree),
        ("check FILE --target debian:12", [elfship, "check", file, "--target", "debian:12"], 40.0, []),
        ("check FILE --root /", [elfship, "check", file, "--root", "/"], 80.0, anchors_root),
    ]


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=20, help="runs per command (median taken)")
    parser.add_argument("--file", default="/usr/bin/ls", help="the one file every command reads")
    args = parser.parse_args()
    env = _environment()
    with tempfile.TemporaryDirectory(prefix="elfship-bench-") as scratch:
        venv = build_venv(Path(scratch))
        table = rows(venv, args.file)
        commands = [argv for _, argv, _, anchors in table for argv in [argv, *(a for _, a in anchors)]]
        medians = iter(measure(commands, args.runs, env))
    print(f"start-up, median of {args.runs} runs, FILE={args.file}, load average {os.getloadavg()[0]:.2f}")
    print(f"{'command':34} {'wall ms':>8} {'cpu ms':>8} {'goal ms':>8}  verdict")
    for label, _, goal, anchors in table:
        wall, cpu = next(medians)
        verdict = "" if goal is None else ("met" if wall * 1000 <= goal else "MISSED")
        print(f"elfship {label:26} {wall * 1000:8.1f} {cpu * 1000:8.1f} {goal or 0:8.0f}  {verdict}")
        for name, _ in anchors:
            wall, cpu = next(medians)
            print(f"  anchor: {name:24} {wall * 1000:8.1f} {cpu * 1000:8.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
