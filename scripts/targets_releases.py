"""Release records from the shared measurements (../shared/data/distros) and EOL.rst, plus small tables of
facts the measurements do not hold (code names, kernels, x86-64 baselines), each with its source."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from elfship.targets.families import PACKAGE_MANAGERS

SNAPSHOT_NOTE = "pep600_compliance measurement of the release's container image"

# File-name family -> canonical family (the others keep their file-name family).
FILE_FAMILIES = {"rhubi": "rhel", "rockylinux": "rocky", "almalinux": "alma", "oraclelinux": "oracle"}

CODENAMES: dict[str, tuple[str, ...]] = {
    "debian:8": ("jessie",),
    "debian:9": ("stretch",),
    "debian:10": ("buster",),
    "debian:11": ("bullseye",),
    "debian:12": ("bookworm",),
    "debian:13": ("trixie",),
    "debian:unstable": ("sid",),
    "ubuntu:18.04": ("bionic",),
    "ubuntu:20.04": ("focal",),
    "ubuntu:22.04": ("jammy",),
    "ubuntu:23.10": ("mantic",),
    "ubuntu:24.04": ("noble",),
    "ubuntu:24.10": ("oracular",),
    "ubuntu:25.04": ("plucky",),
    "ubuntu:25.10": ("questing",),
    "ubuntu:26.04": ("resolute",),
    "fedora:rawhide": ("rawhide",),
    "opensuse:tumbleweed": ("tumbleweed",),
    "archlinux:latest": ("arch", "archlinux"),
    "alt:sisyphus": ("sisyphus",),
    "mageia:cauldron": ("cauldron",),
    "amazonlinux:2": ("al2",),
    "amazonlinux:2023": ("al2023",),
    "centos-stream:9": ("c9s",),
    "centos-stream:10": ("c10s",),
    "manylinux:2010": ("manylinux2010", "manylinux_2_12"),
    "manylinux:2014": ("manylinux2014", "manylinux_2_17"),
    "manylinux:2_24": ("manylinux_2_24",),
    "manylinux:2_28": ("manylinux_2_28",),
    "manylinux:2_34": ("manylinux_2_34",),
    "manylinux:2_39": ("manylinux_2_39",),
}
CODENAME_SOURCE = "aliases: the releases' code names (Debian and Ubuntu release announcements, PEP 599/600)"

_EL_KERNELS = {"6": "2.6.32", "7": "3.10", "8": "4.18", "9": "5.14", "10": "6.12"}
KERNELS: dict[str, str] = {
    "debian:8": "3.16",
    "debian:9": "4.9",
    "debian:10": "4.19",
    "debian:11": "5.10",
    "debian:12": "6.1",
    "debian:13": "6.12",
    "ubuntu:18.04": "4.15",
    "ubuntu:20.04": "5.4",
    "ubuntu:22.04": "5.15",
    "ubuntu:23.10": "6.5",
    "ubuntu:24.04": "6.8",
    "ubuntu:24.10": "6.11",
    "ubuntu:25.04": "6.14",
    "ubuntu:25.10": "6.17",
    "amazonlinux:2": "4.14",
    "amazonlinux:2023": "6.1",
    **{
        f"{family}:{major}": kernel
        for family in ("rhel", "rocky", "alma", "oracle", "centos-stream")
        for major, kernel in _EL_KERNELS.items()
    },
}
KERNEL_SOURCE = "kernel: the kernel the release shipped at general availability (its release notes)"

# Lowest x86-64 micro-architecture level the release's packages are built for.
_EL_ISA = {"7": "x86-64", "8": "x86-64", "9": "x86-64-v2", "10": "x86-64-v3"}
ISA_FAMILY_DEFAULTS = {"debian": "x86-64", "ubuntu": "x86-64", "fedora": "x86-64", "alpine": "x86-64"}
ISA_BASELINES: dict[str, str] = {
    "opensuse:15.5": "x86-64",
    "opensuse:15.6": "x86-64",
    "opensuse:16.0": "x86-64-v2",
    **{
        f"{family}:{major}": isa
        for family in ("rhel", "rocky", "alma", "oracle", "centos-stream")
        for major, isa in _EL_ISA.items()
    },
}
ISA_SOURCE = "isa_baseline: the release's documented x86-64 baseline (RHEL 9: v2, RHEL 10: v3)"

PACKAGE_MANAGER_OVERRIDES = {
    "rhel:7": "yum",
    "oracle:6": "yum",
    "oracle:7": "yum",
    "amazonlinux:2": "yum",
    "manylinux:2010": "yum",
    "manylinux:2014": "yum",
    "manylinux:2_24": "apt",
}

_EOL_ROW = re.compile(r'^\s*"([^"]+)",\s*"([^"]*)",\s*"([^"]*)",\s*"([^"]*)"')
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def parse_eol(path: Path) -> dict[str, dict[str, Any]]:
    """EOL.rst rows keyed by data file stem ("debian-11", "rhubi-9", "centos-stream9")."""
    table: dict[str, dict[str, Any]] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        row = _EOL_ROW.match(line)
        if not row:
            continue
        name, eol, lts, elts = row.groups()
        stem = (
            name.replace("rhel / rhubi", "rhubi").replace("centos stream", "centos-stream").replace(" ", "-")
        )
        table[stem] = {
            "eol": eol if _DATE.match(eol) else None,
            "lts_end": lts if _DATE.match(lts) else None,
            "elts_end": elts if _DATE.match(elts) else None,
            "rolling": eol == "rolling",
        }
    return table


def split_stem(stem: str) -> tuple[str, str]:
    """Data file stem -> (canonical family, version): rhubi-9 -> (rhel, 9), centos-stream9 -> (centos-stream, 9)."""
    if stem.startswith("centos-stream"):
        return "centos-stream", stem[len("centos-stream") :]
    family, version = stem.split("-", 1)
    return FILE_FAMILIES.get(family, family), version


def release_records(distros: Path, arch: str) -> list[dict[str, Any]]:
    """One record per data file of `arch`, in file-name order."""
    eol_table = parse_eol(distros / "EOL.rst")
    records = []
    for path in sorted((distros / arch).glob("*.json")):
        measured = json.loads(path.read_text(encoding="utf-8"))
        records.append(_record(path.stem, arch, measured, eol_table.get(path.stem)))
    return records


def _record(stem: str, arch: str, measured: dict[str, Any], eol: dict[str, Any] | None) -> dict[str, Any]:
    family, version = split_stem(stem)
    name = f"{family}:{version}"
    measured_source = f"libc_version, version_nodes: distros/{arch}/{stem}.json ({SNAPSHOT_NOTE})"
    sources = [measured_source]
    sources.append("eol, lts_end, elts_end: distros/EOL.rst" if eol else "eol: not listed in distros/EOL.rst")
    record: dict[str, Any] = {
        "name": name,
        "family": family,
        "version": version,
        "aliases": list(CODENAMES.get(name, ())),
        "arch": arch,
        "libc": "glibc",
        "libc_version": measured["glibc_version"],
        "version_nodes": {ns: sorted(v) for ns, v in sorted(measured["symbols"].items())},
        "eol": eol["eol"] if eol else None,
        "lts_end": eol["lts_end"] if eol else None,
        "elts_end": eol["elts_end"] if eol else None,
        "rolling": bool(eol and eol["rolling"]),
        "base_sonames": None,
        "package_manager": PACKAGE_MANAGER_OVERRIDES.get(name, PACKAGE_MANAGERS.get(family, "")),
        "kind": "manylinux" if family == "manylinux" else "release",
        "kernel": KERNELS.get(name),
        "isa_baseline": _isa(name, family, arch),
        "package_index": None,
    }
    if record["aliases"]:
        sources.append(CODENAME_SOURCE)
    if record["kernel"]:
        sources.append(KERNEL_SOURCE)
    if record["isa_baseline"]:
        sources.append(ISA_SOURCE)
    record["sources"] = sources
    return record


def _isa(name: str, family: str, arch: str) -> str | None:
    if arch != "x86_64":
        return None
    return ISA_BASELINES.get(name) or ISA_FAMILY_DEFAULTS.get(family)
