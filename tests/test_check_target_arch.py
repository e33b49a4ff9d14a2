"""A target is a release and an architecture: the file's own unless asked otherwise, and always said."""

from __future__ import annotations

import json
import subprocess
import sys
from importlib import resources

import jsonschema

from elfship.targets import split_arch
from tests.support.binaries import MATRIX_BINARIES
from tests.support.fixtures import build_c

SCHEMA = json.loads(resources.files("elfship").joinpath("schemas/check.schema.json").read_text())


def elfship(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "elfship", *args], capture_output=True, text=True, timeout=300
    )


def results(*args: str) -> tuple[int, list[dict[str, object]]]:
    proc = elfship("check", *args, "--json")
    document = json.loads(proc.stdout)
    jsonschema.validate(document, SCHEMA)
    return proc.returncode, document["results"]


def test_split_arch_spellings() -> None:
    assert split_arch("debian:12") == ("debian:12", None)
    assert split_arch("debian:12/arm64") == ("debian:12", "aarch64")
    assert split_arch("bookworm/AMD64") == ("bookworm", "x86_64")


def test_named_target_defaults_to_the_files_architecture_and_says_so() -> None:
    path = str(MATRIX_BINARIES["aarch64"]())
    code, answers = results(path, "-t", "debian:12")
    assert code == 0 and [(r["target"], r["arch"], r["verdict"]) for r in answers] == [
        ("debian:12", "aarch64", "runs")
    ]
    text = elfship("check", path, "-t", "debian:12")
    assert text.stdout.startswith(f"{path} on debian:12 (aarch64): RUNS")
    code, answers = results(path, "-t", "supported")
    assert {r["arch"] for r in answers} == {"aarch64"} and len(answers) > 5


def test_asked_architecture_that_differs_fails_with_the_reason() -> None:
    path = str(MATRIX_BINARIES["aarch64"]())
    for args in (["-t", "debian:12/x86_64"], ["-t", "debian:12", "--arch", "amd64"]):
        code, (answer,) = results(path, *args)
        assert code == 1 and answer["arch"] == "x86_64" and answer["verdict"] == "fails"
        (finding,) = [f for f in answer["findings"] if f["severity"] == "error"]  # type: ignore[union-attr]
        assert finding["kind"] == "wrong-architecture"
        assert "built for aarch64" in finding["message"] and "debian:12 on x86_64" in finding["message"]


def test_conflicting_architectures_are_a_usage_error() -> None:
    proc = elfship("check", str(MATRIX_BINARIES["aarch64"]()), "-t", "debian:12/aarch64", "--arch", "x86_64")
    assert proc.returncode == 2 and proc.stderr.startswith("elfship: error: --target debian:12/aarch64 names")
    assert "Traceback" not in proc.stderr


def test_a_matrix_names_its_architecture() -> None:
    path = str(MATRIX_BINARIES["aarch64"]())
    mixed = elfship("check", path, "-t", "debian:12", "-t", "debian:12/x86_64")
    header = mixed.stdout.splitlines()[0]
    assert mixed.returncode == 1 and "debian:12/aarch64" in header and "debian:12/x86_64" in header
    single = elfship("check", path, "-t", "debian:11", "-t", "debian:12")
    assert single.stdout.splitlines()[0] == "architecture: aarch64"


def test_an_architecture_without_release_data_is_an_error_unless_one_is_asked() -> None:
    riscv = str(build_c("hello.c", compiler="zig", zig_target="riscv64-linux-gnu", out_name="hello-riscv64"))
    proc = elfship("check", riscv, "-t", "debian:12")
    assert proc.returncode == 2 and "built for riscv64" in proc.stderr and "--arch" in proc.stderr
    assert "Traceback" not in proc.stderr
    asked = elfship("check", riscv, "-t", "debian:12/x86_64")
    assert asked.returncode == 1 and "on debian:12 (x86_64): FAILS" in asked.stdout


def test_bad_architecture_spellings_are_one_line_errors() -> None:
    path = str(MATRIX_BINARIES["aarch64"]())
    for args, says in (
        (["-t", "debian:12/"], "give it as RELEASE/ARCH"),
        (["-t", "/x86_64"], "give it as RELEASE/ARCH"),
        (["-t", "debian:12/sparc"], "no target data for architecture 'sparc'"),
        (["-t", "debian:12", "--arch", "foo"], "no target data for architecture 'foo'"),
    ):
        proc = elfship("check", path, *args)
        assert proc.returncode == 2 and proc.stderr.startswith("elfship: error: ") and says in proc.stderr, (
            args
        )
        assert len(proc.stderr.splitlines()) == 1
