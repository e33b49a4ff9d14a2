"""Read advisory data from disk: a RustSec advisory-db checkout (crates/<name>/RUSTSEC-*.md, TOML front
matter in a ```toml block), a directory of OSV JSON files, or an OSV ecosystem all.zip. Bounded reads."""

from __future__ import annotations

import json
import os
import sys
import zipfile
from collections.abc import Iterator
from typing import Any

from elfship.advisories.model import Advisory, Affected, Database, Interval
from elfship.errors import UsageError
from elfship.sbom.model import ECOSYSTEM_RUST_STD

MAX_FILE = 4 * 1024 * 1024  # one advisory
MAX_FILES = 500_000
MAX_ZIP_TOTAL = 4 * 1024 * 1024 * 1024  # all.zip of every ecosystem inflates to a few GB at most

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib


def load_database(path: str) -> Database:
    """Detect the format and read it. Raises UsageError for a path that is neither."""
    if os.path.isfile(path) and zipfile.is_zipfile(path):
        return _osv_zip(path)
    if not os.path.isdir(path):
        raise UsageError(
            f"{path}: no advisory database there",
            fix="pass a RustSec advisory-db checkout, a directory of OSV JSON files, or an OSV all.zip",
        )
    if os.path.isdir(os.path.join(path, "crates")):
        return _rustsec(path)
    return _osv_dir(path)


def _rustsec(path: str) -> Database:
    """crates/<crate>/*.md, and rust/std/*.md: the standard library every Rust binary links in (rust/cargo
    and rust/rustdoc are tools, not part of any binary)."""
    advisories, skipped = [], []
    files = [
        *_walk(os.path.join(path, "crates"), (".md",)),
        *_walk(os.path.join(path, "rust", "std"), (".md",)),
    ]
    for file in files:
        try:
            advisory = parse_rustsec(_read(file), file)
        except (ValueError, KeyError, TypeError, OSError) as exc:
            skipped.append(f"{file}: {exc}")
            continue
        if advisory is not None:
            advisories.append(advisory)
    return Database(path, "rustsec", tuple(advisories), tuple(skipped))


def parse_rustsec(text: str, source: str) -> Advisory | None:
    """One RustSec advisory (Markdown with a ```toml front matter block, or a bare .toml); None if withdrawn."""
    front = text
    if text.lstrip().startswith("```toml"):
        body = text.lstrip()[len("```toml") :]
        front, _, rest = body.partition("\n```")
        summary = next((line.lstrip("# ").strip() for line in rest.splitlines() if line.startswith("#")), "")
    else:
        summary = ""
    document = tomllib.loads(front)
    advisory = document["advisory"]
    if advisory.get("withdrawn"):
        return None
    versions = document.get("versions", {})
    is_std = os.path.basename(os.path.dirname(source)) == "std" and advisory["package"] == "std"
    affected = Affected(
        ecosystem=ECOSYSTEM_RUST_STD if is_std else "crates.io",
        package="rustc" if is_std else str(advisory["package"]),
        patched=tuple(str(v) for v in versions.get("patched", [])),
        unaffected=tuple(str(v) for v in versions.get("unaffected", [])),
        cargo_requirements=True,
    )
    return Advisory(
        id=str(advisory["id"]),
        aliases=tuple(str(a) for a in advisory.get("aliases", [])),
        summary=summary or str(advisory.get("title", "")),
        url=advisory.get("url"),
        affected=(affected,),
        informational=advisory.get("informational"),
        source=source,
    )


def _osv_dir(path: str) -> Database:
    advisories, skipped = [], []
    for file in _walk(path, (".json",)):
        try:
            advisories.append(parse_osv(json.loads(_read(file)), file))
        except (ValueError, KeyError, TypeError, AttributeError, OSError) as exc:
            skipped.append(f"{file}: {exc}")
    if not advisories and not skipped:
        raise UsageError(
            f"{path}: no advisories found (no crates/ directory, no *.json files)",
            fix="pass a RustSec advisory-db checkout, a directory of OSV JSON files, or an OSV all.zip",
        )
    return Database(path, "osv", tuple(a for a in advisories if a is not None), tuple(skipped))


def _osv_zip(path: str) -> Database:
    advisories, skipped = [], []
    total = 0
    with zipfile.ZipFile(path) as archive:
        for entry in archive.infolist()[:MAX_FILES]:
            if not entry.filename.endswith(".json") or entry.file_size > MAX_FILE:
                continue
            total += entry.file_size
            if total > MAX_ZIP_TOTAL:
                skipped.append(f"{path}: stopped after {MAX_ZIP_TOTAL} bytes")
                break
            try:
                with archive.open(entry) as handle:
                    advisories.append(parse_osv(json.loads(handle.read(MAX_FILE + 1)), entry.filename))
            except (ValueError, KeyError, TypeError, AttributeError, zipfile.BadZipFile) as exc:
                skipped.append(f"{entry.filename}: {exc}")
    return Database(path, "osv", tuple(a for a in advisories if a is not None), tuple(skipped))


def parse_osv(document: Any, source: str) -> Advisory | None:
    """One OSV record (https://ossf.github.io/osv-schema/); None if withdrawn."""
    if not isinstance(document, dict) or document.get("withdrawn"):
        return None
    affected = []
    for entry in document.get("affected", []):
        package = entry.get("package", {})
        intervals = tuple(i for r in entry.get("ranges", []) for i in _intervals(r))
        affected.append(
            Affected(
                ecosystem=str(package["ecosystem"]),
                package=str(package["name"]),
                intervals=intervals,
                versions=tuple(str(v) for v in entry.get("versions", [])),
            )
        )
    return Advisory(
        id=str(document["id"]),
        aliases=tuple(str(a) for a in document.get("aliases", [])),
        summary=str(document.get("summary", "") or document.get("details", "")[:120]),
        url=next((r.get("url") for r in document.get("references", []) if r.get("type") == "ADVISORY"), None),
        affected=tuple(affected),
        source=source,
    )


def _intervals(version_range: dict[str, Any]) -> Iterator[Interval]:
    """OSV events in order: each 'introduced' opens an interval that the next 'fixed'/'last_affected' closes.
    GIT ranges name commits, not versions: a binary does not record its commit, so they are skipped."""
    if version_range.get("type") not in ("SEMVER", "ECOSYSTEM"):
        return
    start: str | None = None
    is_open = False
    for event in version_range.get("events", []):
        if "introduced" in event:
            start, is_open = (None if event["introduced"] == "0" else str(event["introduced"])), True
        elif "fixed" in event and is_open:
            yield Interval(start, fixed=str(event["fixed"]))
            is_open = False
        elif "last_affected" in event and is_open:
            yield Interval(start, last_affected=str(event["last_affected"]))
            is_open = False
    if is_open:
        yield Interval(start)


def _walk(top: str, suffixes: tuple[str, ...]) -> Iterator[str]:
    count = 0
    for directory, dirs, files in os.walk(top):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            if name.endswith(suffixes):
                count += 1
                if count > MAX_FILES:
                    return
                yield os.path.join(directory, name)


def _read(path: str) -> str:
    with open(path, "rb") as handle:
        data = handle.read(MAX_FILE + 1)
    if len(data) > MAX_FILE:
        raise ValueError(f"larger than {MAX_FILE} bytes")
    return data.decode("utf-8", "replace")
