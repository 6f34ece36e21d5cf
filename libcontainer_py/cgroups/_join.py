"""Joining a v1 cgroup by writing "0" to its ``tasks`` file: what create's first child and exec's
child run, without importing the drivers' modules (base.py brings abc, paths and its Layout enum:
~1.7 ms of a child that has just been forked, before it joins its namespaces)."""

from __future__ import annotations

import os


def join_self(fd: int, path: str, field: str = "linux.cgroupsPath") -> None:
    """Move the calling thread into the cgroup whose ``tasks`` file (v1) ``fd`` is open on: "0"
    names the writer. The kernel then skips the global cgroup_threadgroup_rwsem that moving a
    process by pid (cgroup.procs) takes for writing: its first write after an idle moment waits for
    an RCU grace period, 5-15 ms. For a single-threaded process, its one thread is the process. The
    permission check uses the credentials of whoever opened ``fd`` (the runtime, as root), so the
    caller may already be in another user or mount namespace."""
    try:
        os.write(fd, b"0")
    except OSError as e:
        raise join_error(path, e.errno or 0, field) from e


def join_error(path: str, err: int, field: str = "linux.cgroupsPath") -> Exception:
    """Why joining the cgroup of ``path`` (its `tasks` file) failed with ``err``. (The error's
    modules only now: still the host's files, neither child of exec has left them yet.)"""
    from libcontainer_py.cgroups.base import _HINTS
    from libcontainer_py.cgroups.paths import CgroupError

    why = _HINTS.get(err, os.strerror(err))
    return CgroupError(f"cannot join cgroup {os.path.dirname(path)}: {why}", field=field)
