"""Benchmark `elfship sbom`: wall time to inventory large static binaries (the issue's target: <= 0.5 s for a
10 MB static binary).

    python benchmarks/bench_sbom.py [FILE...] [--rounds 5]

Without FILE, builds here with gcc a static program with all of Debian's libssl.a, libcrypto.a, libz.a and
libsqlite3.a linked in whole (about 8 MB; needs libssl-dev zlib1g-dev libsqlite3-dev), and adds the
founding-story app from the test cache when it was built (tests/test_build_pgapp.py).
Reports the library call (inventory(), what a fleet scan pays per file) and the whole CLI process
(`python3 -m elfship sbom --json`, start-up included). syft and cve-bin-tool are compared when installed.
Prints numbers only; no thresholds.
"""

from __future__ import annotations

import argparse
import glob
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from elfship.sbom import inventory

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT / "tests" / "fixtures" / "src" / "sbom_static_ssl.c"
PGAPP = Path.home() / ".cache" / "elfship-tests" / "cargo-target" / "pgapp" / "elfship"


def build_big(directory: str) -> Path:
    out = Path(directory) / "static-ssl-z-sqlite"
    archives = ["-lssl", "-lcrypto", "-lz", "-lsqlite3"]
    flags = [
        "-static",
        "-Wl,--whole-archive",
        *archives,
        "-Wl,--no-whole-archive",
        "-lpthread",
        "-ldl",
        "-lm",
    ]
    subprocess.run(["gcc", "-O2", "-o", str(out), str(SOURCE), *flags], check=True, capture_output=True)
    return out


def best(seconds: list[float]) -> str:
    return f"best {min(seconds) * 1000:7.1f} ms  median {statistics.median(seconds) * 1000:7.1f} ms"


def timed(argv: list[str], rounds: int) -> list[float]:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    times = []
    for _ in range(rounds):
        began = time.perf_counter()
        subprocess.run(argv, capture_output=True, check=False, env=env)
        times.append(time.perf_counter() - began)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("files", nargs="*")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        files = [Path(f) for f in args.files] or [build_big(tmp)]
        if not args.files:
            files += [Path(p) for p in sorted(glob.glob(str(PGAPP / "*" / "*" / "release" / "pgapp")))]
        for path in files:
            size = path.stat().st_size / 1e6
            calls = []
            for _ in range(args.rounds):
                began = time.perf_counter()
                inv = inventory(path, libraries=False)
                calls.append(time.perf_counter() - began)
            print(f"{path.name}: {size:.1f} MB, {len(inv.components)} components: {summary(inv)}")
            print(f"  inventory()            {best(calls)}  ({min(calls) / size * 1000:.1f} ms/MB)")
            cli = [sys.executable, "-m", "elfship", "sbom", "--json", "--no-libraries", str(path)]
            print(f"  elfship sbom --json    {best(timed(cli, args.rounds))}  (whole process)")
            for tool, argv in (
                ("syft", ["syft", "-q", f"file:{path}", "-o", "json"]),
                ("cve-bin-tool", ["cve-bin-tool", "--offline", str(path)]),
            ):
                if shutil.which(tool):
                    print(f"  {tool:<22} {best(timed(argv, args.rounds))}")
                else:
                    print(f"  {tool:<22} not installed (not on PyPI/Debian here): not compared")


def summary(inv: object) -> str:
    from elfship.report.sbom_text import summary_line

    return summary_line(inv)  # type: ignore[arg-type]


if __name__ == "__main__":
    main()
