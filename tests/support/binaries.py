"""The matrix of test binaries that check's truth tests hold against real roots, built at test time."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from tests.support.fixtures import SOURCES, build_c

# name -> how to build it. Each is a different reason to run or not on an older or barer Debian.
MATRIX_BINARIES: dict[str, Callable[[], Path]] = {
    "host-dynamic": lambda: build_c("pow.c", ldflags=["-lm"], out_name="pow"),
    "pinned-2.17": lambda: build_c(
        "pow.c", compiler="zig", zig_target="x86_64-linux-gnu.2.17", ldflags=["-lm"], out_name="pow-217"
    ),
    "pinned-2.31": lambda: build_c(
        "pow.c", compiler="zig", zig_target="x86_64-linux-gnu.2.31", ldflags=["-lm"], out_name="pow-231"
    ),
    "static-musl": lambda: build_c(
        "pow.c", compiler="zig", zig_target="x86_64-linux-musl", cflags=["-static"], out_name="pow-musl"
    ),
    "static-pie-glibc": lambda: build_c("hello.c", cflags=["-static-pie"], out_name="hello-spie"),
    "cxx-recent-glibcxx": lambda: build_c("cxx_new.cpp", compiler="g++"),
    "needs-libpq": lambda: build_c(
        "uses_libpq.c", cflags=["-I/usr/include/postgresql"], ldflags=["-lpq", "-lm"]
    ),
    "needs-libssl3": lambda: build_c("uses_ssl.c", ldflags=["-lssl", "-lcrypto"]),
    "musl-dynamic": lambda: build_c(
        "hello.c",
        compiler="zig",
        zig_target="x86_64-linux-musl",
        cflags=["-dynamic"],
        out_name="hello-musldyn",
    ),
    "aarch64": lambda: build_c(
        "hello.c", compiler="zig", zig_target="aarch64-linux-gnu", out_name="hello-aarch64"
    ),
}


def versioned_library() -> Path:
    """A shared library with a SONAME, an old-style RPATH and version definitions from a version script."""
    return build_c(
        "libshared.c",
        cflags=["-shared", "-fPIC"],
        ldflags=[
            "-Wl,-soname,libversioned.so.1",
            "-Wl,-rpath,/opt/a:/opt/b",
            "-Wl,--disable-new-dtags",
            f"-Wl,--version-script,{SOURCES / 'libversioned.map'}",
        ],
        out_name="libversioned.so.1",
    )
