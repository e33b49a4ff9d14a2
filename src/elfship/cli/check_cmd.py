"""`elfship check FILE... --target T... | --root DIR [--run]`: will it run there, and why not."""

from __future__ import annotations

import argparse
import math
import sys
from dataclasses import replace
from pathlib import Path

from elfship.check import check_in_root, check_info, run_in_root
from elfship.check.model import CheckResult
from elfship.check.payload import is_payload, payload_members
from elfship.check.placement import place_in_root
from elfship.check.rootcheck import read_program
from elfship.elf import ElfInfo
from elfship.errors import EXIT_BAD_INPUT, EXIT_FAILS, EXIT_OK, EXIT_UNKNOWN, ElfError, UsageError
from elfship.report import jsonout
from elfship.report.check_github import to_github
from elfship.report.check_junit import to_junit
from elfship.report.check_report import prediction_error, result_json, to_text
from elfship.targets import (
    Target,
    get_target,
    known_arches,
    normalise_arch,
    split_arch,
    supported_targets,
    target_from_root,
)

FORMATS = ("text", "json", "junit", "github")

EXAMPLES = """\
examples:
  elfship check target/release/app --target debian:10
      app on debian:10 (x86_64): FAILS
        error    libm.so.6 needs GLIBC_2.29 for exp, pow; debian:10 has glibc 2.28
        error    libpq.so.5: ...
  elfship check app --target debian:11 --target rhel:8 --target alpine:3.19   a matrix
  elfship check app --target supported          every release not past its end of life
  elfship check numpy-2.1.3-...whl -t debian:12  every module of a wheel (or a directory), with what it ships
  elfship check app --target debian:12/aarch64   a release and an architecture (default: the file's own)
  elfship check app --target ubuntu:22.04 --assume-present libpq.so.5   your servers have libpq
  elfship check app --root /srv/rootfs           exact: reads that root's own libraries and loader config
  elfship check app --root /srv/rootfs --run     and proves it: starts app there, in a sandbox (bwrap)
  elfship check app -t debian:11 --format junit > elfship.xml   for CI test reports (also --format github)

targets: `elfship targets` lists them (debian:10, buster, ubuntu:22.04, jammy, rhel:8, rocky:9, alpine:3.19, ...).
A named target is checked from measured facts about the release (glibc and its version nodes, base sonames,
package index); --root reads the real files. Nothing is executed except with --run, and then only in a
sandbox (bubblewrap, else unshare; see SECURITY.md).

A needed library that a named release may or may not ship (nobody measured its base system) makes the
answer UNKNOWN, never RUNS; --assume-present SONAME states what your servers have.

exit codes: 0 runs on every target asked, 1 fails on at least one (or a --run contradicted the prediction),
2 bad input or usage, 3 unknown on at least one (and fails on none), 130 interrupted.
"""


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "check",
        help="will it run on debian:10, rhel:8, alpine:3.19 or in that root? why not, and the fix",
        description="Predict whether each file starts on each target, naming the exact symbols, libraries "
        "and fixes.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("files", nargs="+", metavar="FILE")
    parser.add_argument(
        "--target",
        "-t",
        action="append",
        default=[],
        metavar="T",
        help="a release (debian:10, bullseye, rhel:8, ...) or 'supported'; repeat for a matrix",
    )
    parser.add_argument(
        "--root", action="append", default=[], type=Path, metavar="DIR", help="a root filesystem to check in"
    )
    parser.add_argument(
        "--at",
        metavar="PATH",
        help="with --root: where a program from outside the root stands inside it, for $ORIGIN and --run "
        "(default /usr/local/bin/NAME; a PATH ending in / is a directory)",
    )
    parser.add_argument("--run", action="store_true", help="with --root: also start the program there")
    parser.add_argument("--timeout", default="10", help="seconds to let --run go (default 10)")
    parser.add_argument(
        "--unsafe-chroot",
        action="store_true",
        help="with --run, as root: a plain chroot instead of the sandbox (the program can escape it)",
    )
    parser.add_argument(
        "--arch",
        help="architecture of the named targets (default: the file's own); or --target debian:12/ARCH",
    )
    parser.add_argument(
        "--assume-present",
        action="append",
        default=[],
        metavar="SONAME",
        help="take SONAME as present on the named targets (your servers have it); repeatable",
    )
    parser.add_argument("--json", action="store_true", help="one JSON document on stdout (schema_version 1)")
    parser.add_argument(
        "--format",
        choices=FORMATS,
        help="text (default), json (same as --json), junit (JUnit XML: a testcase per file x target), "
        "github (GitHub Actions annotations)",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    _pick_format(args)
    if not args.target and not args.root:
        raise UsageError(
            "nothing to check against", fix="add --target debian:11 (see `elfship targets`) or --root DIR"
        )
    if args.run and not args.root:
        raise UsageError("--run needs --root DIR (the program is started inside that root)")
    if args.at is not None:
        _check_at(args)
    args.timeout = _timeout(args.timeout)
    if args.unsafe_chroot:
        if not args.run:
            raise UsageError("--unsafe-chroot only applies to --run")
        print(
            "elfship: warning: --unsafe-chroot: the program runs as root in a plain chroot; it can escape, "
            "write anywhere, use the network and outlive elfship",
            file=sys.stderr,
        )
    roots = [(root, target_from_root(root)) for root in args.root]
    results: list[CheckResult] = []
    errors: list[dict[str, str]] = []
    for path in args.files:
        if is_payload(path):
            results.extend(_check_payload(path, args))
            continue
        try:
            info = read_program(path, args.root)  # a file under a --root is read through that root
        except ElfError as exc:
            errors.append({"path": path, "error": exc.problem})
            if not args.json:
                print(f"elfship: error: {exc.one_line()}", file=sys.stderr)
            continue
        problem = _arch_problem(args, info)
        if problem is not None:
            errors.append({"path": path, "error": problem})
            if not args.json:
                print(f"elfship: error: {path}: {problem}", file=sys.stderr)
            continue
        assumed = frozenset(args.assume_present)
        for target in _named_targets(args.target, args.arch, info):
            results.append(check_info(info, target, assume_present=assumed))
        for root, root_target in roots:
            results.append(_check_root(path, info, root, root_target, args))
    _render(args, results, errors)
    wrong = [r for r in results if r.prediction_held is False]
    for result in wrong:
        print(f"elfship: error: {prediction_error(result)}", file=sys.stderr)
    return _exit_code(results, errors, wrong)


def _check_payload(path: str, args: argparse.Namespace) -> list[CheckResult]:
    """A directory or wheel: each of its programs and modules, with what it ships along."""
    if args.root:
        raise UsageError(f"{path}: a directory or wheel is checked against named targets (--target) only")
    results = []
    with payload_members(path) as members:
        for member in members:
            assumed = frozenset(args.assume_present)
            for target in _named_targets(args.target, args.arch, member.info):
                result = check_info(member.info, target, assume_present=assumed, shipped=member.shipped)
                results.append(replace(result, path=member.display))
    return results


def _exit_code(results: list[CheckResult], errors: list[dict[str, str]], wrong: list[CheckResult]) -> int:
    verdicts = {r.verdict for r in results}
    if errors:
        return EXIT_BAD_INPUT
    if "fails" in verdicts or wrong:
        return EXIT_FAILS
    return EXIT_UNKNOWN if "unknown" in verdicts else EXIT_OK


def _timeout(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise UsageError(f"--timeout {text!r} is not a positive number of seconds", fix="e.g. --timeout 10")
    return value


def _arch_of(info: ElfInfo) -> str:
    return info.machine if info.machine in known_arches() else "x86_64"


def _arch_problem(args: argparse.Namespace, info: ElfInfo) -> str | None:
    """A file of an architecture elfship has no release data for, checked with no architecture asked: say
    so rather than answer for another architecture nobody asked about."""
    if args.arch or info.machine in known_arches() or all(split_arch(s)[1] for s in args.target):
        return None
    return (
        f"built for {info.machine}, and elfship has release data for {', '.join(known_arches())} only "
        f"(fix: --target RELEASE/ARCH or --arch ARCH to ask about one of those)"
    )


def _named_targets(specs: list[str], asked: str | None, info: ElfInfo) -> list[Target]:
    """Each --target as release + architecture: its own /ARCH, else --arch, else the file's own."""
    targets: list[Target] = []
    default = normalise_arch(asked) if asked else _arch_of(info)
    for spec in specs:
        name, own = split_arch(spec)
        if own and asked and own != normalise_arch(asked):
            raise UsageError(
                f"--target {spec} names {own}, --arch names {asked}", fix="give one architecture"
            )
        arch = own or default
        expanded = (
            list(supported_targets(arch=arch)) if name == "supported" else [get_target(name, arch=arch)]
        )
        targets.extend(t for t in expanded if t not in targets)
    return targets


def _check_root(
    path: str, info: ElfInfo, root: Path, target: Target, args: argparse.Namespace
) -> CheckResult:
    result = check_in_root(path, info, root, target, at=args.at)
    if not args.run:
        return result
    method = "chroot" if args.unsafe_chroot else None
    outcome = run_in_root(
        path,
        root,
        inside=result.placed_at,
        travelling=result.travelling,
        timeout=args.timeout,
        method=method,
    )
    return replace(result, run=outcome)


def _check_at(args: argparse.Namespace) -> None:
    if not args.root:
        raise UsageError("--at needs --root DIR (it says where the program stands inside that root)")
    if len(args.files) > 1 and not args.at.endswith("/"):
        raise UsageError(
            "--at PATH places one program",
            fix="check one FILE at a time, or give a directory: --at /opt/app/",
        )
    place_in_root("NAME", args.at)  # a bad PATH is a usage error before any work


def _pick_format(args: argparse.Namespace) -> None:
    """--json is --format json; both given must agree."""
    if args.json and args.format not in (None, "json"):
        raise UsageError(f"--json and --format {args.format} ask for two formats", fix="give one")
    args.format = "json" if args.json else args.format or "text"
    args.json = args.format == "json"


def _render(args: argparse.Namespace, results: list[CheckResult], errors: list[dict[str, str]]) -> None:
    if args.format == "junit":
        sys.stdout.write(to_junit(results, errors))
    elif args.format == "github":
        annotations = to_github(results, errors)
        if annotations:
            print(annotations)
    elif args.json:
        jsonout.emit({"results": [result_json(r) for r in results], "errors": errors})
    elif results:
        print(to_text(results))
