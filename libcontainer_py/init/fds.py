"""The caller's fds in a child forked from it: closed first thing, or marked close-on-exec last.

A module of its own, light (os and the shim): the init and exec's child close the caller's fds
before anything else, before they import what the rest of their work needs (child.preload).
"""

from __future__ import annotations

import posix

from libcontainer_py import _sys

TYPE_CHECKING = False  # not `typing`: its import costs ~3 ms of every pyrunc call
if TYPE_CHECKING:
    from collections.abc import Sequence


def _close_range(first: int, flags: int) -> bool:
    """close_range(2) from ``first`` on (Linux 5.9, CLOEXEC 5.11): one syscall, whatever /proc says.
    False when the kernel lacks it: the caller falls back to closing one fd at a time."""
    try:
        _sys.close_range(first, 0xFFFFFFFF, flags)
    except OSError:
        return False
    return True


def close_fds_from(first: int, keep: Sequence[int] = ()) -> None:
    """Mark every fd >= first close-on-exec, so only stdio and --preserve-fds reach the program
    (CVE-2024-21626: a leaked host directory fd let a container escape through /proc/self/fd).
    close_range(CLOSE_RANGE_CLOEXEC) does not depend on the container's /proc, which its image
    controls (a fake /proc/self/fd listing would hide fds from a sweep that reads it)."""
    import fcntl

    if not keep and _close_range(first, _sys.consts.CLOSE_RANGE_CLOEXEC):
        fds: list[int] = []
    else:
        try:
            fds = [int(n) for n in posix.listdir("/proc/self/fd")]
        except OSError:
            fds = list(range(first, 1024))
    for fd in fds:
        if fd >= first and fd not in keep:
            try:
                flags = fcntl.fcntl(fd, fcntl.F_GETFD)
                fcntl.fcntl(fd, fcntl.F_SETFD, flags | fcntl.FD_CLOEXEC)
            except OSError:
                pass
    for fd in range(3, first):  # preserved fds must survive exec
        try:  # noqa: SIM105  (not contextlib: its import costs ~3 ms of every pyrunc call)
            posix.set_inheritable(fd, True)
        except OSError:
            pass


def close_inherited_fds(keep: Sequence[int]) -> None:
    """Close every fd but 0-2 and ``keep``, first thing in a child forked from the caller
    (CVE-2024-21626). A CLOEXEC flag is not enough there: until execve the init lives inside
    the container, where process.cwd "/proc/self/fd/N" or a process reading /proc/1/fd could use
    a host directory the caller happened to have open (the fork inherits all of them). Also
    drops the caller's locks (the state directory's flock), which the init must not hold."""
    low = 3
    for fd in sorted({fd for fd in keep if fd > 2}):
        if fd > low:
            posix.closerange(low, fd)
        low = fd + 1
    if _close_range(low, 0):
        return
    posix.closerange(low, max(low, posix.sysconf("SC_OPEN_MAX")))


def ensure_stdio() -> None:
    """Open /dev/null on whichever of fds 0, 1 and 2 this process has closed, as Go's runtime does
    at the start of every program (runc's among them). Else the first fds the runtime opens (the
    state directory's lock, a socket) take those numbers, and the container gets them as its
    stdin, stdout or stderr: a daemon with its stdin closed gave its containers the state
    directory, a directory of the host, as fd 0 (a way out of the root through fchdir)."""
    for fd in (0, 1, 2):
        try:
            posix.fstat(fd)
        except OSError:
            null = posix.open("/dev/null", posix.O_RDWR)  # the lowest free number: this one, or a lower
            if null != fd:  # (a lower one closed too: that is opened first, in this loop's order)
                posix.dup2(null, fd)
                posix.close(null)
