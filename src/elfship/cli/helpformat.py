"""The help formatter of every elfship parser: argparse's raw-description one, told the terminal width.

argparse makes a formatter for every add_argument (to validate the metavar), and one that is not told the
width imports shutil for it, which imports bz2, lzma and zlib: 4 ms of every command's start-up.
"""

from __future__ import annotations

import argparse
import os
import sys

DEFAULT_COLUMNS = 80


def terminal_columns() -> int:
    """What shutil.get_terminal_size().columns answers: $COLUMNS, else the terminal of stdout, else 80."""
    try:
        columns = int(os.environ.get("COLUMNS", "0"))
    except ValueError:
        columns = 0
    if columns > 0:
        return columns
    try:
        return os.get_terminal_size(sys.__stdout__.fileno()).columns or DEFAULT_COLUMNS  # type: ignore[union-attr]
    except (AttributeError, ValueError, OSError):
        return DEFAULT_COLUMNS


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    def __init__(self, prog: str, indent_increment: int = 2, max_help_position: int = 24) -> None:
        # argparse's own default: the terminal's width less a margin of 2
        super().__init__(prog, indent_increment, max_help_position, width=terminal_columns() - 2)
