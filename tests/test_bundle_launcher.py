"""The launcher itself: every compiler elfship may pick builds a static one; the sh fallback; odd names."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from elfship.bundle import api, make_bundle
from elfship.bundle.launcher import Compiler, _compile, compilers_for, launcher_sources
from elfship.elf import read_elf
from elfship.elf.model import Kind
from tests.support.fixtures import SOURCES

COMPILER_TOOLS = {
    "musl-gcc": "musl-gcc (apt-get install musl-tools)",
    "zig": "zig (pip install ziglang)",
    "cc": "cc",
}


@pytest.fixture
def who(tmp_path: Path) -> Path:
    if shutil.which("gcc") is None:
        pytest.skip("gcc not installed (apt-get install gcc)")
    program = tmp_path / "src" / "who it's"
    program.parent.mkdir()
    lib = tmp_path / "src" / "libwho.so.1"
    who_c = str(SOURCES / "bundle/who.c")
    subprocess.run(
        ["gcc", "-shared", "-fPIC", '-DWHO="a"', "-Wl,-soname,libwho.so.1", "-o", str(lib), who_c], check=True
    )
    main_c = str(SOURCES / "bundle/who_main.c")
    subprocess.run(["gcc", "-o", str(program), main_c, str(lib), f"-Wl,-rpath,{lib.parent}"], check=True)
    return program


@pytest.mark.parametrize("name", sorted(COMPILER_TOOLS))
def test_each_compiler_builds_a_static_launcher(name: str, tmp_path: Path) -> None:
    compiler = next((c for c in compilers_for("x86_64") if c.name == name), None)
    if compiler is None:
        pytest.skip(f"{COMPILER_TOOLS[name]} not installed")
    binary = _compile(compiler, launcher_sources(), tmp_path / "cache" / "launcher")
    if binary is None and name == "cc":
        pytest.skip("cc cannot link statically here (apt-get install libc6-dev)")
    assert binary is not None
    launcher = tmp_path / "cache" / "launcher"
    assert read_elf(launcher).kind in (Kind.STATIC, Kind.STATIC_PIE)
    assert len(binary) < 1_000_000
    done = subprocess.run([str(launcher)], capture_output=True, text=True, check=False)
    assert done.returncode == 127
    assert done.stderr.startswith("elfship launcher: no bundle config appended to")


def test_unknown_compiler_output_is_not_cached(tmp_path: Path) -> None:
    broken = Compiler("cc", ("false",))
    assert _compile(broken, launcher_sources(), tmp_path / "cache" / "launcher") is None
    assert not (tmp_path / "cache" / "launcher").exists()


def test_no_compiler_falls_back_to_sh_with_a_warning(
    who: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(api, "compiled_launcher", lambda machine: None)  # a machine with no C compiler
    result = make_bundle(str(who), str(tmp_path / "out"))
    assert result.launcher == "sh"
    assert any("POSIX sh launcher" in w and "no C compiler" in w for w in result.warnings)
    launcher = tmp_path / "out" / who.name
    assert launcher.read_bytes().startswith(b"#!/bin/sh\n")
    assert subprocess.run([str(launcher)], capture_output=True, check=False).stdout == b"a\n"


@pytest.mark.parametrize("launcher", ["auto", "sh"])
def test_odd_program_names_survive_both_launchers(who: Path, tmp_path: Path, launcher: str) -> None:
    result = make_bundle(str(who), str(tmp_path / "out dir"), launcher=launcher)
    path = Path(result.output) / who.name
    done = subprocess.run([str(path)], capture_output=True, check=False)
    assert done.stdout == b"a\n", done.stderr
    assert (Path(result.output) / "libexec" / who.name).is_symlink()
