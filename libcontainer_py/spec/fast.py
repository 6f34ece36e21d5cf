"""Validate and load config.json and the state without pydantic, for the short-lived CLI verbs.

Importing pydantic costs 80-90 ms here (docs/performance.md), about four times runc's whole ``run``. This
module checks a document against a plain-data description of the pydantic models (``_fast_table.py``,
generated from their core schemas by ``_fast_gen.py``; a test keeps it fresh) and gives back lightweight
objects with the same class names, attributes and values as the models::

    spec = fast.load(bundle)              # None: invalid, or not something this module can vouch for
    if spec is None:
        spec = Spec.load(bundle)          # pydantic: the exact ConfigError, or the object after all

The one rule: ``validate``, ``load`` and ``from_json`` never accept what the pydantic models reject. They
return None for anything invalid *and* for anything they cannot check (a field the table marks
unsupported, bytes for a string, a set for a list, a Mapping that is not a dict...), so that the caller falls
back to pydantic, which then either raises its error or accepts. When they accept, the object equals
what pydantic gives, value for value: enum members where pydantic has enum members, None for absent
optionals, the same defaults, plain lists and dicts, nested objects, unknown keys kept as extras
(attributes, as pydantic's ``extra="allow"`` exposes them), and ``to_dict()`` gives the same dict in the same
key order (``_base.OCIModel``'s serializer: JSON names, None dropped, the input's key order first).

What is mirrored, besides validation: keyword construction (``fast.Mount(destination="/x")``, validated the
same way, raising ConfigError), ``to_dict``, ``to_json``, ``model_copy``, ``copy.copy``/``deepcopy``, ``==``
(type, fields, extras and key order, as pydantic compares), ``repr`` (pydantic's text), attribute
assignment (no validation, marks the field as set; an unknown name becomes an extra), ``model_fields_set``
and ``model_extra``. ``build(data)`` makes the objects from data already validated (a pydantic model's
``to_dict()``), converting but not checking.

Measured on the project's machine (2 cores, CPython 3.11.7, .pyc compiled, other test suites running:
load average 3-6; min / median of 20-40 runs; ``-X importtime`` for the split):

* ``import libcontainer_py.spec.fast`` in a process that has imported what ``pyrunc run`` has by then
  (``contextlib``, ``os``, ``signal``, hence ``enum``): 3.3 / 3.6 ms. This module and its table are ~0.7 ms
  of it (no class is made at import); the 14 StrEnums of ``spec/enums.py`` ~1.5 ms; the ``libcontainer_py``
  and ``libcontainer_py.spec`` packages ~1 ms. From a bare interpreter, add ``enum`` itself: 6.7 / 7.9 ms.
  (Since 2026-12-01 the enums are ``libcontainer_py._strenum``'s, and the runtime's path imports no
  ``enum``, ``contextlib`` or ``signal``: docs/performance.md has the later numbers.)
* ``validate`` of the runtime-spec's ``schema/test/config/good/spec-example.json``: 0.11 / 0.11 ms; the first
  call of a process 1.2 / 1.6 ms (it makes the 37 classes and compiles their checks). ``build`` of the same
  data 0.09 ms, ``to_dict`` 0.10 ms.
* whole processes: ``python -c pass`` 10.9 / 12.6 ms; import + ``load`` + validate of that file 24 / 26 ms
  (``json`` and ``re`` included); the same with the pydantic ``Spec`` (validator cache warm) 140 / 158 ms.
"""

from __future__ import annotations

import _thread
import posix

from libcontainer_py._paths import isdir, join
from libcontainer_py._strenum import StrEnum
from libcontainer_py.errors import ConfigError
from libcontainer_py.spec._fast_table import TABLE
from libcontainer_py.spec._keyorder import ordered

TYPE_CHECKING = False  # not `typing`: importing it costs milliseconds this module is meant to save
if TYPE_CHECKING:
    import os
    from collections.abc import Callable
    from typing import Any, Self

    Check = Callable[[Any], Any]

_NONE = type(None)
_JSON_TYPES = frozenset({_NONE, bool, int, float, str, list, dict})
_INF = float("inf")


class _Invalid(Exception):
    """A value the fast path does not accept: invalid, or not one it can vouch for (validate() returns None
    for both, so they need not be told apart; the message says which, for keyword construction)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
        self.loc: list[str | int] = []  # where, innermost first (appended on the way out)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _path(loc: list[str | int]) -> str:
    """``linux.namespaces[1].type`` (as _base.json_path writes pydantic's locations)."""
    out = ""
    for part in reversed(loc):
        if isinstance(part, int):
            out += f"[{part}]"
        elif part.isascii() and part.isidentifier():
            out += f".{part}" if out else part
        else:
            import json

            out += f"[{json.dumps(part)}]"
    return out


# --- what pydantic rejects for sure ----------------------------------------------------------------
#
# For each type descriptor, the JSON types that pydantic rejects whatever the value (in lax mode too):
# a value of another type may be one pydantic converts (a str for a lax int, a bytes for an enum...).
# Unions need this (pydantic takes the choice that accepts; the fast path may only take one when every
# other choice surely rejects), and so do messages ("must be an integer" vs "cannot check").


# The JSON types each kind takes (when strict, for int, float and bool: the lax ones take more).
_TAKES: dict[str, frozenset[type]] = {
    "int": frozenset({int}),
    "float": frozenset({int, float}),
    "bool": frozenset({bool}),
    "str": frozenset({str}),
    "enum": frozenset({str}),
    "list": frozenset({list}),
    "dict": frozenset({dict}),
    "model": frozenset({dict}),
}


def _rejects(desc: tuple[Any, ...]) -> frozenset[type]:
    kind = desc[0]
    if kind in ("int", "float", "bool") and not desc[1]:  # lax: strings, numbers and bools convert
        return frozenset({_NONE, list, dict})
    if kind in _TAKES:
        return _JSON_TYPES - _TAKES[kind]
    if kind == "nullable":
        return _rejects(desc[1]) - {_NONE}
    if kind == "literal":
        return frozenset({list, dict})
    if kind == "union":
        return frozenset.intersection(*(_rejects(choice) for choice in desc[1]))
    return frozenset()  # any, unsupported


_WHAT = {
    "int": "an integer",
    "float": "a number",
    "bool": "a boolean",
    "str": "a string",
    "enum": "a string",
    "literal": "one of the literal values",
    "list": "an array",
    "dict": "an object",
    "model": "an object",
    "union": "one of the union's types",
}


def _mismatch(desc: tuple[Any, ...], value: Any) -> _Invalid:
    if type(value) in _rejects(desc):
        return _Invalid(f"must be {_WHAT[desc[0]]} (got {_short(value)})")
    return _Invalid(f"the fast path cannot check a {type(value).__name__} here (got {_short(value)})")


# --- compiling type descriptors into checks -------------------------------------------------------
#
# A check takes a value and returns what the pydantic model would store, or raises _Invalid. With
# check=False (build()), scalars are taken as they are and only the conversions are done (enum
# members, nested objects, fresh lists and dicts).


def _same(value: Any) -> Any:
    return value


def _compile(reg: _Registry, desc: tuple[Any, ...], check: bool) -> Check:
    kind = desc[0]
    if kind == "nullable":
        inner = reg.compile(desc[1], check)

        def nullable(value: Any) -> Any:
            return None if value is None else inner(value)

        return nullable
    if kind == "model":
        return reg.model_check(desc[1], check)
    if kind == "enum":
        return _compile_enum(desc, check)
    if kind == "list":
        return _compile_list(reg, desc, check)
    if kind == "dict":
        return _compile_dict(reg, desc, check)
    if kind == "union":
        return _compile_union(reg, desc)
    if kind == "unsupported":
        why = desc[1]

        def unsupported(value: Any) -> Any:
            raise _Invalid(f"the fast path cannot check this field: {why}")

        return unsupported
    if not check or kind == "any":
        return _same
    return _SCALARS[kind](desc)


def _compile_int(desc: tuple[Any, ...]) -> Check:
    _, _strict, ge, le = desc  # strictness only changes what is "surely rejected" (_rejects)
    low = -_INF if ge is None else ge  # int/float comparisons are exact in Python, whatever the size
    high = _INF if le is None else le

    def check_int(value: Any) -> Any:
        if type(value) is int and low <= value <= high:
            return value
        if type(value) is int:
            raise _Invalid(f"must be >= {ge} (got {value})" if value < low else f"must be <= {le} (got {value})")
        if isinstance(value, int) and type(value) is not bool:  # an IntEnum: pydantic keeps the plain int
            return check_int(int.__index__(value))
        raise _mismatch(desc, value)

    return check_int


def _compile_float(desc: tuple[Any, ...]) -> Check:
    _, _strict, ge, le = desc
    low = -_INF if ge is None else ge
    high = _INF if le is None else le

    def check_float(value: Any) -> Any:
        # An int becomes a float (strict mode too); NaN and the infinities, and ints a float cannot hold
        # exactly, are left to pydantic.
        if type(value) is int and -(2**53) <= value <= 2**53:
            value = float(value)
        if type(value) is float and -_INF < value < _INF:
            if low <= value <= high:
                return value
            raise _Invalid(f"must be >= {ge} (got {value})" if value < low else f"must be <= {le} (got {value})")
        raise _mismatch(desc, value)

    return check_float


def _all_in(chars: str) -> Callable[[str], bool]:
    allowed = frozenset(chars)
    return lambda text: allowed.issuperset(text)


_DIGITS = "0123456789"
_UPPER = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_any_digits = _all_in(_DIGITS)
_any_upper = _all_in(_UPPER)
_any_cpuset = _all_in(_DIGITS + ", -")

#: The spec's patterns, as the table writes them, checked without `re` (~5 ms to import here, and
#: every config has process.rlimits): each agrees with re.search(pattern) (tests/unit/test_spec_fast.py).
#: Any other pattern is compiled with `re`.
SIMPLE_PATTERNS: dict[str, Callable[[str], bool]] = {
    "^RLIMIT_[A-Z]+\\Z": lambda v: v.startswith("RLIMIT_") and len(v) > 7 and _any_upper(v[7:]),
    "^[0-9, -]*\\Z": _any_cpuset,
    "^[1-9][0-9]*[KMG]B\\Z": lambda v: (
        len(v) >= 3 and v[-1] == "B" and v[-2] in "KMG" and v[0] in "123456789" and _any_digits(v[1:-2])
    ),
    "^MB:[^\\n]*\\Z": lambda v: v.startswith("MB:") and "\n" not in v,
}


def _pattern_search(pattern: str) -> Callable[[str], object]:
    simple = SIMPLE_PATTERNS.get(pattern)
    if simple is not None:
        return simple
    import re  # only a document with another pattern pays for it

    return re.compile(pattern).search


def _compile_str(desc: tuple[Any, ...]) -> Check:
    _, _strict, pattern, min_length, max_length = desc
    if pattern is None and min_length is None and max_length is None:

        def check_plain(value: Any) -> Any:
            if type(value) is str:
                return value
            if isinstance(value, str):  # a str subclass (a StrEnum member): pydantic stores the plain str
                return str.__str__(value)
            raise _mismatch(desc, value)

        return check_plain
    search: list[Callable[[str], object]] = []  # the compiled pattern, once needed

    def check_str(value: Any) -> Any:
        if type(value) is not str:
            if isinstance(value, str):
                return check_str(str.__str__(value))
            raise _mismatch(desc, value)
        if min_length is not None and len(value) < min_length:
            raise _Invalid(f"must have at least {min_length} character(s) (got {_short(value)})")
        if max_length is not None and len(value) > max_length:
            raise _Invalid(f"must have at most {max_length} character(s) (got {_short(value)})")
        if pattern is not None:
            if not search:
                search.append(_pattern_search(pattern))
            if not search[0](value):
                raise _Invalid(f"must match {pattern} (got {_short(value)})")
        return value

    return check_str


def _compile_bool(desc: tuple[Any, ...]) -> Check:
    def check_bool(value: Any) -> Any:
        if type(value) is bool:
            return value
        raise _mismatch(desc, value)

    return check_bool


def _compile_literal(desc: tuple[Any, ...]) -> Check:
    expected = desc[1]

    def check_literal(value: Any) -> Any:
        # Only the same type counts: pydantic also takes 3.0 for 3, which is left to it.
        for candidate in expected:
            if type(candidate) is type(value) and candidate == value:
                return candidate
        raise _mismatch(desc, value)

    return check_literal


_SCALARS: dict[str, Callable[[tuple[Any, ...]], Check]] = {
    "int": _compile_int,
    "float": _compile_float,
    "str": _compile_str,
    "bool": _compile_bool,
    "literal": _compile_literal,
}


def _enum_class(name: str) -> type[StrEnum]:
    """The enum class of spec/enums.py named ``name``, its module imported on first use: most configs
    need two of the fourteen (the others, seccomp's above all, cost ~1 ms to create here)."""
    from libcontainer_py.spec import _enums_core

    cls = getattr(_enums_core, name, None)
    if cls is None:
        from libcontainer_py.spec import _enums_more

        cls = getattr(_enums_more, name)
    assert isinstance(cls, type) and issubclass(cls, StrEnum)
    return cls


def _compile_enum(desc: tuple[Any, ...], check: bool) -> Check:
    _, name, strict = desc
    # Resolved when the first value arrives, not when the model's checks are made: validating a Spec
    # makes the checks of every section, and most sections are absent.
    cls: type[StrEnum] | None = None
    members: dict[str, StrEnum] = {}  # value -> member, without iterating the enum

    def check_enum(value: Any) -> Any:
        nonlocal cls
        if cls is None:
            cls = _enum_class(name)
            members.update(cls._value2member_map_)
        if type(value) is str and not strict:
            member = members.get(value)
            if member is not None:
                return member
            raise _Invalid(f"must be one of {', '.join(map(repr, members))} (got {_short(value)})")
        if type(value) is cls:
            return value
        if isinstance(value, str) and not isinstance(value, StrEnum) and not strict:
            return check_enum(str.__str__(value))
        raise _mismatch(desc, value)

    if check:
        return check_enum

    def build_enum(value: Any) -> Any:
        member = members.get(value) if isinstance(value, str) else None  # a member is a str too
        return check_enum(value) if member is None else member

    return build_enum


def _compile_list(reg: _Registry, desc: tuple[Any, ...], check: bool) -> Check:
    _, item_desc, min_length, max_length, strict = desc
    item = reg.compile(item_desc, check)
    if item is _same and not check:
        return list

    def items(value: Any) -> list[Any]:
        try:
            return list(value) if item is _same else [item(x) for x in value]  # a new list, as pydantic's
        except _Invalid as exc:
            exc.loc.append(next(i for i, x in enumerate(value) if _fails(item, x)))
            raise

    if not check:
        return items

    def check_list(value: Any) -> Any:
        if type(value) is not list and (strict or type(value) is not tuple):
            raise _mismatch(desc, value)
        return _check_length(items(value), value, min_length, max_length)

    return check_list


def _check_length(out: Any, value: Any, min_length: int | None, max_length: int | None) -> Any:
    """A list's or dict's min_length/max_length, checked on the converted ``out``."""
    if min_length is not None and len(out) < min_length:
        raise _Invalid(f"must have at least {min_length} item(s) (got {_short(value)})")
    if max_length is not None and len(out) > max_length:
        raise _Invalid(f"must have at most {max_length} item(s) (got {_short(value)})")
    return out


def _compile_dict(reg: _Registry, desc: tuple[Any, ...], check: bool) -> Check:
    _, key_desc, value_desc, min_length, max_length = desc
    key = reg.compile(key_desc, check)
    val = reg.compile(value_desc, check)
    if key is _same and val is _same and not check:
        return dict

    def items(value: Any) -> dict[Any, Any]:
        try:
            return {key(k): val(x) for k, x in value.items()}
        except _Invalid as exc:
            exc.loc.append(next(k for k, x in value.items() if _fails(key, k) or _fails(val, x)))
            raise

    if not check:
        return items

    def check_dict(value: Any) -> Any:
        if type(value) is not dict:
            raise _mismatch(desc, value)
        return _check_length(items(value), value, min_length, max_length)

    return check_dict


def _fails(check: Check, value: Any) -> bool:
    """Whether ``check`` rejects ``value``: to find, once a list or dict failed, which item it was."""
    try:
        check(value)
    except _Invalid:
        return True
    return False


def _compile_union(reg: _Registry, desc: tuple[Any, ...]) -> Check:
    # build() checks unions too: which choice data is for is only known by checking.
    choices = [(_rejects(choice), reg.compile(choice, True)) for choice in desc[1]]

    def check_union(value: Any) -> Any:
        # pydantic's smart mode picks among the choices that accept; only when all but one surely reject
        # is that one's result certainly pydantic's.
        possible = [choice for rejected, choice in choices if type(value) not in rejected]
        if len(possible) == 1:
            return possible[0](value)
        raise _mismatch(desc, value)

    return check_union


# --- the model classes -----------------------------------------------------------------------------


class FastModel:
    """Base of the lightweight spec classes (``fast.Spec``, ``fast.Process``...), one per pydantic model.

    Like a pydantic model, an instance keeps its fields in ``__dict__`` (every declared field, set or not),
    the unknown keys it was given in ``model_extra``, which fields were given in ``model_fields_set``, and the
    keys of the dict it was validated from (their order is kept on dump: _base.OCIModel's key order).
    """

    __slots__ = ("__dict__", "_extra", "_fields_set", "_key_order")

    # Set on each class from the table: its entry, field names, (name, JSON name) pairs to dump in
    # declaration order, the keys whose None is dropped on dump (_base._declared_keys), and whether
    # unknown keys are kept.
    _registry: _Registry
    _info: dict[str, Any]
    _field_names: frozenset[str]
    _dump_keys: tuple[tuple[str, str], ...]
    _declared: frozenset[str]
    _extra_allowed: bool
    _fields_set: set[str]
    _extra: dict[str, Any] | None
    _key_order: tuple[str, ...] | None

    def __init__(self, **data: Any) -> None:
        cls = type(self)
        try:
            made = cls._registry.model_check(cls.__name__, True)(data)
        except _Invalid as exc:
            raise ConfigError(exc.message, path=_path(exc.loc) or None, source=cls.__name__) from None
        _set_state(self, made.__dict__, made._fields_set, made._extra, made._key_order)

    def __getattr__(self, name: str) -> Any:
        # Only called when normal lookup fails: an unknown key of the input, as pydantic exposes extras.
        try:
            extra = object.__getattribute__(self, "_extra")
        except AttributeError:  # not initialised yet (copy, unpickling)
            extra = None
        if extra and name in extra:
            return extra[name]
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def __setattr__(self, name: str, value: Any) -> None:
        # pydantic's rules (validate_assignment is off): a field is stored as given and counts as set; an
        # unknown name becomes an extra (when extras are allowed); an underscore name is a plain attribute.
        if name.startswith("_") or (name not in self._field_names and hasattr(type(self), name)):
            object.__setattr__(self, name, value)
        elif name in self._field_names:
            self.__dict__[name] = value
            self._fields_set.add(name)
        elif self._extra_allowed and self._extra is not None:
            self._extra[name] = value
            self._fields_set.add(name)
        else:
            raise ValueError(f'"{type(self).__name__}" object has no field "{name}"')

    @property
    def model_fields_set(self) -> set[str]:
        """The fields (and extra keys) given on input or assigned since: what ``to_dict`` writes."""
        return self._fields_set

    @property
    def model_extra(self) -> dict[str, Any] | None:
        """The unknown keys, kept with their values as given."""
        return self._extra

    def to_dict(self) -> dict[str, Any]:
        """The JSON-ready dict, as the pydantic model's ``to_dict()``: spec names, only what was set, None
        dropped for declared keys, enums as strings, and the input's key order first."""
        values = self.__dict__
        fields_set = self._fields_set
        data = {key: _dump(values[name]) for name, key in self._dump_keys if name in fields_set}
        if self._extra:
            for key, value in self._extra.items():
                data[key] = _dump(value)
        return ordered(data, self._key_order, self._declared)

    def to_json(self, indent: int | None = 4) -> str:
        """The spec's JSON text (as ``Document.to_json``)."""
        import json  # not needed to validate: the CLI that only reads a config does not load the encoder

        return json.dumps(self.to_dict(), indent=indent, ensure_ascii=False)

    def model_copy(self, *, update: dict[str, Any] | None = None, deep: bool = False) -> Self:
        """A copy, as pydantic's: ``update`` is not validated; its field names replace fields, other keys
        become extras; a deep copy copies everything but what ``update`` replaces."""
        if deep and update:
            import copy

            copied = self.__copy__()
            memo: dict[int, Any] = {id(self): copied}
            for key, value in copied.__dict__.items():
                if key not in update:
                    copied.__dict__[key] = copy.deepcopy(value, memo)
            if copied._extra is not None:
                for key, value in copied._extra.items():
                    if key not in update:
                        copied._extra[key] = copy.deepcopy(value, memo)
        else:
            copied = self.__deepcopy__() if deep else self.__copy__()
        if update:
            for key, value in update.items():
                if key in self._field_names or not self._extra_allowed:
                    copied.__dict__[key] = value
                else:
                    if copied._extra is None:
                        copied._extra = {}
                    copied._extra[key] = value
            copied._fields_set.update(update)
        return copied

    def __copy__(self) -> Self:
        cls = type(self)
        copied = cls.__new__(cls)
        extra = None if self._extra is None else dict(self._extra)
        _set_state(copied, dict(self.__dict__), set(self._fields_set), extra, self._key_order)
        return copied

    def __deepcopy__(self, memo: dict[int, Any] | None = None) -> Self:
        import copy

        memo = {} if memo is None else memo
        cls = type(self)
        copied = cls.__new__(cls)
        memo[id(self)] = copied
        values = copy.deepcopy(self.__dict__, memo)
        _set_state(copied, values, set(self._fields_set), copy.deepcopy(self._extra, memo), self._key_order)
        return copied

    def __eq__(self, other: object) -> bool:
        # pydantic's: same class, same key order (a private attribute), same extras, same fields.
        if not isinstance(other, FastModel):
            return NotImplemented
        if type(self) is not type(other) or self._key_order != other._key_order:
            return False
        if (self._extra or {}) != (other._extra or {}):
            return False
        if self.__dict__ == other.__dict__:
            return True
        names = self._field_names
        # Only the fields count when __dict__ holds other attributes too (set with an underscore name).
        if self.__dict__.keys() <= names and other.__dict__.keys() <= names:
            return False
        return all(self.__dict__.get(n) == other.__dict__.get(n) for n in names)

    __hash__ = None  # type: ignore[assignment]  # mutable, like a pydantic model

    def __repr__(self) -> str:
        names = self._field_names
        args = [f"{k}={v!r}" for k, v in self.__dict__.items() if k in names]
        if self._extra is not None:
            args += [f"{k}={v!r}" for k, v in self._extra.items()]
        return f"{type(self).__name__}({', '.join(args)})"


_new_object = object.__new__
_set_dict = FastModel.__dict__["__dict__"].__set__
_set_fields_set = FastModel.__dict__["_fields_set"].__set__
_set_extra = FastModel.__dict__["_extra"].__set__
_set_key_order = FastModel.__dict__["_key_order"].__set__


def _set_state(
    obj: FastModel,
    values: dict[str, Any],
    fields_set: set[str],
    extra: dict[str, Any] | None,
    key_order: tuple[str, ...] | None,
) -> None:
    # The slots' own setters: FastModel.__setattr__ is for users' assignments.
    _set_dict(obj, values)
    _set_fields_set(obj, fields_set)
    _set_extra(obj, extra)
    _set_key_order(obj, key_order)


def _dump(value: Any) -> Any:
    """A field's or extra's value in JSON form, as pydantic's ``model_dump(mode="json")`` writes it."""
    kind = type(value)
    if kind is str or kind is int or kind is bool or value is None:
        return value
    if kind is list or kind is tuple:
        return [_dump(x) for x in value]
    if isinstance(value, FastModel):
        return value.to_dict()
    if kind is dict:
        return {k: _dump(x) for k, x in value.items()}
    if isinstance(value, StrEnum):
        return _dump(value.value)
    if kind is float:
        return value if value - value == 0 else None  # NaN and the infinities: null, as pydantic writes them
    if isinstance(value, set | frozenset):
        return [_dump(x) for x in value]
    return value


def _copy_json(value: Any) -> Any:
    if type(value) is list:
        return [_copy_json(x) for x in value]
    if type(value) is dict:
        return {k: _copy_json(x) for k, x in value.items()}
    return value


def _copier(value: Any) -> Callable[[], Any]:
    """A factory of copies of a mutable default (pydantic copies one for each instance)."""
    return lambda: _copy_json(value)


def _compile_model(reg: _Registry, cls: type[FastModel], check: bool) -> Check:
    info = cls._info
    name = cls.__name__
    if info["unsupported"]:
        reason = info["unsupported"]

        def unsupported(data: Any) -> Any:
            raise _Invalid(f"the fast path cannot check {name}: {reason}")

        return unsupported
    # input key -> (field name, check, the alias that wins over this key when both are given)
    lookup: dict[str, tuple[str, Check, str | None]] = {}
    template: dict[str, Any] = {}  # every field in declaration order, with its default
    factories: list[tuple[str, Callable[[], Any]]] = []
    required: dict[str, str] = {}  # field name -> the key it is reported under
    for field, alias, _serialization_alias, desc, default in info["fields"]:
        alias = alias or field
        conv = reg.compile(desc, check)
        if info["by_alias"]:
            lookup[alias] = (field, conv, None)
        if info["by_name"] and (field != alias or not info["by_alias"]):
            lookup[field] = (field, conv, alias if info["by_alias"] else None)
        template[field] = None
        if default is None:
            required[field] = alias if info["by_alias"] else field
        elif default[0] == "value":
            if type(default[1]) in (list, dict):  # pydantic copies a mutable default for each instance
                factories.append((field, _copier(default[1])))
            else:
                template[field] = default[1]
        elif default[0] == "enum":
            template[field] = _enum_class(default[1])(default[2])
        else:
            factories.append((field, list if default[1] == "list" else dict))
    required_names = frozenset(required)
    keep_extra = info["extra"] == "allow"
    forbid_extra = info["extra"] == "forbid"
    get = lookup.get

    def check_model(data: Any) -> Any:
        if type(data) is not dict:
            if type(data) is cls:  # an instance is taken as it is, as pydantic takes its own
                return data
            raise _mismatch(("model", name), data)
        values = template.copy()
        fields_set: set[str] = set()
        extra: dict[str, Any] | None = {} if keep_extra else None
        for key, value in data.items():
            entry = get(key)
            if entry is None or (entry[2] is not None and entry[2] in data):
                # Not a field; or a field's name given next to its alias: pydantic reads the alias and
                # keeps the name as an extra.
                if type(key) is not str:
                    raise _Invalid(f"the fast path cannot check a {type(key).__name__} key (got {_short(key)})")
                if extra is not None:
                    extra[key] = value
                    fields_set.add(key)
                elif forbid_extra:
                    forbidden = _Invalid("is not a field (extra keys are forbidden)")
                    forbidden.loc.append(key)
                    raise forbidden
                continue
            field = entry[0]
            try:
                values[field] = entry[1](value)
            except _Invalid as exc:
                exc.loc.append(key)
                raise
            fields_set.add(field)
        if not required_names <= fields_set:
            missing = _Invalid("is required")
            missing.loc.append(next(key for field, key in required.items() if field not in fields_set))
            raise missing
        for field, factory in factories:
            if field not in fields_set:
                values[field] = factory()
        obj = _new_object(cls)
        _set_state(obj, values, fields_set, extra, tuple(data))
        return obj

    return check_model


class _Registry:
    """The classes of a table and their checks, each made on first use: importing this module makes none,
    and a process that only reads a state (no nested models) or a process.json makes only those it needs.
    The module has one, from _fast_table; the tests make others, from test models."""

    def __init__(self, table: dict[str, Any]) -> None:
        self.models: dict[str, dict[str, Any]] = table["models"]
        self.names = (*self.models, *table["aliases"])  # every class name, other names included
        self._aliases: dict[str, str] = table["aliases"]
        self._classes: dict[str, type[FastModel]] = {}
        self._models: dict[tuple[str, bool], Check] = {}
        self._types: dict[tuple[tuple[Any, ...], bool], Check] = {}
        self._pending: dict[tuple[str, bool], Check] = {}
        self._lock = _thread.RLock()  # _thread: always loaded, unlike threading

    def model_class(self, model: str) -> type[FastModel]:
        cls = self._classes.get(model)
        if cls is not None:
            return cls
        with self._lock:  # one class per name, whichever thread asks first
            return self._classes.get(model) or self._make_class(model)

    def _make_class(self, model: str) -> type[FastModel]:
        name = self._aliases.get(model, model)
        info = self.models.get(name)
        if info is None:
            raise ValueError(f"no spec model named {model!r}")
        if name != model:  # LinuxIDMapping: the class of IDMapping, not another one
            cls = self._classes[model] = self.model_class(name)
            return cls
        fields = info["fields"]
        namespace = {
            "__slots__": (),
            "__module__": __name__,
            "__qualname__": name,
            "__doc__": f"The pydantic-free {name} of libcontainer_py.spec (see libcontainer_py.spec.fast).",
            "_registry": self,
            "_info": info,
            "_field_names": frozenset(field[0] for field in fields),
            "_dump_keys": tuple((field[0], field[2] or field[0]) for field in fields),
            "_declared": frozenset(info["declared"]),
            "_extra_allowed": info["extra"] == "allow",
        }
        cls = self._classes[name] = type(name, (FastModel,), namespace)
        return cls

    def model_check(self, name: str, check: bool) -> Check:
        """The check (with check=False: the builder) of model ``name``."""
        key = (name, check)
        compiled = self._models.get(key)
        if compiled is not None:
            return compiled
        with self._lock:  # first use only; reentrant: compiling a model compiles the models in it
            compiled = self._models.get(key) or self._pending.get(key)
            if compiled is None:
                # A model that contains itself calls this until it is compiled. Only the compiling
                # thread (holding the lock) can see it: another one would call it too early.
                cell: list[Check] = []
                self._pending[key] = lambda data: cell[0](data)
                try:
                    compiled = _compile_model(self, self.model_class(name), check)
                finally:
                    del self._pending[key]
                cell.append(compiled)
                self._models[key] = compiled
            return compiled

    def compile(self, desc: tuple[Any, ...], check: bool) -> Check:
        # Called while compiling a model (under the lock). The same descriptor recurs (a nullable
        # string, a uint32...): one check each, compiled once.
        compiled = self._types.get((desc, check))
        if compiled is None:
            compiled = self._types[desc, check] = _compile(self, desc, check)
        return compiled

    def validate(self, data: Any, model: str) -> FastModel | None:
        check = self.model_check(self.model_class(model).__name__, True)
        try:
            result: FastModel = check(data)
        except _Invalid:
            return None
        return result

    def build(self, data: Any, model: str) -> FastModel:
        try:
            result: FastModel = self.model_check(self.model_class(model).__name__, False)(data)
        except _Invalid as exc:
            raise ConfigError(exc.message, path=_path(exc.loc) or None, source=model) from None
        return result


_REGISTRY = _Registry(TABLE)


def __getattr__(name: str) -> type[FastModel]:
    """``fast.Spec``, ``fast.Process``...: the class, made on first use (PEP 562; type checkers see them as
    FastModel classes through this too)."""
    if name not in _REGISTRY.names:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    cls = globals()[name] = _REGISTRY.model_class(name)  # later lookups do not come back here
    return cls


def __dir__() -> list[str]:
    return sorted({*globals(), *_REGISTRY.names})


def model_class(model: str) -> type[FastModel]:
    """The fast class named ``model`` (``"Spec"``, ``"Process"``, ``"LinuxResources"``, ``"State"``...)."""
    return _REGISTRY.model_class(model)


# --- the API -------------------------------------------------------------------------------------


def validate(data: Any, model: str = "Spec") -> FastModel | None:
    """The fast object for ``data`` (a parsed JSON value) if the pydantic model ``model`` accepts it; None if
    pydantic rejects it, or may (the caller then validates with pydantic, for its error or its object)."""
    return _REGISTRY.validate(data, model)


def build(data: Any, model: str = "Spec") -> FastModel:
    """The fast object for data already valid for ``model`` (a pydantic model's ``to_dict()``, a state file
    this runtime wrote): converted (enums, nested objects, copies of lists and dicts) but not checked.
    Raises ConfigError for what it cannot even convert (not a dict, a required key missing, an unknown
    enum value)."""
    return _REGISTRY.build(data, model)


def from_json(text: str | bytes | bytearray, model: str = "Spec") -> FastModel | None:
    """Parse and validate JSON text; None if it is not JSON or not valid (see ``validate``)."""
    from libcontainer_py import _json  # not the json package: it imports `re` (~5 ms here)

    model_class(model)  # an unknown model is an error even for invalid JSON
    try:
        data = _json.loads(text)
    except ValueError:  # JSONDecodeError, UnicodeDecodeError
        return None
    return validate(data, model)


def load(path: str | os.PathLike[str], model: str = "Spec") -> FastModel | None:
    """Read and validate a file; a directory means its ``config.json`` (``state.json`` for ``"State"``), as
    ``Document.load``. None if it cannot be read, or is not valid (see ``validate``)."""
    filename = model_class(model)._info["filename"]
    fspath = posix.fspath(path)
    if filename and isdir(fspath):
        fspath = join(fspath, filename)
    try:
        with open(fspath, "rb") as f:
            raw = f.read()
    except OSError:
        return None
    return from_json(raw, model)
