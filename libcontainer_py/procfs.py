"""Safe writes to procfs: sysctls, oom_score_adj (CVE-2025-52881) and /dev/null checks (CVE-2025-31133).

Why: the container's "/proc" is reached through the container's own tree, which its image and its
processes shape. A write to "/proc/sys/kernel/x" or "/proc/self/oom_score_adj" done with plain
open() follows whatever is there: a symlink, a bind mount of another procfs file over the target
(a "redirect" of the write to, say, /proc/sys/kernel/core_pattern, which then runs a host program
as root), or a /proc that is not procfs at all. runc 1.2.8 / 1.3.3 / 1.4.0-rc.3 fixed this class by
opening every procfs file through a verified procfs handle.

So here:
  1. "/proc" is opened O_PATH|O_DIRECTORY and checked with fstatfs(2): f_type must be
     PROC_SUPER_MAGIC; anything else (a tmpfs, the image's directory) is refused;
  2. the file is opened below it with openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS |
     RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV): no "..", no symlink, no magic link and no mount
     crossing, so a file bind-mounted over the target is refused (EXDEV), not written through;
  3. "self" (a symlink, refused by 2) is replaced by our pid as read from the procfs's own "self"
     link: a procfs of another pid namespace has no "self" for us, and fails instead of naming
     another process;
  4. the opened file is checked with fstatfs again, for the same reason as 1.

fstatfs is the _sys shim's (fstatfs_type), loaded before pivot_root like the rest of the seam.
"""

from __future__ import annotations

import _stat as stat  # not `stat` (a module of os's import): the same functions, from C
import errno
import posix

from libcontainer_py import _sys
from libcontainer_py._status import read_all
from libcontainer_py._sys import consts as c
from libcontainer_py.errors import SyscallError

PROC_SUPER_MAGIC = c.PROC_SUPER_MAGIC
PROC_RESOLVE = c.RESOLVE_BENEATH | c.RESOLVE_NO_SYMLINKS | c.RESOLVE_NO_MAGICLINKS | c.RESOLVE_NO_XDEV
DEV_NULL_RDEV = posix.makedev(1, 3)


def read_text(path: str) -> str:
    """The whole of a small file (/proc/self/setgroups, /proc/self/cgroup, an /etc/passwd) as text,
    through os.read (_status.read_all: fewer system calls on the init's critical path). OSError
    propagates; undecodable bytes are replaced."""
    return read_all(path).decode("utf-8", "replace")


def fs_type(fd: int) -> int:
    """fstatfs(fd).f_type: the filesystem's magic number (works on O_PATH fds)."""
    return _sys.fstatfs_type(fd)


class ProcfsError(OSError):
    """A procfs file could not be opened safely; the message says why."""


def open_proc_root(path: str = "/proc") -> int:
    """An O_PATH fd of ``path``, verified to be the root of a procfs mount."""
    fd = posix.open(path, posix.O_PATH | posix.O_DIRECTORY | posix.O_CLOEXEC)
    try:
        if fs_type(fd) != PROC_SUPER_MAGIC:
            raise ProcfsError(errno.EXDEV, f"{path} is not a procfs mount")
    except BaseException:
        posix.close(fd)
        raise
    return fd


def open_proc_file(rel: str, flags: int, *, proc: str = "/proc") -> int:
    """Open ``<proc>/<rel>`` (e.g. ``sys/net/ipv4/ip_forward``, ``self/oom_score_adj``) safely, as
    described above. Raises OSError (ProcfsError when the layout itself is wrong)."""
    root = open_proc_root(proc)
    try:
        parts = rel.strip("/").split("/")
        if parts[0] in ("self", "thread-self"):
            try:
                me = posix.readlink("self", dir_fd=root)  # "<pid>" as this procfs knows us
            except OSError as exc:
                raise ProcfsError(exc.errno or errno.ENOENT, f"{proc}/self: this procfs does not know us") from None
            if parts[0] == "thread-self":
                me = f"{me}/task/{me}"  # single-threaded: the thread is the process
            parts[0] = me
        try:
            fd = _sys.openat2(root, "/".join(parts), flags | posix.O_CLOEXEC | posix.O_NOCTTY, 0, PROC_RESOLVE)
        except SyscallError as exc:
            why = {
                errno.EXDEV: "something is mounted over it",
                errno.ELOOP: "it is (or passes through) a symbolic link",
            }.get(exc.errno or 0, posix.strerror(exc.errno or errno.EIO))
            raise ProcfsError(exc.errno or errno.EIO, f"{proc}/{rel}: {why}") from None
        try:
            if fs_type(fd) != PROC_SUPER_MAGIC:
                raise ProcfsError(errno.EXDEV, f"{proc}/{rel} is not a procfs file")
        except BaseException:
            posix.close(fd)
            raise
        return fd
    finally:
        posix.close(root)


def write_proc_file(rel: str, data: str, *, proc: str = "/proc") -> None:
    fd = open_proc_file(rel, posix.O_WRONLY, proc=proc)
    try:
        posix.write(fd, data.encode())
    finally:
        posix.close(fd)


def is_dev_null(fd: int) -> bool:
    """Whether ``fd`` (O_PATH is fine) is the character device 1:3 (CVE-2025-31133)."""
    st = posix.fstat(fd)
    return stat.S_ISCHR(st.st_mode) and st.st_rdev == DEV_NULL_RDEV
