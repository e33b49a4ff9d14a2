"""musl with --build-std: the exact cargo command and environment, the choice, the static-pie specs, the std
source search on this machine's real toolchains (rustup's without rust-src, Debian's rustc-web with it)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from elfship.builder.buildstd import (
    BUILD_STD_ARG,
    STD_SOURCE_FIX,
    BuildStd,
    StdSource,
    build_std_for,
    find_libunwind,
    find_std_source,
    musl_specs,
    static_pie_specs,
)
from elfship.builder.plan import BuildOptions, c_compiler_for, make_plan
from elfship.builder.strategy import Strategy, StrategyChoice, choose_strategy
from elfship.builder.toolchain import Toolchain
from elfship.errors import ToolMissingError, UsageError

BASE = Path("/work/app/target")
JSON = "--message-format=json-render-diagnostics"
MUSL = "x86_64-unknown-linux-musl"
SOURCE = StdSource("/usr/bin/cargo", "/usr/bin/rustc", "1.96.0", Path("/usr/lib/rustlib/src/rust/library"))
DEBIAN_RUST_FIX = "apt-get install rustc-web cargo-web rust-web-src"


def build_std(static_pie: bool = False) -> BuildStd:
    return BuildStd(SOURCE, static_pie, "/usr/bin/musl-gcc", "/usr/bin/x86_64-linux-gnu-gcc", Path("/l/u.a"))


def plan(static_pie: bool = False, user_env: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    cc = c_compiler_for(
        Strategy.MUSL, "x86_64", "x86_64", musl_gcc="/usr/bin/musl-gcc", host_ar="/usr/bin/ar", zig=None
    )
    return make_plan(
        StrategyChoice(Strategy.MUSL, "asked for with --strategy"),
        BuildOptions(profile="release", build_std=True, static_pie=static_pie),
        cargo="/root/.cargo/bin/cargo",  # the toolchain on PATH: replaced by the one with the std sources
        base_target_dir=BASE,
        c_compiler=cc,
        user_env=user_env,
        build_std=build_std(static_pie),
    )


def test_static_plan_is_exact() -> None:
    built = plan()
    target_dir = "/work/app/target/elfship/musl-build-std"
    assert built.argv == ("/usr/bin/cargo", "build", "--target", MUSL, "--target-dir", target_dir, JSON,
                          BUILD_STD_ARG, "--release")  # fmt: skip
    assert built.env == (
        ("RUSTC_BOOTSTRAP", "1"),
        ("RUSTC", "/usr/bin/rustc"),
        (
            "CARGO_TARGET_X86_64_UNKNOWN_LINUX_MUSL_RUSTFLAGS",
            "-C target-feature=+crt-static -C link-self-contained=no "
            f"-L native={target_dir}/musl-support -C relocation-model=static",
        ),
        ("CARGO_TARGET_X86_64_UNKNOWN_LINUX_MUSL_LINKER", "/usr/bin/musl-gcc"),
        ("CC_x86_64_unknown_linux_musl", "/usr/bin/musl-gcc"),
        ("AR_x86_64_unknown_linux_musl", "/usr/bin/ar"),
        ("PKG_CONFIG_ALL_STATIC_x86_64_unknown_linux_musl", "1"),
    )
    assert built.notes == ()
    assert built.build_std == build_std()


def test_static_pie_plan_links_with_gcc_and_elfships_specs() -> None:
    built = plan(static_pie=True)
    target_dir = "/work/app/target/elfship/musl-build-std-pie"
    assert built.target_dir == Path(target_dir)
    assert built.env_dict["CARGO_TARGET_X86_64_UNKNOWN_LINUX_MUSL_RUSTFLAGS"] == (
        "-C target-feature=+crt-static -C link-self-contained=no "
        f"-L native={target_dir}/musl-support -C link-arg=-specs={target_dir}/musl-support/musl-static-pie.specs"
    )
    assert built.env_dict["CARGO_TARGET_X86_64_UNKNOWN_LINUX_MUSL_LINKER"] == "/usr/bin/x86_64-linux-gnu-gcc"
    assert built.env_dict["CC_x86_64_unknown_linux_musl"] == "/usr/bin/musl-gcc"  # C code still musl's


def test_a_users_rustflags_keep_crt_static_and_the_link_flags_together() -> None:
    built = plan(user_env={"RUSTFLAGS": "-C debuginfo=1"})
    assert built.env_dict["RUSTFLAGS"].startswith("-C debuginfo=1 -C target-feature=+crt-static ")
    assert built.env_dict["RUSTFLAGS"].endswith(" -C relocation-model=static")


def test_a_target_dir_with_spaces_is_refused() -> None:
    with pytest.raises(UsageError, match="contains whitespace"):
        build_std().rustflags(Path("/home/me/my app/target/elfship/musl-build-std/musl-support"))


def toolchain(sysroot: Path, musl_gcc: bool = True) -> Toolchain:
    return Toolchain("/usr/bin/cargo", "/usr/bin/rustc", "x86_64-unknown-linux-gnu", sysroot,
                     {"x86_64": "/usr/bin/musl-gcc"} if musl_gcc else {}, None, "gcc", None)  # fmt: skip


def test_build_std_needs_no_installed_musl_std(tmp_path: Path) -> None:
    choice = choose_strategy(Strategy.MUSL, [], toolchain(tmp_path), "x86_64", build_std=True)
    assert choice.strategy is Strategy.MUSL and "--build-std" in choice.why
    auto = choose_strategy(Strategy.AUTO, [], toolchain(tmp_path), "x86_64", build_std=True)
    assert auto.strategy is Strategy.MUSL


def test_build_std_is_for_musl_and_needs_musl_gcc(tmp_path: Path) -> None:
    with pytest.raises(
        UsageError, match="--build-std is for --strategy musl or glibc-pinned, not glibc-static"
    ):
        choose_strategy(Strategy.GLIBC_STATIC, [], toolchain(tmp_path), "x86_64", build_std=True)
    with pytest.raises(ToolMissingError, match="musl-gcc") as raised:
        choose_strategy(Strategy.MUSL, [], toolchain(tmp_path, musl_gcc=False), "x86_64", build_std=True)
    assert raised.value.fix == "apt-get install musl-tools"


def test_static_pie_without_build_std_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="--static-pie goes with --build-std"):
        build_std_for(False, True, "cargo", "rustc", Path("/"), "/usr/bin/musl-gcc", {})
    assert build_std_for(False, False, "cargo", "rustc", Path("/"), None, {}) is None


# -- on this machine's real tools ------------------------------------------------------------------------------


def rustup_rustc() -> tuple[str, str, Path]:
    rustc = shutil.which("rustc")
    cargo = shutil.which("cargo")
    if rustc is None or cargo is None:
        pytest.skip("rustc/cargo not on PATH (rustup)")
    sysroot = Path(subprocess.check_output([rustc, "--print", "sysroot"], text=True).strip())
    if (sysroot / "lib" / "rustlib" / "src" / "rust" / "library").is_dir():
        pytest.skip("the rustc on PATH has rust-src: the fallback to Debian's cannot be seen here")
    return cargo, rustc, sysroot


def require_debian_rust() -> None:
    if not Path("/usr/lib/rustlib/src/rust/library/std/Cargo.toml").is_file():
        pytest.skip(f"Debian's Rust with its std sources not installed ({DEBIAN_RUST_FIX})")


def test_the_std_source_is_the_distributions_when_the_path_rustc_has_none() -> None:
    cargo, rustc, sysroot = rustup_rustc()
    require_debian_rust()
    found = find_std_source(cargo, rustc, sysroot, {"PATH": "/usr/bin:/bin"})
    assert (found.cargo, found.rustc) == ("/usr/bin/cargo", "/usr/bin/rustc")
    release = subprocess.check_output(["/usr/bin/rustc", "-vV"], text=True).split("release: ")[1].split()[0]
    assert found.version == release
    assert f"rustc-{release}" in str(found.library.resolve())  # the sources are that rustc's own


def test_a_pinned_rustc_without_sources_is_one_line_with_the_fix() -> None:
    cargo, rustc, sysroot = rustup_rustc()
    with pytest.raises(ToolMissingError) as raised:
        find_std_source(cargo, rustc, sysroot, {"RUSTC": rustc, "PATH": "/usr/bin:/bin"})
    assert raised.value.fix == STD_SOURCE_FIX
    assert "rust-src" in raised.value.message and "\n" not in raised.value.one_line()


def test_no_libunwind_says_which_package(tmp_path: Path) -> None:
    with pytest.raises(ToolMissingError) as raised:
        find_libunwind(str(tmp_path / "llvm-*" / "lib" / "libunwind.a"))
    assert raised.value.fix is not None and "libunwind-22-dev" in raised.value.fix
    for major in ("9", "19", "22"):
        (tmp_path / f"llvm-{major}" / "lib").mkdir(parents=True)
        (tmp_path / f"llvm-{major}" / "lib" / "libunwind.a").write_bytes(b"!<arch>\n")
    assert find_libunwind(str(tmp_path / "llvm-*" / "lib" / "libunwind.a")).parent.parent.name == "llvm-22"


def test_static_pie_specs_from_debians_musl_gcc() -> None:
    musl_gcc = shutil.which("musl-gcc")
    if musl_gcc is None:
        pytest.skip("musl-gcc not installed (apt-get install musl-tools)")
    original = musl_specs(musl_gcc).read_text()
    patched = static_pie_specs(original)
    libdir = "/usr/lib/x86_64-linux-musl/"
    assert f"%{{static-pie: {libdir}rcrt1.o; !shared: {libdir}Scrt1.o}}" in patched
    assert (
        "%{static-pie:-static -pie --no-dynamic-linker -z text; :-dynamic-linker /lib/ld-musl-x86_64.so.1}"
        in (patched)
    )
    assert patched.count("\n") == original.count("\n")  # two lines changed, nothing else


def test_unknown_specs_are_refused() -> None:
    with pytest.raises(UsageError, match="not the one elfship knows"):
        static_pie_specs("*startfile:\ncrt1.o\n")


def test_cli_static_pie_without_build_std_is_exit_2() -> None:
    from tests.test_build_e2e import CARGO_FIXTURES, elfship

    done = elfship("build", "--strategy", "musl", "--static-pie", cwd=CARGO_FIXTURES / "hello")
    assert done.returncode == 2
    assert done.stderr == (
        "elfship: error: --static-pie goes with --build-std "
        "(fix: add --build-std (rustup's musl std already links static-pie))\n"
    )


def test_a_musl_output_with_a_loader_or_a_library_is_an_error() -> None:
    from elfship.builder.deliver import not_fully_static
    from tests.support.fixtures import build_c

    dynamic = build_c("hello.c")
    (finding,) = not_fully_static(dynamic)
    assert finding.severity == "error" and finding.kind == "not-static"
    assert "INTERP /lib64/ld-linux-x86-64.so.2" in finding.message and "NEEDED libc.so.6" in finding.message
    assert not_fully_static(build_c("hello.c", ldflags=["-static"], out_name="hello_static")) == ()
