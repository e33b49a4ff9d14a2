"""Shared by the base-image tests: the committed target records and the CLI, run as a user would."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent.parent
RELEASES = REPO / "src" / "elfship" / "targets" / "data" / "releases.json"


def elfship(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "elfship", *args], capture_output=True, text=True, timeout=120
    )


def committed(name: str) -> dict[str, Any]:
    """The x86_64 record of release NAME as committed in targets/data/releases.json."""
    records = json.loads(RELEASES.read_text(encoding="utf-8"))["releases"]
    (record,) = [r for r in records if r["name"] == name and r["arch"] == "x86_64"]
    return record


def assert_old_glibc_program_runs_cleanly(target: str) -> None:
    """pow.c linked against glibc 2.17 (by zig) needs only libc and libm, which every base has: on TARGET it
    runs with no finding at all, so nothing of the base is wrongly reported missing or unknown."""
    from tests.support.fixtures import build_c

    old = build_c(
        "pow.c", compiler="zig", zig_target="x86_64-linux-gnu.2.17", ldflags=["-lm"], out_name="pow-217"
    )
    proc = elfship("check", str(old), "-t", target, "--json")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (result,) = json.loads(proc.stdout)["results"]
    assert result["verdict"] == "runs" and not result["findings"]
