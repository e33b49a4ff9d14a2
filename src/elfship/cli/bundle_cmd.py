"""`elfship bundle FILE`: make any dynamic ELF run on an older or bare Linux, without rebuilding it."""

from __future__ import annotations

import argparse
import os

from elfship.bundle import DEFAULT_EXCLUDES, Format, make_bundle
from elfship.bundle.api import LAUNCHER_CHOICES
from elfship.bundle.policy import GCONV_CHOICES
from elfship.cli.interrupt import sigterm_as_interrupt
from elfship.errors import EXIT_OK
from elfship.report import jsonout
from elfship.report.bundle_report import to_json, to_text
from elfship.report.progress import log


def _excludes_text() -> str:
    patterns = ", ".join(rule.pattern.removesuffix(".so*") for rule in DEFAULT_EXCLUDES)
    return f"never bundled (GPU, display, audio: the host's own must load): {patterns}"


EXAMPLES = f"""\
examples:
  elfship bundle ./myapp                       -> myapp.bundle/myapp runs anywhere the kernel is new enough
  elfship bundle ./myapp -o dist/myapp.tar.gz  -> a reproducible tarball (unpack, run myapp/myapp)
  elfship bundle ./myapp --format self-extracting -o myapp.run
      one file: unpacks once into $TMPDIR/elfship-UID (or ~/.cache/elfship if /tmp is noexec), then runs
  elfship bundle ./myapp --add /usr/lib/x86_64-linux-gnu/sasl2/libplain.so   a plugin it dlopens
  elfship bundle ./myapp --exclude 'libcuda*'  leave a library to the host

What goes in: the program, every library the loader would map for it (found the way ld.so finds them,
LD_LIBRARY_PATH included), its loader, glibc whole (libc, libm, libpthread, libdl, librt, ... from one glibc),
the NSS modules files and dns, and glibc's core gconv modules when the program (or a library) calls iconv
(--with-gconv all: every charset).
RPATH/RUNPATH are removed from the copies so nothing is taken from the machine it runs on.
{_excludes_text()}

OUT/<name> is a launcher that execs (no fork: exit code, signals, stdin/stdout pass through) the bundled loader
on OUT/bin/<name>, keeping argv[0] as typed. The program finds its own file in $ELFSHIP_EXE (/proc/self/exe
now names the loader) and the file the user ran in $ELFSHIP_LAUNCHER. Check the result with
`elfship check --root ROOT OUT/<name>`. Exit code 2 for bad input (missing library, OUT exists, ...).
"""


def configure(parser: argparse.ArgumentParser) -> None:
    """The `elfship bundle` parser (made by cli/parser.py, which names it and gives its one-line help)."""
    parser.description = (
        "Bundle a dynamic ELF program with every library it loads and its own loader, so it runs "
        "on an older or bare Linux without rebuilding it."
    )
    parser.epilog = EXAMPLES
    parser.add_argument("file", metavar="FILE", help="the program to bundle")
    parser.add_argument(
        "-o", "--output", metavar="OUT", help="where to write (default: NAME.bundle, NAME.tar.gz or NAME.run)"
    )
    parser.add_argument(
        "--format",
        choices=[f.value for f in Format],
        help="dir (default), tar (.tar.gz) or self-extracting (one file); guessed from OUT's suffix when absent",
    )
    parser.add_argument(
        "--add",
        action="append",
        default=[],
        metavar="PATH",
        help="also bundle this library (one the program dlopens), with its dependencies; repeatable",
    )
    parser.add_argument(
        "--exclude",
        action="append",
        default=[],
        metavar="PATTERN",
        help="leave libraries whose soname matches this shell pattern to the host; repeatable",
    )
    parser.add_argument(
        "--force", action="store_true", help="replace OUT if it exists (only an earlier bundle)"
    )
    parser.add_argument(
        "--launcher",
        choices=LAUNCHER_CHOICES,
        default="auto",
        help="auto: a static C launcher (falls back to sh without a compiler); sh: a POSIX sh script",
    )
    parser.add_argument(
        "--with-gconv",
        choices=GCONV_CHOICES,
        default="minimal",
        help="when the program calls iconv: minimal (default: glibc's core charsets, ~160 KB) or all of "
        "glibc's gconv modules (~8 MB)",
    )
    parser.add_argument("--json", action="store_true", help="one JSON document on stdout (schema_version 1)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    # SIGTERM unwinds like Ctrl-C: make_bundle removes its temporary files, main() exits 130.
    with sigterm_as_interrupt():
        result = make_bundle(
            args.file,
            args.output,
            fmt=args.format,
            adds=args.add,
            excludes=args.exclude,
            force=args.force,
            launcher=args.launcher,
            ld_library_path=os.environ.get("LD_LIBRARY_PATH"),
            gconv=args.with_gconv,
        )
    for warning in result.warnings:
        log(f"warning: {warning}")
    if args.json:
        jsonout.emit(to_json(result))
    else:
        print(to_text(result))
    return EXIT_OK
