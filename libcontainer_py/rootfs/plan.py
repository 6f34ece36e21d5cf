"""The rootfs's part of a planned init (init/vinit.py): prepare_rootfs and finalize_rootfs as steps
for vfork_plan.c's child (_sys/vfork_init.c), written before the clone.

The steps are this package's own, in its order, on its plain path:

* "/" rslave, the rootfs bound onto itself (pivot.prepare_root);
* each mount: its destination found in the root without a symlink, or made in its parent (the plain
  path of paths.ensure_at), the mount onto /proc/self/fd/N, then, for a remount or a propagation,
  the new mount looked up again (mounts.py);
* the cgroup mount as mounts._mount_cgroup makes it (a tmpfs with a bind of each v1 hierarchy, or
  of the cgroup2 directory, or fresh mounts in a cgroup namespace): its sources are worked out
  here from the cgroup the init will be in, which the parent has made by then;
* the default and the config's devices directly in /dev, the /dev links (devices.py);
* pivot_root and the old root's detach, stdio on the host's /dev/null reopened (pivot.py);
* the read-only and masked paths and a read-only root (masked.py).

What this does not plan raises :class:`NotPlanned`, and the init is the Python one: idmapped binds,
tmpcopyup, recursive mount attributes, a rootfsPropagation, --no-pivot, a read-only /dev, devices
outside /dev or with set-ID bits, a /dev that is not a fresh mount of the config's. What the child
finds otherwise (a symlink on a path, a file in the way, an error of the kernel's) fails its step,
and the Python init takes the same config again (vinit.py).
"""

from __future__ import annotations

import os

from libcontainer_py._record import Record
from libcontainer_py._sys import consts as c
from libcontainer_py.rootfs import devices as _devices
from libcontainer_py.rootfs import mounts as _mounts
from libcontainer_py.rootfs import paths as _paths
from libcontainer_py.rootfs.mounts import plan_mounts

TYPE_CHECKING = False  # not `typing`: its import costs ~3 ms of every pyrunc call
if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from libcontainer_py.init.opplan import OpPlan
    from libcontainer_py.mountinfo import MountInfo
    from libcontainer_py.rootfs.devices import Device
    from libcontainer_py.rootfs.mounts import MountPlan
    from libcontainer_py.spec import Spec

STAGE = "rootfs"
_PLAIN = c.RESOLVE_IN_ROOT | c.RESOLVE_NO_MAGICLINKS | c.RESOLVE_NO_SYMLINKS
_IN_ROOT = c.RESOLVE_IN_ROOT | c.RESOLVE_NO_MAGICLINKS
_SUBDIR = os.O_PATH | os.O_DIRECTORY | os.O_NOFOLLOW


class NotPlanned(Exception):
    """The config asks for something a planned init does not do: the Python init does it."""


class Checked(Record, frozen=True):
    """What check() found plannable: the config's mounts and devices, planned (prepare_rootfs's
    own plans), for add_prepare."""

    mounts: list[MountPlan]
    devices: list[Device]


def _remount_flags(flags: int) -> int:
    """mounts.remount_bind's flags, on its first try."""
    return (flags & ~(c.MS_REC | c.MS_BIND | c.MS_REMOUNT | c.MS_PROPAGATION)) | c.MS_REMOUNT | c.MS_BIND


def check(spec: Spec, bundle: str, *, no_pivot: bool) -> Checked:
    """The config's mounts and devices, planned and checked (as prepare_rootfs would, before its
    first mount), or NotPlanned. Config errors (a bad option, a mount inside /proc) are NotPlanned too: the
    Python init reports them, in its words."""
    linux = spec.linux
    if no_pivot:
        raise NotPlanned("--no-pivot")
    if linux is not None and linux.rootfs_propagation:
        raise NotPlanned("linux.rootfsPropagation")
    try:
        plans = plan_mounts(spec.mounts, bundle)
        device_list = _devices.plan_devices(linux.devices if linux else None)
    except Exception as exc:  # (a config error: the Python init's to report)
        raise NotPlanned(f"the config's mounts or devices: {exc}") from None
    dev = [p for p in plans if p.destination == "/dev"]
    if len(dev) != 1 or dev[0].kind == "bind":
        raise NotPlanned("/dev is not one fresh mount of the config's")
    if dev[0].options.flags & c.MS_RDONLY:
        raise NotPlanned("a read-only /dev")
    for p in plans:
        opts = p.options
        if opts.idmap or opts.tmpcopyup or opts.has_recursive_attrs:
            raise NotPlanned(f"{p.field}: idmap, tmpcopyup or a recursive attribute")
        if p.kind == "bind":
            assert p.source is not None
            if not os.path.exists(p.source):
                raise NotPlanned(f"{p.field}.source is missing")
        try:
            _mounts.check_proc_destination(p, _paths.clean(p.destination))
        except Exception as exc:
            raise NotPlanned(str(exc)) from None
    for d in device_list:
        if _paths.clean(d.path).count("/") != 1 or not _paths.clean(d.path).startswith("dev/"):
            raise NotPlanned(f"{d.field}: a device outside /dev")
        if d.file_mode & 0o7000:
            raise NotPlanned(f"{d.field}: set-ID or sticky bits")
    return Checked(mounts=plans, devices=device_list)


def covers(plans: Sequence[MountPlan], path: str) -> bool:
    """Whether a mount of ``plans`` is on ``path`` or on a directory above it."""
    return any(path == p.destination or path.startswith(p.destination.rstrip("/") + "/") for p in plans)


def add_prepare(
    plan: OpPlan,
    rootfs: str,
    checked: Checked,
    *,
    cgroup_sources: Callable[[], dict[str, str]],
    cgroupns: bool,
) -> None:
    """prepare_rootfs as steps (the module's docstring); ends with cwd "/" in the new root.
    ``cgroup_sources()``: for a cgroup mount without a cgroup namespace, the host directory to bind
    at each hierarchy's name (cgroup_bind_sources)."""
    plans = checked.mounts
    plan.add("MOUNT", STAGE, a=c.MS_SLAVE | c.MS_REC, data=b"/")
    plan.add("MOUNT", STAGE, path=rootfs, a=c.MS_BIND | c.MS_REC, data=os.fsencode(rootfs))
    root = plan.slot()
    plan.add("OPENAT2", STAGE, fd=c.AT_FDCWD, path=rootfs, a=os.O_PATH | os.O_DIRECTORY, c=root)
    for p in plans:
        _add_mount(plan, root, p, cgroup_sources=cgroup_sources, cgroupns=cgroupns)
    dev = plan.slot()
    plan.add("OPENAT2", STAGE, fd=root, path="dev", a=os.O_PATH | os.O_DIRECTORY, b=_PLAIN, c=dev)
    umask = os.umask(0)
    os.umask(umask)
    plan.add("UMASK", STAGE, a=0)
    for d in checked.devices:
        name = _paths.clean(d.path).split("/", 1)[1]
        plan.add("MKNOD_AT", STAGE, fd=dev, path=name, a=d.mode, b=(d.major << 32) | d.minor)
        plan.add("FCHOWN_AT", STAGE, fd=dev, path=name, a=d.uid, b=d.gid)
    plan.add("UMASK", STAGE, a=umask)
    if any(p.destination == "/dev/pts" for p in plans):
        plan.add("SYMLINK_AT", STAGE, fd=dev, path="ptmx", s2="pts/ptmx")
    links = list(_devices.DEV_SYMLINKS)
    if os.path.exists("/proc/kcore"):  # (as devices.setup_dev_symlinks)
        links.append(("/proc/kcore", "core"))
    for target, name in links:
        plan.add("SYMLINK_AT", STAGE, fd=dev, path=name, s2=target, a=1)
    plan.release(dev)
    plan.release(root)
    # pivot.pivot_root
    old, new = plan.slot(), plan.slot()
    plan.add("OPENAT2", STAGE, fd=c.AT_FDCWD, path="/", a=os.O_DIRECTORY | os.O_RDONLY, c=old)
    plan.add("OPENAT2", STAGE, fd=c.AT_FDCWD, path=rootfs, a=os.O_DIRECTORY | os.O_RDONLY, c=new)
    plan.add("FCHDIR", STAGE, fd=new)
    plan.add("PIVOT_ROOT", STAGE)
    plan.release(new)
    plan.add("FCHDIR", STAGE, fd=old)
    plan.add("MOUNT", STAGE, a=c.MS_SLAVE | c.MS_REC, data=b".")
    plan.add("UMOUNT2", STAGE, path=".", a=c.MNT_DETACH)
    plan.release(old)
    plan.add("REOPEN_NULL", STAGE)
    plan.add("CHDIR", STAGE, path="/")


def _add_mount(
    plan: OpPlan, root: int, p: MountPlan, *, cgroup_sources: Callable[[], dict[str, str]], cgroupns: bool
) -> None:
    """mounts._mount_one's plain path."""
    opts = p.options
    rel = _paths.clean(p.destination)
    directory = True
    if p.kind == "bind":
        assert p.source is not None
        directory = os.path.isdir(p.source)
    target = plan.slot()
    plan.add("ENSURE_AT", STAGE, fd=root, path=rel, a=int(directory), b=0o755, c=target)
    remount = opts.needs_bind_remount
    if p.kind == "bind":
        plan.add("MOUNT", STAGE, fd=target, path=p.source, a=p.mount_flags)
    elif p.kind in ("cgroup", "cgroup2"):
        remount = _add_cgroup(plan, root, target, rel, p, cgroup_sources=cgroup_sources, cgroupns=cgroupns)
    elif p.kind == "tmpfs":
        # b=1: an existing directory's mode goes first in the data (mounts._mount_one)
        plan.add("MOUNT", STAGE, fd=target, path=p.source, s2="tmpfs", s3=opts.data or None, a=p.mount_flags, b=1)
    else:
        plan.add("MOUNT", STAGE, fd=target, path=p.source, s2=p.fstype, s3=opts.data or None, a=p.mount_flags)
    if remount or opts.propagation:
        new = plan.slot()
        plan.add("OPENAT2", STAGE, fd=root, path=rel, a=os.O_PATH, b=_PLAIN, c=new)
        if remount:
            plan.add("MOUNT", STAGE, fd=new, a=_remount_flags(opts.flags))
        for prop in opts.propagation:
            plan.add("MOUNT", STAGE, fd=new, a=prop)
        plan.release(new)
    plan.release(target)


def _add_cgroup(
    plan: OpPlan,
    root: int,
    target: int,
    rel: str,
    p: MountPlan,
    *,
    cgroup_sources: Callable[[], dict[str, str]],
    cgroupns: bool,
) -> bool:
    """mounts._mount_cgroup's steps; returns whether the top needs a bind remount for its flags."""
    from libcontainer_py.mountinfo import cgroup_mounts

    mounts = cgroup_mounts()
    flags = p.mount_flags
    v1 = [m for m in mounts if m.fstype == "cgroup"]
    if p.kind == "cgroup2" or not v1:
        host2 = next((m for m in mounts if m.fstype == "cgroup2"), None)
        if not cgroupns and host2 is not None:
            plan.add("MOUNT", STAGE, fd=target, path=cgroup_sources()[""], a=c.MS_BIND | c.MS_REC)
            return bool(flags & ~c.MS_REMOUNT)
        # (EPERM or EBUSY: the Python init binds the host's hierarchy instead)
        plan.add("MOUNT", STAGE, fd=target, path="cgroup2", s2="cgroup2", s3=p.options.data or None, a=flags)
        return False
    plan.add(
        "MOUNT", STAGE, fd=target, path="tmpfs", s2="tmpfs", s3="mode=755", a=c.MS_NOSUID | c.MS_NODEV | c.MS_NOEXEC
    )
    top = plan.slot()
    plan.add("OPENAT2", STAGE, fd=root, path=rel, a=os.O_PATH | os.O_DIRECTORY, b=_PLAIN, c=top)
    sources = {} if cgroupns else cgroup_sources()
    seen: set[str] = set()
    for hier in v1:
        name = _hierarchy_name(hier)
        if not name or name in seen or name in (".", ".."):
            continue
        seen.add(name)
        plan.add("MKDIR_AT", STAGE, fd=top, path=name, a=0o755)
        sub = plan.slot()
        plan.add("OPENAT2", STAGE, fd=top, path=name, a=_SUBDIR, c=sub)
        if cgroupns:
            controllers = ",".join(_mounts._controllers(hier))
            plan.add("MOUNT", STAGE, fd=sub, path="cgroup", s2="cgroup", s3=controllers, a=flags & ~c.MS_RDONLY)
        else:
            plan.add("MOUNT", STAGE, fd=sub, path=sources[name], a=c.MS_BIND | c.MS_REC)
        if flags & ~c.MS_REMOUNT:
            new = plan.slot()
            plan.add("OPENAT2", STAGE, fd=top, path=name, a=_SUBDIR, c=new)
            plan.add("MOUNT", STAGE, fd=new, a=_remount_flags(flags))
            plan.release(new)
        plan.release(sub)
        if "," in name:
            for single in name.split(","):
                plan.add("SYMLINK_AT", STAGE, fd=top, path=single, s2=name, a=1)
    plan.release(top)
    return bool(flags & ~c.MS_REMOUNT)


def _hierarchy_name(hier: MountInfo) -> str:
    return os.path.basename(hier.mountpoint.rstrip("/"))


def cgroup_bind_sources(container_dirs: dict[str, str]) -> dict[str, str]:
    """What mounts._mount_cgroup binds without a cgroup namespace, worked out before the init is
    in its cgroup: for each v1 hierarchy (by its name) and for cgroup2 (""), the host directory of
    the init's own cgroup there, which is the container's where the runtime joins it (the
    ``container_dirs``, a manager's paths()) and the runtime's own elsewhere (/proc/self/cgroup)."""
    from libcontainer_py.mountinfo import cgroup_mounts

    own = _mounts._own_cgroups()
    joined = list(dict.fromkeys(container_dirs.values()))
    out: dict[str, str] = {}
    for hier in cgroup_mounts():
        mp = hier.mountpoint.rstrip("/")
        mine = next((d for d in joined if d == mp or d.startswith(mp + "/")), None)
        key = "" if hier.fstype == "cgroup2" else _hierarchy_name(hier)
        if hier.fstype not in ("cgroup", "cgroup2") or key in out:
            continue
        if mine is not None:
            out[key] = mine
            continue
        controllers: frozenset[str] = frozenset() if hier.fstype == "cgroup2" else frozenset(_mounts._controllers(hier))
        path = own.get(controllers, "/")
        if hier.fstype == "cgroup2":
            inside = (path + "/").startswith(hier.root.rstrip("/") + "/")
        else:
            inside = path.startswith(hier.root)
        relpath = os.path.relpath(path, hier.root) if inside else "."
        out[key] = os.path.normpath(os.path.join(hier.mountpoint, relpath))
    return out


def add_finalize(plan: OpPlan, spec: Spec) -> None:
    """finalize_rootfs as steps, in the new root: readonlyPaths, maskedPaths, root.readonly."""
    linux = spec.linux
    readonly = (linux.readonly_paths if linux else None) or ()
    masked = (linux.masked_paths if linux else None) or ()
    readonly_root = spec.root is not None and spec.root.readonly
    if not (readonly or masked or readonly_root):
        return
    root = plan.slot()
    plan.add("OPENAT2", STAGE, fd=c.AT_FDCWD, path="/", a=os.O_PATH | os.O_DIRECTORY, c=root)
    for path in readonly:
        plan.add("READONLY", STAGE, fd=root, path=_paths.clean(path))
    if masked:
        null = plan.slot()
        plan.add("OPENAT2", STAGE, fd=root, path="dev/null", a=os.O_PATH | os.O_NOFOLLOW, b=_IN_ROOT, c=null)
        plan.add("CHECK_NULL", STAGE, fd=null)
        for path in masked:
            plan.add("MASK", STAGE, fd=root, path=_paths.clean(path), b=null)
        plan.release(null)
    if readonly_root:
        top = plan.slot()
        plan.add("OPENAT2", STAGE, fd=root, path=".", a=os.O_PATH, b=_IN_ROOT, c=top)
        plan.add("MOUNT", STAGE, fd=top, a=_remount_flags(c.MS_RDONLY))
        plan.release(top)
    plan.release(root)
