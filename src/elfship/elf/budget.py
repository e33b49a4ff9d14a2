"""The work budget of one parse: how many string bytes and table entries one file may make elfship decode.

Offsets and counts in an ELF file are chosen by whoever wrote it. Without a budget, 60,000 DT_NEEDED entries
pointing at one 256 KiB string cost 15 GB, and 4,096 version needs sharing one 4,096-entry chain cost 16
million entries. Every cap below is far above any real file (the largest on a Debian 12 machine with LLVM
and node: 21 NEEDED, 83 version entries, 127 KB of symbol names, 75,000 dynamic symbols, 64 sections,
tests/test_elf_truth.py reads them all) and low enough that any file is answered in well under a second
and 200 MB. Exceeding one is an ElfError naming the cap: the file is refused as hostile or corrupt.
docs/elf.md lists the caps.
"""

from __future__ import annotations

from elfship.errors import ElfError

MAX_STRING_BYTES = 256 << 10  # library names, paths, version names handed out, cache hits included
MAX_SECTION_NAME_BYTES = 4 << 20  # section names (a C++ object built with -ffunction-sections has many)
MAX_SYMBOL_NAME_BYTES = 16 << 20  # symbol names (read only with with_symbols, never kept by a scan)
MAX_NEEDED = 1024  # DT_NEEDED entries (the real maximum is about 20; ld.so maps each one)
MAX_VERSION_ENTRIES = 4096  # version needs, their entries and version definitions together
MAX_DYNAMIC_SYMBOLS = 1 << 20  # .dynsym entries as DT_HASH or DT_GNU_HASH count them
MAX_VERSIONED_SYMBOLS = 1 << 18  # undefined symbols bound to a required version
MAX_NOTES = 4096  # notes over all note segments
MAX_NOTE_SEGMENTS = 256  # PT_NOTE/PT_GNU_PROPERTY segments (or SHT_NOTE sections) read
MAX_SECTIONS = 1 << 18  # section headers (e_shnum, or section 0's sh_size with extended numbering)
MAX_NOTE_DESC = 4096  # a note descriptor larger than this is skipped, never copied (build-ids are 8-64)


# Kinds of strings, each with its own cap; each is also the name of the Budget attribute that counts it.
STRINGS, SECTION_NAMES, SYMBOL_NAMES = "strings", "section_names", "symbol_names"
STRING_CAPS = {
    STRINGS: MAX_STRING_BYTES,
    SECTION_NAMES: MAX_SECTION_NAME_BYTES,
    SYMBOL_NAMES: MAX_SYMBOL_NAME_BYTES,
}


class Budget:
    """Counters for one parse of one file; raise an ElfError naming the cap when one runs out.

    Plain attributes, not a dict: the string counter is charged on the hot path (StringTable.get_all)."""

    __slots__ = ("path", "section_names", "strings", "symbol_names", "version_entries")

    def __init__(self, path: str) -> None:
        self.path = path
        self.strings = self.section_names = self.symbol_names = 0  # characters handed out, by kind
        self.version_entries = 0  # counted inline by the version readers (hot path)

    def left(self, kind: str) -> int:
        return STRING_CAPS[kind] - int(getattr(self, kind))

    def spend(self, kind: str, count: int) -> None:
        total = getattr(self, kind) + count
        setattr(self, kind, total)
        if total > STRING_CAPS[kind]:
            raise self.out_of_strings(kind)

    def out_of_strings(self, kind: str) -> ElfError:
        return self.exceeded(f"more than {STRING_CAPS[kind] >> 10:,} KiB of {kind.replace('_', ' ')}")

    def too_many_versions(self) -> ElfError:
        return self.exceeded(f"more than {MAX_VERSION_ENTRIES:,} version entries")

    def exceeded(self, what: str) -> ElfError:
        return ElfError(self.path, f"refused: {what} (elfship's cap per file; real files stay far below)")
