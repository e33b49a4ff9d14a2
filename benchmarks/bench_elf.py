"""Speed of the ELF reader: every ELF file of the system directories, every field, one process.

    python benchmarks/bench_elf.py [--passes N] [--no-anchors]

Prints the file count, the wall and CPU time of each pass (the first may read from disk; later ones from the
page cache; on a shared machine CPU time is the steadier number), the best of each, and the peak RSS. The
goal on the reference 2-core machine: <= 0.30 s per warm pass and < 150 MB.
In the same run it times the anchors on the same files: `readelf -d -V -W` (binutils, C; one process per 256
files) and pyelftools reading NEEDED and the version needs only (pure Python, the way a script asks).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._common import peak_rss_mb, system_elf_files

from elfship.elf import read_elf
from elfship.errors import ElfError


def elfship_pass(paths: list[str]) -> tuple[float, float, int]:
    """(wall s, CPU s, files read): read_elf with every field and symbols, one parse each. The timed loop
    does nothing else: counting what was read is version_bound_symbols', outside the timing."""
    start, cpu = time.perf_counter(), time.process_time()
    errors = 0
    for path in paths:
        try:
            read_elf(path, with_symbols=True)
        except ElfError:
            errors += 1
    return time.perf_counter() - start, time.process_time() - cpu, len(paths) - errors


def version_bound_symbols(paths: list[str]) -> int:
    """How many undefined symbols are bound to a required version, over all files (shown, not timed)."""
    total = 0
    for path in paths:
        try:
            info = read_elf(path, with_symbols=True)
        except ElfError:
            continue
        total += sum(len(names) for _, _, names in info.version_symbols or ())
    return total


def pyelftools_pass(paths: list[str]) -> float:
    """NEEDED and version needs with pyelftools, the way a script would ask for them."""
    from elftools.elf.dynamic import DynamicSection
    from elftools.elf.elffile import ELFFile
    from elftools.elf.gnuversions import GNUVerNeedSection

    start = time.perf_counter()
    for path in paths:
        with open(path, "rb") as handle:
            elf = ELFFile(handle)
            for section in elf.iter_sections():
                if isinstance(section, DynamicSection):
                    [tag.needed for tag in section.iter_tags() if tag.entry.d_tag == "DT_NEEDED"]
                elif isinstance(section, GNUVerNeedSection):
                    [(need.name, [aux.name for aux in auxes]) for need, auxes in section.iter_versions()]
    return time.perf_counter() - start


def readelf_pass(paths: list[str]) -> float | None:
    """Wall seconds of `readelf -d -V -W` over every file (256 to a process), or None without readelf."""
    readelf = shutil.which("readelf")
    if readelf is None:
        return None
    start = time.perf_counter()
    for first in range(0, len(paths), 256):
        argv = [readelf, "-d", "-V", "-W", *paths[first : first + 256]]
        subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--passes", type=int, default=3, help="timed passes over all files (default 3)")
    parser.add_argument("--no-anchors", action="store_true", help="skip readelf and pyelftools")
    args = parser.parse_args()

    paths = system_elf_files()
    print(f"files: {len(paths)} ELF files under /usr/bin, /usr/sbin, /usr/lib/x86_64-linux-gnu, /usr/libexec")
    best = best_cpu = float("inf")
    for number in range(1, args.passes + 1):
        seconds, cpu, read = elfship_pass(paths)
        best, best_cpu = min(best, seconds), min(best_cpu, cpu)
        print(f"elfship pass {number}: {seconds:.3f} s wall, {cpu:.3f} s CPU  ({read} files read)")
    print(f"version-bound symbols named: {version_bound_symbols(paths)} (each pass reads them all)")
    per_file = 1e3 * best / max(len(paths), 1)
    print(
        f"elfship best: {best:.3f} s wall, {best_cpu:.3f} s CPU for {len(paths)} files ({per_file:.2f} ms/file)"
    )
    print(f"peak RSS: {peak_rss_mb():.1f} MB")
    if args.no_anchors:
        return 0
    seconds_readelf = readelf_pass(paths)
    if seconds_readelf is None:
        print("readelf: not installed (apt-get install binutils), no comparison")
    else:
        print(
            f"readelf -d -V -W (same files): {seconds_readelf:.3f} s  ({seconds_readelf / best:.1f}x elfship)"
        )
    try:
        seconds = pyelftools_pass(paths)
    except ImportError:
        print("pyelftools: not installed (pip install pyelftools), no comparison")
    else:
        print(f"pyelftools (NEEDED + version needs only): {seconds:.3f} s  ({seconds / best:.1f}x elfship)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
