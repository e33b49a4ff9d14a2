"""Strategy -> the exact cargo command line and the environment it adds: a pure function, unit-tested exactly.

Flags go through target-scoped variables (CARGO_TARGET_<TRIPLE>_RUSTFLAGS / _LINKER, CC_<triple>, ...) and the
command always names --target, so build scripts and proc-macros (built for the host) keep the host's flags:
`+crt-static` applied to them is what makes "cannot produce proc-macro" happen.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from elfship.builder.buildstd import BUILD_STD_ARG, BuildStd, support_dir
from elfship.builder.native import pkg_config_static_env, triple_lower, triple_upper
from elfship.builder.strategy import Strategy, StrategyChoice, rust_triple
from elfship.builder.zigwrap import HOST_OUTPUT_DIR_VAR, TARGET_OUTPUT_DIR_VAR, ZigWrappers
from elfship.errors import UsageError
from elfship.record import record

CRT_STATIC = "-C target-feature=+crt-static"
MESSAGE_FORMAT = "--message-format=json-render-diagnostics"
# Profile settings for --slim, given to cargo as CARGO_PROFILE_<NAME>_<KEY> so Cargo.toml is never edited.
SLIM_PROFILE = (("OPT_LEVEL", "z"), ("LTO", "fat"), ("CODEGEN_UNITS", "1"), ("PANIC", "abort"))
# cargo arguments elfship owns: passing them after `--` would contradict the plan.
RESERVED_CARGO_ARGS = {
    "--target": "elfship picks the target from --strategy and --arch",
    "--target-dir": "set CARGO_TARGET_DIR instead; elfship builds in <target-dir>/elfship/<strategy>",
    "--message-format": "elfship reads cargo's JSON messages to find the binaries",
    "--release": "pass --release before `--`",
    "--profile": "pass --profile before `--`",
}


@record
class BuildOptions:
    """What the user asked for, minus the strategy choice."""

    manifest_path: Path | None = None
    profile: str = "dev"  # "dev", "release" or a custom profile name
    packages: tuple[str, ...] = ()
    bins: tuple[str, ...] = ()
    slim: bool = False
    arch: str = "x86_64"
    cargo_args: tuple[str, ...] = ()  # passed through after elfship's own
    build_std: bool = False  # musl: build std from source instead of needing it installed
    static_pie: bool = False  # with build_std: static-pie instead of a static (non-PIE) executable


@record
class CCompiler:
    """The C toolchain for -sys crates of the target (None: cargo's and cc-rs's defaults)."""

    cc: str
    ar: str | None = None
    cxx: str | None = None
    linker: str | None = None


@record
class BuildPlan:
    strategy: Strategy
    why: str
    triple: str
    glibc_pin: str | None
    profile: str
    target_dir: Path
    argv: tuple[str, ...]
    env: tuple[tuple[str, str], ...]  # variables set or changed for cargo, in a stable order
    notes: tuple[str, ...]  # what elfship did to the user's own environment, said out loud
    build_std: BuildStd | None = None  # musl std built from source (--build-std)

    @property
    def env_dict(self) -> dict[str, str]:
        return dict(self.env)

    def command_line(self) -> str:
        """The equivalent shell command, for logs and --json."""
        import shlex

        return " ".join([*(f"{k}={shlex.quote(v)}" for k, v in self.env), *map(shlex.quote, self.argv)])


def profile_dir(profile: str) -> str:
    """The directory cargo writes a profile's output to."""
    return {"dev": "debug", "test": "debug", "release": "release", "bench": "release"}.get(profile, profile)


def strategy_dir_name(choice: StrategyChoice, build_std: BuildStd | None = None) -> str:
    suffix = f"-{choice.glibc_pin}" if choice.strategy is Strategy.GLIBC_PINNED and choice.glibc_pin else ""
    return f"{choice.strategy.value}{suffix}{build_std.dir_suffix if build_std else ''}"


def make_plan(
    choice: StrategyChoice,
    options: BuildOptions,
    *,
    cargo: str,
    base_target_dir: Path,
    c_compiler: CCompiler | None,
    native_env: Sequence[tuple[str, str]] = (),
    user_env: Mapping[str, str] | None = None,
    build_std: BuildStd | None = None,
) -> BuildPlan:
    """Everything cargo is told. native_env: static-linking variables for the -sys crates found.
    build_std: musl only; cargo and rustc are then the pair whose sysroot holds the std sources."""
    _reject_reserved(options.cargo_args)
    user_env = {} if user_env is None else user_env
    triple = rust_triple(choice.strategy, options.arch)
    target_dir = base_target_dir / "elfship" / strategy_dir_name(choice, build_std)
    if build_std is not None:
        cargo = build_std.source.cargo
        wanted = _build_std_env(build_std, triple, target_dir, c_compiler)
    else:
        wanted = _strategy_env(choice.strategy, triple, target_dir, c_compiler)
    wanted += [*native_env, *pkg_config_static_env(triple)]
    if options.slim:
        name = options.profile.upper().replace("-", "_")
        wanted += [(f"CARGO_PROFILE_{name}_{key}", value) for key, value in SLIM_PROFILE]
    env, notes = merge_env(wanted, user_env)
    return BuildPlan(
        strategy=choice.strategy,
        why=choice.why,
        triple=triple,
        glibc_pin=choice.glibc_pin,
        profile=options.profile,
        target_dir=target_dir,
        argv=_argv(cargo, triple, target_dir, options, build_std is not None),
        env=env,
        notes=notes,
        build_std=build_std,
    )


def _reject_reserved(cargo_args: Sequence[str]) -> None:
    for arg in cargo_args:
        name = arg.split("=", 1)[0]
        if name in RESERVED_CARGO_ARGS:
            raise UsageError(
                f"{name} cannot be passed to cargo through elfship build", fix=RESERVED_CARGO_ARGS[name]
            )


def _argv(
    cargo: str, triple: str, target_dir: Path, options: BuildOptions, build_std: bool
) -> tuple[str, ...]:
    argv = [cargo, "build", "--target", triple, "--target-dir", str(target_dir), MESSAGE_FORMAT]
    if build_std:
        argv.append(BUILD_STD_ARG)
    if options.profile == "release":
        argv.append("--release")
    elif options.profile != "dev":
        argv += ["--profile", options.profile]
    if options.manifest_path is not None:
        argv += ["--manifest-path", str(options.manifest_path)]
    for package in options.packages:
        argv += ["-p", package]
    for binary in options.bins:
        argv += ["--bin", binary]
    return (*argv, *options.cargo_args)


def _strategy_env(
    strategy: Strategy, triple: str, target_dir: Path, c_compiler: CCompiler | None
) -> list[tuple[str, str]]:
    env: list[tuple[str, str]] = []
    if strategy in (Strategy.MUSL, Strategy.GLIBC_STATIC):
        # Said explicitly: musl targets are to link dynamically by default in a future Rust.
        env.append((f"CARGO_TARGET_{triple_upper(triple)}_RUSTFLAGS", CRT_STATIC))
    env += _c_compiler_env(triple, c_compiler)
    if strategy is Strategy.GLIBC_PINNED:
        # The zig wrappers send build scripts and proc-macros (outside <target-dir>/<triple>) to the host cc.
        env += [(HOST_OUTPUT_DIR_VAR, str(target_dir)), (TARGET_OUTPUT_DIR_VAR, str(target_dir / triple))]
    return env


def _c_compiler_env(triple: str, c_compiler: CCompiler | None) -> list[tuple[str, str]]:
    upper, lower = triple_upper(triple), triple_lower(triple)
    env: list[tuple[str, str]] = []
    if c_compiler is not None:
        if c_compiler.linker:
            env.append((f"CARGO_TARGET_{upper}_LINKER", c_compiler.linker))
        env.append((f"CC_{lower}", c_compiler.cc))
        if c_compiler.cxx:
            env.append((f"CXX_{lower}", c_compiler.cxx))
        if c_compiler.ar:
            env.append((f"AR_{lower}", c_compiler.ar))
    return env


def _build_std_env(
    build_std: BuildStd, triple: str, target_dir: Path, c_compiler: CCompiler | None
) -> list[tuple[str, str]]:
    """std from source: the matching rustc, -Z allowed on a stable cargo (RUSTC_BOOTSTRAP); for musl, the
    system's musl (or zig's) to link (rustc's self-contained musl objects are not part of a source build)."""
    compiler = c_compiler or CCompiler(cc=build_std.musl_gcc)
    linked = CCompiler(cc=compiler.cc, ar=compiler.ar, cxx=compiler.cxx, linker=build_std.linker)
    env = [("RUSTC_BOOTSTRAP", "1"), ("RUSTC", build_std.source.rustc)]
    if build_std.musl:
        flags = f"{CRT_STATIC} {build_std.rustflags(support_dir(target_dir))}"
        env.append((f"CARGO_TARGET_{triple_upper(triple)}_RUSTFLAGS", flags))
    else:  # glibc-pinned: as without --build-std, host artifacts go to the host cc (see zigwrap)
        env += [(HOST_OUTPUT_DIR_VAR, str(target_dir)), (TARGET_OUTPUT_DIR_VAR, str(target_dir / triple))]
    return [*env, *_c_compiler_env(triple, linked)]


def c_compiler_for(
    strategy: Strategy,
    arch: str,
    host_arch: str,
    *,
    musl_gcc: str | None,
    host_ar: str | None,
    zig: ZigWrappers | None,
) -> CCompiler | None:
    """musl: musl-gcc when present, else zig; glibc-pinned: zig as C compiler and linker; static: host gcc."""
    if strategy is Strategy.GLIBC_STATIC:
        return None
    if strategy is Strategy.MUSL and musl_gcc:
        cross = arch != host_arch  # the host cc cannot link for another arch; the musl cross gcc can
        return CCompiler(cc=musl_gcc, ar=host_ar if not cross else None, linker=musl_gcc if cross else None)
    if zig is None:
        raise UsageError(f"{strategy.value} needs zig for its C compiler", fix="pip install ziglang")
    if strategy is Strategy.MUSL:
        linker = zig.cc if arch != host_arch else None
        return CCompiler(cc=zig.cc, cxx=zig.cxx, ar=zig.ar, linker=linker)
    return CCompiler(cc=zig.cc, cxx=zig.cxx, ar=zig.ar, linker=zig.cc)


def merge_env(
    wanted: Sequence[tuple[str, str]], user_env: Mapping[str, str]
) -> tuple[tuple[tuple[str, str], ...], tuple[str, ...]]:
    """Combine elfship's variables with the user's without clobbering: flags are appended, choices kept.

    cargo ignores target-scoped rustflags whenever RUSTFLAGS or CARGO_ENCODED_RUSTFLAGS is set, so then the
    flags are appended there (safe: --target is explicit, so those never reach build scripts either).
    """
    env: dict[str, str] = {}
    notes: list[str] = []
    for name, value in wanted:
        if name.endswith("_RUSTFLAGS") and name.startswith("CARGO_TARGET_"):
            name, value, note = _rustflags(name, value, user_env)
            if note:
                notes.append(note)
        elif name in user_env and user_env[name] != value:
            notes.append(f"kept your {name}={user_env[name]} (elfship would set {value})")
            continue
        elif name in user_env:
            continue
        env[name] = value
    return tuple(env.items()), tuple(notes)


def _rustflags(name: str, value: str, user_env: Mapping[str, str]) -> tuple[str, str, str | None]:
    if user_env.get("CARGO_ENCODED_RUSTFLAGS"):
        mine = "\x1f".join(value.split())
        return (
            "CARGO_ENCODED_RUSTFLAGS",
            f"{user_env['CARGO_ENCODED_RUSTFLAGS']}\x1f{mine}",
            (f"appended {value} to your CARGO_ENCODED_RUSTFLAGS (cargo would ignore {name} while it is set)"),
        )
    if user_env.get("RUSTFLAGS"):
        return (
            "RUSTFLAGS",
            f"{user_env['RUSTFLAGS']} {value}",
            (f"appended {value} to your RUSTFLAGS (cargo would ignore {name} while it is set)"),
        )
    if user_env.get(name):
        return name, f"{user_env[name]} {value}", f"appended {value} to your {name}"
    return name, value, None
