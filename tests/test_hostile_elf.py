"""Hostile input, end to end: every command that reads ELF files, run on the bomb corpus and on mutants of
real fixtures and of the bombs, in its own process with an address-space limit and a hang guard.

What must hold for every file: a one-line answer (exit 0, 1 or 2), no traceback, a bounded peak RSS, no
hang, and nothing written anywhere (the process runs in an empty directory with an empty HOME and TMPDIR,
which must still be empty afterwards; the corpus must be unchanged). Mutations come from a fixed seed, so CI
runs the same files every time; the whole module takes well under a minute (each command reads the whole
corpus in one process). Timing is never asserted: tests/test_elf_truth.py and benchmarks/bench_hostile.py
carry the numbers.
"""

from __future__ import annotations

import json
import os
import random
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest
from benchmarks.hostile_corpus import BOMBS, DT_NEEDED, DT_STRSZ, DT_STRTAB, Elf, build_corpus
from benchmarks.measure import measure

from elfship.elf import read_elf
from elfship.errors import ElfError
from tests.support.binaries import versioned_library
from tests.support.fixtures import build_c

pytestmark = pytest.mark.slow

SEED = 9  # the number: any fixed value makes the corpus the same on every run
MUTANTS_PER_SOURCE = 25
ADDRESS_SPACE = 3 << 30  # room to map a 2 GB sparse file, far below what an unbounded reader reaches
MAX_RSS_MB = 200  # the goal for one file; here each command reads the whole corpus
HANG_GUARD = 120  # seconds: a guard against an endless loop or a blocking read, not a speed test
EXTREMES = (0, 1, 0x7F, 0x80, 0xFF, 0xFFFF, 0x7FFFFFFF, 0xFFFFFFFF, 1 << 32, 1 << 63, (1 << 64) - 1)
SMALL_BOMBS = ("needed-one-string", "version-need-shared-chain", "version-definitions", "section-names")


@dataclass(frozen=True)
class Outcome:
    command: str
    code: int | str
    stdout: str
    stderr: str
    rss_mb: float


def run(args: list[str], sandbox: Path) -> Outcome:
    """One elfship command in its own process: limited address space, empty HOME/TMPDIR/cwd, a hang guard,
    and its own peak RSS (measured by a small runner: see benchmarks/measure.py)."""
    env = {**os.environ, "HOME": str(sandbox), "TMPDIR": str(sandbox), "XDG_CACHE_HOME": str(sandbox)}
    argv = [sys.executable, "-m", "elfship", *args]
    result = measure(argv, timeout=HANG_GUARD, address_space=ADDRESS_SPACE, cwd=sandbox, env=env)
    return Outcome(" ".join(args), result.code, result.stdout, result.stderr, result.rss_mb)


def assert_bounded(outcome: Outcome) -> None:
    assert outcome.code in (0, 1, 2), f"{outcome.command}: exit {outcome.code}\n{outcome.stderr[-3000:]}"
    assert "Traceback" not in outcome.stderr, f"{outcome.command}:\n{outcome.stderr[-3000:]}"
    assert outcome.rss_mb <= MAX_RSS_MB, f"{outcome.command}: peak RSS {outcome.rss_mb:.0f} MB"
    for line in outcome.stderr.splitlines():
        assert line.startswith(("elfship: error: ", "warning: ", "elfship: warning: ")), line


def mutate(data: bytes, rng: random.Random) -> bytes:
    """1-4 mutations: an extreme value put in the first 4 KiB (headers, dynamic section, tables of small
    files) or anywhere, a bit flip, or a truncation."""
    buffer = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        kind = rng.choice(("put", "put", "put", "flip", "truncate"))
        if kind == "truncate":
            del buffer[rng.randrange(len(buffer)) :]
            continue
        limit = min(len(buffer), 4096) if rng.random() < 0.7 else len(buffer)
        width = rng.choice((1, 2, 4, 8))
        if limit <= width:
            continue
        offset = rng.randrange(limit - width)
        if kind == "flip":
            buffer[offset] ^= 1 << rng.randrange(8)
        else:
            value = rng.choice(EXTREMES) if rng.random() < 0.7 else rng.getrandbits(64)
            buffer[offset : offset + width] = (value & ((1 << (8 * width)) - 1)).to_bytes(width, "little")
    return bytes(buffer)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("hostile") / "corpus"
    bombs = build_corpus(directory)
    sources = {
        "program": build_c(
            "pow.c", ldflags=["-lm", "-Wl,--hash-style=both"], out_name="pow-bothhash-hostile"
        ),
        "library": versioned_library(),
        **{name: bombs[name] for name in SMALL_BOMBS},
    }
    rng = random.Random(SEED)
    for name, path in sources.items():
        data = path.read_bytes()
        for number in range(MUTANTS_PER_SOURCE):
            (directory / f"{name}.m{number:02d}").write_bytes(mutate(data, rng))
    return directory


@pytest.fixture
def sandbox(tmp_path: Path, corpus: Path) -> object:
    """An empty working directory (and HOME, TMPDIR); afterwards it and the corpus must be as they were."""
    before = {p.name: (p.stat().st_size, p.stat().st_mtime_ns) for p in corpus.iterdir()}
    empty = tmp_path / "sandbox"
    empty.mkdir()
    yield empty
    assert list(empty.iterdir()) == [], "elfship wrote files"
    assert {p.name: (p.stat().st_size, p.stat().st_mtime_ns) for p in corpus.iterdir()} == before


def test_corpus_is_what_the_bench_builds(corpus: Path) -> None:
    assert {p.name for p in corpus.iterdir()} >= set(BOMBS)
    assert len(list(corpus.iterdir())) == len(BOMBS) + (2 + len(SMALL_BOMBS)) * MUTANTS_PER_SOURCE


def test_inspect_answers_every_file_on_one_line(corpus: Path, sandbox: Path) -> None:
    files = sorted(str(p) for p in corpus.iterdir())
    outcome = run(["inspect", "--json", *files], sandbox)
    assert_bounded(outcome)
    document = json.loads(outcome.stdout)
    answered = {f["path"] for f in document["files"]} | {e["path"] for e in document["errors"]}
    assert answered == set(files)
    errors = {Path(e["path"]).name: e["error"] for e in document["errors"]}
    assert "more than 1,024 DT_NEEDED entries" in errors["needed-one-string"]
    assert "more than 4,096 version entries" in errors["version-need-shared-chain"]
    assert "sparse-2gb-library" not in errors and "note-size" not in errors  # correct answers, not refusals


def test_scan_reports_every_file_and_survives_every_bomb(corpus: Path, sandbox: Path) -> None:
    outcome = run(["scan", "--json", "--ld-library-path", "", str(corpus)], sandbox)
    assert_bounded(outcome)
    document = json.loads(outcome.stdout)
    assert document["files_seen"] == len(list(corpus.iterdir()))
    assert document["elf_files"] + len(document["problems"]) >= len(BOMBS)


def test_check_against_a_target_answers_every_file(corpus: Path, sandbox: Path) -> None:
    files = sorted(str(p) for p in corpus.iterdir())
    assert_bounded(run(["check", "--target", "debian:12", *files], sandbox))


def test_tree_on_each_bomb_and_some_mutants(corpus: Path, sandbox: Path) -> None:
    rng = random.Random(SEED)
    mutants = [p for p in sorted(corpus.iterdir()) if ".m" in p.name]
    files = [corpus / name for name in BOMBS] + rng.sample(mutants, 8)
    with ThreadPoolExecutor(2) as pool:
        outcomes = list(pool.map(lambda p: run(["tree", str(p)], sandbox), files))
    for outcome in outcomes:
        assert_bounded(outcome)


# In process: the exact answer for each bomb ---------------------------------------------------------------


def _problem(path: Path) -> str:
    with pytest.raises(ElfError) as caught:
        read_elf(path, with_symbols=True)
    frames = [entry.name for entry in caught.traceback]
    assert frames[-1] == "read_elf", frames  # raised bare: no parse frame (and its tables) kept alive
    return caught.value.problem


@pytest.mark.parametrize(
    ("bomb", "problem"),
    [
        ("needed-one-string", "more than 1,024 DT_NEEDED entries"),
        ("needed-60000-names", "more than 1,024 DT_NEEDED entries"),
        ("version-need-shared-chain", "more than 4,096 version entries"),
        ("version-definitions", "more than 256 KiB of strings"),
        ("gnu-hash-endless-chain", "a GNU hash chain past 1,048,576 symbols"),
        ("gnu-hash-huge-buckets", "a GNU hash table for more than 1,048,576 symbols"),
        ("hash-million-symbols", "more than 262,144 version-bound symbols"),
        ("note-count", "more than 4,096 notes"),
        ("note-segments", "more than 4,096 notes"),
        ("section-names", "more than 4,096 KiB of section names"),
        ("string-20mib", "more than 256 KiB of strings"),
    ],
)
def test_each_bomb_is_refused_naming_its_cap(corpus: Path, bomb: str, problem: str) -> None:
    assert _problem(corpus / bomb).startswith(f"refused: {problem} ")


def test_sparse_and_oversized_files_get_their_facts(corpus: Path) -> None:
    library = read_elf(corpus / "sparse-2gb-library")
    assert (library.needed, library.soname, library.size) == (("libc.so.6",), "libsparse.so", 2 << 30)
    assert read_elf(corpus / "interp-2gb").interpreter == "/lib64/ld-linux-x86-64.so.2"
    assert read_elf(corpus / "note-size").build_id is None  # a 2 GB descriptor is skipped, not copied
    assert read_elf(corpus / "sparse-2gb-static").libc.family.value == "unknown"


def test_strings_are_decoded_once_and_paid_for_every_time(tmp_path: Path) -> None:
    """1,000 DT_NEEDED entries naming one string: the budget counts each entry, so 200-byte names pass and
    300-byte names (300 KB in all) are refused, whatever the cache saves."""
    for length, refused in ((200, False), (300, True)):
        path = tmp_path / f"needed-{length}"
        elf = Elf()
        name = b"n" * (length - 3) + b".so"
        at = elf.add(b"\0" + name + b"\0")
        elf.dynamic([(DT_STRTAB, at), (DT_STRSZ, length + 2), *[(DT_NEEDED, 1)] * 1000])
        elf.write(path)
        if refused:
            assert _problem(path).startswith("refused: more than 256 KiB of strings")
        else:
            needed = read_elf(path).needed
            assert needed == (name.decode(),) * 1000 and len({id(n) for n in needed}) == 1
