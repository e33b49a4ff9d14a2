"""check --format junit|github|json: the CI formats say what --json says, in the shape CI systems read.

JUnit XML is validated against a strict schema of the format as CI servers read it (tests/fixtures/junit.xsd,
written for these tests); GitHub annotations are parsed back and compared finding by finding with the JSON.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import xmlschema

from tests.support.binaries import MATRIX_BINARIES

SCHEMA = xmlschema.XMLSchema(str(Path(__file__).parent / "fixtures" / "junit.xsd"))
TARGETS = ["-t", "debian:10", "-t", "debian:13", "-t", "ubuntu:24.10"]  # 24.10: no base-system data
ANNOTATION = re.compile(r"^::(error|warning) file=([^,:]*),title=([^,:]*)::(.*)$")


def elfship(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "elfship", *args], capture_output=True, text=True, timeout=300
    )


def unescape(text: str) -> str:
    for escaped, raw in (("%0D", "\r"), ("%0A", "\n"), ("%3A", ":"), ("%2C", ","), ("%25", "%")):
        text = text.replace(escaped, raw)
    return text


@pytest.fixture(scope="module")
def matrix(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    """runs everywhere, fails on old glibc, unknown/missing libpq, and a file that is not ELF."""
    bogus = tmp_path_factory.mktemp("formats") / "notelf"
    bogus.write_text("#!/bin/sh\n")
    return [
        str(MATRIX_BINARIES["static-musl"]()),
        str(MATRIX_BINARIES["host-dynamic"]()),
        str(MATRIX_BINARIES["needs-libpq"]()),
        str(bogus),
    ]


@pytest.fixture(scope="module")
def as_json(matrix: list[str]) -> tuple[int, dict[str, object]]:
    proc = elfship("check", *matrix, *TARGETS, "--json")
    return proc.returncode, json.loads(proc.stdout)


def test_junit_validates_and_has_a_case_per_file_and_target(
    matrix: list[str], as_json: tuple[int, dict[str, object]]
) -> None:
    proc = elfship("check", *matrix, *TARGETS, "--format", "junit")
    code, document = as_json
    assert proc.returncode == code == 2  # the unreadable file: same exit code as every format
    SCHEMA.validate(proc.stdout)
    root = ET.fromstring(proc.stdout)
    results: list[dict[str, object]] = document["results"]  # type: ignore[assignment]
    cases = {(c.get("classname"), c.get("name")): c for c in root.iter("testcase")}
    assert len(cases) == len(results) + 1  # one per file x target, one for the unreadable file
    for result in results:
        case = cases[(str(result["path"]), f"{result['target']} ({result['arch']})")]
        outcome = {child.tag for child in case} & {"failure", "skipped", "error"}
        assert (
            outcome == {"runs": set(), "fails": {"failure"}, "unknown": {"skipped"}}[str(result["verdict"])]
        )
        findings: list[dict[str, str]] = result["findings"]  # type: ignore[assignment]
        for finding in findings:  # a failure carries every finding, not only the first
            if outcome and finding["severity"] != "info":
                assert finding["message"] in (next(iter(case)).text or "")
    error_case = cases[(matrix[-1], "read")]
    assert [child.tag for child in error_case] == ["error"]
    assert root.get("tests") == str(len(cases))
    assert root.get("failures") == str(sum(r["verdict"] == "fails" for r in results))
    verdicts = {r["verdict"] for r in results}
    assert verdicts == {"runs", "fails", "unknown"}  # the matrix exercises every outcome


def test_github_annotations_match_the_json_findings(
    matrix: list[str], as_json: tuple[int, dict[str, object]]
) -> None:
    proc = elfship("check", *matrix, *TARGETS, "--format", "github")
    code, document = as_json
    assert proc.returncode == code
    parsed = [ANNOTATION.match(line) for line in proc.stdout.splitlines()]
    assert all(parsed), proc.stdout
    got = sorted((m[1], unescape(m[2]), unescape(m[4]).split(" (fix: ")[0]) for m in parsed if m)
    results: list[dict[str, object]] = document["results"]  # type: ignore[assignment]
    level = {"error": "error", "warning": "warning", "unknown": "warning"}
    want = [
        (level[f["severity"]], str(r["path"]), f["message"])
        for r in results
        for f in r["findings"]  # type: ignore[attr-defined]
        if f["severity"] in level
    ]
    want.append(("error", matrix[-1], "not an ELF file (no \\x7fELF magic)"))
    assert got == sorted(want)
    assert sum(1 for m in parsed if m and m[1] == "error") > 2 and any(
        m and m[1] == "warning" for m in parsed
    )


def test_hostile_file_names_stay_one_annotation_and_valid_xml(tmp_path: Path) -> None:
    """A name with a newline, `::`, `,` and a control character can neither split an annotation nor break
    the XML."""
    name = tmp_path / "evil\n::error file=x::pwned,\x01%0A"
    shutil.copy(MATRIX_BINARIES["host-dynamic"](), name)
    github = elfship("check", str(name), "-t", "debian:10", "--format", "github")
    lines = github.stdout.splitlines()
    assert len(lines) == 2 and all(ANNOTATION.match(line) for line in lines), github.stdout
    assert {unescape(m[2]) for m in map(ANNOTATION.match, lines) if m} == {str(name)}
    junit = elfship("check", str(name), "-t", "debian:10", "--format", "junit")
    assert junit.returncode == 1, junit.stderr
    SCHEMA.validate(junit.stdout)
    assert "pwned" in (ET.fromstring(junit.stdout).find("testsuite/testcase").get("classname") or "")  # type: ignore[union-attr]


def test_format_json_is_json_and_conflicts_are_usage_errors() -> None:
    path = str(MATRIX_BINARIES["static-musl"]())
    assert elfship("check", path, "-t", "debian:12", "--format", "json").stdout == (
        elfship("check", path, "-t", "debian:12", "--json").stdout
    )
    text = elfship("check", path, "-t", "debian:12")
    assert text.stdout == elfship("check", path, "-t", "debian:12", "--format", "text").stdout
    proc = elfship("check", path, "-t", "debian:12", "--json", "--format", "junit")
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1
    assert "two formats" in proc.stderr and "Traceback" not in proc.stderr
    assert elfship("check", path, "-t", "debian:12", "--format", "yaml").returncode == 2


def test_an_all_passing_run_is_empty_annotations_and_zero_failures() -> None:
    path = str(MATRIX_BINARIES["static-musl"]())
    github = elfship("check", path, "-t", "debian:10", "-t", "alpine:3.19", "--format", "github")
    assert (github.returncode, github.stdout) == (0, "")
    junit = elfship("check", path, "-t", "debian:10", "-t", "alpine:3.19", "--format", "junit")
    SCHEMA.validate(junit.stdout)
    root = ET.fromstring(junit.stdout)
    assert (root.get("tests"), root.get("failures"), root.get("errors")) == ("2", "0", "0")


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to build the Debian root")
def test_junit_for_a_root() -> None:
    from tests.support.fixtures import debian_root

    root = debian_root("bookworm")
    proc = elfship("check", str(MATRIX_BINARIES["pinned-2.31"]()), "--root", str(root), "--format", "junit")
    assert proc.returncode == 0, proc.stderr
    SCHEMA.validate(proc.stdout)
    (case,) = ET.fromstring(proc.stdout).iter("testcase")
    assert case.get("name", "").startswith(f"root:{root}") and not list(case.iter("failure"))


def test_the_junit_schema_rejects_what_ci_servers_would_not_read() -> None:
    """The schema can fail: an unknown element, a missing name, a negative count."""
    for bad in (
        "<testsuites><testsuite name='x' tests='1'><testcase name='a'><oops/></testcase></testsuite></testsuites>",
        "<testsuites><testsuite tests='1'><testcase name='a'/></testsuite></testsuites>",
        "<testsuites><testsuite name='x' tests='-1'/></testsuites>",
    ):
        assert not SCHEMA.is_valid(bad), bad
    assert SCHEMA.is_valid(
        "<testsuites><testsuite name='x' tests='1'><testcase name='a'/></testsuite></testsuites>"
    )
