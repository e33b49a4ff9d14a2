"""Render a BundleResult: the JSON document (schemas/bundle.schema.json) and the text table."""

from __future__ import annotations

from typing import Any

from elfship.bundle.model import BundleEntry, BundleResult, Role
from elfship.report.table import table_lines
from elfship.report.units import human_size


def to_json(result: BundleResult) -> dict[str, Any]:
    return {
        "program": result.program,
        "output": result.output,
        "format": result.format.value,
        "name": result.name,
        "libc": result.libc_family,
        "launcher": result.launcher,
        "files": [_entry_json(entry) for entry in result.entries],
        "excluded": [
            {"soname": e.soname, "pattern": e.pattern, "why": e.why, "needed_by": list(e.needed_by)}
            for e in result.excluded
        ],
        "files_size": result.files_size,
        "output_size": result.output_size,
        "warnings": list(result.warnings),
    }


def _entry_json(entry: BundleEntry) -> dict[str, Any]:
    return {
        "path": entry.path,
        "role": entry.role.value,
        "size": entry.size,
        "reason": entry.reason,
        "source": entry.source,
        "link_target": entry.link_target,
        "rpath_removed": entry.rpath_removed,
    }


def to_text(result: BundleResult) -> str:
    kind = f"{result.libc_family}, {result.launcher} launcher" if result.libc_family else "static program"
    lines = [f"bundled {result.program} -> {result.output} ({result.format.value}, {kind})", ""]
    rows = [
        (human_size(e.size), e.path, _why(e)) for e in result.entries if e.role not in (Role.GCONV, Role.LINK)
    ]
    gconv = [e for e in result.entries if e.role is Role.GCONV]
    if gconv:
        size = sum(e.size for e in gconv)
        rows.append((human_size(size), "lib/gconv/", f"{len(gconv)} files: {gconv[0].reason}"))
    rows += [("link", e.path, f"-> {e.link_target}") for e in result.entries if e.role is Role.LINK]
    lines += table_lines(rows, indent="  ", right={0}, minimum=(9,))
    if result.excluded:
        lines += ["", "left out (the host must provide them):"]
        lines += [f"  {e.soname}  ({e.pattern}: {e.why})" for e in result.excluded]
    count = sum(1 for e in result.entries if e.role is not Role.LINK)
    lines += [
        "",
        f"{count} files, {human_size(result.files_size)} in; "
        f"{result.output} is {human_size(result.output_size)} on disk",
        f"run it: {_how_to_run(result)}",
    ]
    return "\n".join(lines)


def _why(entry: BundleEntry) -> str:
    note = " (RPATH removed from the copy)" if entry.rpath_removed else ""
    return entry.reason + note


def _how_to_run(result: BundleResult) -> str:
    if result.format.value == "dir":
        return f"{result.output}/{result.name} [args]"
    if result.format.value == "tar":
        return f"tar xzf {result.output} and run <dir>/{result.name} from where it was unpacked"
    return f"{result.output} [args] (unpacks once into a cache directory)"
