"""Mount ``spec.mounts`` into the rootfs, in order (the spec requires the listed order).

Two halves: :func:`plan_mount` turns a config entry into a :class:`MountPlan` (pure, unit-tested:
option parsing, bind detection, source relative to the bundle, config errors) and :func:`mount_one`
performs it. Every destination is resolved in the rootfs with openat2 and mounted onto through
``/proc/self/fd/N`` (see paths.py, CVE-2021-30465), then, when something is left to do on the new
mount (a remount for its flags, propagation, tmpcopyup), looked up again, because the old fd still
names the directory the new mount now covers.

Per kind, following runc's mountToRootfs:

* bind/rbind: mount(MS_BIND[|MS_REC]); a bind ignores every other flag, so ro/nosuid/... need a second
  MS_REMOUNT|MS_BIND call (and in a user namespace the flags the kernel has *locked* on the source,
  e.g. nosuid from the host, must be repeated or the remount is EPERM);
* idmap/ridmap binds: open_tree(OPEN_TREE_CLONE) + mount_setattr(MOUNT_ATTR_IDMAP) + move_mount;
* sysfs: in a user namespace without its own network namespace the kernel refuses a fresh sysfs
  (EPERM); like runc we then rbind the host's /sys;
* tmpfs: the mode of an existing destination directory is kept (``mode=`` in data still wins), and
  ``tmpcopyup`` copies the directory's content into the new tmpfs;
* cgroup: see :func:`_mount_cgroup`;
* anything else (proc, devpts, mqueue, ...): a plain mount(2) with the flags and data.

Then, for every kind: the propagation options, one mount(2) call each, and the recursive r* options
with one mount_setattr(AT_RECURSIVE).
"""

from __future__ import annotations

import errno
import os
import stat

from libcontainer_py import _sys, procfs
from libcontainer_py._record import Record, replace
from libcontainer_py._sys import consts as c
from libcontainer_py.errors import SyscallError
from libcontainer_py.mountinfo import MountInfo, cgroup_mounts, mount_containing, read_mountinfo
from libcontainer_py.rootfs import paths
from libcontainer_py.rootfs.errors import MountError, PathError, strerror
from libcontainer_py.rootfs.idmap import IDMap, userns_fd_for
from libcontainer_py.rootfs.options import MountOptions, parse_options

TYPE_CHECKING = False  # not `typing`: its import costs ~3 ms of every pyrunc call
if TYPE_CHECKING:
    from collections.abc import Sequence

    from libcontainer_py.spec import Mount

# Mounts below /proc are refused (a mount over /proc/self/attr or /proc/sys could disable the
# container's LSM confinement: CVE-2019-16884, CVE-2019-19921) except for these files, which lxcfs
# emulates so that top and free see the container's limits. runc's checkProcMount list.
VALID_PROC_MOUNTS = frozenset(
    {
        "proc/cpuinfo", "proc/diskstats", "proc/meminfo", "proc/stat", "proc/swaps", "proc/uptime",
        "proc/loadavg", "proc/slabinfo", "proc/pressure/cpu", "proc/pressure/io",
        "proc/pressure/memory", "proc/net/dev", "proc/sys/kernel/ns_last_pid",
    }
)  # fmt: skip

# statvfs(3) f_flag bits (ST_*) and the mount(2) flags they report (fs/statfs.c calculate_f_flags).
_ST_TO_MS = (
    (os.ST_RDONLY, c.MS_RDONLY),
    (os.ST_NOSUID, c.MS_NOSUID),
    (os.ST_NODEV, c.MS_NODEV),
    (os.ST_NOEXEC, c.MS_NOEXEC),
    (os.ST_SYNCHRONOUS, c.MS_SYNCHRONOUS),
    (os.ST_MANDLOCK, c.MS_MANDLOCK),
    (os.ST_NOATIME, c.MS_NOATIME),
    (os.ST_NODIRATIME, c.MS_NODIRATIME),
    (os.ST_RELATIME, c.MS_RELATIME),
    (0x2000, c.MS_NOSYMFOLLOW),  # ST_NOSYMFOLLOW, Linux 5.10
)
ATIME_FLAGS = c.MS_NOATIME | c.MS_RELATIME | c.MS_STRICTATIME


class MountPlan(Record, frozen=True):
    """One ``mounts[i]`` entry, checked and ready to perform."""

    index: int
    destination: str  # absolute and lexically clean: "/dev/shm"
    kind: str  # "bind" or the filesystem type ("proc", "tmpfs", "cgroup2", ...)
    fstype: str | None
    source: str | None  # for binds: the absolute host path (bundle-relative sources resolved)
    options: MountOptions
    uid_mappings: tuple[IDMap, ...] = ()
    gid_mappings: tuple[IDMap, ...] = ()

    @property
    def field(self) -> str:
        return f"mounts[{self.index}]"

    @property
    def label(self) -> str:
        """``tmpfs on /dev/shm``, ``bind /srv/data on /data``: how messages name this mount."""
        if self.kind == "bind":
            return f"bind {self.source} on {self.destination}"
        return f"{self.kind} on {self.destination}"

    @property
    def mount_flags(self) -> int:
        """The MS_* flags of the first mount(2) call (MS_REMOUNT is only meaningful on its own)."""
        if self.kind == "bind":
            return self.options.flags & (c.MS_BIND | c.MS_REC)
        return self.options.flags


def plan_mount(index: int, mount: Mount, bundle: str | os.PathLike[str]) -> MountPlan:
    """Check one config entry and work out what to do; raises MountError naming the field."""
    field = f"mounts[{index}]"
    opts = parse_options(mount.options)
    fstype = mount.type or None
    if fstype == "bind" and not opts.is_bind:
        # runc (and docker before it) treat type "bind" as a bind mount even without the option.
        opts = replace(opts, flags=opts.flags | c.MS_BIND)
    if not mount.destination:
        raise MountError(f"{field}.destination: must not be empty", field=f"{field}.destination")
    destination = "/" + paths.clean(mount.destination).removeprefix(".")
    uid_maps = tuple(IDMap.of(m) for m in mount.uid_mappings or ())
    gid_maps = tuple(IDMap.of(m) for m in mount.gid_mappings or ())
    if bool(uid_maps) != bool(gid_maps):
        raise MountError(f"{field}: uidMappings and gidMappings must be given together", field=f"{field}.uidMappings")
    if uid_maps and not opts.idmap:
        # The spec says the options SHOULD name idmap; never ignore mappings that were asked for.
        opts = replace(opts, idmap=True)
    if opts.is_bind:
        kind = "bind"
        if not mount.source:
            raise MountError(f"{field}.source: required for a bind mount on {destination}", field=f"{field}.source")
        source = os.path.join(bundle, mount.source) if not os.path.isabs(mount.source) else mount.source
        source = os.path.normpath(source)
    else:
        if not fstype:
            raise MountError(
                f"{field}.type: required for a mount on {destination} that is not a bind", field=f"{field}.type"
            )
        kind = fstype
        source = mount.source or fstype
    if opts.idmap and kind != "bind":
        raise MountError(
            f"{field}.options: idmap/ridmap are supported on bind mounts only (got type {kind})",
            field=f"{field}.options",
        )
    return MountPlan(index, destination, kind, fstype, source, opts, uid_maps, gid_maps)


def plan_mounts(mounts: Sequence[Mount] | None, bundle: str | os.PathLike[str]) -> list[MountPlan]:
    return [plan_mount(i, m, bundle) for i, m in enumerate(mounts or ())]


def check_proc_destination(plan: MountPlan, real: str) -> None:
    """Refuse mounts over /proc or inside it (runc's checkProcMount). ``real`` is the destination as
    resolved in the root (so a symlink to /proc does not get around the check)."""
    if real != "proc" and not real.startswith("proc/"):
        return
    if real == "proc":
        if plan.kind == "proc":
            return
        if plan.kind == "bind" and plan.source and _is_procfs(plan.source):
            return
        raise MountError(f"{plan.field} ({plan.label}): /proc can only be a mount of type proc", field=plan.field)
    if real in VALID_PROC_MOUNTS:
        return
    raise MountError(f"{plan.field} ({plan.label}): mounts inside /proc are not allowed (/{real})", field=plan.field)


def _is_procfs(path: str) -> bool:
    # No statfs(2) f_type in Python: find the mount the path is on.
    real = os.path.realpath(path)
    m = mount_containing(real, read_mountinfo())
    return m is not None and m.fstype == "proc"


def locked_flags(path: str) -> int:
    """The MS_* flags a mount currently has (statvfs), for a remount in a user namespace: flags the
    kernel locked when the mount crossed into the namespace must be repeated, or it says EPERM."""
    st = os.statvfs(path)
    return sum(ms for st_bit, ms in _ST_TO_MS if st.f_flag & st_bit)


def remount_bind(fd: int, flags: int, clear: int = 0) -> None:
    """mount(NULL, fd, NULL, MS_REMOUNT|MS_BIND|flags): apply ro/nosuid/... to a bind mount."""
    target = paths.fd_path(fd)
    want = (flags & ~(c.MS_REC | c.MS_BIND | c.MS_REMOUNT | c.MS_PROPAGATION)) | c.MS_REMOUNT | c.MS_BIND
    try:
        _sys.mount(None, target, None, want, None)
    except SyscallError as exc:
        if exc.errno != errno.EPERM:
            raise
        current = locked_flags(target)
        if want & ATIME_FLAGS:
            current &= ~ATIME_FLAGS  # the requested atime mode replaces the current one
        _sys.mount(None, target, None, want | (current & ~clear), None)


def apply_propagation_and_attrs(fd: int, opts: MountOptions) -> None:
    """The propagation options (one mount(2) each: the kernel takes one type per call) and the
    recursive r* attributes (mount_setattr with AT_RECURSIVE: a whole rbind tree at once)."""
    for prop in opts.propagation:
        _sys.mount(None, paths.fd_path(fd), None, prop, None)
    if opts.has_recursive_attrs:
        _sys.mount_setattr(fd, "", c.AT_EMPTY_PATH | c.AT_RECURSIVE, opts.attr_set, opts.attr_clr, 0, 0)


def _op(exc: SyscallError) -> str:
    return exc.what.split(" ", 1)[0]


def mount_one(
    root_fd: int,
    plan: MountPlan,
    *,
    in_userns: bool = False,
    cgroupns: bool = False,
    default_uid_mappings: Sequence[IDMap] = (),
    default_gid_mappings: Sequence[IDMap] = (),
) -> None:
    """Perform one planned mount inside the root; errors name ``mounts[i]`` and what failed."""
    try:
        _mount_one(
            root_fd,
            plan,
            in_userns=in_userns,
            cgroupns=cgroupns,
            uid_maps=plan.uid_mappings or tuple(default_uid_mappings),
            gid_maps=plan.gid_mappings or tuple(default_gid_mappings),
        )
    except SyscallError as exc:
        raise MountError(
            f"{plan.field} ({plan.label}): {_op(exc)}: {strerror(exc.errno)}", field=plan.field, errno=exc.errno
        ) from exc
    except PathError as exc:
        raise MountError(f"{plan.field} ({plan.label}): {exc}", field=plan.field, errno=exc.errno) from exc
    except OSError as exc:
        what = f"{exc.filename}: " if exc.filename else ""
        raise MountError(
            f"{plan.field} ({plan.label}): {what}{strerror(exc.errno)}", field=plan.field, errno=exc.errno
        ) from exc


def mount_all(
    root_fd: int,
    plans: Sequence[MountPlan],
    *,
    in_userns: bool = False,
    cgroupns: bool = False,
    default_uid_mappings: Sequence[IDMap] = (),
    default_gid_mappings: Sequence[IDMap] = (),
) -> None:
    for plan in plans:
        mount_one(
            root_fd,
            plan,
            in_userns=in_userns,
            cgroupns=cgroupns,
            default_uid_mappings=default_uid_mappings,
            default_gid_mappings=default_gid_mappings,
        )


def _mount_one(
    root_fd: int,
    plan: MountPlan,
    *,
    in_userns: bool,
    cgroupns: bool,
    uid_maps: tuple[IDMap, ...],
    gid_maps: tuple[IDMap, ...],
) -> None:
    opts = plan.options
    existed = False
    if plan.kind == "bind":
        assert plan.source is not None
        try:
            st = os.stat(plan.source)
        except OSError as exc:
            raise MountError(
                f"{plan.field}.source: {plan.source}: {strerror(exc.errno)}",
                field=f"{plan.field}.source",
                errno=exc.errno,
            ) from exc
        target, real, _ = paths.ensure_at(root_fd, plan.destination, directory=stat.S_ISDIR(st.st_mode))
    else:
        target, real, existed = paths.ensure_at(root_fd, plan.destination, directory=True)
    try:
        if plan.kind in ("proc", "sysfs") and real != paths.clean(plan.destination):
            # CVE-2019-19921: a procfs (or sysfs) mounted where a symlink of the image points would
            # not be at the path the LSM profiles, masked and readonly paths and our own procfs
            # writes expect; an image racing a volume can aim it anywhere. runc refuses too.
            raise MountError(
                f"{plan.field} ({plan.label}): {plan.kind} must be mounted on an ordinary directory, "
                f"not through a symbolic link (it resolves to /{real})",
                field=plan.field,
            )
        check_proc_destination(plan, real)
        tpath = paths.fd_path(target)
        remount = opts.needs_bind_remount
        if plan.kind == "bind":
            if opts.idmap:
                _idmap_bind(plan, target, uid_maps, gid_maps)
            else:
                _sys.mount(plan.source, tpath, None, plan.mount_flags, None)
        elif plan.kind in ("cgroup", "cgroup2"):
            remount = _mount_cgroup(root_fd, target, real, plan, cgroupns=cgroupns)
        elif plan.kind == "sysfs":
            try:
                _sys.mount(plan.source, tpath, "sysfs", plan.mount_flags, opts.data or None)
            except SyscallError as exc:
                if not (in_userns and exc.errno == errno.EPERM):
                    raise
                # A user namespace that does not own the network namespace may not mount sysfs:
                # runc's fallback is the host's /sys, recursively, with the flags applied after.
                _sys.mount("/sys", tpath, None, c.MS_BIND | c.MS_REC, None)
                remount = bool(opts.flags & ~c.MS_REMOUNT)
        elif plan.kind == "tmpfs":
            data = opts.data
            if existed:
                mode = stat.S_IMODE(os.fstat(target).st_mode)
                data = f"mode={mode:04o}" + (f",{data}" if data else "")
            _sys.mount(plan.source, tpath, "tmpfs", plan.mount_flags, data or None)
        else:
            _sys.mount(plan.source, tpath, plan.fstype, plan.mount_flags, opts.data or None)
        copyup = plan.kind == "tmpfs" and opts.tmpcopyup
        if not (copyup or remount or opts.propagation or opts.has_recursive_attrs):
            return  # nothing more to do on the new mount: no second lookup
        new = paths.resolve(root_fd, real)
        try:
            if copyup:
                copy_tree(target, new)
            if remount:
                remount_bind(new, opts.flags, opts.clear_flags)
            apply_propagation_and_attrs(new, opts)
        finally:
            os.close(new)
    finally:
        os.close(target)


def _idmap_bind(plan: MountPlan, target: int, uid_maps: tuple[IDMap, ...], gid_maps: tuple[IDMap, ...]) -> None:
    """An idmapped bind: clone the source tree detached, give it the mapping, attach it."""
    if not uid_maps or not gid_maps:
        raise MountError(
            f"{plan.field}: idmap needs uidMappings and gidMappings (on the mount, or linux.uidMappings "
            "and linux.gidMappings with a user namespace)",
            field=f"{plan.field}.uidMappings",
        )
    assert plan.source is not None
    rec = c.AT_RECURSIVE if plan.options.is_recursive_bind else 0
    userns = userns_fd_for(uid_maps, gid_maps)
    try:
        tree = _sys.open_tree(c.AT_FDCWD, plan.source, c.OPEN_TREE_CLONE | c.OPEN_TREE_CLOEXEC | rec)
        try:
            setattr_flags = c.AT_EMPTY_PATH | (c.AT_RECURSIVE if plan.options.idmap_recursive else 0)
            _sys.mount_setattr(tree, "", setattr_flags, c.MOUNT_ATTR_IDMAP, 0, 0, userns)
            _sys.move_mount(tree, "", target, "", c.MOVE_MOUNT_F_EMPTY_PATH | c.MOVE_MOUNT_T_EMPTY_PATH)
        finally:
            os.close(tree)
    finally:
        os.close(userns)


# --- cgroups ------------------------------------------------------------------------------------------


def _mount_cgroup(root_fd: int, target: int, real: str, plan: MountPlan, *, cgroupns: bool) -> bool:
    """Mount the cgroup filesystem(s); returns whether the top needs a bind remount for its flags.

    * cgroup2, or "cgroup" on a pure v2 host, with a cgroup namespace: a fresh cgroup2 mount, rooted
      at the namespace. When the kernel refuses (EPERM/EBUSY) we rbind the host's cgroup2 hierarchy
      instead, as runc does.
    * the same without a cgroup namespace: a bind of this process's own cgroup2 directory (the
      container's with the v2 driver; on a hybrid host, where the v1 driver leaves the cgroup2
      one alone, the runtime's), as for v1 below. Not a fresh mount (runc's): made from the host's cgroup
      namespace, a cgroup2 mount applies its options to the root of the whole hierarchy, so a
      systemd host's nsdelegate and memory_recursiveprot were cleared for everyone (the host's
      mountinfo shows it); it waited ~6 ms for an RCU grace period after an idle moment; and it
      showed the container the host's whole tree.
    * "cgroup" on a v1 or hybrid host, as runc: a tmpfs (mode=755) at the destination and, for each v1
      hierarchy, a directory named like the host's (cpu, memory, name=systemd's "systemd"...) that gets
      either a fresh mount of that hierarchy (with a cgroup namespace, where it is rooted at the
      namespace) or a bind of this process's own cgroup directory in it (without one), plus the
      symlinks for co-mounted controllers (cpu -> cpu,cpuacct). The v2 "unified" hierarchy of a hybrid
      host is not exposed, as in runc's v1 mode.
    """
    tpath = paths.fd_path(target)
    mounts = cgroup_mounts()
    flags = plan.mount_flags
    v1 = [m for m in mounts if m.fstype == "cgroup"]
    if plan.kind == "cgroup2" or not v1:
        host2 = next((m for m in mounts if m.fstype == "cgroup2"), None)
        if not cgroupns and host2 is not None:
            path = _own_cgroups().get(frozenset(), "/")
            rel = os.path.relpath(path, host2.root) if (path + "/").startswith(host2.root.rstrip("/") + "/") else "."
            _sys.mount(os.path.normpath(os.path.join(host2.mountpoint, rel)), tpath, None, c.MS_BIND | c.MS_REC, None)
            return bool(flags & ~c.MS_REMOUNT)
        try:
            _sys.mount("cgroup2", tpath, "cgroup2", flags, plan.options.data or None)
            return False
        except SyscallError as exc:
            if exc.errno not in (errno.EPERM, errno.EBUSY):
                raise
            host = next((m.mountpoint for m in mounts if m.fstype == "cgroup2"), "/sys/fs/cgroup")
            _sys.mount(host, tpath, None, c.MS_BIND | c.MS_REC, None)
            return bool(flags & ~c.MS_REMOUNT)
    _sys.mount("tmpfs", tpath, "tmpfs", c.MS_NOSUID | c.MS_NODEV | c.MS_NOEXEC, "mode=755")
    own = _own_cgroups()
    # The tmpfs is new and only ours: nothing of the container runs yet to put a symlink in it. Its
    # directories are made with mkdirat on its root's fd and opened with O_NOFOLLOW, one lookup
    # each, rather than walked from the rootfs (paths.mkdir_all: ~4 openat2 a directory).
    top = paths.resolve(root_fd, real, flags=os.O_DIRECTORY)
    try:
        seen: set[str] = set()
        for hier in v1:
            name = os.path.basename(hier.mountpoint.rstrip("/"))
            if not name or name in seen or name in (".", ".."):
                continue
            seen.add(name)
            os.mkdir(name, 0o755, dir_fd=top)
            sub = os.open(name, _SUBDIR, dir_fd=top)
            try:
                controllers = _controllers(hier)
                spath = paths.fd_path(sub)
                if cgroupns:
                    _sys.mount("cgroup", spath, "cgroup", flags & ~c.MS_RDONLY, ",".join(controllers))
                else:
                    path = own.get(frozenset(controllers), "/")
                    rel = os.path.relpath(path, hier.root) if path.startswith(hier.root) else "."
                    source = os.path.normpath(os.path.join(hier.mountpoint, rel))
                    _sys.mount(source, spath, None, c.MS_BIND | c.MS_REC, None)
                if flags & ~c.MS_REMOUNT:
                    new = os.open(name, _SUBDIR, dir_fd=top)  # now the mount's root
                    try:
                        remount_bind(new, flags)
                    finally:
                        os.close(new)
            finally:
                os.close(sub)
            if "," in name:
                for single in name.split(","):
                    try:  # noqa: SIM105  (not contextlib: its import costs ~3 ms of every pyrunc call)
                        os.symlink(name, single, dir_fd=top)
                    except FileExistsError:
                        pass
    finally:
        os.close(top)
    # The tmpfs itself: ro if asked, like runc's "remount cgroup root as readonly".
    return bool(flags & ~c.MS_REMOUNT)


_SUBDIR = os.O_PATH | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


_NOT_CONTROLLERS = frozenset(
    {"rw", "ro", "clone_children", "noprefix", "xattr", "cpuset_v2_mode", "nsdelegate", "none"}
)


def _controllers(hier: MountInfo) -> list[str]:
    """The controllers (and ``name=``) of a v1 hierarchy, from its super options."""
    return [o for o in hier.super_options if o not in _NOT_CONTROLLERS and not o.startswith("release_agent=")]


def _own_cgroups() -> dict[frozenset[str], str]:
    """/proc/self/cgroup: controller set -> this process's path in that hierarchy (the empty set:
    the cgroup2 one, "0::PATH")."""
    out: dict[frozenset[str], str] = {}
    for line in procfs.read_text("/proc/self/cgroup").split("\n"):
        parts = line.split(":", 2)
        if len(parts) == 3:
            out[frozenset(parts[1].split(",")) if parts[1] else frozenset()] = parts[2]
    return out


# --- tmpcopyup ----------------------------------------------------------------------------------------


def copy_tree(src: int, dst: int) -> None:
    """Copy the content of directory ``src`` into ``dst`` (both fds; O_PATH is fine), keeping modes,
    owners, times, symlinks and special files. ``src`` may be covered by a mount: lookups through its
    fd stay in the covered directory, which is how tmpcopyup reads what the new tmpfs hides."""
    sfd = os.open(".", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC, dir_fd=src)
    dfd = os.open(".", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC, dir_fd=dst)
    try:
        st = os.fstat(sfd)
        _copy_dir(sfd, dfd)
        os.chown(dfd, st.st_uid, st.st_gid)
        os.chmod(dfd, stat.S_IMODE(st.st_mode))
    finally:
        os.close(sfd)
        os.close(dfd)


def _copy_dir(sfd: int, dfd: int) -> None:
    for name in os.listdir(sfd):
        st = os.stat(name, dir_fd=sfd, follow_symlinks=False)
        mode = st.st_mode
        if stat.S_ISDIR(mode):
            os.mkdir(name, 0o700, dir_fd=dfd)
            child_s = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=sfd)
            child_d = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dfd)
            try:
                _copy_dir(child_s, child_d)
            finally:
                os.close(child_s)
                os.close(child_d)
        elif stat.S_ISLNK(mode):
            os.symlink(os.readlink(name, dir_fd=sfd), name, dir_fd=dfd)
        elif stat.S_ISREG(mode):
            _copy_file(sfd, dfd, name, st.st_size)
        else:  # fifo, socket, device node
            os.mknod(name, mode, st.st_rdev, dir_fd=dfd)
        os.chown(name, st.st_uid, st.st_gid, dir_fd=dfd, follow_symlinks=False)
        if not stat.S_ISLNK(mode):
            os.chmod(name, stat.S_IMODE(mode), dir_fd=dfd)
        os.utime(name, ns=(st.st_atime_ns, st.st_mtime_ns), dir_fd=dfd, follow_symlinks=False)


def _copy_file(sfd: int, dfd: int, name: str, size: int) -> None:
    fin = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=sfd)
    try:
        fout = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600, dir_fd=dfd)
        try:
            left = size
            while left > 0:
                n = os.sendfile(fout, fin, None, min(left, 1 << 30))
                if n == 0:
                    break
                left -= n
        finally:
            os.close(fout)
    finally:
        os.close(fin)
