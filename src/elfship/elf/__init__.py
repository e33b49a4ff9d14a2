"""Read ELF facts from bytes: headers, PT_INTERP, PT_DYNAMIC, version needs and definitions, notes."""

from elfship.elf.model import ElfInfo, Kind, LibcFamily, LibcInfo, VersionNeed, VersionSymbols
from elfship.elf.reader import read_elf, read_version_symbols

__all__ = [
    "ElfInfo",
    "Kind",
    "LibcFamily",
    "LibcInfo",
    "VersionNeed",
    "VersionSymbols",
    "read_elf",
    "read_version_symbols",
]
