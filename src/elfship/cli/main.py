"""Entry point: answer --version, else parse the command line (cli/parser.py), run the subcommand, and map
errors to exit codes. Results go to stdout (text or JSON); progress and logs go to stderr only.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from elfship import __version__
from elfship.errors import EXIT_BAD_INPUT, EXIT_INTERRUPTED, ElfshipError


def main(argv: Sequence[str] | None = None) -> int:
    if list(sys.argv[1:] if argv is None else argv) == ["--version"]:
        # What scripts run to probe for the tool: answered before argparse, half of this call's start-up.
        print(f"elfship {__version__}")
        return 0
    from elfship.cli.parser import build_parser  # argparse: a third of every other command's start-up

    parser = build_parser()
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
