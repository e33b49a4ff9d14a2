"""Benchmark `elfship sbom`: wall time to inventory large static binaries (the issue's target: <= 0.5 s for a
10 MB static binary).

    python benchmarks/bench_sbom.py [FILE...] [--rounds 5]

Without FILE, builds here with gcc a static program with all of Debian's libssl.a, libcrypto.a, libz.a and
libsqlite3.a linked in whole (about 8 MB; needs libssl-dev zlib1g-dev libsqlite3-dev), and adds the
founding-story app from the test cache when it was built (tests/test_build_pgapp.py).
Reports the library call (inventory(), what a fleet scan pays per file) and the whole CLI process
(`python3 -m elfship sbom --json`, start-up included), and what each tool found.

Comparison: syft is not packaged by PyPI or Debian (not compared). cve-bin-tool is on PyPI but its CLI
refuses to run without its NVD database (which needs network); `--cve-bin-tool-python VENV/bin/python`
runs its version scanner (the content checkers, what decides which products a file contains) on the same
files: `python3 -m venv /tmp/cbt && /tmp/cbt/bin/pip install cve-bin-tool`.
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
# cve-bin-tool's content checkers without its CVE database (the sqlite checker downloads a version map at
# import time, so checkers that cannot load offline are left out and named on stderr).
CVE_BIN_TOOL_SCAN = """
import sys, time
from cve_bin_tool.checkers import BUILTIN_CHECKERS
from cve_bin_tool.version_scanner import VersionScanner
checkers = {}
for name, entry in BUILTIN_CHECKERS.items():
    try:
        checkers[name] = entry.load()
    except Exception as exc:
        print(f"checker {name} not loadable offline: {type(exc).__name__}", file=sys.stderr)
scanner = VersionScanner(checkers=checkers)
began = time.perf_counter()
found = sorted({(s.product_info.product, s.product_info.version) for s in scanner.scan_file(sys.argv[1]) if s})
print(f"{time.perf_counter() - began:.3f} {found}")
"""
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
    parser.add_argument(
        "--cve-bin-tool-python", metavar="PYTHON", help="a Python with cve-bin-tool installed"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        files = [Path(f) for f in args.files] or [build_big(tmp)]
        if not args.files:
            files += [Path(p) for p in sorted(glob.glob(str(PGAPP / "glibc-static" / "*" / "*" / "pgapp")))]
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
            if shutil.which("syft"):
                print(
                    f"  syft                   {best(timed(['syft', '-q', f'file:{path}', '-o', 'json'], args.rounds))}"
                )
            else:
                print("  syft                   not installed (not packaged by PyPI or Debian): not compared")
            if args.cve_bin_tool_python:
                scan = [args.cve_bin_tool_python, "-c", CVE_BIN_TOOL_SCAN, str(path)]
                began = time.perf_counter()
                out = subprocess.run(scan, capture_output=True, text=True, check=False).stdout.strip()
                whole = time.perf_counter() - began
                last = out.splitlines()[-1] if out else ""  # it logs on stdout too: the result is last
                found = last.partition(" ")[2]
                print(f"  cve-bin-tool scanner   whole process {whole * 1000:7.1f} ms  found {found}")


def summary(inv: object) -> str:
    from elfship.report.sbom_text import summary_line

    return summary_line(inv)  # type: ignore[arg-type]


if __name__ == "__main__":
    main()
