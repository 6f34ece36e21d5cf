"""After the pivot: linux.readonlyPaths, linux.maskedPaths and root.readonly (runc's finalizeRootfs).

Every path is resolved inside "/" with openat2 (paths.py), so a symlink in the image cannot redirect
a mask to somewhere else; a path that does not exist is skipped, as runc does.
"""

from __future__ import annotations

import errno
import os

from libcontainer_py import _sys, procfs
from libcontainer_py._sys import consts as c
from libcontainer_py.errors import SyscallError
from libcontainer_py.rootfs import paths
from libcontainer_py.rootfs.errors import MountError, PathError, strerror
from libcontainer_py.rootfs.mounts import remount_bind

TYPE_CHECKING = False  # not `typing`: its import costs ~3 ms of every pyrunc call
if TYPE_CHECKING:
    from collections.abc import Sequence

READONLY_FLAGS = c.MS_RDONLY | c.MS_NOSUID | c.MS_NODEV | c.MS_NOEXEC


def _fail(field: str, path: str, exc: SyscallError | PathError | OSError) -> MountError:
    if isinstance(exc, PathError):
        return MountError(f"{field} ({path}): {exc}", field=field, errno=exc.errno)
    op = exc.what.split(" ", 1)[0] + ": " if isinstance(exc, SyscallError) else ""
    return MountError(f"{field} ({path}): {op}{strerror(exc.errno)}", field=field, errno=exc.errno)


def mask_paths(masked: Sequence[str], *, root: str = "/") -> None:
    """Directories get an empty read-only tmpfs over them, anything else a bind of /dev/null."""
    if not masked:
        return
    root_fd = paths.open_root(root)
    try:
        null: int | None = None
        for i, path in enumerate(masked):
            field = f"linux.maskedPaths[{i}]"
            try:
                fd = paths.try_resolve(root_fd, path)
                if fd is None:
                    continue
                try:
                    if paths.is_dir_fd(fd):
                        _sys.mount("tmpfs", paths.fd_path(fd), "tmpfs", c.MS_RDONLY, None)
                    else:
                        if null is None:
                            null = _dev_null(root_fd)
                        _sys.mount(paths.fd_path(null), paths.fd_path(fd), None, c.MS_BIND, None)
                finally:
                    os.close(fd)
            except (SyscallError, PathError, OSError) as exc:
                raise _fail(field, path, exc) from exc
        if null is not None:
            os.close(null)
    finally:
        os.close(root_fd)


def _dev_null(root_fd: int) -> int:
    """The container's /dev/null, found the safe way and checked to BE the null device.

    CVE-2025-31133: runc bind-mounted "/dev/null" over masked paths without checking it; a container
    that had replaced it with a symlink (or a file, or a bind of /proc/sys/kernel/core_pattern) got
    that file mounted, read-write, over every masked file: the mask became a door. Here the path is
    resolved in the root without following a final symlink, and the inode must be the character
    device 1:3 (fstat of the O_PATH fd: what is checked is what is mounted, through the fd)."""
    try:
        null = paths.resolve(root_fd, "/dev/null", flags=os.O_NOFOLLOW)
    except SyscallError as exc:
        raise PathError(f"/dev/null: {strerror(exc.errno)}: cannot mask paths with it", errno=exc.errno) from exc
    if not procfs.is_dev_null(null):
        st = os.fstat(null)
        os.close(null)
        raise PathError(
            f"/dev/null is not the null device (mode {st.st_mode:o}, device {os.major(st.st_rdev)}:"
            f"{os.minor(st.st_rdev)}): refusing to bind it over masked paths",
            errno=errno.EPERM,
        )
    return null


def readonly_paths(readonly: Sequence[str], *, root: str = "/") -> None:
    """Bind each path onto itself and remount it ro,nosuid,nodev,noexec."""
    if not readonly:
        return
    root_fd = paths.open_root(root)
    try:
        for i, path in enumerate(readonly):
            field = f"linux.readonlyPaths[{i}]"
            try:
                found = paths.find_at(root_fd, path)
                if found is None:
                    continue
                fd, real = found
                try:
                    _sys.mount(paths.fd_path(fd), paths.fd_path(fd), None, c.MS_BIND | c.MS_REC, None)
                finally:
                    os.close(fd)
                new = paths.resolve(root_fd, real)
                try:
                    remount_bind(new, READONLY_FLAGS)
                finally:
                    os.close(new)
            except (SyscallError, PathError, OSError) as exc:
                raise _fail(field, path, exc) from exc
    finally:
        os.close(root_fd)


def remount_readonly(path: str, field: str, *, flags: int = c.MS_RDONLY, root: str = "/") -> None:
    """Make the mount at ``path`` read-only (root.readonly for "/", a "ro" /dev after its devices)."""
    root_fd = paths.open_root(root)
    try:
        fd = paths.resolve(root_fd, path)
        try:
            remount_bind(fd, flags | c.MS_RDONLY)
        finally:
            os.close(fd)
    except (SyscallError, PathError, OSError) as exc:
        raise _fail(field, path, exc) from exc
    finally:
        os.close(root_fd)
