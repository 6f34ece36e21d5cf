"""The container's root filesystem, set up by the init inside its new mount namespace.

The init calls, in the child, after unshare(CLONE_NEWNS) (and after joining the user namespace, if any):

    prepare_rootfs(spec, bundle, in_userns=...)   # mounts, devices, /dev links, pivot_root; cwd "/"
    ... hostname, sysctls (others) ...
    finalize_rootfs(spec)                        # readonlyPaths, maskedPaths, root.readonly

It mirrors runc's prepareRootfs/finalizeRootfs. Every path inside the rootfs is resolved with openat2
RESOLVE_IN_ROOT (paths.py): nothing the image contains can make a mount land outside it.
Errors are :class:`RootfsError` subclasses whose one-line message starts with the config field.
"""

from __future__ import annotations

import os

from libcontainer_py._record import replace
from libcontainer_py._sys import consts as c
from libcontainer_py.errors import SyscallError
from libcontainer_py.init.seal import seal
from libcontainer_py.rootfs import devices as _devices
from libcontainer_py.rootfs import masked as _masked
from libcontainer_py.rootfs import mounts as _mounts
from libcontainer_py.rootfs import paths as _paths
from libcontainer_py.rootfs import pivot as _pivot
from libcontainer_py.rootfs.errors import DeviceError, MountError, PathError, RootfsError, strerror
from libcontainer_py.rootfs.idmap import IDMap
from libcontainer_py.rootfs.mounts import MountPlan, plan_mount, plan_mounts
from libcontainer_py.rootfs.options import (
    MOUNT_OPTIONS,
    MountOptions,
    parse_options,
    rootfs_propagation_flags,
)

TYPE_CHECKING = False  # not `typing`: its import costs ~3 ms of every pyrunc call
if TYPE_CHECKING:
    from collections.abc import Callable

    from libcontainer_py.spec import Spec

__all__ = [
    "MOUNT_OPTIONS",
    "DeviceError",
    "MountError",
    "MountOptions",
    "MountPlan",
    "PathError",
    "RootfsError",
    "finalize_rootfs",
    "parse_options",
    "plan_mounts",
    "prepare_rootfs",
    "rootfs_path",
]


def rootfs_path(spec: Spec, bundle: str | os.PathLike[str]) -> str:
    """``root.path`` made absolute (relative to the bundle), symlinks resolved, checked to be a dir."""
    if spec.root is None or not spec.root.path:
        raise RootfsError("root.path: required on Linux", field="root.path")
    path = os.path.realpath(os.path.join(bundle, spec.root.path))
    if not os.path.isdir(path):
        raise RootfsError(f"root.path: {path}: not a directory", field="root.path")
    return path


def _dev_ro_deferred(plans: list[MountPlan]) -> tuple[list[MountPlan], MountPlan | None]:
    """A non-bind read-only /dev is mounted read-write and made read-only in finalize_rootfs, after
    the device nodes and links are in it (runc does the same)."""
    out = []
    deferred = None
    for p in plans:
        if p.kind != "bind" and p.destination == "/dev" and p.options.flags & c.MS_RDONLY:
            deferred = p
            p = replace(p, options=replace(p.options, flags=p.options.flags & ~c.MS_RDONLY))
        out.append(p)
    return out, deferred


def prepare_rootfs(
    spec: Spec,
    bundle: str | os.PathLike[str],
    *,
    in_userns: bool,
    no_pivot: bool = False,
    before_mounts: Callable[[], object] | None = None,
    before_pivot: Callable[[], None] | None = None,
    rootfs: str | None = None,
) -> None:
    """Build the container's filesystem tree and make it "/", ending with cwd "/".

    ``rootfs``: root.path as :func:`rootfs_path` gives it, when the caller has it already (the
    init gets it from create, which checked it before the fork: one lstat a path component less).

    In order: "/" made rslave (or linux.rootfsPropagation), the rootfs bind-mounted onto itself,
    ``before_mounts()`` (where the init waits until the cgroup's limits are written),
    ``spec.mounts`` in order, the default devices and linux.devices (unless /dev is a bind mount), the
    /dev symlinks, ``before_pivot()`` (where the init runs the createRuntime/prestart hooks, which
    still see the host), then pivot_root (or MS_MOVE + chroot with ``no_pivot``), the root propagation
    and the re-open of stdio that was the host's /dev/null.
    """
    linux = spec.linux
    try:
        propagation = rootfs_propagation_flags(linux.rootfs_propagation if linux else None)
    except ValueError as exc:
        raise RootfsError(f"linux.rootfsPropagation: {exc}", field="linux.rootfsPropagation") from None
    if rootfs is None:
        rootfs = rootfs_path(spec, bundle)
    # Plan (and so validate) everything before the first mount.
    plans, _ = _dev_ro_deferred(plan_mounts(spec.mounts, bundle))
    device_list = _devices.plan_devices(linux.devices if linux else None)
    cgroupns = bool(linux and any(str(ns.type) == "cgroup" for ns in linux.namespaces or ()))
    uid_maps = tuple(IDMap.of(m) for m in (linux.uid_mappings or ())) if linux else ()
    gid_maps = tuple(IDMap.of(m) for m in (linux.gid_mappings or ())) if linux else ()

    try:
        _pivot.prepare_root(rootfs, propagation)
    except SyscallError as exc:
        raise MountError(
            f"root.path ({rootfs}): preparing the root: {exc.what.split(' ', 1)[0]}: {strerror(exc.errno)}",
            field="root.path",
            errno=exc.errno,
        ) from exc
    root_fd = _paths.open_root(rootfs)
    try:
        if before_mounts is not None:
            before_mounts()
        _mounts.mount_all(
            root_fd,
            plans,
            in_userns=in_userns,
            cgroupns=cgroupns,
            default_uid_mappings=uid_maps,
            default_gid_mappings=gid_maps,
        )
        setup_dev = _devices.needs_dev_setup(plans)
        if setup_dev:
            _devices.create_devices(root_fd, device_list, in_userns=in_userns)
            _devices.setup_ptmx(root_fd)
            _devices.setup_dev_symlinks(root_fd)
    finally:
        os.close(root_fd)

    if before_pivot is not None:
        before_pivot()

    try:
        if no_pivot:
            _pivot.move_root(rootfs)
        else:
            _pivot.pivot_root(rootfs)
        seal()  # "/" is the container's: its files are not ours to import (init/seal.py)
        _pivot.set_root_propagation(propagation)
    except SyscallError as exc:
        how = "MS_MOVE/chroot" if no_pivot else "pivot_root"
        raise MountError(
            f"root.path ({rootfs}): {how}: {exc.what.split(' ', 1)[0]}: {strerror(exc.errno)}",
            field="root.path",
            errno=exc.errno,
        ) from exc
    if setup_dev:
        try:
            _pivot.reopen_dev_null()
        except OSError as exc:
            raise DeviceError(
                f"/dev/null: reopening stdio on the container's /dev/null: {strerror(exc.errno)}",
                errno=exc.errno,
            ) from exc
    os.chdir("/")


def finalize_rootfs(spec: Spec) -> None:
    """After the pivot (and hostname/sysctl): linux.readonlyPaths, linux.maskedPaths, a deferred
    read-only /dev, and root.readonly. Run in the container's "/"."""
    linux = spec.linux
    if linux is not None:
        _masked.readonly_paths(linux.readonly_paths or ())
        _masked.mask_paths(linux.masked_paths or ())
    # The bundle only matters for bind sources, which are not used here; only the mounts on /dev
    # matter (all of them were planned, so checked, by prepare_rootfs).
    mounts = enumerate(spec.mounts or ())
    on_dev = [plan_mount(i, m, "/") for i, m in mounts if _paths.clean(m.destination or "") == "dev"]
    _, dev = _dev_ro_deferred(on_dev)
    if dev is not None:
        _masked.remount_readonly("/dev", dev.field, flags=dev.options.flags)
    if spec.root is not None and spec.root.readonly:
        _masked.remount_readonly("/", "root.readonly")
