"""Entry point: parse the command line, dispatch to one module per subcommand, map errors to exit codes.

Each subcommand module exposes ``register(subparsers)`` which adds its parser and sets ``func`` to a callable
``(args) -> int``. Results go to stdout (text or JSON); progress and logs go to stderr only.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from elfship import __version__
from elfship.cli.helpformat import HelpFormatter
from elfship.errors import EXIT_BAD_INPUT, EXIT_INTERRUPTED, ElfshipError

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
        try:
            module = importlib.import_module(f"elfship.cli.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"elfship.cli.{name}":
                raise
            continue  # subcommand not built yet
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    if list(sys.argv[1:] if argv is None else argv) == ["--version"]:
        # What scripts run to probe for the tool: answered before argparse, half of this call's start-up.
        print(f"elfship {__version__}")
        return 0
    parser = build_parser(argv)
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help(sys.stderr)
        return EXIT_BAD_INPUT
    try:
        code: int = args.func(args)
        return code
    except ElfshipError as exc:
        print(f"elfship: error: {exc.one_line()}", file=sys.stderr)
        return exc.exit_code
    except BrokenPipeError:
        # `elfship scan / | head`: the reader went away; that is not an error worth a traceback.
        sys.stderr.close()
        return 0
    except OSError as exc:
        # Last line of defence: a file system error no layer anticipated is still one line, not a traceback.
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"elfship: error: {where}{exc.strerror or exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("elfship: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


def cargo_main(argv: Sequence[str] | None = None) -> int:
    """`cargo elfship build ...` runs `cargo-elfship elfship build ...`: drop the repeated word."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] == "elfship":
        args = args[1:]
    return main(args)


if __name__ == "__main__":
    import signal

    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    raise SystemExit(main())
