"""Benchmark elfship build: its overhead over the equivalent cargo command on a warm cache, and binary sizes.

    python benchmarks/bench_build.py                    # overhead + size table for hello
    python benchmarks/bench_build.py --apps hello pgapp # pgapp compiles OpenSSL and libpq: ~10 min per build cold
    python benchmarks/bench_build.py --runs 10 --skip-sizes
    python benchmarks/bench_build.py --noop --runs 15     # no-op: elfship vs cargo-zigbuild vs cargo

Overhead: the same build twice warm, once through `elfship build --json` and once as the exact cargo command
and environment it reports (cargo.argv / cargo.env), median of --runs each. Target: under 5 % or 0.3 s.
Sizes: release builds per strategy, as built, stripped (--strip), --slim, and --slim --strip; plus plain
`cargo build --release` for reference.
No-op (--noop): an up-to-date project rebuilt, median of --runs each, interleaved: `elfship build --strategy
glibc-pinned --release --for debian:11` (verification included), `cargo zigbuild --release --target
x86_64-unknown-linux-gnu.2.31` (the same glibc pin; installed from PyPI when missing, run as its binary, not
through a pyenv shim) in its own target dir, as installed and with zig named directly, and the exact cargo
command elfship runs. Goal: elfship <= zigbuild.
Prints numbers; asserts only that every timed elfship run checked its binary.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures" / "cargo"
CACHE = Path(os.environ.get("ELFSHIP_TEST_CACHE", Path.home() / ".cache" / "elfship-tests")) / "cargo-target"
STRATEGIES = ("glibc-static", "glibc-pinned", "musl")
FOR = ("--for", "debian:11")
ZIGBUILD_TARGET = "x86_64-unknown-linux-gnu.2.31"  # debian:11's glibc, as glibc-pinned --for debian:11


def elfship_env(app: str) -> dict[str, str]:
    """As installed: bytecode cached (this machine's environment sets PYTHONDONTWRITEBYTECODE, which would
    make every run recompile elfship's sources and measure that instead)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    pycache = str(CACHE.parent / "pycache")
    return {
        **env,
        "PYTHONPATH": str(ROOT / "src"),
        "PYTHONPYCACHEPREFIX": pycache,
        "CARGO_TARGET_DIR": str(CACHE / app),
    }


def elfship_build(app: str, *args: str) -> tuple[float, dict[str, Any] | None]:
    env = elfship_env(app)
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "elfship", "build", "--json", *args],
        cwd=FIXTURES / app,
        env=env,
        capture_output=True,
        text=True,
    )
    seconds = time.perf_counter() - started
    if done.returncode == 2:  # e.g. musl std not installed: no row, not a crash
        print(f"  ({app} {' '.join(args)}: {done.stderr.strip().splitlines()[-1]})")
        return seconds, None
    return seconds, json.loads(done.stdout)


def plain_cargo(app: str, document: dict[str, Any]) -> float:
    """The exact command and environment elfship ran, including the cargo-auditable wrapper it adds when
    installed (a different RUSTC_WORKSPACE_WRAPPER would make cargo rebuild, every run, for both)."""
    sys.path.insert(0, str(ROOT / "src"))
    from elfship.sbom.record import auditable_env

    env = {**os.environ, "CARGO_TARGET_DIR": str(CACHE / app), **document["cargo"]["env"]}
    env.update(auditable_env(document["cargo"]["argv"], env))
    started = time.perf_counter()
    subprocess.run(document["cargo"]["argv"], cwd=FIXTURES / app, env=env, capture_output=True, check=True)
    return time.perf_counter() - started


def overhead(app: str, strategy: str, runs: int) -> None:
    args = ("--strategy", strategy, "--release", *FOR)
    _, document = elfship_build(app, *args)  # warm up (and build once)
    if document is None:
        return
    through_elfship, through_cargo = [], []
    for _ in range(runs):  # interleaved, so load from other processes hits both alike
        through_elfship.append(elfship_build(app, *args)[0])
        through_cargo.append(plain_cargo(app, document))
    ours, theirs = statistics.median(through_elfship), statistics.median(through_cargo)
    extra = ours - theirs
    print(
        f"  {app:8} {strategy:13} cargo {theirs:6.3f} s   elfship build {ours:6.3f} s   "
        f"overhead {extra:+.3f} s ({100 * extra / theirs:+.1f} %)"
    )


def zigbuild_path() -> str:
    """PATH with cargo-zigbuild's own binary first (pip installs it next to this interpreter's scripts)."""
    import sysconfig

    scripts = sysconfig.get_path("scripts")
    if not (Path(scripts) / "cargo-zigbuild").exists():
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "cargo-zigbuild"], check=True)
    return f"{scripts}{os.pathsep}{os.environ.get('PATH', '')}"


def zigbuild(app: str, path: str, zig: str | None = None) -> float:
    """cargo zigbuild as installed (it runs `python -m ziglang` for each zig call), or with zig named directly
    (CARGO_ZIGBUILD_ZIG_COMMAND: no Python start per call, its fastest set-up)."""
    env = {**os.environ, "PATH": path, "CARGO_TARGET_DIR": str(CACHE / app / "zigbuild")}
    if zig is not None:
        env["CARGO_ZIGBUILD_ZIG_COMMAND"] = zig
    argv = ["cargo", "zigbuild", "--release", "--target", ZIGBUILD_TARGET]
    started = time.perf_counter()
    subprocess.run(argv, cwd=FIXTURES / app, env=env, capture_output=True, check=True)
    return time.perf_counter() - started


def noop(app: str, runs: int, path: str) -> None:
    args = ("--strategy", "glibc-pinned", "--release", *FOR)
    _, document = elfship_build(app, *args)  # warm up: built once, so every timed run is a no-op
    if document is None:
        return
    sys.path.insert(0, str(ROOT / "src"))
    from elfship.builder.toolchain import find_zig

    zig = find_zig()
    zigbuild(app, path)
    times: dict[str, list[float]] = {"elfship": [], "zigbuild": [], "zig direct": [], "cargo": []}
    for _ in range(runs):  # interleaved, so load from other processes hits all alike
        seconds, again = elfship_build(app, *args)
        assert again is not None and again["ok"] and again["artifacts"][0]["checks"], "verification ran"
        times["elfship"].append(seconds)
        times["zigbuild"].append(zigbuild(app, path))
        if zig is not None:
            times["zig direct"].append(zigbuild(app, path, zig))
        times["cargo"].append(plain_cargo(app, document))
    median = {k: statistics.median(v) if v else float("nan") for k, v in times.items()}
    print(
        f"  {app:8} elfship build {median['elfship']:6.3f} s   cargo zigbuild {median['zigbuild']:6.3f} s "
        f"(zig direct {median['zig direct']:6.3f} s)   cargo {median['cargo']:6.3f} s   elfship/zigbuild "
        f"{median['elfship'] / median['zigbuild']:4.2f}x ({median['elfship'] / median['zig direct']:4.2f}x)"
    )


def mib(size: int | None) -> str:
    return "-" if size is None else f"{size / 1048576:7.2f} MiB"


def sizes(app: str) -> None:
    env = {**os.environ, "CARGO_TARGET_DIR": str(CACHE / app / "plain")}
    subprocess.run(["cargo", "build", "--release", "-q"], cwd=FIXTURES / app, env=env, check=True)
    plain = (CACHE / app / "plain" / "release" / app).stat().st_size
    print(f"  {app:8} {'cargo (host)':13} {mib(plain)}  (dynamic, this machine's glibc)")
    for strategy in STRATEGIES:
        _, default = elfship_build(app, "--strategy", strategy, "--release", "--strip", *FOR)
        if default is None:
            continue
        _, slim = elfship_build(app, "--strategy", strategy, "--release", "--slim", "--strip", *FOR)
        assert slim is not None
        a, b = default["artifacts"][0], slim["artifacts"][0]
        print(
            f"  {app:8} {strategy:13} {mib(a['size'])}  {mib(a['size_after_strip'])}  "
            f"{mib(b['size'])}  {mib(b['size_after_strip'])}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--apps", nargs="+", default=["hello"], choices=["hello", "lookup", "withc", "pgapp"])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--skip-sizes", action="store_true")
    parser.add_argument("--noop", action="store_true", help="only the no-op comparison with cargo-zigbuild")
    args = parser.parse_args()
    if args.noop:
        print(f"no-op build, up to date (median of {args.runs}, interleaved):")
        path = zigbuild_path()
        for app in args.apps:
            noop(app, args.runs, path)
        return
    print("overhead of elfship build over the same cargo command (warm cache, median):")
    for app in args.apps:
        for strategy in ("glibc-static", "glibc-pinned"):
            overhead(app, strategy, args.runs)
    if not args.skip_sizes:
        print("\nsizes (release): built, --strip, --slim, --slim --strip")
        for app in args.apps:
            sizes(app)


if __name__ == "__main__":
    main()
