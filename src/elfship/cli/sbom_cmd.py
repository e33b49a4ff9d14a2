"""`elfship sbom FILE...`: every component a binary carries or loads, with evidence and confidence."""

from __future__ import annotations

import argparse
import sys

from elfship.errors import EXIT_BAD_INPUT, EXIT_OK, ElfError, UsageError

EXAMPLES = """\
examples:
  elfship sbom target/release/myapp
      myapp [static-pie]: embeds openssl 3.6.3, libpq 18.6; 41 crates (exact)
        c-library   openssl  3.6.3  exact  built by crate openssl-src 300.6.1+3.6.3 (exact); version text ...
  elfship sbom --format cyclonedx myapp > myapp.cdx.json       CycloneDX 1.6 (purls, CPEs, dependencies)
  elfship sbom --format spdx myapp > myapp.spdx.json           SPDX 2.3
  elfship sbom --json bin/* | jq '.files[].components[] | select(.kind == "c-library")'
  elfship sbom --root /srv/debian12 /srv/debian12/usr/bin/curl   libraries as that root's loader maps them

What is found: Rust crates from cargo-auditable's .dep-v0 section (exact, with the dependency graph) or,
without it, from registry paths in the file's strings (heuristic, with a count); C libraries built in by
-src crates (openssl-src, pq-src, ...) with the upstream version; C libraries linked in statically, found by
content with two independent signals (version text plus implementation strings or defined symbols) so a
program that only prints OPENSSL_VERSION_TEXT is not reported; the libc of a static binary; rustc/gcc from
.comment; Go modules from .go.buildinfo; for dynamic programs, the libraries the loader maps and the Debian
package that ships each (from the root's dpkg database). Never runs the file.

exit codes: 0 every file read, 2 a file could not be read (the others are still reported).
"""


def configure(parser: argparse.ArgumentParser) -> None:
    """The `elfship sbom` parser (made by cli/parser.py, which names it and gives its one-line help)."""
    parser.description = (
        "List every component FILE carries or loads, each with its evidence and a confidence. "
        "Never executes FILE."
    )
    parser.epilog = EXAMPLES
    parser.add_argument("files", nargs="+", metavar="FILE", help="ELF programs or shared libraries")
    parser.add_argument(
        "--format",
        choices=("table", "cyclonedx", "spdx"),
        default="table",
        help="output format (default table)",
    )
    parser.add_argument("--json", action="store_true", help="elfship's own JSON document (schema_version 1)")
    parser.add_argument("--root", metavar="DIR", help="resolve loaded libraries inside this root filesystem")
    parser.add_argument(
        "--no-libraries", action="store_true", help="only what the file itself carries, not what it loads"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from elfship.report import jsonout
    from elfship.report.sbom_text import inventory_json, to_table
    from elfship.sbom import inventory

    if args.json and args.format != "table":
        raise UsageError(
            "--json and --format are exclusive", fix="pick one: --json, or --format cyclonedx|spdx"
        )
    inventories = []
    errors = []
    for path in args.files:
        try:
            inv = inventory(path, root=args.root, libraries=not args.no_libraries)
        except ElfError as exc:
            errors.append({"path": path, "error": exc.problem})
            print(f"elfship: error: {exc.one_line()}", file=sys.stderr, flush=True)
            continue
        inventories.append(inv)
        if not args.json and args.format == "table":
            print(("\n" if len(inventories) > 1 else "") + to_table(inv), flush=True)
    if args.json:
        jsonout.emit({"files": [inventory_json(i) for i in inventories], "errors": errors})
    elif args.format == "cyclonedx" and inventories:
        from elfship.report.sbom_cyclonedx import to_cyclonedx

        print(to_cyclonedx(inventories))
    elif args.format == "spdx" and inventories:
        from elfship.report.sbom_spdx import to_spdx

        print(to_spdx(inventories))
    return EXIT_BAD_INPUT if errors else EXIT_OK
