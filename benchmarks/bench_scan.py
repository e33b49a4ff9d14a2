"""Benchmark: `elfship scan` over system directories against running `libtree` once per ELF file.

Prints wall-clock seconds for both, measured in the same run on the same list of files, best of N runs
(the machine may be shared). Usage:

    python benchmarks/bench_scan.py [--repeat 3] [DIR ...]

Default directories: /usr/bin /usr/sbin /usr/lib/x86_64-linux-gnu /usr/libexec.
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
    scan_times = []
    document: dict[str, object] = {}
    for _ in range(args.repeat):
        seconds, result = timed(elfship)
        scan_times.append(seconds)
        document = json.loads(result.stdout)
    files = [f["path"] for f in document["files"]]  # type: ignore[index]
    print(f"directories: {' '.join(args.dirs)}")
    print(f"ELF files: {len(files)} ({document['files_seen']} files looked at), cores: {os.cpu_count()}")
    print(f"elfship scan (whole command, incl. Python start-up): {best(scan_times)}")

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
    print(f"load average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
