"""Base systems of the RPM family (rocky:8, rocky:9, alma:9, amazonlinux:2023) from their official container images.

The package lists (scripts/data/images/*.txt) are copied from the docker-library `repo-info` repository, as
for debian:10 and Ubuntu (see targets_images.py): measured facts, each with its source path, commit and the
image's creation date. No RPM file list is reachable from here, so packages are mapped to sonames through a
hand-written table of common sonames and the packages that ship them (scripts/data/rpm-sonames.txt, its
method written at its top). Every soname so found is an inference:
- present: some package of the soname's row is in the image's manifest (in a matching version);
- absent: no package of its row is;
- unknown (base_open): a versioned row's package is in the image in a version no row maps;
- unknown: the table has no row for it (the record's base_scope lists the rows: ships_soname answers None
  for any other soname). A soname is never guessed from a package name.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, NamedTuple

from targets_images import DATA, read_manifest

TABLE = Path(__file__).resolve().parent / "data" / "rpm-sonames.txt"


class RpmImage(NamedTuple):
    release: str  # canonical release name: rocky:9, amazonlinux:2023
    file: str  # under scripts/data/images


RPM_IMAGES: tuple[RpmImage, ...] = (
    RpmImage("rocky:8", "rocky-8.txt"),
    RpmImage("rocky:9", "rocky-9.txt"),
    RpmImage("alma:9", "alma-9.txt"),
    RpmImage("amazonlinux:2023", "amazonlinux-2023.txt"),
)


class Shipper(NamedTuple):
    package: str
    version: tuple[str, ...]  # leading upstream version components it must have; () = any version


def read_table(path: Path = TABLE) -> dict[str, tuple[Shipper, ...]]:
    """soname -> the packages that ship it, from the table file (comments and blank lines skipped)."""
    table: dict[str, tuple[Shipper, ...]] = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        fields = line.split("#", 1)[0].split()
        if not fields:
            continue
        if len(fields) < 2 or fields[0] in table:
            raise ValueError(f"{path}:{number}: want one row per soname: SONAME PACKAGE[@VERSION] ...")
        shippers = []
        for entry in fields[1:]:
            package, _, version = entry.partition("@")
            shippers.append(Shipper(package, tuple(version.split(".")) if version else ()))
        table[fields[0]] = tuple(shippers)
    return table


def ships(shipper: Shipper, packages: dict[str, str]) -> bool:
    """Is `shipper` in the manifest, in a version whose upstream part starts with its components?"""
    version = packages.get(shipper.package)
    if version is None:
        return False
    upstream = version.split(":", 1)[-1].split("-", 1)[0].split(".")
    return tuple(upstream[: len(shipper.version)]) == shipper.version


def image_base(image: RpmImage, table: dict[str, tuple[Shipper, ...]]) -> tuple[list[str], list[str]]:
    """(sonames of the table the image's packages ship, sonames left open), both sorted."""
    packages = read_manifest(DATA / image.file).packages
    present = {name for name, shippers in table.items() if any(ships(s, packages) for s in shippers)}
    return sorted(present), sorted(unmapped_versions(table, packages) - present)


def unmapped_versions(table: dict[str, tuple[Shipper, ...]], packages: dict[str, str]) -> set[str]:
    """Sonames of versioned rows whose package is in the image in a version no row maps (amazonlinux:2's
    openssl-libs 1.0.2 ships libssl.so.10, neither .so.1.1 nor .so.3): unknown, not absent."""
    versions: dict[str, list[tuple[str, ...]]] = {}
    for shippers in table.values():
        for shipper in shippers:
            if shipper.version:
                versions.setdefault(shipper.package, []).append(shipper.version)
    unmapped = {
        package
        for package, known in versions.items()
        if package in packages and not any(ships(Shipper(package, v), packages) for v in known)
    }
    return {
        name for name, shippers in table.items() if any(s.version and s.package in unmapped for s in shippers)
    }


def add_rpm_bases(records: list[dict[str, Any]], table_path: Path = TABLE) -> list[str]:
    """Fill base_sonames and base_scope of the RPM image releases (x86_64: the manifests are amd64 images)."""
    table = read_table(table_path)
    messages = []
    for image in RPM_IMAGES:
        record = next((r for r in records if r["name"] == image.release and r["arch"] == "x86_64"), None)
        if record is None:
            messages.append(f"no release record {image.release} (x86_64): its image manifest is unused")
            continue
        manifest = read_manifest(DATA / image.file)
        record["base_sonames"], record["base_open"] = image_base(image, table)
        record["base_scope"] = sorted(table)
        record["base_basis"] = f"inferred from its image manifest ({manifest.source.split(' (')[0]})"
        record["sources"].append(
            f"base_sonames: inferred: packages of the official image, {manifest.source}, created "
            f"{manifest.created[:10]} (measured), mapped to sonames through scripts/data/rpm-sonames.txt "
            f"({len(table)} sonames, written by hand from the distributions' package file lists); any other "
            "soname is unknown"
            + (
                f"; unknown: {', '.join(record['base_open'])} (package version not mapped)"
                if record["base_open"]
                else ""
            )
        )
    return messages
