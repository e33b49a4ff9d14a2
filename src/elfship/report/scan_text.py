"""Render a ScanSummary as text, and the `elfship scan --json` document."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from elfship.scan import ScanSummary

LIST_LIMIT = 10  # items per list in text output unless --all


def render_scan(summary: ScanSummary, *, show_all: bool = False) -> str:
    limit = None if show_all else LIST_LIMIT
    dirs = ", ".join(summary.directories)
    lines = [
        f"{summary.elf_count} ELF files among {summary.files_seen} files in {dirs}"
        + (f" (resolved in {summary.root})" if summary.root else ""),
        f"  kinds: {_counts(summary.kinds)}",
        f"  libc:  {_counts(summary.libc_families)}",
    ]
    if summary.highest_glibc:
        files = summary.highest_glibc_files
        lines.append(f"Highest glibc needed: {summary.highest_glibc}, by {_n(len(files), 'file')}:")
        lines.extend(_items(files, limit))
        versions = ", ".join(f"{v} ({n})" for v, n in summary.glibc_versions.items())
        lines.append(f"  files per highest glibc version needed: {versions}")
    if summary.missing:
        lines.append(f"Missing libraries ({len(summary.missing)}):")
        shown = list(summary.missing.items())[: limit or None]
        for soname, needers in shown:
            first = ", ".join(needers[:3]) + (f" and {len(needers) - 3} more" if len(needers) > 3 else "")
            lines.append(f"  {soname}  needed by {_n(len(needers), 'file')}: {first}")
        if len(summary.missing) > len(shown):
            lines.append(f"  ... and {len(summary.missing) - len(shown)} more (--all shows them)")
    else:
        lines.append("Missing libraries: none")
    if summary.problems:
        lines.append(f"Problems ({len(summary.problems)}):")
        lines.extend(_items([f"{p.path}: {p.problem}" for p in summary.problems], limit))
    lines.extend(f"warning: {w}" for w in summary.warnings)
    return "\n".join(lines)


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{name} {count}" for name, count in counts.items()) or "none"


def _n(count: int, noun: str) -> str:
    return f"{count} {noun}" + ("" if count == 1 else "s")


def _items(items: Sequence[str], limit: int | None) -> list[str]:
    shown = list(items[:limit] if limit else items)
    lines = [f"  {item}" for item in shown]
    if len(items) > len(shown):
        lines.append(f"  ... and {len(items) - len(shown)} more (--all shows them)")
    return lines


def scan_document(summary: ScanSummary) -> dict[str, Any]:
    """The `elfship scan --json` document (without schema_version; jsonout.emit adds it)."""
    return {
        "directories": list(summary.directories),
        "root": summary.root,
        "files_seen": summary.files_seen,
        "elf_files": summary.elf_count,
        "kinds": summary.kinds,
        "libc_families": summary.libc_families,
        "glibc_versions": summary.glibc_versions,
        "highest_glibc": {"version": summary.highest_glibc, "files": list(summary.highest_glibc_files)},
        "missing": [{"soname": s, "needed_by": list(n)} for s, n in summary.missing.items()],
        "problems": [{"path": p.path, "problem": p.problem} for p in summary.problems],
        "warnings": list(summary.warnings),
        "files": [
            {
                "path": f.path,
                "kind": f.kind,
                "libc": f.libc,
                "machine": f.machine,
                "glibc_needed": f.glibc_needed,
                "interpreter": f.interpreter,
                "libraries": f.libraries,
                "missing": list(f.missing),
            }
            for f in summary.files
            if f.error is None
        ],
    }
