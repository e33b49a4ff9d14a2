"""elfship.record: the value classes every result type is built from behave as frozen dataclasses do."""

from __future__ import annotations

import copy
import dataclasses
import pickle
from collections.abc import Mapping
from types import MappingProxyType

import pytest

from elfship.record import FrozenInstanceError, field, record, replace


@record
class Point:
    x: int
    y: int = 0
    tags: tuple[str, ...] = ()
    note: str = field(default="", compare=False, repr=False)
    extra: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}), hash=False)


@record(frozen=False)
class Counter:
    hits: list[int] = field(default_factory=list)


@record
class Checked:
    low: int
    high: int

    def __post_init__(self) -> None:
        if self.low > self.high:
            raise ValueError("low above high")


@dataclasses.dataclass(frozen=True)
class PointDataclass:
    x: int
    y: int = 0
    tags: tuple[str, ...] = ()
    note: str = dataclasses.field(default="", compare=False, repr=False)
    extra: Mapping[str, int] = dataclasses.field(default_factory=lambda: MappingProxyType({}), hash=False)


def test_arguments_bind_as_a_dataclass_binds_them() -> None:
    for args, kwargs in [((1,), {}), ((1, 2), {}), ((), {"x": 1, "tags": ("a",)}), ((1,), {"note": "n"})]:
        ours, theirs = Point(*args, **kwargs), PointDataclass(*args, **kwargs)  # type: ignore[arg-type]
        assert [getattr(ours, n) for n in ("x", "y", "tags", "note")] == [
            getattr(theirs, n) for n in ("x", "y", "tags", "note")
        ]


@pytest.mark.parametrize(
    ("args", "kwargs", "words"),
    [
        ((), {}, "missing required argument: 'x'"),
        ((1, 2, (), "", {}, 6), {}, "takes 5 arguments but 6 were given"),
        ((1,), {"z": 2}, "unexpected keyword argument 'z'"),
        ((1,), {"x": 2}, "multiple values for argument 'x'"),
    ],
)
def test_wrong_arguments_are_a_type_error(
    args: tuple[object, ...], kwargs: dict[str, object], words: str
) -> None:
    with pytest.raises(TypeError, match=words):
        Point(*args, **kwargs)  # type: ignore[arg-type]


def test_frozen_and_hashed_on_the_compared_fields() -> None:
    point = Point(1, 2, note="a")
    with pytest.raises(FrozenInstanceError):
        point.x = 3  # type: ignore[misc]
    with pytest.raises(AttributeError):
        del point.y  # type: ignore[misc]
    assert point == Point(1, 2, note="b")  # note is not compared
    assert hash(point) == hash(Point(1, 2, note="b"))
    assert point != Point(1, 3)
    assert point != (1, 2)  # another type is never equal, even with the same values
    assert len({Point(1), Point(1), Point(2)}) == 2


def test_repr_names_the_shown_fields() -> None:
    assert repr(Point(1, 2, ("a",), note="hidden")) == "Point(x=1, y=2, tags=('a',), extra=mappingproxy({}))"


def test_default_factories_make_a_new_value_for_each_instance() -> None:
    first, second = Counter(), Counter()
    first.hits.append(1)
    assert second.hits == []
    with pytest.raises(TypeError):
        hash(first)  # mutable and compared by value: unhashable, as a dataclass
    first.hits = [2]
    assert first == Counter([2])


def test_post_init_runs_after_the_fields_are_set() -> None:
    assert Checked(1, 2).high == 2
    with pytest.raises(ValueError, match="low above high"):
        Checked(3, 2)


def test_replace_copies_and_runs_post_init() -> None:
    point = Point(1, 2, ("a",), note="kept")
    moved = replace(point, y=5)
    assert (moved.x, moved.y, moved.tags, moved.note) == (1, 5, ("a",), "kept")
    assert point.y == 2
    with pytest.raises(ValueError):
        replace(Checked(1, 2), low=9)


def test_pickle_and_copy_round_trip() -> None:
    point = Point(1, 2, ("a",))
    pair = Checked(1, 2)
    assert pickle.loads(pickle.dumps(pair)) == pair  # scan's workers send records back this way
    assert pickle.loads(pickle.dumps(Counter([1]))) == Counter([1])
    assert copy.deepcopy(pair) == pair and copy.copy(point) == point
    assert Point.__match_args__ == ("x", "y", "tags", "note", "extra")


@pytest.mark.parametrize(
    "argv",
    [["inspect", "/bin/sh"], ["tree", "/bin/sh"], ["check", "/bin/sh", "-t", "debian:12"]],
    ids=["inspect", "tree", "check-target"],
)
def test_a_commands_start_up_imports_no_heavy_module(argv: list[str]) -> None:
    """What start-up time is made of (docs/architecture.md): a command imports neither `dataclasses` nor
    `inspect` (records instead), nor `typing` (type checkers only), nor `datetime` (dates read on access).
    Run without site (-S): this machine's site-packages may import anything before elfship starts."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    src = Path(__file__).resolve().parent.parent / "src"
    heavy = ("dataclasses", "inspect", "typing", "datetime")
    code = (
        f"import sys; from elfship.cli.main import main; main({argv!r}); "
        f"print(sorted(m for m in {heavy!r} if m in sys.modules), file=sys.stderr)"
    )
    env = {**os.environ, "PYTHONPATH": str(src)}
    done = subprocess.run(
        [sys.executable, "-S", "-c", code], capture_output=True, text=True, env=env, check=False
    )
    assert done.stderr.strip().splitlines()[-1] == "[]", done.stderr
