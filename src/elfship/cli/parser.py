"""The argument parser: one module per subcommand (<name>_cmd.py), each exposing ``register(subparsers)``,
which adds its parser and sets ``func`` to a callable ``(args) -> int``."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from elfship import __version__
from elfship.cli.helpformat import HelpFormatter

# Order here is the order in --help.
SUBCOMMAND_MODULES = (
    "inspect_cmd",
    "tree_cmd",
    "scan_cmd",
    "check_cmd",
    "targets_cmd",
    "build_cmd",
    "bundle_cmd",
    "sbom_cmd",
    "audit_cmd",
)

EPILOG = """\
exit codes:
  0  success (check: runs on every target asked)
  1  answered "no" (check: fails on at least one target; build: cargo or verification failed)
  2  bad input or usage (unreadable or malformed file, unknown target, missing tool)
  130 interrupted

Every command takes --json: one JSON document on stdout (schema_version 1), logs on stderr.
"""


def _modules_for(argv: Sequence[str] | None) -> tuple[str, ...]:
    """Import only the subcommand being run: each pulls in its own layers, and start-up time is paid on
    every call (a scan, a CI step). --help and unknown words still get every subcommand."""
    words = list(sys.argv[1:] if argv is None else argv)
    if words[:1] == ["--version"]:
        return ()  # answered by argparse before any subcommand is needed
    first = next((w for w in words if not w.startswith("-")), None)
    if first is not None and f"{first}_cmd" in SUBCOMMAND_MODULES and "--help" not in words[:1]:
        return (f"{first}_cmd",)
    return SUBCOMMAND_MODULES


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="elfship",
        description="Will this Linux binary run on the server it is shipped to? "
        "Inspect it, check it against a release or a root filesystem, rebuild it static or "
        "glibc-pinned, or bundle it. Never executes the file it analyses (except check --run).",
        epilog=EPILOG,
        formatter_class=HelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"elfship {__version__}")
    # prog given: else argparse builds a help formatter (and imports shutil, bz2, lzma) to work it out
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", prog="elfship")
    for name in _modules_for(argv):
        importlib.import_module(f"elfship.cli.{name}").register(subparsers)
    return parser
