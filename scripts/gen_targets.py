#!/usr/bin/env python3
"""Generate elfship's target data (src/elfship/targets/data) from measured sources.

    python scripts/gen_targets.py [--distros ../shared/data/distros] [--roots ~/.cache/elfship-tests/roots]
                                  [--cache ~/.cache/elfship-build] [--out src/elfship/targets/data] [--offline]

Inputs: the shared distros measurements and EOL.rst (read-only), the Alpine table in targets_alpine.py,
auditwheel's manylinux/musllinux policy files (the installed auditwheel, or --auditwheel-policy DIR),
the official images' package lists in scripts/data/images (base sonames of debian:10, ubuntu:22.04,
inferred through the Contents indexes; see targets_images.py; of rocky:8/9, alma:9 and
amazonlinux:2023 through the soname table scripts/data/rpm-sonames.txt, see targets_rpm.py), Debian minbase roots made with `debootstrap --variant=minbase SUITE DIR` (base sonames and every version
node of every base library), and each Debian
suite's Contents-amd64.gz (soname -> package; downloaded once into --cache). The output is deterministic:
the same inputs give the same bytes. Commit only the output.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from elfship.targets.data import releases_text
from targets_alpine import alpine_records
from targets_debian import (
    SUITES,
    MirrorUnreachable,
    base_sonames,
    contents_url,
    dpkg_version,
    fetch_contents,
    library_nodes,
    parse_contents,
    sha256_of,
    write_gzip_json,
)
from targets_images import IMAGES, add_image_bases, package_sonames
from targets_releases import release_records
from targets_rpm import add_rpm_bases
from targets_wheels import PolicyUnavailable, policy_directory, replace_image_records, wheel_records

REPO = Path(__file__).resolve().parent.parent
ARCHES = ("x86_64", "aarch64")
DEBIAN_ARCHES = {"x86_64": "amd64", "aarch64": "arm64"}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--distros", type=Path, default=REPO.parent / "shared" / "data" / "distros")
    parser.add_argument("--roots", type=Path, default=Path.home() / ".cache" / "elfship-tests" / "roots")
    parser.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "elfship-build")
    parser.add_argument("--out", type=Path, default=REPO / "src" / "elfship" / "targets" / "data")
    parser.add_argument("--offline", action="store_true", help="use cached downloads only")
    parser.add_argument(
        "--auditwheel-policy",
        type=Path,
        help="auditwheel's policy directory (default: the installed auditwheel)",
    )
    return parser.parse_args(argv)


def log(message: str) -> None:
    print(f"gen_targets: {message}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if not (args.distros / "EOL.rst").is_file():
        log(f"{args.distros} holds no EOL.rst: give the distros data directory with --distros")
        return 2
    records = [r for arch in ARCHES for r in release_records(args.distros, arch) + alpine_records(arch)]
    records = _with_wheel_policies(records, args.auditwheel_policy)
    args.out.mkdir(parents=True, exist_ok=True)
    indexes: dict[str, Any] = {}
    node_files: set[str] = set()
    for name, suite in SUITES.items():
        for arch in ARCHES:
            record = _find(records, name, arch)
            root = args.roots / (suite if arch == "x86_64" else f"{suite}-{DEBIAN_ARCHES[arch]}")
            command = _debootstrap_command(suite, arch, root)
            _add_base_sonames(record, root, command)
            node_file = _write_library_nodes(record, root, command, args.out)
            if node_file is not None:
                node_files.add(node_file)
        record = _find(records, name, "x86_64")
        index = _write_package_index(name, suite, args)
        if index is not None:
            indexes[name] = index
            record["package_index"] = name
            record["sources"].append(f"package_for: {', '.join(index['sources'])}")
    for message in add_image_bases(records, _image_contents(args)):
        log(message)
    for message in add_rpm_bases(records):  # rocky, alma, amazonlinux: see targets_rpm.py
        log(message)
    _check_aliases(records)
    _remove_stale_indexes(args.out, {info["file"] for info in indexes.values()} | node_files)
    _write_releases(args.out / "releases.json", records, indexes)
    log(f"{len(records)} release records, {len(indexes)} package indexes written to {args.out}")
    return 0


def _with_wheel_policies(records: list[dict[str, Any]], given: Path | None) -> list[dict[str, Any]]:
    try:
        directory, label = policy_directory(given)
    except PolicyUnavailable as exc:
        log(f"wheel policies (manylinux_*, musllinux_*) left out: {exc}")
        return records
    wheels = [r for arch in ARCHES for r in wheel_records(directory, label, arch)]
    return replace_image_records(records, wheels)


def _find(records: list[dict[str, Any]], name: str, arch: str) -> dict[str, Any]:
    for record in records:
        if record["name"] == name and record["arch"] == arch:
            return record
    raise SystemExit(f"gen_targets: no measured data for {name} ({arch}) in the distros directory")


def _debootstrap_command(suite: str, arch: str, root: Path) -> str:
    """How the root of `suite` for `arch` is made. Other architectures are unpacked only (--foreign: the
    packages' files are in place, nothing of them is run), which is all a library listing needs."""
    if arch == "x86_64":
        return f"debootstrap --variant=minbase {suite} {root}"
    return f"debootstrap --foreign --arch={DEBIAN_ARCHES[arch]} --variant=minbase {suite} {root}"


def _add_base_sonames(record: dict[str, Any], root: Path, command: str) -> None:
    if not (root / "etc" / "os-release").exists():
        log(
            f"{root}: no minbase root; base_sonames of {record['name']} ({record['arch']}) stay unknown "
            f"(make it with `{command}`)"
        )
        return
    record["base_sonames"] = base_sonames(root)
    libc6 = dpkg_version(root, "libc6") or "unknown"
    short = command.rsplit(" ", 1)[0]  # without the root path, which differs between machines
    record["sources"].append(f"base_sonames: library directories of `{short}` (libc6 {libc6})")


def _write_library_nodes(record: dict[str, Any], root: Path, command: str, out: Path) -> str | None:
    """Every version node of every base library of the release, one gzipped JSON object per release."""
    if not (root / "etc" / "os-release").exists():
        return None  # _add_base_sonames already said why
    nodes = library_nodes(root)
    suffix = "" if record["arch"] == "x86_64" else f"-{record['arch']}"
    file_name = f"nodes-{record['name'].replace(':', '-')}{suffix}.json.gz"
    write_gzip_json(out / file_name, json.dumps(nodes, separators=(",", ":"), sort_keys=True))
    record["node_file"] = file_name
    short = command.rsplit(" ", 1)[0]
    record["sources"].append(f"library_nodes: .gnu.version_d of every library of `{short}`")
    return file_name


def _write_package_index(name: str, suite: str, args: argparse.Namespace) -> dict[str, Any] | None:
    try:
        contents = fetch_contents(suite, args.cache, offline=args.offline)
    except MirrorUnreachable as exc:
        log(f"package map of {name} unknown: {exc}")
        return None
    mapping = parse_contents(contents)
    file_name = f"packages-{name.replace(':', '-')}.json.gz"
    write_gzip_json(args.out / file_name, json.dumps(mapping, separators=(",", ":"), sort_keys=True))
    family, version = name.split(":", 1)
    return {
        "file": file_name,
        "family": family,
        "version": version,
        "count": len(mapping),
        "sources": [f"{contents_url(suite)} (sha256 {sha256_of(contents)})"],
    }


def _image_contents(args: argparse.Namespace) -> dict[str, dict[str, set[str]]]:
    """package -> sonames of every Debian suite the image manifests are mapped through."""
    mapped: dict[str, dict[str, set[str]]] = {}
    for suite in sorted({suite for image in IMAGES for suite in image.suites}):
        try:
            mapped[suite] = package_sonames(fetch_contents(suite, args.cache, offline=args.offline))
        except MirrorUnreachable as exc:
            log(f"image bases without {suite}: {exc}")
    return mapped


def _check_aliases(records: list[dict[str, Any]]) -> None:
    for arch in ARCHES:
        seen: dict[str, str] = {}
        for record in (r for r in records if r["arch"] == arch):
            for key in [record["name"], *record["aliases"]]:
                if key in seen and seen[key] != record["name"]:
                    raise SystemExit(
                        f"gen_targets: {key} names both {seen[key]} and {record['name']} ({arch})"
                    )
                seen[key] = record["name"]


def _remove_stale_indexes(out: Path, keep: set[str]) -> None:
    for path in [*out.glob("packages-*.json.gz"), *out.glob("nodes-*.json.gz")]:
        if path.name not in keep:
            path.unlink()


def _write_releases(path: Path, records: list[dict[str, Any]], indexes: dict[str, Any]) -> None:
    """The layout elfship reads (elfship.targets.data.releases_text): one release per line, keys sorted."""
    text = releases_text(records, indexes, "scripts/gen_targets.py")
    temporary = path.with_suffix(".json.tmp")
    temporary.write_text(text, encoding="utf-8")
    temporary.replace(path)


if __name__ == "__main__":
    raise SystemExit(main())
