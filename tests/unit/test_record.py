"""libcontainer_py._record: the dataclass stand-in of the modules every pyrunc verb imports."""

from __future__ import annotations

import collections
import copy
import dataclasses
import pickle
from typing import Any

import pytest

from libcontainer_py._record import Record, TupleRecord, as_dict, field, replace


class Inner(Record):
    a: int = 0
    tags: list[str] = field(default_factory=list)


class Outer(Record):
    name: str
    inner: Inner = field(default_factory=Inner)
    items: dict[str, Inner] = field(default_factory=dict)


class Frozen(Record, frozen=True):
    x: int
    y: int = 2


@dataclasses.dataclass
class DInner:
    a: int = 0
    tags: list[str] = dataclasses.field(default_factory=list)


def test_init_positional_keyword_defaults_and_fresh_factories() -> None:
    one, two = Inner(), Inner(5, ["t"])
    assert (one.a, one.tags, two.a, two.tags) == (0, [], 5, ["t"])
    one.tags.append("x")
    assert Inner().tags == []  # each instance gets its own list
    assert Outer("n").inner == Inner()
    assert Outer(name="n", inner=Inner(a=1)).inner.a == 1


@pytest.mark.parametrize(
    ("call", "needle"),
    [
        (lambda: Outer(), "missing argument 'name'"),
        (lambda: Inner(1, [], 3), "takes 2 arguments"),
        (lambda: Inner(b=1), "unexpected keyword argument 'b'"),
        (lambda: Inner(1, a=2), "multiple values for argument 'a'"),
    ],
)
def test_bad_calls_raise_type_error(call: object, needle: str) -> None:
    with pytest.raises(TypeError, match=needle):
        call()  # type: ignore[operator]


def test_eq_repr_hash_and_frozen() -> None:
    assert Inner(1, ["a"]) == Inner(1, ["a"]) and Inner(1) != Inner(2)
    assert Inner(1) != DInner(1)  # another class is never equal
    assert repr(Inner(1, ["a"])) == "Inner(a=1, tags=['a'])"
    f = Frozen(1)
    assert hash(f) == hash(Frozen(1, 2)) and {f, Frozen(1)} == {f}
    with pytest.raises(AttributeError, match="frozen"):
        f.x = 3  # type: ignore[misc]
    with pytest.raises(TypeError, match="unhashable"):
        hash(Inner())


def test_as_dict_and_replace_match_dataclasses() -> None:
    rec = Outer("n", Inner(1, ["a"]), {"k": Inner(2)})
    assert as_dict(rec) == {"name": "n", "inner": {"a": 1, "tags": ["a"]}, "items": {"k": {"a": 2, "tags": []}}}
    assert as_dict(Inner(3, ["z"])) == dataclasses.asdict(DInner(3, ["z"]))
    changed = replace(rec, name="m")
    assert changed.name == "m" and changed.inner is rec.inner and rec.name == "n"


def test_subclass_inherits_and_extends_fields() -> None:
    class More(Inner):
        b: str = "b"

    assert More(1, [], "c") == More(a=1, b="c") and repr(More()) == "More(a=0, tags=[], b='b')"


# --- TupleRecord: collections.namedtuple's API without collections ------------------------------------


class _Lite(TupleRecord):
    __slots__ = ()
    _fields = ("pid", "status", "console")
    _field_defaults = {"console": None}


_Real = collections.namedtuple("_Real", ["pid", "status", "console"], defaults=[None])


def _observe(cls: Any) -> list[Any]:
    a = cls(1, 0)
    b = cls(pid=1, status=0, console=7)
    match b:
        case cls(pid, status, console):
            matched = (pid, status, console)
    x, y, z = a
    return [
        tuple(a), (x, y, z), a.pid, a.status, a.console, b.console, a == (1, 0, None), a == cls(1, 0, None),
        hash(a) == hash((1, 0, None)), a[:2] < b[:2], len(a), a[1:], repr(a).replace(cls.__name__, "T"),
        a._asdict(), b._replace(status=9), cls._fields, pickle.loads(pickle.dumps(b)) == b,
        type(copy.deepcopy(b)) is cls, matched, cls(1, 0, console=3) == (1, 0, 3),
    ]  # fmt: skip


def test_tuple_record_behaves_as_namedtuple() -> None:
    assert _observe(_Lite) == _observe(_Real)
    for bad in ((), (1, 2, 3, 4)):
        with pytest.raises(TypeError):
            _Lite(*bad)
    with pytest.raises(TypeError):
        _Lite(1, 2, pid=3)
    with pytest.raises(AttributeError):
        _Lite(1, 2).pid = 5  # type: ignore[misc]


def test_exec_result_and_capsets_are_tuple_records() -> None:
    from libcontainer_py._exec import ExecResult
    from libcontainer_py._sys import CapSets

    r = ExecResult(10, 0)
    assert r == (10, 0, None) and r.exit_status == 0 and r.console is None and repr(r).startswith("ExecResult(pid=10")
    c = CapSets(1, 2, 3)
    assert (c.effective, c.permitted, c.inheritable) == (1, 2, 3) and c._asdict()["permitted"] == 2
