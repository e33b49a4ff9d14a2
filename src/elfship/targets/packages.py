"""Which package ships a soname, and the command that installs it. Never guesses a package name."""

from __future__ import annotations

import shlex

from elfship.targets import data
from elfship.targets.families import RPM_CAPABILITY_INSTALLERS, rpm_capability

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (start-up time; docs/architecture.md)
if TYPE_CHECKING:
    from typing import Any

# Development releases sort after every numbered release of their family.
_ROLLING_RANK = {"testing": 1000.0, "unstable": 1001.0, "sid": 1001.0, "experimental": 1002.0}


def _indexes() -> dict[str, Any]:
    return data.package_indexes()


def known_indexes() -> tuple[str, ...]:
    """Release names that have a soname -> package map, e.g. ("debian:11", "debian:12", ...)."""
    return tuple(sorted(_indexes()))


def index_info(index_name: str) -> dict[str, Any] | None:
    """Metadata of one package index: file, count, sources."""
    info: dict[str, Any] | None = _indexes().get(index_name)
    return info


def package_in_index(index_name: str, soname: str) -> str | None:
    info = index_info(index_name)
    if info is None:
        return None
    return data.lookup_package(info["file"], soname)


def release_rank(version: str) -> float:
    """Order releases of one family: 10 < 11 < 12 < testing < unstable < experimental."""
    if version in _ROLLING_RANK:
        return _ROLLING_RANK[version]
    head = version.lstrip("abcdefghijklmnopqrstuvwxyz").replace("_", ".").split(".")  # alt:p10 -> 10
    try:
        return float(head[0]) + (float("0." + head[1]) if len(head) > 1 and head[1].isdigit() else 0.0)
    except ValueError:
        return _ROLLING_RANK["unstable"]  # an unnamed development release (e.g. a codename not yet numbered)


def nearest_hint(family: str, version: str, soname: str) -> tuple[str, str] | None:
    """(package, release) from the family's release nearest to `version` whose index lists `soname`.

    Ties go to the older release (its package name is the likelier one on an old server).
    """
    here = release_rank(version)
    candidates = [
        (abs(release_rank(info["version"]) - here), release_rank(info["version"]), name)
        for name, info in _indexes().items()
        if info["family"] == family
    ]
    for _distance, _rank, name in sorted(candidates):
        package = package_in_index(name, soname)
        if package is not None:
            return package, name
    return None


def install_command(package_manager: str, arch: str, soname: str, package: str | None) -> str | None:
    """The install command for `soname`, or None when it cannot be said without guessing."""
    if package_manager == "apt":
        return f"apt-get install {package}" if package else None
    if package_manager == "apk":
        return f"apk add so:{soname}"
    installer = RPM_CAPABILITY_INSTALLERS.get(package_manager)
    if installer is not None:
        return f"{installer} {shlex.quote(rpm_capability(soname, arch))}"
    return None  # pacman, slackpkg, unknown: no soname-based install we can vouch for
