"""Builds that record what they embed: cargo-auditable's .dep-v0 through cargo's own wrapper hook, and the
inventory written as CycloneDX next to the artifact.

`cargo auditable build` is `cargo build` with RUSTC_WORKSPACE_WRAPPER pointing at cargo-auditable and the
cargo flags it must replay for `cargo metadata` (--offline, --locked, --frozen, --config) in
CARGO_AUDITABLE_ORIG_ARGS. Setting both ourselves keeps elfship's exact cargo command line.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Mapping, Sequence
from functools import lru_cache
from pathlib import Path

from elfship.atomic import write_bytes
from elfship.sbom.model import Inventory

OPT_OUT = "ELFSHIP_NO_AUDITABLE"  # set (to anything) to build without cargo-auditable


def find_cargo_auditable(env: Mapping[str, str]) -> str | None:
    found = shutil.which("cargo-auditable", path=env.get("PATH"))
    if found is None:
        home = env.get("CARGO_HOME") or os.path.join(os.path.expanduser("~"), ".cargo")
        candidate = os.path.join(home, "bin", "cargo-auditable")
        found = candidate if os.access(candidate, os.X_OK) else None
    return found


def auditable_env(argv: Sequence[str], env: Mapping[str, str]) -> dict[str, str]:
    """Environment that makes `cargo build` embed .dep-v0; {} when cargo-auditable is not installed, the user
    opted out, or already uses a workspace wrapper of their own (never silently replaced)."""
    if env.get(OPT_OUT) or env.get("RUSTC_WORKSPACE_WRAPPER"):
        return {}
    tool = find_cargo_auditable(env)
    if tool is None:
        return {}
    return {"RUSTC_WORKSPACE_WRAPPER": tool, "CARGO_AUDITABLE_ORIG_ARGS": json.dumps(_replayed_args(argv))}


def _replayed_args(argv: Sequence[str]) -> dict[str, object]:
    args = list(argv)
    if "--" in args:
        args = args[: args.index("--")]
    config = [args[i + 1] for i, a in enumerate(args[:-1]) if a == "--config"]
    config += [a.split("=", 1)[1] for a in args if a.startswith("--config=")]
    return {
        "offline": "--offline" in args,
        "locked": "--locked" in args,
        "frozen": "--frozen" in args,
        "config": config,
    }


def write_cyclonedx(inventories: list[Inventory], destination: Path) -> None:
    """The inventories as one CycloneDX 1.6 document, written to a temp file then renamed."""
    from elfship.report.sbom_cyclonedx import to_cyclonedx

    text = to_cyclonedx(inventories)
    destination.parent.mkdir(parents=True, exist_ok=True)
    write_bytes(destination, (text + "\n").encode())


def write_artifact_sboms(delivered: Sequence[str], destination: str) -> list[Path]:
    """`build --sbom`: what the delivered binaries carry as CycloneDX, in one file at `destination`, or
    with destination "" one FILE.cdx.json beside each binary. Returns the files written."""
    from elfship.sbom.collect import inventory

    inventories = [inventory(path) for path in delivered]
    if destination:
        write_cyclonedx(inventories, Path(destination))
        return [Path(destination)]
    written = []
    for inv in inventories:
        beside = Path(inv.path).with_name(Path(inv.path).name + ".cdx.json")
        write_cyclonedx([inv], beside)
        written.append(beside)
    return written


def embedded_libraries(path: str, inode: tuple[int, int] | None = None) -> tuple[tuple[str, str | None], ...]:
    """(name, version) of the upstream C libraries inside a file: what its owner answers CVEs for. Cached by
    the file's identity, because check asks once per target. With `inode` (the (st_dev, st_ino) the ELF facts
    were read from), a path that now names another file (a root's symlink that points out of the root, read
    from this machine) answers nothing rather than describing the wrong file."""
    try:
        st = os.stat(path)
    except OSError:
        return ()
    if inode is not None and inode != (st.st_dev, st.st_ino):
        return ()
    return _embedded(path, st.st_size, st.st_mtime_ns, st.st_ino)


@lru_cache(maxsize=64)
def _embedded(path: str, size: int, mtime: int, inode: int) -> tuple[tuple[str, str | None], ...]:
    from elfship.errors import ElfError
    from elfship.sbom.collect import inventory

    try:
        inv = inventory(path, libraries=False, digest=False)  # check needs names, not a hash
    except ElfError:
        return ()
    return tuple((c.name, c.version) for c in inv.embedded_c_libraries)
