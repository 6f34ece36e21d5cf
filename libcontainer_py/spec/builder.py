"""A fluent builder for config.json: what `oci-runtime-tool generate` does, as a Python API.

    spec = (
        SpecBuilder.default()
        .args("sh", "-c", "date")
        .env("A=1")
        .hostname("c1")
        .build()
    )

Design:

* The builder edits a plain dict in the spec's JSON shape (camelCase keys), not the pydantic models.
  Most edits are "find the entry with this key and replace it, or append" on lists of small objects
  (env, mounts, namespaces, rlimits, seccomp rules); on dicts that is a few lines each and leaves
  unknown (newer-spec or vendor) fields exactly as they were. `build()` then validates the whole
  document once through `Spec` and `validate_runtime`, which is where schema errors are caught.
* Each method checks its own arguments at once and raises `ConfigError` naming the method and the
  value, so a mistake is reported where it was made, not at `build()`.
* Every method returns `self`. Calls apply in the order made; later calls win
  (`.env("A=1").env("A=2")` leaves `A=2`).

The methods live in one mixin per topic, composed here (every name below is still importable from
this module):

* `_builder_process.py`: process, user, capabilities, rlimits (`normalize_capability`,
  `normalize_rlimit`, `ALL_CAPABILITIES`, `RLIMIT_TYPES`);
* `_builder_isolation.py`: mounts, namespaces and id mappings, sysctl, masked and read-only paths
  (`normalize_namespace`, `NAMESPACE_TYPES`, `DEFAULT_TMPFS_OPTIONS`);
* `_builder_limits.py`: cgroup resources and seccomp (`normalize_seccomp_action`, `SECCOMP_ACTIONS`);
* `_builder_hooks.py`: hooks and `with_network` (`normalize_hook_kind`, `HOOK_KINDS`);
* `_builder_base.py`: the section helpers and argument checks they share;
* this module: the starting points, `build()`, and the top-level fields (root, hostname, annotations).
"""

from __future__ import annotations

import copy
import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self

from libcontainer_py.spec._builder_base import _err
from libcontainer_py.spec._builder_hooks import HOOK_KINDS, HooksMixin, normalize_hook_kind
from libcontainer_py.spec._builder_isolation import (
    DEFAULT_TMPFS_OPTIONS,
    NAMESPACE_TYPES,
    IsolationMixin,
    normalize_namespace,
)
from libcontainer_py.spec._builder_limits import SECCOMP_ACTIONS, LimitsMixin, normalize_seccomp_action
from libcontainer_py.spec._builder_process import (
    ALL_CAPABILITIES,
    RLIMIT_TYPES,
    ProcessMixin,
    normalize_capability,
    normalize_rlimit,
)
from libcontainer_py.spec.defaults import default_config, rootless_config

if TYPE_CHECKING:
    from libcontainer_py.spec import Spec


class SpecBuilder(ProcessMixin, IsolationMixin, LimitsMixin, HooksMixin):
    """Builds a config.json. Start from `SpecBuilder.default()` (what `runc spec` writes),
    `SpecBuilder.default(rootless=True)`, or any Spec / dict (`SpecBuilder(spec)`)."""

    def __init__(self, base: Spec | Mapping[str, Any] | None = None) -> None:
        if base is None:
            self._config = default_config()
        elif isinstance(base, Mapping):
            self._config = copy.deepcopy(dict(base))
        else:
            self._config = base.to_dict()
        #: The runtime validator's warnings from the last build().
        self.warnings: list[str] = []

    # --- starting points --------------------------------------------------------------------------

    @classmethod
    def default(cls, rootless: bool = False) -> Self:
        """Start from `runc spec` (or `runc spec --rootless`)."""
        return cls(rootless_config() if rootless else default_config())

    @classmethod
    def from_spec(cls, spec: Spec | Mapping[str, Any]) -> Self:
        """Start from an existing Spec (or its dict); the original is not modified."""
        return cls(spec)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Self:
        """Start from a config.json file (or a bundle directory), validated on the way in."""
        from libcontainer_py.spec import Spec

        return cls(Spec.load(path))

    # --- output -----------------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """A copy of the config as built so far, not validated (cheap; no pydantic)."""
        return copy.deepcopy(self._config)

    def build(self) -> Spec:
        """Validate against the schema (the models) and the runtime rules; return the Spec.

        Raises ConfigError naming the first problem's JSON path (and how many more there are).
        What runc would only warn about (an unknown capability name...) does not fail the build:
        it is left in `self.warnings` as "json.path: message" strings."""
        from libcontainer_py.spec import Spec
        from libcontainer_py.spec.validate import validate_runtime

        spec = Spec.from_dict(self.to_dict(), source="SpecBuilder")
        self.warnings = validate_runtime(spec, source="SpecBuilder")
        return spec

    # --- root, hostname, annotations --------------------------------------------------------------

    def rootfs(self, path: str) -> Self:
        """The root filesystem: absolute, or relative to the bundle directory."""
        if not isinstance(path, str) or not path:
            raise _err("rootfs", f"path must be a non-empty string (got {path!r})")
        self._section("root")["path"] = path
        return self

    def readonly_rootfs(self, readonly: bool = True) -> Self:
        root = self._section("root")
        root.setdefault("path", "rootfs")
        root["readonly"] = bool(readonly)
        return self

    def hostname(self, name: str) -> Self:
        """The hostname (needs a uts namespace, which the defaults have)."""
        if not isinstance(name, str):
            raise _err("hostname", f"must be a string (got {name!r})")
        self._config["hostname"] = name
        return self

    def domainname(self, name: str) -> Self:
        self._config["domainname"] = name
        return self

    def annotation(self, key: str, value: str) -> Self:
        if not isinstance(key, str) or not key or not isinstance(value, str):
            raise _err("annotation", f"key and value must be strings, key non-empty (got {key!r}={value!r})")
        self._config.setdefault("annotations", {})[key] = value
        return self

    def annotations(self, values: Mapping[str, str]) -> Self:
        for key, value in values.items():
            self.annotation(key, value)
        return self


__all__ = [
    "ALL_CAPABILITIES",
    "DEFAULT_TMPFS_OPTIONS",
    "HOOK_KINDS",
    "NAMESPACE_TYPES",
    "RLIMIT_TYPES",
    "SECCOMP_ACTIONS",
    "SpecBuilder",
    "normalize_capability",
    "normalize_hook_kind",
    "normalize_namespace",
    "normalize_rlimit",
    "normalize_seccomp_action",
]
