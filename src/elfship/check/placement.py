"""Where a program checked against a root sits inside that root: the resolver's answer (one home for it),
named here for `check` and `check --run`."""

from __future__ import annotations

from elfship.resolve.placement import DEFAULT_DIRECTORY, place_in_root

__all__ = ["DEFAULT_DIRECTORY", "place_in_root"]
