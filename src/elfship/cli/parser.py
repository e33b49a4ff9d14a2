"""The argument parser. Each subcommand lives in cli/<name>_cmd.py, which exposes ``configure(parser)``:
it adds the arguments, the description and the examples, and sets ``func`` to a callable ``(args) -> int``.

Subcommands are made lazily (LazySubcommands): the top-level parser knows every command's name and one-line
help (enough for `elfship --help` and for a misspelt command), and the chosen command's parser is made, and
its module imported to fill it in, only when argparse reaches it.
"""

from __future__ import annotations

import argparse
import importlib

from elfship import __version__
from elfship.cli.helpformat import HelpFormatter

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (start-up time; docs/architecture.md)
if TYPE_CHECKING:
    from typing import Any

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
    """Subcommands whose parsers are made when chosen: `add_command` records a name and its one-line help
    (all `elfship --help` shows); argparse calls this action with the chosen name, and only then is that
    command's parser made and filled in by its module. Each full parser costs a few translated strings and
    regular expressions, which nine of them made a tenth of a command's start-up."""

    def add_command(self, name: str, summary: str) -> None:
        self._choices_actions.append(self._ChoicesPseudoAction(name, (), summary))
        self._name_parser_map[name] = None  # a valid choice; its parser is made on demand

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: Any,
        option_string: str | None = None,
    ) -> None:
        name = values[0]
        if name in self._name_parser_map and self._name_parser_map[name] is None:
            del self._name_parser_map[name]  # add_parser refuses a name it already holds
            command = self.add_parser(name, formatter_class=HelpFormatter)
            importlib.import_module(f"elfship.cli.{name}_cmd").configure(command)
        super().__call__(parser, namespace, values, option_string)


def build_parser() -> argparse.ArgumentParser:
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
    assert isinstance(subparsers, LazySubcommands)
    for name, summary in COMMANDS:
        subparsers.add_command(name, summary)
    return parser
