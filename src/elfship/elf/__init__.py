"""Read ELF facts from bytes: headers, PT_INTERP, PT_DYNAMIC, version needs and definitions, notes."""

from __future__ import annotations

from elfship.lazy import lazy_exports

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (start-up time; docs/architecture.md)
if TYPE_CHECKING:
    from elfship.elf.model import ElfInfo, Kind, LibcFamily, LibcInfo, VersionNeed, VersionSymbols
    from elfship.elf.reader import read_elf, read_version_symbols

# A lazy package (elfship.lazy): importing one of its modules does not load the others.
_HOMES = {
    "ElfInfo": "model",
    "Kind": "model",
    "LibcFamily": "model",
    "LibcInfo": "model",
    "VersionNeed": "model",
    "VersionSymbols": "model",
    "read_elf": "reader",
    "read_version_symbols": "reader",
}
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
__getattr__ = lazy_exports(__name__, _HOMES)
