"""Diagnosis of cargo failures: real failing builds on this machine, and recorded real output where this
machine cannot fail that way (each recorded file says where it came from)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from elfship.builder.diagnose import KNOWN_FAILURES, diagnose
from tests.support.fixtures import CACHE

CARGO_FIXTURES = Path(__file__).resolve().parent / "fixtures" / "cargo"
RECORDED = CARGO_FIXTURES / "recorded"
TARGET_DIR = CACHE / "cargo-target" / "diagnose"  # shared, so reruns are warm
GNU = "x86_64-unknown-linux-gnu"
MUSL = "x86_64-unknown-linux-musl"
CRT_STATIC = "-C target-feature=+crt-static"


def ids(output: str) -> list[str]:
    return [d.id for d in diagnose(output)]


def require(tool: str, package: str) -> str:
    path = shutil.which(tool)
    if path is None:
        pytest.skip(f"{tool} not installed ({package})")
    return path


def cargo_fails(
    project: str, *args: str, env: dict[str, str] | None = None, target_dir: Path = TARGET_DIR
) -> str:
    """Run a real cargo build that must fail; return what cargo printed."""
    require("cargo", "rustup")
    full_env = {**os.environ, "CARGO_TARGET_DIR": str(target_dir), "CARGO_TERM_COLOR": "never", **(env or {})}
    done = subprocess.run(
        ["cargo", "build", *args], cwd=CARGO_FIXTURES / project, env=full_env, capture_output=True, text=True
    )
    assert done.returncode != 0, f"expected cargo to fail:\n{done.stderr[-2000:]}"
    return done.stderr


def elfship_build(
    project: str, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, "CARGO_TARGET_DIR": str(TARGET_DIR), **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "elfship", "build", *args],
        cwd=CARGO_FIXTURES / project,
        env=full_env,
        capture_output=True,
        text=True,
    )


# -- the table itself ------------------------------------------------------------------------------------------


def test_every_entry_has_a_unique_id_a_cause_and_a_fix() -> None:
    seen = [entry.id for entry in KNOWN_FAILURES]
    assert len(seen) == len(set(seen))
    assert all(entry.cause and entry.fix for entry in KNOWN_FAILURES)


def test_every_entry_formats_with_any_match() -> None:
    """Texts are format strings: a literal brace (a Cargo.toml snippet) must be doubled."""
    for entry in KNOWN_FAILURES:
        groups = {name: "x" for name in entry.regex.groupindex}
        entry.cause.format_map({**groups, "target": "t", "TARGET": "T", "tool": "x", "symbol": "x"})
        entry.fix.format_map({**groups, "target": "t", "TARGET": "T", "tool": "x", "symbol": "x"})


def test_unknown_output_gives_no_diagnosis() -> None:
    assert diagnose("error[E0308]: mismatched types\n  expected `u32`, found `&str`") == ()


def test_colour_codes_do_not_hide_a_match() -> None:
    coloured = "\x1b[1m\x1b[31merror\x1b[0m: could not find native static library `pq`, perhaps an -L flag is missing?"
    (found,) = diagnose(coloured)
    assert found.id == "libpq-missing"
    assert found.evidence.startswith("error: could not find native static library `pq`")


@pytest.mark.parametrize(
    ("recording", "expected"),
    [
        ("seed-cannot-find-lpq.txt", "libpq-missing"),
        ("fedora-no-glibc-static.txt", "glibc-static-libs-missing"),
        ("zig-gcc-eh.txt", "zig-crt-static"),
        ("zig-dynamic-z.txt", "native-lib-missing"),
    ],
)
def test_recorded_real_output(recording: str, expected: str) -> None:
    text = (RECORDED / recording).read_text()
    assert f"Expected diagnosis: {expected}" in text  # the recording says what it shows
    assert ids(text) == [expected]


def test_a_library_name_reaches_the_message() -> None:
    (found,) = diagnose((RECORDED / "zig-dynamic-z.txt").read_text())
    assert "libz" in found.cause


# -- real failing builds on this machine -------------------------------------------------------------------------


@pytest.mark.slow
def test_musl_std_missing() -> None:
    if (
        Path(subprocess.check_output(["rustc", "--print", "sysroot"], text=True).strip())
        / "lib/rustlib"
        / MUSL
    ).exists():
        pytest.skip("the musl std is installed here, so this failure cannot happen")
    output = cargo_fails("hello", "--target", MUSL)
    assert ids(output) == ["musl-std-missing"]
    assert diagnose(output)[0].fix == (
        f"elfship build --strategy musl --build-std (builds it from source), or rustup target add {MUSL}"
    )


@pytest.mark.slow
def test_proc_macro_under_crt_static_without_target() -> None:
    output = cargo_fails("withmacro", env={"RUSTFLAGS": CRT_STATIC})
    (found,) = diagnose(output)
    assert found.id == "proc-macro-crt-static"
    assert "answer-macro" in found.cause
    assert "CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_RUSTFLAGS" in found.fix


@pytest.mark.slow
def test_glibc_static_build_of_the_same_project_succeeds() -> None:
    """The fix the diagnosis names: elfship passes --target, so the proc-macro stays dynamic."""
    done = elfship_build("withmacro", "--strategy", "glibc-static", "--json")
    assert done.returncode == 0, done.stderr[-2000:]
    document = json.loads(done.stdout)
    binary = document["artifacts"][0]["path"]
    assert subprocess.run([binary], capture_output=True, text=True).stdout == "the answer is 42\n"


@pytest.mark.slow
def test_pkg_config_refuses_to_cross_compile() -> None:
    output = cargo_fails("pkgcross", "--target", MUSL)
    assert "pkg-config-cross" in ids(output)


@pytest.mark.slow
def test_c_compiler_for_musl_missing(tmp_path: Path) -> None:
    # A PATH with the host toolchain but without musl-gcc, as on a machine without musl-tools.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("cc", "gcc", "as", "ld", "ar"):
        (bin_dir / tool).symlink_to(require(tool, "apt-get install gcc binutils"))
    cargo_dir = Path(require("cargo", "rustup")).parent
    output = cargo_fails("withc", "--target", MUSL, env={"PATH": f"{cargo_dir}:{bin_dir}"})
    assert "c-compiler-missing" in ids(output)
    found = next(d for d in diagnose(output) if d.id == "c-compiler-missing")
    assert "musl-gcc" in found.cause


@pytest.mark.slow
def test_libpq_a_linked_without_its_dependencies() -> None:
    """pq-sys without `bundled`, linked statically: the system libpq.a leaves GSSAPI/OpenSSL/pgcommon undefined."""
    if not Path("/usr/lib/x86_64-linux-gnu/libpq.a").exists():
        pytest.skip("libpq.a not installed (apt-get install libpq-dev)")
    done = elfship_build("pqsystem", "--strategy", "glibc-static", "--json")
    assert done.returncode == 1, done.stderr[-2000:]
    document = json.loads(done.stdout)
    assert [d["id"] for d in document["diagnoses"]] == ["libpq-link-order"]
    assert "`bundled`" in document["diagnoses"][0]["fix"]
    (pq,) = document["native_dependencies"]
    assert pq["crate"] == "pq-sys" and pq["severity"] == "warning" and not pq["bundled"]
    assert document["artifacts"] == []
    assert "build failed" not in done.stdout  # --json: only the document on stdout


@pytest.mark.slow
def test_libpq_not_found_by_the_zig_linker(tmp_path: Path) -> None:
    from elfship.builder.toolchain import find_zig
    from elfship.builder.zigwrap import write_wrappers

    zig = find_zig()
    if zig is None:
        pytest.skip("zig not installed (pip install ziglang)")
    wrappers = write_wrappers(zig, "x86_64-linux-gnu.2.31", shutil.which("cc"), cache_dir=tmp_path)
    empty = tmp_path / "empty"
    empty.mkdir()
    env = {f"CARGO_TARGET_{GNU.upper().replace('-', '_')}_LINKER": wrappers.cc, "PQ_LIB_DIR": str(empty)}
    output = cargo_fails("pqsystem", "--target", GNU, env=env, target_dir=TARGET_DIR / "zig")
    assert ids(output) == ["libpq-missing"]


@pytest.mark.slow
def test_openssl_not_found_without_pkg_config_answer(tmp_path: Path) -> None:
    done = elfship_build("opensslsys", "--strategy", "glibc-static", env={"PKG_CONFIG_LIBDIR": str(tmp_path)})
    assert done.returncode == 1
    assert "cause: openssl-sys found no OpenSSL" in done.stdout
    assert "`vendored`" in done.stdout


@pytest.mark.slow
def test_openssl_dir_pointing_nowhere(tmp_path: Path) -> None:
    output = cargo_fails("opensslsys", env={"OPENSSL_DIR": str(tmp_path)})
    assert ids(output) == ["openssl-not-found"]


@pytest.mark.slow
def test_openssl_static_library_missing(tmp_path: Path) -> None:
    env = {"OPENSSL_LIB_DIR": str(tmp_path), "OPENSSL_INCLUDE_DIR": "/usr/include", "OPENSSL_STATIC": "1"}
    if not Path("/usr/include/openssl/ssl.h").exists():
        pytest.skip("OpenSSL headers not installed (apt-get install libssl-dev)")
    output = cargo_fails("opensslsys", env=env)
    assert ids(output) == ["openssl-lib-missing"]


def test_glibc_built_c_code_linked_against_musl(tmp_path: Path) -> None:
    """The link step of a musl build that pulls in an object compiled with gcc against glibc's headers."""
    gcc = require("gcc", "apt-get install gcc")
    musl_gcc = require("musl-gcc", "apt-get install musl-tools")
    source = tmp_path / "greet.c"
    source.write_text(
        '#include <stdio.h>\nint main(int c, char **v) { printf("%d %s\\n", c, v[0]); return 0; }\n'
    )
    obj = tmp_path / "greet.o"
    subprocess.run([gcc, "-O2", "-D_FORTIFY_SOURCE=2", "-c", str(source), "-o", str(obj)], check=True)
    done = subprocess.run(
        [musl_gcc, "-static", str(obj), "-o", str(tmp_path / "hello")], capture_output=True, text=True
    )
    assert done.returncode != 0
    (found,) = diagnose(done.stderr)
    assert found.id == "glibc-symbols-in-musl"
    assert "__printf_chk" in found.cause
