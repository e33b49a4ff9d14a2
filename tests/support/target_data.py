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
