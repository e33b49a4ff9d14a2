"""The cargo project being built, from `cargo metadata`: where it is, its binaries, its resolved -sys crates."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from elfship.builder.native import resolved_packages
from elfship.errors import ElfshipError, UsageError
from elfship.record import record

# Arguments of `cargo build` that change which features resolve, so `cargo metadata` must see them too.
_FEATURE_FLAGS_WITH_VALUE = ("--features", "-F")
_FEATURE_FLAGS = ("--all-features", "--no-default-features")


@record
class BinaryTarget:
    package: str
    name: str


@record
class CargoProject:
    manifest_path: Path
    workspace_root: Path
    target_directory: Path
    binaries: tuple[BinaryTarget, ...]  # the bins this build produces (selected packages, --bin filter)
    resolved: tuple[tuple[str, str, frozenset[str]], ...]  # (crate, version, features) for the target


def find_manifest(cwd: Path, manifest_path: Path | None) -> Path:
    if manifest_path is not None:
        path = manifest_path if manifest_path.name == "Cargo.toml" else manifest_path / "Cargo.toml"
        if not path.is_file():
            raise UsageError(f"no Cargo.toml at {path}", fix="pass --manifest-path PATH/TO/Cargo.toml")
        return path.resolve()
    for directory in (cwd, *cwd.parents):
        candidate = directory / "Cargo.toml"
        if candidate.is_file():
            return candidate.resolve()
    raise UsageError(
        f"not a cargo project: no Cargo.toml in {cwd} or any parent directory",
        fix="run elfship build inside a cargo project, or pass --manifest-path PATH/TO/Cargo.toml",
    )


def feature_args(cargo_args: Sequence[str]) -> tuple[str, ...]:
    """The --features/-F/--all-features/--no-default-features part of the pass-through arguments."""
    picked: list[str] = []
    args = list(cargo_args)
    for index, arg in enumerate(args):
        if arg in _FEATURE_FLAGS or arg.startswith("--features="):
            picked.append(arg)
        elif arg in _FEATURE_FLAGS_WITH_VALUE and index + 1 < len(args):
            picked += ["--features", args[index + 1]]
    return tuple(picked)


def load_project(
    cargo: str,
    manifest: Path,
    triple: str,
    *,
    packages: Sequence[str] = (),
    bins: Sequence[str] = (),
    cargo_args: Sequence[str] = (),
    env: Mapping[str, str] | None = None,
) -> CargoProject:
    metadata = _metadata(cargo, manifest, triple, feature_args(cargo_args), env)
    selected = _selected_packages(metadata, packages)
    binaries = _binaries(selected, bins, manifest)
    return CargoProject(
        manifest_path=manifest,
        workspace_root=Path(metadata["workspace_root"]),
        target_directory=Path(metadata["target_directory"]),
        binaries=binaries,
        resolved=resolved_packages(metadata),
    )


def _metadata(
    cargo: str, manifest: Path, triple: str, features: Sequence[str], env: Mapping[str, str] | None
) -> dict[str, Any]:
    argv = [cargo, "metadata", "--format-version", "1", "--manifest-path", str(manifest)]
    argv += ["--filter-platform", triple, *features]
    try:
        done = subprocess.run(argv, capture_output=True, text=True, env=None if env is None else dict(env))
    except OSError as exc:
        raise ElfshipError(f"cannot run {cargo}: {exc.strerror}") from None
    if done.returncode != 0:
        lines = [line for line in done.stderr.strip().splitlines() if line.strip()]
        detail = " / ".join(lines[-3:]) if lines else f"exit code {done.returncode}"
        raise ElfshipError(
            f"cargo metadata failed for {manifest}: {detail}", fix="run `cargo build` to see why"
        )
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def _selected_packages(metadata: Mapping[str, Any], names: Sequence[str]) -> list[Mapping[str, Any]]:
    by_id = {pkg["id"]: pkg for pkg in metadata["packages"]}
    members = [by_id[i] for i in metadata["workspace_members"] if i in by_id]
    if names:
        known = {pkg["name"]: pkg for pkg in members}
        unknown = [n for n in names if n not in known]
        if unknown:
            raise UsageError(
                f"no package {', '.join(unknown)} in this workspace",
                fix=f"pick one of: {', '.join(sorted(known))}",
            )
        return [known[n] for n in names]
    root = (metadata.get("resolve") or {}).get("root")
    if root in by_id:
        return [by_id[root]]
    defaults = metadata.get("workspace_default_members") or metadata["workspace_members"]
    return [by_id[i] for i in defaults if i in by_id]


def _binaries(
    packages: Sequence[Mapping[str, Any]], wanted: Sequence[str], manifest: Path
) -> tuple[BinaryTarget, ...]:
    available = [
        BinaryTarget(pkg["name"], target["name"])
        for pkg in packages
        for target in pkg["targets"]
        if "bin" in target["kind"]
    ]
    if not available:
        names = ", ".join(pkg["name"] for pkg in packages) or "the workspace"
        raise UsageError(
            f"no binary target in {names} ({manifest}): elfship build makes executables",
            fix="add src/main.rs or a [[bin]] section, or choose a package that has one with -p",
        )
    if not wanted:
        return tuple(available)
    by_name = {b.name: b for b in available}
    unknown = [w for w in wanted if w not in by_name]
    if unknown:
        raise UsageError(
            f"no binary named {', '.join(unknown)}", fix=f"pick one of: {', '.join(sorted(by_name))}"
        )
    return tuple(by_name[w] for w in wanted)
