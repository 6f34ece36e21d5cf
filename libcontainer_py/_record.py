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


_MISSING: Any = object()


class _Field:
    __slots__ = ("compare", "default", "default_factory", "init", "repr")

    def __init__(self, default: Any, default_factory: Any, init: bool, repr: bool, compare: bool) -> None:
        self.default = default
        self.default_factory = default_factory
        self.init = init
        self.repr = repr
        self.compare = compare


def field(
    *,
    default: Any = _MISSING,
    default_factory: Callable[[], Any] = _MISSING,
    init: bool = True,
    repr: bool = True,
    compare: bool = True,
) -> Any:
    """A field's options, as dataclasses.field(): a default or a default_factory (a mutable
    default made anew for each instance), left out of __init__, __repr__ or __eq__."""
    return _Field(default, default_factory, init, repr, compare)


@dataclass_transform(field_specifiers=(field,))
class Record:
    __record_fields__: tuple[str, ...] = ()  # every field, in order
    __record_init__: tuple[str, ...] = ()  # those __init__ takes
    __record_repr__: tuple[str, ...] = ()
    __record_compare__: tuple[str, ...] = ()
    __record_defaults__: dict[str, _Field] = {}
    __record_frozen__: bool = False

    def __init_subclass__(cls, frozen: bool = False, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        specs = dict(cls.__record_defaults__)
        fields = list(cls.__record_fields__)
        for name, annotation in vars(cls).get("__annotations__", {}).items():
            if str(annotation).startswith("ClassVar"):
                continue
            if name not in fields:
                fields.append(name)
            if name in vars(cls):
                value = vars(cls)[name]
                specs[name] = value if isinstance(value, _Field) else _Field(value, _MISSING, True, True, True)
                delattr(cls, name)  # the class attribute would shadow a missing instance value
            else:
                specs[name] = _Field(_MISSING, _MISSING, True, True, True)
        cls.__record_fields__ = tuple(fields)
        cls.__record_init__ = tuple(n for n in fields if specs[n].init)
        cls.__record_repr__ = tuple(n for n in fields if specs[n].repr)
        cls.__record_compare__ = tuple(n for n in fields if specs[n].compare)
        cls.__record_defaults__ = specs
        cls.__record_frozen__ = frozen or cls.__record_frozen__

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        names = self.__record_init__
        if len(args) > len(names):
            raise TypeError(f"{type(self).__name__}() takes {len(names)} arguments, {len(args)} given")
        values = dict(zip(names, args, strict=False))
        for name, value in kwargs.items():
            if name not in names:
                raise TypeError(f"{type(self).__name__}() got an unexpected keyword argument {name!r}")
            if name in values:
                raise TypeError(f"{type(self).__name__}() got multiple values for argument {name!r}")
            values[name] = value
        setter = object.__setattr__
        for name in self.__record_fields__:
            value = values.get(name, _MISSING)
            if value is _MISSING:
                spec = self.__record_defaults__[name]
                if spec.default_factory is not _MISSING:
                    value = spec.default_factory()
                elif spec.default is not _MISSING:
                    value = spec.default
                elif spec.init:
                    raise TypeError(f"{type(self).__name__}() missing argument {name!r}")
                else:
                    continue
            setter(self, name, value)
        post_init = getattr(self, "__post_init__", None)
        if post_init is not None:
            post_init()

    def __setattr__(self, name: str, value: Any) -> None:
        if self.__record_frozen__:
            raise AttributeError(f"cannot assign to field {name!r} of a frozen {type(self).__name__}")
        object.__setattr__(self, name, value)

    def __delattr__(self, name: str) -> None:
        if self.__record_frozen__:
            raise AttributeError(f"cannot delete field {name!r} of a frozen {type(self).__name__}")
        object.__delattr__(self, name)

    def _compared(self) -> tuple[Any, ...]:
        return tuple(getattr(self, name) for name in self.__record_compare__)

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        assert isinstance(other, Record)
        return self._compared() == other._compared()

    def __hash__(self) -> int:
        if not self.__record_frozen__:
            raise TypeError(f"unhashable type: {type(self).__name__!r}")
        return hash(self._compared())

    def __repr__(self) -> str:
        inner = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.__record_repr__)
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
    values = {name: getattr(record, name) for name in record.__record_init__}
    values.update(changes)
    return type(record)(**values)


def _item(index: int) -> Callable[[tuple[Any, ...]], Any]:
    def get(self: tuple[Any, ...]) -> Any:
        return self[index]

    return get


class TupleRecord(tuple):  # type: ignore[type-arg]  # the subclasses are typed as NamedTuples (TYPE_CHECKING)
    """What collections.namedtuple makes, by hand: `collections` (with `operator`, `keyword`,
    `reprlib`) costs ~1-3 ms of every pyrunc call that would import it for two small tuples. A
    subclass names its fields (and the defaults of the last ones) and gets the namedtuple's API:
    positional and keyword construction, attribute access, unpacking, equality and hashing as a
    tuple, pattern matching, pickle and copy, repr, ``_fields``, ``_asdict()`` and ``_replace()``::

        class Point(TupleRecord):
            __slots__ = ()
            _fields = ("x", "y", "label")
            _field_defaults = {"label": None}

    For the type checker, define the class as a typing.NamedTuple under TYPE_CHECKING (as
    _exec.ExecResult and _sys.CapSets do)."""

    __slots__ = ()
    _fields: tuple[str, ...] = ()
    _field_defaults: dict[str, Any] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        setattr(cls, "__match_args__", cls._fields)  # noqa: B010  (mypy refuses the plain assignment)
        for index, name in enumerate(cls._fields):
            setattr(cls, name, property(_item(index)))

    def __new__(cls, *args: Any, **kwargs: Any) -> Any:
        names = cls._fields
        if len(args) > len(names):
            raise TypeError(f"{cls.__name__}() takes {len(names)} arguments, {len(args)} given")
        values = list(args)
        for name in names[len(args):]:
            if name in kwargs:
                values.append(kwargs.pop(name))
            elif name in cls._field_defaults:
                values.append(cls._field_defaults[name])
            else:
                raise TypeError(f"{cls.__name__}() missing argument {name!r}")
        if kwargs:
            raise TypeError(f"{cls.__name__}() got unexpected or repeated arguments {sorted(kwargs)}")
        return tuple.__new__(cls, values)

    def __getnewargs__(self) -> tuple[Any, ...]:  # pickle and copy
        return tuple(self)

    def __repr__(self) -> str:
        inner = ", ".join(f"{name}={value!r}" for name, value in zip(self._fields, self, strict=True))
        return f"{type(self).__name__}({inner})"

    def _asdict(self) -> dict[str, Any]:
        return dict(zip(self._fields, self, strict=True))

    def _replace(self, **changes: Any) -> Any:
        return type(self)(**{**self._asdict(), **changes})
