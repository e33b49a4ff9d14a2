"""From cargo metadata's answer to cargo's exact command, environment and output directory, said as decided.

The pipeline stages once per build, from this build's answer; or first from last time's (lastproject.py), with
what is said kept until that guess is confirmed.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from elfship.builder.buildstd import build_std_for, prepare_support
from elfship.builder.native import NativeDependency, find_native_dependencies
from elfship.builder.output import check_replaceable, prepare_output_dir, require_strip
from elfship.builder.plan import BuildOptions, BuildPlan, c_compiler_for, make_plan
from elfship.builder.project import CargoProject
from elfship.builder.strategy import Strategy, StrategyChoice, TargetLibc, rust_triple
from elfship.builder.toolchain import Toolchain, host_arch, static_library_available
from elfship.builder.verify import target_libc
from elfship.builder.zigwrap import ZigWrappers, write_wrappers
from elfship.errors import UsageError
from elfship.record import record, replace
from elfship.targets import Target

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (start-up time; docs/architecture.md)
if TYPE_CHECKING:
    from elfship.builder.pipeline import BuildRequest

OUTPUT_SUBDIR = "out"  # default -o: <target-dir>/elfship/<strategy>/out
Logger = Callable[[str], None]


@record
class Context:
    request: BuildRequest
    choice: StrategyChoice
    toolchain: Toolchain
    targets: tuple[Target, ...]
    env: dict[str, str]


@record
class Staged:
    """Everything decided before cargo starts, from one answer of `cargo metadata`."""

    plan: BuildPlan
    native: tuple[NativeDependency, ...]
    strip_tool: str | None
    output_dir: Path
    env: dict[str, str]  # cargo's: the user's plus what the plan and the crate-list recording add
    messages: tuple[str, ...]  # what was said while deciding, in order


def stage(project: CargoProject, context: Context, say: Logger) -> Staged:
    """From the project to cargo's exact command, environment and output directory (said as it is decided)."""
    said: list[str] = []

    def tell(message: str) -> None:
        said.append(message)
        say(message)

    request, toolchain, choice = context.request, context.toolchain, context.choice
    options = replace(request.options, arch=arch_of(context.targets, toolchain, request.arch))
    native = find_native_dependencies(
        project.resolved,
        choice.strategy,
        rust_triple(choice.strategy, options.arch),
        lambda lib: static_library_available(toolchain.host_cc, lib),
    )
    target_libcs = [target_libc(t) for t in context.targets]
    plan = _plan(choice, options, toolchain, project, native, context.env, target_libcs)
    strip_tool = require_strip(toolchain.strip) if request.strip else None
    _announce(plan, native, tell)
    output_dir = prepare_output_dir(request.output_dir or plan.target_dir / OUTPUT_SUBDIR)
    for binary in project.binaries:
        check_replaceable(output_dir / binary.name)  # fail before a long build, not after
    if plan.build_std is not None:
        prepare_support(plan.build_std, plan.target_dir)
    env = _recording(plan, context.env, tell)
    return Staged(plan, native, strip_tool, output_dir, env, tuple(said))


def _recording(plan: BuildPlan, env: dict[str, str], say: Logger) -> dict[str, str]:
    """With cargo-auditable installed, the binary carries its crate list (.dep-v0) for `elfship sbom/audit`
    and every scanner that reads it (cargo audit, trivy, grype, syft, osv-scanner)."""
    from elfship.sbom.record import OPT_OUT, auditable_env

    extra = auditable_env(plan.argv, env)
    if extra:
        say(f"recording the crate list with cargo-auditable (.dep-v0; {OPT_OUT}=1 to skip)")
    return {**env, **extra}


def arch_of(targets: Sequence[Target], toolchain: Toolchain | None, asked: str | None) -> str:
    """--arch, else the --for targets' arch, else this machine's."""
    if asked:
        return asked
    arches = {t.arch for t in targets if t.arch}
    if len(arches) > 1:
        raise UsageError(
            f"--for targets of different architectures ({', '.join(sorted(arches))})",
            fix="build once per arch",
        )
    if arches:
        return arches.pop()
    return toolchain.host_arch if toolchain is not None else host_arch()


def _plan(
    choice: StrategyChoice,
    options: BuildOptions,
    toolchain: Toolchain,
    project: CargoProject,
    native: Sequence[NativeDependency],
    env: Mapping[str, str],
    targets: Sequence[TargetLibc],
) -> BuildPlan:
    zig = _zig_wrappers(choice, options.arch, toolchain)
    c_compiler = c_compiler_for(
        choice.strategy,
        options.arch,
        toolchain.host_arch,
        musl_gcc=toolchain.musl_gcc.get(options.arch),
        host_ar=shutil.which("ar", path=env.get("PATH")),
        zig=zig,
    )
    native_env = [pair for dep in native for pair in dep.env]
    build_std = build_std_for(
        options.build_std,
        options.static_pie,
        toolchain.cargo,
        toolchain.rustc,
        toolchain.sysroot,
        toolchain.musl_gcc.get(options.arch),
        env,
        zig_cc=zig.cc if zig is not None and _zig_links(choice, options.arch, toolchain) else None,
        musl=choice.strategy is Strategy.MUSL,
    )
    return make_plan(
        choice,
        options,
        cargo=toolchain.cargo,
        base_target_dir=project.target_directory,
        c_compiler=c_compiler,
        native_env=native_env,
        user_env=env,
        build_std=build_std,
    )


def _zig_links(choice: StrategyChoice, arch: str, toolchain: Toolchain) -> bool:
    """--build-std links with zig for glibc-pinned, and for musl on an arch with no musl-gcc (aarch64)."""
    return choice.strategy is Strategy.GLIBC_PINNED or arch not in toolchain.musl_gcc


def _zig_wrappers(choice: StrategyChoice, arch: str, toolchain: Toolchain) -> ZigWrappers | None:
    if toolchain.zig is None:
        return None
    if choice.strategy is Strategy.GLIBC_PINNED:
        return write_wrappers(toolchain.zig, f"{arch}-linux-gnu.{choice.glibc_pin}", toolchain.host_cc)
    if choice.strategy is Strategy.MUSL and arch not in toolchain.musl_gcc:
        return write_wrappers(toolchain.zig, f"{arch}-linux-musl", None)
    return None


def _announce(plan: BuildPlan, native: Sequence[NativeDependency], say: Logger) -> None:
    pin = f" (glibc {plan.glibc_pin})" if plan.glibc_pin else ""
    say(f"strategy {plan.strategy.value}{pin}: {plan.why}")
    for note in plan.notes:
        say(f"note: {note}")
    for dep in native:
        if dep.advice:
            say(f"{dep.severity}: {dep.advice}")
    say(f"running: {plan.command_line()}")
