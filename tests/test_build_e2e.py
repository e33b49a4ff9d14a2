"""elfship build end to end on real cargo projects: hello world against a real Debian 11 root, the JSON
contract, bad input, and an interrupted build."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from elfship.elf import Kind, read_elf
from tests.support.fixtures import CACHE, debian_root, run_in_root

CARGO_FIXTURES = Path(__file__).resolve().parent / "fixtures" / "cargo"
SCHEMA = Path(__file__).resolve().parent.parent / "src" / "elfship" / "schemas" / "build.schema.json"
SRC = Path(__file__).resolve().parent.parent / "src"
GNU = "x86_64-unknown-linux-gnu"


def target_dir(name: str) -> Path:
    return CACHE / "cargo-target" / name


def elfship(
    *args: str, cwd: Path, env: dict[str, str] | None = None, python: tuple[str, ...] = (sys.executable,)
) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, "PYTHONPATH": str(SRC), **(env or {})}
    return subprocess.run(
        [*python, "-m", "elfship", *args], cwd=cwd, env=full_env, capture_output=True, text=True, timeout=1800
    )


def build_json(project: str, *args: str, env: dict[str, str] | None = None) -> dict[str, object]:
    env = {"CARGO_TARGET_DIR": str(target_dir(project)), **(env or {})}
    done = elfship("build", "--json", *args, cwd=CARGO_FIXTURES / project, env=env)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    document: dict[str, object] = json.loads(done.stdout)
    _validate(document)
    return document


def _validate(document: dict[str, object]) -> None:
    jsonschema = pytest.importorskip("jsonschema", reason="jsonschema not installed (pip install jsonschema)")
    jsonschema.validate(document, json.loads(SCHEMA.read_text()))


def run_there(
    root: Path, binary: Path, tag: str, *args: str, timeout: float = 30
) -> subprocess.CompletedProcess[str]:
    """run_in_root under a name of its own: parallel tests must not overwrite each other's copy in the root."""
    unique = binary.with_name(f"{binary.name}-{tag}")
    shutil.copy2(binary, unique)
    return run_in_root(root, unique, *args, timeout=timeout)


def artifact_path(document: dict[str, object]) -> Path:
    artifacts = document["artifacts"]
    assert isinstance(artifacts, list) and len(artifacts) == 1
    return Path(artifacts[0]["path"])


# -- hello world against Debian 11 ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def bullseye() -> Path:
    return debian_root("bullseye")


def check_in_root(binary: Path, root: Path) -> subprocess.CompletedProcess[str]:
    return elfship("check", str(binary), "--root", str(root), cwd=binary.parent)


@pytest.mark.slow
def test_plain_cargo_build_does_not_run_on_debian_11(bullseye: Path) -> None:
    """The problem elfship build solves: this machine's glibc is newer than Debian 11's."""
    env = {**os.environ, "CARGO_TARGET_DIR": str(target_dir("hello") / "plain")}
    subprocess.run(["cargo", "build", "--release", "-q"], cwd=CARGO_FIXTURES / "hello", env=env, check=True)
    binary = target_dir("hello") / "plain" / "release" / "hello"
    needed = read_elf(binary).libc.min_version
    assert needed is not None
    if tuple(map(int, needed.split("."))) <= (2, 31):
        pytest.skip(f"this machine's glibc build only needs GLIBC_{needed}, which Debian 11 has")
    checked = check_in_root(binary, bullseye)
    assert checked.returncode == 1, checked.stdout + checked.stderr
    assert f"GLIBC_{needed}" in checked.stdout
    ran = run_there(bullseye, binary, "plain")
    assert ran.returncode != 0 and "GLIBC_" in ran.stderr and "not found" in ran.stderr


@pytest.mark.slow
def test_glibc_static_hello_runs_on_debian_11(bullseye: Path, tmp_path: Path) -> None:
    document = build_json(
        "hello", "--strategy", "glibc-static", "--release", "--for", "debian:11", "-o", str(tmp_path)
    )
    binary = artifact_path(document)
    assert binary == tmp_path / "hello"
    assert read_elf(binary).kind in (Kind.STATIC, Kind.STATIC_PIE)
    assert document["strategy"] == "glibc-static" and document["ok"] is True
    cargo = document["cargo"]
    assert isinstance(cargo, dict)
    assert cargo["env"]["CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_RUSTFLAGS"] == "-C target-feature=+crt-static"
    assert cargo["argv"][2:4] == ["--target", GNU]
    assert run_there(bullseye, binary, "static").stdout == "Hello, world!\n"
    assert check_in_root(binary, bullseye).returncode == 0


@pytest.mark.slow
def test_glibc_pinned_hello_runs_on_debian_11(bullseye: Path, tmp_path: Path) -> None:
    document = build_json("hello", "--strategy", "glibc-pinned", "--for", "debian:11", "-o", str(tmp_path))
    binary = artifact_path(document)
    info = read_elf(binary)
    assert info.kind is Kind.DYNAMIC
    assert info.libc.min_version is not None
    assert tuple(map(int, info.libc.min_version.split("."))) <= (2, 31)
    assert document["glibc_pin"] == "2.31"
    (artifact,) = document["artifacts"]  # type: ignore[misc]
    assert [c["verdict"] for c in artifact["checks"]] == ["runs"]
    assert run_there(bullseye, binary, "pinned").stdout == "Hello, world!\n"
    assert check_in_root(binary, bullseye).returncode == 0


@pytest.mark.slow
def test_arguments_after_the_double_dash_reach_cargo(tmp_path: Path) -> None:
    document = build_json("hello", "--strategy", "glibc-static", "-o", str(tmp_path), "--", "--locked", "-q")
    assert document["cargo"]["argv"][-2:] == ["--locked", "-q"]  # type: ignore[index]


@pytest.mark.slow
def test_strip_and_slim_shrink_the_binary(tmp_path: Path) -> None:
    plain = build_json("hello", "--strategy", "glibc-static", "--release", "-o", str(tmp_path / "a"))
    slim = build_json(
        "hello", "--strategy", "glibc-static", "--release", "--slim", "--strip", "-o", str(tmp_path / "b")
    )
    (before,) = plain["artifacts"]  # type: ignore[misc]
    (after,) = slim["artifacts"]  # type: ignore[misc]
    assert before["size_after_strip"] is None
    assert after["size_after_strip"] < after["size"]
    assert after["size_after_strip"] == (tmp_path / "b" / "hello").stat().st_size
    assert slim["cargo"]["env"]["CARGO_PROFILE_RELEASE_OPT_LEVEL"] == "z"  # type: ignore[index]
    assert (
        subprocess.run([tmp_path / "b" / "hello"], capture_output=True, text=True).stdout == "Hello, world!\n"
    )


@pytest.mark.slow
def test_auto_says_which_strategy_and_why(tmp_path: Path) -> None:
    document = build_json("hello", "--for", "debian:11", "-o", str(tmp_path))
    assert document["strategy"] in ("musl", "glibc-static", "glibc-pinned")
    assert isinstance(document["why"], str) and document["why"]


@pytest.mark.slow
def test_text_output_names_the_strategy_and_the_verdict(tmp_path: Path) -> None:
    env = {"CARGO_TARGET_DIR": str(target_dir("hello"))}
    done = elfship(
        "build",
        "--strategy",
        "glibc-static",
        "--for",
        "debian:10",
        "-o",
        str(tmp_path),
        cwd=CARGO_FIXTURES / "hello",
        env=env,
    )
    assert done.returncode == 0, done.stderr
    assert "strategy glibc-static: asked for with --strategy" in done.stderr
    assert "running: CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_RUSTFLAGS=" in done.stderr
    assert done.stdout.splitlines()[:2] == [
        f"hello: {tmp_path / 'hello'} [{done.stdout.split('[')[1].split(']')[0]}]",
        "  debian:10: runs",
    ]


@pytest.mark.slow
def test_a_binary_that_would_not_run_on_a_target_fails_the_build_and_is_not_delivered(tmp_path: Path) -> None:
    """Static glibc needs Linux >= 3.2; Oracle Linux 6 ships 2.6.32."""
    env = {"CARGO_TARGET_DIR": str(target_dir("hello"))}
    args = (
        "build",
        "--strategy",
        "glibc-static",
        "--for",
        "oracle:6",
        "--for",
        "debian:11",
        "-o",
        str(tmp_path),
    )
    done = elfship(*args, cwd=CARGO_FIXTURES / "hello", env=env)
    assert done.returncode == 1, done.stderr
    assert "  oracle:6: fails" in done.stdout and "  debian:11: runs" in done.stdout
    assert "needs Linux >= 3.2" in done.stdout
    assert (
        done.stdout.splitlines()[-1]
        == "build failed: the binary would not run on oracle:6 (nothing delivered)"
    )
    assert list(tmp_path.iterdir()) == []


def test_cargo_elfship_build_is_the_same_command(tmp_path: Path) -> None:
    from elfship.cli.main import cargo_main

    with pytest.raises(SystemExit):
        cargo_main(["elfship", "build", "--help"])


@pytest.mark.slow
def test_musl_build_with_c_code(tmp_path: Path) -> None:
    """C code compiled by musl-gcc (cc-rs), linked into a static musl binary: with rustup's musl std when it is
    installed, else with the std built from source (--build-std, cached with tests/test_build_musl.py's)."""
    sysroot = Path(subprocess.check_output(["rustc", "--print", "sysroot"], text=True).strip())
    args: tuple[str, ...] = ()
    env: dict[str, str] = {}
    if not (sysroot / "lib" / "rustlib" / "x86_64-unknown-linux-musl" / "lib").is_dir():
        if not Path("/usr/lib/rustlib/src/rust/library/std").is_dir():
            pytest.skip("no musl std and no std sources (apt-get install rustc-web cargo-web rust-web-src)")
        args = ("--build-std", "--release")
        env = {"CARGO_TARGET_DIR": str(CACHE / "cargo-target" / "musl-build-std")}
    document = build_json(
        "withc", "--strategy", "musl", "--for", "debian:10", "-o", str(tmp_path), *args, env=env
    )
    binary = artifact_path(document)
    assert read_elf(binary).kind in (Kind.STATIC, Kind.STATIC_PIE)
    assert subprocess.run([binary], capture_output=True, text=True).stdout == "hello from C, rust\n"


# -- bad input -----------------------------------------------------------------------------------------------------


def test_not_a_cargo_project(tmp_path: Path) -> None:
    done = elfship("build", cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.startswith("elfship: error: not a cargo project: no Cargo.toml in")
    assert len(done.stderr.strip().splitlines()) == 1


def test_a_workspace_without_a_binary(tmp_path: Path) -> None:
    done = elfship("build", "--strategy", "glibc-static", cwd=CARGO_FIXTURES / "libonly")
    assert done.returncode == 2
    assert "no binary target in libonly" in done.stderr and "Traceback" not in done.stderr


def test_an_unknown_bin_or_package(tmp_path: Path) -> None:
    done = elfship("build", "--strategy", "glibc-static", "--bin", "nope", cwd=CARGO_FIXTURES / "hello")
    assert done.returncode == 2 and "no binary named nope (fix: pick one of: hello)" in done.stderr


def test_an_unknown_for_target() -> None:
    done = elfship("build", "--for", "debian:99", cwd=CARGO_FIXTURES / "hello")
    assert done.returncode == 2
    assert "unknown target 'debian:99'" in done.stderr and "Traceback" not in done.stderr


def test_cargo_missing(tmp_path: Path) -> None:
    done = elfship(
        "build", cwd=CARGO_FIXTURES / "hello", env={"PATH": str(tmp_path), "CARGO": "", "RUSTC": ""}
    )
    assert done.returncode == 2
    assert (
        done.stderr.strip()
        == "elfship: error: cargo not found on PATH (fix: install Rust with rustup (https://rustup.rs))"
    )


def test_zig_missing_for_glibc_pinned(tmp_path: Path) -> None:
    """`python -S`: no site-packages, so no ziglang wheel; and no zig on PATH."""
    cargo_dir = str(Path(subprocess.check_output(["rustup", "which", "cargo"], text=True).strip()).parent)
    path = os.pathsep.join([cargo_dir, "/usr/bin", "/bin"])
    done = elfship(
        "build",
        "--strategy",
        "glibc-pinned",
        "--for",
        "debian:10",
        cwd=CARGO_FIXTURES / "hello",
        env={"PATH": path},
        python=(sys.executable, "-S"),
    )
    if "zig" in os.listdir("/usr/bin"):
        pytest.skip("a zig is installed in /usr/bin")
    assert done.returncode == 2
    assert done.stderr.strip().endswith("(fix: pip install ziglang)")


def test_musl_without_its_std_stops_before_building() -> None:
    sysroot = Path(subprocess.check_output(["rustc", "--print", "sysroot"], text=True).strip())
    if (sysroot / "lib" / "rustlib" / "x86_64-unknown-linux-musl" / "lib").is_dir():
        pytest.skip("the musl std is installed here")
    done = elfship("build", "--strategy", "musl", cwd=CARGO_FIXTURES / "hello")
    assert done.returncode == 2
    assert done.stderr.strip() == (
        "elfship: error: the Rust standard library for x86_64-unknown-linux-musl is not installed "
        "(fix: add --build-std to build it from source, or rustup target add x86_64-unknown-linux-musl)"
    )


def test_arguments_for_cargo_go_after_a_double_dash() -> None:
    done = elfship("build", "--strategy", "glibc-static", "stray", cwd=CARGO_FIXTURES / "hello")
    assert done.returncode == 2 and "put arguments for cargo after `--`" in done.stderr


def test_an_existing_file_that_elfship_did_not_make_is_not_overwritten(tmp_path: Path) -> None:
    (tmp_path / "hello").write_text("my notes\n")
    env = {"CARGO_TARGET_DIR": str(target_dir("hello"))}
    done = elfship(
        "build", "--strategy", "glibc-static", "-o", str(tmp_path), cwd=CARGO_FIXTURES / "hello", env=env
    )
    assert done.returncode == 2 and "not overwriting it" in done.stderr
    assert (tmp_path / "hello").read_text() == "my notes\n"


# -- interrupted -----------------------------------------------------------------------------------------------------


def _processes_mentioning(text: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            if text in cmdline:
                found.append(int(entry.name))
    return found


def _wait_for(condition: object, what: str, limit: float = 300.0) -> None:
    deadline = time.monotonic() + limit  # a bound on waiting, not an assertion on speed
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.2)


@pytest.mark.slow
@pytest.mark.parametrize("how", ["ctrl-c", "sigterm"])
def test_interrupted_build_leaves_nothing_at_the_output(tmp_path: Path, how: str) -> None:
    out = tmp_path / "dist"
    build_dir = tmp_path / "target"  # unique, so its processes can be told apart from any other build
    process = subprocess.Popen(
        [sys.executable, "-m", "elfship", "build", "--strategy", "glibc-static", "-o", str(out)],
        cwd=CARGO_FIXTURES / "slowbuild",
        env={**os.environ, "PYTHONPATH": str(SRC), "CARGO_TARGET_DIR": str(build_dir)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,  # its own group, as a terminal's foreground job
    )
    try:
        # The build script sleeps for minutes: wait until it runs, then interrupt.
        _wait_for(
            lambda: any("build-script-build" in _cmd(p) for p in _processes_mentioning(str(build_dir))),
            "build script",
        )
        if how == "ctrl-c":
            os.killpg(process.pid, signal.SIGINT)  # the terminal sends SIGINT to the whole foreground group
        else:
            process.send_signal(signal.SIGTERM)  # a CI runner cancelling the job signals elfship only
        _, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
    assert process.returncode == 130, stderr.decode()
    assert "elfship: interrupted" in stderr.decode()
    assert not out.exists() or list(out.iterdir()) == []
    _wait_for(
        lambda: not _processes_mentioning(str(build_dir)), "cargo and its build script to exit", limit=30
    )


def _cmd(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""
