"""ELF constants elfship reads (from the gABI, the LSB and glibc's elf.h)."""

from __future__ import annotations

ELF_MAGIC = b"\x7fELF"

ELFCLASS32, ELFCLASS64 = 1, 2
ELFDATA2LSB, ELFDATA2MSB = 1, 2

ET_REL, ET_EXEC, ET_DYN, ET_CORE = 1, 2, 3, 4

PT_LOAD, PT_DYNAMIC, PT_INTERP, PT_NOTE = 1, 2, 3, 4
PT_GNU_PROPERTY = 0x6474E553
PF_X, PF_W, PF_R = 1, 2, 4

# Dynamic tags.
DT_NULL, DT_NEEDED, DT_HASH, DT_STRTAB, DT_SYMTAB = 0, 1, 4, 5, 6
DT_RELA, DT_STRSZ, DT_SYMENT, DT_SONAME, DT_RPATH = 7, 10, 11, 14, 15
DT_REL, DT_JMPREL, DT_RELR = 17, 23, 36
DT_RUNPATH, DT_FLAGS = 29, 30
DT_GNU_HASH = 0x6FFFFEF5
DT_VERSYM = 0x6FFFFFF0
DT_FLAGS_1 = 0x6FFFFFFB
DT_VERDEF, DT_VERDEFNUM = 0x6FFFFFFC, 0x6FFFFFFD
DT_VERNEED, DT_VERNEEDNUM = 0x6FFFFFFE, 0x6FFFFFFF

DT_FLAGS_NAMES = {
    0x1: "ORIGIN",
    0x2: "SYMBOLIC",
    0x4: "TEXTREL",
    0x8: "BIND_NOW",
    0x10: "STATIC_TLS",
}
DT_FLAGS_1_NAMES = {
    0x1: "NOW",
    0x2: "GLOBAL",
    0x4: "GROUP",
    0x8: "NODELETE",
    0x10: "LOADFLTR",
    0x20: "INITFIRST",
    0x40: "NOOPEN",
    0x80: "ORIGIN",
    0x100: "DIRECT",
    0x400: "INTERPOSE",
    0x200: "TRANS",
    0x800: "NODEFLIB",
    0x1000: "NODUMP",
    0x2000: "CONFALT",
    0x4000: "ENDFILTEE",
    0x8000: "DISPRELDNE",
    0x10000: "DISPRELPND",
    0x20000: "NODIRECT",
    0x40000: "IGNMULDEF",
    0x80000: "NOKSYMS",
    0x100000: "NOHDR",
    0x200000: "EDITED",
    0x400000: "NORELOC",
    0x800000: "SYMINTPOSE",
    0x1000000: "GLOBAUDIT",
    0x2000000: "SINGLETON",
    0x4000000: "STUB",
    0x8000000: "PIE",
}

VER_FLG_BASE = 0x1
VERSYM_HIDDEN = 0x8000
VERSYM_INDEX_MASK = 0x7FFF
SHN_UNDEF = 0

# Notes.
NT_GNU_ABI_TAG = 1
NT_GNU_BUILD_ID = 3
NT_GNU_PROPERTY_TYPE_0 = 5
GNU_PROPERTY_X86_ISA_1_NEEDED = 0xC0008002
ABI_TAG_OS_LINUX = 0
X86_ISA_LEVELS = ((0x8, "x86-64-v4"), (0x4, "x86-64-v3"), (0x2, "x86-64-v2"))

SHT_SYMTAB, SHT_NOTE, SHT_DYNSYM = 2, 7, 11

# e_machine values -> name. Some names depend on the class or byte order (see machine_name).
EM_NAMES = {
    2: "sparc",
    3: "i386",
    4: "m68k",
    8: "mips",
    15: "parisc",
    18: "sparc32plus",
    20: "ppc",
    21: "ppc64",
    22: "s390",
    40: "arm",
    42: "sh",
    43: "sparc64",
    50: "ia64",
    62: "x86_64",
    183: "aarch64",
    243: "riscv",
    247: "bpf",
    258: "loongarch",
    0x9026: "alpha",
}
EM_386, EM_PPC64, EM_S390, EM_X86_64, EM_AARCH64, EM_RISCV, EM_LOONGARCH = 3, 21, 22, 62, 183, 243, 258


def machine_name(e_machine: int, elf_class: int, little_endian: bool) -> str:
    """The name distributions and loaders use for an architecture (e.g. ppc64le, riscv64, s390x)."""
    base = EM_NAMES.get(e_machine)
    if base is None:
        return f"unknown({e_machine})"
    if e_machine == EM_PPC64:
        return "ppc64le" if little_endian else "ppc64"
    if e_machine == EM_S390:
        return "s390x" if elf_class == 64 else "s390"
    if e_machine in (EM_RISCV, EM_LOONGARCH):
        return f"{base}{elf_class}"
    if e_machine == 8:  # MIPS
        suffix = "el" if little_endian else ""
        return f"mips64{suffix}" if elf_class == 64 else f"mips{suffix}"
    if e_machine == 40 and not little_endian:
        return "armeb"
    return base
