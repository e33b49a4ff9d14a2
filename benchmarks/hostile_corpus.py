"""The hostile corpus: small ELF files built byte by byte to make a reader do unbounded work.

Shared by benchmarks/bench_hostile.py (time and memory per file) and tests/test_hostile_elf.py (one-line
answers, no traceback). Each file is a well-formed ELF64 x86-64 shared object (one PT_LOAD mapping the
whole file at address 0, so addresses are file offsets) whose tables lie in the way the issue describes:
60,000 DT_NEEDED entries on one 256 KiB string, 4,096 version needs sharing one 4,096-entry chain, hash
chains with no end, notes by the million, and 2 GB sparse files (holes cost no disk).
"""

from __future__ import annotations

import struct
import subprocess
from collections.abc import Callable
from pathlib import Path

EHDR = struct.Struct("<16sHHIQQQIHHHHHH")
PHDR = struct.Struct("<IIQQQQQQ")
SHDR = struct.Struct("<IIQQQQIIQQ")
DYN = struct.Struct("<qQ")
VERNEED = struct.Struct("<HHIII")
VERNAUX = struct.Struct("<IHHII")
VERDEF = struct.Struct("<HHHHIII")
VERDAUX = struct.Struct("<II")
NOTE = struct.Struct("<III")
PT_LOAD, PT_DYNAMIC, PT_INTERP, PT_NOTE = 1, 2, 3, 4
DT_NULL, DT_NEEDED, DT_HASH, DT_STRTAB, DT_SYMTAB, DT_STRSZ, DT_SONAME = 0, 1, 4, 5, 6, 10, 14
DT_GNU_HASH, DT_VERSYM, DT_VERDEF, DT_VERDEFNUM = 0x6FFFFEF5, 0x6FFFFFF0, 0x6FFFFFFC, 0x6FFFFFFD
DT_VERNEED, DT_VERNEEDNUM = 0x6FFFFFFE, 0x6FFFFFFF
GIB2 = 2 << 30
LONG = 256 * 1024  # the one long string of the string bombs


class Elf:
    """A blob under construction: ELF header, program headers, then appended tables."""

    def __init__(self, phnum: int = 4) -> None:
        self.phnum = phnum
        self.body = bytearray(64 + phnum * PHDR.size)
        self.phdrs: list[tuple[int, int, int]] = []  # (type, offset, size)
        self.shoff, self.shnum, self.shstrndx = 0, 0, 0

    def add(self, data: bytes, align: int = 8) -> int:
        while len(self.body) % align:
            self.body.append(0)
        offset = len(self.body)
        self.body += data
        return offset

    def segment(self, p_type: int, offset: int, size: int) -> None:
        self.phdrs.append((p_type, offset, size))

    def dynamic(self, entries: list[tuple[int, int]]) -> None:
        raw = b"".join(DYN.pack(t, v) for t, v in [*entries, (DT_NULL, 0)])
        self.segment(PT_DYNAMIC, self.add(raw), len(raw))

    def write(
        self, path: Path, *, size: int | None = None, patches: tuple[tuple[int, bytes], ...] = ()
    ) -> Path:
        """Write the file; size > the blob pads it with a hole (a sparse file). PT_LOAD maps all of it."""
        total = max(size or 0, len(self.body))
        phdrs = [(PT_LOAD, 0, total), *self.phdrs]
        assert len(phdrs) <= self.phnum, "raise phnum"
        for index, (p_type, offset, length) in enumerate(phdrs):
            PHDR.pack_into(
                self.body, 64 + index * PHDR.size, p_type, 4, offset, offset, offset, length, length, 8
            )
        ident = b"\x7fELF\x02\x01\x01" + bytes(9)
        EHDR.pack_into(
            self.body, 0, ident, 3, 62, 1, 0, 64, self.shoff, 0, 64, PHDR.size, len(phdrs), SHDR.size,
            self.shnum, self.shstrndx,
        )  # fmt: skip
        with path.open("wb") as handle:
            handle.write(self.body)
            if total > len(self.body):
                handle.truncate(total)
            for offset, data in patches:  # tables placed inside the hole, after everything else
                handle.seek(offset)
                handle.write(data)
        return path


def _strings(*names: bytes) -> tuple[bytes, dict[bytes, int]]:
    table = bytearray(b"\0")
    where = {}
    for name in names:
        where[name] = len(table)
        table += name + b"\0"
    return bytes(table), where


def needed_bomb(path: Path, *, distinct_offsets: bool = False) -> Path:
    """60,000 DT_NEEDED entries pointing at one 256 KiB string (or at 60,000 suffixes of it)."""
    elf = Elf()
    strtab = b"\0" + b"A" * LONG + b"\0"
    at = elf.add(strtab)
    needed = [(DT_NEEDED, 1 + (n if distinct_offsets else 0)) for n in range(60_000)]
    elf.dynamic([(DT_STRTAB, at), (DT_STRSZ, len(strtab)), *needed])
    return elf.write(path)


def many_names_bomb(path: Path) -> Path:
    """60,000 DT_NEEDED entries with 60,000 different short names: each one a library to search for."""
    elf = Elf()
    strtab, where = _strings(*(b"lib%d.so" % n for n in range(60_000)))
    at = elf.add(strtab)
    elf.dynamic([(DT_STRTAB, at), (DT_STRSZ, len(strtab)), *((DT_NEEDED, o) for o in where.values())])
    return elf.write(path)


def version_need_bomb(path: Path, needs: int = 4096, chain: int = 4096) -> Path:
    """NEEDS version needs, all sharing one chain of CHAIN entries (16 million entries as a reader sees it)."""
    elf = Elf()
    strtab, where = _strings(b"libc.so.6", b"GLIBC_2.2.5")
    at = elf.add(strtab)
    aux = b"".join(
        VERNAUX.pack(0, 0, 2, where[b"GLIBC_2.2.5"], 16 if n < chain - 1 else 0) for n in range(chain)
    )
    base = len(elf.body) + (-len(elf.body)) % 8
    aux_at = base + needs * VERNEED.size
    raw = b"".join(
        VERNEED.pack(1, chain, where[b"libc.so.6"], aux_at - (base + n * 16), 16 if n < needs - 1 else 0)
        for n in range(needs)
    )
    assert elf.add(raw) == base
    elf.add(aux)
    elf.dynamic([(DT_STRTAB, at), (DT_STRSZ, len(strtab)), (DT_VERNEED, base), (DT_VERNEEDNUM, needs)])
    return elf.write(path)


def version_definition_bomb(path: Path, count: int = 60_000) -> Path:
    """COUNT version definitions, each named by a suffix of one 256 KiB string."""
    elf = Elf()
    strtab = b"\0" + b"V" * LONG + b"\0"
    at = elf.add(strtab)
    base = len(elf.body) + (-len(elf.body)) % 8
    raw = bytearray()
    for n in range(count):
        here = base + n * (VERDEF.size + VERDAUX.size)
        raw += VERDEF.pack(1, 0, n + 1, 1, 0, VERDEF.size, VERDEF.size + VERDAUX.size if n < count - 1 else 0)
        raw += VERDAUX.pack(1 + n % LONG, 0)
        assert len(raw) == here - base + VERDEF.size + VERDAUX.size
    elf.add(bytes(raw))
    elf.dynamic([(DT_STRTAB, at), (DT_STRSZ, len(strtab)), (DT_VERDEF, base), (DT_VERDEFNUM, count)])
    return elf.write(path)


def gnu_hash_chain_bomb(path: Path) -> Path:
    """A GNU hash chain with no end bit, running through a 2 GB hole."""
    elf = Elf()
    strtab, _ = _strings(b"libc.so.6")
    at = elf.add(strtab)
    gnu = 1 << 20  # in the hole: the chain that follows the one bucket is zeros to the end of the file
    elf.dynamic([(DT_STRTAB, at), (DT_STRSZ, len(strtab)), (DT_GNU_HASH, gnu), (DT_SYMTAB, 0x10000)])
    return elf.write(
        path, size=GIB2, patches=((gnu, struct.pack("<IIII", 1, 1, 1, 6) + bytes(8) + b"\1\0\0\0"),)
    )


def gnu_hash_buckets_bomb(path: Path) -> Path:
    """A GNU hash table claiming 500 million buckets and bloom words, all inside a 2 GB sparse file."""
    elf = Elf()
    strtab, _ = _strings(b"libc.so.6")
    at = elf.add(strtab)
    gnu = elf.add(struct.pack("<IIII", 500_000_000, 1, 1_000_000, 6))
    elf.dynamic([(DT_STRTAB, at), (DT_STRSZ, len(strtab)), (DT_GNU_HASH, gnu), (DT_SYMTAB, 0x10000)])
    return elf.write(path, size=GIB2)


def hash_symbols_bomb(path: Path, nchain: int = 1 << 20) -> Path:
    """DT_HASH claims NCHAIN symbols, every one an undefined reference to a required version."""
    elf = Elf()
    strtab, where = _strings(b"libc.so.6", b"GLIBC_2.2.5")
    at = elf.add(strtab)
    hash_at = elf.add(struct.pack("<II", 1, nchain))
    need = elf.add(
        VERNEED.pack(1, 1, where[b"libc.so.6"], 16, 0) + VERNAUX.pack(0, 0, 2, where[b"GLIBC_2.2.5"], 0)
    )
    versym = elf.add(struct.pack("<H", 2) * nchain)
    symtab = elf.add(bytes(24))  # the rest of .dynsym lies in the hole: all zeros, all undefined
    elf.dynamic(
        [
            (DT_STRTAB, at), (DT_STRSZ, len(strtab)), (DT_HASH, hash_at), (DT_SYMTAB, symtab),
            (DT_VERSYM, versym), (DT_VERNEED, need), (DT_VERNEEDNUM, 1), (DT_NEEDED, where[b"libc.so.6"]),
        ]
    )  # fmt: skip
    return elf.write(path, size=symtab + 24 * nchain + 4096)


def note_count_bomb(path: Path) -> Path:
    """One PT_NOTE over a 2 GB hole: 178 million empty notes."""
    elf = Elf()
    elf.segment(PT_NOTE, 4096, GIB2 - 4096)
    return elf.write(path, size=GIB2)


def note_size_bomb(path: Path) -> Path:
    """A build-id note whose descriptor claims 2 GB (the hole)."""
    elf = Elf()
    at = elf.add(NOTE.pack(4, GIB2 - 8192, 3) + b"GNU\0")
    elf.segment(PT_NOTE, at, GIB2 - at)
    return elf.write(path, size=GIB2)


def note_segments_bomb(path: Path, count: int = 60_000) -> Path:
    """60,000 PT_NOTE segments, each starting 4 bytes further into one 64 KiB run of notes."""
    elf = Elf(phnum=count + 1)
    at = elf.add(NOTE.pack(0, 0, 0) * 5462)
    for n in range(count):
        elf.segment(PT_NOTE, at + 4 * (n % 16000), 65536 - 4 * (n % 16000))
    return elf.write(path)


def section_names_bomb(path: Path, count: int = 60_000) -> Path:
    """60,000 section headers, all named by the same 256 KiB string."""
    elf = Elf()
    names = elf.add(b"\0" + b"S" * LONG + b"\0")
    shdrs = bytearray(SHDR.pack(0, 0, 0, 0, 0, 0, 0, 0, 0, 0))
    shdrs += SHDR.pack(0, 3, 0, 0, names, LONG + 2, 0, 0, 1, 0)
    shdrs += SHDR.pack(1, 1, 0, 0, 0, 0, 0, 0, 1, 0) * (count - 2)
    elf.shoff, elf.shnum, elf.shstrndx = elf.add(bytes(shdrs)), count, 1
    return elf.write(path)


def long_string_bomb(path: Path) -> Path:
    """DT_NEEDED and DT_SONAME naming one 20 MiB string, DT_STRSZ claiming 2 GB."""
    elf = Elf()
    at = elf.add(b"\0" + b"L" * (20 << 20) + b"\0")
    elf.dynamic([(DT_STRTAB, at), (DT_STRSZ, GIB2), (DT_NEEDED, 1), (DT_SONAME, 1)])
    return elf.write(path)


def interp_bomb(path: Path) -> Path:
    """PT_INTERP of 2 GB."""
    elf = Elf()
    at = elf.add(b"/lib64/ld-linux-x86-64.so.2")
    elf.segment(PT_INTERP, at, GIB2 - at)
    return elf.write(path, size=GIB2)


def sparse_static(path: Path) -> Path:
    """A 2 GB sparse file that reads as a static program: the libc signature search goes over all of it."""
    return Elf().write(path, size=GIB2)


def sparse_library(path: Path) -> Path:
    """A plain small library (NEEDED libc.so.6) followed by a 2 GB hole."""
    elf = Elf()
    strtab, where = _strings(b"libc.so.6", b"libsparse.so")
    at = elf.add(strtab)
    elf.dynamic(
        [
            (DT_STRTAB, at),
            (DT_STRSZ, len(strtab)),
            (DT_NEEDED, where[b"libc.so.6"]),
            (DT_SONAME, where[b"libsparse.so"]),
        ]
    )
    return elf.write(path, size=GIB2)


BOMBS: dict[str, Callable[[Path], Path]] = {
    "needed-one-string": needed_bomb,
    "needed-suffixes": lambda p: needed_bomb(p, distinct_offsets=True),
    "needed-60000-names": many_names_bomb,
    "version-need-shared-chain": version_need_bomb,
    "version-definitions": version_definition_bomb,
    "gnu-hash-endless-chain": gnu_hash_chain_bomb,
    "gnu-hash-huge-buckets": gnu_hash_buckets_bomb,
    "hash-million-symbols": hash_symbols_bomb,
    "note-count": note_count_bomb,
    "note-size": note_size_bomb,
    "note-segments": note_segments_bomb,
    "section-names": section_names_bomb,
    "string-20mib": long_string_bomb,
    "interp-2gb": interp_bomb,
    "sparse-2gb-static": sparse_static,
    "sparse-2gb-library": sparse_library,
}


def build_corpus(directory: Path) -> dict[str, Path]:
    directory.mkdir(parents=True, exist_ok=True)
    return {name: make(directory / name) for name, make in BOMBS.items()}


CHAIN_NAME = b"libchain%05d.so"


def build_chain(directory: Path, depth: int, gcc: str = "gcc") -> Path:
    """A program NEEDing libchain00000.so, which NEEDs libchain00001.so, ... DEPTH real libraries deep.

    gcc builds three objects; the DEPTH libraries are byte copies of one template with its two names patched
    (same length), so they are real, loadable files (ld.so --list maps them all) made in a second.
    """
    directory.mkdir(parents=True, exist_ok=True)
    source = directory / "empty.c"
    source.write_text("int chain_link;\n")
    common = ["-shared", "-fPIC", "-nostdlib", "-s", "-Wl,-z,noseparate-code", "-Wl,--no-as-needed"]

    def run(*argv: str) -> None:
        subprocess.run([gcc, *argv], check=True, capture_output=True, cwd=directory)

    stub, last = CHAIN_NAME % 1, CHAIN_NAME % (depth - 1)
    run(*common, "-o", stub.decode(), str(source), f"-Wl,-soname,{stub.decode()}")
    run(*common, "-o", "template.so", str(source), f"-Wl,-soname,{(CHAIN_NAME % 0).decode()}",
        "-L.", f"-l:{stub.decode()}", "-Wl,-rpath,$ORIGIN")  # fmt: skip
    run(*common, "-o", last.decode(), str(source), f"-Wl,-soname,{last.decode()}")
    template = (directory / "template.so").read_bytes()
    first, second = CHAIN_NAME % 0, CHAIN_NAME % 1
    assert template.count(first) == 1 and template.count(second) == 1, "names must be patchable"
    own, needs, data = template.index(first), template.index(second), bytearray(template)
    for index in range(depth - 1):
        data[own : own + len(first)] = CHAIN_NAME % index
        data[needs : needs + len(second)] = CHAIN_NAME % (index + 1)
        (directory / (CHAIN_NAME % index).decode()).write_bytes(data)
    (directory / "main.c").write_text("int main(void) { return 0; }\n")
    subprocess.run(
        [
            gcc,
            "-o",
            "prog",
            "main.c",
            "-Wl,--no-as-needed",
            "-L.",
            f"-l:{first.decode()}",
            "-Wl,-rpath,$ORIGIN",
        ],
        check=True,
        capture_output=True,
        cwd=directory,
    )
    for scratch in ("empty.c", "main.c", "template.so"):
        (directory / scratch).unlink()
    return directory / "prog"
