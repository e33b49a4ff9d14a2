"""`elfship tree FILE`: the dependency tree as the loader would build it, each library with how it was found."""

from __future__ import annotations

import argparse
import os
import sys

from elfship.errors import EXIT_FAILS, EXIT_OK

EXAMPLES = """\
examples:
  elfship tree target/release/myapp
      myapp [dynamic, glibc, needs GLIBC_2.34, x86-64-v3]
      ├── libssl.so.3 => /lib/x86_64-linux-gnu/libssl.so.3 [ld.so.cache]
      │   └── libcrypto.so.3 => /lib/x86_64-linux-gnu/libcrypto.so.3 [ld.so.cache]
      └── libpq.so.5 => not found
            1. [runpath] /opt/app/lib/libpq.so.5: absent
            2. [ld.so.cache] /etc/ld.so.cache: no entry
            3. [default] /lib/x86_64-linux-gnu/libpq.so.5: absent ...
  elfship tree --root /srv/debian10 ./myapp     as that root filesystem's loader would resolve it
  elfship tree --all /usr/bin/curl              also show libc, the loader and libgcc_s
  elfship tree --json ./myapp | jq '.missing[].soname'

How a library was found: [rpath], [rpath of X] (DT_RPATH of an object up the chain), [LD_LIBRARY_PATH],
[runpath], [ld.so.cache], [default] (the loader's built-in directories), [interpreter].
The search follows glibc's ld.so (or musl's for musl programs) without running anything: DT_RPATH chain,
LD_LIBRARY_PATH, DT_RUNPATH, /etc/ld.so.cache, default directories, glibc-hwcaps subdirectories, $ORIGIN.

exit codes: 0 every library found, 1 something is missing, 2 bad input (not ELF, root does not exist).
"""


def configure(parser: argparse.ArgumentParser) -> None:
    """The `elfship tree` parser (made by cli/parser.py, which names it and gives its one-line help)."""
    parser.description = (
        "Show the libraries the loader would map for FILE, who needs each, and where and why "
        "it is found; for a missing one, every place the loader would look. Never runs FILE."
    )
    parser.epilog = EXAMPLES
    parser.add_argument("file", metavar="FILE", help="a dynamically linked program or shared library")
    parser.add_argument("--json", action="store_true", help="one JSON document on stdout (schema_version 1)")
    add_resolution_options(parser)
    parser.add_argument(
        "--all", action="store_true", help="also show libc, the loader and libgcc_s, and repeated libraries"
    )
    parser.set_defaults(func=run)


def add_resolution_options(parser: argparse.ArgumentParser) -> None:
    """Options shared by tree and scan: where and for which CPU to resolve."""
    parser.add_argument(
        "--root", metavar="DIR", help="resolve inside this root filesystem (its ld.so.cache, its directories)"
    )
    parser.add_argument(
        "--ld-library-path",
        metavar="PATHS",
        help="colon-separated directories to use as LD_LIBRARY_PATH (default: the environment's)",
    )
    parser.add_argument(
        "--isa",
        metavar="LEVEL",
        help="CPU level for glibc-hwcaps subdirectories: x86-64-v2, x86-64-v3, x86-64-v4 or baseline "
        "(default: this machine's)",
    )


def ld_library_path(args: argparse.Namespace) -> tuple[str, ...] | None:
    from elfship.resolve.llpath import parse_ld_library_path

    value: str | None = args.ld_library_path
    return None if value is None else parse_ld_library_path(value)  # None: the environment's


def run(args: argparse.Namespace) -> int:
    from elfship.report.tree_text import render_tree, tree_document
    from elfship.resolve.engine import resolve

    resolution = resolve(args.file, root=args.root, ld_library_path=ld_library_path(args), isa=args.isa)
    if args.json:
        from elfship.report import jsonout

        jsonout.emit(tree_document(resolution))
    else:
        color = sys.stdout.isatty() and "NO_COLOR" not in os.environ
        print(render_tree(resolution, show_all=args.all, color=color))
    return EXIT_OK if resolution.ok else EXIT_FAILS
