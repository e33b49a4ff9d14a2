"""make_bundle: plan, stage, pack and publish one bundle."""

from __future__ import annotations

import hashlib
import os
import shutil
from collections.abc import Sequence
from pathlib import Path

from elfship.bundle.archive import refuse_unsafe, tar_gz_bytes, walk_tree, write_payload, write_tar_gz
from elfship.bundle.collect import plan_bundle
from elfship.bundle.launcher import compiled_launcher, config_block
from elfship.bundle.layout import stage_tree
from elfship.bundle.model import BundleEntry, BundlePlan, BundleResult, Format
from elfship.bundle.output import OutputSlot
from elfship.bundle.policy import GCONV_CHOICES
from elfship.bundle.sh_stub import sh_self_extracting_stub
from elfship.errors import UsageError

_TAR_SUFFIXES = (".tar.gz", ".tgz")
LAUNCHER_CHOICES = ("auto", "sh")


def choose_format(fmt: str | None, out: str | None) -> Format:
    """An explicit --format wins; otherwise OUT's suffix decides (.tar.gz, .tgz, .run), else a directory."""
    if fmt is not None:
        try:
            return Format(fmt)
        except ValueError:
            choices = ", ".join(f.value for f in Format)
            raise UsageError(f"unknown format {fmt!r}", fix=f"use one of {choices}") from None
    if out and out.endswith(_TAR_SUFFIXES):
        return Format.TAR
    if out and out.endswith(".run"):
        return Format.SELF_EXTRACTING
    return Format.DIR


def default_output(program: str, fmt: Format) -> Path:
    name = os.path.basename(os.path.abspath(program))
    suffix = {Format.DIR: ".bundle", Format.TAR: ".tar.gz", Format.SELF_EXTRACTING: ".run"}[fmt]
    return Path(name + suffix)


def make_bundle(
    program: str,
    out: str | None = None,
    *,
    fmt: str | None = None,
    adds: Sequence[str] = (),
    excludes: Sequence[str] = (),
    force: bool = False,
    launcher: str = "auto",
    ld_library_path: str | None = None,
    gconv: str = "minimal",
) -> BundleResult:
    """Bundle `program` into OUT. Raises ElfshipError (one line, with a fix) for anything the user can fix."""
    if launcher not in LAUNCHER_CHOICES:
        raise UsageError(f"unknown launcher {launcher!r}", fix="use auto or sh")
    if gconv not in GCONV_CHOICES:
        raise UsageError(f"unknown --with-gconv {gconv!r}", fix="use minimal or all")
    if not os.path.isfile(program):
        raise UsageError(f"{program}: no such file", fix="check the path of the program to bundle")
    chosen = choose_format(fmt, out)
    out_path = Path(out) if out else default_output(program, chosen)
    slot = OutputSlot(out_path, force=force)
    try:
        plan = plan_bundle(
            program, adds=adds, excludes=excludes, ld_library_path=ld_library_path, gconv=gconv
        )
        binary, warnings = _launcher_for(plan, launcher)
        entries = _build(plan, chosen, slot, binary)
    finally:
        slot.cleanup()
    return BundleResult(
        output=str(out_path),
        format=chosen,
        program=program,
        name=plan.name,
        libc_family=plan.loader.family if plan.loader else None,
        launcher="none" if plan.is_static else ("sh" if binary is None else "static"),
        entries=tuple(entries),
        excluded=plan.excluded,
        output_size=_size_on_disk(out_path),
        warnings=(*plan.warnings, *warnings),
    )


def _launcher_for(plan: BundlePlan, choice: str) -> tuple[bytes | None, tuple[str, ...]]:
    if plan.is_static:
        return None, (f"{plan.name} is static: nothing to bundle, copied as is",)
    if choice == "sh":
        return None, (
            "POSIX sh launcher as asked: a program started through PATH sees its full path as argv[0]",
        )
    binary = compiled_launcher(plan.program.machine)
    if binary is None:
        return None, (
            "no C compiler could build the static launcher (tried musl-gcc, zig, cc -static): "
            "using a POSIX sh launcher instead (fix: pip install ziglang, or apt-get install musl-tools)",
        )
    return binary, ()


def _build(plan: BundlePlan, fmt: Format, slot: OutputSlot, binary: bytes | None) -> list[BundleEntry]:
    if fmt is Format.DIR:
        entries = stage_tree(plan, slot.staging, binary, with_launcher=True)
        slot.staging.chmod(0o755)
        slot.publish(slot.staging)
        return entries
    tree = slot.staging / "tree"
    tree.mkdir()
    target = slot.temporary_file()
    if fmt is Format.TAR:
        entries = stage_tree(plan, tree, binary, with_launcher=True)
        refuse_unsafe(walk_tree(tree), _system_loader(plan))
        with open(target, "wb") as handle:
            write_tar_gz(tree, walk_tree(tree), handle, _tar_top(slot.out, plan.name))
        target.chmod(0o644)
    elif plan.is_static:
        entries = stage_tree(plan, tree, binary, with_launcher=False)
        shutil.copyfile(tree / plan.name, target)
        target.chmod(0o755)
    else:
        entries = stage_tree(plan, tree, binary, with_launcher=False)
        _write_self_extracting(plan, tree, target, binary)
    slot.publish(target)
    return entries


def _write_self_extracting(plan: BundlePlan, tree: Path, target: Path, binary: bytes | None) -> None:
    assert plan.loader is not None
    items = walk_tree(tree)
    refuse_unsafe(items, _system_loader(plan))
    with open(target, "wb") as handle:
        if binary is None:
            # The stub makes the symlinks itself: its tar payload holds only directories and regular files.
            links = [(item.path, item.target or "") for item in items if item.kind == "link"]
            archive = tar_gz_bytes(tree, [item for item in items if item.kind != "link"])
            digest = _short_hash(archive)
            handle.write(sh_self_extracting_stub(plan.name, plan.loader, digest, links))
            handle.write(archive)
        else:
            handle.write(binary)
            size, digest = write_payload(tree, items, handle)
            handle.write(config_block(plan.name, plan.loader, payload_size=size, payload_hash=digest))
    target.chmod(0o755)


def _system_loader(plan: BundlePlan) -> str:
    """The target's own loader when glibc is left out: the one absolute symlink a bundle may hold."""
    path = plan.loader.path if plan.loader else ""
    return path if os.path.isabs(path) else ""


def _short_hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:32]


def _tar_top(out: Path, name: str) -> str:
    for suffix in _TAR_SUFFIXES:
        if out.name.endswith(suffix) and len(out.name) > len(suffix):
            return out.name[: -len(suffix)]
    return name


def _size_on_disk(path: Path) -> int:
    if not path.is_dir():
        return path.stat().st_size
    total = 0
    for top, _dirs, files in os.walk(path):
        total += sum(os.lstat(os.path.join(top, f)).st_size for f in files)
    return total
