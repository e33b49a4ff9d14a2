"""Property: whatever bytes a real fixture is mutated into, the reader returns ElfInfo or raises ElfError.

hypothesis mutates real fixtures (bit flips, truncation, overwriting a field with an extreme value) with a
fixed budget and a fixed seed (derandomize), so CI runs the same ~1,500 cases every time. Field overwrites
aim at the offsets the reader follows: the ELF header, every program header, every dynamic entry, and the
tables the dynamic section points at.
"""

from __future__ import annotations

import os
import signal
import struct
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

import pytest

from elfship.elf import ElfInfo, read_elf, read_version_symbols
from elfship.elf import constants as c
from elfship.elf.dynamic import read_dynamic
from elfship.elf.headers import AddressMap, read_header, read_segments
from elfship.elf.image import Image
from elfship.errors import ElfError
from tests.support.binaries import versioned_library
from tests.support.fixtures import build_c

hypothesis = pytest.importorskip("hypothesis", reason="hypothesis not installed (pip install hypothesis)")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

EXAMPLES_PER_FIXTURE = 300
HANG_GUARD_SECONDS = 20  # a guard against an endless loop, not a speed test
EXTREMES = (0, 1, 2, 0x7F, 0x80, 0xFF, 0xFFFF, 0x7FFFFFFF, 0xFFFFFFFF, 1 << 32, 1 << 63, (1 << 64) - 1)
TABLE_TAGS = (c.DT_STRTAB, c.DT_SYMTAB, c.DT_HASH, c.DT_GNU_HASH, c.DT_VERSYM, c.DT_VERNEED, c.DT_VERDEF)

FIXTURES = {
    "x86_64 dynamic, both hash styles": lambda: build_c(
        "pow.c", ldflags=["-lm", "-Wl,--hash-style=both", "-Wl,-z,noseparate-code"], out_name="pow-bothhash"
    ),
    "i386 dynamic": lambda: build_c(
        "hello.c", compiler="zig", zig_target="x86-linux-gnu", out_name="hello-x86-linux-gnu"
    ),
    "s390x dynamic, big endian": lambda: build_c(
        "hello.c", compiler="zig", zig_target="s390x-linux-gnu", out_name="hello-s390x-linux-gnu"
    ),
    "musl dynamic": lambda: build_c(
        "hello.c",
        compiler="zig",
        zig_target="x86_64-linux-musl",
        ldflags=["-dynamic"],
        out_name="hello-musl-dyn",
    ),
    "library with version definitions": lambda: versioned_library(),
}


@dataclass(frozen=True)
class Target:
    data: bytes
    offsets: tuple[int, ...]  # where the reader's fields are


def interesting_offsets(path: Path) -> tuple[int, ...]:
    """Offsets of the fields the reader follows, found with the reader's own header and dynamic parsers."""
    with Image(str(path)) as image:
        header = read_header(image)
        layout = header.layout
        offsets = set(range(16, layout.ehdr.size, 2))
        segments = read_segments(image, header)
        for index in range(header.phnum):
            start = header.phoff + index * header.phentsize
            offsets.update(range(start, start + header.phentsize, 4))
        dynamic = next((s for s in segments if s.p_type == c.PT_DYNAMIC), None)
        if dynamic is None:
            return tuple(sorted(offsets))
        addresses = AddressMap(segments)
        offsets.update(range(dynamic.offset, dynamic.offset + dynamic.filesz, 4))
        table = read_dynamic(image, layout, dynamic, addresses)
        for tag in TABLE_TAGS:
            address = table.first(tag)
            start = None if address is None else addresses.offset(address)
            if start is not None:
                offsets.update(range(start, min(start + 64, image.size), 2))
    return tuple(sorted(offsets))


@pytest.fixture(scope="module", params=sorted(FIXTURES))
def target(request: pytest.FixtureRequest) -> Target:
    path = FIXTURES[request.param]()
    return Target(path.read_bytes(), interesting_offsets(path))


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz") / "mutant"


Mutation = tuple[str, int, int, int]  # (kind, offset or length, width, value)


@st.composite
def mutations(draw: st.DrawFn, target: Target) -> list[Mutation]:
    size = len(target.data)
    anywhere = st.integers(0, size - 1)
    aimed = st.sampled_from(target.offsets)
    ops: list[Mutation] = []
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["flip", "put", "put", "truncate"]))
        if kind == "truncate":
            ops.append((kind, draw(st.integers(0, size)), 0, 0))
            continue
        offset = draw(st.one_of(aimed, anywhere))
        if kind == "flip":
            ops.append((kind, offset, 1, draw(st.integers(1, 255))))
        else:
            width = draw(st.sampled_from([1, 2, 4, 8]))
            value = draw(st.one_of(st.sampled_from(EXTREMES), st.integers(0, (1 << 64) - 1)))
            ops.append((kind, offset, width, value & ((1 << (8 * width)) - 1)))
    return ops


def apply(data: bytes, ops: list[Mutation]) -> bytes:
    buffer = bytearray(data)
    for kind, offset, width, value in ops:
        if kind == "truncate":
            del buffer[offset:]
        elif offset + width <= len(buffer):
            if kind == "flip":
                buffer[offset] ^= value
            else:
                fmt = {1: "B", 2: "H", 4: "I", 8: "Q"}[width]
                struct.pack_into(("<" if buffer[5:6] != b"\x02" else ">") + fmt, buffer, offset, value)
    return bytes(buffer)


def overwrite(path: Path, data: bytes) -> None:
    # Rewriting in place and cutting to length avoids O_TRUNC, which costs milliseconds per call on ext4.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o644)
    try:
        os.write(fd, data)
        os.ftruncate(fd, len(data))
    finally:
        os.close(fd)


@contextmanager
def hang_guard(seconds: int) -> Iterator[None]:
    def fail(signum: int, frame: FrameType | None) -> None:
        raise AssertionError(f"the reader did not return within {seconds} s: an endless loop")

    previous = signal.signal(signal.SIGALRM, fail)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


@settings(
    max_examples=EXAMPLES_PER_FIXTURE,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_mutated_fixture_gives_facts_or_elf_error(target: Target, scratch: Path, data: st.DataObject) -> None:
    ops = data.draw(mutations(target), label="mutations")
    overwrite(scratch, apply(target.data, ops))
    with hang_guard(HANG_GUARD_SECONDS):
        for read in (lambda: read_elf(scratch, with_symbols=True), lambda: read_version_symbols(scratch)):
            try:
                result = read()
            except ElfError as exc:
                assert exc.path == str(scratch) and exc.problem and "\n" not in exc.one_line()
                continue
            assert isinstance(result, ElfInfo | dict)
