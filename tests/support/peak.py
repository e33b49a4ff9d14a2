"""Run a command and measure the peak memory of that command alone.

`os.wait4` on a child that pytest started reports the worker's own RSS: subprocess forks (or vforks) the
worker, and Linux keeps the highest RSS of the process across exec. So a tiny launcher starts the command
instead: the command's pre-exec image is the launcher's few MB, and the launcher reports the command's
rusage (its peak, and that of everything it waited for) through a pipe.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import IO

LAUNCHER = """
import json, os, sys
fd = int(sys.argv[1])
pid = os.fork()
if pid == 0:
    os.close(fd)
    try:
        os.execvp(sys.argv[2], sys.argv[2:])
    finally:
        os._exit(127)
_, status, usage = os.wait4(pid, 0)
os.write(fd, json.dumps([os.waitstatus_to_exitcode(status), usage.ru_maxrss]).encode())
"""


@dataclass(frozen=True)
class Measured:
    returncode: int
    max_rss_mb: float


def run_measured(
    argv: Sequence[str],
    *,
    stdout: IO[bytes] | int | None = None,
    stderr: IO[bytes] | int | None = None,
    cwd: str | os.PathLike[str] | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float | None = None,
) -> Measured:
    """Run ARGV to its end; raises subprocess.TimeoutExpired (after killing it) past TIMEOUT."""
    read, write = os.pipe()
    try:
        launcher = subprocess.Popen(
            [sys.executable, "-S", "-c", LAUNCHER, str(write), *map(str, argv)],
            stdout=stdout,
            stderr=stderr,
            cwd=cwd,
            env=env,
            pass_fds=(write,),
            start_new_session=True,
        )
        os.close(write)
        write = -1
        try:
            launcher.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(launcher.pid, 9)
            launcher.wait()
            raise
        report = os.read(read, 256)
    finally:
        os.close(read)
        if write >= 0:
            os.close(write)
    code, max_rss_kb = json.loads(report)
    return Measured(code, max_rss_kb / 1024)
