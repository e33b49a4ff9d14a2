"""The one way elfship lays out a table in text: columns as wide as their widest cell, two spaces apart."""

from __future__ import annotations

from collections.abc import Collection, Sequence


def table_lines(
    rows: Sequence[Sequence[str]],
    *,
    indent: str = "",
    right: Collection[int] = (),
    minimum: Sequence[int] = (),
) -> list[str]:
    """Each row as one line: every column but the last padded to the widest cell of its column (at least
    `minimum[i]`), right-aligned when its index is in `right`; no trailing spaces."""
    if not rows:
        return []
    count = max(len(row) for row in rows)
    widths = [max([len(row[i]) for row in rows if i < len(row)] + [0]) for i in range(count)]
    widths = [max(width, minimum[i] if i < len(minimum) else 0) for i, width in enumerate(widths)]
    lines = []
    for row in rows:
        cells = [
            cell if i == len(row) - 1 else cell.rjust(widths[i]) if i in right else cell.ljust(widths[i])
            for i, cell in enumerate(row)
        ]
        lines.append((indent + "  ".join(cells)).rstrip())
    return lines
