"""Device nodes and /dev symlinks in the container's rootfs.

The spec's default devices (config-linux.md "Default Devices") plus ``linux.devices``: mknod(2) with
the given mode and owner; in a user namespace mknod is not allowed, so, like runc, we bind-mount the
host's node of the same path onto an empty file. Then the /dev symlinks of runtime-linux.md (fd, stdin,
stdout, stderr), /dev/core when the host has /proc/kcore (runc), and /dev/ptmx -> pts/ptmx when the
container has a /dev/pts (its own devpts instance's multiplexer, not the host's).

Everything is created through fds resolved inside the root (paths.py), so a ``dev -> /etc`` symlink
in the image cannot make us mknod on the host.
"""

from __future__ import annotations

import errno
import os
import stat

from libcontainer_py import _sys
from libcontainer_py._record import Record
from libcontainer_py._sys import consts as c
from libcontainer_py.errors import SyscallError
from libcontainer_py.rootfs import paths
from libcontainer_py.rootfs.errors import DeviceError, PathError, strerror

TYPE_CHECKING = False  # not `typing`: its import costs ~3 ms of every pyrunc call
if TYPE_CHECKING:
    from collections.abc import Sequence

    from libcontainer_py.rootfs.mounts import MountPlan
    from libcontainer_py.spec import LinuxDevice

_TYPE_BITS = {"c": stat.S_IFCHR, "u": stat.S_IFCHR, "b": stat.S_IFBLK, "p": stat.S_IFIFO}


class Device(Record, frozen=True):
    path: str
    type: str  # c, u (unbuffered char: a char device to the kernel), b, p
    major: int = 0
    minor: int = 0
    file_mode: int = 0o666
    uid: int = 0
    gid: int = 0
    field: str = "default devices"  # how messages name it: "linux.devices[2]"

    @property
    def mode(self) -> int:
        """st_mode for mknod: type bits and permission bits."""
        return _TYPE_BITS[self.type] | (self.file_mode & 0o7777)

    @property
    def rdev(self) -> int:
        return os.makedev(self.major, self.minor) if self.type != "p" else 0


#: The devices every container gets (the spec's list; runc's AllowedDevices nodes).
DEFAULT_DEVICES: tuple[Device, ...] = (
    Device("/dev/null", "c", 1, 3),
    Device("/dev/zero", "c", 1, 5),
    Device("/dev/full", "c", 1, 7),
    Device("/dev/random", "c", 1, 8),
    Device("/dev/urandom", "c", 1, 9),
    Device("/dev/tty", "c", 5, 0),
)

DEV_SYMLINKS: tuple[tuple[str, str], ...] = (
    ("/proc/self/fd", "fd"),
    ("/proc/self/fd/0", "stdin"),
    ("/proc/self/fd/1", "stdout"),
    ("/proc/self/fd/2", "stderr"),
)


def plan_devices(devices: Sequence[LinuxDevice] | None) -> list[Device]:
    """The default devices, then ``linux.devices`` (an entry with a default's path replaces it)."""
    out: dict[str, Device] = {paths.clean(d.path): d for d in DEFAULT_DEVICES}
    for i, d in enumerate(devices or ()):
        field = f"linux.devices[{i}]"
        kind = str(d.type)
        if kind not in _TYPE_BITS:
            raise DeviceError(f"{field}.type: must be one of c, b, u, p (got {kind!r})", field=f"{field}.type")
        if kind != "p" and (d.major is None or d.minor is None):
            raise DeviceError(f"{field}: major and minor are required for a device of type {kind}", field=field)
        if not d.path or not d.path.startswith("/"):
            raise DeviceError(f"{field}.path: must be an absolute path (got {d.path!r})", field=f"{field}.path")
        dev = Device(
            path=d.path,
            type=kind,
            major=d.major or 0,
            minor=d.minor or 0,
            file_mode=0o666 if d.file_mode is None else d.file_mode,
            uid=d.uid or 0,
            gid=d.gid or 0,
            field=field,
        )
        out.pop(paths.clean(d.path), None)
        out[paths.clean(d.path)] = dev
    return list(out.values())


def needs_dev_setup(plans: Sequence[MountPlan]) -> bool:
    """False when the config bind-mounts something over /dev: then /dev is the caller's (runc)."""
    return not any(p.kind == "bind" and p.destination == "/dev" for p in plans)


def create_devices(root_fd: int, devices: Sequence[Device], *, in_userns: bool) -> None:
    # umask 0: the node gets exactly fileMode.
    old = os.umask(0)
    dirs = _Dirs(root_fd)
    try:
        for dev in devices:
            create_device(root_fd, dev, in_userns=in_userns, dirs=dirs)
    finally:
        dirs.close()
        os.umask(old)


class _Dirs:
    """The device directories of one create_devices call (usually /dev alone), each resolved once
    and kept open, with what mknod will give a node there without chown: the init's fsuid, and its
    fsgid or, in a set-group-ID directory, the directory's group. Nothing else runs in the
    container yet to change them between two devices."""

    def __init__(self, root_fd: int) -> None:
        self.root_fd = root_fd
        self.fds: dict[str, tuple[int, int, int]] = {}  # rel -> (fd, owner uid, owner gid of a new node)

    def get(self, rel: str) -> tuple[int, int, int]:
        got = self.fds.get(rel)
        if got is None:
            fd = paths.mkdir_all(self.root_fd, rel)
            try:
                st = os.fstat(fd)
            except OSError:
                os.close(fd)
                raise
            gid = st.st_gid if st.st_mode & stat.S_ISGID else os.getegid()
            got = self.fds[rel] = (fd, os.geteuid(), gid)
        return got

    def close(self) -> None:
        for fd, _, _ in self.fds.values():
            os.close(fd)
        self.fds.clear()


def create_device(root_fd: int, dev: Device, *, in_userns: bool, dirs: _Dirs | None = None) -> None:
    """mknod (or, in a user namespace or when mknod is EPERM, bind the host's node) at ``dev.path``.
    Expects umask 0 (create_devices sets it)."""
    where = f"{dev.field} ({dev.path})"
    rel = paths.clean(dev.path)
    parent_rel, name = os.path.split(rel)
    own = dirs if dirs is not None else _Dirs(root_fd)
    try:
        try:
            parent, uid, gid = own.get(parent_rel or ".")
        except (PathError, SyscallError, OSError) as exc:
            err = getattr(exc, "errno", None)
            raise DeviceError(f"{where}: cannot create its directory: {exc}", field=dev.field, errno=err) from exc
        if in_userns:
            _bind_host_node(root_fd, dev, where)
            return
        try:
            os.mknod(name, dev.mode, dev.rdev, dir_fd=parent)
        except FileExistsError:
            _check_existing(parent, name, dev, where)
            uid = gid = -1  # not ours: its owner and mode are set below
        except PermissionError:
            _bind_host_node(root_fd, dev, where)
            return
        except OSError as exc:
            raise DeviceError(f"{where}: mknod: {strerror(exc.errno)}", field=dev.field, errno=exc.errno) from exc
        try:
            # mknod made it with the init's owner and, under umask 0, exactly the permission bits
            # (set-ID and sticky bits may be dropped by the kernel: those are set explicitly).
            if (dev.uid, dev.gid) != (uid, gid):
                os.chown(name, dev.uid, dev.gid, dir_fd=parent, follow_symlinks=False)
            if uid < 0 or dev.file_mode & 0o7000:
                os.chmod(name, dev.file_mode & 0o7777, dir_fd=parent)
        except OSError as exc:
            raise DeviceError(f"{where}: chown/chmod: {strerror(exc.errno)}", field=dev.field, errno=exc.errno) from exc
    finally:
        if dirs is None:
            own.close()


def _check_existing(parent: int, name: str, dev: Device, where: str) -> None:
    """The spec: a file already at ``path`` that is not the requested device is an error."""
    st = os.stat(name, dir_fd=parent, follow_symlinks=False)
    same_type = stat.S_IFMT(st.st_mode) == stat.S_IFMT(dev.mode)
    if not same_type or (dev.type != "p" and st.st_rdev != dev.rdev):
        raise DeviceError(
            f"{where}: a different file exists there (mode {st.st_mode:o}, device "
            f"{os.major(st.st_rdev)}:{os.minor(st.st_rdev)}; wanted {dev.type} {dev.major}:{dev.minor})",
            field=dev.field,
            errno=errno.EEXIST,
        )


def _bind_host_node(root_fd: int, dev: Device, where: str) -> None:
    if not os.path.exists(dev.path):
        raise DeviceError(
            f"{where}: the host has no {dev.path} to bind-mount in a user namespace",
            field=dev.field,
            errno=errno.ENOENT,
        )
    try:
        target = paths.create_file(root_fd, dev.path)
    except (PathError, OSError) as exc:
        raise DeviceError(f"{where}: {exc}", field=dev.field, errno=getattr(exc, "errno", None)) from exc
    try:
        _sys.mount(dev.path, paths.fd_path(target), None, c.MS_BIND, None)
    except SyscallError as exc:
        raise DeviceError(
            f"{where}: bind mount of the host's node: {strerror(exc.errno)}", field=dev.field, errno=exc.errno
        ) from exc
    finally:
        os.close(target)


def setup_dev_symlinks(root_fd: int) -> None:
    """/dev/fd, stdin, stdout, stderr (runtime-linux.md) and /dev/core if the host has /proc/kcore."""
    links = list(DEV_SYMLINKS)
    if os.path.exists("/proc/kcore"):  # CONFIG_PROC_KCORE may be off: runc links only when present
        links.append(("/proc/kcore", "core"))
    dev = paths.mkdir_all(root_fd, "/dev")
    try:
        for target, name in links:
            try:
                os.symlink(target, name, dir_fd=dev)
            except FileExistsError:
                pass
            except OSError as exc:
                raise DeviceError(f"/dev/{name}: symlink to {target}: {strerror(exc.errno)}", errno=exc.errno) from exc
    finally:
        os.close(dev)


def setup_ptmx(root_fd: int) -> bool:
    """/dev/ptmx -> pts/ptmx when the container has a /dev/pts directory (its devpts mount), so that
    opening /dev/ptmx allocates from the container's devpts instance. Returns whether it did."""
    pts = paths.try_resolve(root_fd, "/dev/pts", flags=os.O_DIRECTORY)
    if pts is None:
        return False
    os.close(pts)
    dev = paths.resolve(root_fd, "/dev", flags=os.O_DIRECTORY)
    try:
        try:
            os.symlink("pts/ptmx", "ptmx", dir_fd=dev)
        except FileExistsError:  # (a fresh /dev has none: the unlink only when needed)
            os.unlink("ptmx", dir_fd=dev)
            os.symlink("pts/ptmx", "ptmx", dir_fd=dev)
    except OSError as exc:
        raise DeviceError(f"/dev/ptmx: symlink to pts/ptmx: {strerror(exc.errno)}", errno=exc.errno) from exc
    finally:
        os.close(dev)
    return True


def mount_console(slave: int, root: str = "/") -> None:
    """Bind the pty slave ``slave`` (an open fd) over the container's /dev/console (after pivot_root).

    CVE-2025-52565: /dev/console must be a plain file (or the console device) of the container's,
    never a symlink: a bind through one lands wherever it points (a procfs file, past maskedPaths
    and readonlyPaths). So it is created if missing, resolved in the root without following a
    final symlink, checked, and mounted onto through its fd (nothing can swap it between the check
    and the mount); the source is the slave we hold open, not a path either."""
    root_fd = paths.open_root(root)
    try:
        made = paths.create_file(root_fd, "/dev/console", 0o600)
        os.close(made)
        target = paths.resolve(root_fd, "/dev/console", flags=os.O_NOFOLLOW)
    except (PathError, SyscallError, OSError) as exc:
        err = getattr(exc, "errno", None)
        raise DeviceError(f"/dev/console: {strerror(err) if err else exc}", errno=err) from exc
    finally:
        os.close(root_fd)
    try:
        mode = os.fstat(target).st_mode
        if not (stat.S_ISREG(mode) or stat.S_ISCHR(mode)):
            raise DeviceError(
                f"/dev/console is not a regular file or a character device (mode {mode:o}): "
                "refusing to mount the console over it",
                errno=errno.EPERM,
            )
        _sys.mount(paths.fd_path(slave), paths.fd_path(target), None, c.MS_BIND, None)
    except SyscallError as exc:
        raise DeviceError(f"/dev/console: bind mount of the pty: {strerror(exc.errno)}", errno=exc.errno) from exc
    finally:
        os.close(target)
