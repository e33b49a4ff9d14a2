"""`elfship check FILE... --target T... | --root DIR [--run]`: will it run there, and why not."""

from __future__ import annotations

import argparse
import sys

from elfship.errors import UsageError
from elfship.report.formats import CHECK_FORMATS

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (start-up time; docs/architecture.md)
if TYPE_CHECKING:
    from pathlib import Path

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


def configure(parser: argparse.ArgumentParser) -> None:
    """The `elfship check` parser (made by cli/parser.py, which names it and gives its one-line help)."""
    parser.description = (
        "Predict whether each file starts on each target, naming the exact symbols, libraries and fixes."
    )
    parser.epilog = EXAMPLES
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
        "--root", action="append", default=[], metavar="DIR", help="a root filesystem to check in"
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
        choices=CHECK_FORMATS,
        help="text (default), json (same as --json), junit (JUnit XML: a testcase per file x target), "
        "github (GitHub Actions annotations)",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from elfship.check.batch import CheckRequest, check_files, validate
    from elfship.report.check_report import error_lines, render_batch

    output_format = _pick_format(args)
    request = CheckRequest(
        files=tuple(args.files),
        targets=tuple(args.target),
        roots=_roots(args.root),
        arch=args.arch,
        assume_present=frozenset(args.assume_present),
        at=args.at,
        run=args.run,
        timeout=_timeout(args.timeout),
        unsafe_chroot=args.unsafe_chroot,
    )
    validate(request)
    if request.unsafe_chroot:
        print(
            "elfship: warning: --unsafe-chroot: the program runs as root in a plain chroot; it can escape, "
            "write anywhere, use the network and outlive elfship",
            file=sys.stderr,
        )
    batch = check_files(request)
    sys.stdout.write(render_batch(batch, output_format))
    sys.stdout.flush()
    for line in error_lines(batch, output_format):
        print(line, file=sys.stderr)
    return batch.exit_code()


def _roots(given: list[str]) -> tuple[Path, ...]:
    if not given:
        return ()  # named targets only: pathlib is not imported
    from pathlib import Path

    return tuple(Path(root) for root in given)


def _timeout(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0 < value < float("inf"):  # also false for nan
        raise UsageError(f"--timeout {text!r} is not a positive number of seconds", fix="e.g. --timeout 10")
    return value


def _pick_format(args: argparse.Namespace) -> str:
    """--json is --format json; both given must agree."""
    if args.json and args.format not in (None, "json"):
        raise UsageError(f"--json and --format {args.format} ask for two formats", fix="give one")
    return "json" if args.json else args.format or "text"
