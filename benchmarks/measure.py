"""Run one command and measure it: exit code, wall time and the peak RSS of that command alone.

Shared by benchmarks/bench_hostile.py and tests/test_hostile_elf.py.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

# Measuring one command ---------------------------------------------------------------------------------------
# Linux carries a process's peak RSS across fork and exec: a child forked from a 100 MB pytest reports at
# least 100 MB. So a small, freshly exec'd runner forks the command and reports its peak, exit code and time.
RUNNER = """
import json, os, resource, signal, subprocess, sys, time
limit, timeout, argv, report = json.loads(sys.argv[1])
def limit_address_space():
    if limit:
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
start = time.perf_counter()
child = subprocess.Popen(argv, preexec_fn=limit_address_space, start_new_session=True)
code = None
while code is None:
    pid, status, usage = os.wait4(child.pid, os.WNOHANG)
    if pid:
        code = os.waitstatus_to_exitcode(status)
    elif time.perf_counter() - start > timeout:
        os.killpg(child.pid, signal.SIGKILL)
        _, status, usage = os.wait4(child.pid, 0)
        code = "timeout"
    else:
        time.sleep(0.002)
child.returncode = 0
with open(report, "w") as handle:
    json.dump([code, time.perf_counter() - start, usage.ru_maxrss / 1024], handle)
"""


@dataclass(frozen=True)
class Measured:
    code: int | str  # exit code, or "timeout" (the whole process group was killed)
    seconds: float
    rss_mb: float  # peak RSS of the command and the workers it waited for
    stdout: str
    stderr: str


def measure(
    argv: list[str],
    *,
    timeout: float,
    address_space: int | None = None,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    keep_output: bool = True,
) -> Measured:
    """Run argv in its own process group under an optional RLIMIT_AS; its exit, wall time and peak RSS.
    keep_output=False discards stdout and stderr (a tool may print gigabytes for a bomb)."""
    with tempfile.TemporaryDirectory(prefix="elfship-measure-") as scratch:
        report = Path(scratch) / "report.json"
        spec = json.dumps([address_space, timeout, argv, str(report)])
        runner = subprocess.run(
            [sys.executable, "-c", RUNNER, spec],
            stdout=subprocess.PIPE if keep_output else subprocess.DEVNULL,
            stderr=subprocess.PIPE if keep_output else subprocess.DEVNULL,
            text=True,
            errors="replace",
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            check=False,
        )
        code, seconds, rss = json.loads(report.read_text())
    return Measured(code, seconds, rss, runner.stdout or "", runner.stderr or "")
