"""libcontainer_py._json writes and reads exactly as the json package does, without importing it."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from libcontainer_py import _json

values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda inner: (
        st.lists(inner, max_size=4) | st.tuples(inner, inner) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=25,
)
FORMATS: list[dict[str, Any]] = [
    {},
    {"indent": 2},
    {"indent": 1, "sort_keys": True},
    {"indent": 4},
    {"indent": "\t"},
    {"indent": 0},
    {"separators": (",", ":")},
    {"sort_keys": True, "separators": (",", ":")},
    {"indent": 2, "separators": (",", ": ")},
]


@settings(max_examples=300, deadline=None)
@given(value=values, fmt=st.sampled_from(FORMATS))
def test_dumps_is_json_dumps(value: Any, fmt: dict[str, Any]) -> None:
    try:
        expected = json.dumps(value, **fmt)
    except TypeError:  # sort_keys over keys of mixed types: both must refuse
        with pytest.raises(TypeError):
            _json.dumps(value, **fmt)
        return
    assert _json.dumps(value, **fmt) == expected


@settings(max_examples=300, deadline=None)
@given(value=values, fmt=st.sampled_from(FORMATS))
def test_loads_is_json_loads(value: Any, fmt: dict[str, Any]) -> None:
    text = json.dumps(value, **fmt)
    got, expected = _json.loads("\n " + text + " \t"), json.loads("\n " + text + " \t")
    assert repr(got) == repr(expected)  # repr: NaN != NaN, and 1 == 1.0 == True would hide a type change


def test_what_is_not_plain_json_goes_to_the_json_package() -> None:
    class Sub(str):
        pass

    odd = {"nan": math.nan, "inf": -math.inf, 1: "int key", "sub": Sub("s")}
    assert _json.dumps(odd, indent=2) == json.dumps(odd, indent=2)
    for raw in (b'{"a": "\xc3\xa9"}', '{"a": 1}'.encode("utf-16"), b'\xef\xbb\xbf{"a": 1}', b"[1, 2]"):
        assert _json.loads(raw) == json.loads(raw)
    with pytest.raises(ValueError):
        _json.loads(b'{"a": "\xff"}')  # invalid UTF-8: json raises UnicodeDecodeError, a ValueError


@pytest.mark.parametrize("bad", ["", "   ", "{", '{"a": 1} x', "[1,]", "nul", '"\\x"'])
def test_invalid_documents_raise_json_errors(bad: str) -> None:
    with pytest.raises(json.JSONDecodeError) as expected:
        json.loads(bad)
    with pytest.raises(json.JSONDecodeError) as got:
        _json.loads(bad)
    assert str(got.value) == str(expected.value)


def test_invalid_documents_raise_json_errors_without_json_loaded() -> None:
    code = (
        "import sys, libcontainer_py._json as j\n"
        "try:\n    j.loads('{\"a\": }')\n"
        "except ValueError as e:\n    print(type(e).__name__, e.lineno, e.colno)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["JSONDecodeError", "1", "7"]


def test_importing_it_imports_neither_json_nor_re() -> None:
    code = (
        "import sys, libcontainer_py._json as j; j.loads(j.dumps({'a': [1, 2.5]}, indent=2)); "
        "print(sorted(m for m in ('json', 're') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
