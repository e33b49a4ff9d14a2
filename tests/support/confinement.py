"""Running elfship on hostile roots: the CLI in a child with a deadline, its peak memory, and a snapshot of
everything it could have written to."""

from __future__ import annotations

import json
import os
import stat
import sys
from dataclasses import dataclass
from pathlib import Path

from benchmarks.measure import measure

from tests.support.fixtures import build_c
from tests.test_resolve_support import layout, ldconfig, mini_root

DEADLINE = 20.0  # seconds before a run counts as a hang (the goal is well under 1 s)
MAX_RSS_MB = 200  # the memory goal for any hostile input


@dataclass(frozen=True)
class Run:
    returncode: int
    stdout: str
    stderr: str
    seconds: float
    max_rss_mb: float

    def assert_sane(self, *, allowed: tuple[int, ...] = (0, 1, 2)) -> None:
        """No traceback, an answer in time and memory, a documented exit code."""
        assert "Traceback" not in self.stderr, self.stderr[-3000:]
        assert self.returncode in allowed, (self.returncode, self.stderr[-2000:])
        assert self.seconds < DEADLINE / 2, self.seconds
        assert self.max_rss_mb < MAX_RSS_MB, self.max_rss_mb
        if self.returncode == 2 and self.stdout.startswith("{"):
            assert json.loads(self.stdout)["errors"], self.stdout  # --json: the error is in the document
        elif self.returncode == 2:
            lines = [line for line in self.stderr.splitlines() if line.strip()]
            assert len(lines) == 1 and lines[0].startswith("elfship: error: "), self.stderr


def elfship(*args: str, cwd: Path) -> Run:
    """`python3 -m elfship ARGS` in CWD, with TMPDIR and HOME there too (so any write would show)."""
    env = {**os.environ, "TMPDIR": str(cwd), "HOME": str(cwd), "LC_ALL": "C.UTF-8"}
    measured = measure([sys.executable, "-m", "elfship", *args], timeout=DEADLINE, cwd=cwd, env=env)
    if isinstance(measured.code, str):
        raise AssertionError(f"elfship {' '.join(args)} hung for {DEADLINE} s")
    return Run(measured.code, measured.stdout, measured.stderr, measured.seconds, measured.rss_mb)


def snapshot(top: Path) -> dict[str, tuple[int, int, int]]:
    """(mode, size, mtime) of every entry under TOP, symlinks not followed: what a write would change."""
    seen: dict[str, tuple[int, int, int]] = {}
    for directory, dirs, files in os.walk(top):
        for name in [*dirs, *files]:
            path = os.path.join(directory, name)
            st = os.lstat(path)
            seen[path] = (st.st_mode, st.st_size, st.st_mtime_ns)
    return seen


def hello() -> Path:
    return build_c("hello.c")


def glibc_root(top: Path) -> Path:
    """A tiny glibc root with a program at /usr/bin/prog, an ld.so.conf with an include, a real cache."""
    mini_root(top)
    layout(top, {"usr/bin/prog": hello()})
    (top / "etc/ld.so.conf.d").mkdir(parents=True, exist_ok=True)
    (top / "etc/ld.so.conf").write_text("include /etc/ld.so.conf.d/*.conf\n")
    (top / "etc/ld.so.conf.d/extra.conf").write_text("/opt/extra\n")
    (top / "etc/os-release").write_text('ID=debian\nVERSION_ID="12"\n')
    ldconfig(top)
    return top


def make_char_zero(path: Path) -> bool:
    """A /dev/zero device node at PATH (needs CAP_MKNOD); False when this user cannot make one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.mknod(path, stat.S_IFCHR | 0o666, os.makedev(1, 5))
    except PermissionError:
        return False
    return True
