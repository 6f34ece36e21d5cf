"""Record: plain data classes for the modules every pyrunc verb imports (state, cgroup stats and
paths, mountinfo).

Why not @dataclass: importing `dataclasses` imports `inspect` (and with it `ast`, `dis`, `tokenize`),
~9 ms on the project's machine, and each decorated class costs another ~0.3 ms to generate: more
than a whole `runc state` takes. A Record subclass gets the same keyword/positional ``__init__``,
``__eq__`` and ``__repr__`` from its annotated fields, without generating code::

    class Entry(Record):
        major: int = 0
        ops: list[str] = field(default_factory=list)

    class Point(Record, frozen=True): ...  # assignments raise AttributeError

Type checkers see them as dataclasses (PEP 681 ``dataclass_transform``).
"""

from __future__ import annotations

TYPE_CHECKING = False  # not `typing`: its import costs ~3 ms of every pyrunc call
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any, TypeVar, dataclass_transform

    T = TypeVar("T")
else:

    def dataclass_transform(**_kwargs):
        return lambda obj: obj


_MISSING = object()


class _Factory:
    __slots__ = ("make",)

    def __init__(self, make: Callable[[], Any]) -> None:
        self.make = make


def field(*, default_factory: Callable[[], T]) -> T:
    """A mutable default made anew for each instance, as dataclasses.field(default_factory=...)."""
    return _Factory(default_factory)  # type: ignore[return-value]


@dataclass_transform(field_specifiers=(field,))
class Record:
    __record_fields__: tuple[str, ...] = ()
    __record_defaults__: dict[str, Any] = {}
    __record_frozen__: bool = False

    def __init_subclass__(cls, frozen: bool = False, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        fields = list(cls.__record_fields__)
        defaults = dict(cls.__record_defaults__)
        for name, annotation in vars(cls).get("__annotations__", {}).items():
            if str(annotation).startswith("ClassVar"):
                continue
            if name not in fields:
                fields.append(name)
            if name in cls.__dict__:
                defaults[name] = cls.__dict__[name]
                delattr(cls, name)  # the class attribute would shadow a missing instance value
        cls.__record_fields__ = tuple(fields)
        cls.__record_defaults__ = defaults
        cls.__record_frozen__ = frozen or cls.__record_frozen__

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        fields = self.__record_fields__
        if len(args) > len(fields):
            raise TypeError(f"{type(self).__name__}() takes {len(fields)} arguments, {len(args)} given")
        values = dict(zip(fields, args, strict=False))
        for name, value in kwargs.items():
            if name not in fields:
                raise TypeError(f"{type(self).__name__}() got an unexpected keyword argument {name!r}")
            if name in values:
                raise TypeError(f"{type(self).__name__}() got multiple values for argument {name!r}")
            values[name] = value
        setter = object.__setattr__
        for name in fields:
            value = values.get(name, _MISSING)
            if value is _MISSING:
                value = self.__record_defaults__.get(name, _MISSING)
                if value is _MISSING:
                    raise TypeError(f"{type(self).__name__}() missing argument {name!r}")
                if isinstance(value, _Factory):
                    value = value.make()
            setter(self, name, value)

    def __setattr__(self, name: str, value: Any) -> None:
        if self.__record_frozen__:
            raise AttributeError(f"cannot assign to field {name!r} of a frozen {type(self).__name__}")
        object.__setattr__(self, name, value)

    def __delattr__(self, name: str) -> None:
        if self.__record_frozen__:
            raise AttributeError(f"cannot delete field {name!r} of a frozen {type(self).__name__}")
        object.__delattr__(self, name)

    def _values(self) -> tuple[Any, ...]:
        return tuple(getattr(self, name) for name in self.__record_fields__)

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return self._values() == other._values()

    def __hash__(self) -> int:
        if not self.__record_frozen__:
            raise TypeError(f"unhashable type: {type(self).__name__!r}")
        return hash(self._values())

    def __repr__(self) -> str:
        inner = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.__record_fields__)
        return f"{type(self).__name__}({inner})"


def as_dict(record: Record) -> dict[str, Any]:
    """The fields as a dict, nested Records (also in lists and dicts) included (dataclasses.asdict)."""

    def convert(value: Any) -> Any:
        if isinstance(value, Record):
            return {name: convert(getattr(value, name)) for name in value.__record_fields__}
        if isinstance(value, list | tuple):
            return type(value)(convert(v) for v in value)
        if isinstance(value, dict):
            return {k: convert(v) for k, v in value.items()}
        return value

    result: dict[str, Any] = convert(record)
    return result


def replace(record: T, **changes: Any) -> T:
    """A copy with some fields changed (dataclasses.replace)."""
    assert isinstance(record, Record)
    values = {name: getattr(record, name) for name in record.__record_fields__}
    values.update(changes)
    return type(record)(**values)
