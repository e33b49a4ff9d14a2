"""`elfship targets`: the releases elfship knows and what each offers."""

from __future__ import annotations

import argparse
import datetime
from pathlib import Path

from elfship.errors import EXIT_OK

DESCRIPTION = """\
List the Linux releases elfship can check binaries against: libc family and version, end-of-life date
and whether the release is supported on that date, and what else is known about it (version nodes of
glibc/libstdc++/libgcc, the sonames of its base system, a soname -> package map).
Give release names for the details of each, or --root DIR to read a real root filesystem."""

EPILOG = """\
examples:
  elfship targets                       releases still maintained (also in LTS/ELTS, rolling, unknown),
                                        and the wheel policies manylinux_2_5 ... and musllinux_1_1, _1_2
  elfship targets --all                 every release, including EOL ones
  elfship targets debian:10 bookworm    details: highest GLIBC/GLIBCXX/CXXABI/GCC node, base sonames, ...
  elfship targets rhel8 --arch aarch64  a release of another architecture
  elfship targets --root /srv/rootfs    what a root filesystem (debootstrap, container export) offers
  elfship targets --json focal          the same as one JSON document on stdout

Names: family:version (debian:12, ubuntu:22.04, rhel:9, alpine:3.19, manylinux:2014, musllinux:1_2), code names
(bullseye, jammy, sid) and common spellings (debian-12, rhel9, ubi9, rockylinux:9, alpine3.19).
Status: supported (not past its EOL date), lts / elts (past EOL, still in free / commercial long-term
support), eol (past all of them), rolling (no EOL date), unknown (no EOL date known), policy (a Python
wheel platform policy: its base system is the policy's allowed libraries, as auditwheel checks them).
"""


def configure(parser: argparse.ArgumentParser) -> None:
    """The `elfship targets` parser (made by cli/parser.py, which names it and gives its one-line help)."""
    parser.description = DESCRIPTION
    parser.epilog = EPILOG
    parser.add_argument("names", nargs="*", metavar="NAME", help="releases to describe in detail")
    parser.add_argument("--all", action="store_true", help="list every release, not only those still alive")
    parser.add_argument("--arch", default="x86_64", help="architecture of the releases (default: x86_64)")
    parser.add_argument("--root", type=Path, metavar="DIR", help="describe this root filesystem")
    parser.add_argument("--date", type=_parse_date, metavar="YYYY-MM-DD", help="judge EOL as of this date")
    parser.add_argument("--json", action="store_true", help="one JSON document on stdout")
    parser.set_defaults(func=run)


def _parse_date(text: str) -> datetime.date:
    try:
        return datetime.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date like 2026-01-31") from None


def run(args: argparse.Namespace) -> int:
    from elfship.report.jsonout import emit
    from elfship.report.targets_report import targets_document, targets_text
    from elfship.targets.selection import select_targets

    today: datetime.date = args.date or datetime.date.today()
    detail = bool(args.names or args.root)
    targets = select_targets(args.names, arch=args.arch, today=today, root=args.root, include_eol=args.all)
    if args.json:
        emit(targets_document(targets, today, args.arch, detail=detail))
    else:
        print(targets_text(targets, today, detail=detail))
    return EXIT_OK
