"""StrEnum without the `enum` module: the runtime's enums (the spec's namespace and device types, the
container's Status, the cgroup Layout) are defined on this class.

Why: importing `enum` imports `functools`, `collections`, `operator`, `types`, `keyword` and
`reprlib`: 3-6 ms of every `pyrunc run`, `create` or `exec` on the project's machine, for classes
whose members are plain strings. This class gives what the runtime and its users do with them:

* members are instances of the class and of ``str``: ``NamespaceType.PID == "pid"``, hashing and
  formatting as the plain value, ``json`` writes the value;
* ``Cls("pid")`` gives the member (the member itself too), and ``ValueError`` for anything else;
  ``Cls["PID"]`` by name; iteration in definition order, ``len``, ``in``, ``__members__``;
* ``.name`` and ``.value``; ``repr`` as enum's (``<NamespaceType.PID: 'pid'>``); members are
  singletons through copy and pickle, so ``is`` works as with enum;
* pydantic validates and serializes them through the same core schema it builds for an
  ``enum.StrEnum`` (``enum_schema``: the same errors, "Input should be 'mount', 'pid', ..." and the
  same JSON schema);
* type checkers see ``enum.StrEnum`` itself (below), with its exhaustiveness checks.

Not supported (none of the runtime's enums use them): aliases (two names for one value),
``auto()``, ``_missing_``, flags, members that are not strings, subclassing a class that has
members. Names starting with ``_`` and non-``str`` attributes (methods, properties) are not members.
"""

TYPE_CHECKING = False  # not `typing` (~3 ms)
if TYPE_CHECKING:
    from enum import StrEnum as StrEnum
else:

    class _StrEnumType(type):
        """The metaclass: turns the plain ``str`` class attributes into members."""

        def __new__(mcs, name, bases, namespace, **kwargs):
            values = {k: v for k, v in namespace.items() if not k.startswith("_") and type(v) is str}
            for base in bases:
                if getattr(base, "_member_map_", None):
                    raise TypeError(f"{name}: cannot extend {base.__name__}, which has members")
            ns = {k: v for k, v in namespace.items() if k not in values}
            cls = super().__new__(mcs, name, bases, ns, **kwargs)
            members: dict[str, StrEnum] = {}
            by_value: dict[str, StrEnum] = {}
            for key, value in values.items():
                if value in by_value:
                    raise ValueError(f"{name}.{key}: the value {value!r} is already {by_value[value]!r}")
                member = str.__new__(cls, value)
                member._name_ = key
                member._value_ = value
                type.__setattr__(cls, key, member)
                members[key] = by_value[value] = member
            type.__setattr__(cls, "_member_map_", members)
            type.__setattr__(cls, "_value2member_map_", by_value)
            return cls

        def __call__(cls, value):
            if isinstance(value, cls):
                return value
            try:
                return cls._value2member_map_[value]
            except (KeyError, TypeError):
                raise ValueError(f"{value!r} is not a valid {cls.__qualname__}") from None

        def __getitem__(cls, name):
            return cls._member_map_[name]

        def __iter__(cls):
            return iter(cls._member_map_.values())

        def __reversed__(cls):
            return reversed(list(cls._member_map_.values()))

        def __len__(cls):
            return len(cls._member_map_)

        def __bool__(cls):
            return True

        def __contains__(cls, value):
            # a member, or (as enum does since Python 3.12) a value
            return isinstance(value, cls) or (isinstance(value, str) and value in cls._value2member_map_)

        @property
        def __members__(cls):
            return dict(cls._member_map_)

        def __setattr__(cls, name, value):
            if name in cls.__dict__.get("_member_map_", {}):
                raise AttributeError(f"cannot reassign member {name!r}")
            super().__setattr__(name, value)

        def __delattr__(cls, name):
            if name in cls.__dict__.get("_member_map_", {}):
                raise AttributeError(f"cannot delete member {name!r}")
            super().__delattr__(name)

        def __repr__(cls):
            return f"<enum {cls.__name__!r}>"

    class StrEnum(str, metaclass=_StrEnumType):
        """The base class: ``class Color(StrEnum): RED = "red"``."""

        _member_map_: dict = {}
        _value2member_map_: dict = {}

        @property
        def name(self):
            return self._name_

        @property
        def value(self):
            return self._value_

        # str's, as enum.StrEnum: f"{member}" and str(member) are the value
        __str__ = str.__str__
        __format__ = str.__format__

        def __repr__(self):
            return f"<{type(self).__name__}.{self._name_}: {self._value_!r}>"

        def __reduce_ex__(self, protocol):
            return type(self), (self._value_,)

        def __copy__(self):
            return self

        def __deepcopy__(self, memo):
            return self

        @classmethod
        def __get_pydantic_core_schema__(cls, source, handler):
            # What pydantic builds for an enum.StrEnum (pydantic/_internal/_generate_schema.py
            # _enum_schema): the same validator, errors, serializer and JSON schema.
            from pydantic_core import core_schema

            return core_schema.enum_schema(
                cls, list(cls), sub_type="str", ref=f"{cls.__module__}.{cls.__qualname__}:{id(cls)}"
            )


__all__ = ["StrEnum"]
