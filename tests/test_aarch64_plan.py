"""aarch64 builds without an aarch64 std or musl-gcc: the exact cargo environment when zig links a std built
from source (musl and glibc-pinned), the strategy choice, and `--for RELEASE/ARCH`."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from elfship.builder.buildstd import BUILD_STD_ARG, BuildStd, StdSource, build_std_for, prepare_support
from elfship.builder.plan import BuildOptions, c_compiler_for, make_plan
from elfship.builder.strategy import Strategy, StrategyChoice, TargetLibc, choose_strategy
from elfship.builder.toolchain import Toolchain
from elfship.builder.verify import resolve_targets
from elfship.builder.zigwrap import HOST_OUTPUT_DIR_VAR, TARGET_OUTPUT_DIR_VAR, ZigWrappers
from elfship.errors import ToolMissingError, UsageError
from elfship.sandbox import find_emulator, runs_natively
from elfship.sandbox.bwrap import bwrap_argv
from elfship.sandbox.emulator import EMULATOR_DIR
from elfship.sandbox.plan import make_plan as make_mount_plan

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


def test_static_pie_is_refused_where_zig_links() -> None:
    """zig drops -static-pie (measured: the aarch64 hello came out a static non-PIE executable): said, not hidden."""
    with pytest.raises(UsageError, match="--static-pie needs musl-gcc"):
        build_std_for(True, True, "/usr/bin/cargo", "/usr/bin/rustc", Path("/"), None, {}, zig_cc=ZIG_MUSL.cc)


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


# -- check --run: the emulator in the sandbox's plan -----------------------------------------------------------


def test_the_emulator_is_placed_in_the_sandboxs_own_tmp(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "usr/local/bin").mkdir(parents=True)
    for name in ("tmp", "proc", "dev"):
        (root / name).mkdir()
    inside = f"{EMULATOR_DIR}/qemu-aarch64"
    plan = make_mount_plan(
        root, str(root), "/usr/local/bin/app", place_program=True, tmp_size=1 << 20, emulator=inside
    )
    kinds = [(op.kind, op.dest) for op in plan.ops]
    assert (
        kinds.index(("tmpfs", "/tmp"))
        < kinds.index(("dir", EMULATOR_DIR))
        < kinds.index(("emulator", inside))
    )
    argv = bwrap_argv("/usr/bin/bwrap", plan, [inside, "/usr/local/bin/app"], 7, 9)
    assert argv[argv.index(inside) - 3 : argv.index(inside) + 1] == ["0755", "--ro-bind-data", "9", inside]
    assert argv[argv.index("/usr/local/bin/app") - 1] == "7"
    assert argv[-3:] == ["--", inside, "/usr/local/bin/app"]


def test_only_a_static_qemu_for_a_foreign_architecture_is_used(tmp_path: Path) -> None:
    assert runs_natively("x86_64") and runs_natively("i386") and not runs_natively("aarch64")
    dynamic = tmp_path / "qemu-aarch64"
    dynamic.symlink_to(shutil.which("true") or "/bin/true")  # a dynamic executable: useless inside the root
    assert find_emulator("aarch64", path=str(tmp_path)) is None
    static = shutil.which("qemu-aarch64-static")
    if static is None:
        pytest.skip("qemu-aarch64-static not installed (apt-get install qemu-user-static)")
    (tmp_path / "qemu-aarch64-static").symlink_to(static)
    found = find_emulator("aarch64", path=str(tmp_path))
    assert found is not None and found.name == "qemu-aarch64" and found.host_path == Path(static).resolve()
    assert found.inside == f"{EMULATOR_DIR}/qemu-aarch64"
