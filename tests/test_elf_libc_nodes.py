"""The oldest glibc a file needs, from its version nodes (elf/libc.py): release nodes, ABI nodes, others.

The reader asks this of every dynamic file, so the nodes are parsed once per process and the LibcInfo values
shared; these tests pin the answers that caching must not change.
"""

from __future__ import annotations

import pytest

from elfship.elf.libc import classify_dynamic, highest_glibc, libc_info
from elfship.elf.model import LibcFamily, LibcInfo


@pytest.mark.parametrize(
    ("nodes", "highest"),
    [
        (["GLIBC_2.2.5", "GLIBC_2.34", "GLIBC_2.3.4"], "2.34"),
        (["GLIBC_2.10", "GLIBC_2.9"], "2.10"),  # numeric order, not text order
        (["GLIBC_ABI_DT_RELR", "GLIBC_2.34"], "2.36"),  # an ABI node names the release that defined it
        (["GLIBC_2.36", "GLIBC_ABI_DT_RELR"], "2.36"),
        (["GCC_3.0", "CXXABI_1.3", "GLIBCXX_3.4.29", "OPENSSL_3.0.0"], None),  # not glibc's
        (["GLIBC_PRIVATE", "GLIBC_2.17"], "2.17"),
        ([], None),
    ],
)
def test_highest_glibc(nodes: list[str], highest: str | None) -> None:
    assert highest_glibc(nodes) == highest
    assert highest_glibc(nodes) == highest  # the second answer comes from the per-process memo


def test_libc_info_values_are_shared_and_equal_to_new_ones() -> None:
    first = libc_info(LibcFamily.GLIBC, "2.34")
    assert first is libc_info(LibcFamily.GLIBC, "2.34")
    assert first == LibcInfo(LibcFamily.GLIBC, "2.34") and hash(first) == hash(
        LibcInfo(LibcFamily.GLIBC, "2.34")
    )
    assert libc_info(LibcFamily.GLIBC, None) != first


@pytest.mark.parametrize(
    ("interpreter", "needed", "nodes", "expected"),
    [
        ("/lib64/ld-linux-x86-64.so.2", ("libc.so.6",), ["GLIBC_2.34"], LibcInfo(LibcFamily.GLIBC, "2.34")),
        ("/lib/ld-musl-x86_64.so.1", ("libc.so",), [], LibcInfo(LibcFamily.MUSL, None)),
        (None, ("libc.musl-x86_64.so.1",), [], LibcInfo(LibcFamily.MUSL, None)),
        (None, ("libc.so.6",), [], LibcInfo(LibcFamily.GLIBC, None)),
        (None, (), ["GLIBC_PRIVATE"], LibcInfo(LibcFamily.GLIBC, None)),
        ("/lib64/ld-linux-x86-64.so.2", (), [], LibcInfo(LibcFamily.GLIBC, None)),
        (None, (), [], LibcInfo(LibcFamily.NONE, None)),
        (None, ("libfoo.so.1",), [], LibcInfo(LibcFamily.UNKNOWN, None)),
    ],
)
def test_classify_dynamic(
    interpreter: str | None, needed: tuple[str, ...], nodes: list[str], expected: LibcInfo
) -> None:
    assert classify_dynamic(interpreter, needed, nodes) == expected
