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
"""

from __future__ import annotations

import copy
import os
import re
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, Self

from libcontainer_py.errors import ConfigError
from libcontainer_py.spec.caps import CAPABILITIES
from libcontainer_py.spec.defaults import DEFAULT_CAPABILITY_SETS, default_config, rootless_config

if TYPE_CHECKING:
    from libcontainer_py.spec import Spec

#: Every capability the kernel defines, in number order (spec/caps.py). `privileged()` grants them
#: all; runc ignores, with a warning, those the host kernel lacks.
ALL_CAPABILITIES: tuple[str, ...] = CAPABILITIES
_CAPABILITY_SET = frozenset(ALL_CAPABILITIES)
_ALL_CAPABILITY_SETS = ("bounding", "effective", "inheritable", "permitted", "ambient")

NAMESPACE_TYPES: tuple[str, ...] = ("pid", "network", "mount", "ipc", "uts", "user", "cgroup", "time")
# The short names used by /proc/PID/ns/ and by unshare(1), accepted as a convenience.
_NAMESPACE_ALIASES = {"net": "network", "mnt": "mount"}

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

#: oci-runtime-tool's default options for `--tmpfs DEST` without options.
DEFAULT_TMPFS_OPTIONS: tuple[str, ...] = ("rw", "noexec", "nosuid", "nodev", "size=65536k")

_SYSCALL_NAME = re.compile(r"^[a-z_][a-z0-9_]*$")
_ENV_NAME = re.compile(r"^[^=\0]+$")
_UINT32_MAX = 2**32 - 1
_UINT64_MAX = 2**64 - 1
_INT64_MAX = 2**63 - 1


def _err(method: str, message: str) -> ConfigError:
    return ConfigError(f"{method}: {message}")


def normalize_capability(name: str) -> str:
    """`net_admin`, `NET_ADMIN`, `cap_net_admin` -> `CAP_NET_ADMIN`; unknown names -> ConfigError."""
    upper = name.strip().upper()
    cap = upper if upper.startswith("CAP_") else "CAP_" + upper
    if cap not in _CAPABILITY_SET:
        raise ConfigError(f"unknown capability {name!r} (expected a name like NET_ADMIN or CAP_NET_ADMIN)")
    return cap


def normalize_namespace(name: str) -> str:
    """`network`/`net`, `mount`/`mnt`, `pid`, ... (any case) -> the spec's type; unknown -> ConfigError."""
    lower = name.strip().lower()
    ns = _NAMESPACE_ALIASES.get(lower, lower)
    if ns not in NAMESPACE_TYPES:
        raise ConfigError(f"unknown namespace type {name!r} (expected one of {', '.join(NAMESPACE_TYPES)})")
    return ns


def normalize_rlimit(name: str) -> str:
    """`nofile`, `NOFILE`, `RLIMIT_NOFILE` -> `RLIMIT_NOFILE`; unknown -> ConfigError."""
    upper = name.strip().upper()
    rlimit = upper if upper.startswith("RLIMIT_") else "RLIMIT_" + upper
    if rlimit not in RLIMIT_TYPES:
        raise ConfigError(f"unknown rlimit {name!r} (expected one of {', '.join(RLIMIT_TYPES)})")
    return rlimit


def normalize_seccomp_action(name: str) -> str:
    """`allow`, `ERRNO`, `SCMP_ACT_KILL`... -> the spec's `SCMP_ACT_*`; unknown -> ConfigError."""
    upper = name.strip().upper()
    action = upper if upper.startswith("SCMP_ACT_") else "SCMP_ACT_" + upper
    if action not in SECCOMP_ACTIONS:
        raise ConfigError(
            f"unknown seccomp action {name!r} (expected one of "
            f"{', '.join(a.removeprefix('SCMP_ACT_') for a in SECCOMP_ACTIONS)})"
        )
    return action


def normalize_hook_kind(name: str) -> str:
    """`prestart`, `createRuntime`, `create_runtime`, `createruntime` -> the spec's key."""
    kind = _HOOK_ALIASES.get(name.strip().lower())
    if kind is None:
        raise ConfigError(f"unknown hook kind {name!r} (expected one of {', '.join(HOOK_KINDS)})")
    return kind


def _check_uint(method: str, what: str, value: int, maximum: int) -> int:
    # bool is an int subclass; True as a uid is always a mistake.
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= maximum:
        raise _err(method, f"{what} must be an integer between 0 and {maximum} (got {value!r})")
    return value


def _check_abs(method: str, what: str, path: str) -> str:
    if not isinstance(path, str) or not path.startswith("/"):
        raise _err(method, f"{what} must be an absolute path (got {path!r})")
    return path


def _deep_merge(into: dict[str, Any], update: Mapping[str, Any]) -> None:
    """Merge `update` into `into`: objects merge key by key, anything else (lists too) replaces."""
    for key, value in update.items():
        if isinstance(value, Mapping) and isinstance(into.get(key), dict):
            _deep_merge(into[key], value)
        else:
            into[key] = copy.deepcopy(value)


class SpecBuilder:
    """Builds a config.json. Start from `SpecBuilder.default()` (what `runc spec` writes),
    `SpecBuilder.default(rootless=True)`, or any Spec / dict (`SpecBuilder(spec)`)."""

    def __init__(self, base: Spec | Mapping[str, Any] | None = None) -> None:
        if base is None:
            self._config: dict[str, Any] = default_config()
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

    # --- internal helpers -------------------------------------------------------------------------

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
        caps = list(dict.fromkeys(self._cap("add_capabilities", n) for n in names))
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
        caps = {self._cap("drop_capabilities", n) for n in names}
        for set_name in _ALL_CAPABILITY_SETS:
            if set_name in sets:
                sets[set_name] = [c for c in sets[set_name] or [] if c not in caps]
        return self

    @staticmethod
    def _cap(method: str, name: str) -> str:
        try:
            return normalize_capability(name)
        except ConfigError as exc:
            raise _err(method, str(exc)) from None

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

    def _ns(self, method: str, name: str) -> str:
        try:
            return normalize_namespace(name)
        except ConfigError as exc:
            raise _err(method, str(exc)) from None

    def add_namespace(self, type: str, path: str | None = None) -> Self:
        """Create a new namespace of this type, or join the one at `path` (/proc/PID/ns/TYPE or a
        bind-mounted nsfs file). Replaces an existing entry of the same type."""
        ns_type = self._ns("add_namespace", type)
        entry: dict[str, Any] = {"type": ns_type}
        if path is not None:
            entry["path"] = _check_abs("add_namespace", "path", path)
        namespaces: list[dict[str, Any]] = self._linux().setdefault("namespaces", [])
        for i, existing in enumerate(namespaces):
            if existing.get("type") == ns_type:
                namespaces[i] = entry
                break
        else:
            namespaces.append(entry)
        return self

    def join_namespace(self, type: str, path: str) -> Self:
        """Join an existing namespace: `.join_namespace("network", "/var/run/netns/blue")`."""
        return self.add_namespace(type, _check_abs("join_namespace", "path", path))

    def remove_namespace(self, type: str) -> Self:
        """Share the host's namespace of this type."""
        ns_type = self._ns("remove_namespace", type)
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

    # --- rlimits ----------------------------------------------------------------------------------

    def rlimit(self, type: str, hard: int, soft: int | None = None) -> Self:
        """Set a resource limit (`NOFILE` or `RLIMIT_NOFILE`), replacing one of the same type.
        `soft` defaults to `hard`."""
        try:
            name = normalize_rlimit(type)
        except ConfigError as exc:
            raise _err("rlimit", str(exc)) from None
        hard_ = _check_uint("rlimit", "hard", hard, _UINT64_MAX)
        soft_ = hard_ if soft is None else _check_uint("rlimit", "soft", soft, _UINT64_MAX)
        if soft_ > hard_:
            raise _err("rlimit", f"{name}: soft limit {soft_} is above the hard limit {hard_}")
        entry = {"type": name, "hard": hard_, "soft": soft_}
        rlimits: list[dict[str, Any]] = self._process().setdefault("rlimits", [])
        for i, existing in enumerate(rlimits):
            if existing.get("type") == name:
                rlimits[i] = entry
                break
        else:
            rlimits.append(entry)
        return self

    def remove_rlimit(self, type: str) -> Self:
        name = normalize_rlimit(type)
        process = self._process()
        process["rlimits"] = [r for r in process.get("rlimits") or [] if r.get("type") != name]
        return self

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
        if isinstance(limit, bool) or not isinstance(limit, int) or not -1 <= limit <= _INT64_MAX:
            raise _err("memory_limit", f"must be a number of bytes or -1 (got {limit!r})")
        self._section("linux", "resources", "memory")["limit"] = limit
        return self

    def cpu_shares(self, shares: int) -> Self:
        """Relative CPU weight (cgroup v1 cpu.shares; converted to cpu.weight on v2)."""
        self._section("linux", "resources", "cpu")["shares"] = _check_uint("cpu_shares", "shares", shares, _UINT64_MAX)
        return self

    def cpu_quota(self, quota: int, period: int | None = None) -> Self:
        """CPU time in microseconds per period (-1: unlimited)."""
        if isinstance(quota, bool) or not isinstance(quota, int) or not -1 <= quota <= _INT64_MAX:
            raise _err("cpu_quota", f"must be microseconds or -1 (got {quota!r})")
        self._section("linux", "resources", "cpu")["quota"] = quota
        if period is not None:
            self.cpu_period(period)
        return self

    def cpu_period(self, period: int) -> Self:
        self._section("linux", "resources", "cpu")["period"] = _check_uint("cpu_period", "period", period, _UINT64_MAX)
        return self

    def pids_limit(self, limit: int) -> Self:
        """Maximum number of tasks in the container (-1 or 0: unlimited)."""
        if isinstance(limit, bool) or not isinstance(limit, int) or not -1 <= limit <= _INT64_MAX:
            raise _err("pids_limit", f"must be a number of tasks or -1 (got {limit!r})")
        self._section("linux", "resources", "pids")["limit"] = limit
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
        try:
            act = normalize_seccomp_action(action)
        except ConfigError as exc:
            raise _err("seccomp_default", str(exc)) from None
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
        try:
            act = normalize_seccomp_action(action)
        except ConfigError as exc:
            raise _err(method, str(exc)) from None
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

    # --- hooks ------------------------------------------------------------------------------------

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
        try:
            key = normalize_hook_kind(kind)
        except ConfigError as exc:
            raise _err("hook", str(exc)) from None
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

        add_network_hooks(
            self._config, bridge, subnet, host_netns=host_netns, state_root=state_root, kind=kind
        )
        return self

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
