"""aarch64 builds without an aarch64 std or musl-gcc: the exact cargo environment when zig links a std built
from source (musl and glibc-pinned), the strategy choice, and `--for RELEASE/ARCH`."""

from __future__ import annotations

from pathlib import Path

import pytest

from elfship.build.buildstd import BUILD_STD_ARG, BuildStd, StdSource, prepare_support
from elfship.build.plan import BuildOptions, c_compiler_for, make_plan
from elfship.build.strategy import Strategy, StrategyChoice, TargetLibc, choose_strategy
from elfship.build.toolchain import Toolchain
from elfship.build.verify import resolve_targets
from elfship.build.zigwrap import HOST_OUTPUT_DIR_VAR, TARGET_OUTPUT_DIR_VAR, ZigWrappers
from elfship.errors import ToolMissingError, UsageError

BASE = Path("/work/app/target")
SOURCE = StdSource("/usr/bin/cargo", "/usr/bin/rustc", "1.96.0", Path("/usr/lib/rustlib/src/rust/library"))
ZIG_MUSL = ZigWrappers(
    "/z/zigcc-aarch64-linux-musl", "/z/zigcxx-aarch64-linux-musl", "/z/zigar", "aarch64-linux-musl"
)
ZIG_GNU = ZigWrappers("/z/zigcc-aarch64-linux-gnu.2.36", "/z/zigcxx-aarch64-linux-gnu.2.36", "/z/zigar", "aarch64-linux-gnu.2.36")  # fmt: skip
DEBIAN_12 = TargetLibc("debian:12", "glibc", "2.36")


def zig_std(zig_cc: str, musl: bool) -> BuildStd:
    return BuildStd(SOURCE, False, "", "", Path(), zig_cc=zig_cc, musl=musl)


def aarch64_plan(strategy: Strategy, zig: ZigWrappers, pin: str | None = None):  # type: ignore[no-untyped-def]
    cc = c_compiler_for(strategy, "aarch64", "x86_64", musl_gcc=None, host_ar="/usr/bin/ar", zig=zig)
    return make_plan(
        StrategyChoice(strategy, "asked", pin),
        BuildOptions(profile="release", arch="aarch64", build_std=True),
        cargo="/root/.cargo/bin/cargo",
        base_target_dir=BASE,
        c_compiler=cc,
        build_std=zig_std(zig.cc, strategy is Strategy.MUSL),
    )


def test_musl_links_with_zig_and_its_own_crt_objects() -> None:
    built = aarch64_plan(Strategy.MUSL, ZIG_MUSL)
    assert built.triple == "aarch64-unknown-linux-musl" and BUILD_STD_ARG in built.argv
    assert built.argv[0] == "/usr/bin/cargo"
    env = built.env_dict
    assert env["CARGO_TARGET_AARCH64_UNKNOWN_LINUX_MUSL_RUSTFLAGS"] == (
        "-C target-feature=+crt-static -C link-self-contained=no -C relocation-model=static"
    )
    assert env["CARGO_TARGET_AARCH64_UNKNOWN_LINUX_MUSL_LINKER"] == ZIG_MUSL.cc
    assert env["CC_aarch64_unknown_linux_musl"] == ZIG_MUSL.cc
    assert (env["RUSTC_BOOTSTRAP"], env["RUSTC"]) == ("1", "/usr/bin/rustc")


def test_glibc_pinned_builds_std_and_adds_no_static_flags() -> None:
    built = aarch64_plan(Strategy.GLIBC_PINNED, ZIG_GNU, "2.36")
    assert built.triple == "aarch64-unknown-linux-gnu" and BUILD_STD_ARG in built.argv
    env = built.env_dict
    assert not any(name.endswith("_RUSTFLAGS") for name in env)
    assert env["CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER"] == ZIG_GNU.cc
    target_dir = BASE / "elfship" / "glibc-pinned-2.36-build-std"
    assert env[HOST_OUTPUT_DIR_VAR] == str(target_dir)
    assert env[TARGET_OUTPUT_DIR_VAR] == str(target_dir / "aarch64-unknown-linux-gnu")


def test_zig_needs_no_support_files(tmp_path: Path) -> None:
    prepare_support(zig_std(ZIG_MUSL.cc, True), tmp_path)
    assert list(tmp_path.iterdir()) == []


def toolchain(zig: str | None) -> Toolchain:
    return Toolchain("/usr/bin/cargo", "/usr/bin/rustc", "x86_64-unknown-linux-gnu", Path("/"),
                     {"x86_64": "/usr/bin/musl-gcc"}, zig, "gcc", None)  # fmt: skip


def test_build_std_for_aarch64_needs_zig_not_musl_gcc() -> None:
    choice = choose_strategy(Strategy.MUSL, [], toolchain("/usr/bin/zig"), "aarch64", build_std=True)
    assert choice.strategy is Strategy.MUSL
    with pytest.raises(ToolMissingError, match="no musl-gcc for aarch64") as raised:
        choose_strategy(Strategy.MUSL, [], toolchain(None), "aarch64", build_std=True)
    assert raised.value.fix == "pip install ziglang"


def test_glibc_pinned_with_build_std_pins_the_oldest_glibc() -> None:
    choice = choose_strategy(
        Strategy.GLIBC_PINNED, [DEBIAN_12], toolchain("/usr/bin/zig"), "aarch64", build_std=True
    )
    assert (choice.strategy, choice.glibc_pin) == (Strategy.GLIBC_PINNED, "2.36")
    with pytest.raises(ToolMissingError, match="zig not found"):
        choose_strategy(Strategy.GLIBC_PINNED, [DEBIAN_12], toolchain(None), "aarch64", build_std=True)


def test_for_names_its_architecture() -> None:
    (target,) = resolve_targets(["debian:12/aarch64"])
    assert (target.name, target.arch) == ("debian:12", "aarch64")
    assert resolve_targets(["debian:12/arm64"]) == resolve_targets(["debian:12"], "aarch64")
    assert resolve_targets(["debian:12"])[0].arch == "x86_64"
    with pytest.raises(UsageError, match="--for debian:12/aarch64 is for aarch64, but --arch says x86_64"):
        resolve_targets(["debian:12/aarch64"], "x86_64")
