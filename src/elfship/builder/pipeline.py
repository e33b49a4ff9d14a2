"""elfship build, start to end: strategy -> plan -> cargo -> diagnose or verify -> strip -> install."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from elfship.builder import lastproject
from elfship.builder.buildstd import build_std_for, check_link_mode, prepare_support
from elfship.builder.diagnose import Diagnosis, diagnose
from elfship.builder.native import NativeDependency, find_native_dependencies
from elfship.builder.output import check_replaceable, prepare_output_dir, require_strip
from elfship.builder.plan import BuildOptions, BuildPlan, c_compiler_for, make_plan
from elfship.builder.project import CargoProject, PendingProject, find_manifest
from elfship.builder.runner import CargoProcess, CargoRun
from elfship.builder.strategy import Strategy, StrategyChoice, TargetLibc, choose_strategy, rust_triple
from elfship.builder.toolchain import (
    PendingToolchain,
    Toolchain,
    find_cargo,
    host_arch,
    start_detection,
    static_library_available,
)
from elfship.builder.verify import ArtifactResult, resolve_targets, target_libc
from elfship.builder.zigwrap import ZigWrappers, write_wrappers
from elfship.errors import ElfshipError, UsageError
from elfship.record import field, record, replace
from elfship.targets import Target

__all__ = ["ArtifactResult", "BuildRequest", "BuildResult", "run_build"]

OUTPUT_SUBDIR = "out"  # default -o: <target-dir>/elfship/<strategy>/out


@record
class BuildRequest:
    cwd: Path
    strategy: Strategy = Strategy.AUTO
    for_targets: tuple[str, ...] = ()
    options: BuildOptions = field(default_factory=BuildOptions)
    arch: str | None = None  # None: the --for targets' arch, else this machine's
    strip: bool = False
    output_dir: Path | None = None


@record
class BuildResult:
    plan: BuildPlan
    native: tuple[NativeDependency, ...]
    targets: tuple[str, ...]
    cargo_seconds: float
    cargo_ok: bool
    diagnoses: tuple[Diagnosis, ...]
    artifacts: tuple[ArtifactResult, ...]

    @property
    def ok(self) -> bool:
        return self.cargo_ok and bool(self.artifacts) and all(a.ok for a in self.artifacts)


Logger = Callable[[str], None]


def run_build(
    request: BuildRequest, env: Mapping[str, str] | None = None, log: Logger | None = None
) -> BuildResult:
    env = dict(os.environ if env is None else env)
    say: Logger = log or (lambda message: None)
    targets = resolve_targets(request.for_targets, request.arch)  # bad input first: before any tool runs
    check_link_mode(request.options.build_std, request.options.static_pie)
    manifest = find_manifest(request.cwd, request.options.manifest_path)
    detection, early = _start_probes(request, targets, manifest, env)
    toolchain, choice, triple, early = _settle(detection, early, request, targets)
    context = _Context(request, choice, toolchain, targets, env)
    key = lastproject.build_key(
        toolchain.cargo,
        manifest,
        triple,
        request.options.packages,
        request.options.bins,
        request.options.cargo_args,
        env,
    )
    guess = None if request.options.build_std else lastproject.recall(key)
    started = _start_on_guess(guess, context) if guess is not None else None
    try:
        pending = early or _load(toolchain.cargo, manifest, triple, request.options, env)
        # Loaded now, while `cargo metadata` (and cargo, on the guess) run: the check engine costs no time.
        from elfship.builder import deliver

        project = pending.result()
    except BaseException:  # Ctrl-C included: cargo runs in its own session and would outlive elfship
        if started is not None:
            started[1].cancel()
        raise
    if project != guess:
        lastproject.keep(key, project)
    staged, process = _confirmed(project, guess, started, context, say)
    run = process.wait()
    plan, native, output_dir = staged.plan, staged.native, staged.output_dir
    if not run.ok:
        return _result(plan, native, targets, run, diagnose(run.output), ())
    artifacts = tuple(
        deliver.finish(path, plan, targets, output_dir, staged.strip_tool) for path in run.executables
    )
    return _result(plan, native, targets, run, (), artifacts)


@record
class _Context:
    request: BuildRequest
    choice: StrategyChoice
    toolchain: Toolchain
    targets: tuple[Target, ...]
    env: dict[str, str]


@record
class _Staged:
    """Everything decided before cargo starts, from one answer of `cargo metadata`."""

    plan: BuildPlan
    native: tuple[NativeDependency, ...]
    strip_tool: str | None
    output_dir: Path
    env: dict[str, str]  # cargo's: the user's plus what the plan and the crate-list recording add
    messages: tuple[str, ...]  # what was said while deciding, in order


def _stage(project: CargoProject, context: _Context, say: Logger) -> _Staged:
    """From the project to cargo's exact command, environment and output directory (said as it is decided)."""
    said: list[str] = []

    def tell(message: str) -> None:
        said.append(message)
        say(message)

    request, toolchain, choice = context.request, context.toolchain, context.choice
    options = replace(request.options, arch=_arch_of(context.targets, toolchain, request.arch))
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
    return _Staged(plan, native, strip_tool, output_dir, env, tuple(said))


def _confirmed(
    project: CargoProject,
    guess: CargoProject | None,
    started: tuple[_Staged, CargoProcess] | None,
    context: _Context,
    say: Logger,
) -> tuple[_Staged, CargoProcess]:
    """The cargo run for this project: the one started on the guess when the guess was right (what it said
    while being planned is said now, then its output shows), else a new one."""
    if started is not None and project == guess:
        staged, process = started
        for message in staged.messages:
            say(message)
        process.release()
        return staged, process
    if started is not None:
        started[1].cancel()  # the project changed since last time: that run is stopped, never shown
    staged = _stage(project, context, say)
    return staged, CargoProcess(staged.plan, staged.env, cwd=context.request.cwd)


def _start_on_guess(guess: CargoProject, context: _Context) -> tuple[_Staged, CargoProcess] | None:
    """cargo started from last time's project (lastproject.py), its output held; None when that guess cannot
    even be planned (the real answer then decides, and says why)."""
    try:
        staged = _stage(guess, context, lambda message: None)
    except ElfshipError:
        return None
    return staged, CargoProcess(staged.plan, staged.env, cwd=context.request.cwd, hold=True)


def _recording(plan: BuildPlan, env: dict[str, str], say: Logger) -> dict[str, str]:
    """With cargo-auditable installed, the binary carries its crate list (.dep-v0) for `elfship sbom/audit`
    and every scanner that reads it (cargo audit, trivy, grype, syft, osv-scanner)."""
    from elfship.sbom.record import OPT_OUT, auditable_env

    extra = auditable_env(plan.argv, env)
    if extra:
        say(f"recording the crate list with cargo-auditable (.dep-v0; {OPT_OUT}=1 to skip)")
    return {**env, **extra}


def _start_probes(
    request: BuildRequest, targets: Sequence[Target], manifest: Path, env: Mapping[str, str]
) -> tuple[PendingToolchain, PendingProject | None]:
    """rustc (unless its answer is remembered), and then with an explicit strategy (the target triple is known
    before rustc answers) `cargo metadata` too, side by side; neither is waited for here. With nothing to wait
    for from rustc, metadata starts later, after any cargo run started on a guess: cargo then takes its package
    cache lock first and need not wait for metadata's."""
    detection = start_detection(env)
    if request.strategy is Strategy.AUTO or detection.remembered:
        return detection, None
    arch = request.arch or _arch_of(targets, None, None)
    return detection, _load(
        find_cargo(env), manifest, rust_triple(request.strategy, arch), request.options, env
    )


def _settle(
    detection: PendingToolchain,
    early: PendingProject | None,
    request: BuildRequest,
    targets: Sequence[Target],
) -> tuple[Toolchain, StrategyChoice, str, PendingProject | None]:
    """Toolchain, strategy, its target triple, and the early `cargo metadata` when it asked for that triple
    (else it is stopped)."""
    try:
        toolchain = detection.result()
        arch = _arch_of(targets, toolchain, request.arch)
        choice = choose_strategy(
            request.strategy,
            [target_libc(t) for t in targets],
            toolchain,
            arch,
            build_std=request.options.build_std,
        )
    except BaseException:
        if early is not None:
            early.discard()
        raise
    triple = rust_triple(choice.strategy, arch)
    if early is not None and early.triple != triple:
        early.discard()
        early = None
    return toolchain, choice, triple, early


def _arch_of(targets: Sequence[Target], toolchain: Toolchain | None, asked: str | None) -> str:
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


def _load(
    cargo: str, manifest: Path, triple: str, options: BuildOptions, env: Mapping[str, str]
) -> PendingProject:
    return PendingProject(
        cargo,
        manifest,
        triple,
        packages=options.packages,
        bins=options.bins,
        cargo_args=options.cargo_args,
        env=env,
    )


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


def _result(
    plan: BuildPlan,
    native: tuple[NativeDependency, ...],
    targets: Sequence[Target],
    run: CargoRun,
    diagnoses: tuple[Diagnosis, ...],
    artifacts: tuple[ArtifactResult, ...],
) -> BuildResult:
    return BuildResult(
        plan=plan,
        native=native,
        targets=tuple(t.name for t in targets),
        cargo_seconds=run.seconds,
        cargo_ok=run.ok,
        diagnoses=diagnoses,
        artifacts=artifacts,
    )
