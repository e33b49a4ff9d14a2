"""The `elfship targets` use case: which releases to describe, given names, a root or neither."""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from pathlib import Path

from elfship.errors import UsageError
from elfship.targets.catalog import all_targets, get_target, known_arches
from elfship.targets.model import Target


def select_targets(
    names: Sequence[str],
    *,
    arch: str,
    today: datetime.date,
    root: Path | None = None,
    include_eol: bool = False,
) -> list[Target]:
    """The named releases and the root, when any is given; else every release of `arch` still alive on
    `today` (every one with include_eol). Raises UsageError for an unknown name or architecture."""
    if arch not in known_arches():
        raise UsageError(f"unknown architecture {arch!r}", fix=f"use one of {', '.join(known_arches())}")
    chosen = [get_target(name, arch=arch) for name in names]
    if root is not None:
        from elfship.targets.root import target_from_root  # reads the root's every library: only here

        chosen.append(target_from_root(root))
    if chosen:
        return chosen
    every = all_targets(arch)
    return list(every) if include_eol else [t for t in every if t.status(today) != "eol"]
