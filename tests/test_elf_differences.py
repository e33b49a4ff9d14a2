"""The deliberate differences between elfship's reader and readelf / pyelftools, one test each.

docs/elf.md lists them with the reasons; the test names here are cited there.
"""

from __future__ import annotations

import shutil
import struct
import subprocess
from pathlib import Path

import pytest

from elfship.elf import Kind, LibcFamily, read_elf, read_version_symbols
from elfship.elf.constants import machine_name
from tests.support.binaries import versioned_library
from tests.support.fixtures import build_c, copy_fixture


def readelf(*args: str) -> str:
    if shutil.which("readelf") is None:
        pytest.skip("readelf not installed (apt-get install binutils)")
    return subprocess.run(["readelf", "-W", *args], capture_output=True, text=True, check=True).stdout


def test_version_definitions_leave_out_the_base_entry() -> None:
    path = versioned_library()
    assert "Flags: BASE" in readelf("-V", str(path)) and "Name: libversioned.so.1" in readelf("-V", str(path))
    assert read_elf(path).version_definitions == ("LIBSHARED_1.0",)


def test_empty_path_list_elements_are_dropped() -> None:
    path = build_c(
        "libshared.c",
        cflags=["-shared", "-fPIC"],
        ldflags=["-Wl,-rpath,/opt/a::/opt/b", "-Wl,--enable-new-dtags"],
        out_name="libemptyrunpath.so",
    )
    assert "[/opt/a::/opt/b]" in readelf("-d", str(path))
    assert read_elf(path).runpath == ("/opt/a", "/opt/b")


def test_flags_merge_dt_flags_and_dt_flags_1() -> None:
    path = build_c("hello.c", ldflags=["-Wl,-z,origin", "-Wl,-z,now"], out_name="hello-origin-now")
    dynamic = readelf("-d", str(path))
    assert "ORIGIN" in dynamic.split("(FLAGS)")[1].splitlines()[0]
    assert "ORIGIN" in dynamic.split("(FLAGS_1)")[1].splitlines()[0]
    flags = read_elf(path).flags
    assert flags.count("ORIGIN") == 1 and {"BIND_NOW", "NOW", "PIE"} <= set(flags)


def test_isa_level_is_the_needed_level_above_baseline_only() -> None:
    baseline = build_c("hello.c")
    assert "x86 ISA needed: x86-64-baseline" in readelf("-n", str(baseline))
    assert read_elf(baseline).isa_level is None
    v3 = build_c(
        "hello.c", cflags=["-march=x86-64-v3"], ldflags=["-Wl,-z,x86-64-v3"], out_name="hello-x86-64-v3"
    )
    assert "x86-64-baseline, x86-64-v3" in readelf("-n", str(v3))
    assert read_elf(v3).isa_level == "x86-64-v3"


def test_symbol_count_survives_an_empty_gnu_hash_table() -> None:
    # ld writes a one-bucket, all-empty GNU hash table when nothing is exported; its symoffset (1) is not a
    # count. pyelftools' DynamicSegment.num_symbols() answers 1 here; .dynsym really holds more.
    path = build_c("hello.c", cflags=["-shared", "-fPIC", "-fvisibility=hidden"], out_name="libnothing.so")
    line = next(x for x in readelf("--dyn-syms", str(path)).splitlines() if "'.dynsym' contains" in x)
    entries = int(line.split("contains")[1].split()[0])
    assert entries > 1 and read_elf(path).dynamic_symbol_count == entries


def test_version_symbols_are_undefined_references_to_required_versions() -> None:
    program = build_c("pow.c", ldflags=["-lm"])
    symbols = read_version_symbols(program)
    assert "__cxa_finalize" in symbols["libc.so.6"]["GLIBC_2.2.5"]  # weak undefined: still a reference
    library = versioned_library()
    assert "shared_answer@@LIBSHARED_1.0" in readelf("--dyn-syms", str(library))
    assert "LIBSHARED_1.0" not in str(read_version_symbols(library))  # an export, not a requirement


def test_debug_info_means_in_this_file(tmp_path: Path) -> None:
    if shutil.which("objcopy") is None:
        pytest.skip("objcopy not installed (apt-get install binutils)")
    debug = copy_fixture(build_c("hello.c", cflags=["-g"], out_name="hello-g"), tmp_path)
    separate = tmp_path / "hello.debug"
    subprocess.run(["objcopy", "--only-keep-debug", str(debug), str(separate)], check=True)
    subprocess.run(["objcopy", "--strip-debug", f"--add-gnu-debuglink={separate}", str(debug)], check=True)
    info = read_elf(debug)
    assert ".gnu_debuglink" in info.sections and (info.debug_info, info.stripped) == (False, False)
    assert read_elf(separate).debug_info is True


def test_a_malformed_note_ends_the_note_list_without_error(tmp_path: Path) -> None:
    data = bytearray(build_c("hello.c").read_bytes())
    abi_tag = data.find(struct.pack("<III", 4, 16, 1) + b"GNU\0")  # namesz, descsz, NT_GNU_ABI_TAG
    assert abi_tag > 0
    struct.pack_into("<I", data, abi_tag + 4, 0xFFFFFFF0)  # descsz far past the segment
    path = tmp_path / "bad-note"
    path.write_bytes(data)
    info = read_elf(path)
    assert info.min_kernel is None and info.build_id is not None and info.kind is Kind.DYNAMIC


def test_a_bad_section_name_reads_as_empty(tmp_path: Path) -> None:
    data = bytearray(build_c("hello.c").read_bytes())
    shoff = struct.unpack_from("<Q", data, 40)[0]
    struct.pack_into("<I", data, shoff + 64, 0x00FFFFFF)  # sh_name of section 1
    path = tmp_path / "bad-section-name"
    path.write_bytes(data)
    assert "<corrupt>" in readelf("-S", str(path))
    info = read_elf(path)
    assert info.sections[1] == "" and info.needed == ("libc.so.6",)


def test_glibc_itself_is_classified_by_what_it_defines() -> None:
    libc, loader = Path("/lib/x86_64-linux-gnu/libc.so.6"), Path("/lib64/ld-linux-x86-64.so.2")
    if not (libc.exists() and loader.exists()):
        pytest.skip("not an x86_64 glibc host")
    libc_info, loader_info = read_elf(libc), read_elf(loader)
    assert libc_info.kind is Kind.DYNAMIC  # libc.so.6 has PT_INTERP: it can be run, it prints its version
    assert loader_info.kind is Kind.SHARED_LIBRARY
    assert libc_info.libc.family is LibcFamily.GLIBC and loader_info.libc.family is LibcFamily.GLIBC


@pytest.mark.parametrize(
    ("e_machine", "elf_class", "little_endian", "name"),
    [
        (62, 64, True, "x86_64"),
        (3, 32, True, "i386"),
        (183, 64, True, "aarch64"),
        (40, 32, True, "arm"),
        (243, 64, True, "riscv64"),
        (243, 32, True, "riscv32"),
        (21, 64, True, "ppc64le"),
        (21, 64, False, "ppc64"),
        (22, 64, False, "s390x"),
        (258, 64, True, "loongarch64"),
        (8, 64, True, "mips64el"),
        (0x1234, 64, True, "unknown(4660)"),
    ],
)
def test_machine_names_are_the_distribution_names(
    e_machine: int, elf_class: int, little_endian: bool, name: str
) -> None:
    assert machine_name(e_machine, elf_class, little_endian) == name
