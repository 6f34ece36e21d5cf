"""libcontainer_py._strenum.StrEnum behaves as enum.StrEnum where the runtime and its users rely on it:
the same two classes, one on each base, compared member for member, through pydantic included."""

from __future__ import annotations

import copy
import enum
import json
import pickle
from typing import Any

import pytest
from pydantic import BaseModel, ConfigDict, ValidationError

from libcontainer_py._strenum import StrEnum


class Real(enum.StrEnum):
    """Two colours."""

    RED = "red"
    DARK_BLUE = "dark-blue"

    def is_red(self) -> bool:
        return self is Real.RED


class Lite(StrEnum):
    """Two colours."""

    RED = "red"
    DARK_BLUE = "dark-blue"

    def is_red(self) -> bool:
        return self is Lite.RED


def observe(cls: Any) -> list[Any]:
    red = cls.RED
    return [
        [m.name for m in cls], [m.value for m in cls], len(cls), list(cls.__members__),
        cls("red") is red, cls(red) is red, cls["RED"] is red, red.is_red(), cls.DARK_BLUE.is_red(),
        red == "red", "red".__eq__(red), red != "blue", hash(red) == hash("red"), {red: 1}["red"],
        isinstance(red, str), isinstance(red, cls), str(red), f"{red}", f"{red:>5}", "%s" % (red,), red.upper(),  # noqa: UP031
        repr(red).replace(cls.__name__, "X"), json.dumps({"c": red}), json.dumps({red: 1}),
        pickle.loads(pickle.dumps(red)) is red, copy.copy(red) is red, copy.deepcopy([red])[0] is red,
        sorted([cls.RED, cls.DARK_BLUE]), red in cls, list(reversed(cls)) == list(cls)[::-1], bool(cls),
    ]  # fmt: skip


def test_members_behave_as_enum_strenum_members() -> None:
    assert observe(Lite) == observe(Real)


@pytest.mark.parametrize("bad", ["blue", "RED", 3, None, b"red"])
def test_unknown_values_are_value_errors(bad: Any) -> None:
    with pytest.raises(ValueError) as real:
        Real(bad)
    with pytest.raises(ValueError) as lite:
        Lite(bad)
    assert str(lite.value) == str(real.value).replace("Real", "Lite")


def test_members_are_fixed() -> None:
    with pytest.raises(AttributeError):
        Lite.RED = "blue"  # type: ignore[misc]
    with pytest.raises(AttributeError):
        del Lite.RED
    with pytest.raises(KeyError):
        Lite["BLUE"]
    with pytest.raises(TypeError, match="has members"):

        class More(Lite):  # type: ignore[misc]
            GREEN = "green"

    with pytest.raises(ValueError, match="already"):

        class Alias(StrEnum):
            A = "a"
            B = "a"


def model_of(cls: Any) -> type[BaseModel]:
    class M(BaseModel):
        model_config = ConfigDict(extra="forbid")
        one: cls
        maybe: cls | None = None
        many: list[cls] = []

    return M


@pytest.mark.parametrize(
    "data",
    [
        {"one": "red"},
        {"one": "dark-blue", "many": ["red", "red"]},
        {"one": "green"},
        {"one": 1},
        {"one": None},
        {"one": "red", "maybe": "RED"},
    ],
)
def test_pydantic_validates_and_dumps_them_as_enum_strenums(data: dict[str, Any]) -> None:
    def outcome(cls: Any) -> Any:
        model = model_of(cls)
        out: list[Any] = []
        for strict in (False, True):
            for as_json in (False, True):
                try:
                    if as_json:
                        m = model.model_validate_json(json.dumps(data), strict=strict)
                    else:
                        m = model.model_validate(data, strict=strict)
                except ValidationError as e:
                    out.append([(err["type"], err["loc"], err["msg"].replace(cls.__name__, "X")) for err in e.errors()])
                else:
                    assert type(m.one) is cls and m.one is cls(data["one"])
                    out.append((m.model_dump(mode="json"), m.model_dump_json(), repr(m).replace(cls.__name__, "X")))
        return out

    assert outcome(Lite) == outcome(Real)


def test_pydantic_json_schema_is_enum_strenums() -> None:
    real = json.dumps(model_of(Real).model_json_schema())
    lite = json.dumps(model_of(Lite).model_json_schema())
    assert lite == real.replace('"Real"', '"Lite"').replace("#/$defs/Real", "#/$defs/Lite")
    assert '"enum": ["red", "dark-blue"]' in lite


def test_the_runtime_enums_do_not_import_enum() -> None:
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from libcontainer_py.spec._enums_core import NamespaceType\n"
        "from libcontainer_py.spec._enums_more import SeccompAction\n"
        "from libcontainer_py.cgroups.paths import Layout\n"
        "assert NamespaceType('pid') is NamespaceType.PID and Layout.V1.value == 'v1'\n"
        "print('enum' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
