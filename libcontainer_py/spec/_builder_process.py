"""`SpecBuilder`'s process methods: argv, environment, cwd, terminal, user, capabilities, rlimits."""

from __future__ import annotations

import re
from typing import Any, Self

from libcontainer_py.errors import ConfigError
from libcontainer_py.spec._builder_base import (
    _UINT32_MAX,
    _UINT64_MAX,
    BuilderBase,
    _check_abs,
    _check_uint,
    _err,
    _normalized,
    _replace_or_append,
    _with_prefix,
)
from libcontainer_py.spec.caps import CAPABILITIES
from libcontainer_py.spec.defaults import DEFAULT_CAPABILITY_SETS

#: Every capability the kernel defines, in number order (spec/caps.py). `privileged()` grants them
#: all; runc ignores, with a warning, those the host kernel lacks.
ALL_CAPABILITIES: tuple[str, ...] = CAPABILITIES
_CAPABILITY_SET = frozenset(ALL_CAPABILITIES)
_ALL_CAPABILITY_SETS = ("bounding", "effective", "inheritable", "permitted", "ambient")

RLIMIT_TYPES: tuple[str, ...] = (
    "RLIMIT_AS",
    "RLIMIT_CORE",
    "RLIMIT_CPU",
    "RLIMIT_DATA",
    "RLIMIT_FSIZE",
    "RLIMIT_LOCKS",
    "RLIMIT_MEMLOCK",
    "RLIMIT_MSGQUEUE",
    "RLIMIT_NICE",
    "RLIMIT_NOFILE",
    "RLIMIT_NPROC",
    "RLIMIT_RSS",
    "RLIMIT_RTPRIO",
    "RLIMIT_RTTIME",
    "RLIMIT_SIGPENDING",
    "RLIMIT_STACK",
)

_ENV_NAME = re.compile(r"^[^=\0]+$")


def normalize_capability(name: str) -> str:
    """`net_admin`, `NET_ADMIN`, `cap_net_admin` -> `CAP_NET_ADMIN`; unknown names -> ConfigError."""
    cap = _with_prefix(name, "CAP_")
    if cap not in _CAPABILITY_SET:
        raise ConfigError(f"unknown capability {name!r} (expected a name like NET_ADMIN or CAP_NET_ADMIN)")
    return cap


def normalize_rlimit(name: str) -> str:
    """`nofile`, `NOFILE`, `RLIMIT_NOFILE` -> `RLIMIT_NOFILE`; unknown -> ConfigError."""
    rlimit = _with_prefix(name, "RLIMIT_")
    if rlimit not in RLIMIT_TYPES:
        raise ConfigError(f"unknown rlimit {name!r} (expected one of {', '.join(RLIMIT_TYPES)})")
    return rlimit


class ProcessMixin(BuilderBase):
    """process: argv, environment, cwd, terminal, user, capabilities, rlimits."""

    # --- process ----------------------------------------------------------------------------------

    def args(self, *args: str) -> Self:
        """The command and its arguments (replaces the previous ones): `.args("sh", "-c", "date")`."""
        if not args or not all(isinstance(a, str) for a in args):
            raise _err("args", f"need at least one string argument (got {args!r})")
        self._process()["args"] = list(args)
        return self

    def env(self, *entries: str, **values: str) -> Self:
        """Set environment variables, replacing any of the same name, keeping the others in order:
        `.env("A=1", "B=2")` or `.env(A="1")`."""
        pairs: list[tuple[str, str]] = []
        for entry in entries:
            name, eq, value = entry.partition("=") if isinstance(entry, str) else ("", "", "")
            if not eq or not _ENV_NAME.match(name):
                raise _err("env", f"expected NAME=VALUE (got {entry!r})")
            pairs.append((name, value))
        pairs += [(name, str(value)) for name, value in values.items()]
        process = self._process()
        current: list[str] = list(process.get("env") or [])
        for name, value in pairs:
            entry = f"{name}={value}"
            for i, existing in enumerate(current):
                if existing.partition("=")[0] == name:
                    current[i] = entry
                    break
            else:
                current.append(entry)
        process["env"] = current
        return self

    def unset_env(self, *names: str) -> Self:
        """Remove environment variables by name."""
        process = self._process()
        process["env"] = [e for e in process.get("env") or [] if e.partition("=")[0] not in names]
        return self

    def cwd(self, path: str) -> Self:
        """The working directory in the container (absolute)."""
        self._process()["cwd"] = _check_abs("cwd", "the working directory", path)
        return self

    def terminal(self, enabled: bool = True) -> Self:
        """Give the process a pseudo-terminal (`runc spec` does; use `.terminal(False)` for scripts)."""
        self._process()["terminal"] = bool(enabled)
        return self

    def _user(self) -> dict[str, Any]:
        # runc treats a missing uid or gid as 0; write both so the file says what will happen.
        user = self._section("process", "user")
        user.setdefault("uid", 0)
        user.setdefault("gid", 0)
        return user

    def uid(self, uid: int) -> Self:
        self._process()
        self._user()["uid"] = _check_uint("uid", "uid", uid, _UINT32_MAX)
        return self

    def gid(self, gid: int) -> Self:
        self._process()
        self._user()["gid"] = _check_uint("gid", "gid", gid, _UINT32_MAX)
        return self

    def additional_gids(self, *gids: int) -> Self:
        """Supplementary groups (replaces the previous list; no arguments clears it)."""
        checked = [_check_uint("additional_gids", "gid", g, _UINT32_MAX) for g in gids]
        self._process()
        user = self._user()
        if checked:
            user["additionalGids"] = checked
        else:
            user.pop("additionalGids", None)
        return self

    def no_new_privileges(self, enabled: bool = True) -> Self:
        self._process()["noNewPrivileges"] = bool(enabled)
        return self

    # --- capabilities -----------------------------------------------------------------------------

    def _capabilities(self) -> dict[str, Any]:
        self._process()
        return self._section("process", "capabilities")

    def add_capabilities(self, *names: str) -> Self:
        """Add capabilities (`NET_ADMIN`, `cap_net_admin`...) to the bounding, effective, permitted and
        ambient sets, and to `inheritable` only if the config already has that set: runc stopped
        filling it after CVE-2022-29162, and we do not bring it back behind the user's back."""
        caps = list(dict.fromkeys(_normalized("add_capabilities", normalize_capability, n) for n in names))
        sets = self._capabilities()
        targets = list(DEFAULT_CAPABILITY_SETS) + (["inheritable"] if "inheritable" in sets else [])
        for set_name in targets:
            current: list[str] = list(sets.get(set_name) or [])
            current += [c for c in caps if c not in current]
            sets[set_name] = current
        return self

    def drop_capabilities(self, *names: str) -> Self:
        """Remove capabilities from every set. `drop_capabilities("ALL")` empties them all."""
        sets = self._capabilities()
        if any(n.strip().upper() in ("ALL", "CAP_ALL") for n in names):
            for set_name in _ALL_CAPABILITY_SETS:
                if set_name in sets:
                    sets[set_name] = []
            return self
        caps = {_normalized("drop_capabilities", normalize_capability, n) for n in names}
        for set_name in _ALL_CAPABILITY_SETS:
            if set_name in sets:
                sets[set_name] = [c for c in sets[set_name] or [] if c not in caps]
        return self

    def privileged(self, enabled: bool = True) -> Self:
        """Like `docker run --privileged` / `oci-runtime-tool generate --privileged`: every capability,
        no masked or read-only paths, no seccomp filter, no AppArmor/SELinux label. Does nothing when
        `enabled` is false (there is no "unprivileged" undo: start from `default()` instead)."""
        if not enabled:
            return self
        sets = self._capabilities()
        for set_name in DEFAULT_CAPABILITY_SETS:
            sets[set_name] = list(ALL_CAPABILITIES)
        process = self._process()
        process.pop("apparmorProfile", None)
        process.pop("selinuxLabel", None)
        linux = self._linux()
        for key in ("maskedPaths", "readonlyPaths", "seccomp"):
            linux.pop(key, None)
        return self

    # --- rlimits ----------------------------------------------------------------------------------

    def rlimit(self, type: str, hard: int, soft: int | None = None) -> Self:
        """Set a resource limit (`NOFILE` or `RLIMIT_NOFILE`), replacing one of the same type.
        `soft` defaults to `hard`."""
        name = _normalized("rlimit", normalize_rlimit, type)
        hard_ = _check_uint("rlimit", "hard", hard, _UINT64_MAX)
        soft_ = hard_ if soft is None else _check_uint("rlimit", "soft", soft, _UINT64_MAX)
        if soft_ > hard_:
            raise _err("rlimit", f"{name}: soft limit {soft_} is above the hard limit {hard_}")
        entry = {"type": name, "hard": hard_, "soft": soft_}
        _replace_or_append(self._process().setdefault("rlimits", []), entry, "type")
        return self

    def remove_rlimit(self, type: str) -> Self:
        name = normalize_rlimit(type)
        process = self._process()
        process["rlimits"] = [r for r in process.get("rlimits") or [] if r.get("type") != name]
        return self
