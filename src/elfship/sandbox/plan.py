"""What the sandbox's file system looks like: the root read-only, a fresh /tmp, /proc, a minimal /dev, and
the program (and the files that travel with it) placed at their in-root paths, without writing anything
into the user's root.

The plan is a list of mount operations; bwrap and the unshare fallback each carry the same list out.
A directory that must receive a new entry (a placed file, or a /tmp the root lacks) is "shadowed": a tmpfs is
mounted over it, its original entries are bound back one by one, the new entry is added, and the tmpfs is
made read-only again. Symlinks in the root are followed *inside* the root, never on the host.
"""

from __future__ import annotations

import os
import posixpath
import stat
from collections.abc import Sequence
from pathlib import Path

from elfship.errors import ElfshipError
from elfship.record import field, record

MAX_SYMLINK_HOPS = 40
MAX_SHADOW_ENTRIES = (
    4096  # bwrap takes one argument per entry; a directory this full is not a place to add to
)
SYSTEM_DIRS = ("tmp", "proc", "dev")


@record
class Op:
    """One mount operation, in bwrap's vocabulary: ro-bind SRC DST, tmpfs DST, dir DST, symlink TARGET DST,
    proc DST, dev DST, file DST INDEX (a copy of the INDEXth placed file, mode 0755: 0 is the program, then
    the libraries that travel with it), emulator DST (a static qemu-user copy, mode 0755, for a program of
    another architecture), remount-ro DST."""

    kind: str
    dest: str
    source: str = ""


@record
class MountPlan:
    ops: tuple[Op, ...]
    program_dest: str | None  # resolved in-root path where the program copy appears (None: already there)
    tmp_size: int = field(default=64 << 20)


def make_plan(
    root: Path,
    view: str,
    inside: str,
    *,
    place_program: bool,
    tmp_size: int,
    emulator: str | None = None,
    along: Sequence[str] = (),
) -> MountPlan:
    """`root` is read by elfship to plan; `view` is the host path the sandbox tool binds (the same tree).
    With place_program, the program's copy goes to `inside` and then one copy to each in-root path of
    `along` (the libraries that travel with it), in that order: file op INDEX 0 is the program."""
    ops: list[Op] = [Op("ro-bind", "/", view)]
    shadows: dict[str, set[str]] = {}
    for name in SYSTEM_DIRS:
        if not _is_real_dir(root / name):
            shadows.setdefault("/", set()).add(name)
    made_dirs: list[str] = []
    dests: list[str] = []
    for place in [inside, *along] if place_program else []:
        dest, made = _placement(root, place, shadows)
        if dest in dests:
            raise ElfshipError(f"{place}: two files would be placed at {dest} in the root")
        dests.append(dest)
        made_dirs.extend(d for d in made if d not in made_dirs)
    if "/" in shadows:
        ops.extend(_shadow(root, view, "/", shadows["/"]))
    ops += [Op("tmpfs", "/tmp"), Op("proc", "/proc"), Op("dev", "/dev")]
    if emulator is not None:  # in the sandbox's fresh /tmp: nothing of the root's is covered or changed
        ops += [Op("dir", posixpath.dirname(emulator)), Op("emulator", emulator)]
    for directory in sorted((d for d in shadows if d != "/"), key=lambda d: d.count("/")):
        ops.extend(_shadow(root, view, directory, shadows[directory]))
    ops += [Op("dir", d) for d in sorted(made_dirs, key=lambda d: d.count("/"))]
    ops += [Op("file", dest, str(index)) for index, dest in enumerate(dests)]
    ops += [Op("remount-ro", d) for d in shadows]
    return MountPlan(tuple(ops), dests[0] if dests else None, tmp_size)


def _placement(root: Path, inside: str, shadows: dict[str, set[str]]) -> tuple[str, list[str]]:
    parent, name = posixpath.split(posixpath.normpath(inside))
    existing, missing = resolve_in_root(root, parent) if _top(parent) != "tmp" else (parent, [])
    if _top(existing) == "tmp":  # the sandbox's own fresh /tmp: nothing of the root's there to keep
        full = posixpath.join(existing, *missing)
        made = [posixpath.join("/", *full.split("/")[1 : i + 1]) for i in range(2, full.count("/") + 1)]
        return posixpath.join(full, name), made
    if _top(existing) in ("proc", "dev"):
        raise ElfshipError(f"{inside}: nothing can be placed under /proc or /dev", fix="choose another --at")
    if missing:
        shadows.setdefault(existing, set()).add(missing[0])
        made = [posixpath.join(existing, *missing[: i + 1]) for i in range(len(missing))]
        return posixpath.join(made[-1], name), made
    dest = posixpath.join(existing, name)
    try:
        mode = os.lstat(_host(root, dest)).st_mode
    except FileNotFoundError:
        shadows.setdefault(existing, set()).add(name)
        return dest, []
    if stat.S_ISREG(mode):
        return dest, []  # mounted over the root's own file of that name: nothing is written
    if stat.S_ISDIR(mode):
        raise ElfshipError(f"{inside} is a directory in the root", fix="choose another path with --at")
    shadows.setdefault(existing, set()).add(name)  # a symlink or special file: replaced, not followed
    return dest, []


def _top(path: str) -> str:
    return path.split("/")[1] if path.count("/") >= 1 and path != "/" else ""


def resolve_in_root(root: Path, path: str) -> tuple[str, list[str]]:
    """(deepest existing directory, missing components) of in-root `path`, symlinks resolved in the root."""
    todo = [c for c in path.split("/") if c not in ("", ".")]
    done: list[str] = []
    hops = 0
    while todo:
        part = todo.pop(0)
        if part == "..":
            done = done[:-1]
            continue
        here = "/" + "/".join([*done, part])
        try:
            mode = os.lstat(_host(root, here)).st_mode
        except FileNotFoundError:
            return "/" + "/".join(done), [part, *[c for c in todo if c not in ("", ".")]]
        if stat.S_ISLNK(mode):
            hops += 1
            if hops > MAX_SYMLINK_HOPS:
                raise ElfshipError(f"{path}: too many levels of symbolic links in the root")
            target = os.readlink(_host(root, here))
            done = [] if target.startswith("/") else done
            todo = [c for c in target.split("/") if c not in ("", ".")] + todo
        elif stat.S_ISDIR(mode):
            done.append(part)
        else:
            raise ElfshipError(f"{here} is not a directory in the root", fix="choose another path with --at")
    return "/" + "/".join(done), []


def _shadow(root: Path, view: str, directory: str, replaced: set[str]) -> list[Op]:
    ops = [Op("tmpfs", directory)]
    entries = sorted(os.listdir(_host(root, directory)))
    if len(entries) > MAX_SHADOW_ENTRIES:
        raise ElfshipError(
            f"{directory} in the root has {len(entries)} entries, too many to place the program beside them",
            fix="choose another path with --at",
        )
    for entry in entries:
        if entry in replaced:
            continue
        dest = posixpath.join(directory, entry)
        host = _host(root, dest)
        if os.path.islink(host):
            # Re-created as a link: a bind would follow it on the host, outside the root.
            ops.append(Op("symlink", dest, os.readlink(host)))
        else:
            ops.append(Op("ro-bind", dest, view.rstrip("/") + dest))
    if directory == "/":
        ops += [Op("dir", "/" + name) for name in sorted(replaced & set(SYSTEM_DIRS))]
    return ops


def _is_real_dir(path: Path) -> bool:
    try:
        return stat.S_ISDIR(os.lstat(path).st_mode)
    except OSError:
        return False


def _host(root: Path, inside: str) -> str:
    return os.path.join(root, inside.lstrip("/"))
