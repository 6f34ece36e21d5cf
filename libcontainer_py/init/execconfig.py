"""What exec's parent gives its child: ExecConfig, for either child (the forked one, setns.py; the
one that runs no Python, vspawn.py). Apart from setns.py so that the parent of the second need
not import the first's modules (the seal, the terminal's and the seccomp listener's steps)."""

from __future__ import annotations

import posix

from libcontainer_py._record import Record, field

TYPE_CHECKING = False  # not `typing`: its import costs ~3 ms of every pyrunc call
if TYPE_CHECKING:
    from typing import Any


class ExecConfig(Record):
    process: Any  # libcontainer_py.spec.Process
    join: tuple[tuple[str, str], ...]  # (namespace type, path), in JOIN_ORDER
    preserve_fds: int = 0
    container_id: str = ""
    seccomp: Any = None  # the container's compiled filter: exec'd processes get it too (as runc)
    cgroup_paths: dict[str, str] = field(default_factory=dict)
    # The v1 `tasks` files to write "0" to (the manager's join_files(), listed by the parent so the
    # child does not load the cgroup modules); empty: cgroup_paths' manager adds the pid (v2).
    cgroup_join: tuple[str, ...] = ()


def open_v2_cgroup(cfg: ExecConfig) -> int:
    """The container's cgroup v2 directory, for the child to be born in; -1 on v1 (joined through
    `tasks`, which has no wait) or when it cannot be opened (the child's own join then says why)."""
    if not cfg.cgroup_join and "" in cfg.cgroup_paths:
        try:
            return posix.open(cfg.cgroup_paths[""], posix.O_RDONLY | posix.O_DIRECTORY | posix.O_CLOEXEC)
        except OSError:
            pass
    return -1
