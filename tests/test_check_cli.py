"""The check command's contract: JSON per schema, exit codes, one-line errors, no tracebacks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from importlib import resources
from pathlib import Path

import jsonschema
import pytest

from tests.support.binaries import MATRIX_BINARIES
from tests.support.fixtures import debian_root

SCHEMA = json.loads(resources.files("elfship").joinpath("schemas/check.schema.json").read_text())


def elfship(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "elfship", *args], capture_output=True, text=True, timeout=300
    )


def test_json_for_the_whole_matrix_validates() -> None:
    paths = [str(build()) for build in MATRIX_BINARIES.values()]
    proc = elfship(
        "check", *paths, "-t", "debian:10", "-t", "debian:12", "-t", "alpine:3.19", "-t", "rhel:8", "--json"
    )
    assert proc.returncode == 1, proc.stderr
    document = json.loads(proc.stdout)
    jsonschema.validate(document, SCHEMA)
    assert len(document["results"]) == len(paths) * 4
    assert {r["verdict"] for r in document["results"]} == {"runs", "fails"}
    assert "Traceback" not in proc.stderr


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to build the Debian root")
def test_run_json_validates_and_records_the_run() -> None:
    root = debian_root("bookworm")
    path = str(MATRIX_BINARIES["pinned-2.31"]())
    proc = elfship("check", path, "--root", str(root), "--run", "--json")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    document = json.loads(proc.stdout)
    jsonschema.validate(document, SCHEMA)
    assert document["results"][0]["arch"] == "x86_64"  # read from the root's own libc
    run = document["results"][0]["run"]
    assert run == run | {"started": True, "exit_code": 0, "prediction_held": True, "method": "bwrap"}


def test_all_runs_exits_zero_and_prints_a_matrix() -> None:
    path = str(MATRIX_BINARIES["static-musl"]())
    proc = elfship("check", path, "-t", "debian:10", "-t", "rhel:8", "-t", "alpine:3.12")
    assert proc.returncode == 0
    arch, header = proc.stdout.splitlines()[:2]
    assert arch == "architecture: x86_64"  # the matrix names the architecture its answers are for
    assert "debian:10" in header and "rhel:8" in header and "alpine:3.12" in header


def test_supported_expands_to_releases_not_past_eol() -> None:
    path = str(MATRIX_BINARIES["static-musl"]())
    proc = elfship("check", path, "-t", "supported", "--json")
    targets = {r["target"] for r in json.loads(proc.stdout)["results"]}
    assert "debian:13" in targets and "debian:8" not in targets and len(targets) > 10


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["check", "/bin/true"], "nothing to check against"),
        (["check", "/bin/true", "-t", "debian:99"], "unknown target 'debian:99'"),
        (["check", "/bin/true", "-t", "debian:12", "--run"], "--run needs --root"),
        (["check", "/bin/true", "--root", "/nonexistent/root"], "/nonexistent/root"),
    ],
)
def test_usage_errors_are_one_line_exit_2(args: list[str], message: str) -> None:
    proc = elfship(*args)
    assert proc.returncode == 2
    assert message in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert "Traceback" not in proc.stderr


def test_bad_file_among_good_ones(tmp_path: Path) -> None:
    bogus = tmp_path / "notelf"
    bogus.write_text("#!/bin/sh\n")
    good = str(MATRIX_BINARIES["static-musl"]())
    proc = elfship("check", str(bogus), good, "-t", "debian:12", "--json")
    assert proc.returncode == 2
    document = json.loads(proc.stdout)
    jsonschema.validate(document, SCHEMA)
    assert [e["path"] for e in document["errors"]] == [str(bogus)]
    assert [r["path"] for r in document["results"]] == [good]


def test_help_teaches() -> None:
    proc = elfship("check", "--help")
    assert proc.returncode == 0
    assert "--target supported" in proc.stdout and "exit codes" in proc.stdout
