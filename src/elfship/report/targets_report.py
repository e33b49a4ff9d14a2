"""`elfship targets` rendered: the table of releases, one release in detail, and the JSON document."""

from __future__ import annotations

import datetime
from typing import Any

from elfship.abi import version_key
from elfship.report.table import table_lines
from elfship.targets import Target
from elfship.targets.families import NAMESPACE_OWNERS
from elfship.targets.packages import index_info

KNOWN_NAMESPACES = tuple(NAMESPACE_OWNERS)  # the namespaces whose owners are known, in their usual order


def targets_document(
    targets: list[Target], today: datetime.date, arch: str, *, detail: bool
) -> dict[str, Any]:
    return {
        "date": today.isoformat(),
        "arch": arch,
        "targets": [target_json(t, today, detail=detail) for t in targets],
    }


def targets_text(targets: list[Target], today: datetime.date, *, detail: bool) -> str:
    if detail:
        return "\n\n".join(_detail_text(t, today) for t in targets)
    return _table_text(targets, today)


# -- JSON ----------------------------------------------------------------------------------------------------


def target_json(target: Target, today: datetime.date, *, detail: bool) -> dict[str, Any]:
    """One target as a JSON object (see schemas/targets.schema.json)."""
    document: dict[str, Any] = {
        "name": target.name,
        "family": target.family,
        "version": target.version,
        "aliases": list(target.aliases),
        "arch": target.arch,
        "kind": target.kind,
        "libc": target.libc,
        "libc_version": target.libc_version or None,
        "status": target.status(today),
        "supported": target.is_supported(today),
        "eol": _iso(target.eol),
        "lts_end": _iso(target.lts_end),
        "elts_end": _iso(target.elts_end),
        "rolling": target.rolling,
        "package_manager": target.package_manager or None,
        "kernel": target.kernel,
        "isa_baseline": target.isa_baseline,
        "interpreter": target.interpreter,
        "root": target.root,
        "version_nodes": {ns: _nodes_json(target, ns, detail) for ns in sorted(target.version_nodes)},
        "base_sonames_count": None if target.base_sonames is None else len(target.base_sonames),
        "library_nodes_count": target.measured_libraries(),
        "package_index": _package_index_json(target),
        "sources": list(target.sources),
    }
    if detail:
        document["base_sonames"] = None if target.base_sonames is None else sorted(target.base_sonames)
    return document


def _iso(day: datetime.date | None) -> str | None:
    return day.isoformat() if day else None


def _nodes_json(target: Target, namespace: str, detail: bool) -> dict[str, Any]:
    versions = target.version_nodes[namespace]
    nodes: dict[str, Any] = {"highest": target.highest_node(namespace), "count": len(versions)}
    if detail:
        nodes["versions"] = sorted(versions, key=lambda v: (version_key(v), v))
    return nodes


def _package_index_json(target: Target) -> dict[str, Any] | None:
    info = index_info(target.package_index) if target.package_index else None
    if info is None:
        return None
    return {"release": target.package_index, "sonames": info["count"], "sources": info["sources"]}


# -- text ----------------------------------------------------------------------------------------------------


def _table_text(targets: list[Target], today: datetime.date) -> str:
    header = ("NAME", "ALIASES", "LIBC", "EOL", "STATUS", "KNOWN")
    rows = [header] + [
        (
            t.name,
            ",".join(t.aliases) or "-",
            f"{t.libc} {t.libc_version}".strip(),
            _iso(t.eol) or ("rolling" if t.rolling else "unknown"),
            t.status(today),
            _known_text(t),
        )
        for t in targets
    ]
    lines = table_lines(rows)
    supported = sum(1 for t in targets if t.is_supported(today))
    lines.append(f"\n{len(targets)} releases, {supported} supported on {today.isoformat()}")
    return "\n".join(lines)


def _known_text(target: Target) -> str:
    known = []
    if target.version_nodes:
        known.append("version-nodes")
    if target.base_sonames is not None:
        known.append("base-sonames")
    if target.package_index is not None:
        known.append("packages")
    return ",".join(known) or "-"


def _detail_text(target: Target, today: datetime.date) -> str:
    title = target.display_name + (f" ({', '.join(target.aliases)})" if target.aliases else "")
    fields = [
        ("libc", f"{target.libc} {target.libc_version or '(version unknown)'}"),
        ("status", _status_text(target, today)),
        ("package manager", target.package_manager or "unknown"),
        ("package map", _package_map_text(target)),
        ("install", _install_text(target)),
        ("base system", _base_text(target)),
        ("interpreter", target.interpreter or "unknown"),
        ("kernel", target.kernel or "unknown"),
        ("ISA baseline", target.isa_baseline or "unknown"),
    ]
    lines = [title] + [f"  {label:<16}{value}" for label, value in fields]
    measured = target.measured_libraries()
    per_library = (
        f"every node of {measured} base libraries, judged per library" if measured else "per namespace"
    )
    lines.append(f"  version nodes   {per_library}")
    lines += _nodes_text(target) or [
        "    none (musl defines no symbol versions)" if target.libc == "musl" else "    none"
    ]
    lines.append("  sources")
    lines += [f"    - {source}" for source in target.sources]
    return "\n".join(lines)


def _status_text(target: Target, today: datetime.date) -> str:
    text = target.status(today)
    dates = [
        f"{label} {_iso(day)}"
        for label, day in (
            ("EOL", target.eol),
            ("LTS until", target.lts_end),
            ("ELTS until", target.elts_end),
        )
        if day
    ]
    return f"{text} ({', '.join(dates)})" if dates else text


def _package_map_text(target: Target) -> str:
    info = index_info(target.package_index) if target.package_index else None
    if info is None:
        return "not known (no package index for this release)"
    return f"{info['count']} sonames from the {target.package_index} Contents index"


def _install_text(target: Target) -> str:
    if target.package_manager == "apt":
        if target.package_index is None:
            return "not known (no package map to name the package)"
        return "apt-get install PACKAGE (the package map names it)"
    return target.install_command("SONAME") or "not known (no soname-based install)"


def _base_text(target: Target) -> str:
    if target.base_sonames is None:
        return "not known"
    if target.base_basis:  # not measured in a root: say how it is known
        return f"{len(target.base_sonames)} sonames, {target.base_basis}"
    return f"{len(target.base_sonames)} sonames" + (" (read from the root)" if target.root else "")


def _nodes_text(target: Target) -> list[str]:
    order = [ns for ns in KNOWN_NAMESPACES if ns in target.version_nodes]
    order += sorted(ns for ns in target.version_nodes if ns not in KNOWN_NAMESPACES)
    return [
        f"    {ns:<10} highest {target.highest_node(ns) or '-':<10} {len(target.version_nodes[ns])} versions"
        for ns in order
    ]
