"""Units for people: sizes in binary multiples, as du -h and ls -lh print them."""

from __future__ import annotations


def human_size(size: int) -> str:
    """12345 -> '12.1 KiB'; bytes below 1 KiB stay whole."""
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable: the last unit always returns")
