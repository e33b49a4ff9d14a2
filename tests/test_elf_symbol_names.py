"""StringTable.symbol_names, the reader's hot path for symbol names: whichever way it takes (split the whole
table, cut names out of the decoded table, cut them out of the bytes, or the exact path), every name must be
the NUL-terminated string at its offset, and bad offsets and budgets must fail the same way.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from elfship.elf import image as image_module
from elfship.elf.budget import MAX_SYMBOL_NAME_BYTES
from elfship.elf.image import Image, StringTable
from elfship.errors import ElfError

NAMES = [f"symbol_{n}_{'x' * (n % 7)}" for n in range(40)]


def _table(tmp_path: Path, strings: list[bytes], padding: int = 0) -> tuple[Path, bytes, list[int]]:
    """A file holding 16 bytes of junk, then a string table (and padding strings), and each string's offset."""
    table = b"\0"
    offsets = []
    for text in strings:
        offsets.append(len(table))
        table += text + b"\0"
    table += b"pad\0" * padding
    path = tmp_path / "strings"
    path.write_bytes(b"J" * 16 + table)
    return path, table, offsets


def _expected(table: bytes, offset: int) -> str:
    return table[offset : table.index(b"\0", offset)].decode("utf-8", "surrogateescape")


@pytest.mark.parametrize(
    ("asked", "padding", "way"),
    [
        (40, 0, "split"),  # a program: nearly every string asked for
        (3, 0, "cut from text"),  # a library: a few of a small table
        (1, 200, "cut from bytes"),  # a few of a table far larger than them
    ],
)
def test_every_way_gives_the_string_at_each_offset(
    tmp_path: Path, asked: int, padding: int, way: str
) -> None:
    path, table, offsets = _table(tmp_path, [name.encode() for name in NAMES], padding)
    wanted = set(offsets[:asked])
    wanted.add(offsets[0] + 3)  # a shared tail: "bol_0_" inside "symbol_0_", as linkers merge them
    with Image(str(path)) as image:
        strings = StringTable(image, 16, len(table))
        split = strings.size <= image_module.SPLIT_RATIO * len(wanted)
        few = strings.size > image_module.FEW_NAMES_RATIO * len(wanted)
        assert way == ("split" if split else "cut from bytes" if few else "cut from text")
        names = strings.symbol_names(wanted, "symbol name")
        assert {offset: names[offset] for offset in wanted} == {o: _expected(table, o) for o in wanted}
        assert image.budget.symbol_names == sum(len(_expected(table, o)) for o in wanted)


def test_a_table_that_is_not_ascii_takes_the_exact_path(tmp_path: Path) -> None:
    path, table, offsets = _table(tmp_path, ["naïve".encode(), b"\xff\xfebad", b"plain"])
    with Image(str(path)) as image:
        names = StringTable(image, 16, len(table)).symbol_names(set(offsets), "symbol name")
    assert [names[o] for o in offsets] == ["naïve", "\udcff\udcfebad", "plain"]


def test_an_offset_outside_the_table_is_an_error(tmp_path: Path) -> None:
    path, table, offsets = _table(tmp_path, [name.encode() for name in NAMES])
    with Image(str(path)) as image, pytest.raises(ElfError, match="outside the string table"):
        StringTable(image, 16, len(table)).symbol_names({offsets[1], len(table) + 5}, "symbol name")


def test_names_over_the_budget_are_refused(tmp_path: Path) -> None:
    path, table, offsets = _table(tmp_path, [name.encode() for name in NAMES])
    with Image(str(path)) as image:
        image.budget.symbol_names = MAX_SYMBOL_NAME_BYTES - 20
        with pytest.raises(ElfError, match="KiB of symbol names"):
            StringTable(image, 16, len(table)).symbol_names(set(offsets), "symbol name")
