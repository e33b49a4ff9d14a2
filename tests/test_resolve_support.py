"""Helpers for the resolve tests: fixture libraries and programs, file layouts, and the real loader's answer.

The ground truth is glibc's own loader in list mode (`ld.so --list FILE`, inside a chroot for a root
filesystem): it maps the objects and prints them without running any code of the program. It is only ever
pointed at system files and at fixtures built here.
"""

from __future__ import annotations

import os
import platform
import re
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from elfship.resolve import Resolution
from elfship.resolve.rootfs import FileView
from tests.support.fixtures import build_c

LDSO = "/lib64/ld-linux-x86-64.so.2"
RPATH = ("-Wl,--disable-new-dtags",)
RUNPATH = ("-Wl,--enable-new-dtags",)


def require_host_loader() -> None:
    if platform.machine() != "x86_64" or not os.path.exists(LDSO):
        pytest.skip(f"needs an x86_64 glibc host with {LDSO}")


def require_chroot() -> None:
    if os.geteuid() != 0:
        pytest.skip("chroot(2) needs root: run the tests as root to compare with a loader inside a root")


def library(
    source: str,
    soname: str,
    *,
    ldflags: Sequence[str] = (),
    compiler: str = "gcc",
    zig_target: str | None = None,
) -> Path:
    flags = ("-shared", "-fPIC")
    return build_c(
        f"resolve/{source}",
        compiler=compiler,
        zig_target=zig_target,
        cflags=flags,
        ldflags=(f"-Wl,-soname,{soname}", *ldflags),
        out_name=soname,
    )


def dep(**kwargs: object) -> Path:
    return library("dep.c", "libdep.so.1", **kwargs)  # type: ignore[arg-type]


def linked_to(*libraries: Path) -> tuple[str, ...]:
    flags: list[str] = []
    for lib in libraries:
        flags += [f"-L{lib.parent}", f"-l:{lib.name}"]
    return tuple(flags)


def mid(ldflags: Sequence[str] = ()) -> Path:
    return library("mid.c", "libmid.so.1", ldflags=(*linked_to(dep()), *ldflags))


def program(source: str, libraries: Sequence[Path], ldflags: Sequence[str] = (), name: str = "prog") -> Path:
    # -rpath-link lets the link editor check libmid's own needs; it leaves nothing in the program.
    link_time = (f"-Wl,-rpath-link,{dep().parent}",)
    return build_c(f"resolve/{source}", ldflags=(*linked_to(*libraries), *link_time, *ldflags), out_name=name)


def layout(top: Path, files: Mapping[str, Path | str]) -> Path:
    """Copy files into TOP (value Path) or make symlinks (value str, the link target)."""
    for relative, source in files.items():
        target = top / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(source, str):
            target.symlink_to(source)
        else:
            shutil.copy2(source, target)
    return top


@dataclass(frozen=True)
class Truth:
    returncode: int
    paths: frozenset[str]  # real paths of every mapped file (the vDSO has none)
    missing: frozenset[str]
    output: str


def parse_list_output(stdout: str, stderr: str, returncode: int, real: callable) -> Truth:  # type: ignore[valid-type]
    paths: set[str] = set()
    missing: set[str] = set()
    for line in stdout.splitlines():
        line = line.strip()
        if m := re.match(r"(\S+) => not found", line):
            missing.add(m.group(1))
        elif m := re.match(r"(\S+) => (\S+) \(0x", line):
            paths.add(real(m.group(2)))
        elif m := re.match(r"(/\S+) \(0x", line):
            paths.add(real(m.group(1)))
    if m := re.search(r"error while loading shared libraries: (\S+): cannot open shared object file", stderr):
        missing.add(m.group(1))
    return Truth(returncode, frozenset(paths), frozenset(missing), stdout + stderr)


def ldso_list(
    program: Path | str, *, env: Mapping[str, str] | None = None, root: Path | None = None
) -> Truth:
    """What glibc's loader maps for PROGRAM; inside ROOT (chroot) when given, PROGRAM then a path in it.

    `LD_TRACE_LOADED_OBJECTS=1 ld.so FILE` is what ldd runs: like `ld.so --list FILE` it stops before the
    program's code, and it reports every missing library as "not found" instead of stopping at the first.
    """
    environment = {"LD_TRACE_LOADED_OBJECTS": "1", **(env or {})}
    if root is None:
        result = subprocess.run(
            [LDSO, str(program)], capture_output=True, text=True, env=environment, timeout=60
        )
        return parse_list_output(result.stdout, result.stderr, result.returncode, os.path.realpath)
    view = FileView(root)

    def real(path: str) -> str:
        return str(root) + view.real_path(path)

    def enter_root() -> None:  # chroot in the child itself: a chroot(8) process would trace itself
        os.chroot(root)
        os.chdir("/")

    result = subprocess.run(
        [LDSO, str(program)],
        capture_output=True,
        text=True,
        env=environment,
        timeout=60,
        preexec_fn=enter_root,
    )
    return parse_list_output(result.stdout, result.stderr, result.returncode, real)


def exec_trace(program: Path, env: Mapping[str, str] | None = None) -> Truth:
    """The loader as the kernel starts it (so $ORIGIN is the real directory), in trace mode: it lists the
    objects and exits before any code of the program runs. Only for fixtures built by these tests."""
    result = subprocess.run(
        [str(program)],
        capture_output=True,
        text=True,
        env={"LD_TRACE_LOADED_OBJECTS": "1", **(env or {})},
        timeout=60,
    )
    return parse_list_output(result.stdout, result.stderr, result.returncode, os.path.realpath)


def mapped(resolution: Resolution) -> frozenset[str]:
    """Real paths of every object elfship lists (like ld.so, the interpreter only when something needs it)."""
    return frozenset(os.path.realpath(lib.host_path) for lib in resolution.libraries if lib.host_path)


def missing(resolution: Resolution) -> frozenset[str]:
    return frozenset(lib.soname for lib in resolution.missing)


def assert_agrees(resolution: Resolution, truth: Truth) -> None:
    assert mapped(resolution) == truth.paths, truth.output
    assert missing(resolution) == truth.missing, truth.output


def mini_root(top: Path) -> Path:
    """A tiny glibc root: this machine's loader and libc, /lib64 an absolute symlink into it."""
    libc = os.path.realpath("/lib/x86_64-linux-gnu/libc.so.6")
    loader = os.path.realpath(LDSO)
    (top / "etc").mkdir(parents=True, exist_ok=True)
    return layout(
        top,
        {
            "lib/x86_64-linux-gnu/libc.so.6": Path(libc),
            "lib/x86_64-linux-gnu/ld-linux-x86-64.so.2": Path(loader),
            "lib64/ld-linux-x86-64.so.2": "/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2",
        },
    )


def ldconfig(root: Path, *extra: str) -> None:
    """Build ROOT/etc/ld.so.cache from ROOT/etc/ld.so.conf (a throwaway root made by the test)."""
    tool = shutil.which("ldconfig") or "/sbin/ldconfig"
    if not os.path.exists(tool):
        pytest.skip("ldconfig not installed (libc-bin)")
    subprocess.run([tool, "-r", str(root), *extra], check=True, capture_output=True)


def test_version_nodes_are_split_and_ordered_one_way() -> None:
    """elfship.abi is the one home of node naming: inspect, check and targets agree on every case."""
    from elfship.abi import highest_node_per_namespace, split_version_node, version_key

    assert split_version_node("CXXABI_TM_1") == ("CXXABI", "TM_1")
    assert split_version_node("GLIBC_PRIVATE") == ("GLIBC", "PRIVATE")
    assert split_version_node("libc.so.6") == ("libc.so.6", "")
    assert version_key("2.2.5") < version_key("2.10") < version_key("2.29")
    nodes = ["GLIBC_2.2.5", "GLIBC_2.29", "GLIBC_PRIVATE", "CXXABI_1.3.13", "CXXABI_TM_1", "GLIBCXX_3.4.9"]
    assert highest_node_per_namespace(nodes) == ["CXXABI_1.3.13", "GLIBCXX_3.4.9", "GLIBC_2.29"]
