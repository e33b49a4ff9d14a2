"""Every fixture kind, built at test time, read field by field against what is known by construction.

The host is Debian 12 (glibc 2.36, binutils 2.40): a gcc-built program there binds __libc_start_main to
GLIBC_2.34 and pow/exp to libm's GLIBC_2.29. Where a value depends on the host's glibc, it is asserted only
when the host is new enough to have it.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from elfship.abi import version_key
from elfship.elf import ElfInfo, Kind, LibcFamily, read_elf, read_version_symbols
from tests.support.binaries import versioned_library
from tests.support.fixtures import build_c, build_cargo, copy_fixture, strip_section_headers

HOST_GLIBC = os.confstr("CS_GNU_LIBC_VERSION").split()[-1]  # e.g. "glibc 2.36" -> "2.36"
X86_64_LOADER = "/lib64/ld-linux-x86-64.so.2"
BUILD_ID = re.compile(r"^[0-9a-f]{40}$")  # ld's default --build-id=sha1


def host_glibc_at_least(version: str) -> bool:
    return version_key(HOST_GLIBC) >= version_key(version)


def highest_glibc(info: ElfInfo) -> str:
    versions = [v[len("GLIBC_") :] for n in info.version_needs for v in n.versions if v.startswith("GLIBC_2")]
    return max(versions, key=version_key)


def assert_consistent(info: ElfInfo) -> None:
    """What must hold for every file: min_version is the highest GLIBC_ node, symbols match the needs."""
    if info.libc.family is LibcFamily.GLIBC and info.kind is Kind.DYNAMIC:
        assert info.libc.min_version == highest_glibc(info)
    symbols = read_version_symbols(info.path)
    assert read_elf(info.path, with_symbols=True).symbols_by_version() == symbols
    for library, versions in symbols.items():
        assert set(versions) <= set(info.versions_needed_from(library))


# ---- C with gcc -------------------------------------------------------------------------------------------


def test_gcc_dynamic_hello() -> None:
    info = read_elf(build_c("hello.c"))
    assert (info.kind, info.machine, info.e_machine, info.elf_class, info.endianness) == (
        Kind.DYNAMIC,
        "x86_64",
        62,
        64,
        "little",
    )
    assert info.interpreter == X86_64_LOADER
    assert info.needed == ("libc.so.6",)
    assert (info.soname, info.rpath, info.runpath) == (None, (), ())
    assert "PIE" in info.flags  # Debian's gcc builds PIE by default
    assert info.e_type == 3  # ET_DYN, as every PIE
    assert info.libc.family is LibcFamily.GLIBC
    assert "GLIBC_2.2.5" in info.versions_needed_from("libc.so.6")
    symbols = read_version_symbols(info.path)
    assert "puts" in symbols["libc.so.6"]["GLIBC_2.2.5"]
    if host_glibc_at_least("2.34"):
        assert symbols["libc.so.6"]["GLIBC_2.34"] == ("__libc_start_main",)
        assert info.libc.min_version == "2.34"
    assert info.build_id is not None and BUILD_ID.match(info.build_id)
    assert info.min_kernel == "3.2.0"  # glibc's ABI tag on x86_64
    assert info.isa_level is None  # baseline
    assert (info.stripped, info.debug_info, info.uses_nss) == (False, False, None)
    assert {".text", ".dynamic", ".dynsym", ".interp"} <= set(info.sections)
    assert info.dynamic_symbol_count is not None and info.dynamic_symbol_count >= 3
    assert info.size == Path(info.path).stat().st_size
    assert_consistent(info)


def test_gcc_debug_info_and_stripped() -> None:
    with_debug = read_elf(build_c("hello.c", cflags=["-g"], out_name="hello-g"))
    stripped = read_elf(build_c("hello.c", ldflags=["-s"], out_name="hello-s"))
    assert (with_debug.stripped, with_debug.debug_info) == (False, True)
    assert (stripped.stripped, stripped.debug_info) == (True, False)
    assert ".debug_info" in with_debug.sections and ".symtab" not in stripped.sections


def test_pow_needs_glibc_2_29_from_libm_for_exp_and_pow() -> None:
    if not host_glibc_at_least("2.29"):
        pytest.skip(f"host glibc {HOST_GLIBC} predates the GLIBC_2.29 exp/pow")
    info = read_elf(build_c("pow.c", ldflags=["-lm"]))
    assert info.needed == ("libm.so.6", "libc.so.6")
    assert "GLIBC_2.29" in info.versions_needed_from("libm.so.6")
    symbols = read_version_symbols(info.path)
    assert symbols["libm.so.6"] == {"GLIBC_2.29": ("exp", "pow")}
    assert {"atof", "printf"} <= set(symbols["libc.so.6"]["GLIBC_2.2.5"])
    assert_consistent(info)


def test_relocatable_object() -> None:
    info = read_elf(build_c("hello.c", cflags=["-c"], out_name="hello.o"))
    assert (info.kind, info.e_type, info.interpreter, info.needed) == (Kind.OBJECT, 1, None, ())
    assert info.libc.family is LibcFamily.UNKNOWN


# ---- static, static-pie, NSS ------------------------------------------------------------------------------


def test_static_glibc() -> None:
    info = read_elf(build_c("hello.c", cflags=["-static"], out_name="hello-static"))
    assert (info.kind, info.e_type, info.interpreter, info.needed) == (Kind.STATIC, 2, None, ())
    assert (info.libc.family, info.libc.min_version) == (LibcFamily.GLIBC, None)
    assert info.uses_nss is False
    assert info.version_needs == () and info.dynamic_symbol_count is None
    assert info.min_kernel == "3.2.0"
    assert read_version_symbols(info.path) == {}


def test_static_pie_glibc() -> None:
    info = read_elf(build_c("hello.c", cflags=["-static-pie"], out_name="hello-static-pie"))
    assert (info.kind, info.e_type, info.interpreter, info.needed) == (Kind.STATIC_PIE, 3, None, ())
    assert "PIE" in info.flags
    assert (info.libc.family, info.libc.min_version, info.uses_nss) == (LibcFamily.GLIBC, None, False)


def test_static_glibc_with_nss_is_flagged() -> None:
    info = read_elf(build_c("nss.c", cflags=["-static"], out_name="nss-static"))
    assert (info.kind, info.libc.family, info.uses_nss) == (Kind.STATIC, LibcFamily.GLIBC, True)


# ---- zig: musl, pinned glibc, other architectures ---------------------------------------------------------


def test_static_musl() -> None:
    info = read_elf(build_c("hello.c", compiler="zig", zig_target="x86_64-linux-musl", out_name="hello-musl"))
    assert (info.kind, info.interpreter, info.needed, info.version_needs) == (Kind.STATIC, None, (), ())
    assert (info.libc.family, info.libc.min_version, info.uses_nss) == (LibcFamily.MUSL, None, None)
    assert info.machine == "x86_64"


def test_static_musl_named_only_by_its_symbols(tmp_path: Path) -> None:
    """A musl program that links no strerror table says musl only through its symbol names: it is musl while
    it has a symbol table, and stripped it is unknown. A symbol name anywhere else does not count: a file
    with section headers but no symbol table (or debug strings) is not searched for it."""
    if shutil.which("objcopy") is None:
        pytest.skip("objcopy not installed (apt-get install binutils)")
    program = build_c("exit42.c", compiler="zig", zig_target="x86_64-linux-musl", out_name="exit42-musl")
    data = program.read_bytes()
    assert b"No error information" not in data and b"\0__init_libc\0" in data
    assert read_elf(program).libc.family is LibcFamily.MUSL
    stripped, planted, name = tmp_path / "stripped", tmp_path / "planted", tmp_path / "name"
    subprocess.run(["objcopy", "--strip-all", str(program), str(stripped)], check=True)
    assert b"\0__init_libc\0" not in stripped.read_bytes()
    assert read_elf(stripped).libc.family is LibcFamily.UNKNOWN
    name.write_bytes(b"\0__init_libc\0")
    subprocess.run(
        ["objcopy", f"--add-section=.note.elfship={name}", str(stripped), str(planted)], check=True
    )
    assert b"\0__init_libc\0" in planted.read_bytes()
    assert read_elf(planted).libc.family is LibcFamily.UNKNOWN


def test_dynamic_musl() -> None:
    path = build_c(
        "hello.c",
        compiler="zig",
        zig_target="x86_64-linux-musl",
        ldflags=["-dynamic"],
        out_name="hello-musl-dyn",
    )
    info = read_elf(path)
    assert (info.kind, info.interpreter) == (Kind.DYNAMIC, "/lib/ld-musl-x86_64.so.1")
    assert info.needed == ("libc.so",)
    assert (info.libc.family, info.libc.min_version) == (LibcFamily.MUSL, None)
    assert info.version_needs == ()  # musl has no symbol versions


def test_glibc_pinned_to_2_17() -> None:
    path = build_c(
        "pow.c", compiler="zig", zig_target="x86_64-linux-gnu.2.17", ldflags=["-lm"], out_name="pow-glibc217"
    )
    info = read_elf(path)
    assert (info.kind, info.interpreter) == (Kind.DYNAMIC, X86_64_LOADER)
    assert (info.libc.family, info.libc.min_version) == (LibcFamily.GLIBC, "2.17")
    every = [v for need in info.version_needs for v in need.versions if v.startswith("GLIBC_2")]
    assert max(every, key=lambda v: version_key(v[6:])) == "GLIBC_2.17"
    symbols = read_version_symbols(path)
    assert symbols["libm.so.6"] == {"GLIBC_2.2.5": ("pow",)}  # the pre-2.29 pow, as pinned
    assert_consistent(info)


# target -> (machine, e_machine, class, endianness, kind, interpreter, libc family)
CROSS = {
    "aarch64-linux-musl": ("aarch64", 183, 64, "little", Kind.STATIC, None, LibcFamily.MUSL),
    "x86-linux-gnu": ("i386", 3, 32, "little", Kind.DYNAMIC, "/lib/ld-linux.so.2", LibcFamily.GLIBC),
    "arm-linux-musleabihf": ("arm", 40, 32, "little", Kind.STATIC, None, LibcFamily.MUSL),
    "riscv64-linux-musl": ("riscv64", 243, 64, "little", Kind.STATIC, None, LibcFamily.MUSL),
    "powerpc64-linux-musl": ("ppc64", 21, 64, "big", Kind.STATIC, None, LibcFamily.MUSL),
    "powerpc64le-linux-gnu": (
        "ppc64le",
        21,
        64,
        "little",
        Kind.DYNAMIC,
        "/lib64/ld64.so.2",
        LibcFamily.GLIBC,
    ),
    "s390x-linux-gnu": ("s390x", 22, 64, "big", Kind.DYNAMIC, "/lib/ld64.so.1", LibcFamily.GLIBC),
}


@pytest.mark.parametrize("target", sorted(CROSS))
def test_cross_architecture(target: str) -> None:
    machine, e_machine, elf_class, endianness, kind, interpreter, family = CROSS[target]
    info = read_elf(build_c("hello.c", compiler="zig", zig_target=target, out_name=f"hello-{target}"))
    assert (info.machine, info.e_machine, info.elf_class, info.endianness) == (
        machine,
        e_machine,
        elf_class,
        endianness,
    )
    assert (info.kind, info.interpreter, info.libc.family) == (kind, interpreter, family)
    assert info.isa_level is None  # an x86 notion only
    if kind is Kind.DYNAMIC:
        assert "libc.so.6" in info.needed
        assert "puts" in {s for v in read_version_symbols(info.path)["libc.so.6"].values() for s in v}
        assert_consistent(info)


# ---- x86 ISA level -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("level", ["x86-64-v2", "x86-64-v3", "x86-64-v4"])
def test_isa_level_note(level: str) -> None:
    # -march makes the code need the level; `-z x86-64-vN` makes ld record it as GNU_PROPERTY_X86_ISA_1_NEEDED
    # (which glibc >= 2.33 checks at load time). -mx86-used-note only records ISA_1_USED.
    path = build_c(
        "hello.c", cflags=[f"-march={level}"], ldflags=[f"-Wl,-z,{level}"], out_name=f"hello-{level}"
    )
    assert read_elf(path).isa_level == level


# ---- Rust ----------------------------------------------------------------------------------------------------


def test_rust_default_build() -> None:
    info = read_elf(build_cargo("hello"))
    assert (info.kind, info.interpreter, info.libc.family) == (Kind.DYNAMIC, X86_64_LOADER, LibcFamily.GLIBC)
    assert {"libc.so.6", "libgcc_s.so.1"} <= set(info.needed)
    assert {"NOW", "PIE"} <= set(info.flags)  # rustc links with -z now and as PIE
    symbols = read_version_symbols(info.path)
    assert "_Unwind_Resume" in {s for v in symbols["libgcc_s.so.1"].values() for s in v}
    if host_glibc_at_least("2.29"):
        assert symbols["libm.so.6"] == {"GLIBC_2.29": ("pow",)}  # powf(3.0) on an f64 is libm's pow
    assert_consistent(info)


def test_rust_crt_static_build() -> None:
    path = build_cargo(
        "hello", rustflags=["-C", "target-feature=+crt-static"], target="x86_64-unknown-linux-gnu"
    )
    info = read_elf(path)
    # rustc makes static-pie for x86_64-unknown-linux-gnu with crt-static (since Rust 1.52).
    assert (info.kind, info.interpreter, info.needed) == (Kind.STATIC_PIE, None, ())
    assert (info.libc.family, info.libc.min_version) == (LibcFamily.GLIBC, None)
    assert read_version_symbols(path) == {}


# ---- shared libraries ----------------------------------------------------------------------------------------


def test_shared_library_with_soname_and_runpath() -> None:
    path = build_c(
        "libshared.c",
        cflags=["-shared", "-fPIC"],
        ldflags=["-Wl,-soname,libshared.so.1", "-Wl,-rpath,$ORIGIN/../lib", "-Wl,--enable-new-dtags"],
        out_name="libshared.so.1",
    )
    info = read_elf(path)
    assert (info.kind, info.soname, info.interpreter) == (Kind.SHARED_LIBRARY, "libshared.so.1", None)
    assert (info.runpath, info.rpath) == (("$ORIGIN/../lib",), ())
    assert info.version_definitions == ()


def test_shared_library_with_rpath_and_version_definitions() -> None:
    path = versioned_library()
    info = read_elf(path)
    assert (info.kind, info.soname) == (Kind.SHARED_LIBRARY, "libversioned.so.1")
    assert (info.rpath, info.runpath) == (("/opt/a", "/opt/b"), ())
    assert info.version_definitions == ("LIBSHARED_1.0",)


def test_cxx_needs_glibcxx() -> None:
    info = read_elf(build_c("cxx_new.cpp", compiler="g++", cflags=["-std=c++17"], out_name="cxx_new"))
    assert "libstdc++.so.6" in info.needed
    assert any(v.startswith("GLIBCXX_3.4.") for v in info.versions_needed_from("libstdc++.so.6"))
    assert_consistent(info)


# ---- no section headers --------------------------------------------------------------------------------------


def test_section_headers_removed(tmp_path: Path) -> None:
    original_path = build_c("pow.c", ldflags=["-lm"])
    path = strip_section_headers(original_path, tmp_path / "pow-sstripped")
    assert path.stat().st_size < original_path.stat().st_size
    original, info = read_elf(original_path), read_elf(path)
    assert (info.stripped, info.debug_info, info.sections) == (None, None, ())
    for field in (
        "kind",
        "interpreter",
        "needed",
        "flags",
        "version_needs",
        "libc",
        "build_id",
        "min_kernel",
        "dynamic_symbol_count",
    ):
        assert getattr(info, field) == getattr(original, field), field
    assert read_version_symbols(path) == read_version_symbols(original_path)
    # Ground truth that the file is still a valid program: it runs (our own fixture, not a file under test).
    run = subprocess.run([str(path), "2"], capture_output=True, text=True, timeout=30)
    assert run.returncode == 0 and run.stdout.startswith("1024.000000")


def test_section_headers_removed_from_library_without_hash_count(tmp_path: Path) -> None:
    # A library exporting nothing gets an empty GNU hash table, which cannot count .dynsym: without section
    # headers the count comes from where .dynstr starts.
    library = build_c("hello.c", cflags=["-shared", "-fPIC", "-fvisibility=hidden"], out_name="libnothing.so")
    copy = copy_fixture(library, tmp_path)
    info, bare = read_elf(copy), read_elf(strip_section_headers(copy, tmp_path / "bare.so"))
    assert bare.dynamic_symbol_count == info.dynamic_symbol_count
    assert read_version_symbols(tmp_path / "bare.so") == read_version_symbols(copy)
