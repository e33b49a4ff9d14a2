"""Value classes without the start-up bill of `dataclasses`: every elfship result type is a @record.

`@dataclass(frozen=True)` compiles five or six methods per class with exec() when the class is created:
about 1 ms a class on a small server, 2 ms for ElfInfo, plus 7 ms to import `dataclasses` (it imports
`inspect`). `elfship tree` created 34 such classes, 40 ms of a command that should answer in 40 ms.
A @record shares one generic implementation of each method instead, so creating a class costs a dict and
a few attribute writes; an instance costs about 1.5x a dataclass's (2-3 microseconds), which no command
notices. The semantics are dataclass semantics, for the subset elfship uses:

- fields are the class's annotations in order; a class attribute is the default, `field(...)` gives a
  default_factory or excludes a field from comparison, hashing or repr;
- `__init__` takes fields positionally or by name and calls `__post_init__` when the class defines one;
- frozen (the default): assignment raises FrozenInstanceError; `__hash__` hashes the compared fields;
- `__eq__` compares the compared fields of two instances of the same class; `__repr__` names the fields;
- `replace(obj, **changes)` is dataclasses.replace; instances pickle (scan's workers send them back).

mypy sees a @record as a dataclass (PEP 681, dataclass_transform).
"""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Callable
from operator import attrgetter

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (start-up time; docs/architecture.md)
if TYPE_CHECKING:
    from typing import Any, TypeVar, overload
    from typing import NamedTuple as NamedTuple  # what type checkers see; the runtime class is below

    from typing_extensions import dataclass_transform

    T = TypeVar("T")


class FrozenInstanceError(AttributeError):
    """Assignment to a field of a frozen record."""


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()


class Field:
    """What `field(...)` says about one field; the record's own table of fields is built from these."""

    __slots__ = ("compare", "default", "default_factory", "hash", "name", "repr")

    def __init__(
        self,
        default: Any = MISSING,
        default_factory: Callable[[], Any] | None = None,
        compare: bool = True,
        hash: bool | None = None,  # dataclasses' own spelling, which type checkers expect
        repr: bool = True,
    ) -> None:
        self.name = ""
        self.default = default
        self.default_factory = default_factory
        self.compare = compare
        self.hash = compare if hash is None else hash
        self.repr = repr


def field(
    *,
    default: Any = MISSING,
    default_factory: Callable[[], Any] | None = None,
    compare: bool = True,
    hash: bool | None = None,
    repr: bool = True,
) -> Any:
    """A field's default, or a factory for it, and whether it takes part in ==, hash() and repr()."""
    return Field(default, default_factory, compare, hash, repr)


if TYPE_CHECKING:  # how type checkers see @record: a dataclass (PEP 681)

    @overload
    def record(cls: type[T], /) -> type[T]: ...
    @overload
    def record(*, frozen: bool = True) -> Callable[[type[T]], type[T]]: ...
    @dataclass_transform(frozen_default=True, field_specifiers=(field, Field))
    def record(cls: type[T] | None = None, /, *, frozen: bool = True) -> Any: ...

else:

    def record(cls=None, /, *, frozen=True):
        """Make `cls` a value class: `@record` (frozen) or `@record(frozen=False)`."""
        if cls is None:
            return lambda actual: _make(actual, frozen)
        return _make(cls, frozen)


def replace(obj: T, **changes: Any) -> T:
    """A copy of the record `obj` with some fields changed (dataclasses.replace)."""
    cls = type(obj)
    values = {f.name: getattr(obj, f.name) for f in cls.__record_fields__}  # type: ignore[attr-defined]
    values.update(changes)
    return cls(**values)


def _make(cls: type[T], frozen: bool) -> type[T]:
    fields = tuple(_own_fields(cls))
    for spec in fields:
        if spec.name in cls.__dict__:
            delattr(cls, spec.name)  # the default lives in the field table, not as a class attribute
    names = tuple(f.name for f in fields)
    attributes: dict[str, Any] = {
        "__record_fields__": fields,
        "__match_args__": names,
        "__init__": _init(cls, fields),
        "__repr__": _repr(tuple(f.name for f in fields if f.repr)),
        "__eq__": _eq(tuple(f.name for f in fields if f.compare)),
    }
    if frozen:
        attributes["__setattr__"] = _refuse_set
        attributes["__delattr__"] = _refuse_delete
        attributes["__hash__"] = _hash(tuple(f.name for f in fields if f.hash))
    else:
        attributes["__hash__"] = None  # mutable and compared by value: unhashable, as a dataclass
    for name, value in attributes.items():
        setattr(cls, name, value)
    return cls


def _own_fields(cls: type) -> list[Field]:
    fields = []
    # The class's own annotations, unevaluated (inspect.get_annotations would cost the `inspect` import).
    for name in cls.__dict__.get("__annotations__", {}):  # noqa: RUF063
        default = cls.__dict__.get(name, MISSING)
        spec = default if isinstance(default, Field) else Field(default)
        spec.name = name
        fields.append(spec)
    return fields


def _init(cls: type, fields: tuple[Field, ...]) -> Callable[..., None]:
    names = tuple(f.name for f in fields)
    position = {name: i for i, name in enumerate(names)}
    post_init = getattr(cls, "__post_init__", None)
    qualname = cls.__qualname__

    # Calls that give fields all by name, or leave out only fields with defaults, are set in C too: the plain
    # defaults copied from one dict, the factories called for what is missing (scan builds 15,000 such).
    plain = {f.name: f.default for f in fields if f.default is not MISSING and f.default_factory is None}
    factories = {f.name: f.default_factory for f in fields if f.default_factory is not None}
    defaulted = plain.keys() | factories.keys()
    tails = [frozenset(names[n:]) if defaulted.issuperset(names[n:]) else None for n in range(len(names))]

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        if not args and len(kwargs) == len(names) and kwargs.keys() == position.keys():
            self.__dict__.update(kwargs)  # every field by name (ElfInfo, once a file): one C call
            if post_init is not None:
                post_init(self)
            return
        if kwargs or len(args) != len(names):
            missing: frozenset[str] | set[str] | None = None  # the fields left to their defaults
            if not kwargs:
                missing = tails[len(args)] if len(args) < len(names) else None
            elif not args and kwargs.keys() <= position.keys():
                missing = rest if (rest := position.keys() - kwargs.keys()) <= defaulted else None
            if missing is None:
                args = _bind(qualname, fields, position, args, kwargs)
            else:
                values = self.__dict__
                values.update(plain)
                values.update(kwargs or zip(names, args))  # noqa: B905 - fewer args than fields
                for name in factories.keys() & missing:
                    values[name] = factories[name]()
                if post_init is not None:
                    post_init(self)
                return
        # Straight into the instance's dict, as object.__setattr__ would put them (one C call, not one each).
        self.__dict__.update(zip(names, args, strict=True))
        if post_init is not None:
            post_init(self)

    return __init__


def _bind(
    qualname: str,
    fields: tuple[Field, ...],
    position: dict[str, int],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
) -> tuple[Any, ...]:
    """Every field's value from positional and keyword arguments and the defaults, in field order."""
    if len(args) > len(fields):
        raise TypeError(f"{qualname}() takes {len(fields)} arguments but {len(args)} were given")
    values = list(args) + [MISSING] * (len(fields) - len(args))
    for key, value in kwargs.items():
        index = position.get(key)
        if index is None:
            raise TypeError(f"{qualname}() got an unexpected keyword argument {key!r}")
        if index < len(args):
            raise TypeError(f"{qualname}() got multiple values for argument {key!r}")
        values[index] = value
    return tuple(
        _default(qualname, spec) if value is MISSING else value
        for spec, value in zip(fields, values, strict=True)
    )


def _default(qualname: str, spec: Field) -> Any:
    if spec.default_factory is not None:
        return spec.default_factory()
    if spec.default is MISSING:
        raise TypeError(f"{qualname}() missing required argument: {spec.name!r}")
    return spec.default


def _values(names: tuple[str, ...]) -> Callable[[Any], tuple[Any, ...]]:
    """The named fields of an instance as one tuple (operator.attrgetter: C speed)."""
    if not names:
        return lambda _: ()
    if len(names) == 1:
        single = attrgetter(names[0])
        return lambda obj: (single(obj),)
    return attrgetter(*names)


def _repr(names: tuple[str, ...]) -> Callable[[Any], str]:
    def __repr__(self: Any) -> str:
        shown = ", ".join(f"{name}={getattr(self, name)!r}" for name in names)
        return f"{type(self).__qualname__}({shown})"

    return __repr__


def _eq(names: tuple[str, ...]) -> Callable[[Any, object], bool]:
    values = _values(names)

    def __eq__(self: Any, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return values(self) == values(other)  # tuple ==: identity first, then ==, as dataclasses do

    return __eq__


def _hash(names: tuple[str, ...]) -> Callable[[Any], int]:
    values = _values(names)

    def __hash__(self: Any) -> int:
        return hash(values(self))

    return __hash__


def _refuse_set(self: Any, name: str, value: Any) -> None:
    raise FrozenInstanceError(f"cannot assign to field {name!r}")


def _refuse_delete(self: Any, name: str) -> None:
    raise FrozenInstanceError(f"cannot delete field {name!r}")


# NamedTuple, for the tuples the ELF reader makes by the thousand (unpacked in C straight into them): the
# class syntax of typing.NamedTuple, built by collections.namedtuple as typing does, without importing typing
# (2-3 ms of every command). Type checkers see typing.NamedTuple itself (the import above).
_namedtuple: Callable[..., type] = namedtuple  # called with names known at run time only
_NAMEDTUPLE_OWN = frozenset({"__annotations__", "__module__", "__qualname__", "__orig_bases__"})


class _NamedTupleMeta(type):
    def __new__(mcs, name: str, bases: tuple[type, ...], namespace: dict[str, Any]) -> Any:
        if not bases:
            return super().__new__(mcs, name, bases, namespace)  # the NamedTuple base itself
        fields = list(namespace.get("__annotations__", {}))
        defaults = [namespace[f] for f in fields if f in namespace]
        made = _namedtuple(name, fields, defaults=defaults, module=namespace["__module__"])
        for key, value in namespace.items():
            if key not in _NAMEDTUPLE_OWN and key not in fields:
                setattr(made, key, value)  # methods, properties, the docstring
        return made


if not TYPE_CHECKING:

    class NamedTuple(metaclass=_NamedTupleMeta):
        """Base of a named tuple class: `class Segment(NamedTuple): p_type: int; ...`."""
