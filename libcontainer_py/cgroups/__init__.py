"""Cgroups: a small manager interface with three drivers (v1, v2, none). See docs/cgroups.md.

Typical use (create)::

    mgr = cgroups.manager_for_spec(spec, container_id)   # or new_manager(id, cgroups_path)
    mgr.apply(init_pid)            # before the init may fork: create, refuse busy/frozen, join
    mgr.set(spec.linux.resources)  # raises CgroupError naming the field; the caller destroys on error
    state["cgroup_paths"] = mgr.paths()

Later (state, pause, events, delete)::

    mgr = cgroups.load_manager(state["cgroup_paths"])
    mgr.freeze(); mgr.thaw(); mgr.stats().to_runc_json(id); mgr.pids(); mgr.destroy()
"""

# No `from __future__ import annotations`: `pyrunc state` and `events --stats` import this module,
# and the __future__ module costs them ~0.15 ms (tests/integration/test_cli_imports.py); annotations
# that name TYPE_CHECKING imports are strings.
import sys

TYPE_CHECKING = False  # not `typing`: its import costs ~3 ms of every pyrunc call
if TYPE_CHECKING:
    from libcontainer_py.cgroups.base import Manager, Write
    from libcontainer_py.cgroups.none import NoneManager
    from libcontainer_py.cgroups.paths import (
        DEFAULT_PARENT,
        CgroupError,
        CgroupMount,
        Layout,
        Mounts,
        detect_layout,
        detect_mounts,
        host_path,
        mounts_from_mountinfo,
        resolve_cgroups_path,
    )
    from libcontainer_py.cgroups.stats import Stats
    from libcontainer_py.cgroups.v1 import V1Manager
    from libcontainer_py.cgroups.v2 import V2Manager
    from libcontainer_py.spec.config import Spec

# Every name is imported on first use, the drivers when a manager of their kind is made: a host
# uses one of them, and every pyrunc verb that looks at a container's status goes through here (v2
# brings the BPF assembler; v1 brings cgroupspy). `pyrunc events --stats` imports only _read and
# stats of this package (base brings abc, paths the Layout enum).
_LAZY = {
    "Manager": "base",
    "Write": "base",
    "DEFAULT_PARENT": "paths",
    "CgroupError": "paths",
    "CgroupMount": "paths",
    "Layout": "paths",
    "Mounts": "paths",
    "detect_layout": "paths",
    "detect_mounts": "paths",
    "host_path": "paths",
    "mounts_from_mountinfo": "paths",
    "resolve_cgroups_path": "paths",
    "Stats": "stats",
    "V1Manager": "v1",
    "V2Manager": "v2",
    "NoneManager": "none",
}


def __getattr__(name: str) -> object:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'libcontainer_py.cgroups' has no attribute {name!r}")
    full = f"libcontainer_py.cgroups.{module}"
    __import__(full)  # not importlib: one import less
    value = getattr(sys.modules[full], name)
    globals()[name] = value
    return value


__all__ = [
    "DEFAULT_PARENT",
    "CgroupError",
    "CgroupMount",
    "Layout",
    "Manager",
    "Mounts",
    "NoneManager",
    "Stats",
    "V1Manager",
    "V2Manager",
    "Write",
    "detect_layout",
    "detect_mounts",
    "host_path",
    "join_files",
    "load_manager",
    "manager_for_spec",
    "mounts_from_mountinfo",
    "new_manager",
    "resolve_cgroups_path",
]


def new_manager(
    container_id: str,
    cgroups_path: str | None = None,
    *,
    mounts: "Mounts | None" = None,
    default_parent: str | None = None,
    enabled: bool = True,
) -> "Manager":
    """The manager for a new container: v1 on v1 and hybrid hosts, v2 on unified hosts, the none
    driver when ``enabled`` is False or no cgroup filesystem is mounted. Creates nothing yet."""
    from libcontainer_py.cgroups.paths import DEFAULT_PARENT, Layout, detect_mounts, host_path, resolve_cgroups_path

    mounts = mounts if mounts is not None else detect_mounts()
    if not enabled or mounts.layout is Layout.NONE:
        from libcontainer_py.cgroups.none import NoneManager

        return NoneManager()
    parent = DEFAULT_PARENT if default_parent is None else default_parent
    inner = resolve_cgroups_path(cgroups_path, container_id, default_parent=parent)
    if mounts.layout in (Layout.V1, Layout.HYBRID):
        from libcontainer_py.cgroups.v1 import V1Manager

        return V1Manager.for_path(inner, mounts)
    assert mounts.unified is not None
    from libcontainer_py.cgroups.v2 import V2Manager

    return V2Manager(host_path(mounts.unified, inner), mountpoint=mounts.unified.mountpoint, inner=inner)


def manager_for_spec(
    spec: "Spec", container_id: str, *, mounts: "Mounts | None" = None, enabled: bool = True
) -> "Manager":
    """new_manager() with the spec's ``linux.cgroupsPath``."""
    linux = spec.linux
    return new_manager(container_id, linux.cgroups_path if linux is not None else None, mounts=mounts, enabled=enabled)


def join_files(paths: dict[str, str]) -> list[str]:
    """The files through which a process joins the cgroup that ``paths`` names (a manager's
    paths(), as state.json keeps them), by writing "0" to each: every v1 hierarchy's ``tasks``
    (no global lock: _join.py join_self). [] on v2, where the runtime moves it in by pid
    (cgroup.procs), and without cgroups. No driver is imported for it: exec needs only this
    (load_manager's imports and mountinfo read were ~1.5 ms of every `pyrunc exec`)."""
    if not paths or "" in paths:
        return []
    from libcontainer_py._paths import join

    return [join(d, "tasks") for d in dict.fromkeys(paths.values())]


def load_manager(paths: dict[str, str], *, mounts: "Mounts | None" = None) -> "Manager":
    """Rebuild a manager from what ``paths()`` returned (runc's ``cgroup_paths`` in state.json)."""
    if not paths:
        from libcontainer_py.cgroups.none import NoneManager

        return NoneManager(strict=False)
    from libcontainer_py.cgroups.paths import detect_mounts

    if "" in paths:
        from libcontainer_py.cgroups.v2 import V2Manager

        unified = (mounts if mounts is not None else detect_mounts()).unified
        mp = unified.mountpoint if unified is not None else None
        return V2Manager(paths[""], mountpoint=mp)
    import posixpath

    mounts = mounts if mounts is not None else detect_mounts()
    inner = ""
    for ctrl, d in paths.items():
        m = mounts.v1.get(ctrl)
        if m is not None and (d + "/").startswith(m.mountpoint.rstrip("/") + "/"):
            inner = "/" + posixpath.relpath(d, m.mountpoint)
            break
    from libcontainer_py.cgroups.v1 import V1Manager

    return V1Manager(paths, mounts=mounts, inner=inner)
