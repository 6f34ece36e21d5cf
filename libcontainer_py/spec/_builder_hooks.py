"""`SpecBuilder`'s hook methods: any OCI hook, and the `pyrunc-netns` pair that gives a network."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Self

from libcontainer_py.errors import ConfigError
from libcontainer_py.spec._builder_base import BuilderBase, _check_abs, _err, _normalized

#: Hook kinds as spelled in config.json, in lifecycle order.
HOOK_KINDS: tuple[str, ...] = (
    "prestart",
    "createRuntime",
    "createContainer",
    "startContainer",
    "poststart",
    "poststop",
)
_HOOK_ALIASES = {kind.lower(): kind for kind in HOOK_KINDS} | {
    "create_runtime": "createRuntime",
    "create_container": "createContainer",
    "start_container": "startContainer",
}


def normalize_hook_kind(name: str) -> str:
    """`prestart`, `createRuntime`, `create_runtime`, `createruntime` -> the spec's key."""
    kind = _HOOK_ALIASES.get(name.strip().lower())
    if kind is None:
        raise ConfigError(f"unknown hook kind {name!r} (expected one of {', '.join(HOOK_KINDS)})")
    return kind


class HooksMixin(BuilderBase):
    """hooks, and with_network()'s pair of them."""

    def hook(
        self,
        kind: str,
        path: str,
        args: Iterable[str] | None = None,
        *,
        env: Iterable[str] | None = None,
        timeout: int | None = None,
    ) -> Self:
        """Append a hook. `kind`: prestart, createRuntime, createContainer, startContainer, poststart
        or poststop (snake_case accepted). `args` is the whole argv, as in the spec: args[0] is
        conventionally the program name, e.g. `.hook("poststop", "/bin/rm", ["rm", "-f", "/x"])`.
        `timeout` in seconds (> 0)."""
        key = _normalized("hook", normalize_hook_kind, kind)
        entry: dict[str, Any] = {"path": _check_abs("hook", "path", path)}
        if args is not None:
            entry["args"] = list(args)
        if env is not None:
            entry["env"] = list(env)
            for item in entry["env"]:
                if "=" not in item:
                    raise _err("hook", f"env entries must be NAME=VALUE (got {item!r})")
        if timeout is not None:
            if isinstance(timeout, bool) or not isinstance(timeout, int) or timeout <= 0:
                raise _err("hook", f"timeout must be a positive number of seconds (got {timeout!r})")
            entry["timeout"] = timeout
        self._section("hooks").setdefault(key, []).append(entry)
        return self

    def with_network(
        self,
        bridge: str = "pyrunc0",
        subnet: str = "10.88.0.0/16",
        *,
        host_netns: str | None = None,
        state_root: str | None = None,
        kind: str = "createRuntime",
    ) -> Self:
        """Give the container a network as in the talk: the `pyrunc-netns` hook (createRuntime,
        or prestart) makes or reuses `bridge` with the subnet's first address, a veth pair with
        eth0 in the container, an address and a default route; its poststop twin tears it down.
        `host_netns` puts the bridge in that network namespace instead of the runtime's."""
        from libcontainer_py.network import add_network_hooks

        add_network_hooks(self._config, bridge, subnet, host_netns=host_netns, state_root=state_root, kind=kind)
        return self
