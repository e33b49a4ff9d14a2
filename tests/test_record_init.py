"""A record's __init__ sets every field in one C call when all are given (in order, or all by name); the
result must be the same as the field-by-field path's, and the errors of that path must stay."""

from __future__ import annotations

import pickle

import pytest

from elfship.record import FrozenInstanceError, field, record


@record
class Point:
    x: int
    y: int
    tags: tuple[str, ...] = ()
    seen: list[int] = field(default_factory=list, compare=False)


@record
class Checked:
    value: int

    def __post_init__(self) -> None:
        if self.value < 0:
            raise ValueError("negative")


def test_every_way_of_giving_fields_builds_the_same_record() -> None:
    ways = [
        Point(1, 2, ("a",), [5]),  # all positional: the fast path
        Point(x=1, y=2, tags=("a",), seen=[5]),  # all by name: the fast path
        Point(1, 2, tags=("a",), seen=[5]),  # mixed: the field-by-field path
        Point(seen=[5], tags=("a",), y=2, x=1),  # by name, in another order
    ]
    for point in ways:
        assert point == ways[0] and hash(point) == hash(ways[0])
        assert repr(point) == "Point(x=1, y=2, tags=('a',), seen=[5])"
        assert pickle.loads(pickle.dumps(point)) == point
    assert Point(1, 2) == Point(1, 2, (), []) == Point(y=2, x=1) == Point(1, y=2)
    assert repr(Point(x=1, y=2, tags=("b",))) == "Point(x=1, y=2, tags=('b',), seen=[])"
    assert Point(1, 2).seen is not Point(1, 2).seen  # default_factory still runs per instance


def test_fast_path_keeps_frozen_post_init_and_errors() -> None:
    with pytest.raises(FrozenInstanceError):
        Point(1, 2, (), []).x = 3  # type: ignore[misc]
    assert Checked(1).value == 1 and Checked(value=2).value == 2
    with pytest.raises(ValueError, match="negative"):
        Checked(-1)
    with pytest.raises(ValueError, match="negative"):
        Checked(value=-1)
    with pytest.raises(TypeError, match="missing required argument: 'y'"):
        Point(1)  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="missing required argument: 'x'"):
        Point(y=1)  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="multiple values for argument 'x'"):
        Point(1, 2, x=3)  # type: ignore[misc]
    with pytest.raises(TypeError, match="unexpected keyword argument 'z'"):
        Point(x=1, y=2, tags=(), z=[])  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="takes 4 arguments but 5 were given"):
        Point(1, 2, (), [], 9)  # type: ignore[call-arg]
