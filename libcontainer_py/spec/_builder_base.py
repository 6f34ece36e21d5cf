"""What every part of `SpecBuilder` stands on: the dict being built, its section helpers, and the
argument checks that raise `ConfigError` naming the builder method.

`SpecBuilder` (builder.py) is composed of one mixin per topic (_builder_process.py,
_builder_isolation.py, _builder_limits.py, _builder_hooks.py); each derives from `BuilderBase` and
edits `self._config` only through what is here and in its own module.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from libcontainer_py.errors import ConfigError

_UINT32_MAX = 2**32 - 1
_UINT64_MAX = 2**64 - 1
_INT64_MAX = 2**63 - 1


def _err(method: str, message: str) -> ConfigError:
    return ConfigError(f"{method}: {message}")


def _with_prefix(name: str, prefix: str) -> str:
    """`net_admin`, `NET_ADMIN`, `cap_net_admin` with the prefix `CAP_` -> `CAP_NET_ADMIN` (unchecked)."""
    upper = name.strip().upper()
    return upper if upper.startswith(prefix) else prefix + upper


def _normalized(method: str, normalize: Callable[[str], str], name: str) -> str:
    """`normalize(name)`, its ConfigError prefixed with the name of the builder method called."""
    try:
        return normalize(name)
    except ConfigError as exc:
        raise _err(method, str(exc)) from None


def _check_uint(method: str, what: str, value: int, maximum: int) -> int:
    # bool is an int subclass; True as a uid is always a mistake.
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= maximum:
        raise _err(method, f"{what} must be an integer between 0 and {maximum} (got {value!r})")
    return value


def _check_abs(method: str, what: str, path: str) -> str:
    if not isinstance(path, str) or not path.startswith("/"):
        raise _err(method, f"{what} must be an absolute path (got {path!r})")
    return path


def _replace_or_append(entries: list[dict[str, Any]], entry: dict[str, Any], key: str) -> None:
    """Put `entry` in place of the first entry with the same `key` (keeping the order), or last."""
    for i, existing in enumerate(entries):
        if existing.get(key) == entry[key]:
            entries[i] = entry
            return
    entries.append(entry)


class BuilderBase:
    """The config being built (set by `SpecBuilder.__init__`) and the helpers that find or make
    its sections."""

    _config: dict[str, Any]

    def _section(self, *keys: str) -> dict[str, Any]:
        """The object at config[k1][k2]..., created (empty) where missing."""
        node = self._config
        for key in keys:
            child = node.get(key)
            if not isinstance(child, dict):
                child = node[key] = {}
            node = child
        return node

    def _process(self) -> dict[str, Any]:
        process = self._section("process")
        # `cwd` is the one required field of process; give a new process object a valid one.
        process.setdefault("cwd", "/")
        return process

    def _linux(self) -> dict[str, Any]:
        return self._section("linux")
