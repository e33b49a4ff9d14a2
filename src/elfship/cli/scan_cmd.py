"""`elfship scan DIR...`: every ELF file below the directories, resolved and summarised."""

from __future__ import annotations

import argparse

from elfship.cli.tree_cmd import add_resolution_options, ld_library_path
from elfship.errors import EXIT_FAILS, EXIT_OK

EXAMPLES = """\
examples:
  elfship scan /opt/myapp
      every ELF file below /opt/myapp: counts by kind and libc, the highest glibc version needed and by
      which files, and every library the loader would not find, with the files that need it
  elfship scan --root /srv/debian10 /srv/debian10/usr/bin     resolve inside that root filesystem
  elfship scan --json /usr/lib/x86_64-linux-gnu | jq '.missing'

Each file is parsed once (hard links count once; symlinks are not followed) and both cores share the work.
Only regular files are opened (never FIFOs or devices, nor files too short to be ELF such as those of
/proc), and the scan stays on the filesystem of each DIR unless --cross-filesystems.
A file that cannot be read or is not valid ELF is one line under "Problems"; the scan goes on.
A progress bar is drawn on stderr when it is a terminal.

exit codes: 0 nothing missing, 1 some file needs a library the loader would not find,
            2 bad input (a directory that does not exist or cannot be read, a bad --root).
            Unreadable or malformed files are listed as problems and do not change the exit code.
"""


def configure(parser: argparse.ArgumentParser) -> None:
    """The `elfship scan` parser (made by cli/parser.py, which names it and gives its one-line help)."""
    parser.description = (
        "Find every ELF file below the directories, resolve each as the loader would, and "
        "summarise: kinds, libc families, the newest glibc needed and by whom, missing libraries. "
        "Never runs the files."
    )
    parser.epilog = EXAMPLES
    parser.add_argument("directories", nargs="+", metavar="DIR", help="directories to scan")
    parser.add_argument("--json", action="store_true", help="one JSON document on stdout (schema_version 1)")
    add_resolution_options(parser)
    parser.add_argument(
        "--all", action="store_true", help="list every file in each section, not the first 10"
    )
    parser.add_argument("--jobs", type=int, metavar="N", help="worker processes (default: up to 2 cores)")
    parser.add_argument(
        "--cross-filesystems",
        action="store_true",
        help="also descend into directories on other filesystems (mount points) below each DIR",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from elfship.report import jsonout
    from elfship.report.progress import Progress
    from elfship.report.scan_text import render_scan, scan_document
    from elfship.scan.engine import scan

    bar: Progress | None = None

    def progress(done: int, total: int) -> None:
        nonlocal bar
        if bar is None:
            bar = Progress(total, "scanning")
        bar.advance(done - bar.done)

    try:
        summary = scan(
            args.directories,
            root=args.root,
            ld_library_path=ld_library_path(args),
            isa=args.isa,
            workers=args.jobs,
            progress=progress,
            cross_filesystems=args.cross_filesystems,
        )
    finally:
        if bar is not None:
            bar.close()
    if args.json:
        jsonout.emit(scan_document(summary))
    else:
        print(render_scan(summary, show_all=args.all))
    return EXIT_FAILS if summary.missing else EXIT_OK
