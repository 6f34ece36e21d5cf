"""Namespaces: the spec's names, their clone flags, and joining one by path.

The order matters and is the kernel's, not ours: the user namespace is joined or created first,
because it owns every other namespace made after it and decides what the others may do; the pid
and time namespaces apply only to children, which is why the init is forked after unshare.
"""

from __future__ import annotations

import fcntl
import posix

from libcontainer_py._record import Record
from libcontainer_py._sys import consts as c
from libcontainer_py.errors import ConfigError

# spec name -> (clone flag, name under /proc/PID/ns)
NAMESPACES: dict[str, tuple[int, str]] = {
    "user": (c.CLONE_NEWUSER, "user"),
    "pid": (c.CLONE_NEWPID, "pid"),
    "network": (c.CLONE_NEWNET, "net"),
    "mount": (c.CLONE_NEWNS, "mnt"),
    "ipc": (c.CLONE_NEWIPC, "ipc"),
    "uts": (c.CLONE_NEWUTS, "uts"),
    "cgroup": (c.CLONE_NEWCGROUP, "cgroup"),
    "time": (c.CLONE_NEWTIME, "time"),
}
NAMESPACE_TYPES = frozenset(NAMESPACES)
# setns order: user first (it grants the capabilities to join the rest), mount last (after it,
# the other paths might no longer resolve; their fds are opened up front anyway).
JOIN_ORDER = ("user", "pid", "network", "ipc", "uts", "cgroup", "time", "mount")

NS_GET_NSTYPE = 0xB703  # ioctl(2) on a namespace fd: its CLONE_NEW* type (Linux 4.11)
NS_GET_USERNS = 0xB701  # ioctl(2): an fd of the user namespace that owns this namespace


class NamespacePlan(Record, frozen=True):
    """What the init must do with namespaces: flags to unshare, and (type, path) to join."""

    new_flags: int
    join: tuple[tuple[str, str], ...]
    new_user: bool

    @property
    def new_pid(self) -> bool:
        return bool(self.new_flags & c.CLONE_NEWPID)

    @property
    def joins_user(self) -> bool:
        return any(t == "user" for t, _ in self.join)


def plan(namespaces: list[tuple[str, str | None]]) -> NamespacePlan:
    """From config.json's linux.namespaces as (type, path or None) pairs."""
    flags = 0
    joins: dict[str, str] = {}
    for i, (ns_type, path) in enumerate(namespaces):
        if ns_type not in NAMESPACES:
            raise ConfigError(f"unknown namespace type {ns_type!r}", path=f"linux.namespaces[{i}].type")
        if path:
            joins[ns_type] = path
        else:
            flags |= NAMESPACES[ns_type][0]
    ordered = tuple((t, joins[t]) for t in JOIN_ORDER if t in joins)
    return NamespacePlan(new_flags=flags, join=ordered, new_user=bool(flags & c.CLONE_NEWUSER))


def open_namespace(ns_type: str, path: str, index: int | None = None) -> int:
    """Open a namespace file to join it, checking that it is a namespace of type `ns_type`
    (a bind-mounted /run/netns/x or /proc/PID/ns/net). Returns an O_CLOEXEC fd."""
    field = f"linux.namespaces[{index}].path" if index is not None else f"namespace {ns_type} path"
    try:
        fd = posix.open(path, posix.O_RDONLY | posix.O_CLOEXEC)
    except OSError as exc:
        raise ConfigError(f"cannot open {path}: {exc.strerror}", path=field) from None
    try:
        kind = fcntl.ioctl(fd, NS_GET_NSTYPE)
    except OSError:
        posix.close(fd)
        raise ConfigError(f"{path} is not a namespace file (want a {ns_type} namespace)", path=field) from None
    want = NAMESPACES[ns_type][0]
    if kind != want:
        posix.close(fd)
        got = next((n for n, (flag, _) in NAMESPACES.items() if flag == kind), hex(kind))
        raise ConfigError(f"{path} is a {got} namespace, not a {ns_type} namespace", path=field)
    return fd


def namespace_path(pid: int, ns_type: str) -> str:
    return f"/proc/{pid}/ns/{NAMESPACES[ns_type][1]}"


def owner_userns(fd: int) -> tuple[int, int]:
    """(st_dev, st_ino) of the user namespace that owns the namespace open at `fd`."""
    owner = fcntl.ioctl(fd, NS_GET_USERNS)
    try:
        st = posix.fstat(owner)
        return st.st_dev, st.st_ino
    finally:
        posix.close(owner)


def check_join_owners(namespaces: list[tuple[str, str | None]]) -> None:
    """A namespace joined by path must belong to a user namespace the container can act in: the
    runtime's own, or the one the container joins. Joining, say, another container's network
    namespace while staying outside (or making a new) user namespace gives a container whose
    root has no power over its own network (setns fails, or ip and sysfs do): refuse it with the
    fix, rather than let the kernel say "operation not permitted" from inside the init."""
    ours = posix.stat("/proc/self/ns/user")
    allowed = {(ours.st_dev, ours.st_ino)}
    user_path = next((p for t, p in namespaces if t == "user" and p), None)
    if user_path:
        st = posix.stat(user_path)
        allowed.add((st.st_dev, st.st_ino))
    for i, (ns_type, path) in enumerate(namespaces):
        if not path or ns_type == "user":
            continue
        fd = open_namespace(ns_type, path, i)
        try:
            owner = owner_userns(fd)
        finally:
            posix.close(fd)
        if owner not in allowed:
            hint = f"/proc/{path.split('/')[2]}/ns/user" if path.startswith("/proc/") else "its user namespace"
            raise ConfigError(
                f'{path} belongs to another user namespace: join that one too (a "user" entry with path {hint})',
                path=f"linux.namespaces[{i}].path",
            )


# The sysctls a namespace isolates (runc's libcontainer/configs/validate, sysctl()).
_IPC_SYSCTLS = frozenset({
    "kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem",
    "kernel.shmall", "kernel.shmmax", "kernel.shmmni", "kernel.shm_rmid_forced",
})  # fmt: skip


def check_sysctls(sysctl: dict[str, str] | None, namespaces: list[tuple[str, str | None]]) -> None:
    """Refuse a sysctl that the container's namespaces do not isolate: writing it would change
    the HOST (vm.swappiness, kernel.panic...). Raises ConfigError naming linux.sysctl.KEY."""
    if not sysctl:
        return
    types = {t for t, _ in namespaces}
    host_net = posix.stat("/proc/self/ns/net").st_ino
    for key in sysctl:
        field = f"linux.sysctl.{key}"
        if "/" in key or any(part in ("", "..") for part in key.split(".")):
            raise ConfigError(f"invalid sysctl name {key!r}", path=field)
        if key in _IPC_SYSCTLS or key.startswith("fs.mqueue."):
            need = "ipc"
        elif key.startswith("net."):
            need = "network"
            for t, path in namespaces:
                if t == "network" and path:
                    try:
                        if posix.stat(path).st_ino == host_net:
                            raise ConfigError(
                                f"{key} would change the host's network namespace ({path} is the host's)",
                                path=field,
                            )
                    except OSError:
                        pass
        elif key in ("kernel.domainname", "kernel.hostname"):
            if key == "kernel.hostname":
                raise ConfigError("set the hostname with the hostname field, not a sysctl", path=field)
            need = "uts"
        else:
            raise ConfigError(f"{key} is not isolated by any namespace: setting it would change the host", path=field)
        if need not in types:
            raise ConfigError(f'{key} needs a {need} namespace (add {{"type": "{need}"}})', path=field)
