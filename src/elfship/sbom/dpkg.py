"""Which Debian package ships a file, from the dpkg database of the root being looked at (read-only, bounded)."""

from __future__ import annotations

import os
from functools import cache

from elfship.record import record

MAX_LIST_BYTES = 256 * 1024 * 1024  # every *.list file together; a real system has tens of MB
MAX_STATUS_BYTES = 64 * 1024 * 1024


@record
class DebPackage:
    name: str  # binary package, without the :arch suffix
    version: str
    architecture: str
    source: str  # source package name (the name Debian's advisories use)
    source_version: str


@record
class Distro:
    id: str  # "debian", "ubuntu"
    version_id: str  # "12"


class DpkgDatabase:
    """Path -> package for one root (None = this machine), loaded on first use."""

    def __init__(self, root: str | None) -> None:
        self.root = root or "/"
        self._owners: dict[str, str] | None = None
        self._status: dict[str, DebPackage] | None = None

    def _inside(self, path: str) -> str:
        return os.path.join(self.root, path.lstrip("/"))

    def owner(self, path: str) -> DebPackage | None:
        """The package whose file list holds path (tried as is, with and without /usr for merged-/usr)."""
        owners = self._load_owners()
        candidates = [path]
        if path.startswith("/usr/"):
            candidates.append(path[4:])
        else:
            candidates.append("/usr" + path)
        name = next((owners[c] for c in candidates if c in owners), None)
        if name is None:
            return None
        return self._load_status().get(name)

    def distro(self) -> Distro | None:
        try:
            with open(self._inside("etc/os-release"), encoding="utf-8", errors="replace") as handle:
                text = handle.read(64 * 1024)
        except OSError:
            return None
        fields = dict(line.split("=", 1) for line in text.splitlines() if "=" in line)
        distro_id = fields.get("ID", "").strip('"')
        version_id = fields.get("VERSION_ID", "").strip('"')
        return Distro(distro_id, version_id) if distro_id and version_id else None

    def _load_owners(self) -> dict[str, str]:
        if self._owners is not None:
            return self._owners
        owners: dict[str, str] = {}
        info = self._inside("var/lib/dpkg/info")
        budget = MAX_LIST_BYTES
        try:
            names = sorted(n for n in os.listdir(info) if n.endswith(".list"))
        except OSError:
            names = []
        for name in names:
            package = name[: -len(".list")].split(":", 1)[0]
            try:
                with open(os.path.join(info, name), "rb") as handle:
                    data = handle.read(budget)
            except OSError:
                continue
            budget -= len(data)
            for line in data.decode("utf-8", "surrogateescape").splitlines():
                owners.setdefault(line, package)
            if budget <= 0:
                break
        self._owners = owners
        return owners

    def _load_status(self) -> dict[str, DebPackage]:
        if self._status is None:
            self._status = _parse_status(self._inside("var/lib/dpkg/status"))
        return self._status


def _parse_status(path: str) -> dict[str, DebPackage]:
    try:
        with open(path, "rb") as handle:
            text = handle.read(MAX_STATUS_BYTES).decode("utf-8", "replace")
    except OSError:
        return {}
    packages: dict[str, DebPackage] = {}
    for stanza in text.split("\n\n"):
        fields: dict[str, str] = {}
        for line in stanza.splitlines():
            if line[:1] not in (" ", "\t") and ":" in line:
                key, _, value = line.partition(":")
                fields[key] = value.strip()
        name, version = fields.get("Package"), fields.get("Version")
        if not name or not version or "installed" not in fields.get("Status", "").split()[-1:]:
            continue
        source, _, source_version = fields.get("Source", name).partition(" ")
        packages[name] = DebPackage(
            name, version, fields.get("Architecture", ""), source, source_version.strip("()") or version
        )
    return packages


@cache
def database(root: str | None) -> DpkgDatabase:
    return DpkgDatabase(root)
