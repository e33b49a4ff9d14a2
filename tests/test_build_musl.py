"""`elfship build --strategy musl --build-std` for real: the musl std built from source with Debian's rustc-web and
rust-web-src, linked with Debian's musl and LLVM's libunwind; the binaries have no INTERP and no NEEDED and run in
an empty root holding nothing but themselves, and in a Debian 11 root.

The std build (~3 minutes cold on 2 cores) is cached the way a user's target/ would be: one persistent
CARGO_TARGET_DIR for every test here, so only the first build of each link mode pays for it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from elfship.builder.buildstd import BUILD_STD_ARG, find_libunwind, find_std_source
from elfship.errors import ToolMissingError
from tests.support.fixtures import CACHE, debian_root
from tests.test_build_e2e import CARGO_FIXTURES, artifact_path, check_in_root, elfship, run_there

MUSL_TARGET_DIR = CACHE / "cargo-target" / "musl-build-std"
RUSTFLAGS = "CARGO_TARGET_X86_64_UNKNOWN_LINUX_MUSL_RUSTFLAGS"
UNWIND_OUTPUT = "caught: boom\nbacktrace captured: true\n"

pytestmark = pytest.mark.slow


def require_std_source() -> None:
    """Skip, naming what is missing, unless a toolchain with rust-src can build std (--build-std)."""
    cargo, rustc = shutil.which("cargo"), shutil.which("rustc")
    if cargo is None or rustc is None:
        pytest.skip("cargo/rustc not on PATH")
    sysroot = Path(subprocess.check_output([rustc, "--print", "sysroot"], text=True).strip())
    try:
        find_std_source(cargo, rustc, sysroot, os.environ)
    except ToolMissingError as missing:
        pytest.skip(missing.one_line())


@pytest.fixture(scope="module", autouse=True)
def build_std_tools() -> None:
    """Skip naming what is missing (scripts/setup.sh installs all of it, so CI never skips)."""
    if shutil.which("musl-gcc") is None:
        pytest.skip("musl-gcc not installed (apt-get install musl-tools)")
    require_std_source()
    try:
        find_libunwind()
    except ToolMissingError as missing:
        pytest.skip(missing.one_line())
    if os.geteuid() != 0:
        pytest.skip("running a binary in an empty root uses chroot, which needs root")


def build(project: str, *args: str, out: Path) -> tuple[dict[str, object], str]:
    """elfship build --json --strategy musl --build-std: the document and cargo's output (stderr)."""
    done = elfship(
        "build", "--json", "--strategy", "musl", "--build-std", "--release", "-o", str(out), *args,
        cwd=CARGO_FIXTURES / project, env={"CARGO_TARGET_DIR": str(MUSL_TARGET_DIR)},
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
    document: dict[str, object] = json.loads(done.stdout)
    return document, done.stderr


def inspect(binary: Path) -> dict[str, object]:
    done = elfship("inspect", "--json", str(binary), cwd=binary.parent)
    assert done.returncode == 0, done.stderr
    facts: dict[str, object] = json.loads(done.stdout)["files"][0]
    return facts


def run_alone(binary: Path, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """Run the binary in a root that holds nothing else: no loader, no libc, no /proc, no /dev."""
    root = tmp_path / "empty-root"
    root.mkdir()
    shutil.copy2(binary, root / binary.name)
    assert sorted(os.listdir(root)) == [binary.name]
    return subprocess.run(
        ["chroot", str(root), f"/{binary.name}"], capture_output=True, text=True, timeout=60
    )


@pytest.fixture(scope="module")
def hello(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, object]]:
    out = tmp_path_factory.mktemp("hello-musl")
    document, _ = build("hello", "--for", "debian:11", out=out)
    return artifact_path(document), document


def test_hello_plan_builds_std_and_links_static(hello: tuple[Path, dict[str, object]]) -> None:
    _, document = hello
    assert document["strategy"] == "musl" and document["ok"] is True
    cargo = document["cargo"]
    assert isinstance(cargo, dict)
    assert cargo["argv"][2:4] == ["--target", "x86_64-unknown-linux-musl"]
    assert BUILD_STD_ARG in cargo["argv"]
    assert cargo["env"]["RUSTC_BOOTSTRAP"] == "1"
    rustc = cargo["env"]["RUSTC"]
    sysroot = subprocess.check_output([rustc, "--print", "sysroot"], text=True).strip()
    assert (Path(sysroot) / "lib/rustlib/src/rust/library/std/Cargo.toml").is_file()  # std's own compiler
    flags = cargo["env"][RUSTFLAGS]
    assert flags.startswith("-C target-feature=+crt-static ")  # said explicitly, as for every musl build
    assert "-C link-self-contained=no" in flags and "-C relocation-model=static" in flags
    (artifact,) = document["artifacts"]  # type: ignore[misc]
    assert [c["verdict"] for c in artifact["checks"]] == ["runs"]


def test_hello_has_no_interp_and_no_needed(hello: tuple[Path, dict[str, object]]) -> None:
    binary, _ = hello
    facts = inspect(binary)
    assert (facts["kind"], facts["interpreter"], facts["needed"]) == ("static", None, [])
    assert facts["libc"]["family"] == "musl"  # type: ignore[index]
    ldd = shutil.which("ldd")
    if ldd is not None:  # the article's check, word for word
        assert (
            "not a dynamic executable" in subprocess.run([ldd, binary], capture_output=True, text=True).stderr
        )


def test_hello_runs_in_an_empty_root(hello: tuple[Path, dict[str, object]], tmp_path: Path) -> None:
    binary, _ = hello
    ran = run_alone(binary, tmp_path)
    assert (ran.returncode, ran.stdout, ran.stderr) == (0, "Hello, world!\n", "")


def test_hello_runs_on_debian_11(hello: tuple[Path, dict[str, object]]) -> None:
    binary, _ = hello
    root = debian_root("bullseye")
    ran = run_there(root, binary, "musl-build-std")
    assert (ran.returncode, ran.stdout) == (0, "Hello, world!\n")
    assert check_in_root(binary, root).returncode == 0


def test_a_second_build_reuses_the_std(hello: tuple[Path, dict[str, object]], tmp_path: Path) -> None:
    """What a user's target/ gives: the std is compiled once, not per build."""
    _, output = build("hello", "--for", "debian:11", out=tmp_path)
    assert "Compiling std " not in output and "Compiling core " not in output, output[-2000:]


def test_a_panic_unwinds_through_llvm_libunwind(tmp_path: Path) -> None:
    """catch_unwind and a backtrace need the unwinder (LLVM's libunwind.a with elfship's __fprintf_chk shim)."""
    document, _ = build("unwind", out=tmp_path)
    ran = run_alone(artifact_path(document), tmp_path)
    assert (ran.returncode, ran.stdout) == (0, UNWIND_OUTPUT)


def test_static_pie_when_asked(tmp_path: Path) -> None:
    document, _ = build("unwind", "--static-pie", "--for", "debian:11", out=tmp_path)
    binary = artifact_path(document)
    facts = inspect(binary)
    assert (facts["kind"], facts["interpreter"], facts["needed"]) == ("static-pie", None, [])
    assert "PIE" in facts["flags"]  # type: ignore[operator]
    cargo = document["cargo"]
    assert isinstance(cargo, dict) and "musl-static-pie.specs" in cargo["env"][RUSTFLAGS]
    ran = run_alone(binary, tmp_path)
    assert (ran.returncode, ran.stdout) == (0, UNWIND_OUTPUT)
