"""Benchmark: `elfship scan` over system directories against running `libtree` once per ELF file.

Prints wall-clock seconds for both, measured in the same run on the same list of files, best of N runs
(the machine may be shared), and the ratio elfship / libtree (the goal: at most 0.4). Usage:

    python benchmarks/bench_scan.py [--repeat 3] [DIR ...]

Default directories: /usr/bin /usr/sbin /usr/lib/x86_64-linux-gnu /usr/libexec.

elfship runs as installed: with compiled bytecode (pip compiles it at install), kept in a temporary
PYTHONPYCACHEPREFIX so the source tree is not touched, after one untimed run that compiles it. When this
environment forbids bytecode (PYTHONDONTWRITEBYTECODE, as some CI and sandboxes set), the command is also
timed that way, where every run compiles elfship's modules from source first.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

DEFAULT_DIRS = ["/usr/bin", "/usr/sbin", "/usr/lib/x86_64-linux-gnu", "/usr/libexec"]


def timed(argv: list[str], **kwargs: object) -> tuple[float, subprocess.CompletedProcess[bytes]]:
    start = time.perf_counter()
    result = subprocess.run(argv, capture_output=True, **kwargs)  # type: ignore[call-overload]
    return time.perf_counter() - start, result


def scan_runs(argv: list[str], repeat: int, env: dict[str, str]) -> tuple[list[float], dict[str, object]]:
    """Wall seconds of each run, and the JSON document of the last."""
    times, document = [], {}
    for _ in range(repeat):
        seconds, result = timed(argv, env=env)
        times.append(seconds)
        document = json.loads(result.stdout)
    return times, document


def best(times: list[float]) -> str:
    return f"{min(times):.2f} s (runs: {', '.join(f'{t:.2f}' for t in times)})"


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("dirs", nargs="*", default=[d for d in DEFAULT_DIRS if os.path.isdir(d)])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    elfship = [sys.executable, "-m", "elfship", "scan", "--json", "--ld-library-path", "", *args.dirs]
    with tempfile.TemporaryDirectory(prefix="elfship-bench-pyc-") as pycache:
        installed = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        installed["PYTHONPYCACHEPREFIX"] = pycache
        timed(elfship, env=installed)  # compiles the bytecode, as pip install does
        scan_times, document = scan_runs(elfship, args.repeat, installed)
    files = [f["path"] for f in document["files"]]  # type: ignore[index]
    print(f"directories: {' '.join(args.dirs)}")
    print(f"ELF files: {len(files)} ({document['files_seen']} files looked at), cores: {os.cpu_count()}")
    print(f"elfship scan (whole command, incl. Python start-up): {best(scan_times)}")
    source_times: list[float] = []
    if os.environ.get("PYTHONDONTWRITEBYTECODE"):
        source_times, _ = scan_runs(elfship, args.repeat, dict(os.environ))
        print(f"  the same without bytecode (PYTHONDONTWRITEBYTECODE):  {best(source_times)}")

    libtree = shutil.which("libtree")
    if libtree is None:
        print("libtree: not installed (apt-get install libtree), no comparison")
        return 0
    with tempfile.NamedTemporaryFile("wb", suffix=".list") as listing:
        listing.write(b"".join(os.fsencode(f) + b"\0" for f in files))
        listing.flush()
        tree_times = []
        for _ in range(args.repeat):
            with open(listing.name, "rb") as stdin:
                seconds, _result = timed(["xargs", "-0", "-n", "1", libtree], stdin=stdin)
            tree_times.append(seconds)
    print(f"libtree once per file (xargs -n 1):                  {best(tree_times)}")
    print(f"ratio libtree / elfship (best runs): {min(tree_times) / min(scan_times):.2f}x")
    print(f"elfship / libtree (goal <= 0.40): {min(scan_times) / min(tree_times):.2f}", end="")
    if source_times:
        print(f"  (without bytecode: {min(source_times) / min(tree_times):.2f})", end="")
    print()
    print(f"load average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
