"""Each finding kind on a real binary built for it, against named targets (packaged facts)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from elfship.check import check_path
from elfship.elf import read_elf
from elfship.targets import get_target
from tests.support.binaries import MATRIX_BINARIES
from tests.support.fixtures import build_c


def kinds(result) -> set[tuple[str, str]]:  # type: ignore[no-untyped-def]
    return {(f.kind, f.severity.value) for f in result.findings}


def test_cxx_names_glibcxx_culprit_on_debian11() -> None:
    path = str(build_c("cxx_new.cpp", compiler="g++"))
    result = check_path(path, get_target("debian:11"))
    glibcxx = [f for f in result.findings if f.evidence.get("namespace") == "GLIBCXX"]
    assert glibcxx, result.findings
    assert glibcxx[0].evidence["library"] == "libstdc++.so.6"
    assert "GLIBCXX_3.4.29" in glibcxx[0].evidence["versions"]
    assert glibcxx[0].evidence["symbols"]["GLIBCXX_3.4.29"]  # the culprit symbols are named
    assert "offers up to GLIBCXX_3.4.28" in glibcxx[0].message
    assert "-static-libstdc++" in (glibcxx[0].fix or "")


def test_static_musl_runs_everywhere_with_kernel_note() -> None:
    path = str(
        build_c(
            "pow.c", compiler="zig", zig_target="x86_64-linux-musl", cflags=["-static"], out_name="pow-musl"
        )
    )
    for name in ("debian:8", "alpine:3.12", "rhel:7", "ubuntu:18.04"):
        result = check_path(path, get_target(name))
        assert result.verdict == "runs", (name, result.findings)
        assert ("static", "info") in kinds(result)


def test_glibc_binary_on_alpine_is_a_libc_mismatch() -> None:
    path = str(build_c("pow.c", ldflags=["-lm"], out_name="pow"))
    result = check_path(path, get_target("alpine:3.19"))
    assert result.verdict == "fails"
    assert kinds(result) == {("libc-mismatch", "error")}
    assert "gcompat" in (result.findings[0].fix or "")


def test_musl_dynamic_on_alpine_runs_and_on_debian_fails() -> None:
    path = str(
        build_c(
            "hello.c",
            compiler="zig",
            zig_target="x86_64-linux-musl",
            cflags=["-dynamic"],
            out_name="hello-musldyn",
        )
    )
    assert check_path(path, get_target("alpine:3.19")).verdict == "runs"
    debian = check_path(path, get_target("debian:12"))
    assert kinds(debian) == {("libc-mismatch", "error")}


def test_static_glibc_with_nss_warns_but_runs() -> None:
    path = str(build_c("nss.c", cflags=["-static"], out_name="nss-static"))
    result = check_path(path, get_target("debian:11"))
    assert result.verdict == "runs"
    assert ("static-nss", "warning") in kinds(result)
    plain = check_path(
        str(build_c("hello.c", cflags=["-static"], out_name="hello-static")), get_target("debian:11")
    )
    assert ("static-nss", "warning") not in kinds(plain)


def test_wrong_architecture_for_named_x86_64_target() -> None:
    path = str(build_c("hello.c", compiler="zig", zig_target="aarch64-linux-gnu", out_name="hello-aarch64"))
    result = check_path(path, get_target("debian:12"))  # x86_64 by default
    assert ("wrong-architecture", "error") in kinds(result)
    same_arch = check_path(path, get_target("debian:12", arch="aarch64"))
    assert same_arch.verdict == "runs", same_arch.findings


def test_unknown_base_system_makes_the_verdict_unknown_with_rpm_capability() -> None:
    path = str(build_c("uses_libpq.c", cflags=["-I/usr/include/postgresql"], ldflags=["-lpq", "-lm"]))
    result = check_path(path, get_target("rhel:9"))
    assert result.verdict == "unknown", result.findings  # never a silent pass
    libpq = [f for f in result.findings if f.evidence.get("library") == "libpq.so.5"]
    assert [(f.kind, f.severity.value) for f in libpq] == [("library-unverified", "unknown")]
    assert libpq[0].evidence["install"] == "dnf install 'libpq.so.5()(64bit)'"
    assert "--assume-present libpq.so.5" in (libpq[0].fix or "")


def test_pinned_binary_runs_on_old_glibc_releases() -> None:
    path = str(
        build_c(
            "pow.c", compiler="zig", zig_target="x86_64-linux-gnu.2.17", ldflags=["-lm"], out_name="pow-217"
        )
    )
    assert read_elf(path).libc.min_version == "2.17"
    for name in ("rhel:7", "debian:9", "ubuntu:18.04", "manylinux:2014"):
        assert check_path(path, get_target(name)).verdict == "runs", name


@pytest.mark.parametrize("level", ["x86-64-v3"])
def test_isa_level_above_baseline_warns(level: str) -> None:
    path = build_c(
        "hello.c",
        cflags=[f"-march={level}", "-Wa,-mx86-used-note=yes", "-Wl,-z,x86-64-v3"],
        out_name=f"hello-{level}",
    )
    info = read_elf(path)
    if info.isa_level != level:
        pytest.skip(f"this binutils did not record the ISA level note (got {info.isa_level})")
    result = check_path(str(path), get_target("debian:12"))
    assert ("isa-level", "warning") in kinds(result)
    assert result.verdict == "runs"


def test_musl_reserved_names_are_musl_itself_where_the_base_system_is_measured() -> None:
    # zig links musl programs against "libc.so"; musl's loader answers it (and libm.so, libpthread.so, ...)
    # with itself, whatever the library directories hold.
    path = str(MATRIX_BINARIES["musl-dynamic"]())
    assert "libc.so" in read_elf(path).needed
    for name in ("alpine:3.21", "alpine:3.19", "musllinux_1_2"):
        assert check_path(path, get_target(name)).verdict == "runs", name


def test_build_names_the_nss_functions_a_static_glibc_program_defines(tmp_path: Path) -> None:
    """build's static-nss warning names the functions (from .symtab), or says stripped (glibc's marker)."""
    from elfship.builder.nss import nss_functions

    program = build_c("nss.c", cflags=["-static"], out_name="nss-static")
    assert {"getaddrinfo", "getpwnam"} <= set(nss_functions(program))
    stripped = tmp_path / "nss-stripped"
    subprocess.run(["strip", "-o", str(stripped), str(program)], check=True)
    assert nss_functions(stripped) == ("<unknown: stripped>",)
    plain = build_c("hello.c", cflags=["-static"], out_name="hello-static")
    assert nss_functions(plain) == ()
