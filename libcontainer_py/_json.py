"""json.loads and json.dumps for the runtime's own documents, without importing `json`.

Why: the json package imports `re` (and with it enum, functools, sre): ~5 ms of every pyrunc call
on the project's machine, as much as a whole `runc state`. The work itself is done by the same C
accelerator the json package uses (`_json`: its scanner, and its encoder for compact output); this
module only wires it up, plus an indenting writer, since `_json`'s encoder does not indent. The
output is byte for byte what ``json.dumps`` gives with the same arguments (tested, hypothesis
included); anything that is not a plain JSON value (a subclass, a non-str key, NaN...) is handed to
the json package itself, so nothing is ever written differently.
"""

# No `from __future__ import annotations`: `pyrunc state` and `events --stats` import this module,
# and the __future__ module costs them ~0.15 ms (tests/integration/test_cli_imports.py); annotations
# that name TYPE_CHECKING imports are strings.
import _json

TYPE_CHECKING = False  # not `typing`: its import costs ~3 ms of every pyrunc call
if TYPE_CHECKING:
    from typing import Any

_WHITESPACE = " \t\n\r"
_encode_str = _json.encode_basestring_ascii  # json.dumps' default, ensure_ascii=True


class _Context:
    """What _json.make_scanner reads from a json.JSONDecoder: the defaults of json.loads."""

    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int
    memo: dict[str, str] = {}

    @staticmethod
    def parse_constant(name: str) -> float:
        return float(name.replace("Infinity", "inf"))  # NaN, Infinity, -Infinity, as json.loads


_scan = _json.make_scanner(_Context())  # type: ignore[arg-type]  # typeshed wants a JSONDecoder; any object with its attributes does


def loads(text: str | bytes | bytearray) -> "Any":
    """json.loads(text). Errors are json.JSONDecodeError (a ValueError), raised by the json package."""
    if not isinstance(text, str):
        raw = bytes(text)
        if raw[:3] == b"\xef\xbb\xbf" or b"\x00" in raw[:4] or raw[:2] in (b"\xff\xfe", b"\xfe\xff"):
            import json  # a BOM, or UTF-16/32: json.detect_encoding's cases other than plain UTF-8

            return json.loads(raw)
        text = raw.decode("utf-8", "surrogatepass")  # as json.loads decodes UTF-8
    start = 0
    end = len(text)
    while start < end and text[start] in _WHITESPACE:
        start += 1
    try:
        value, pos = _scan(text, start)
    except (StopIteration, ValueError, SystemError):
        # A syntax error. _json raises json.decoder.JSONDecodeError, which it looks up in sys.modules
        # only: before the json package is loaded that fails as a SystemError. Either way the json
        # package parses it again below and raises the real error, with its line and column.
        pos = -1
    else:
        while pos < end and text[pos] in _WHITESPACE:
            pos += 1
        if pos == end:
            return value
    import json  # an invalid document: let the json package say exactly what is wrong

    return json.loads(text)


def _plain(value: "Any") -> bool:
    """Only exact JSON types with str keys and finite floats: those this module writes like json."""
    kind = type(value)
    if kind is str or kind is int or kind is bool or value is None:
        return True
    if kind is float:
        return value == value and value not in (float("inf"), float("-inf"))
    if kind is list or kind is tuple:
        return all(_plain(v) for v in value)
    if kind is dict:
        return all(type(k) is str and _plain(v) for k, v in value.items())
    return False


def _write(value: "Any", indent: str, level: int, sort_keys: bool, item_sep: str, key_sep: str, out: list[str]) -> None:
    kind = type(value)
    if kind is str:
        out.append(_encode_str(value))
    elif value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif kind is int:
        out.append(int.__repr__(value))
    elif kind is float:
        out.append(float.__repr__(value))
    elif kind is dict or kind is list or kind is tuple:
        is_dict = kind is dict
        if not value:
            out.append("{}" if is_dict else "[]")
            return
        inner = "\n" + indent * (level + 1)
        out.append("{" if is_dict else "[")
        items = (sorted(value.items()) if sort_keys else value.items()) if is_dict else value
        first = True
        for item in items:
            out.append(inner if first else item_sep + inner)
            first = False
            if is_dict:
                out.append(_encode_str(item[0]))
                out.append(key_sep)
                _write(item[1], indent, level + 1, sort_keys, item_sep, key_sep, out)
            else:
                _write(item, indent, level + 1, sort_keys, item_sep, key_sep, out)
        out.append("\n" + indent * level + ("}" if is_dict else "]"))


def _unserializable(value: "Any") -> "Any":
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")  # _plain() let it by


def dumps(
    value: "Any",
    *,
    indent: int | str | None = None,
    sort_keys: bool = False,
    separators: tuple[str, str] | None = None,
) -> str:
    """json.dumps(value, indent=..., sort_keys=..., separators=...), the other arguments as default."""
    if not _plain(value):
        import json

        return json.dumps(value, indent=indent, sort_keys=sort_keys, separators=separators)
    if separators is not None:
        item_sep, key_sep = separators
    else:
        item_sep, key_sep = ("," if indent is not None else ", "), ": "
    if indent is None:
        # (markers, default, encoder, indent, key_separator, item_separator, sort_keys, skipkeys, allow_nan)
        encoder = _json.make_encoder(
            None, _unserializable, _encode_str, None, key_sep, item_sep, sort_keys, False, True
        )
        return "".join(encoder(value, 0))
    out: list[str] = []
    _write(value, " " * indent if isinstance(indent, int) else indent, 0, sort_keys, item_sep, key_sep, out)
    return "".join(out)
