"""Make the rootfs the container's "/": pivot_root(2) (the default) or MS_MOVE + chroot (--no-pivot).

Order, as in runc's prepareRoot/pivotRoot:

1. "/" becomes rslave (or linux.rootfsPropagation) recursively, so nothing we mount or unmount in
   the new mount namespace propagates back to the host, while host mounts still reach us.
2. The mount holding the rootfs is made private if it is shared: pivot_root refuses a new root whose
   parent mount is shared (EINVAL), and the self-bind below must not propagate to the host's peers.
3. The rootfs is bind-mounted onto itself (MS_REC), so it is a mount point, as pivot_root requires.
4. pivot_root(".", ".") from inside the new root stacks the old root on top of it; we fchdir to the
   old root, make it rslave (our unmount must not reach the host) and lazily unmount it. No put_old
   directory is needed in the image (runc's trick, which also works on a read-only rootfs).
"""

from __future__ import annotations

import errno
import os
import stat

from libcontainer_py import _sys
from libcontainer_py._sys import consts as c
from libcontainer_py.errors import SyscallError
from libcontainer_py.mountinfo import mount_containing, read_mountinfo


def prepare_root(rootfs: str, propagation: int = 0) -> None:
    """Steps 1-3 above. ``rootfs`` is an absolute path with symlinks resolved."""
    flags = propagation or (c.MS_SLAVE | c.MS_REC)
    _sys.mount(None, "/", None, flags, None)
    # After a recursive slave, private or unbindable change of "/", no mount under it is shared any
    # more: the lookup in mountinfo (~0.3 ms) is needed only for a shared or non-recursive one.
    if flags & c.MS_SHARED or not flags & c.MS_REC:
        make_parent_mount_private(rootfs)
    _sys.mount(rootfs, rootfs, None, c.MS_BIND | c.MS_REC, None)


def make_parent_mount_private(rootfs: str) -> None:
    """If the mount that holds ``rootfs`` is shared, make it (only it) private."""
    parent = mount_containing(rootfs, read_mountinfo())
    if parent is not None and parent.shared:
        _sys.mount(None, parent.mountpoint, None, c.MS_PRIVATE, None)


def pivot_root(rootfs: str) -> None:
    """Step 4: pivot into ``rootfs`` and drop the old root; ends with cwd "/"."""
    oldroot = os.open("/", os.O_DIRECTORY | os.O_RDONLY | os.O_CLOEXEC)
    try:
        newroot = os.open(rootfs, os.O_DIRECTORY | os.O_RDONLY | os.O_CLOEXEC)
        try:
            # pivot_root acts on the cwd: both arguments "." mean "the new root, and put the old one
            # on top of it".
            os.fchdir(newroot)
            _sys.pivot_root(".", ".")
        finally:
            os.close(newroot)
        # "." is now the old root (stacked over the new one). Make it rslave so the unmount does not
        # propagate to the host, then detach it (MNT_DETACH: it is busy, we are standing in it).
        os.fchdir(oldroot)
        _sys.mount(None, ".", None, c.MS_SLAVE | c.MS_REC, None)
        _sys.umount2(".", c.MNT_DETACH)
    finally:
        os.close(oldroot)
    os.chdir("/")


def move_root(rootfs: str) -> None:
    """``--no-pivot`` (for a rootfs on a ramdisk, where pivot_root is EINVAL): MS_MOVE the rootfs onto
    "/" and chroot into it. Weaker than pivot_root: the old root stays in the mount namespace, only
    out of sight. So, like runc, first hide every full procfs and sysfs mount outside the rootfs: the
    kernel checks a new proc/sysfs mount against all such mounts in the namespace (mnt_already_visible),
    and an unmasked host /proc there would be reachable by anyone escaping the chroot."""
    for info in read_mountinfo():
        if info.root != "/" or info.fstype not in ("proc", "sysfs"):
            continue
        if info.mountpoint == rootfs or info.mountpoint.startswith(rootfs.rstrip("/") + "/"):
            continue
        try:
            _sys.mount(None, info.mountpoint, None, c.MS_SLAVE | c.MS_REC, None)
        except SyscallError as exc:
            if exc.errno == errno.ENOENT:  # a parent was already unmounted
                continue
            raise
        try:
            _sys.umount2(info.mountpoint, c.MNT_DETACH)
        except SyscallError as exc:
            if exc.errno not in (errno.EINVAL, errno.EPERM):
                raise
            # Not allowed to unmount (a locked mount in a user namespace): cover it instead.
            _sys.mount("tmpfs", info.mountpoint, "tmpfs", 0, None)
    os.chdir(rootfs)
    _sys.mount(rootfs, "/", None, c.MS_MOVE, None)
    os.chroot(".")
    os.chdir("/")


def set_root_propagation(propagation: int) -> None:
    """linux.rootfsPropagation, applied to the new "/" after the pivot (runc: applying it before
    would act on the host's mount when that is shared). Private needs nothing: step 2 did it."""
    if propagation and not propagation & c.MS_PRIVATE:
        _sys.mount(None, "/", None, propagation, None)


def reopen_dev_null() -> None:
    """stdin/stdout/stderr that are the host's /dev/null are switched to the container's /dev/null
    (runc's reOpenDevNull): the host node must not stay reachable after the pivot."""
    fd = os.open("/dev/null", os.O_RDWR | os.O_CLOEXEC)
    try:
        null = os.fstat(fd)
        if not stat.S_ISCHR(null.st_mode):
            return
        for std in (0, 1, 2):
            try:
                st = os.fstat(std)
            except OSError:
                continue
            if stat.S_ISCHR(st.st_mode) and st.st_rdev == null.st_rdev:
                os.dup2(fd, std)
    finally:
        os.close(fd)
