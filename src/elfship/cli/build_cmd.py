"""`elfship build`: build a Rust project into a binary that runs on the servers named with --for."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from elfship.builder.strategy import SUPPORTED_ARCHES, Strategy
from elfship.cli.interrupt import sigterm_as_interrupt
from elfship.errors import EXIT_FAILS, EXIT_OK, UsageError
from elfship.report.jsonout import emit
from elfship.report.progress import log

DESCRIPTION = """\
Build the cargo project in the current directory into a binary that runs on the servers you ship it to,
then check it against every --for target (the build fails if it would not run there).

strategies:
  musl          fully static (x86_64/aarch64-unknown-linux-musl, +crt-static said explicitly); needs the musl
                std (rustup target add x86_64-unknown-linux-musl), or --build-std to build it from source
                (rust-src and musl-gcc; Debian 12: rustc-web cargo-web rust-web-src musl-tools
                libunwind-22-dev); -sys crates compile C with musl-gcc or zig
  glibc-static  fully static glibc (+crt-static with an explicit --target, so proc-macros still build);
                warns when the binary uses NSS (getaddrinfo, getpwnam, ...)
  glibc-pinned  dynamic, linked by zig against the oldest glibc of the --for targets (debian:10 -> 2.28);
                build scripts and proc-macros still link with this machine's compiler
  auto          the first of musl, glibc-static, glibc-pinned that can work on this machine (default)

-sys crates (openssl-sys, pq-sys, libsqlite3-sys, libz-sys, curl-sys, mysqlclient-sys) are asked to link
statically; when that cannot work, elfship names the feature that builds the library from source.
When cargo fails, known failures are explained with their cause and fix.
"""

EPILOG = """\
examples:
  elfship build --release --for debian:10
  elfship build --strategy glibc-pinned --for debian:11 --for ubuntu:20.04 --release -o dist/
  elfship build --strategy glibc-static --release --strip --slim
  elfship build --strategy musl --build-std --release
  elfship build -p server --bin api --release --for debian:12 -- --features postgres
  cargo elfship build --release --for debian:11 --json

Binaries go to -o DIR (default <target-dir>/elfship/<strategy>/out), written atomically: an interrupted or
failed build leaves nothing half-written there. The build runs in <target-dir>/elfship/<strategy>, so it
never invalidates your normal `cargo build` cache.

exit codes: 0 built and runs on every --for target; 1 cargo failed or the binary would not run somewhere;
2 bad input (not a cargo project, no binary, unknown target, missing tool); 130 interrupted.
"""


def configure(parser: argparse.ArgumentParser) -> None:
    """The `elfship build` parser (made by cli/parser.py, which names it and gives its one-line help)."""
    parser.description = DESCRIPTION
    parser.epilog = EPILOG
    parser.add_argument(
        "--strategy",
        choices=[s.value for s in Strategy],
        default=Strategy.AUTO.value,
        help="how to build (auto)",
    )
    parser.add_argument(
        "--for",
        dest="for_targets",
        action="append",
        default=[],
        metavar="TARGET",
        help="a server release the binary must run on, e.g. debian:10 (repeatable; see `elfship targets`)",
    )
    profile = parser.add_mutually_exclusive_group()
    profile.add_argument("--release", action="store_true", help="build with the release profile")
    profile.add_argument("--profile", metavar="P", help="build with cargo profile P")
    parser.add_argument(
        "-p", "--package", action="append", default=[], metavar="PKG", help="package to build"
    )
    parser.add_argument("--bin", action="append", default=[], metavar="NAME", help="binary to build")
    parser.add_argument(
        "--manifest-path", type=Path, metavar="PATH", help="Cargo.toml to build (default: search up)"
    )
    parser.add_argument(
        "--arch",
        choices=SUPPORTED_ARCHES,
        help="target architecture (default: the targets', or this machine's)",
    )
    parser.add_argument("--strip", action="store_true", help="strip symbols from the delivered binary")
    parser.add_argument(
        "--slim",
        action="store_true",
        help="opt-level z, fat LTO, one codegen unit, panic=abort (via cargo's env)",
    )
    parser.add_argument(
        "--build-std",
        action="store_true",
        help="build the std from source (no musl std, or no std for --arch, installed; needs rust-src, and "
        "musl-gcc or zig)",
    )
    parser.add_argument(
        "--static-pie",
        action="store_true",
        help="with --build-std: link a static-pie executable (default: static, not position-independent)",
    )
    parser.add_argument("-o", "--output", type=Path, metavar="DIR", help="directory for the binaries")
    parser.add_argument("--json", action="store_true", help="print a JSON summary on stdout")
    parser.add_argument(
        "--sbom",
        nargs="?",
        const="",
        type=str,
        metavar="PATH",
        help="write what the binaries embed as CycloneDX 1.6 JSON to PATH (default: <binary>.cdx.json next "
        "to it); see `elfship sbom`",
    )
    parser.add_argument(
        "cargo_args",
        nargs=argparse.REMAINDER,
        metavar="-- CARGO_ARGS",
        help="passed to cargo build, after `--`",
    )
    parser.set_defaults(func=run)


def _profile(args: argparse.Namespace) -> str:
    if args.release:
        return "release"
    return str(args.profile) if args.profile else "dev"


def _cargo_args(raw: list[str]) -> tuple[str, ...]:
    if raw and raw[0] == "--":
        raw = raw[1:]
    elif raw:
        raise UsageError(f"unexpected argument {raw[0]!r}", fix="put arguments for cargo after `--`")
    return tuple(raw)


def _write_sbom(result: Any, sbom: str | None) -> None:
    """--sbom [PATH]: CycloneDX of the delivered binaries (one file at PATH, else one beside each)."""
    from elfship.sbom.record import write_artifact_sboms

    delivered = [str(a.path) for a in result.artifacts if a.path is not None]
    if sbom is None or not delivered:
        return
    for written in write_artifact_sboms(delivered, sbom):
        log(f"sbom: {written}")


def run(args: argparse.Namespace) -> int:
    # Imported here: `elfship <other command>` should not pay for loading the build pipeline.
    from elfship.builder.pipeline import BuildRequest, run_build
    from elfship.builder.plan import BuildOptions
    from elfship.report.build_report import render_text, to_document

    request = BuildRequest(
        cwd=Path.cwd(),
        strategy=Strategy(args.strategy),
        for_targets=tuple(args.for_targets),
        options=BuildOptions(
            manifest_path=args.manifest_path,
            profile=_profile(args),
            packages=tuple(args.package),
            bins=tuple(args.bin),
            slim=args.slim,
            cargo_args=_cargo_args(args.cargo_args),
            build_std=args.build_std,
            static_pie=args.static_pie,
        ),
        arch=args.arch,
        strip=args.strip,
        output_dir=args.output,
    )
    # SIGTERM (CI cancelling a job) unwinds like Ctrl-C, so temp files are removed and cargo is stopped.
    with sigterm_as_interrupt():
        result = run_build(request, log=log)
    _write_sbom(result, args.sbom)
    if args.json:
        emit(to_document(result))
    else:
        for line in render_text(result):
            print(line)
        sys.stdout.flush()
    return EXIT_OK if result.ok else EXIT_FAILS
