"""Strategy -> exact cargo command and environment; strategy choice; -sys crate table; zig wrappers."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from elfship.builder.native import find_native_dependencies
from elfship.builder.plan import BuildOptions, CCompiler, c_compiler_for, make_plan, merge_env
from elfship.builder.strategy import Strategy, StrategyChoice, TargetLibc, choose_strategy, glibc_pin
from elfship.builder.toolchain import Toolchain
from elfship.builder.zigwrap import write_wrappers
from elfship.errors import ToolMissingError, UsageError

CARGO = "/usr/bin/cargo"
BASE = Path("/work/app/target")
JSON = "--message-format=json-render-diagnostics"


def plan_for(strategy: Strategy, c_compiler: CCompiler | None, pin: str | None = None, **kwargs: object):
    choice = StrategyChoice(strategy, "asked for with --strategy", pin)
    options = kwargs.pop("options", BuildOptions(profile="release"))
    return make_plan(choice, options, cargo=CARGO, base_target_dir=BASE, c_compiler=c_compiler, **kwargs)  # type: ignore[arg-type]


def test_musl_plan_with_musl_gcc_is_exact() -> None:
    cc = c_compiler_for(
        Strategy.MUSL, "x86_64", "x86_64", musl_gcc="/usr/bin/musl-gcc", host_ar="/usr/bin/ar", zig=None
    )
    plan = plan_for(Strategy.MUSL, cc)
    target_dir = "/work/app/target/elfship/musl"
    assert plan.argv == (
        CARGO,
        "build",
        "--target",
        "x86_64-unknown-linux-musl",
        "--target-dir",
        target_dir,
        JSON,
        "--release",
    )
    assert plan.env == (
        ("CARGO_TARGET_X86_64_UNKNOWN_LINUX_MUSL_RUSTFLAGS", "-C target-feature=+crt-static"),
        ("CC_x86_64_unknown_linux_musl", "/usr/bin/musl-gcc"),
        ("AR_x86_64_unknown_linux_musl", "/usr/bin/ar"),
        ("PKG_CONFIG_ALL_STATIC_x86_64_unknown_linux_musl", "1"),
    )
    assert plan.notes == ()
    assert plan.triple == "x86_64-unknown-linux-musl"


def test_musl_plan_with_zig_and_aarch64_cross_sets_the_linker(tmp_path: Path) -> None:
    zig = write_wrappers("/opt/zig/zig", "aarch64-linux-musl", None, cache_dir=tmp_path)
    cc = c_compiler_for(Strategy.MUSL, "aarch64", "x86_64", musl_gcc=None, host_ar="/usr/bin/ar", zig=zig)
    plan = plan_for(Strategy.MUSL, cc, options=BuildOptions(arch="aarch64"))
    assert plan.argv[2:4] == ("--target", "aarch64-unknown-linux-musl")
    assert "--release" not in plan.argv  # dev profile
    assert plan.env == (
        ("CARGO_TARGET_AARCH64_UNKNOWN_LINUX_MUSL_RUSTFLAGS", "-C target-feature=+crt-static"),
        ("CARGO_TARGET_AARCH64_UNKNOWN_LINUX_MUSL_LINKER", zig.cc),
        ("CC_aarch64_unknown_linux_musl", zig.cc),
        ("CXX_aarch64_unknown_linux_musl", zig.cxx),
        ("AR_aarch64_unknown_linux_musl", zig.ar),
        ("PKG_CONFIG_ALL_STATIC_aarch64_unknown_linux_musl", "1"),
    )
    assert zig.cc.endswith("zigcc-aarch64-linux-musl")


def test_glibc_static_plan_is_exact_and_names_the_target() -> None:
    native = [
        ("X86_64_UNKNOWN_LINUX_GNU_OPENSSL_STATIC", "1"),
        ("PQ_LIB_STATIC_X86_64_UNKNOWN_LINUX_GNU", "1"),
    ]
    plan = plan_for(Strategy.GLIBC_STATIC, None, native_env=native)
    assert plan.argv == (
        CARGO,
        "build",
        "--target",
        "x86_64-unknown-linux-gnu",
        "--target-dir",
        "/work/app/target/elfship/glibc-static",
        JSON,
        "--release",
    )
    assert plan.env == (
        ("CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_RUSTFLAGS", "-C target-feature=+crt-static"),
        ("X86_64_UNKNOWN_LINUX_GNU_OPENSSL_STATIC", "1"),
        ("PQ_LIB_STATIC_X86_64_UNKNOWN_LINUX_GNU", "1"),
        ("PKG_CONFIG_ALL_STATIC_x86_64_unknown_linux_gnu", "1"),
    )
    assert (
        c_compiler_for(Strategy.GLIBC_STATIC, "x86_64", "x86_64", musl_gcc=None, host_ar=None, zig=None)
        is None
    )


def test_glibc_pinned_plan_is_exact(tmp_path: Path) -> None:
    zig = write_wrappers("/opt/zig/zig", "x86_64-linux-gnu.2.28", "/usr/bin/cc", cache_dir=tmp_path)
    cc = c_compiler_for(
        Strategy.GLIBC_PINNED, "x86_64", "x86_64", musl_gcc="/usr/bin/musl-gcc", host_ar=None, zig=zig
    )
    plan = plan_for(Strategy.GLIBC_PINNED, cc, pin="2.28")
    target_dir = "/work/app/target/elfship/glibc-pinned-2.28"
    assert plan.argv == (
        CARGO,
        "build",
        "--target",
        "x86_64-unknown-linux-gnu",
        "--target-dir",
        target_dir,
        JSON,
        "--release",
    )
    assert plan.env == (
        ("CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_LINKER", zig.cc),
        ("CC_x86_64_unknown_linux_gnu", zig.cc),
        ("CXX_x86_64_unknown_linux_gnu", zig.cxx),
        ("AR_x86_64_unknown_linux_gnu", zig.ar),
        ("ELFSHIP_HOST_OUTPUT_DIR", target_dir),
        ("ELFSHIP_TARGET_OUTPUT_DIR", f"{target_dir}/x86_64-unknown-linux-gnu"),
        ("PKG_CONFIG_ALL_STATIC_x86_64_unknown_linux_gnu", "1"),
    )
    assert plan.glibc_pin == "2.28"
    assert "CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_RUSTFLAGS" not in plan.env_dict  # dynamic: no crt-static


def test_slim_profile_goes_through_cargo_env_for_the_chosen_profile() -> None:
    plan = plan_for(Strategy.GLIBC_STATIC, None, options=BuildOptions(profile="dist-x", slim=True))
    assert plan.argv[-2:] == ("--profile", "dist-x")
    env = plan.env_dict
    assert env["CARGO_PROFILE_DIST_X_OPT_LEVEL"] == "z"
    assert env["CARGO_PROFILE_DIST_X_LTO"] == "fat"
    assert env["CARGO_PROFILE_DIST_X_CODEGEN_UNITS"] == "1"
    assert env["CARGO_PROFILE_DIST_X_PANIC"] == "abort"
    assert plan.target_dir == BASE / "elfship" / "glibc-static"


def test_selection_and_pass_through_arguments_keep_their_order() -> None:
    options = BuildOptions(
        profile="release",
        packages=("server",),
        bins=("api", "worker"),
        manifest_path=Path("/work/app/Cargo.toml"),
        cargo_args=("--features", "postgres", "--locked"),
    )
    plan = plan_for(Strategy.GLIBC_STATIC, None, options=options)
    assert plan.argv[7:] == (
        "--release",
        "--manifest-path",
        "/work/app/Cargo.toml",
        "-p",
        "server",
        "--bin",
        "api",
        "--bin",
        "worker",
        "--features",
        "postgres",
        "--locked",
    )


@pytest.mark.parametrize(
    "arg", ["--target", "--target=x86_64-unknown-linux-gnu", "--target-dir", "--release"]
)
def test_arguments_elfship_owns_are_refused_after_the_double_dash(arg: str) -> None:
    with pytest.raises(UsageError, match="cannot be passed"):
        plan_for(Strategy.GLIBC_STATIC, None, options=BuildOptions(cargo_args=(arg,)))


def test_user_rustflags_are_appended_to_never_replaced() -> None:
    plan = plan_for(Strategy.GLIBC_STATIC, None, user_env={"RUSTFLAGS": "-C target-cpu=native"})
    env = plan.env_dict
    # cargo ignores target-scoped rustflags while RUSTFLAGS is set, so the flag must go there.
    assert env["RUSTFLAGS"] == "-C target-cpu=native -C target-feature=+crt-static"
    assert "CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_RUSTFLAGS" not in env
    assert plan.notes == (
        "appended -C target-feature=+crt-static to your RUSTFLAGS "
        "(cargo would ignore CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_RUSTFLAGS while it is set)",
    )


def test_encoded_rustflags_and_target_scoped_flags_are_appended() -> None:
    env, notes = merge_env(
        [("CARGO_TARGET_X_RUSTFLAGS", "-C target-feature=+crt-static")],
        {"CARGO_ENCODED_RUSTFLAGS": "-Dwarnings"},
    )
    assert env == (("CARGO_ENCODED_RUSTFLAGS", "-Dwarnings\x1f-C\x1ftarget-feature=+crt-static"),)
    assert len(notes) == 1
    env, notes = merge_env([("CARGO_TARGET_X_RUSTFLAGS", "-C a")], {"CARGO_TARGET_X_RUSTFLAGS": "-C b"})
    assert env == (("CARGO_TARGET_X_RUSTFLAGS", "-C b -C a"),)
    assert notes == ("appended -C a to your CARGO_TARGET_X_RUSTFLAGS",)


def test_a_users_own_compiler_choice_is_kept_and_said() -> None:
    cc = CCompiler(cc="/usr/bin/musl-gcc")
    plan = plan_for(Strategy.MUSL, cc, user_env={"CC_x86_64_unknown_linux_musl": "/opt/cross/bin/cc"})
    assert "CC_x86_64_unknown_linux_musl" not in plan.env_dict
    assert plan.notes == (
        "kept your CC_x86_64_unknown_linux_musl=/opt/cross/bin/cc (elfship would set /usr/bin/musl-gcc)",
    )


def test_command_line_is_a_shell_command() -> None:
    plan = plan_for(Strategy.GLIBC_STATIC, None)
    assert plan.command_line().startswith(
        "CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_RUSTFLAGS='-C target-feature=+crt-static' "
    )
    assert plan.command_line().endswith(
        " /usr/bin/cargo build --target x86_64-unknown-linux-gnu --target-dir "
        f"/work/app/target/elfship/glibc-static {JSON} --release"
    )


# -- strategy choice ----------------------------------------------------------------------------------------


def toolchain(
    tmp_path: Path, *, stds: tuple[str, ...], musl_gcc: bool = False, zig: bool = False
) -> Toolchain:
    for triple in stds:
        (tmp_path / "lib" / "rustlib" / triple / "lib").mkdir(parents=True, exist_ok=True)
    return Toolchain(
        cargo=CARGO,
        rustc="/usr/bin/rustc",
        host_triple="x86_64-unknown-linux-gnu",
        sysroot=tmp_path,
        musl_gcc={"x86_64": "/usr/bin/musl-gcc"} if musl_gcc else {},
        zig="/opt/zig/zig" if zig else None,
        host_cc="gcc",
        strip=None,
    )


GNU = "x86_64-unknown-linux-gnu"
MUSL = "x86_64-unknown-linux-musl"
DEBIAN10 = TargetLibc("debian:10", "glibc", "2.28")
DEBIAN11 = TargetLibc("debian:11", "glibc", "2.31")
ALPINE = TargetLibc("alpine:3.19", "musl", "1.2.4")


def test_glibc_pin_is_the_oldest_glibc_of_the_targets() -> None:
    assert glibc_pin([DEBIAN11, DEBIAN10]) == "2.28"
    assert glibc_pin([TargetLibc("x", "glibc", "2.9"), TargetLibc("y", "glibc", "2.17")]) == "2.9"
    assert glibc_pin([ALPINE]) is None


def test_explicit_musl_without_its_std_says_rustup_target_add(tmp_path: Path) -> None:
    chain = toolchain(tmp_path, stds=(GNU,), musl_gcc=True)
    with pytest.raises(ToolMissingError) as raised:
        choose_strategy(Strategy.MUSL, [DEBIAN10], chain, "x86_64")
    assert raised.value.fix == (
        "add --build-std to build it from source, or rustup target add x86_64-unknown-linux-musl"
    )
    assert raised.value.exit_code == 2


def test_auto_prefers_musl_when_its_std_is_installed(tmp_path: Path) -> None:
    chain = toolchain(tmp_path, stds=(GNU, MUSL), musl_gcc=True)
    choice = choose_strategy(Strategy.AUTO, [DEBIAN10], chain, "x86_64")
    assert choice.strategy is Strategy.MUSL
    assert "musl std installed" in choice.why


def test_auto_falls_back_to_glibc_static_and_says_why_not_musl(tmp_path: Path) -> None:
    chain = toolchain(tmp_path, stds=(GNU,), musl_gcc=True, zig=True)
    choice = choose_strategy(Strategy.AUTO, [DEBIAN10], chain, "x86_64")
    assert choice.strategy is Strategy.GLIBC_STATIC  # libc.a is on this machine (libc6-dev)
    assert "not musl: the Rust standard library for x86_64-unknown-linux-musl is not installed" in choice.why


def test_glibc_pinned_needs_targets_glibc_and_zig(tmp_path: Path) -> None:
    with_zig = toolchain(tmp_path, stds=(GNU,), zig=True)
    choice = choose_strategy(Strategy.GLIBC_PINNED, [DEBIAN11, DEBIAN10], with_zig, "x86_64")
    assert (choice.strategy, choice.glibc_pin) == (Strategy.GLIBC_PINNED, "2.28")
    with pytest.raises(UsageError, match="needs at least one --for"):
        choose_strategy(Strategy.GLIBC_PINNED, [], with_zig, "x86_64")
    with pytest.raises(UsageError, match="alpine"):
        choose_strategy(Strategy.GLIBC_PINNED, [ALPINE], with_zig, "x86_64")
    no_zig = toolchain(tmp_path, stds=(GNU,))
    with pytest.raises(ToolMissingError) as raised:
        choose_strategy(Strategy.GLIBC_PINNED, [DEBIAN10], no_zig, "x86_64")
    assert raised.value.fix == "pip install ziglang"


def test_unsupported_arch_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="riscv64"):
        choose_strategy(Strategy.AUTO, [], toolchain(tmp_path, stds=(GNU,)), "riscv64")


# -- -sys crates ----------------------------------------------------------------------------------------------


def test_sys_crates_get_static_env_and_advice_per_strategy() -> None:
    resolved = [
        ("pq-sys", "0.7.8", frozenset({"bundled"})),
        ("openssl-sys", "0.9.118", frozenset()),
        ("serde", "1.0.0", frozenset({"derive"})),
    ]
    found = find_native_dependencies(resolved, Strategy.MUSL, MUSL, lambda lib: True)
    assert [d.crate for d in found] == ["openssl-sys", "pq-sys"]
    openssl, pq = found
    assert openssl.env == (("X86_64_UNKNOWN_LINUX_MUSL_OPENSSL_STATIC", "1"),)
    assert openssl.severity == "warning"
    assert (
        openssl.advice is not None and "`vendored`" in openssl.advice and "built for glibc" in openssl.advice
    )
    assert pq.bundled and pq.advice is None
    assert pq.env == (("PQ_LIB_STATIC_X86_64_UNKNOWN_LINUX_MUSL", "1"),)


def test_glibc_static_advice_depends_on_the_static_libraries_present() -> None:
    resolved = [("libsqlite3-sys", "0.30.0", frozenset()), ("pq-sys", "0.7.8", frozenset())]
    present = find_native_dependencies(resolved, Strategy.GLIBC_STATIC, GNU, lambda lib: True)
    assert present[0].severity == "info"  # libsqlite3.a links fine on its own
    assert present[1].severity == "warning"  # libpq.a needs its whole dependency chain
    assert "`bundled`" in (present[1].advice or "")
    absent = find_native_dependencies(resolved, Strategy.GLIBC_STATIC, GNU, lambda lib: False)
    assert "needs libsqlite3.a" in (absent[0].advice or "") and absent[0].severity == "warning"


# -- zig wrappers -----------------------------------------------------------------------------------------------


def fake_zig(tmp_path: Path) -> Path:
    """A stand-in `zig` and host `cc` that print how they were called (the wrapper is what is tested)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name in ("zig", "cc"):
        script = bin_dir / name
        script.write_text(f'#!/bin/sh\necho {name} "$@"\n')
        script.chmod(0o755)
    return bin_dir


def run_wrapper(wrapper: str, *args: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> str:
    full_env = {"PATH": os.environ["PATH"], **(env or {})}
    done = subprocess.run([wrapper, *args], capture_output=True, text=True, env=full_env, cwd=cwd, check=True)
    return done.stdout.strip()


def test_zig_wrapper_filters_what_zig_rejects(tmp_path: Path) -> None:
    bin_dir = fake_zig(tmp_path)
    zig = write_wrappers(
        str(bin_dir / "zig"), "x86_64-linux-gnu.2.28", str(bin_dir / "cc"), cache_dir=tmp_path / "w"
    )
    out = run_wrapper(
        zig.cc,
        "--target=x86_64-unknown-linux-gnu",
        "-lgcc_s",
        "-Wl,--no-undefined-version",
        "-Wp,-U_FORTIFY_SOURCE",
        "-Wp,-MD,dep.d",
        "-O2",
        "a b.c",
    )
    assert out == "zig cc -target x86_64-linux-gnu.2.28 -lunwind -Wp,-MD,dep.d -O2 a b.c"
    assert run_wrapper(zig.ar, "crs", "libx.a", "x.o") == "zig ar crs libx.a x.o"
    assert run_wrapper(zig.cxx, "-c", "x.cc").startswith("zig c++ -target x86_64-linux-gnu.2.28")


def test_zig_wrapper_sends_host_artifacts_to_the_host_compiler(tmp_path: Path) -> None:
    bin_dir = fake_zig(tmp_path)
    zig = write_wrappers(
        str(bin_dir / "zig"), "x86_64-linux-gnu.2.28", str(bin_dir / "cc"), cache_dir=tmp_path / "w"
    )
    td = tmp_path / "target"
    env = {"ELFSHIP_HOST_OUTPUT_DIR": str(td), "ELFSHIP_TARGET_OUTPUT_DIR": str(td / GNU)}
    build_script = f"{td}/release/build/foo-1/build_script_build-1"
    assert run_wrapper(zig.cc, "x.o", "-o", build_script, env=env) == f"cc x.o -o {build_script}"
    binary = f"{td}/{GNU}/release/deps/app-1"
    assert run_wrapper(zig.cc, "x.o", "-o", binary, env=env).startswith("zig cc -target")
    # A relative -o (make inside OpenSSL's OUT_DIR) is resolved against the working directory.
    out_dir = td / GNU / "release" / "build" / "openssl-sys-1" / "out"
    out_dir.mkdir(parents=True)
    assert run_wrapper(zig.cc, "-c", "a.c", "-o", "a.o", env=env, cwd=out_dir).startswith("zig cc")
    host_out = td / "release" / "build" / "cc-1" / "out"
    host_out.mkdir(parents=True)
    assert run_wrapper(zig.cc, "-c", "a.c", "-o", "a.o", env=env, cwd=host_out).startswith("cc -c")
    # Without the plan's variables every call goes to zig.
    assert run_wrapper(zig.cc, "x.o", "-o", build_script).startswith("zig cc")


def test_wrappers_are_reused_when_unchanged(tmp_path: Path) -> None:
    first = write_wrappers("/opt/zig", "x86_64-linux-musl", None, cache_dir=tmp_path)
    mtime = Path(first.cc).stat().st_mtime_ns
    second = write_wrappers("/opt/zig", "x86_64-linux-musl", None, cache_dir=tmp_path)
    assert second == first and Path(second.cc).stat().st_mtime_ns == mtime
    assert write_wrappers("/opt/zig2", "x86_64-linux-musl", None, cache_dir=tmp_path).cc != first.cc
