"""Python wheel platform policies as targets: manylinux_2_5 ... and musllinux_1_1, musllinux_1_2.

Read from auditwheel's own policy files (auditwheel/policy/manylinux-policy.json, musllinux-policy.json; the
PEP 600 and PEP 656 policies as auditwheel enforces them): `lib_whitelist` is the "base system" a wheel may
need without bundling, `symbol_versions` the version nodes it may need per namespace. A wheel target answers
"would auditwheel accept this file under that tag", which is what pip on the user's machine relies on.
"""

from __future__ import annotations

import json
from importlib import metadata, resources
from pathlib import Path
from typing import Any

from elfship.targets.families import INTERPRETERS

POLICY_FILES = {"manylinux": "manylinux-policy.json", "musllinux": "musllinux-policy.json"}
# The canonical names elfship used before wheel policies were read (kept: scripts and users name them).
LEGACY_NAMES = {"manylinux_2_12": "manylinux:2010", "manylinux_2_17": "manylinux:2014"}


class PolicyUnavailable(Exception):
    pass


def policy_directory(given: Path | None) -> tuple[Path, str]:
    """auditwheel's policy directory and a label naming its version (from --auditwheel-policy, or the
    installed auditwheel package)."""
    if given is not None:
        return given, f"auditwheel policy files in {given}"
    try:
        version = metadata.version("auditwheel")
    except metadata.PackageNotFoundError:
        raise PolicyUnavailable("auditwheel is not installed (pip install auditwheel)") from None
    return Path(str(resources.files("auditwheel") / "policy")), f"auditwheel {version}"


def wheel_records(directory: Path, label: str, arch: str) -> list[dict[str, Any]]:
    records = []
    for family, file_name in POLICY_FILES.items():
        policies = json.loads((directory / file_name).read_text(encoding="utf-8"))
        for policy in policies:
            if policy["name"] != "linux" and arch in policy["symbol_versions"]:
                records.append(_record(family, policy, arch, f"{label} policy/{file_name}"))
    return records


def _record(family: str, policy: dict[str, Any], arch: str, source: str) -> dict[str, Any]:
    tag = policy["name"]  # manylinux_2_17, musllinux_1_2
    numbers = tag.split("_", 1)[1]
    name = LEGACY_NAMES.get(tag, f"{family}:{numbers}")
    aliases = sorted({tag, *policy["aliases"]} - {name})
    nodes = policy["symbol_versions"][arch]
    return {
        "name": name,
        "family": family,
        "version": name.split(":", 1)[1],
        "aliases": aliases,
        "arch": arch,
        "libc": "glibc" if family == "manylinux" else "musl",
        "libc_version": numbers.replace("_", "."),
        "version_nodes": {ns: sorted(versions) for ns, versions in sorted(nodes.items())},
        "eol": None,
        "lts_end": None,
        "elts_end": None,
        "rolling": False,
        "base_sonames": sorted({*policy["lib_whitelist"], *_loaders(family, arch)}),
        "package_manager": "",
        "kind": family,
        "kernel": None,
        "isa_baseline": None,
        "package_index": None,
        "sources": [
            f"libc_version, version_nodes (symbol_versions), base_sonames (lib_whitelist), aliases: {source} "
            f"({'PEP 600' if family == 'manylinux' else 'PEP 656'} policy {tag}); plus the C library's loader, which "
            "auditwheel never counts as an outside library"
        ],
    }


def _loaders(family: str, arch: str) -> tuple[str, ...]:
    """auditwheel never counts the C library's loader as an outside library (its lddtree skips ld-linux*,
    ld64.so.*, and musl's libc, which is its loader), though programs linked by zig or lld name the glibc loader
    in DT_NEEDED and programs built on Alpine name musl's libc.musl-ARCH.so.1."""
    if family == "manylinux":
        return (INTERPRETERS[("glibc", arch)].rsplit("/", 1)[1],)
    return (INTERPRETERS[("musl", arch)].rsplit("/", 1)[1], f"libc.musl-{arch}.so.1")


def replace_image_records(
    records: list[dict[str, Any]], wheels: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """The wheel policies replace the measured manylinux build images of the same name: a check against
    manylinux_2_28 asks what a wheel may need, not what the build image happens to hold."""
    replaced = {(w["name"], w["arch"]) for w in wheels}
    kept = [r for r in records if r["family"] != "manylinux" or (r["name"], r["arch"]) not in replaced]
    return kept + wheels
