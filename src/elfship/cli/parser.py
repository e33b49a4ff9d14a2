"""The argument parser. Each subcommand lives in cli/<name>_cmd.py, which exposes ``configure(parser)``:
it adds the arguments, the description and the examples, and sets ``func`` to a callable ``(args) -> int``.

Subcommands are configured lazily: the top-level parser knows every command's name and one-line help
(enough for `elfship --help` and for a misspelt command), and the chosen command's module is imported and
its parser filled in only when argparse reaches it. Building nine full parsers, and importing nine modules,
would cost every call more than the command itself.
"""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Sequence
from typing import Any

from elfship import __version__
from elfship.cli.helpformat import HelpFormatter

# (name, one-line help), in the order of --help.
COMMANDS = (
    ("inspect", "what a binary is and needs (never runs it)"),
    ("tree", "dependency tree, each library with how the loader finds it"),
    ("scan", "every ELF file below directories, resolved and summarised"),
    ("check", "will it run on debian:10, rhel:8, alpine:3.19 or in that root? why not, and the fix"),
    ("targets", "list the releases elfship knows and what each offers"),
    ("build", "build a Rust project into a binary that runs on the named servers"),
    ("bundle", "copy a dynamic program with its libraries and loader into a relocatable bundle"),
    ("sbom", "what a binary carries inside and loads (crates, C libraries, libc, toolchains)"),
    ("audit", "match what binaries carry against offline advisories (RustSec, OSV)"),
)

EPILOG = """\
exit codes:
  0  success (check: runs on every target asked)
  1  answered "no" (check: fails on at least one target; build: cargo or verification failed)
  2  bad input or usage (unreadable or malformed file, unknown target, missing tool)
  130 interrupted

Every command takes --json: one JSON document on stdout (schema_version 1), logs on stderr.
"""


class LazySubcommands(argparse._SubParsersAction):  # type: ignore[type-arg]
    """Subparsers whose arguments are added by the command's own module, imported when the command is
    chosen (argparse calls this action with the command's name and the words after it)."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: Any,
        option_string: str | None = None,
    ) -> None:
        configure(self._name_parser_map.get(values[0]), values[0])
        super().__call__(parser, namespace, values, option_string)


def configure(subparser: argparse.ArgumentParser | None, name: str) -> None:
    """Fill in the parser of command `name` from its module, once (unknown names are argparse's to report)."""
    if subparser is None or subparser.get_default("func") is not None:
        return
    importlib.import_module(f"elfship.cli.{name}_cmd").configure(subparser)


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
    parser.register("action", "parsers", LazySubcommands)
    # prog given: else argparse builds a help formatter (and imports shutil, bz2, lzma) to work it out
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", prog="elfship")
    for name, summary in COMMANDS:
        subparsers.add_parser(name, help=summary, formatter_class=HelpFormatter)
    return parser
