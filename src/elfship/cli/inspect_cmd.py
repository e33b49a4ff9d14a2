"""`elfship inspect FILE...`: what a binary is and what it needs, without running it."""

from __future__ import annotations

import argparse
import sys

from elfship.errors import EXIT_BAD_INPUT, EXIT_OK, ElfError

EXAMPLES = """\
examples:
  elfship inspect target/release/myapp
      kind, libc and the oldest glibc it accepts, interpreter, NEEDED, RPATH/RUNPATH,
      and the symbols behind the newest versions, e.g.  libm.so.6  GLIBC_2.29  exp, pow
  elfship inspect --all-versions /usr/bin/ls     every version node needed, not just the highest
  elfship inspect --json bin/* | jq '.files[].libc'

Replaces `file`, `ldd` (which runs the binary's own loader on it), `readelf -d`, `readelf -V` and `du`.
Exit code 2 when any file could not be read (the others are still reported).
"""


def configure(parser: argparse.ArgumentParser) -> None:
    """The `elfship inspect` parser (made by cli/parser.py, which names it and gives its one-line help)."""
    parser.description = "Read ELF files and report what they are and what they need to start."
    parser.epilog = EXAMPLES
    parser.add_argument("files", nargs="+", metavar="FILE", help="ELF files (programs or shared libraries)")
    parser.add_argument("--json", action="store_true", help="one JSON document on stdout (schema_version 1)")
    parser.add_argument(
        "--all-versions", action="store_true", help="list every version node needed, not only the highest"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from elfship.elf.reader import read_elf
    from elfship.report.inspect_report import to_json, to_text

    files = []
    errors = []
    printed = False
    for path in args.files:
        try:
            info = read_elf(path, with_symbols=True)  # one parse, the culprit symbols included
        except ElfError as exc:
            errors.append({"path": path, "error": exc.problem})
            if not args.json:
                print(f"elfship: error: {exc.one_line()}", file=sys.stderr, flush=True)
            continue
        symbols = info.symbols_by_version()
        if args.json:
            files.append(to_json(info, symbols))
        else:
            print(
                ("\n" if printed else "") + to_text(info, symbols, all_versions=args.all_versions), flush=True
            )
            printed = True
    if args.json:
        from elfship.report import jsonout

        jsonout.emit({"files": files, "errors": errors})
    return EXIT_BAD_INPUT if errors else EXIT_OK
