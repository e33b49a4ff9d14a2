#!/usr/bin/env python3
"""Print how long loading elfship's target data takes in a fresh interpreter (median of N runs).

    python scripts/targets_loadtime.py [--runs 7]

Prints numbers only; it asserts nothing (timings depend on the machine).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys

PROBE = """
import json, time
t0 = time.perf_counter()
import elfship.targets as targets
from elfship.targets import packages
t1 = time.perf_counter()
every = targets.all_targets(None)
t2 = time.perf_counter()
for index in packages.known_indexes():
    packages.package_in_index(index, "libpq.so.5")
t3 = time.perf_counter()
targets.get_target("debian:12").package_for("libssl.so.3")
t4 = time.perf_counter()
print(json.dumps({"import": t1 - t0, "releases": t2 - t1, "package_maps": t3 - t2, "lookup": t4 - t3,
                  "targets": len(every)}))
"""


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=7)
    runs = parser.parse_args().runs
    samples = [json.loads(subprocess.check_output([sys.executable, "-c", PROBE])) for _ in range(runs)]
    print(f"targets loaded: {samples[0]['targets']} (median of {runs} fresh interpreters)")
    for key, label in (
        ("import", "import elfship.targets"),
        ("releases", "parse releases.json, build every Target"),
        ("package_maps", "open every package map (first lookup each)"),
        ("lookup", "one more lookup in an open map"),
    ):
        print(f"  {label:<45} {statistics.median(s[key] for s in samples) * 1000:8.2f} ms")
    data = statistics.median(s["releases"] + s["package_maps"] for s in samples)
    print(f"  {'all data (releases + every package map)':<45} {data * 1000:8.2f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
