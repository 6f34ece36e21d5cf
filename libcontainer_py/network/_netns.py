"""Small shared helpers: interface-name and namespace-argument validation (no pyroute2), and the two
places that do import pyroute2 (`iproute`, `netlink_errors`), lazily, because importing it costs
~200 ms and the hook's argument parsing and the address manager must stay fast without it."""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from typing import Any

from libcontainer_py.network.errors import NetworkError

#: Linux's IFNAMSIZ is 16 bytes including the terminating NUL.
IFNAMSIZ = 16
NETNS_RUN_DIR = "/run/netns"
#: ioctl(2) NS_GET_NSTYPE (_IO(0xb7, 0x3)): which kind of namespace an nsfs fd refers to.
_NS_GET_NSTYPE = 0xB703
_CLONE_NEWNET = 0x40000000


def check_ifname(name: object, argument: str, *, template: bool = False) -> str:
    """Validate a network interface name the way the kernel's dev_valid_name() does, so the error
    names the argument instead of surfacing as EINVAL from netlink. `template` allows one "%d"."""
    if not isinstance(name, str) or not name:
        raise NetworkError(argument, "an interface name must be a non-empty string")
    size = len(name.encode())
    if size > IFNAMSIZ - 1:
        raise NetworkError(
            argument,
            f"interface name {name!r} is {size} bytes long; Linux allows at most {IFNAMSIZ - 1} (IFNAMSIZ)",
        )
    if name in (".", "..") or any(ch in "/:" or ch.isspace() for ch in name):
        raise NetworkError(argument, f"interface name {name!r} may not be '.' or '..' nor contain '/', ':' or spaces")
    if "%" in name and not (template and name.count("%") == 1 and "%d" in name):
        raise NetworkError(argument, f"interface name {name!r} may not contain '%' (only one '%d' template)")
    return name


def netns_path(target: int | str, argument: str) -> str:
    """A container's network namespace as a path: a pid means /proc/PID/ns/net, a string with a '/' is
    a path (/proc/PID/ns/net, a bind mount), a bare name is one in /run/netns (as `ip netns` names it).
    Checks that it exists, so a gone pid is reported here, naming the argument."""
    if isinstance(target, bool):
        raise NetworkError(argument, f"expected a pid or a network namespace path, got {target!r}")
    if isinstance(target, int):
        if target <= 0:
            raise NetworkError(argument, f"pid must be a positive integer (got {target})")
        path = f"/proc/{target}/ns/net"
        if not os.path.exists(f"/proc/{target}"):
            raise NetworkError(argument, f"pid {target}: no such process (has the container exited?)")
        return path
    if not isinstance(target, str) or not target:
        raise NetworkError(argument, f"expected a pid or a network namespace path, got {target!r}")
    path = target if "/" in target else os.path.join(NETNS_RUN_DIR, target)
    if not os.path.exists(path):
        raise NetworkError(argument, f"{path}: no such network namespace")
    return path


def open_netns(path: str, argument: str) -> int:
    """Open a network namespace file (O_RDONLY|O_CLOEXEC) and check it is one. The caller closes it."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError as exc:
        raise NetworkError(argument, f"cannot open network namespace {path}: {exc.strerror}") from exc
    try:
        kind = fcntl.ioctl(fd, _NS_GET_NSTYPE)
    except OSError as exc:
        os.close(fd)
        raise NetworkError(argument, f"{path} is not a namespace file ({exc.strerror})") from exc
    if kind != _CLONE_NEWNET:
        os.close(fd)
        raise NetworkError(argument, f"{path} is a namespace, but not a network namespace")
    return fd


def same_netns_fd(fd: int, path: str | None) -> bool:
    """Whether the namespace open at `fd` is the one at `path` (None: ours): same device and inode."""
    st_a = os.fstat(fd)
    st_b = os.stat(path or "/proc/self/ns/net")
    return (st_a.st_dev, st_a.st_ino) == (st_b.st_dev, st_b.st_ino)


def netlink_code(exc: BaseException | None) -> int | None:
    """The errno of a pyroute2 NetlinkError (or OSError), looking through a NetworkError's cause."""
    if isinstance(exc, NetworkError):
        exc = exc.__cause__
    code = getattr(exc, "code", None)
    if code is None and isinstance(exc, OSError):
        code = exc.errno
    return code if isinstance(code, int) else None


@contextlib.contextmanager
def iproute(path: str | None, argument: str) -> Iterator[Any]:
    """An rtnetlink socket (pyroute2 IPRoute) in the network namespace at `path` (None: ours).

    pyroute2 opens the socket in a short-lived forked child that setns()es and passes the fd back, so
    this process never changes namespace. flags=0 stops pyroute2 from *creating* a missing namespace
    (its default O_CREAT would), so a vanished namespace is an error here, not a new empty one."""
    from pyroute2 import IPRoute

    try:
        ipr = IPRoute() if path is None else IPRoute(netns=path, flags=0)
    except OSError as exc:
        raise NetworkError(argument, f"cannot open a netlink socket in {path or 'this netns'}: {exc.strerror}") from exc
    try:
        yield ipr
    finally:
        ipr.close()


@contextlib.contextmanager
def netlink_errors(argument: str, what: str) -> Iterator[None]:
    """Turn a netlink (or OS) error in the block into a NetworkError: "argument: what: strerror"."""
    from pyroute2 import NetlinkError

    try:
        yield
    except NetlinkError as exc:
        raise NetworkError(argument, f"{what}: {os.strerror(exc.code)}") from exc
    except OSError as exc:
        raise NetworkError(argument, f"{what}: {exc.strerror or exc}") from exc
