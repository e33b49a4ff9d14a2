"""The releases elfship knows, from the packaged data, and how a user's spelling of one is resolved."""

from __future__ import annotations

import functools
from types import MappingProxyType

from elfship.abi import version_key
from elfship.errors import UsageError
from elfship.targets import data
from elfship.targets.families import FAMILY_SPELLINGS, MAJOR_ONLY_FAMILIES
from elfship.targets.model import Target
from elfship.targets.packages import release_rank

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (start-up time; docs/architecture.md)
if TYPE_CHECKING:
    import datetime
    from typing import Any

DEFAULT_ARCH = "x86_64"
_SEPARATORS = " :_/-"


def _target_from_record(record: dict[str, Any]) -> Target:
    nodes = {namespace: frozenset(versions) for namespace, versions in record["version_nodes"].items()}
    base = record.get("base_sonames")
    return Target(
        name=record["name"],
        family=record["family"],
        version=record["version"],
        aliases=tuple(record["aliases"]),
        arch=record["arch"],
        libc=record["libc"],
        libc_version=record["libc_version"],
        version_nodes=MappingProxyType(nodes),
        eol_iso=record.get("eol"),
        lts_end_iso=record.get("lts_end"),
        elts_end_iso=record.get("elts_end"),
        rolling=bool(record.get("rolling")),
        base_sonames=None if base is None else frozenset(base),
        base_open=frozenset(record.get("base_open", ())),
        base_basis=record.get("base_basis"),
        base_scope=None if record.get("base_scope") is None else frozenset(record["base_scope"]),
        package_manager=record["package_manager"],
        sources=tuple(record["sources"]),
        kind=record.get("kind", "release"),
        kernel=record.get("kernel"),
        isa_baseline=record.get("isa_baseline"),
        package_index=record.get("package_index"),
        node_file=record.get("node_file"),
    )


def sort_key(record: dict[str, Any]) -> tuple[str, tuple[int, ...], float, str, str]:
    # Within a family the libc version orders releases best (manylinux:2010 < 2014 < 2_24, alt:p9 < p10).
    libc = version_key(record["libc_version"])
    return (record["family"], libc, release_rank(record["version"]), record["version"], record["arch"])


# A command asks for one release or two: the records are indexed by name, and a Target is built only for
# the records asked for (building all ~190 costs more than the rest of `check --target`).
def _records() -> tuple[dict[str, Any], ...]:
    """The index rows of every release (name, aliases, family, version, arch, libc version), in order."""
    return data.release_index()


@functools.cache
def _target(index: int) -> Target:
    return _target_from_record(data.release_record(index))


@functools.cache
def _all() -> tuple[Target, ...]:
    return tuple(_target(index) for index in range(len(_records())))


@functools.cache
def _by_name(arch: str) -> dict[str, int]:
    """Every accepted spelling of a release of one arch -> the index of its record."""
    table: dict[str, int] = {}
    for index, record in enumerate(_records()):
        if record["arch"] != arch:
            continue
        for key in _spellings(record):
            table.setdefault(key, index)
    return table


def _spellings(record: dict[str, Any]) -> list[str]:
    family, version, aliases = record["family"], record["version"], record["aliases"]
    keys = [record["name"], *aliases]
    keys += [f"{family}:{alias}" for alias in aliases if ":" not in alias]
    keys += [f"{family}{sep}{version}" for sep in ("", "-", "_", " ")]
    return [key.lower() for key in keys]


@functools.cache
def _families() -> dict[str, str]:
    """Family spellings (canonical and other) -> canonical family, longest spelling first."""
    names = {r["family"]: r["family"] for r in _records()}
    names.update(FAMILY_SPELLINGS)
    return dict(sorted(names.items(), key=lambda item: -len(item[0])))


def all_targets(arch: str | None = DEFAULT_ARCH) -> tuple[Target, ...]:
    """Every release elfship has data for, of one arch (None: every arch), sorted by family and version."""
    return tuple(t for t in _all() if arch is None or t.arch == arch)


def supported_targets(
    today: datetime.date | None = None, arch: str | None = DEFAULT_ARCH
) -> tuple[Target, ...]:
    """Every release not past its EOL date (what `--target supported` means).

    Only releases with a known EOL date count; rolling releases, releases whose EOL is unknown and manylinux
    build images are left out (they have no date to hold them to, or are not deployment targets).
    """
    return tuple(t for t in all_targets(arch) if t.kind == "release" and t.is_supported(today))


@functools.cache
def known_arches() -> tuple[str, ...]:
    return tuple(sorted({r["arch"] for r in _records()}))


# Other names of the architectures (Debian's and Go's) -> the ELF machine names targets use.
ARCH_SPELLINGS = {"amd64": "x86_64", "x86-64": "x86_64", "arm64": "aarch64"}


def normalise_arch(arch: str) -> str:
    word = arch.strip().lower()
    return ARCH_SPELLINGS.get(word, word)


def split_arch(spec: str) -> tuple[str, str | None]:
    """A target with its architecture: "debian:12/aarch64" -> ("debian:12", "aarch64"); "debian:12" ->
    ("debian:12", None). amd64 and arm64 are accepted for x86_64 and aarch64."""
    name, sep, arch = spec.rpartition("/")
    if not sep:
        return spec, None
    if not name.strip() or not arch.strip():
        raise UsageError(f"target {spec!r}: give it as RELEASE/ARCH, e.g. debian:12/x86_64")
    return name, normalise_arch(arch)


def get_target(name: str, arch: str = DEFAULT_ARCH) -> Target:
    """Resolve a release name: canonical (debian:10), alias (bullseye, debian:bullseye), or a common spelling
    (debian-10, debian10, rhel8, ubi8, rockylinux:9, alpine:3.19.1, ubuntu:22.04.3).

    Raises UsageError naming close matches when nothing fits.
    """
    key = " ".join(name.strip().lower().split())
    table = _by_name(arch)
    found = table.get(key)
    if found is None:
        found = _by_family_and_version(key, table)
    if found is not None:
        return _target(found)
    if arch not in known_arches():
        raise UsageError(
            f"no target data for architecture {arch!r}",
            fix=f"known architectures: {', '.join(known_arches())}",
        )
    other = [a for a in known_arches() if a != arch and _resolves(key, a)]
    if other:
        raise UsageError(f"target {name!r} is known for {', '.join(other)} only, not for {arch}")
    raise UsageError(f"unknown target {name!r}{_suggestion_text(key, table)}", fix=_LIST_FIX)


_LIST_FIX = "run `elfship targets --all` to list every known release"


def _resolves(key: str, arch: str) -> bool:
    table = _by_name(arch)
    return key in table or _by_family_and_version(key, table) is not None


def _by_family_and_version(key: str, table: dict[str, int]) -> int | None:
    for spelling, family in _families().items():
        if not key.startswith(spelling):
            continue
        rest = key[len(spelling) :].lstrip(_SEPARATORS)
        if not rest:
            continue
        for version in _version_candidates(family, rest):
            found = table.get(f"{family}:{version}")
            if found is not None:
                return found
    return None


def _version_candidates(family: str, version: str) -> list[str]:
    """rhel 8.9 -> 8; alpine 3.19.1 -> 3.19; ubuntu 22.04.3 -> 22.04; codenames resolve via the table."""
    parts = version.split(".")
    candidates = [version]
    if family in MAJOR_ONLY_FAMILIES and parts[0].isdigit():
        candidates.append(parts[0])
    if len(parts) > 2:
        candidates.append(".".join(parts[:2]))
    return candidates


def _suggestion_text(key: str, table: dict[str, int]) -> str:
    import difflib  # only a misspelt name pays for it

    names: list[str] = []
    family = next((f for s, f in _families().items() if key.startswith(s)), None)
    close = difflib.get_close_matches(key, list(table), n=6, cutoff=0.6)
    for match in close:
        name = _records()[table[match]]["name"]
        if name not in names:
            names.append(name)
    if family is not None and len(names) < 3:
        names += [t.name for t in all_targets(None) if t.family == family and t.name not in names]
    names = list(dict.fromkeys(names))[:8]
    return f"; did you mean {', '.join(names)}?" if names else ""
