"""A user namespace fd with given uid/gid mappings, for idmapped mounts (mount_setattr MOUNT_ATTR_IDMAP).

The kernel takes the mapping of an idmapped mount from a user namespace fd. We make one the way runc
and crun do: a short-lived child unshares CLONE_NEWUSER, we write its uid_map/gid_map from here (as
root in our namespace we may write any mapping, and need not deny setgroups), open
/proc/CHILD/ns/user, and let the child exit: the fd keeps the namespace alive.
"""

from __future__ import annotations

import os

from libcontainer_py import _sys
from libcontainer_py._record import Record
from libcontainer_py._sys import consts as c
from libcontainer_py.rootfs.errors import MountError

TYPE_CHECKING = False  # not `typing`: its import costs ~3 ms of every pyrunc call
if TYPE_CHECKING:
    from collections.abc import Iterable
    from typing import Protocol

    class _Mapping(Protocol):
        @property
        def container_id(self) -> int: ...
        @property
        def host_id(self) -> int: ...
        @property
        def size(self) -> int: ...


class IDMap(Record, frozen=True):
    """One uid_map/gid_map line: ``container_id host_id size``."""

    container_id: int
    host_id: int
    size: int

    @classmethod
    def of(cls, m: _Mapping) -> IDMap:
        return cls(int(m.container_id), int(m.host_id), int(m.size))


def map_text(maps: Iterable[IDMap]) -> str:
    return "".join(f"{m.container_id} {m.host_id} {m.size}\n" for m in maps)


def userns_fd_for(uid_maps: Iterable[IDMap], gid_maps: Iterable[IDMap]) -> int:
    """An O_RDONLY|O_CLOEXEC fd of a new user namespace with these mappings (caller closes it)."""
    ready_r, ready_w = os.pipe2(os.O_CLOEXEC)
    done_r, done_w = os.pipe2(os.O_CLOEXEC)
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child; only os and the shim, then _exit
        status = b"0"
        try:
            os.close(ready_r)
            os.close(done_w)
            _sys.unshare(c.CLONE_NEWUSER)
        except BaseException:
            status = b"1"
        try:
            os.write(ready_w, status)
            os.read(done_r, 1)  # EOF when the parent has the fd (or died)
        finally:
            os._exit(0)
    os.close(ready_w)
    os.close(done_r)
    try:
        if os.read(ready_r, 1) != b"0":
            raise MountError("idmap: cannot create a user namespace for the mapping (unshare failed)")
        with open(f"/proc/{pid}/uid_map", "w") as f:
            f.write(map_text(uid_maps))
        with open(f"/proc/{pid}/gid_map", "w") as f:
            f.write(map_text(gid_maps))
        return os.open(f"/proc/{pid}/ns/user", os.O_RDONLY | os.O_CLOEXEC)
    except OSError as exc:
        raise MountError(f"idmap: cannot set up the mapping user namespace: {exc}") from exc
    finally:
        os.close(ready_r)
        os.close(done_w)
        os.waitpid(pid, 0)
