"""Benchmark `elfship bundle`: start-up overhead of a bundled program over running it directly, and sizes.

    python benchmarks/bench_bundle.py [--starts 200]

Two programs, built here with gcc: hello (tests/fixtures/src/hello.c) and one that needs libpq
(tests/fixtures/src/bundle/probe.c, needs libpq-dev). Each start is a posix_spawn + waitpid of the program,
its bundle's launcher (dir format) and its self-extracting file (already unpacked: the first start, which
unpacks, is reported on its own), with a warm page cache. Starts are interleaved round by round so machine
noise hits all alike. Prints numbers only, no thresholds; the goals (issue 12) are printed next to them:
at most 0.5 ms added per start, and a .run smaller than staticx's and exodus's.

For the libpq program it also builds, in the same run, the other tools' single-file bundles of the same binary
(staticx and exodus-bundler from PyPI: from PATH, e.g. `pip install -e ".[bench]"`, else installed into the
benchmark's own venv under ~/.cache/elfship-bench; `--no-install` skips a missing one, named) and elfship's
with `--with-gconv all`, and prints one size table.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from elfship.bundle import make_bundle
from elfship.bundle.launcher import compiled_launcher
from elfship.bundle.model import BundleResult
from elfship.report.units import human_size

SOURCES = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "src"


def build(source: Path, out: Path, *flags: str) -> Path:
    subprocess.run(["gcc", "-O2", "-o", str(out), str(source), *flags], check=True)
    return out


def start_once(argv: list[str], env: dict[str, str]) -> float:
    with open(os.devnull, "wb") as null:
        began = time.perf_counter()
        pid = os.posix_spawn(argv[0], argv, env, file_actions=[(os.POSIX_SPAWN_DUP2, null.fileno(), 1)])
        os.waitpid(pid, 0)
        return time.perf_counter() - began


def measure(variants: dict[str, list[str]], starts: int, env: dict[str, str]) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {name: [] for name in variants}
    for argv in variants.values():  # warm the page cache first
        for _ in range(5):
            start_once(argv, env)
    for _ in range(starts):
        for name, argv in variants.items():
            times[name].append(start_once(argv, env))
    return times


@dataclass(frozen=True)
class Bundles:
    dir: BundleResult
    tarball: BundleResult
    single: BundleResult


def report_program(label: str, program: Path, args: list[str], work: Path, starts: int) -> Bundles:
    made = Bundles(
        dir=make_bundle(str(program), str(work / f"{program.name}.bundle")),
        tarball=make_bundle(str(program), str(work / f"{program.name}.tar.gz")),
        single=make_bundle(str(program), str(work / f"{program.name}.run")),
    )
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "ELFSHIP_CACHE_DIR": str(work / "cache")}
    first = start_once([made.single.output, *args], env)
    variants = {
        "direct": [str(program), *args],
        "bundle (dir)": [f"{made.dir.output}/{program.name}", *args],
        "self-extracting": [made.single.output, *args],
    }
    times = measure(variants, starts, env)
    base_median = statistics.median(times["direct"])
    base_mean = statistics.fmean(times["direct"])
    print(f"\n{label}: {starts} starts each (median / mean per start, overhead over direct)")
    for name, values in times.items():
        median, mean = statistics.median(values), statistics.fmean(values)
        overhead = (
            ""
            if name == "direct"
            else f"   {(median - base_median) * 1e3:+.3f} ms / {(mean - base_mean) * 1e3:+.3f} ms"
        )
        print(f"  {name:<16} {median * 1e3:8.3f} ms / {mean * 1e3:8.3f} ms{overhead}")
    print(f"  self-extracting first start (unpacks): {first * 1e3:.1f} ms")
    dir_overhead = statistics.median(times["bundle (dir)"]) - base_median
    run_overhead = statistics.median(times["self-extracting"]) - base_median
    print(
        f"  start-up overhead (median): dir {dir_overhead * 1e3:+.3f} ms, .run {run_overhead * 1e3:+.3f} ms"
        "   (goal: at most +0.5 ms)"
    )
    print(
        f"  files: {human_size(made.dir.files_size)} ({made.dir.files_size} B, {len(made.dir.entries)} entries)"
    )
    return made


# The other tools, from PyPI (pyproject's `bench` extra). When they are not on PATH the benchmark installs them
# into its own venv, so one run always builds all three bundles.
RIVALS = {"staticx": "staticx>=0.14", "exodus": "exodus-bundler>=2"}
_PACKAGES = {"staticx": "staticx", "exodus": "exodus-bundler"}
BENCH_VENV = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "elfship-bench" / "venv"


def rival_tool(name: str, install: bool) -> tuple[str, str] | None:
    """(the command, its package's version), from PATH or from the benchmark's venv; None when unavailable."""
    found = shutil.which(name)
    if found is not None:
        return found, _version(sys.executable, _PACKAGES[name])
    command = BENCH_VENV / "bin" / name
    if not command.exists() and install:
        print(
            f"  {name}: not on PATH, installing {', '.join(RIVALS.values())} into {BENCH_VENV}",
            file=sys.stderr,
        )
        try:
            subprocess.run([sys.executable, "-m", "venv", str(BENCH_VENV)], check=True)
            subprocess.run([str(BENCH_VENV / "bin" / "pip"), "install", "-q", *RIVALS.values()], check=True)
        except (OSError, subprocess.CalledProcessError) as error:
            print(f"  {name}: cannot install ({error})", file=sys.stderr)
    if not command.exists():
        print(f"  {name}: skipped (pip install -e '.[bench]')", file=sys.stderr)
        return None
    return str(command), _version(str(BENCH_VENV / "bin" / "python"), _PACKAGES[name])


def _version(python: str, package: str) -> str:
    code = f"import importlib.metadata as m; print(m.version({package!r}))"
    done = subprocess.run([python, "-c", code], capture_output=True, text=True, check=False)
    return done.stdout.strip() or "?"


def rival(tool: tuple[str, str] | None, args: list[str], out: Path) -> int | None:
    if tool is None:
        return None
    began = time.perf_counter()
    subprocess.run([tool[0], *args], check=True, capture_output=True)
    print(f"  {Path(tool[0]).name} {tool[1]}: built in {time.perf_counter() - began:.1f} s")
    return out.stat().st_size


def size_table(program: Path, made: Bundles, work: Path, install: bool) -> None:
    """Every single-file bundle of the same program, built now."""
    print("\nlibpq program: single-file bundles, built in this run")
    sizes = work / "sizes"
    sizes.mkdir()
    everything = make_bundle(str(program), str(sizes / "probe-all.run"), gconv="all")
    launcher = len(compiled_launcher("x86_64") or b"")
    rows: dict[str, int | None] = {
        "elfship .run (default: --with-gconv minimal)": made.single.output_size,
        "  of which the launcher (uncompressed)": launcher,
        "  of which files in (sum, uncompressed)": made.single.files_size,
        "elfship .tar.gz": made.tarball.output_size,
        "elfship .run --with-gconv all": everything.output_size,
    }
    staticx, exodus = rival_tool("staticx", install), rival_tool("exodus", install)
    rows[f"staticx {staticx[1] if staticx else ''}"] = rival(
        staticx, [str(program), str(sizes / "probe.staticx")], sizes / "probe.staticx"
    )
    exodus_out = sizes / "probe-exodus.sh"
    rows[f"exodus {exodus[1] if exodus else ''} (installer script)"] = rival(
        exodus, ["-o", str(exodus_out), str(program)], exodus_out
    )
    for label, size in rows.items():
        shown = "skipped" if size is None else f"{human_size(size):>10}  ({size:,} B)"
        print(f"  {label:<46} {shown}")
    ours = made.single.output_size
    for label, size in rows.items():
        if size is not None and label.startswith(("staticx", "exodus")):
            verdict = "smaller" if ours < size else "NOT smaller"
            print(
                f"  elfship .run vs {label.split()[0]}: {(ours - size) / size:+.1%} ({verdict}; goal: smaller)"
            )


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--starts", type=int, default=200)
    parser.add_argument(
        "--no-install",
        action="store_true",
        help="skip staticx/exodus when not on PATH instead of installing them",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="elfship-bench-") as tmp:
        work = Path(tmp)
        hello = build(SOURCES / "hello.c", work / "hello")
        report_program("hello", hello, [], work, args.starts)
        if Path("/usr/include/postgresql/libpq-fe.h").exists():
            probe = build(SOURCES / "bundle" / "probe.c", work / "probe", "-I/usr/include/postgresql", "-lpq")
            made = report_program("libpq program", probe, ["exit", "0"], work, args.starts)
            size_table(probe, made, work, install=not args.no_install)
        else:
            print("\nlibpq program: skipped (apt-get install libpq-dev)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
