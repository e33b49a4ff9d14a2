"""Rust crates in a binary: the exact list cargo-auditable records (.dep-v0), else registry paths in strings.

.dep-v0 (older name .rust-deps-v0) holds zlib-compressed JSON: {"packages": [{"name", "version", "source",
"kind", "dependencies": [indices], "root"}]} (schema: rustsec.org/schemas/cargo-auditable.json).
"""

from __future__ import annotations

import json
import re
import zlib
from collections import Counter
from collections.abc import Mapping
from typing import Any

from elfship.errors import ElfError
from elfship.record import record

DEP_SECTIONS = (".dep-v0", ".rust-deps-v0")
MAX_DEP_JSON = 16 * 1024 * 1024  # decompressed; cargo-auditable's own limit is 8 MiB
MAX_PACKAGES = 100_000
CRATE_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
VERSION = re.compile(r"^\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?$")
# .../registry/src/index.crates.io-1949cf8c6b5b557f/openssl-0.10.72/src/ssl/mod.rs in panic locations
REGISTRY_PATH = re.compile(
    rb"registry[/\\]src[/\\][A-Za-z0-9._-]{1,80}[/\\]"
    rb"([A-Za-z0-9_-]{1,64}?)-(\d{1,9}\.\d{1,9}\.\d{1,9}(?:-[0-9A-Za-z.-]{1,40})?(?:\+[0-9A-Za-z.-]{1,40})?)[/\\]"
)


@record
class Crate:
    name: str
    version: str
    source: str  # "crates.io", "git", "local", "registry", "builtin"
    kind: str  # "runtime" or "build"
    root: bool
    dependencies: tuple[str, ...]  # "name@version": a graph can hold two versions of one crate


def decode_dep_v0(raw: bytes, path: str) -> tuple[Crate, ...]:
    """The crate list from a .dep-v0 section's bytes. Raises ElfError naming the problem if malformed."""
    inflater = zlib.decompressobj()
    try:
        text = inflater.decompress(raw, MAX_DEP_JSON)
    except zlib.error as exc:
        raise ElfError(path, f"corrupt .dep-v0 section (not zlib: {exc})") from None
    if inflater.unconsumed_tail:
        raise ElfError(path, f".dep-v0 section inflates past {MAX_DEP_JSON} bytes")
    try:
        document = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise ElfError(path, f"corrupt .dep-v0 section (not JSON: {exc})") from None
    packages = document.get("packages") if isinstance(document, dict) else None
    if not isinstance(packages, list) or len(packages) > MAX_PACKAGES:
        raise ElfError(path, "corrupt .dep-v0 section (no 'packages' list)")
    parsed = [_package(p, path) for p in packages]
    names = [f"{p['name']}@{p['version']}" for p in parsed]
    return tuple(
        Crate(
            name=p["name"],
            version=p["version"],
            source=p["source"],
            kind=p["kind"],
            root=p["root"],
            dependencies=tuple(sorted({names[i] for i in p["deps"] if 0 <= i < len(names)})),
        )
        for p in parsed
    )


def _package(entry: Any, path: str) -> dict[str, Any]:
    if not isinstance(entry, dict):
        raise ElfError(path, "corrupt .dep-v0 section (a package is not an object)")
    name, version = entry.get("name"), entry.get("version")
    if not isinstance(name, str) or not CRATE_NAME.match(name):
        raise ElfError(path, f"corrupt .dep-v0 section (bad crate name {str(name)[:40]!r})")
    if not isinstance(version, str) or not VERSION.match(version):
        raise ElfError(path, f"corrupt .dep-v0 section (bad version for {name})")
    deps = entry.get("dependencies", [])
    if not isinstance(deps, list) or not all(isinstance(d, int) for d in deps):
        raise ElfError(path, f"corrupt .dep-v0 section (bad dependencies of {name})")
    source = entry.get("source", "crates.io")
    kind = entry.get("kind", "runtime")
    return {
        "name": name,
        "version": version,
        "source": source if isinstance(source, str) else "unknown",
        "kind": kind if isinstance(kind, str) else "runtime",
        "root": entry.get("root") is True,
        "deps": deps,
    }


def registry_crates(data: Any) -> Mapping[tuple[str, str], int]:
    """(crate, version) -> how many registry source paths name it (panic locations, debug paths)."""
    found: Counter[tuple[str, str]] = Counter()
    for match in REGISTRY_PATH.finditer(data):
        found[(match.group(1).decode(), match.group(2).decode())] += 1
    return found
