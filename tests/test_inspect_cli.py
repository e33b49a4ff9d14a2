"""`elfship inspect`: the JSON contract (validated against the committed schema for every fixture kind), the
one text headline the issue promises (`libm.so.6  GLIBC_2.29  exp, pow`), and --help.

JSON is checked for structure; text only for that headline contract, so the human layout can evolve.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

from elfship.elf import read_elf
from elfship.report.inspect_report import to_json
from tests.support.binaries import versioned_library
from tests.support.fixtures import build_c, build_cargo, strip_section_headers

jsonschema = pytest.importorskip("jsonschema", reason="jsonschema not installed (pip install jsonschema)")

EVERY_KIND: dict[str, Callable[[], Path]] = {
    "gcc dynamic": lambda: build_c("hello.c"),
    "pow": lambda: build_c("pow.c", ldflags=["-lm"]),
    "object file": lambda: build_c("hello.c", cflags=["-c"], out_name="hello.o"),
    "static glibc": lambda: build_c("hello.c", cflags=["-static"], out_name="hello-static"),
    "static-pie glibc": lambda: build_c("hello.c", cflags=["-static-pie"], out_name="hello-static-pie"),
    "static glibc with NSS": lambda: build_c("nss.c", cflags=["-static"], out_name="nss-static"),
    "static musl": lambda: build_c(
        "hello.c", compiler="zig", zig_target="x86_64-linux-musl", out_name="hello-musl"
    ),
    "dynamic musl": lambda: build_c(
        "hello.c",
        compiler="zig",
        zig_target="x86_64-linux-musl",
        ldflags=["-dynamic"],
        out_name="hello-musl-dyn",
    ),
    "glibc 2.17": lambda: build_c(
        "pow.c", compiler="zig", zig_target="x86_64-linux-gnu.2.17", ldflags=["-lm"], out_name="pow-glibc217"
    ),
    "aarch64": lambda: build_c(
        "hello.c", compiler="zig", zig_target="aarch64-linux-musl", out_name="hello-aarch64-linux-musl"
    ),
    "i386": lambda: build_c(
        "hello.c", compiler="zig", zig_target="x86-linux-gnu", out_name="hello-x86-linux-gnu"
    ),
    "s390x": lambda: build_c(
        "hello.c", compiler="zig", zig_target="s390x-linux-gnu", out_name="hello-s390x-linux-gnu"
    ),
    "x86-64-v3": lambda: build_c(
        "hello.c", cflags=["-march=x86-64-v3"], ldflags=["-Wl,-z,x86-64-v3"], out_name="hello-x86-64-v3"
    ),
    "rust": lambda: build_cargo("hello"),
    "rust crt-static": lambda: build_cargo(
        "hello", rustflags=["-C", "target-feature=+crt-static"], target="x86_64-unknown-linux-gnu"
    ),
    "library": lambda: build_c(
        "libshared.c",
        cflags=["-shared", "-fPIC"],
        ldflags=["-Wl,-soname,libshared.so.1", "-Wl,-rpath,$ORIGIN/../lib", "-Wl,--enable-new-dtags"],
        out_name="libshared.so.1",
    ),
    "versioned library": lambda: versioned_library(),
}


def inspect(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "elfship", "inspect", *args], capture_output=True, text=True, timeout=120
    )


def schema() -> dict[str, Any]:
    text = resources.files("elfship").joinpath("schemas/inspect.schema.json").read_text()
    document: dict[str, Any] = json.loads(text)
    return document


@pytest.fixture(scope="module")
def every_kind(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    paths = {name: build() for name, build in EVERY_KIND.items()}
    bare = tmp_path_factory.mktemp("bare") / "pow-no-section-headers"
    paths["no section headers"] = strip_section_headers(paths["pow"], bare)
    return paths


def test_schema_is_valid_and_matches_the_renderer(every_kind: dict[str, Path]) -> None:
    document = schema()
    jsonschema.Draft202012Validator.check_schema(document)
    file_schema = document["$defs"]["file"]
    rendered = to_json(read_elf(every_kind["pow"]), {})
    assert set(file_schema["required"]) == set(rendered) == set(file_schema["properties"])


def test_json_of_every_fixture_kind_validates(every_kind: dict[str, Path]) -> None:
    result = inspect("--json", *map(str, every_kind.values()))
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""  # logs only, and there are none: stdout is the document alone
    document = json.loads(result.stdout)
    jsonschema.Draft202012Validator(schema()).validate(document)
    assert document["schema_version"] == 1 and document["errors"] == []
    by_path = {entry["path"]: entry for entry in document["files"]}
    assert list(by_path) == [str(p) for p in every_kind.values()]
    kinds = {name: by_path[str(path)]["kind"] for name, path in every_kind.items()}
    assert kinds["static musl"] == "static" and kinds["static-pie glibc"] == "static-pie"
    assert kinds["library"] == "shared-library" and kinds["object file"] == "relocatable"
    assert by_path[str(every_kind["s390x"])]["endianness"] == "big"
    assert by_path[str(every_kind["no section headers"])]["stripped"] is None


def test_json_structure_for_pow(every_kind: dict[str, Path]) -> None:
    result = inspect("--json", str(every_kind["pow"]))
    entry = json.loads(result.stdout)["files"][0]
    assert entry["kind"] == "dynamic" and entry["elf_class"] == "ELF64" and entry["machine"] == "x86_64"
    assert entry["needed"] == ["libm.so.6", "libc.so.6"]
    assert entry["interpreter"] == "/lib64/ld-linux-x86-64.so.2"
    assert entry["libc"]["family"] == "glibc"
    assert entry["version_requirements"]["libm.so.6"] == {"GLIBC_2.29": ["exp", "pow"]}
    assert "puts" not in str(entry["version_requirements"]) and "printf" in str(entry["version_requirements"])
    assert entry["libc"]["min_version"] == max(
        (v[6:] for v in entry["version_requirements"]["libc.so.6"]),
        key=lambda v: tuple(map(int, v.split("."))),
    )


def test_json_for_the_pinned_build_says_2_17(every_kind: dict[str, Path]) -> None:
    entry = json.loads(inspect("--json", str(every_kind["glibc 2.17"])).stdout)["files"][0]
    assert entry["libc"] == {"family": "glibc", "min_version": "2.17"}
    assert entry["version_requirements"]["libm.so.6"] == {"GLIBC_2.2.5": ["pow"]}


def test_text_headline_names_the_version_and_its_symbols(every_kind: dict[str, Path]) -> None:
    result = inspect(str(every_kind["pow"]))
    assert result.returncode == 0 and result.stderr == ""
    assert re.search(r"^\s+libm\.so\.6  GLIBC_2\.29  exp, pow$", result.stdout, re.MULTILINE), result.stdout


def test_all_versions_lists_every_node(every_kind: dict[str, Path]) -> None:
    default = inspect(str(every_kind["pow"])).stdout
    every = inspect("--all-versions", str(every_kind["pow"])).stdout
    assert "GLIBC_2.2.5" not in default and re.search(
        r"libc\.so\.6\s+GLIBC_2\.2\.5\s+.*\batof, printf\b", every
    )


def test_help_exits_0_and_teaches() -> None:
    result = inspect("--help")
    assert result.returncode == 0
    assert "examples:" in result.stdout and "--json" in result.stdout and "exp, pow" in result.stdout


def test_no_file_is_a_usage_error() -> None:
    result = inspect()
    assert result.returncode == 2 and "Traceback" not in result.stderr
