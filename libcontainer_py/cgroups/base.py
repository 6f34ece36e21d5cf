"""The manager interface every driver implements, the file plan, and the file helpers that turn
OSError into one-line CgroupErrors."""

from __future__ import annotations

import abc
import errno
import os
import time

from libcontainer_py._record import Record

# The read helpers live in _read.py (which events --stats imports without this module); the
# drivers take them from here as before.
from libcontainer_py.cgroups._join import join_self  # (re-exported: the drivers' home)
from libcontainer_py.cgroups._read import read_file, read_int, read_keyed, read_optional
from libcontainer_py.cgroups.paths import CgroupError, Layout

TYPE_CHECKING = False  # not `typing`: its import costs ~3 ms of every pyrunc call
# Type-only: importing the spec models (pydantic) costs ~75 ms, which `pyrunc events --stats`,
# `pause` and `delete` need not pay (they never build a LinuxResources).
if TYPE_CHECKING:
    from collections.abc import Iterator

    from libcontainer_py.cgroups.stats import Stats
    from libcontainer_py.spec.resources import LinuxResources

#: How long destroy() retries rmdir on EBUSY (processes that were just killed are still exiting).
RMDIR_RETRY_SECONDS = 2.0
#: How long freeze()/thaw() wait for the state to settle.
FREEZE_TIMEOUT_SECONDS = 5.0


class Write(Record, frozen=True):
    """One step of a file plan: write ``value`` to ``file`` of the cgroup directory of ``controller``
    (``""`` on v2), because of the resource ``field`` (its JSON path, for error messages)."""

    field: str
    controller: str
    file: str
    value: str


class Manager(abc.ABC):
    """A container's cgroup(s). Build one with :func:`libcontainer_py.cgroups.new_manager` or
    :func:`libcontainer_py.cgroups.load_manager`; never walks the cgroup tree except below its own
    directory (pids() and destroy())."""

    layout: Layout

    @property
    @abc.abstractmethod
    def path(self) -> str:
        """The cgroup as a path from the hierarchy root (``/pyrunc/ID``); ``""`` for the none driver."""

    @abc.abstractmethod
    def apply(self, pid: int) -> None:
        """Create the cgroup (refusing one that is frozen or already has processes) and move ``pid`` in."""

    @abc.abstractmethod
    def add_process(self, pid: int) -> None:
        """Move ``pid`` into the existing cgroup (exec): no emptiness check."""

    def join_files(self) -> list[str]:
        """Files through which a single-threaded process moves itself in, writing "0" to each (see
        join_self): v1's ``tasks``. Empty when the driver has none: the runtime moves the process in
        with apply() or add_process()."""
        return []

    @abc.abstractmethod
    def create(self) -> bool:
        """apply() without moving anyone in: create the cgroup, refusing one that is frozen or
        already has processes. The process joins later (join_files(), or add_process()). True
        when it made the cgroup (none of it was there: it is the caller's to remove), False when
        it found it; a refusal or a failure leaves nothing it made."""

    @abc.abstractmethod
    def plan(self, resources: LinuxResources) -> list[Write]:
        """Validate ``resources`` against the host and return the file writes set() would make, in order.
        Raises CgroupError for anything the host cannot do; writes nothing."""

    @abc.abstractmethod
    def set(self, resources: LinuxResources | None) -> None:
        """Apply ``resources``: validate the whole plan first, then write. Raises CgroupError."""

    @abc.abstractmethod
    def freeze(self) -> None:
        """Freeze every process in the cgroup and wait until the kernel reports it frozen."""

    @abc.abstractmethod
    def thaw(self) -> None:
        """Thaw the cgroup and wait until the kernel reports it thawed."""

    @abc.abstractmethod
    def is_frozen(self) -> bool:
        """True when the cgroup is frozen (or freezing)."""

    @abc.abstractmethod
    def stats(self) -> Stats:
        """Current usage and limits, shaped like runc's ``events --stats``."""

    @abc.abstractmethod
    def pids(self) -> list[int]:
        """Every process in the cgroup and its descendants, sorted."""

    @abc.abstractmethod
    def oom_kill_count(self) -> int:
        """How many processes the OOM killer killed in this cgroup (0 without a memory controller)."""

    @abc.abstractmethod
    def destroy(self) -> None:
        """Remove the cgroup directories (children first). Kills nothing: the caller kills first.
        Retries rmdir on EBUSY for a short while; a missing directory is not an error."""

    @abc.abstractmethod
    def remove_if_empty(self) -> bool:
        """One rmdir of each directory, without a retry or a walk: True when the cgroup is gone
        (so nothing was left in it), False at the first that is busy (a process, or a sub-cgroup,
        in it; pids() then reads what is left, and destroy() removes the rest). The directory
        pids() reads goes first: when it is gone, no process of the container is left. A delete
        whose init has ended (every run's) asks this first and lists no processes when it is true
        (in v1, opening cgroup.procs costs ~0.3 ms here)."""

    @abc.abstractmethod
    def exists(self) -> bool:
        """True when any of the cgroup's directories exists."""

    @abc.abstractmethod
    def paths(self) -> dict[str, str]:
        """What to keep in state.json (runc's ``cgroup_paths``): controller -> directory on v1,
        ``{"": dir}`` on v2, ``{}`` for the none driver. :func:`load_manager` takes it back."""


# --- file helpers ------------------------------------------------------------------------------------

_HINTS = {
    errno.EBUSY: "the kernel refused it as busy (a limit below current usage, or a cgroup with processes)",
    errno.EINVAL: "the kernel rejected the value",
    errno.ENOSPC: "no space (an empty cpuset, or a cgroup with no cpus/mems)",
    errno.EACCES: "permission denied",
    errno.EPERM: "operation not permitted",
    errno.ENOENT: "no such file: the controller or the feature is missing on this host",
    errno.ENODEV: "no such device",
    errno.EOPNOTSUPP: "not supported by this kernel",
}


def write_file(path: str, value: str, field: str) -> None:
    """Write ``value`` to a cgroup file with one write(2) (the kernel parses one write at a time)."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_TRUNC | os.O_CLOEXEC)  # O_TRUNC: as runc; cgroupfs ignores it
    except OSError as e:
        raise CgroupError(f"{value!r}: cannot open {path}: {_HINTS.get(e.errno or 0, e.strerror)}", field=field) from e
    try:
        os.write(fd, value.encode())
    except OSError as e:
        raise CgroupError(f"{value!r}: writing {path}: {_HINTS.get(e.errno or 0, e.strerror)}", field=field) from e
    finally:
        os.close(fd)


def walk_dirs_bottom_up(top: str) -> Iterator[str]:
    """``top`` and its sub-directories, children first (for rmdir). Only our own sub-tree is walked."""
    try:
        entries = list(os.scandir(top))
    except FileNotFoundError:
        return
    for e in entries:
        if e.is_dir(follow_symlinks=False):
            yield from walk_dirs_bottom_up(e.path)
    yield top


def procs_recursive(top: str) -> list[int]:
    """Every pid in ``top``/cgroup.procs and below."""
    found: set[int] = set()
    for d in walk_dirs_bottom_up(top):
        text = read_optional(os.path.join(d, "cgroup.procs"))
        if text:
            found.update(int(x) for x in text.split())
    return sorted(found)


def rmdir_each(dirs: list[str]) -> bool:
    """Manager.remove_if_empty: rmdir each of ``dirs`` once, in order; False at the first busy one."""
    for d in dirs:
        try:
            os.rmdir(d)
        except FileNotFoundError:
            continue
        except OSError:
            return False
    return True


def rmdir_tree(top: str, *, field: str = "linux.cgroupsPath") -> None:
    """Remove ``top`` and its sub-cgroups, retrying EBUSY (exiting processes) for a short while."""
    try:
        os.rmdir(top)  # the usual case: no sub-cgroup, no process left; then nothing to walk
        return
    except FileNotFoundError:
        return
    except OSError:
        pass
    deadline = time.monotonic() + RMDIR_RETRY_SECONDS
    for d in walk_dirs_bottom_up(top):
        delay = 0.005
        while True:
            try:
                os.rmdir(d)
                break
            except FileNotFoundError:
                break
            except OSError as e:
                if e.errno == errno.EBUSY and time.monotonic() < deadline:
                    time.sleep(delay)
                    delay = min(delay * 2, 0.1)
                    continue
                left = procs_recursive(d)
                why = f"processes {left} are still in it" if left else (e.strerror or str(e))
                raise CgroupError(f"cannot remove cgroup {d}: {why}", field=field) from e


__all__ = [
    "FREEZE_TIMEOUT_SECONDS",
    "RMDIR_RETRY_SECONDS",
    "Manager",
    "Write",
    "join_self",
    "procs_recursive",
    "read_file",
    "read_int",
    "read_keyed",
    "read_optional",
    "rmdir_each",
    "rmdir_tree",
    "walk_dirs_bottom_up",
    "write_file",
]
