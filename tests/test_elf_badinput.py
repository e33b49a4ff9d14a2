"""Bad input: read_elf raises ElfError (never anything else, never hangs, bounded memory), and
`elfship inspect` reports one line per bad file, exit 2, while still reporting the good files of the call.
"""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
import tempfile
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from elfship.elf import ElfInfo, read_elf, read_version_symbols
from elfship.elf import constants as c
from elfship.errors import ElfError
from tests.support.fixtures import build_c

Corruption = Callable[[bytearray, "Elf64"], None]
DT_DEBUG = 21


def read_all_ways(path: Path) -> ElfInfo | ElfError:
    """Every public entry point; returns the ElfInfo or the ElfError, and lets any other exception fly.

    read_elf(path) without symbols runs a subset of the with_symbols parse, so it is not called again.
    """
    try:
        info = read_elf(path, with_symbols=True)
        read_version_symbols(path)
        return info
    except ElfError as exc:
        assert exc.path == str(path) and exc.problem and "\n" not in exc.one_line()
        return exc


@pytest.fixture(scope="module")
def small_program() -> Path:
    # Both hash tables (DT_HASH and DT_GNU_HASH), versions from two libraries: every structure is present.
    # noseparate-code keeps it at 8 KB instead of 16 KB, so truncating it at every length stays quick.
    return build_c(
        "pow.c", ldflags=["-lm", "-Wl,--hash-style=both", "-Wl,-z,noseparate-code"], out_name="pow-bothhash"
    )


# ---- a minimal editor for little-endian ELF64 fixtures ------------------------------------------------------


@dataclass
class Elf64:
    """Where things are in an x86_64 fixture, so a test can corrupt one field precisely."""

    data: bytearray
    phoff: int
    phnum: int
    shoff: int
    segments: list[tuple[int, int, int, int, int]]  # (header offset, p_type, p_offset, p_vaddr, p_filesz)

    @classmethod
    def parse(cls, data: bytearray) -> Elf64:
        phoff, shoff = struct.unpack_from("<QQ", data, 32)
        phnum = struct.unpack_from("<H", data, 56)[0]
        segments = []
        for index in range(phnum):
            at = phoff + 56 * index
            p_type, _, offset, vaddr, _, filesz = struct.unpack_from("<IIQQQQ", data, at)
            segments.append((at, p_type, offset, vaddr, filesz))
        return cls(data, phoff, phnum, shoff, segments)

    def segment(self, p_type: int) -> tuple[int, int, int, int, int]:
        return next(s for s in self.segments if s[1] == p_type)

    def file_offset(self, vaddr: int) -> int:
        for _, p_type, offset, start, filesz in self.segments:
            if p_type == c.PT_LOAD and start <= vaddr < start + filesz:
                return offset + vaddr - start
        raise AssertionError(f"address {vaddr:#x} not mapped")

    def dynamic_entry(self, tag: int) -> int:
        """File offset of the first dynamic entry with this tag."""
        _, _, offset, _, filesz = self.segment(c.PT_DYNAMIC)
        for at in range(offset, offset + filesz, 16):
            if struct.unpack_from("<q", self.data, at)[0] == tag:
                return at
        raise AssertionError(f"no dynamic tag {tag:#x}")

    def dynamic_value(self, tag: int) -> int:
        return int(struct.unpack_from("<Q", self.data, self.dynamic_entry(tag) + 8)[0])

    def set_dynamic(self, tag: int, value: int) -> None:
        struct.pack_into("<Q", self.data, self.dynamic_entry(tag) + 8, value)

    def table(self, tag: int) -> int:
        return self.file_offset(self.dynamic_value(tag))


def put(fmt: str, offset: int, value: int) -> Corruption:
    def corrupt(data: bytearray, elf: Elf64) -> None:
        struct.pack_into(fmt, data, offset, value)

    return corrupt


def put_segment(p_type: int, field_offset: int, value: int) -> Corruption:
    """Overwrite a program header field (8 = p_offset, 32 = p_filesz) of the first segment of that type."""

    def corrupt(data: bytearray, elf: Elf64) -> None:
        struct.pack_into("<Q", data, elf.segment(p_type)[0] + field_offset, value)

    return corrupt


def put_dynamic(tag: int, value: int) -> Corruption:
    return lambda data, elf: elf.set_dynamic(tag, value)


def put_in_table(tag: int, fmt: str, field_offset: int, value: int) -> Corruption:
    """Overwrite a field inside the table a dynamic entry points at (DT_VERNEED, DT_GNU_HASH, ...)."""

    def corrupt(data: bytearray, elf: Elf64) -> None:
        struct.pack_into(fmt, data, elf.table(tag) + field_offset, value)

    return corrupt


def without_sysv_hash(corruption: Corruption) -> Corruption:
    """Retag DT_HASH as DT_DEBUG (ignored), so the symbol count has to come from DT_GNU_HASH."""

    def corrupt(data: bytearray, elf: Elf64) -> None:
        struct.pack_into("<q", data, elf.dynamic_entry(c.DT_HASH), DT_DEBUG)
        corruption(data, elf)

    return corrupt


def gnu_hash_without_end_bits(data: bytearray, elf: Elf64) -> None:
    """Append a GNU hash table whose one chain never ends, at the end of the file, and point DT_GNU_HASH
    at it (the last PT_LOAD grows to cover it): the chain walk must stop at the end of the file."""
    header, _, offset, vaddr, _ = [s for s in elf.segments if s[1] == c.PT_LOAD][-1]
    start = len(data)
    # nbuckets 1, symoffset 1, one bloom word, bucket 0 -> symbol 1, then 64 chain words without bit 0.
    data.extend(struct.pack("<IIIIQI", 1, 1, 1, 6, (1 << 64) - 1, 1) + struct.pack("<64I", *[2] * 64))
    struct.pack_into("<QQ", data, header + 32, len(data) - offset, len(data) - offset)  # p_filesz, p_memsz
    elf.set_dynamic(c.DT_GNU_HASH, vaddr + start - offset)


def pn_xnum_with_2_to_32_headers(data: bytearray, elf: Elf64) -> None:
    # e_phnum = PN_XNUM sends the reader to section 0's sh_info for the real count: claim 2^32 - 1.
    struct.pack_into("<H", data, 56, 0xFFFF)
    struct.pack_into("<I", data, elf.shoff + 44, 0xFFFFFFFF)


def verneed_chain_to_the_end(data: bytearray, elf: Elf64) -> None:
    # Claim 2^32 - 1 needs and make each vn_next step 16 bytes: the walk must stop at a bound, not loop.
    elf.set_dynamic(c.DT_VERNEEDNUM, 0xFFFFFFFF)
    struct.pack_into("<I", data, elf.table(c.DT_VERNEED) + 12, 16)


CORRUPTIONS: dict[str, Corruption] = {
    "class 3": put("<B", 4, 3),
    "byte order 3": put("<B", 5, 3),
    "phoff past the end": put("<Q", 32, 1 << 40),
    "phoff 2^64-1": put("<Q", 32, (1 << 64) - 1),
    "phentsize 1": put("<H", 54, 1),
    "phnum PN_XNUM -> 2^32 program headers": pn_xnum_with_2_to_32_headers,
    "shoff past the end": put("<Q", 40, 1 << 40),
    "shnum 65535": put("<H", 60, 0xFFFF),
    "shentsize 1": put("<H", 58, 1),
    "shstrndx out of range": put("<H", 62, 0xFFFE),
    "PT_DYNAMIC offset past the end": put_segment(c.PT_DYNAMIC, 8, 1 << 40),
    "PT_DYNAMIC size 2^62": put_segment(c.PT_DYNAMIC, 32, 1 << 62),
    "PT_INTERP offset past the end": put_segment(c.PT_INTERP, 8, 1 << 40),
    "PT_INTERP size 2^62": put_segment(c.PT_INTERP, 32, 1 << 62),
    "PT_NOTE size 2^62": put_segment(c.PT_NOTE, 32, 1 << 62),
    "DT_STRTAB outside the segments": put_dynamic(c.DT_STRTAB, 0xDEAD_BEEF_0000),
    "DT_STRSZ 2^63": put_dynamic(c.DT_STRSZ, 1 << 63),
    "DT_NEEDED name past the string table": put_dynamic(c.DT_NEEDED, 0xFFFF_FFFF),
    "DT_VERNEED outside the segments": put_dynamic(c.DT_VERNEED, 0xDEAD_BEEF_0000),
    "DT_VERNEEDNUM 2^32-1 with vn_next stepping on": verneed_chain_to_the_end,
    "vn_next 0 with DT_VERNEEDNUM 2^32-1": put_dynamic(c.DT_VERNEEDNUM, 0xFFFFFFFF),
    "vn_cnt 65535": put_in_table(c.DT_VERNEED, "<H", 2, 0xFFFF),
    "vn_aux past the end": put_in_table(c.DT_VERNEED, "<I", 8, 0xFFFF_FFF0),
    "vn_file past the string table": put_in_table(c.DT_VERNEED, "<I", 4, 0xFFFF_FFF0),
    "vna_next stepping on": put_in_table(c.DT_VERNEED, "<H", 2, 0xFFFF),
    "DT_VERSYM outside the segments": put_dynamic(c.DT_VERSYM, 0xDEAD_BEEF_0000),
    "DT_SYMTAB outside the segments": put_dynamic(c.DT_SYMTAB, 0xDEAD_BEEF_0000),
    "DT_HASH nchain 2^32-1": put_in_table(c.DT_HASH, "<I", 4, 0xFFFFFFFF),
    "DT_GNU_HASH nbuckets 2^32-1": without_sysv_hash(put_in_table(c.DT_GNU_HASH, "<I", 0, 0xFFFFFFFF)),
    "DT_GNU_HASH bloom size 2^32-1": without_sysv_hash(put_in_table(c.DT_GNU_HASH, "<I", 8, 0xFFFFFFFF)),
    "DT_GNU_HASH symoffset 2^32-1": without_sysv_hash(put_in_table(c.DT_GNU_HASH, "<I", 4, 0xFFFFFFFF)),
    "GNU hash chains with no end bit": without_sysv_hash(gnu_hash_without_end_bits),
}


@pytest.mark.parametrize("name", sorted(CORRUPTIONS))
def test_corrupted_field_gives_elf_error_or_facts(name: str, small_program: Path, tmp_path: Path) -> None:
    data = bytearray(small_program.read_bytes())
    CORRUPTIONS[name](data, Elf64.parse(data))
    path = tmp_path / "corrupt"
    path.write_bytes(data)
    tracemalloc.start()
    try:
        result = read_all_ways(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert isinstance(result, ElfInfo | ElfError)
    assert peak < 4 * 1024 * 1024, f"{name}: {peak} bytes allocated for a {len(data)}-byte file"


MUST_FAIL = {
    "class 3": "unknown ELF class",
    "byte order 3": "unknown ELF byte order",
    "phoff past the end": "program header table",
    "phnum PN_XNUM -> 2^32 program headers": "program headers",
    "PT_DYNAMIC offset past the end": "dynamic section",
    "DT_STRTAB outside the segments": "DT_STRTAB",
    "DT_VERNEED outside the segments": "DT_VERNEED",
    "GNU hash chains with no end bit": "GNU hash chain has no end marker",
    "DT_GNU_HASH nbuckets 2^32-1": "GNU hash",
    "DT_HASH nchain 2^32-1": "DT_HASH claims 4294967295 symbols",
}


@pytest.mark.parametrize("name", sorted(MUST_FAIL))
def test_corruption_is_named(name: str, small_program: Path, tmp_path: Path) -> None:
    data = bytearray(small_program.read_bytes())
    CORRUPTIONS[name](data, Elf64.parse(data))
    path = tmp_path / "corrupt"
    path.write_bytes(data)
    with pytest.raises(ElfError) as caught:
        read_elf(path, with_symbols=True)
    assert MUST_FAIL[name] in caught.value.problem


# ---- truncation ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("which", ["x86_64", "i386"])
def test_truncated_at_every_length(which: str, small_program: Path, tmp_path: Path) -> None:
    program = small_program
    if which == "i386":  # ELF32 paths too: zig's 32-bit glibc program is 4 KB
        program = build_c(
            "hello.c", compiler="zig", zig_target="x86-linux-gnu", out_name="hello-x86-linux-gnu"
        )
    path = tmp_path / "truncated"
    path.write_bytes(program.read_bytes())
    for length in range(path.stat().st_size - 1, -1, -1):  # shrinking in place is 40x cheaper than rewriting
        os.truncate(path, length)
        # The section header table is the last thing in these files: every strict prefix lacks part of it.
        assert isinstance(read_all_ways(path), ElfError), length


def test_truncated_large_file_sampled(tmp_path: Path) -> None:
    program = build_c("nss.c", cflags=["-static"], out_name="nss-static")  # ~900 KB: mmap path
    size = program.stat().st_size
    path = tmp_path / "truncated"
    path.write_bytes(program.read_bytes())
    lengths = {*range(0, 4096, 7), *range(4096, size, max(size // 300, 1)), size - 1}
    for length in sorted(lengths, reverse=True):
        os.truncate(path, length)
        assert isinstance(read_all_ways(path), ElfError), length


# ---- not ELF, not a regular file, not readable ------------------------------------------------------------------


def test_not_elf_and_empty_and_tiny(tmp_path: Path) -> None:
    cases = {
        "text": (b"#!/bin/sh\necho hi\n", "not an ELF file"),
        "empty": (b"", "empty file"),
        "magic only": (b"\x7fELF", "truncated ELF identification"),
        "ident only": (b"\x7fELF\x02\x01\x01" + bytes(9), "ELF header"),
    }
    for name, (content, problem) in cases.items():
        path = tmp_path / name
        path.write_bytes(content)
        with pytest.raises(ElfError) as caught:
            read_elf(path)
        assert problem in caught.value.problem, name


def test_paths_that_are_not_files(tmp_path: Path) -> None:
    loop_a, loop_b = tmp_path / "loop-a", tmp_path / "loop-b"
    loop_a.symlink_to(loop_b)
    loop_b.symlink_to(loop_a)
    cases = {
        str(tmp_path): "not a regular file (a directory)",
        str(tmp_path / "missing"): "no such file",
        str(loop_a): "symlink loop",
    }
    for path, problem in cases.items():
        with pytest.raises(ElfError) as caught:
            read_elf(path)
        assert problem in caught.value.problem, path


def read_in_subprocess(path: str) -> str:
    """read_elf in a child with a timeout: a FIFO or a device must not block or stream forever."""
    code = (
        "import sys\nfrom elfship.elf import read_elf\nfrom elfship.errors import ElfError\n"
        "try:\n    read_elf(sys.argv[1])\nexcept ElfError as exc:\n    print(exc.problem)\n"
    )
    result = subprocess.run([sys.executable, "-c", code, path], capture_output=True, text=True, timeout=20)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_fifo_does_not_block(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    assert read_in_subprocess(str(fifo)) == "not a regular file (a FIFO)"


def test_dev_zero_is_refused() -> None:
    assert read_in_subprocess("/dev/zero") == "not a regular file (a character device)"


def test_unreadable_proc_file() -> None:
    # Root reads every file whatever its mode, but sysctl's write-only files refuse reads even to root.
    path = "/proc/sys/vm/drop_caches"
    if not os.path.exists(path):
        pytest.skip(f"{path} missing (no procfs sysctl here)")
    with pytest.raises(ElfError) as caught:
        read_elf(path)
    assert caught.value.problem.startswith("permission denied")


def test_unreadable_file_for_another_user(small_program: Path) -> None:
    """chmod 000 read by an unprivileged user, in a forked child that dropped root."""
    if os.geteuid() != 0:
        pytest.skip("needs root to switch to the nobody user")
    directory = Path(tempfile.mkdtemp(prefix="elfship-unreadable-"))
    try:
        directory.chmod(0o755)
        target = directory / "secret"
        target.write_bytes(small_program.read_bytes())
        target.chmod(0)
        assert _problem_as_nobody(str(target)).startswith("permission denied")
    finally:
        target.unlink(missing_ok=True)
        directory.rmdir()


def _problem_as_nobody(path: str) -> str:
    reader, writer = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - runs in the child
        os.close(reader)
        try:
            os.setgid(65534)
            os.setuid(65534)
            read_elf(path)
            message = "read it"
        except ElfError as exc:
            message = exc.problem
        except BaseException as exc:
            message = f"unexpected {type(exc).__name__}: {exc}"
        os.write(writer, message.encode())
        os._exit(0)
    os.close(writer)
    with os.fdopen(reader) as handle:
        message = handle.read()
    os.waitpid(child, 0)
    return message


# ---- the inspect command with good and bad files in one call ---------------------------------------------------


def run_inspect(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "elfship", "inspect", *args], capture_output=True, text=True, timeout=60
    )


def bad_files(tmp_path: Path) -> list[str]:
    (tmp_path / "text").write_text("not an ELF\n")
    (tmp_path / "empty").write_bytes(b"")
    os.mkfifo(tmp_path / "fifo")
    return [
        str(tmp_path / "text"),
        str(tmp_path / "empty"),
        str(tmp_path),
        str(tmp_path / "fifo"),
        "/dev/zero",
    ]


def test_inspect_reports_each_bad_file_on_one_line_and_the_good_ones(
    small_program: Path, tmp_path: Path
) -> None:
    bad = bad_files(tmp_path)
    result = run_inspect(bad[0], str(small_program), *bad[1:])
    assert result.returncode == 2
    lines = result.stderr.splitlines()
    assert len(lines) == len(bad), result.stderr
    for path, line in zip(bad, lines, strict=True):
        assert line.startswith(f"elfship: error: {path}: "), line
    assert "Traceback" not in result.stderr
    assert result.stdout.startswith(str(small_program)) and "libm.so.6" in result.stdout


def test_inspect_json_lists_errors(small_program: Path, tmp_path: Path) -> None:
    bad = bad_files(tmp_path)
    result = run_inspect("--json", *bad, str(small_program))
    assert result.returncode == 2
    document = json.loads(result.stdout)
    assert [f["path"] for f in document["files"]] == [str(small_program)]
    assert [e["path"] for e in document["errors"]] == bad
    assert all(e["error"] and "\n" not in e["error"] for e in document["errors"])
    assert "Traceback" not in result.stderr
