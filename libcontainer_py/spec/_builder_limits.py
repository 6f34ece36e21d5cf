"""`SpecBuilder`'s methods for what the kernel enforces on the container: cgroup resources and the
seccomp filter."""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from typing import Any, Self

from libcontainer_py.errors import ConfigError
from libcontainer_py.spec._builder_base import (
    _INT64_MAX,
    _UINT32_MAX,
    _UINT64_MAX,
    BuilderBase,
    _check_uint,
    _err,
    _normalized,
    _with_prefix,
)

SECCOMP_ACTIONS: tuple[str, ...] = (
    "SCMP_ACT_KILL",
    "SCMP_ACT_KILL_PROCESS",
    "SCMP_ACT_KILL_THREAD",
    "SCMP_ACT_TRAP",
    "SCMP_ACT_ERRNO",
    "SCMP_ACT_TRACE",
    "SCMP_ACT_ALLOW",
    "SCMP_ACT_LOG",
    "SCMP_ACT_NOTIFY",
)

_SYSCALL_NAME = re.compile(r"^[a-z_][a-z0-9_]*$")


def normalize_seccomp_action(name: str) -> str:
    """`allow`, `ERRNO`, `SCMP_ACT_KILL`... -> the spec's `SCMP_ACT_*`; unknown -> ConfigError."""
    action = _with_prefix(name, "SCMP_ACT_")
    if action not in SECCOMP_ACTIONS:
        raise ConfigError(
            f"unknown seccomp action {name!r} (expected one of "
            f"{', '.join(a.removeprefix('SCMP_ACT_') for a in SECCOMP_ACTIONS)})"
        )
    return action


def _check_limit(method: str, what: str, value: int) -> int:
    """An int64 limit where -1 means unlimited."""
    if isinstance(value, bool) or not isinstance(value, int) or not -1 <= value <= _INT64_MAX:
        raise _err(method, f"must be {what} or -1 (got {value!r})")
    return value


def _deep_merge(into: dict[str, Any], update: Mapping[str, Any]) -> None:
    """Merge `update` into `into`: objects merge key by key, anything else (lists too) replaces."""
    for key, value in update.items():
        if isinstance(value, Mapping) and isinstance(into.get(key), dict):
            _deep_merge(into[key], value)
        else:
            into[key] = copy.deepcopy(value)


class LimitsMixin(BuilderBase):
    """linux.resources, linux.cgroupsPath, linux.seccomp."""

    # --- resources (cgroups) ----------------------------------------------------------------------

    def resources(self, resources: Any) -> Self:
        """Merge a `LinuxResources` model or a dict in the spec's JSON shape into linux.resources:
        objects merge key by key (so `{"memory": {"limit": N}}` keeps an existing swap setting),
        lists replace."""
        if isinstance(resources, Mapping):
            data: Mapping[str, Any] = resources
        elif hasattr(resources, "to_dict"):
            data = resources.to_dict()
        else:
            raise _err("resources", f"expected LinuxResources or a dict (got {type(resources).__name__})")
        _deep_merge(self._section("linux", "resources"), data)
        return self

    def memory_limit(self, limit: int) -> Self:
        """Memory limit in bytes (-1: unlimited)."""
        limit = _check_limit("memory_limit", "a number of bytes", limit)
        self._section("linux", "resources", "memory")["limit"] = limit
        return self

    def cpu_shares(self, shares: int) -> Self:
        """Relative CPU weight (cgroup v1 cpu.shares; converted to cpu.weight on v2)."""
        self._section("linux", "resources", "cpu")["shares"] = _check_uint("cpu_shares", "shares", shares, _UINT64_MAX)
        return self

    def cpu_quota(self, quota: int, period: int | None = None) -> Self:
        """CPU time in microseconds per period (-1: unlimited)."""
        self._section("linux", "resources", "cpu")["quota"] = _check_limit("cpu_quota", "microseconds", quota)
        if period is not None:
            self.cpu_period(period)
        return self

    def cpu_period(self, period: int) -> Self:
        self._section("linux", "resources", "cpu")["period"] = _check_uint("cpu_period", "period", period, _UINT64_MAX)
        return self

    def pids_limit(self, limit: int) -> Self:
        """Maximum number of tasks in the container (-1 or 0: unlimited)."""
        self._section("linux", "resources", "pids")["limit"] = _check_limit("pids_limit", "a number of tasks", limit)
        return self

    def cgroups_path(self, path: str) -> Self:
        self._linux()["cgroupsPath"] = path
        return self

    # --- seccomp ----------------------------------------------------------------------------------

    def _seccomp(self) -> dict[str, Any]:
        linux = self._linux()
        seccomp = linux.get("seccomp")
        if not isinstance(seccomp, dict):
            # A rule without a default action is not valid; the neutral choice is "allow
            # everything else", so rules alone act as a deny list. Call seccomp_default() to make
            # it an allow list instead.
            seccomp = linux["seccomp"] = {"defaultAction": "SCMP_ACT_ALLOW"}
        return seccomp

    def seccomp_default(self, action: str, errno_ret: int | None = None) -> Self:
        """The action for syscalls no rule matches (`allow`, `errno`, `kill`, `SCMP_ACT_LOG`...).
        Rules with the same action (and errno) become redundant and are removed, as
        oci-runtime-tool does."""
        act = _normalized("seccomp_default", normalize_seccomp_action, action)
        seccomp = self._seccomp()
        seccomp["defaultAction"] = act
        if errno_ret is not None:
            seccomp["defaultErrnoRet"] = _check_uint("seccomp_default", "errno_ret", errno_ret, _UINT32_MAX)
        else:
            seccomp.pop("defaultErrnoRet", None)
        seccomp["syscalls"] = [
            rule
            for rule in seccomp.get("syscalls") or []
            if rule.get("args") or rule.get("action") != act or rule.get("errnoRet") != seccomp.get("defaultErrnoRet")
        ]
        if not seccomp["syscalls"]:
            del seccomp["syscalls"]
        return self

    def seccomp_architectures(self, *arches: str) -> Self:
        """Architectures the filter covers (`x86_64` or `SCMP_ARCH_X86_64`)."""
        self._seccomp()["architectures"] = [
            a.upper() if a.upper().startswith("SCMP_ARCH_") else "SCMP_ARCH_" + a.upper() for a in arches
        ]
        return self

    def seccomp_rule(self, action: str, *names: str, errno_ret: int | None = None) -> Self:
        """Apply `action` to the named syscalls. A name given again later moves to the new action
        (last call wins), so `.seccomp_kill("ptrace").seccomp_allow("ptrace")` allows it. Rules with
        argument filters are left alone."""
        method = "seccomp_rule"
        act = _normalized(method, normalize_seccomp_action, action)
        if not names:
            raise _err(method, "need at least one syscall name")
        for name in names:
            if not isinstance(name, str) or not _SYSCALL_NAME.match(name):
                raise _err(method, f"invalid syscall name {name!r}")
        if errno_ret is not None:
            _check_uint(method, "errno_ret", errno_ret, _UINT32_MAX)
        seccomp = self._seccomp()
        wanted = set(names)
        rules: list[dict[str, Any]] = []
        for rule in seccomp.get("syscalls") or []:
            if not rule.get("args"):
                rule = {**rule, "names": [n for n in rule.get("names") or [] if n not in wanted]}
                if not rule["names"]:
                    continue
            rules.append(rule)
        for rule in rules:
            if not rule.get("args") and rule.get("action") == act and rule.get("errnoRet") == errno_ret:
                rule["names"] = rule["names"] + [n for n in names if n not in rule["names"]]
                break
        else:
            new: dict[str, Any] = {"names": list(dict.fromkeys(names)), "action": act}
            if errno_ret is not None:
                new["errnoRet"] = errno_ret
            rules.append(new)
        seccomp["syscalls"] = rules
        return self

    def seccomp_allow(self, *names: str) -> Self:
        return self.seccomp_rule("SCMP_ACT_ALLOW", *names)

    def seccomp_errno(self, *names: str, errno_ret: int | None = None) -> Self:
        """Make the syscalls fail with `errno_ret` (EPERM when not given, per the spec)."""
        return self.seccomp_rule("SCMP_ACT_ERRNO", *names, errno_ret=errno_ret)

    def seccomp_kill(self, *names: str) -> Self:
        """Kill the thread calling them (SCMP_ACT_KILL)."""
        return self.seccomp_rule("SCMP_ACT_KILL", *names)

    def no_seccomp(self) -> Self:
        self._linux().pop("seccomp", None)
        return self

    def with_default_seccomp(self) -> Self:
        """A Docker-like default profile (about 300 allowed syscalls, the rest EPERM), adjusted
        to the bounding capabilities the spec has now: call it after add/drop_capabilities.
        `runc spec` has none; `pyrunc generate --seccomp-default-profile` is the same."""
        from libcontainer_py.seccomp.profiles import default_profile

        caps = self._config.get("process", {}).get("capabilities", {}).get("bounding")
        self._linux()["seccomp"] = default_profile(capabilities=caps)
        return self
