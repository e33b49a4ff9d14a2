"""The cargo project being built, from `cargo metadata`: where it is, its binaries, its resolved -sys crates."""

from __future__ import annotations

import json
import subprocess
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path

from elfship.builder.native import resolved_packages
from elfship.errors import ElfshipError, UsageError
from elfship.record import record

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (start-up time; docs/architecture.md)
if TYPE_CHECKING:
    from typing import Any

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


class PendingProject:
    """`cargo metadata` started and not waited for: it runs while the rest of the plan is made.
    result() raises what load_project would have raised, at the point the project is needed."""

    def __init__(
        self,
        cargo: str,
        manifest: Path,
        triple: str,
        *,
        packages: Sequence[str] = (),
        bins: Sequence[str] = (),
        cargo_args: Sequence[str] = (),
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.manifest, self.triple, self._packages, self._bins = manifest, triple, packages, bins
        self._cargo = cargo
        self._reader: threading.Thread | None = None
        self._output: tuple[str, str] | None = None
        argv = [cargo, "metadata", "--format-version", "1", "--manifest-path", str(manifest)]
        argv += ["--filter-platform", triple, *feature_args(cargo_args)]
        try:
            self._process: subprocess.Popen[str] | None = subprocess.Popen(
                argv,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                stdin=subprocess.DEVNULL,
                text=True,
                env=None if env is None else dict(env),
            )
            self._error: OSError | None = None
        except OSError as exc:
            self._process, self._error = None, exc

    def result(self) -> CargoProject:
        metadata = self._metadata()
        selected = _selected_packages(metadata, self._packages)
        return CargoProject(
            manifest_path=self.manifest,
            workspace_root=Path(metadata["workspace_root"]),
            target_directory=Path(metadata["target_directory"]),
            binaries=_binaries(selected, self._bins, self.manifest),
            resolved=resolved_packages(metadata),
        )

    def read_in_background(self) -> threading.Event:
        """Read cargo's answer on a thread (it must be read as it comes: a large workspace's JSON fills the
        pipe); the event is set once it is in, so the caller can do other work meanwhile."""
        done = threading.Event()

        def read() -> None:
            try:
                self._output = self._process.communicate() if self._process is not None else None
            finally:
                done.set()

        self._reader = threading.Thread(target=read, daemon=True)
        self._reader.start()
        return done

    def discard(self) -> None:
        """Not needed after all (the strategy's triple differed from the guess): stop it."""
        if self._process is not None and self._process.poll() is None:
            self._process.kill()
        if self._reader is not None:
            self._reader.join()
        elif self._process is not None:
            self._process.communicate()

    def _metadata(self) -> dict[str, Any]:
        if self._process is None:
            strerror = self._error.strerror if self._error is not None else "not started"
            raise ElfshipError(f"cannot run {self._cargo}: {strerror}")
        if self._reader is not None:
            self._reader.join()
        stdout, stderr = self._output if self._output is not None else self._process.communicate()
        if self._process.returncode != 0:
            lines = [line for line in stderr.strip().splitlines() if line.strip()]
            detail = " / ".join(lines[-3:]) if lines else f"exit code {self._process.returncode}"
            raise ElfshipError(
                f"cargo metadata failed for {self.manifest}: {detail}", fix="run `cargo build` to see why"
            )
        result: dict[str, Any] = json.loads(stdout)
        return result


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
    pending = PendingProject(
        cargo, manifest, triple, packages=packages, bins=bins, cargo_args=cargo_args, env=env
    )
    return pending.result()


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
