"""Truth: every ELF file of this machine's system directories, read by elfship and by pyelftools.

pyelftools reads the same facts through the *section* headers (.dynamic, .gnu.version_r, .note.*, .dynsym),
while elfship reads them through the program headers: two independent routes to the same bytes. Every field
both can give must agree on every file; the deliberate differences are listed in docs/elf.md, each with its
own test (tests/test_elf_differences.py).

pyelftools is slow (about 40 CPU-seconds for these files), so its answers are computed on 2 processes and
cached under ~/.cache/elfship-tests/truth, keyed by each file's identity (path, size, mtime, inode) and by
this module's own text: a changed file, a new pyelftools or an edited extractor computes them again.
elfship itself re-reads every file on every run.
"""

from __future__ import annotations

import array
import hashlib
import json
import multiprocessing
import os
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from benchmarks._common import SYSTEM_DIRS, system_elf_files

from elfship.elf import ElfInfo, read_elf, read_version_symbols
from elfship.errors import ElfError
from tests.support.fixtures import CACHE

elftools = pytest.importorskip("elftools", reason="pyelftools not installed (pip install pyelftools)")
from elftools.elf.dynamic import DynamicSection  # noqa: E402
from elftools.elf.elffile import ELFFile  # noqa: E402
from elftools.elf.enums import ENUM_DT_FLAGS, ENUM_DT_FLAGS_1, ENUM_E_MACHINE, ENUM_E_TYPE  # noqa: E402
from elftools.elf.gnuversions import (  # noqa: E402
    GNUVerDefSection,
    GNUVerNeedSection,
    GNUVerSymSection,
)
from elftools.elf.notes import iter_notes  # noqa: E402

TRUTH_CACHE = CACHE / "truth"
VERSYM_INDEX_MASK = 0x7FFF
ISA_NEEDED = "GNU_PROPERTY_X86_ISA_1_NEEDED"
ISA_LEVELS = ((0x8, "x86-64-v4"), (0x4, "x86-64-v3"), (0x2, "x86-64-v2"))
# Fields compared on every file. "kind" and "libc" are elfship's own judgement: tested on fixtures instead.
FIELDS = (
    "elf_class",
    "little_endian",
    "e_machine",
    "e_type",
    "interpreter",
    "needed",
    "soname",
    "rpath",
    "runpath",
    "flags",
    "version_needs",
    "version_definitions",
    "version_symbols",
    "build_id",
    "min_kernel",
    "isa_level",
    "stripped",
    "debug_info",
    "dynamic_symbol_count",
    "sections",
)


# ---- elfship's answers ---------------------------------------------------------------------------------


def elfship_facts(path: str) -> dict[str, Any]:
    """The comparable facts, from read_elf(with_symbols=True); read_version_symbols must say the same."""
    info = read_elf(path, with_symbols=True)
    symbols = info.symbols_by_version()
    if read_version_symbols(path) != symbols:
        raise AssertionError(f"{path}: read_version_symbols disagrees with read_elf(with_symbols=True)")
    return _comparable(info, symbols)


def _comparable(info: ElfInfo, symbols: dict[str, dict[str, tuple[str, ...]]]) -> dict[str, Any]:
    return {
        "elf_class": info.elf_class,
        "little_endian": info.little_endian,
        "e_machine": info.e_machine,
        "e_type": info.e_type,
        "interpreter": info.interpreter,
        "needed": list(info.needed),
        "soname": info.soname,
        "rpath": list(info.rpath),
        "runpath": list(info.runpath),
        "flags": sorted(info.flags),
        "version_needs": [[n.library, list(n.versions)] for n in info.version_needs],
        "version_definitions": list(info.version_definitions),
        "version_symbols": {lib: {v: list(s) for v, s in vs.items()} for lib, vs in symbols.items()},
        "build_id": info.build_id,
        "min_kernel": info.min_kernel,
        "isa_level": info.isa_level,
        "stripped": info.stripped,
        "debug_info": info.debug_info,
        "dynamic_symbol_count": info.dynamic_symbol_count,
        "sections": list(info.sections),
    }


# ---- pyelftools' answers, through the section headers ----------------------------------------------------


def pyelftools_facts(path: str) -> dict[str, Any]:
    with open(path, "rb") as handle:
        elf = ELFFile(handle)
        sections = list(elf.iter_sections())
        facts: dict[str, Any] = {
            "elf_class": elf.elfclass,
            "little_endian": elf.little_endian,
            "e_machine": _enum_value(ENUM_E_MACHINE, elf.header["e_machine"]),
            "e_type": _enum_value(ENUM_E_TYPE, elf.header["e_type"]),
            "interpreter": _interpreter(elf),
            "sections": [s.name for s in sections],
            "stripped": not any(s["sh_type"] == "SHT_SYMTAB" for s in sections) if sections else None,
            "debug_info": bool({".debug_info", ".zdebug_info"} & {s.name for s in sections})
            if sections
            else None,
        }
        facts.update(_dynamic_facts(sections))
        facts.update(_version_facts(elf, sections))
        facts.update(_note_facts(elf, sections))
        dynsym = next((s for s in sections if s["sh_type"] == "SHT_DYNSYM"), None)
        facts["dynamic_symbol_count"] = dynsym.num_symbols() if dynsym is not None else None
        return facts


def _enum_value(enum: dict[str, int], value: str | int) -> int:
    return value if isinstance(value, int) else enum[value]


def _interpreter(elf: ELFFile) -> str | None:
    for segment in elf.iter_segments():
        if segment["p_type"] == "PT_INTERP":
            return str(segment.get_interp_name())
    return None


def _dynamic_facts(sections: list[Any]) -> dict[str, Any]:
    dynamic = next((s for s in sections if isinstance(s, DynamicSection)), None)
    tags = list(dynamic.iter_tags()) if dynamic is not None else []
    facts: dict[str, Any] = {
        "needed": [t.needed for t in tags if t.entry.d_tag == "DT_NEEDED"],
        "soname": next((t.soname for t in tags if t.entry.d_tag == "DT_SONAME"), None),
        "rpath": _paths(next((t.rpath for t in tags if t.entry.d_tag == "DT_RPATH"), "")),
        "runpath": _paths(next((t.runpath for t in tags if t.entry.d_tag == "DT_RUNPATH"), "")),
    }
    flags: set[str] = set()
    for tag_name, enum, prefix in (
        ("DT_FLAGS", ENUM_DT_FLAGS, "DF_"),
        ("DT_FLAGS_1", ENUM_DT_FLAGS_1, "DF_1_"),
    ):
        value = next((t.entry.d_val for t in tags if t.entry.d_tag == tag_name), 0)
        flags.update(name.removeprefix(prefix) for name, bit in enum.items() if value & bit)
    facts["flags"] = sorted(flags)
    return facts


def _paths(value: str) -> list[str]:
    return [part for part in value.split(":") if part]


def _version_facts(elf: ELFFile, sections: list[Any]) -> dict[str, Any]:
    verneed = next((s for s in sections if isinstance(s, GNUVerNeedSection)), None)
    verdef = next((s for s in sections if isinstance(s, GNUVerDefSection)), None)
    needs: list[list[Any]] = []
    by_index: dict[int, tuple[str, str]] = {}
    for need, auxiliaries in verneed.iter_versions() if verneed is not None else ():
        names = []
        for aux in auxiliaries:
            names.append(aux.name)
            by_index[aux["vna_other"]] = (need.name, aux.name)
        needs.append([need.name, names])
    definitions = []
    for definition, auxiliaries in verdef.iter_versions() if verdef is not None else ():
        first = next(iter(auxiliaries), None)
        if first is not None and not definition["vd_flags"] & 0x1:  # VER_FLG_BASE repeats the soname
            definitions.append(first.name)
    return {
        "version_needs": needs,
        "version_definitions": definitions,
        "version_symbols": _version_symbols(elf, sections, by_index),
    }


def _version_symbols(
    elf: ELFFile, sections: list[Any], by_index: dict[int, tuple[str, str]]
) -> dict[str, dict[str, list[str]]]:
    dynsym = next((s for s in sections if s["sh_type"] == "SHT_DYNSYM"), None)
    versym = next((s for s in sections if isinstance(s, GNUVerSymSection)), None)
    if dynsym is None or versym is None or not by_index:
        return {}
    # .gnu.version is a plain array of 16-bit indices. Asking pyelftools for each entry (and each symbol)
    # costs ~100 us apiece; the array comes from its section data, and only symbols whose index names a
    # required version are parsed by pyelftools.
    indices = array.array("H", versym.data())
    if (sys.byteorder == "little") != elf.little_endian:
        indices.byteswap()
    found: dict[str, dict[str, set[str]]] = {}
    for number, raw in enumerate(indices[: dynsym.num_symbols()]):
        need = by_index.get(raw & VERSYM_INDEX_MASK)
        if need is None:
            continue
        symbol = dynsym.get_symbol(number)
        if symbol["st_shndx"] == "SHN_UNDEF":
            found.setdefault(need[0], {}).setdefault(need[1], set()).add(symbol.name)
    return {
        library: {version: sorted(names) for version, names in sorted(versions.items())}
        for library, versions in sorted(found.items())
    }


def _note_facts(elf: ELFFile, sections: list[Any]) -> dict[str, Any]:
    facts: dict[str, Any] = {"build_id": None, "min_kernel": None, "isa_level": None}
    isa_bits = 0
    for section in sections:
        if section["sh_type"] != "SHT_NOTE":
            continue
        for note in iter_notes(elf, section["sh_offset"], section["sh_size"]):
            if note["n_name"] != "GNU":
                continue
            if note["n_type"] == "NT_GNU_BUILD_ID":
                facts["build_id"] = note["n_desc"]
            elif note["n_type"] == "NT_GNU_ABI_TAG" and note["n_desc"]["abi_os"] == "ELF_NOTE_OS_LINUX":
                desc = note["n_desc"]
                facts["min_kernel"] = f"{desc['abi_major']}.{desc['abi_minor']}.{desc['abi_tiny']}"
            elif note["n_type"] == "NT_GNU_PROPERTY_TYPE_0":
                isa_bits |= sum(p.pr_data for p in note["n_desc"] if p.pr_type == ISA_NEEDED)
    if elf.header["e_machine"] in ("EM_X86_64", "EM_386"):
        facts["isa_level"] = next((name for bit, name in ISA_LEVELS if isa_bits & bit), None)
    return facts


# ---- the cached, parallel truth run ----------------------------------------------------------------------


def _identity(path: str) -> list[int]:
    st = os.stat(path)
    return [st.st_size, st.st_mtime_ns, st.st_ino]


def _truth_or_error(path: str) -> tuple[str, list[int], dict[str, Any] | None, str | None]:
    try:
        return path, _identity(path), pyelftools_facts(path), None
    except Exception as exc:  # pyelftools raising is reported, not hidden
        return path, _identity(path), None, f"{type(exc).__name__}: {exc}"


def _cache_file() -> Path:
    salt = hashlib.sha256(Path(__file__).read_bytes() + elftools.__version__.encode()).hexdigest()[:16]
    return TRUTH_CACHE / f"pyelftools-{salt}.json"


def pyelftools_truth(paths: list[str]) -> dict[str, dict[str, Any] | str]:
    """path -> pyelftools facts (or the text of its exception), from the cache when the file is unchanged."""
    cache_path = _cache_file()
    cached: dict[str, Any] = json.loads(cache_path.read_text()) if cache_path.exists() else {}
    fresh = {p: cached[p] for p in paths if p in cached and cached[p]["id"] == _identity(p)}
    todo = [p for p in paths if p not in fresh]
    if todo:
        with multiprocessing.get_context("fork").Pool(2) as pool:
            for path, ident, facts, error in pool.imap_unordered(_truth_or_error, todo, chunksize=8):
                fresh[path] = {"id": ident, "facts": facts, "error": error}
        _write_atomically(cache_path, json.dumps(fresh))
    return {p: fresh[p]["facts"] if fresh[p]["error"] is None else fresh[p]["error"] for p in paths}


def _write_atomically(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def disagreements(ours: dict[str, Any], theirs: dict[str, Any]) -> Iterator[tuple[str, Any, Any]]:
    for field in FIELDS:
        if ours[field] != theirs[field]:
            yield field, ours[field], theirs[field]


@pytest.fixture(scope="module")
def system_files() -> list[str]:
    paths = system_elf_files()
    if len(paths) < 100:
        pytest.skip(f"only {len(paths)} ELF files under {', '.join(SYSTEM_DIRS)}: not a usable system")
    return paths


def test_every_system_elf_agrees_with_pyelftools(
    system_files: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    ours: dict[str, dict[str, Any]] = {}
    unreadable: list[str] = []
    for path in system_files:  # elfship reads every file, every run, in this process
        try:
            ours[path] = elfship_facts(path)
        except ElfError as exc:
            unreadable.append(exc.one_line())
    truth = pyelftools_truth(system_files)
    pyelftools_failed = {p: t for p, t in truth.items() if isinstance(t, str)}
    problems: list[str] = []
    per_field: Counter[str] = Counter()
    for path, facts in ours.items():
        theirs = truth[path]
        if isinstance(theirs, str):
            continue
        for field, mine, other in disagreements(facts, theirs):
            per_field[field] += 1
            problems.append(f"{path}: {field}: elfship {mine!r} != pyelftools {other!r}")
    with capsys.disabled():
        print(
            f"\ntruth: {len(system_files)} ELF files, {len(FIELDS)} fields each; elfship could not read "
            f"{len(unreadable)}, pyelftools could not read {len(pyelftools_failed)}; "
            f"disagreements: {dict(per_field) or 0}"
        )
    assert not unreadable, "\n".join(unreadable[:20])
    assert not problems, f"{len(problems)} disagreements:\n" + "\n".join(p[:400] for p in problems[:30])
    assert not pyelftools_failed, "pyelftools failed on: " + repr(dict(list(pyelftools_failed.items())[:5]))
