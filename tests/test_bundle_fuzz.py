"""Fuzzed self-extracting payloads, run as `nobody` (the bundle part of the hostile-input suite).

A well-formed payload for each extractor is mutated with a fixed seed and budget (bit flips, extreme values
written over fields, truncation, duplicated slices, path-like bytes), and every result is started. Whatever
the bytes: no hang, memory bounded (run under RLIMIT_AS), nothing written outside the cache directory, no
temporary directory left behind, an exit code in the launcher's set, and a failure said in one line.
"""

from __future__ import annotations

import gzip
import os
import random
import resource
import shutil
import tarfile
from collections.abc import Iterator

import pytest

from tests.test_bundle_common import VICTIM, Scene, hostile_scene, require_setpriv, run_as_victim
from tests.test_bundle_tampered import c_payload, c_run_file, member, sh_run_file, tar_bytes

pytestmark = pytest.mark.slow

SEED = 20261129  # fixed: CI runs the same cases every time
C_CASES = 300
SH_CASES = 60
MEMORY_LIMIT = 256 << 20  # address space of each start: far above what a sane unpack needs
EXTREMES = (
    b"\x00",
    b"\xff",
    b"\x7f",
    b"\xff\xff",
    b"\x00\x00\x00\x00",
    b"\xff\xff\xff\xff",
    b"\xff" * 8,
    b"\x7f" + b"\xff" * 7,
)
PATHISH = (b"../", b"/", b"..", b"\x00", b"//", b"/../../")

TEXT = b"".join(b"line %d of a compressible file\n" % i for i in range(600))
C_ENTRIES = [
    ("d", "lib", b""),
    ("f", "lib/text", TEXT),
    ("r", "lib/data", bytes(range(256)) * 4),
    ("l", "lib/alias", b"data"),
    ("X", "", TEXT[:9000] + bytes(range(256)) * 2),  # a solid block and the two files taken from it
    ("s", "lib/solid-text", TEXT[:9000]),
    ("s", "lib/solid-data", bytes(range(256)) * 2),
    ("d", "libexec", b""),
    ("l", "libexec/victim", b"/bin/true"),  # after unpacking, /bin/true runs (the config's loader)
    ("d", "a", b""),
    ("d", "a/b", b""),
    ("r", "a/b/c", b"deep"),
]
SH_MEMBERS = [
    member("lib", tarfile.DIRTYPE),
    member("lib/text", data=TEXT),
    member("lib/data", data=bytes(range(256)) * 4),
    member("libexec", tarfile.DIRTYPE),
]
SH_LINKS = [("lib/alias", "data"), ("libexec/victim", "/bin/true")]


def mutate(data: bytes, rng: random.Random) -> bytes:
    buf = bytearray(data)
    at = rng.randrange(len(buf))
    how = rng.randrange(5)
    if how == 0:
        for _ in range(rng.randint(1, 4)):
            spot = rng.randrange(len(buf))
            buf[spot] ^= 1 << rng.randrange(8)
    elif how == 1:
        value = rng.choice(EXTREMES)
        buf[at : at + len(value)] = value
    elif how == 2:
        del buf[at:]
    elif how == 3:
        end = min(len(buf), at + rng.randint(1, 64))
        buf[at:at] = buf[at:end]
    else:
        value = rng.choice(PATHISH)
        buf[at : at + len(value)] = value
    return bytes(buf) or b"\x00"


def _limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))


@pytest.fixture
def scene() -> Iterator[Scene]:
    require_setpriv()
    with hostile_scene() as made:
        yield made


def _check_and_reset(scene: Scene, case: int, returncode: int, stderr: str, codes: set[int]) -> None:
    where = f"case {case}: rc={returncode} stderr={stderr!r}"
    assert returncode in codes, where
    assert "Traceback" not in stderr and "out of memory" not in stderr, where
    if returncode != 0:
        assert len(stderr.strip().splitlines()) == 1, where
    assert scene.outside_entries() == [], f"{where}: written outside the cache directory"
    assert os.listdir(scene.tmp) == [f"elfship-{VICTIM}"], where
    unpacked = os.listdir(scene.base)
    assert len(unpacked) <= 1 and not any(name.startswith(".") for name in unpacked), where
    for top, dirs, files in os.walk(scene.base):
        for name in dirs + files:
            path = os.path.join(top, name)
            real = os.path.realpath(path)
            assert real.startswith(f"{scene.base}/") or real == "/usr/bin/true", f"{where}: {path} -> {real}"
    for name in unpacked:
        shutil.rmtree(scene.base / name)


def test_fuzzed_c_payloads(scene: Scene) -> None:
    rng = random.Random(SEED)
    payload = c_payload(C_ENTRIES)
    outcomes = {"ran": 0, "corrupt": 0, "other": 0}
    for case in range(C_CASES):
        run_file = c_run_file(scene, mutate(payload, rng))
        done = run_as_victim(run_file, scene, preexec_fn=_limit_memory, timeout=20)
        _check_and_reset(scene, case, done.returncode, done.stderr, {0, 127})
        assert not scene.home_base.exists(), f"case {case}: a payload error was taken for a bad cache base"
        kind = "ran" if done.returncode == 0 else "corrupt" if "corrupt payload" in done.stderr else "other"
        if kind == "other":  # the only other failure: a mutated link or mode that makes exec fail
            assert done.stderr.startswith("elfship launcher: cannot start the bundled loader"), done.stderr
        outcomes[kind] += 1
    assert outcomes["corrupt"] > C_CASES // 2 and outcomes["ran"] > 0, outcomes  # the budget reached both


def test_fuzzed_sh_payloads(scene: Scene) -> None:
    rng = random.Random(SEED)
    tar = tar_bytes(SH_MEMBERS)
    outcomes = {"ran": 0, "corrupt": 0, "other": 0}
    for case in range(SH_CASES):
        if case % 4 == 0:  # the gzip stream itself damaged
            archive = mutate(gzip.compress(tar, mtime=0), rng)
        else:  # a valid gzip of a mutated tar: reaches the listing checks
            archive = gzip.compress(mutate(tar, rng), mtime=0)
        done = run_as_victim(
            sh_run_file(scene, archive, SH_LINKS), scene, preexec_fn=_limit_memory, timeout=20
        )
        _check_and_reset(scene, case, done.returncode, done.stderr, {0, 126, 127})
        kind = "ran" if done.returncode == 0 else "corrupt" if "corrupt payload" in done.stderr else "other"
        outcomes[kind] += 1
    assert outcomes["corrupt"] > SH_CASES // 3 and outcomes["ran"] > 0, outcomes
