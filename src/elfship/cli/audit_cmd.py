"""`elfship audit FILE... --db PATH`: match what binaries carry against offline advisory data."""

from __future__ import annotations

import argparse
import sys

from elfship.errors import EXIT_BAD_INPUT, EXIT_FAILS, EXIT_OK, ElfError

EXAMPLES = """\
examples:
  git clone https://github.com/rustsec/advisory-db ~/advisory-db
  elfship audit target/release/myapp --db ~/advisory-db
      myapp: 1 advisory applies (42 components checked against this database)
        RUSTSEC-2023-0006 (CVE-2023-0286): openssl-src 300.0.9+3.0.7
            fixed in: >= 111.25, < 300.0, >= 300.0.12
            fix: rebuild with openssl-src >= 300.0.12: `cargo update -p openssl-src`, then `elfship build ...`
        not covered by this database (not known to be safe):
          c-library      zlib ?: no advisory ecosystem for it (found by content, not from a package manager)
  elfship audit bin/* --db ~/osv/crates.io/all.zip        OSV: an ecosystem's all.zip, or a directory of *.json
  elfship audit --json app --db ~/osv | jq '.files[].findings[].id'

Databases: a RustSec advisory-db checkout (crates/<crate>/RUSTSEC-*.md), or OSV data (crates.io, Go,
Debian:N ecosystems) as a directory of JSON files or a downloaded all.zip. Nothing is fetched: the data
is as fresh as you made it. Components no advisory source covers (C libraries found by content, libc,
compilers) are listed as "not covered by this database", never as safe.

exit codes: 0 no advisory applies, 1 at least one applies (informational ones such as "unmaintained"
do not count), 2 bad input (no database there, a file is not ELF).
"""


def configure(parser: argparse.ArgumentParser) -> None:
    """The `elfship audit` parser (made by cli/parser.py, which names it and gives its one-line help)."""
    parser.description = (
        "List the advisories that apply to the components FILE carries or loads, with the fix."
    )
    parser.epilog = EXAMPLES
    parser.add_argument("files", nargs="+", metavar="FILE", help="ELF programs or shared libraries")
    parser.add_argument(
        "--db",
        required=True,
        metavar="PATH",
        help="RustSec advisory-db checkout, OSV JSON directory or all.zip",
    )
    parser.add_argument("--json", action="store_true", help="one JSON document on stdout (schema_version 1)")
    parser.add_argument("--root", metavar="DIR", help="resolve loaded libraries inside this root filesystem")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from elfship.advisories import audit, load_database
    from elfship.report import jsonout
    from elfship.report.sbom_audit import audit_json, audit_text
    from elfship.sbom import inventory

    database = load_database(args.db)
    results = []
    bad = False
    for path in args.files:
        try:
            result = audit(inventory(path, root=args.root), database)
        except ElfError as exc:
            print(f"elfship: error: {exc.one_line()}", file=sys.stderr, flush=True)
            bad = True
            continue
        results.append(result)
        if not args.json:
            print(("\n" if len(results) > 1 else "") + audit_text(result), flush=True)
    if args.json:
        jsonout.emit(audit_json(results, database))
    if bad:
        return EXIT_BAD_INPUT
    return EXIT_FAILS if any(r.vulnerable for r in results) else EXIT_OK
