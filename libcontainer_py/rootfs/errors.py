"""The rootfs subsystem's errors: one line naming the config field, what was being done and why."""

from __future__ import annotations

import os

from libcontainer_py.errors import LibcontainerError


class RootfsError(LibcontainerError):
    """Setting up the container's root filesystem failed.

    The message is complete (it starts with the field, e.g. ``mounts[3] (tmpfs on /dev/shm): mount:
    invalid argument``); ``field`` is the config field at fault (``mounts[3]``,
    ``linux.devices[0].path``, ``root.path``...), ``errno`` the kernel's error when one caused it.
    """

    def __init__(self, message: str, *, field: str | None = None, errno: int | None = None) -> None:
        self.field = field
        self.errno = errno
        super().__init__(message)


class MountError(RootfsError):
    """A mount of ``mounts[i]``, a masked or readonly path, or the root itself failed."""


class DeviceError(RootfsError):
    """A ``linux.devices`` entry (or a default device) could not be created."""


class PathError(RootfsError):
    """A path inside the rootfs could not be resolved or created safely."""


def strerror(err: int | None) -> str:
    """``invalid argument``: the C library's text, lower case, as errors here read."""
    if not err:
        return "unknown error"
    text = os.strerror(err)
    return text[:1].lower() + text[1:]


def errno_of(exc: BaseException) -> int | None:
    """The errno behind an OSError (SyscallError is one), else None."""
    return exc.errno if isinstance(exc, OSError) else None
