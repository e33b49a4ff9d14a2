"""rustc's host triple and sysroot are remembered between builds, and asked again whenever anything that picks
the compiler changes (builder/rustcfacts.py). The compiler here is a real ELF program standing in for rustc
that logs each run, so each test sees whether elfship ran it."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from elfship.builder import rustcfacts
from elfship.builder.toolchain import detect_toolchain
from tests.support.fixtures import build_c


@pytest.fixture
def setup(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """A project directory as cwd, elfship's cache in tmp, the stand-in rustc, and a sysroot that exists."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    project = tmp_path / "project"
    project.mkdir()
    monkeypatch.chdir(project)
    (tmp_path / "bin").mkdir()
    rustc = tmp_path / "bin" / "rustc"
    shutil.copy2(build_c("rustc_stub.c"), rustc)
    (tmp_path / "sysroot").mkdir()
    return {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path / "home"),
        "CARGO": shutil.which("true") or "/bin/true",
        "RUSTC": str(rustc),
        "STUB_LOG": str(tmp_path / "runs.log"),
        "STUB_SYSROOT": str(tmp_path / "sysroot"),
    }


def runs(env: dict[str, str]) -> int:
    log = Path(env["STUB_LOG"])
    return len(log.read_text().splitlines()) if log.exists() else 0


def test_a_second_detection_does_not_run_rustc_and_answers_the_same(setup: dict[str, str]) -> None:
    first = detect_toolchain(setup)
    assert runs(setup) == 1
    second = detect_toolchain(setup)
    assert runs(setup) == 1
    assert (second.host_triple, second.sysroot) == (first.host_triple, first.sysroot)
    assert first.host_triple == "x86_64-unknown-linux-gnu"
    assert first.sysroot == Path(setup["STUB_SYSROOT"])


def test_a_changed_compiler_file_is_asked_again(setup: dict[str, str]) -> None:
    detect_toolchain(setup)
    st = os.stat(setup["RUSTC"])
    os.utime(setup["RUSTC"], ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
    detect_toolchain(setup)
    assert runs(setup) == 2


def test_rustups_choice_of_toolchain_is_part_of_the_key(setup: dict[str, str], tmp_path: Path) -> None:
    detect_toolchain(setup)
    detect_toolchain({**setup, "RUSTUP_TOOLCHAIN": "nightly"})
    assert runs(setup) == 2
    (tmp_path / "rust-toolchain.toml").write_text('[toolchain]\nchannel = "1.80"\n')  # a parent of cwd
    detect_toolchain(setup)
    assert runs(setup) == 3
    settings = Path(setup["HOME"]) / ".rustup" / "settings.toml"  # `rustup default` rewrites it
    settings.parent.mkdir(parents=True)
    settings.write_text('default_toolchain = "beta"\n')
    detect_toolchain(setup)
    assert runs(setup) == 4
    detect_toolchain(setup)
    assert runs(setup) == 4


def test_a_remembered_sysroot_that_is_gone_is_asked_again(setup: dict[str, str]) -> None:
    detect_toolchain(setup)
    os.rmdir(setup["STUB_SYSROOT"])
    os.mkdir(setup["STUB_SYSROOT"] + "-new")
    detect_toolchain({**setup, "STUB_SYSROOT": setup["STUB_SYSROOT"] + "-new"})
    assert runs(setup) == 2


@pytest.mark.parametrize("content", [b"not json", b'{"key": 1}', b"{" + b" " * (2 * rustcfacts.MAX_ENTRY)])
def test_a_damaged_entry_is_ignored_and_replaced(setup: dict[str, str], content: bytes) -> None:
    detect_toolchain(setup)
    (entry,) = rustcfacts.default_cache_dir().iterdir()
    entry.write_bytes(content)
    assert detect_toolchain(setup).sysroot == Path(setup["STUB_SYSROOT"])
    assert runs(setup) == 2
    detect_toolchain(setup)
    assert runs(setup) == 2


def test_a_script_as_rustc_is_always_asked(setup: dict[str, str], tmp_path: Path) -> None:
    script = tmp_path / "bin" / "rustc-wrapper"
    script.write_text(f'#!/bin/sh\nexec {setup["RUSTC"]} "$@"\n')
    script.chmod(0o755)
    env = {**setup, "RUSTC": str(script)}
    detect_toolchain(env)
    detect_toolchain(env)
    assert runs(setup) == 2
    assert not rustcfacts.default_cache_dir().exists()


def test_an_entry_of_another_compiler_under_the_same_checksum_is_not_used(setup: dict[str, str]) -> None:
    detect_toolchain(setup)
    (entry,) = rustcfacts.default_cache_dir().iterdir()
    other = {"key": "another compiler's key", "host": "aarch64-unknown-linux-gnu", "sysroot": "/"}
    entry.write_text(json.dumps(other))
    assert detect_toolchain(setup).host_triple == "x86_64-unknown-linux-gnu"
    assert runs(setup) == 2
