"""The one rule for writing a model back out, shared by the pydantic models (_base.py) and their
pydantic-free mirror (fast.py): the input's key order first, then the rest, and ``None`` dropped for
the keys the model declares (Go's ``omitempty``) but kept for unknown ones."""

from __future__ import annotations

TYPE_CHECKING = False  # not `typing`: fast.py is imported by every pyrunc create, run and exec
if TYPE_CHECKING:
    from collections.abc import Iterable
    from typing import Any


def ordered(data: dict[str, Any], key_order: Iterable[str] | None, declared: frozenset[str]) -> dict[str, Any]:
    """``data`` (consumed) in the output order, without the declared keys whose value is None."""
    out: dict[str, Any] = {}
    for key in key_order or ():
        if key in data:
            value = data.pop(key)
            if value is not None or key not in declared:
                out[key] = value
    for key, value in data.items():
        if value is not None or key not in declared:
            out[key] = value
    return out
