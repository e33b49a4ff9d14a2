"""`elfship targets`, run as a user runs it (python -m elfship in a subprocess), JSON checked by its schema."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from tests.support.fixtures import debian_root

SCHEMA = Path(__file__).resolve().parent.parent / "src" / "elfship" / "schemas" / "targets.schema.json"


def elfship(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "elfship", "targets", *args], capture_output=True, text=True, timeout=120
    )


def valid_json(result: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    document: dict[str, Any] = json.loads(result.stdout)
    jsonschema.validate(document, json.loads(SCHEMA.read_text()))
    return document


def test_list_as_json_follows_the_schema() -> None:
    document = valid_json(elfship("--json", "--date", "2026-11-26"))
    names = {t["name"] for t in document["targets"]}
    assert {"debian:13", "debian:12", "rhel:9", "alpine:3.22", "debian:unstable"} <= names
    assert "debian:8" not in names  # past every support window: only with --all
    assert document["date"] == "2026-11-26"
    debian13 = next(t for t in document["targets"] if t["name"] == "debian:13")
    assert debian13["status"] == "supported" and debian13["supported"] is True
    assert "versions" not in debian13["version_nodes"]["GLIBC"]  # the list stays short


def test_all_lists_every_release() -> None:
    document = valid_json(elfship("--json", "--all"))
    names = {t["name"] for t in document["targets"]}
    assert {"debian:8", "manylinux:2014", "alpine:3.12", "alt:p8"} <= names


def test_details_as_json() -> None:
    document = valid_json(elfship("--json", "--date", "2026-11-26", "debian:12", "buster"))
    debian12, debian10 = document["targets"]
    assert (debian12["name"], debian10["name"]) == ("debian:12", "debian:10")
    assert debian12["status"] == "lts"
    assert debian12["version_nodes"]["GLIBC"]["highest"] == "2.36"
    assert "2.36" in debian12["version_nodes"]["GLIBC"]["versions"]
    assert "libc.so.6" in debian12["base_sonames"]
    assert debian12["base_sonames_count"] == len(debian12["base_sonames"])
    assert debian12["package_index"]["release"] == "debian:12"
    # Debian 10's base is inferred from its official image's package list; no package map of its own.
    assert "libc.so.6" in debian10["base_sonames"] and "libpq.so.5" not in debian10["base_sonames"]
    assert debian10["package_index"] is None


def test_root_as_json() -> None:
    document = valid_json(elfship("--json", "--root", str(debian_root("bullseye"))))
    (target,) = document["targets"]
    assert (target["kind"], target["name"], target["libc_version"]) == ("root", "debian:11", "2.31")
    assert "PRIVATE" in target["version_nodes"]["GLIBC"]["versions"]


def test_text_table_and_details() -> None:
    table = elfship("--date", "2026-11-26")
    assert table.returncode == 0, table.stderr
    assert table.stdout.splitlines()[0].split() == ["NAME", "ALIASES", "LIBC", "EOL", "STATUS", "KNOWN"]
    assert "supported on 2026-11-26" in table.stdout
    detail = elfship("bookworm")
    assert detail.returncode == 0, detail.stderr
    assert "debian:12 (bookworm)" in detail.stdout
    assert "GLIBC" in detail.stdout and "highest 2.36" in detail.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("debian:14",), "unknown target 'debian:14'; did you mean debian:13"),
        (("--arch", "sparc"), "unknown architecture 'sparc'"),
        (("--root", "/nonexistent/root"), "not a directory"),
    ],
)
def test_bad_input_exits_2_with_one_line(args: tuple[str, ...], message: str) -> None:
    result = elfship(*args)
    assert result.returncode == 2
    assert result.stdout == ""
    assert len(result.stderr.strip().splitlines()) == 1
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_help_teaches_by_example() -> None:
    result = elfship("--help")
    assert result.returncode == 0
    assert "examples:" in result.stdout and "elfship targets debian:10 bookworm" in result.stdout
