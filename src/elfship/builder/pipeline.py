"""elfship build, start to end: strategy -> plan -> cargo -> diagnose or verify -> strip -> install.

Order, for a build with nothing to do to cost little: rustc's answer remembered (rustcfacts.py); cargo started
at once on last time's `cargo metadata` answer with its output held (lastproject.py, staging.py); metadata
started next, the check engine loaded while both run (deliver.py), the binaries checked as soon as cargo is
done; once metadata's answer confirms the guess, what was held is shown and the binaries delivered.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from elfship.builder import lastproject
from elfship.builder.buildstd import check_link_mode
from elfship.builder.diagnose import Diagnosis, diagnose
from elfship.builder.native import NativeDependency
from elfship.builder.plan import BuildOptions, BuildPlan
from elfship.builder.project import CargoProject, PendingProject, find_manifest
from elfship.builder.runner import CargoProcess, CargoRun
from elfship.builder.staging import Context, Logger, Staged, arch_of, stage
from elfship.builder.strategy import Strategy, StrategyChoice, choose_strategy, rust_triple
from elfship.builder.toolchain import PendingToolchain, Toolchain, find_cargo, start_detection
from elfship.builder.verify import ArtifactResult, resolve_targets, target_libc
from elfship.errors import ElfshipError
from elfship.record import field, record
from elfship.targets import Target

__all__ = ["ArtifactResult", "BuildRequest", "BuildResult", "run_build"]


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
    context = Context(request, choice, toolchain, targets, env)
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

        early_run = _check_while_waiting(pending, started, targets)
        project = pending.result()
    except BaseException:  # Ctrl-C included: cargo runs in its own session and would outlive elfship
        if started is not None:
            started[1].cancel()
        raise
    if project != guess:
        lastproject.keep(key, project)
    staged, process = _confirmed(project, guess, started, context, say)
    plan, native, output_dir = staged.plan, staged.native, staged.output_dir
    if early_run is not None and started is not None and process is started[1]:
        run, checked = early_run
    else:
        run, checked = process.wait(), None
    if not run.ok:
        return _result(plan, native, targets, run, diagnose(run.output), ())
    if checked is None:
        checked = tuple(deliver.check(path, plan, targets) for path in run.executables)
    artifacts = tuple(deliver.deliver(a, output_dir, staged.strip_tool) for a in checked)
    return _result(plan, native, targets, run, (), artifacts)


def _check_while_waiting(
    pending: PendingProject, started: tuple[Staged, CargoProcess] | None, targets: Sequence[Target]
) -> tuple[CargoRun, tuple[ArtifactResult, ...] | None] | None:
    """When cargo, started on the guess, is done before `cargo metadata` (a build with nothing to do), its
    binaries are read and checked while metadata finishes; delivered only once the guess is confirmed. The
    checks are of this build's binaries, as always: only their timing moves."""
    if started is None:
        return None
    from elfship.builder import deliver

    staged, process = started
    metadata_in = pending.read_in_background()
    while not metadata_in.wait(0.002):
        if process.finished():
            run = process.wait()
            if not run.ok:
                return run, ()
            try:
                return run, tuple(deliver.check(path, staged.plan, targets) for path in run.executables)
            except (ElfshipError, OSError):
                return run, None  # said where it belongs, if the guess holds: after the build's own messages
    return None


def _confirmed(
    project: CargoProject,
    guess: CargoProject | None,
    started: tuple[Staged, CargoProcess] | None,
    context: Context,
    say: Logger,
) -> tuple[Staged, CargoProcess]:
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
    staged = stage(project, context, say)
    return staged, CargoProcess(staged.plan, staged.env, cwd=context.request.cwd)


def _start_on_guess(guess: CargoProject, context: Context) -> tuple[Staged, CargoProcess] | None:
    """cargo started from last time's project (lastproject.py), its output held; None when that guess cannot
    even be planned (the real answer then decides, and says why)."""
    try:
        staged = stage(guess, context, lambda message: None)
    except ElfshipError:
        return None
    return staged, CargoProcess(staged.plan, staged.env, cwd=context.request.cwd, hold=True)


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
    arch = request.arch or arch_of(targets, None, None)
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
        arch = arch_of(targets, toolchain, request.arch)
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
