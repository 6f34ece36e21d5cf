"""Where the cgroups are: the host's cgroup layout (from /proc/self/mountinfo) and what
``linux.cgroupsPath`` means.

Layouts
-------
* ``v1``: only cgroup v1 hierarchies (one mount per controller or per group of controllers).
* ``hybrid``: v1 controller hierarchies plus a cgroup2 mount (systemd puts it at
  ``/sys/fs/cgroup/unified``) that holds no controllers the v1 side already has. The v1 driver
  manages the container; the unified mount is left alone (runc joins it for systemd's sake; we have no
  systemd driver, so nothing needs it).
* ``v2``: one cgroup2 mount and no v1 controller hierarchies (a ``name=systemd`` v1 mount, which has
  no controllers, does not count).
* ``none``: no cgroup filesystem at all: the do-nothing driver.

cgroupsPath
-----------
* absolute (``/a/b``): under the mount root of every hierarchy, as the spec requires;
* relative (``a/b``): under :data:`DEFAULT_PARENT` (``/pyrunc/a/b``). runc puts it under the
  runtime's *own* cgroup instead; we do not, because (1) the caller's cgroup differs per shell or
  service, so the same value would land in different places (the spec wants "consistently the same
  place"), and (2) on v2 the caller's cgroup holds processes, so controllers cannot be enabled below
  it (the no-internal-processes rule);
* absent: ``/pyrunc/<container id>``.

``..`` may not climb out of the mount root (the path is cleaned like Go's filepath.Clean on "/"+path).
systemd's ``slice:prefix:name`` form is refused with a clear error: pyrunc has no systemd driver.
"""

from __future__ import annotations

import os
import posixpath

from libcontainer_py._record import Record, field
from libcontainer_py._strenum import StrEnum
from libcontainer_py.errors import LibcontainerError

#: Parent of relative and default cgroup paths.
DEFAULT_PARENT = "/pyrunc"

#: The v1 controllers we know how to join. Named hierarchies (``name=systemd``) are joined too.
V1_CONTROLLERS = frozenset(
    {
        "cpu",
        "cpuacct",
        "cpuset",
        "memory",
        "devices",
        "freezer",
        "blkio",
        "pids",
        "hugetlb",
        "net_cls",
        "net_prio",
        "perf_event",
        "rdma",
        "misc",
    }
)


class CgroupError(LibcontainerError):
    """A cgroup could not be created, configured, read or removed. One line naming the
    ``linux.resources`` field (or ``linux.cgroupsPath``), the value, and the host file or limit."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        self.field = field
        super().__init__(f"{field}: {message}" if field else message)


class Layout(StrEnum):
    """The host's cgroup layout."""

    NONE = "none"
    V1 = "v1"
    HYBRID = "hybrid"
    V2 = "v2"


class CgroupMount(Record, frozen=True):
    """One cgroup filesystem mount."""

    mountpoint: str
    root: str  # the hierarchy path mounted there (not "/" inside a cgroup namespace or a bind mount)
    fstype: str  # "cgroup" or "cgroup2"
    controllers: frozenset[str] = frozenset()  # v1: the controllers (and "name=X") of the hierarchy


class Mounts(Record, frozen=True):
    """The host's cgroup mounts and the layout they make."""

    layout: Layout
    v1: dict[str, CgroupMount] = field(default_factory=dict)  # controller (or "name=X") -> mount
    unified: CgroupMount | None = None


def parse_mountinfo(text: str) -> list[CgroupMount]:
    """The cgroup and cgroup2 mounts in a /proc/PID/mountinfo text, in mount order."""
    from libcontainer_py import mountinfo

    mounts: list[CgroupMount] = []
    for m in mountinfo.parse_mountinfo(text):
        if m.fstype not in ("cgroup", "cgroup2"):
            continue
        controllers: frozenset[str] = frozenset()
        if m.fstype == "cgroup":
            controllers = frozenset(o for o in m.super_options if o in V1_CONTROLLERS or o.startswith("name="))
        mounts.append(CgroupMount(m.mountpoint, m.root, m.fstype, controllers))
    return mounts


def mounts_from_mountinfo(text: str) -> Mounts:
    """Classify the cgroup mounts of a mountinfo text (the first mount of each hierarchy wins)."""
    v1: dict[str, CgroupMount] = {}
    unified: CgroupMount | None = None
    for m in parse_mountinfo(text):
        if m.fstype == "cgroup2":
            if unified is None:
                unified = m
            continue
        for c in m.controllers:
            v1.setdefault(c, m)
    has_v1_controllers = any(not c.startswith("name=") for c in v1)
    if has_v1_controllers:
        layout = Layout.HYBRID if unified is not None else Layout.V1
    elif unified is not None:
        layout = Layout.V2
        v1 = {}
    else:
        layout = Layout.NONE
    return Mounts(layout, v1, unified)


_MOUNTS_CACHE: Mounts | None = None


def detect_mounts(mountinfo: str = "/proc/self/mountinfo", *, cached: bool = True) -> Mounts:
    """The cgroup mounts of this process's mount namespace (read once per process by default)."""
    global _MOUNTS_CACHE
    if cached and _MOUNTS_CACHE is not None and mountinfo == "/proc/self/mountinfo":
        return _MOUNTS_CACHE
    try:
        with open(mountinfo, encoding="utf-8", errors="surrogateescape") as f:
            text = f.read()
    except OSError:
        return Mounts(Layout.NONE)
    result = mounts_from_mountinfo(text)
    if mountinfo == "/proc/self/mountinfo":
        _MOUNTS_CACHE = result
    return result


def detect_layout(mountinfo: str = "/proc/self/mountinfo") -> Layout:
    """``Layout.V1``, ``HYBRID``, ``V2`` or ``NONE`` for this host (see the module docstring)."""
    return detect_mounts(mountinfo).layout


def _is_systemd_path(path: str) -> bool:
    """runc's systemd form ``slice:prefix:name`` (as the regexp ^[^/:]*\\.slice:[^/:]*:[^/:]+$, without
    importing `re`: ~5 ms here)."""
    parts = path.split(":")
    return len(parts) == 3 and not any("/" in p for p in parts) and parts[0].endswith(".slice") and parts[2] != ""


def resolve_cgroups_path(cgroups_path: str | None, container_id: str, *, default_parent: str = DEFAULT_PARENT) -> str:
    """The container's cgroup as an absolute path from the hierarchy root ("/pyrunc/ID" style).

    Raises CgroupError naming ``linux.cgroupsPath`` for a systemd-style path or one that names the root.
    """
    fld = "linux.cgroupsPath"
    if cgroups_path is None or cgroups_path == "":
        if not container_id or "/" in container_id or container_id in (".", ".."):
            raise CgroupError(f"container id {container_id!r} cannot name a cgroup", field=fld)
        inner = posixpath.join(default_parent, container_id)
    elif _is_systemd_path(cgroups_path):
        raise CgroupError(
            f"{cgroups_path!r} is a systemd slice:prefix:name path; pyrunc has no systemd cgroup driver, "
            "give a cgroupfs path such as /machine/NAME",
            field=fld,
        )
    elif cgroups_path.startswith("/"):
        inner = cgroups_path
    else:
        inner = posixpath.join(default_parent, cgroups_path)
    # Clean on "/" first so ".." cannot climb above the mount root (runc's utils.CleanPath).
    cleaned = posixpath.normpath("/" + inner)
    if cleaned.startswith("//"):
        cleaned = "/" + cleaned.lstrip("/")
    if cleaned == "/":
        raise CgroupError(f"{cgroups_path!r} names the root cgroup; a container needs its own cgroup", field=fld)
    return cleaned


def host_path(mount: CgroupMount, inner: str) -> str:
    """The directory of cgroup ``inner`` (absolute from the hierarchy root) in ``mount``.

    When the mount shows a sub-tree (its root is not "/", e.g. inside a cgroup namespace) and ``inner``
    lies under that root, the root prefix is dropped; otherwise ``inner`` is taken from the mountpoint,
    which is what a runtime inside a cgroup namespace means by an absolute path.
    """
    root = mount.root
    if root not in ("", "/") and (inner == root or inner.startswith(root.rstrip("/") + "/")):
        inner = inner[len(root.rstrip("/")) :] or "/"
    return os.path.join(mount.mountpoint, inner.lstrip("/")).rstrip("/") or "/"
