"""`SpecBuilder`'s methods for what the container sees of the machine: mounts, namespaces and id
mappings, sysctls, masked and read-only paths."""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any, Self

from libcontainer_py.errors import ConfigError
from libcontainer_py.spec._builder_base import (
    _UINT32_MAX,
    BuilderBase,
    _check_abs,
    _check_uint,
    _err,
    _normalized,
    _replace_or_append,
)

NAMESPACE_TYPES: tuple[str, ...] = ("pid", "network", "mount", "ipc", "uts", "user", "cgroup", "time")
# The short names used by /proc/PID/ns/ and by unshare(1), accepted as a convenience.
_NAMESPACE_ALIASES = {"net": "network", "mnt": "mount"}

#: oci-runtime-tool's default options for `--tmpfs DEST` without options.
DEFAULT_TMPFS_OPTIONS: tuple[str, ...] = ("rw", "noexec", "nosuid", "nodev", "size=65536k")


def normalize_namespace(name: str) -> str:
    """`network`/`net`, `mount`/`mnt`, `pid`, ... (any case) -> the spec's type; unknown -> ConfigError."""
    lower = name.strip().lower()
    ns = _NAMESPACE_ALIASES.get(lower, lower)
    if ns not in NAMESPACE_TYPES:
        raise ConfigError(f"unknown namespace type {name!r} (expected one of {', '.join(NAMESPACE_TYPES)})")
    return ns


class IsolationMixin(BuilderBase):
    """mounts, linux.namespaces, uid/gid mappings, sysctl, masked and read-only paths."""

    # --- mounts -----------------------------------------------------------------------------------

    def mount(
        self,
        destination: str,
        type: str | None = None,
        source: str | None = None,
        options: Iterable[str] = (),
    ) -> Self:
        """Add a mount, replacing any mount at the same destination (in place, so the mount order,
        which matters for nested destinations, is kept)."""
        entry: dict[str, Any] = {"destination": _check_abs("mount", "destination", destination)}
        if type is not None:
            entry["type"] = type
        if source is not None:
            entry["source"] = source
        opts = list(options)
        if opts:
            entry["options"] = opts
        mounts: list[dict[str, Any]] = self._config.setdefault("mounts", [])
        norm = os.path.normpath(destination)
        for i, existing in enumerate(mounts):
            if os.path.normpath(str(existing.get("destination", ""))) == norm:
                mounts[i] = entry
                break
        else:
            mounts.append(entry)
        return self

    def bind_mount(self, source: str, destination: str, options: Iterable[str] = ()) -> Self:
        """Bind-mount a host path. Options like `ro`, `rbind`, `nosuid`; without `bind` or `rbind`,
        `rbind` is added (Docker's and podman's default: a plain bind silently hides the submounts of
        the source, which surprises people)."""
        _check_abs("bind_mount", "source", source)
        opts = list(options)
        if "bind" not in opts and "rbind" not in opts:
            opts.insert(0, "rbind")
        return self.mount(destination, "bind", source, opts)

    def tmpfs(self, destination: str, options: Iterable[str] | None = None) -> Self:
        """A tmpfs at `destination`; without options: rw,noexec,nosuid,nodev,size=65536k."""
        opts = list(DEFAULT_TMPFS_OPTIONS if options is None else options)
        return self.mount(destination, "tmpfs", "tmpfs", opts)

    def remove_mount(self, destination: str) -> Self:
        norm = os.path.normpath(destination)
        self._config["mounts"] = [
            m for m in self._config.get("mounts") or [] if os.path.normpath(str(m.get("destination"))) != norm
        ]
        return self

    # --- namespaces and id mappings ---------------------------------------------------------------

    def add_namespace(self, type: str, path: str | None = None) -> Self:
        """Create a new namespace of this type, or join the one at `path` (/proc/PID/ns/TYPE or a
        bind-mounted nsfs file). Replaces an existing entry of the same type."""
        ns_type = _normalized("add_namespace", normalize_namespace, type)
        entry: dict[str, Any] = {"type": ns_type}
        if path is not None:
            entry["path"] = _check_abs("add_namespace", "path", path)
        _replace_or_append(self._linux().setdefault("namespaces", []), entry, "type")
        return self

    def join_namespace(self, type: str, path: str) -> Self:
        """Join an existing namespace: `.join_namespace("network", "/var/run/netns/blue")`."""
        return self.add_namespace(type, _check_abs("join_namespace", "path", path))

    def remove_namespace(self, type: str) -> Self:
        """Share the host's namespace of this type."""
        ns_type = _normalized("remove_namespace", normalize_namespace, type)
        linux = self._linux()
        linux["namespaces"] = [ns for ns in linux.get("namespaces") or [] if ns.get("type") != ns_type]
        return self

    def _mapping(self, method: str, key: str, container_id: int, host_id: int, size: int) -> Self:
        entry = {
            "containerID": _check_uint(method, "container_id", container_id, _UINT32_MAX),
            "hostID": _check_uint(method, "host_id", host_id, _UINT32_MAX),
            "size": _check_uint(method, "size", size, _UINT32_MAX),
        }
        if size == 0:
            raise _err(method, "size must be at least 1")
        self._linux().setdefault(key, []).append(entry)
        # Mappings mean nothing without a user namespace; add one (unless one is being joined).
        if not any(ns.get("type") == "user" for ns in self._linux().get("namespaces") or []):
            self.add_namespace("user")
        return self

    def uid_mapping(self, *, container_id: int, host_id: int, size: int = 1) -> Self:
        """Map `size` uids from `host_id` on the host to `container_id` in the container (keyword-only,
        because the order differs between tools). Adds a user namespace if there is none."""
        return self._mapping("uid_mapping", "uidMappings", container_id, host_id, size)

    def gid_mapping(self, *, container_id: int, host_id: int, size: int = 1) -> Self:
        """Like `uid_mapping`, for gids."""
        return self._mapping("gid_mapping", "gidMappings", container_id, host_id, size)

    # --- linux extras -----------------------------------------------------------------------------

    def sysctl(self, key: str, value: str) -> Self:
        self._linux().setdefault("sysctl", {})[key] = value
        return self

    def masked_paths(self, *paths: str) -> Self:
        """Replace linux.maskedPaths."""
        self._linux()["maskedPaths"] = [_check_abs("masked_paths", "path", p) for p in paths]
        return self

    def readonly_paths(self, *paths: str) -> Self:
        """Replace linux.readonlyPaths."""
        self._linux()["readonlyPaths"] = [_check_abs("readonly_paths", "path", p) for p in paths]
        return self
