"""Bounded work on hostile input: time and peak memory of `elfship` on each file of the bomb corpus.

    python benchmarks/bench_hostile.py [--dir DIR] [--depth N] [--anchors] [--timeout S]

Builds the corpus (benchmarks/hostile_corpus.py: string, version, hash and note bombs, 2 GB sparse files)
and a DEPTH-deep DT_NEEDED chain of real libraries (gcc), then runs each command in its own process and
prints its wall time and peak RSS (getrusage of that child alone, through os.wait4). The goal: every bomb
answered in <= 1 s and <= 200 MB, a 2 GB sparse file in <= 1 s, the deep chain without error.
--anchors also runs `readelf -d -V -n` and pyelftools on the same files, with the same timeout, for scale.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.hostile_corpus import build_chain, build_corpus
from benchmarks.measure import measure

GOAL_SECONDS, GOAL_MB = 1.0, 200.0
PYELFTOOLS = """
import sys
from elftools.elf.elffile import ELFFile
from elftools.elf.dynamic import DynamicSegment
with open(sys.argv[1], "rb") as f:
    elf = ELFFile(f)
    for seg in elf.iter_segments():
        if isinstance(seg, DynamicSegment):
            needed = [t.needed for t in seg.iter_tags() if t.entry.d_tag == "DT_NEEDED"]
    for section in elf.iter_sections():
        if section.name == ".gnu.version_r":
            needs = [(v.name, [a.name for a in aux]) for v, aux in section.iter_versions()]
"""


def timed(argv: list[str], timeout: float) -> tuple[float, float, int | str]:
    result = measure(argv, timeout=timeout, keep_output=False)  # readelf prints 15 GB for one bomb
    return result.seconds, result.rss_mb, result.code


def elfship(*args: str) -> list[str]:
    return [sys.executable, "-m", "elfship", *args]


def row(name: str, tool: str, result: tuple[float, float, int | str], goal: bool) -> bool:
    seconds, mb, code = result
    ok = not goal or (seconds <= GOAL_SECONDS and mb <= GOAL_MB and code in (0, 1, 2))
    mark = ("ok" if ok else "OVER GOAL") if goal else ""
    print(f"{name:28} {tool:22} {seconds:7.2f} s {mb:8.1f} MB  exit {code!s:8} {mark}")
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--dir", type=Path, help="where to build the corpus (default: a temporary directory)")
    parser.add_argument("--depth", type=int, default=5000, help="length of the DT_NEEDED chain")
    parser.add_argument("--anchors", action="store_true", help="also time readelf and pyelftools")
    parser.add_argument("--timeout", type=float, default=20.0, help="seconds before a command is killed")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="elfship-hostile-") as scratch:
        directory = args.dir or Path(scratch)
        corpus = build_corpus(directory / "bombs")
        print(
            f"corpus: {len(corpus)} files in {directory / 'bombs'}; goal <= {GOAL_SECONDS} s, <= {GOAL_MB} MB"
        )
        good = True
        row(
            "baseline: /usr/bin/true",
            "elfship inspect",
            timed(elfship("inspect", "/usr/bin/true"), 60),
            False,
        )
        for name, path in corpus.items():
            good &= row(name, "elfship inspect", timed(elfship("inspect", str(path)), args.timeout), True)
            good &= row(name, "elfship tree", timed(elfship("tree", str(path)), args.timeout), True)
            if args.anchors:
                row(name, "readelf -d -V -n", timed(["readelf", "-dVn", str(path)], args.timeout), False)
                pyelf = [sys.executable, "-c", PYELFTOOLS, str(path)]
                row(name, "pyelftools", timed(pyelf, args.timeout), False)
        good &= row(
            "whole corpus", "elfship scan", timed(elfship("scan", str(directory / "bombs")), 60), False
        )
        started = time.perf_counter()
        program = build_chain(directory / "chain", args.depth)
        print(f"chain: {args.depth} libraries built in {time.perf_counter() - started:.1f} s")
        chain = f"chain {args.depth} deep"
        for tool in ("tree", "tree --json"):
            row(chain, f"elfship {tool}", timed(elfship(*tool.split(), str(program)), 120), False)
        if args.anchors:
            ldso = "/lib64/ld-linux-x86-64.so.2"
            row(chain, "ld.so --list", timed([ldso, "--list", str(program)], 120), False)
    print("all bombs within the goal" if good else "SOME BOMB OVER THE GOAL")
    return 0 if good else 1


if __name__ == "__main__":
    sys.exit(main())
