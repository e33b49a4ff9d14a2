"""What `cargo metadata` said last time for the same build, so cargo can start before this time's answer is in.

A build with nothing to do waits ~35 ms for `cargo metadata` before cargo may start. The pipeline plans from the
last answer instead, starts cargo with its output held back, and compares the real answer when it arrives:
equal (the usual case) and that cargo run is exactly the one that would have run; different and it is stopped
before anything it printed was shown, and the build runs from the real answer. So this is a guess, never an
input: nothing here decides what cargo is finally told, and nothing about the built binary is remembered.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from elfship import cachedir
from elfship.builder.project import BinaryTarget, CargoProject, feature_args

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (start-up time; docs/architecture.md)
if TYPE_CHECKING:
    from typing import Any

SUBDIR = "last-project"
MAX_ENTRY = 8 * 1024 * 1024  # a resolve graph of a few thousand crates; anything larger is not ours


def build_key(
    cargo: str,
    manifest: Path,
    triple: str,
    packages: Sequence[str],
    bins: Sequence[str],
    cargo_args: Sequence[str],
    env: Mapping[str, str],
) -> str:
    """Which earlier answer to guess from: the same question to cargo metadata, from the same target dir."""
    target_dir = [env.get("CARGO_TARGET_DIR"), env.get("CARGO_BUILD_TARGET_DIR")]
    parts = [
        cargo,
        str(manifest),
        triple,
        list(packages),
        list(bins),
        list(feature_args(cargo_args)),
        target_dir,
    ]
    return json.dumps(parts)


def recall(key: str, cache_dir: Path | None = None) -> CargoProject | None:
    entry = cachedir.recall(_directory(cache_dir), key, MAX_ENTRY)
    try:
        return _project(entry["project"]) if entry is not None else None
    except (ValueError, KeyError, TypeError):
        return None


def keep(key: str, project: CargoProject, cache_dir: Path | None = None) -> None:
    """Remember this build's answer; a cache that cannot be written only makes the next build wait for it."""
    document = {
        "project": {
            "manifest_path": str(project.manifest_path),
            "workspace_root": str(project.workspace_root),
            "target_directory": str(project.target_directory),
            "binaries": [[b.package, b.name] for b in project.binaries],
            "resolved": [[name, version, sorted(features)] for name, version, features in project.resolved],
        },
    }
    cachedir.remember(_directory(cache_dir), key, document)


def _project(raw: dict[str, Any]) -> CargoProject:
    """Rebuilt exactly as project.load_project builds it (so == compares like with like); TypeError or
    ValueError on anything malformed."""
    binaries = tuple(BinaryTarget(_text(p), _text(n)) for p, n in raw["binaries"])
    resolved = tuple((_text(n), _text(v), frozenset(map(_text, f))) for n, v, f in raw["resolved"])
    paths = [_text(raw[k]) for k in ("manifest_path", "workspace_root", "target_directory")]
    if not all(os.path.isabs(p) for p in paths):
        raise ValueError("relative path")
    return CargoProject(Path(paths[0]), Path(paths[1]), Path(paths[2]), binaries, resolved)


def _text(value: object) -> str:
    if not isinstance(value, str):
        raise TypeError("not a string")
    return value


def _directory(cache_dir: Path | None) -> Path:
    return cache_dir or cachedir.cache_dir() / SUBDIR
