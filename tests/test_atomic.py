"""elfship.atomic: a destination is replaced whole or not at all, and no temp file is ever left behind."""

from __future__ import annotations

from pathlib import Path

import pytest

from elfship.atomic import TEMP_SUFFIX, replacing, write_bytes


def test_a_failed_write_leaves_the_old_file_and_no_temp(tmp_path: Path) -> None:
    destination = tmp_path / "app"
    destination.write_bytes(b"the user's file")
    with pytest.raises(KeyboardInterrupt), replacing(destination) as temp:
        temp.write_bytes(b"half")
        raise KeyboardInterrupt
    assert destination.read_bytes() == b"the user's file"
    assert [p.name for p in tmp_path.iterdir()] == ["app"]


def test_a_finished_write_replaces_with_the_mode_asked(tmp_path: Path) -> None:
    destination = tmp_path / "tool"
    write_bytes(destination, b"#!/bin/sh\n", mode=0o755)
    assert destination.read_bytes() == b"#!/bin/sh\n"
    assert destination.stat().st_mode & 0o777 == 0o755
    assert not any(p.name.endswith(TEMP_SUFFIX) for p in tmp_path.iterdir())
