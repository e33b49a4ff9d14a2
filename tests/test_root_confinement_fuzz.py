"""Hostile roots, fuzzed (issue 9, item 7, the root part): mutated ld.so.cache and ld.so.conf files,
os-release junk, symlink tricks, FIFOs and /dev/zero links, with a fixed seed and a fixed budget.

Asserted for every case: no traceback (only the documented errors), an answer well within the deadline,
bounded memory, an exit code in {0, 1, 2}, every file read inside the root, and nothing written anywhere.
"""

from __future__ import annotations

import json
import os
import random
import struct
import time
from pathlib import Path

import pytest

from elfship.resolve.ldcache import CacheError, cache_flags_for, parse_cache
from elfship.resolve.ldconf import read_ld_so_conf
from elfship.resolve.rootfs import FileView, Located
from tests.support.confinement import elfship, glibc_root, hello, make_char_zero, snapshot
from tests.test_resolve_support import dep, layout, ldconfig, mini_root, require_host_loader

SEED = 20260909
CACHE_MUTATIONS = 1500
CONF_CASES = 150
CLI_CASES = 16
CASE_SECONDS = 1.0  # the goal for any hostile input

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def caches(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    """Real caches in every format glibc reads, from ldconfig on a small root with a few libraries."""
    require_host_loader()
    found: dict[str, bytes] = {}
    for fmt in ("new", "compat", "old"):
        root = mini_root(tmp_path_factory.mktemp(f"cache-{fmt}"))
        layout(root, {"opt/extra/libdep.so.1": dep(), "usr/lib/libdep.so.1": dep()})
        (root / "etc/ld.so.conf").write_text("/opt/extra\n/lib/x86_64-linux-gnu\n")
        ldconfig(root, "-c", fmt)
        found[fmt] = (root / "etc/ld.so.cache").read_bytes()
    if os.path.isfile("/etc/ld.so.cache"):
        with open("/etc/ld.so.cache", "rb") as handle:
            found["host"] = handle.read(4 << 20)  # this machine's: bigger, with glibc-hwcaps entries
    return found


def mutate_cache(rng: random.Random, data: bytes) -> bytes:
    """One hostile variant: flipped bytes, header fields set to extremes, truncation, unterminated runs."""
    out = bytearray(data)
    choice = rng.randrange(7)
    if choice == 0:
        for _ in range(rng.randint(1, 24)):
            out[rng.randrange(len(out))] = rng.randrange(256)
    elif choice == 1:  # nlibs, len_strings, flags byte, extension offset of the new header (or old nlibs)
        start = out.find(b"glibc-ld.so.cache1.1")
        start = 0 if start < 0 else start
        offset = rng.choice([start + 20, start + 24, start + 28, start + 32, 12])
        value = rng.choice([0, 1, 0xFFFFFFFF, 0x7FFFFFFF, len(out), len(out) // 24, rng.getrandbits(32)])
        if offset + 4 <= len(out):
            struct.pack_into("<I", out, offset, value)
    elif choice == 2:
        del out[rng.randrange(len(out)) :]
    elif choice == 3:  # every string offset of the entries pointing at one place
        target = rng.randrange(len(out))
        for position in range(48 + 4, min(len(out), 48 + 24 * 400), 24):
            if position + 8 <= len(out):
                struct.pack_into("<II", out, position, target, target)
    elif choice == 4:  # the string table turned into one long run without a terminator
        start = len(out) // 2
        out[start:] = b"A" * (len(out) - start)
    elif choice == 5:
        out += bytes(rng.randrange(256) for _ in range(rng.randint(1, 4096)))
    else:
        out = bytearray(out[: rng.randrange(1, 80)])
    return bytes(out)


def test_mutated_caches_parse_or_are_refused_in_bounded_time(caches: dict[str, bytes]) -> None:
    rng = random.Random(SEED)
    flags = cache_flags_for("x86_64", 64)
    outcomes = {"parsed": 0, "refused": 0}
    slowest = 0.0
    for _ in range(CACHE_MUTATIONS):
        data = mutate_cache(rng, caches[rng.choice(sorted(caches))])
        start = time.monotonic()
        try:
            cache = parse_cache(data)
        except CacheError:
            outcomes["refused"] += 1
        else:
            outcomes["parsed"] += 1
            for name in ("libc.so.6", "libdep.so.1", "x" * 5000):
                cache.lookup(name, flags, {"x86-64-v3": 1, "x86-64-v2": 2}, lambda _: True, lambda _: True)
        slowest = max(slowest, time.monotonic() - start)
    assert slowest < CASE_SECONDS, slowest
    assert outcomes["parsed"] and outcomes["refused"], outcomes  # the mutations reach both paths


CONF_LINES = (
    "/opt/a",
    "/opt/b/",
    "/usr/lib=libc5",
    "hwcap 1 nosegneg",
    "# a comment",
    "include *.conf",
    "include ld.so.conf.d/*.conf",
    "include /etc/ld.so.conf",
    "include ../../../../../../etc/ld.so.conf.d/*.conf",
    "include /../../etc/*",
    "include /etc/ld.so.conf.d/[a-",
    "include /*/*/*/*",
    "include /escape/*.conf",
    "include /etc/loop",
    "include /etc/fifo",
    "include /etc/zero",
    "include",
)


def conf_tree(rng: random.Random, root: Path, outside: Path) -> None:
    """A random ld.so.conf tree with includes that try to leave the root, loop, or read special files."""
    (root / "etc/ld.so.conf.d").mkdir(parents=True)
    names = ["etc/ld.so.conf", *(f"etc/ld.so.conf.d/{i}.conf" for i in range(rng.randint(0, 4)))]
    for name in names:
        lines = [rng.choice(CONF_LINES) for _ in range(rng.randint(0, 8))]
        if rng.random() < 0.2:
            lines.append("/opt/" + "x" * rng.randint(1000, 100_000))
        if rng.random() < 0.2:
            lines.append(bytes(rng.randrange(256) for _ in range(64)).decode("latin-1"))
        (root / name).write_text("\n".join(lines) + "\n", encoding="latin-1")
    os.symlink(str(outside), root / "escape")  # absolute: means ROOT/<outside>, not this machine's
    os.symlink("loop", root / "etc/loop")
    os.mkfifo(root / "etc/fifo")
    if make_char_zero(root / "dev/zero"):
        os.symlink("/dev/zero", root / "etc/zero")


def test_fuzzed_ld_so_conf_trees_stay_inside_the_root(tmp_path: Path) -> None:
    rng = random.Random(SEED)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "host.conf").write_text("/host/only\n")
    for case in range(CONF_CASES):
        root = tmp_path / f"root{case}"
        conf_tree(rng, root, outside)
        view = FileView(root)
        start = time.monotonic()
        conf = read_ld_so_conf(view)
        assert time.monotonic() - start < CASE_SECONDS, case
        assert "/host/only" not in conf.directories
        for name in conf.files:
            found = view.locate(name)
            assert isinstance(found, Located) and found.host_path.startswith(f"{root}/"), (case, name)


TRICKS = (
    "fifo-cache",
    "zero-cache",
    "fifo-release",
    "dir-cache",
    "host-link",
    "fifo-libc",
    "zero-libc",
    "prog-loop",
    "prog-fifo",
    "prog-to-host",
    "lib-dir-to-host",
    "none",
)


def hostile_root(rng: random.Random, root: Path, caches: dict[str, bytes], outside: Path, trick: str) -> None:
    glibc_root(root)
    for name in ("etc/ld.so.conf", "etc/ld.so.conf.d/extra.conf"):
        (root / name).unlink()
    os.rmdir(root / "etc/ld.so.conf.d")
    conf_tree(rng, root, outside)
    (root / "etc/ld.so.cache").write_bytes(mutate_cache(rng, caches[rng.choice(sorted(caches))]))
    release = rng.choice(
        [
            'ID=debian\nVERSION_ID="12"\n',
            "ID='unterminated\nVERSION_ID=\"\n",
            "\0" * 100,
            "ID=" + "x" * 60_000 + "\n",
            "ID=alpine\nVERSION_ID=3.19.1.2.3\n",
        ]
    )
    (root / "etc/os-release").write_text(release, encoding="latin-1")
    libc = root / "lib/x86_64-linux-gnu/libc.so.6"
    prog = root / "usr/bin/prog"
    if trick == "fifo-cache":
        (root / "etc/ld.so.cache").unlink()
        os.mkfifo(root / "etc/ld.so.cache")
    elif trick == "zero-cache" and (root / "dev/zero").exists():
        (root / "etc/ld.so.cache").unlink()
        os.symlink("../../../../dev/zero", root / "etc/ld.so.cache")
    elif trick == "fifo-release":
        (root / "etc/os-release").unlink()
        os.mkfifo(root / "etc/os-release")
    elif trick == "dir-cache":
        (root / "etc/ld.so.cache").unlink()
        (root / "etc/ld.so.cache").mkdir()
    elif trick == "host-link":
        (root / "lib64/ld-linux-x86-64.so.2").unlink()
        os.symlink("../../../../../../../lib64/ld-linux-x86-64.so.2", root / "lib64/ld-linux-x86-64.so.2")
    elif trick == "fifo-libc":
        libc.unlink()
        os.mkfifo(libc)
    elif trick == "zero-libc" and (root / "dev/zero").exists():
        libc.unlink()
        os.symlink("/dev/zero", libc)
    elif trick == "prog-loop":
        prog.unlink()
        os.symlink("prog", prog)
    elif trick == "prog-fifo":
        prog.unlink()
        os.mkfifo(prog)
    elif trick == "prog-to-host":
        prog.unlink()
        os.symlink(str(hello()), prog)  # this machine has it; the root does not
    elif trick == "lib-dir-to-host":
        for item in (root / "lib/x86_64-linux-gnu").iterdir():
            item.unlink()
        (root / "lib/x86_64-linux-gnu").rmdir()
        os.symlink("/lib/x86_64-linux-gnu", root / "lib/x86_64-linux-gnu")  # ROOT/lib/..., itself: a loop


def test_the_cli_on_fuzzed_roots(tmp_path: Path, caches: dict[str, bytes]) -> None:
    rng = random.Random(SEED)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "host.conf").write_text("/host/only\n")
    outer = hello()
    for case in range(CLI_CASES):
        work = tmp_path / f"case{case}"
        work.mkdir()
        root = work / "root"
        hostile_root(rng, root, caches, outside, TRICKS[case % len(TRICKS)])  # each trick at least once
        before = snapshot(tmp_path)
        for args in (
            ("check", str(root / "usr/bin/prog"), "--root", str(root), "--json"),
            ("check", str(outer), "--root", str(root), "--json"),
            ("targets", "--root", str(root), "--json"),
        ):
            run = elfship(*args, cwd=work)
            run.assert_sane()
            if run.returncode in (0, 1):
                json.loads(run.stdout)
            assert run.seconds < 5 * CASE_SECONDS, (case, args, run.seconds)
        assert snapshot(tmp_path) == before, case
