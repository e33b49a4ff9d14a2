"""ld.so.cache: the binary formats, corrupt files, and glibc's rules for choosing among entries."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from elfship.resolve.ldcache import (
    EXTENSION_MAGIC,
    HWCAP_EXTENSION,
    NEW_MAGIC,
    OLD_MAGIC,
    CacheError,
    cache_flags_for,
    parse_cache,
)

X86_64 = cache_flags_for("x86_64", 64)
I386 = cache_flags_for("i386", 32)
Entry = tuple[str, str, int, int]  # name, path, flags, hwcap


def new_cache(entries: list[Entry], hwcaps: list[str] = (), *, big_endian: bool = False) -> bytes:  # type: ignore[assignment]
    """A glibc-ld.so.cache1.1 file laid out as ldconfig writes it."""
    order = ">" if big_endian else "<"
    header_size, entry_size = 48, 24
    strings = bytearray()
    offsets: dict[str, int] = {}
    base = header_size + entry_size * len(entries)

    def intern(text: str) -> int:
        if text not in offsets:
            offsets[text] = base + len(strings)
            strings.extend(text.encode() + b"\0")
        return offsets[text]

    body = b"".join(
        struct.pack(order + "iIIIQ", flags, intern(name), intern(path), 0, hwcap)
        for name, path, flags, hwcap in entries
    )
    hw_offsets = [intern(h) for h in hwcaps]
    blob = bytearray(body + strings)
    extension_offset = 0
    if hwcaps:
        while (header_size + len(blob)) % 4:
            blob.append(0)
        extension_offset = header_size + len(blob)
        section_offset = extension_offset + 8 + 16
        blob += struct.pack(order + "II", EXTENSION_MAGIC, 1)
        blob += struct.pack(order + "IIII", 1, 0, section_offset, 4 * len(hw_offsets))
        blob += b"".join(struct.pack(order + "I", o) for o in hw_offsets)
    header = NEW_MAGIC + struct.pack(
        order + "IIB3sI12s", len(entries), len(strings), 3 if big_endian else 2, b"", extension_offset, b""
    )
    return header + bytes(blob)


def named(index: int, isa_level: int = 0) -> int:
    return HWCAP_EXTENSION | (isa_level << 32) | index


def lookup(cache_bytes: bytes, name: str, priority: dict[str, int], flags=X86_64, isa_ok=lambda level: True):  # type: ignore[no-untyped-def]
    return parse_cache(cache_bytes).lookup(name, flags, priority, isa_ok, lambda hwcap: False)


def test_this_machines_cache_parses() -> None:
    path = Path("/etc/ld.so.cache")
    if not path.exists():
        pytest.skip("no /etc/ld.so.cache on this machine")
    cache = parse_cache(path.read_bytes())
    assert cache.format == "new" and "libc.so.6" in cache.names()
    assert cache.lookup("libc.so.6", X86_64, {}, lambda level: True, lambda hwcap: False)


def test_only_the_architectures_flags_are_accepted() -> None:
    data = new_cache(
        [("libz.so.1", "/lib32/libz.so.1", 0x0003, 0), ("libz.so.1", "/lib64/libz.so.1", 0x0303, 0)]
    )
    assert lookup(data, "libz.so.1", {}) == "/lib64/libz.so.1"
    assert lookup(data, "libz.so.1", {}, flags=I386) == "/lib32/libz.so.1"


def test_the_generic_rule_takes_the_libc5_flag_too() -> None:
    # New format: the first acceptable plain entry wins (search_cache stops at the next plain one).
    data = new_cache([("libz.so.1", "/a/libz.so.1", 0x0001, 0), ("libz.so.1", "/b/libz.so.1", 0x0003, 0)])
    assert lookup(data, "libz.so.1", {}, flags=I386) == "/a/libz.so.1"
    # Old format: no hwcap field, so glibc keeps looking for an entry with the preferred flag.
    strings = b"libz.so.1\0/a/libz.so.1\0/b/libz.so.1\0"
    old = OLD_MAGIC + b"\0" + struct.pack("<I", 2)
    old += struct.pack("<iII", 0x0001, 0, 10) + struct.pack("<iII", 0x0003, 0, 23) + strings
    assert (
        parse_cache(old).lookup("libz.so.1", I386, {}, lambda level: True, lambda hwcap: False)
        == "/b/libz.so.1"
    )


def test_the_best_glibc_hwcaps_entry_wins() -> None:
    entries = [
        ("libz.so.1", "/l/glibc-hwcaps/x86-64-v2/libz.so.1", 0x0303, named(0)),
        ("libz.so.1", "/l/glibc-hwcaps/x86-64-v3/libz.so.1", 0x0303, named(1)),
        ("libz.so.1", "/l/libz.so.1", 0x0303, 0),
    ]
    data = new_cache(entries, ["x86-64-v2", "x86-64-v3"])
    v3 = {"x86-64-v3": 1, "x86-64-v2": 2}
    assert lookup(data, "libz.so.1", v3) == "/l/glibc-hwcaps/x86-64-v3/libz.so.1"
    assert lookup(data, "libz.so.1", {"x86-64-v2": 1}) == "/l/glibc-hwcaps/x86-64-v2/libz.so.1"
    assert lookup(data, "libz.so.1", {}) == "/l/libz.so.1"


def test_a_hwcaps_entry_above_the_cpus_isa_level_is_skipped() -> None:
    entries = [
        ("libz.so.1", "/l/glibc-hwcaps/x86-64-v3/libz.so.1", 0x0303, named(0, isa_level=3)),
        ("libz.so.1", "/l/libz.so.1", 0x0303, 0),
    ]
    data = new_cache(entries, ["x86-64-v3"])
    assert lookup(data, "libz.so.1", {"x86-64-v3": 1}, isa_ok=lambda level: level <= 2) == "/l/libz.so.1"


def test_legacy_hwcap_entries_follow_the_callers_rule() -> None:
    data = new_cache(
        [("libz.so.1", "/l/tls/libz.so.1", 0x0303, 1 << 63), ("libz.so.1", "/l/libz.so.1", 0x0303, 0)]
    )
    cache = parse_cache(data)
    assert cache.lookup("libz.so.1", X86_64, {}, lambda level: True, lambda hwcap: False) == "/l/libz.so.1"
    assert cache.lookup("libz.so.1", X86_64, {}, lambda level: True, lambda hwcap: True) == "/l/tls/libz.so.1"


def test_names_compare_numerically_like_glibc() -> None:
    data = new_cache([("libz.so.1", "/l/libz.so.1", 0x0303, 0)])
    assert lookup(data, "libz.so.01", {}) == "/l/libz.so.1"
    assert lookup(data, "libz.so.10", {}) is None


def test_big_endian_caches_are_read_in_their_byte_order() -> None:
    data = new_cache([("libz.so.1", "/l/libz.so.1", 0x0403, 0)], big_endian=True)
    cache = parse_cache(data, little_endian=True)
    assert cache.lookup(
        "libz.so.1", cache_flags_for("s390x", 64), {}, lambda level: True, lambda hwcap: False
    )


def test_the_old_format_is_read() -> None:
    strings = b"libz.so.1\0/l/libz.so.1\0"
    data = OLD_MAGIC + b"\0" + struct.pack("<I", 1) + struct.pack("<iII", 0x0303, 0, 10) + strings
    cache = parse_cache(data)
    assert cache.format == "old" and [e.path for e in cache.entries] == ["/l/libz.so.1"]


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (b"", "empty"),
        (b"\x7fELF" + bytes(100), "bad magic"),
        (NEW_MAGIC + struct.pack("<II", 99, 0) + bytes(24), "truncated"),
        (b"glibc-ld.so.cache2.0" + bytes(60), "unsupported"),
        (NEW_MAGIC + struct.pack("<IIB", 0, 0, 1) + bytes(24), "byte order"),
    ],
)
def test_corrupt_caches_raise_a_cache_error_that_says_why(data: bytes, problem: str) -> None:
    with pytest.raises(CacheError, match=problem):
        parse_cache(data)


def test_entries_pointing_outside_the_strings_are_dropped_with_a_warning() -> None:
    good = new_cache([("libz.so.1", "/l/libz.so.1", 0x0303, 0)])
    bad = bytearray(good)
    struct.pack_into("<I", bad, 48 + 8, 10_000)  # the value offset of the only entry
    cache = parse_cache(bytes(bad))
    assert cache.entries == () and cache.warnings


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400), st.sampled_from([b"", NEW_MAGIC, OLD_MAGIC + b"\0"]))
def test_random_bytes_never_crash_the_parser(tail: bytes, magic: bytes) -> None:
    try:
        cache = parse_cache(magic + tail)
    except CacheError:
        return
    cache.lookup("libc.so.6", X86_64, {"x86-64-v2": 1}, lambda level: True, lambda hwcap: True)
