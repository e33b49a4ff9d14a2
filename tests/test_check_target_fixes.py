"""Small truths of issue 13: DT_RELR raises the glibc floor, plugins are shared libraries, the tree header
names only a declared ISA level, and the NODEFLIB hint names NODEFLIB."""

from __future__ import annotations

import glob
import subprocess
import sys

import pytest

from elfship.check import check_path
from elfship.elf import Kind, read_elf
from elfship.resolve import resolve
from elfship.targets import get_target
from tests.support.fixtures import build_c


def elfship(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "elfship", *args], capture_output=True, text=True, timeout=300
    )


def test_pack_relative_relocs_needs_glibc_2_36() -> None:
    path = build_c("hello.c", ldflags=["-Wl,-z,pack-relative-relocs"], out_name="hello-relr")
    info = read_elf(path)
    if "GLIBC_ABI_DT_RELR" not in info.versions_needed_from("libc.so.6"):
        pytest.skip("this linker does not support -z pack-relative-relocs (binutils >= 2.38)")
    assert info.libc.min_version == "2.36"
    assert check_path(str(path), get_target("debian:12")).verdict == "runs"
    debian11 = check_path(str(path), get_target("debian:11"))
    missing = {v for f in debian11.errors for v in f.evidence.get("versions", [])}
    assert "GLIBC_ABI_DT_RELR" in missing


def test_a_plugin_is_a_shared_library_not_a_static_pie() -> None:
    plugin = build_c("py_plugin.c", cflags=["-shared", "-fPIC", "-nostdlib"], out_name="plugin.so")
    info = read_elf(plugin)
    assert (info.needed, info.soname, "PIE" in info.flags) == ((), None, False)
    assert info.kind is Kind.SHARED_LIBRARY
    result = check_path(str(plugin), get_target("debian:12"))
    assert result.verdict == "runs" and not [f for f in result.findings if f.kind == "static"]
    # A real static-pie keeps its kind: DF_1_PIE says so.
    assert read_elf(build_c("hello.c", cflags=["-static-pie"], out_name="hello-spie")).kind is Kind.STATIC_PIE


def test_python_lib_dynload_modules_without_needed_are_shared_libraries() -> None:
    modules = [p for p in sorted(glob.glob("/usr/lib/python3*/lib-dynload/*.so")) if not read_elf(p).needed]
    if not modules:
        pytest.skip("no Python lib-dynload module without NEEDED on this machine (apt-get install python3)")
    assert {read_elf(p).kind for p in modules} == {Kind.SHARED_LIBRARY}


def test_tree_header_names_only_a_declared_isa_level() -> None:
    plain = elfship("tree", str(build_c("hello.c")))
    assert "x86-64" not in plain.stdout.splitlines()[0]
    v3 = elfship("tree", str(build_c("hello.c", ldflags=["-Wl,-z,x86-64-v3"], out_name="hello-v3")))
    assert "needs x86-64-v3" in v3.stdout.splitlines()[0]


def test_nodeflib_hint_names_nodeflib() -> None:
    path = build_c("hello.c", ldflags=["-Wl,-z,nodefaultlib"], out_name="hello-nodeflib")
    resolution = resolve(path)
    (libc,) = [lib for lib in resolution.missing if lib.soname == "libc.so.6"]
    assert libc.hint is not None and "DF_1_NODEFLIB" in libc.hint and "run ldconfig" not in libc.hint
    truth = subprocess.run([str(path)], capture_output=True, text=True)
    assert truth.returncode == 127 and "libc.so.6" in truth.stderr
