"""The kernel seam: the only module that calls into the cffi shim ``libcontainer_py._sys._shim``.

Two layers:

* module functions (``mount``, ``pivot_root``, ``openat2``, ...) call the C wrapper, which returns 0 or
  an errno (or a value / ``-errno``), and turn a failure into :class:`SyscallError` whose message names
  the call, its paths and its flags by name (see ``describe.py``);
* :class:`Syscalls`, an object with one method per function. Subsystems take a ``Syscalls`` so their
  unit tests can pass :class:`libcontainer_py._sys.fake.RecordingSyscalls` instead and run without root.

Only what ``os`` lacks lives here: use os.fork/os.setuid/os.setgroups/os.chroot/os.pidfd_open directly.
(os.unshare and os.setns arrived in Python 3.12; we support 3.11, hence ours.)

The shim is imported on first use, not at import time: importing this package stays cheap, and a
missing build gives :class:`ShimNotBuiltError` with the fix rather than an ImportError at start-up.
"""

from __future__ import annotations

import errno
import posix
import sys

from libcontainer_py._paths import fsencode
from libcontainer_py._record import TupleRecord
from libcontainer_py._sys import consts
from libcontainer_py._sys.consts import AT_FDCWD
from libcontainer_py.errors import LibcontainerError, SyscallError

TYPE_CHECKING = False  # not `typing`: its import costs ~3 ms of every pyrunc call
if TYPE_CHECKING:
    import os
    from collections.abc import Iterable, Sequence
    from typing import Any, NamedTuple, NoReturn, TypeAlias

    # What the wrappers accept as a path: like the os module, str, bytes or a path-like object.
    StrOrBytesPath: TypeAlias = str | bytes | os.PathLike[str] | os.PathLike[bytes]

__all__ = [
    "AT_FDCWD",
    "CapSets",
    "ShimNotBuiltError",
    "SyscallError",
    "Syscalls",
    "capget",
    "capset",
    "consts",
    "ioprio_get",
    "ioprio_set",
    "keyctl_join_session_keyring",
    "mount",
    "mount_setattr",
    "move_mount",
    "open_tree",
    "openat2",
    "openat2_or_none",
    "personality",
    "pivot_root",
    "prctl",
    "prctl_get_name",
    "prctl_set_name",
    "sched_setattr",
    "seccomp",
    "seccomp_set_mode_filter",
    "set_cmdline",
    "set_mempolicy",
    "setdomainname",
    "sethostname",
    "setns",
    "shim_available",
    "umount2",
    "unshare",
]


class ShimNotBuiltError(LibcontainerError, ImportError):
    """The compiled extension is missing (a source checkout that was never pip-installed)."""


_ffi: Any = None
_lib_: Any = None


def _lib() -> Any:
    """The shim's ``lib``, imported once on first use."""
    global _ffi, _lib_
    if _lib_ is None:
        try:
            __import__("libcontainer_py._sys._shim")  # not importlib: one import less at every start
            _shim = sys.modules["libcontainer_py._sys._shim"]
        except ImportError as exc:
            raise ShimNotBuiltError(
                "the C shim libcontainer_py._sys._shim is not built: reinstall with pip install . "
                f"(or pip install -e . for development) ({exc})"
            ) from exc
        _ffi, _lib_ = _shim.ffi, _shim.lib
    return _lib_


def shim_available() -> bool:
    """Whether the compiled shim can be imported (tests use this to skip with a reason)."""
    try:
        _lib()
    except ShimNotBuiltError:
        return False
    return True


def _fail(err: int, name: str, *args: Any) -> NoReturn:
    """Raise SyscallError for a failed call. The message module is imported here, on the error path
    only, to keep importing this package cheap."""
    try:
        from libcontainer_py._sys import describe
    except ImportError:  # (after pivot_root or the join of a mount namespace, if nobody imported it before)
        raise SyscallError(err, f"{name}{args!r}") from None
    raise SyscallError(err, getattr(describe, name)(*args))


def _path(path: StrOrBytesPath) -> bytes:
    raw = fsencode(path)
    if b"\0" in raw:
        # cffi would silently cut the string at the NUL; os.* raise the same ValueError.
        raise ValueError(f"embedded null byte in path {raw!r}")
    return raw


def _opt(value: StrOrBytesPath | None) -> Any:
    return _ffi.NULL if value is None else _path(value)


# --- namespaces ---------------------------------------------------------------------------------------


def unshare(flags: int) -> None:
    """unshare(2): move this process (this thread, in fact) into new namespaces."""
    err = _lib().lc_unshare(flags)
    if err:
        _fail(err, "unshare", flags)


def setns(fd: int, nstype: int = 0) -> None:
    """setns(2): join the namespace behind ``fd`` (an open /proc/PID/ns/* file or a pidfd).

    ``nstype`` 0 accepts any type; pass the CLONE_NEW* flag to have the kernel check the fd is what
    the config says it is (a /proc/PID/ns/net path given as the pid namespace is an EINVAL).
    """
    err = _lib().lc_setns(fd, nstype)
    if err:
        _fail(err, "setns", fd, nstype)


# --- mounts -------------------------------------------------------------------------------------------


def mount(
    source: StrOrBytesPath | None,
    target: StrOrBytesPath,
    fstype: str | None = None,
    flags: int = 0,
    data: str | None = None,
) -> None:
    """mount(2). ``None`` for source, fstype or data passes NULL (as for propagation changes)."""
    lib = _lib()
    err = lib.lc_mount(_opt(source), _path(target), _opt(fstype), flags, _ffi.NULL if data is None else data.encode())
    if err:
        _fail(err, "mount", source, target, fstype, flags, data)


def umount2(target: StrOrBytesPath, flags: int = 0) -> None:
    """umount2(2). EINVAL means ``target`` is not a mount point."""
    err = _lib().lc_umount2(_path(target), flags)
    if err:
        _fail(err, "umount2", target, flags)


def pivot_root(new_root: StrOrBytesPath, put_old: StrOrBytesPath) -> None:
    """pivot_root(2): make ``new_root`` this mount namespace's root, old root moved to ``put_old``.

    The kernel refuses (EINVAL) when the new root, or the current root, has *shared* propagation:
    pivoting would otherwise propagate the move into the host's peers. So callers make "/" private
    (or slave) with ``mount(None, "/", None, MS_REC|MS_PRIVATE)`` after unshare(CLONE_NEWNS), and
    ``new_root`` must be a mount point (bind-mount the rootfs onto itself first).
    ``pivot_root(".", ".")`` (runc's trick) stacks the old root on the new one, avoiding a put_old
    directory inside the rootfs; then ``umount2(".", MNT_DETACH)`` drops it.
    """
    err = _lib().lc_pivot_root(_path(new_root), _path(put_old))
    if err:
        _fail(err, "pivot_root", new_root, put_old)


def mount_setattr(
    dirfd: int,
    path: StrOrBytesPath,
    flags: int = 0,
    attr_set: int = 0,
    attr_clr: int = 0,
    propagation: int = 0,
    userns_fd: int = 0,
) -> None:
    """mount_setattr(2) (Linux 5.12+): change mount attributes, with AT_RECURSIVE for a whole tree.

    Unlike a MS_REMOUNT|MS_BIND|MS_RDONLY remount, which only touches the top mount, AT_RECURSIVE makes
    every submount read-only (or nosuid, ...) atomically. With MOUNT_ATTR_IDMAP and ``userns_fd`` it
    makes an idmapped mount (the mount must be detached, from open_tree(OPEN_TREE_CLONE)).
    """
    err = _lib().lc_mount_setattr(dirfd, _path(path), flags, attr_set, attr_clr, propagation, userns_fd)
    if err:
        _fail(err, "mount_setattr", dirfd, path, flags, attr_set, attr_clr, propagation, userns_fd)


def open_tree(dirfd: int, path: StrOrBytesPath, flags: int = 0) -> int:
    """open_tree(2) (Linux 5.2+): an fd for a mount; OPEN_TREE_CLONE makes a detached copy (a bind)."""
    fd: int = _lib().lc_open_tree(dirfd, _path(path), flags)
    if fd < 0:
        _fail(-fd, "open_tree", dirfd, path, flags)
    return fd


def move_mount(
    from_dirfd: int,
    from_path: StrOrBytesPath,
    to_dirfd: int,
    to_path: StrOrBytesPath,
    flags: int = 0,
) -> None:
    """move_mount(2) (Linux 5.2+): attach a detached mount (from open_tree) or move one."""
    err = _lib().lc_move_mount(from_dirfd, _path(from_path), to_dirfd, _path(to_path), flags)
    if err:
        _fail(err, "move_mount", from_dirfd, from_path, to_dirfd, to_path, flags)


def openat2(
    dirfd: int,
    path: StrOrBytesPath,
    flags: int = 0,
    mode: int = 0,
    resolve: int = 0,
) -> int:
    """openat2(2) (Linux 5.6+): open with kernel-enforced path resolution rules; returns the fd.

    Why: a container's rootfs is controlled by the container's author (and by processes already
    running in it). Resolving a mount destination like ``/proc/../../etc`` or a symlink ``/dev -> /etc``
    in user space races with them and has been the root of runc's CVEs (CVE-2021-30465,
    CVE-2024-21626). RESOLVE_IN_ROOT makes the kernel treat ``dirfd`` as "/" for ``..`` and absolute
    symlinks, atomically; RESOLVE_NO_MAGICLINKS refuses /proc/*/fd-style jumps out of the tree. Open
    the result O_PATH and mount onto ``/proc/self/fd/N`` so the checked path is the one mounted on.
    The fd is opened without O_CLOEXEC unless ``flags`` has it (pass os.O_CLOEXEC; we do not add it).
    """
    fd: int = _lib().lc_openat2(dirfd, _path(path), flags, mode, resolve)
    if fd < 0:
        _fail(-fd, "openat2", dirfd, path, flags, mode, resolve)
    return fd


# --- identity and process attributes ------------------------------------------------------------------


def openat2_or_none(
    dirfd: int,
    path: StrOrBytesPath,
    flags: int = 0,
    mode: int = 0,
    resolve: int = 0,
) -> int | None:
    """openat2(), but None when the path does not exist (ENOENT) rather than an error: for lookups
    that expect misses (mkdir -p in the rootfs, masked paths), which would otherwise build and
    format a SyscallError each (~20-30 us, a dozen times per container)."""
    fd = openat2_raw(dirfd, path, flags, mode, resolve)
    if fd == -errno.ENOENT:
        return None
    if fd < 0:
        _fail(-fd, "openat2", dirfd, path, flags, mode, resolve)
    return fd


def openat2_raw(dirfd: int, path: StrOrBytesPath, flags: int = 0, mode: int = 0, resolve: int = 0) -> int:
    """openat2() that returns the fd or a negative errno and never raises: for a first, narrow
    lookup whose every failure is answered by a general one (paths.ensure_at: RESOLVE_NO_SYMLINKS
    first, the full walk when a symlink is on the way)."""
    fd: int = _lib().lc_openat2(dirfd, _path(path), flags, mode, resolve)
    return fd


def sethostname(name: str) -> None:
    """sethostname(2), in the caller's UTS namespace."""
    raw = name.encode()
    err = _lib().lc_sethostname(raw, len(raw))
    if err:
        _fail(err, "sethostname", name)


def setdomainname(name: str) -> None:
    """setdomainname(2), in the caller's UTS namespace."""
    raw = name.encode()
    err = _lib().lc_setdomainname(raw, len(raw))
    if err:
        _fail(err, "setdomainname", name)


def personality(persona: int) -> int:
    """personality(2); returns the previous persona. ``consts.PERSONALITY_QUERY`` only reads it."""
    result: int = _lib().lc_personality(persona)
    if result < 0:
        _fail(-result, "personality", persona)
    return result


def prctl(option: int, a2: int = 0, a3: int = 0, a4: int = 0, a5: int = 0) -> int:
    """prctl(2) with integer arguments; returns the kernel's result (for PR_GET_* options)."""
    result: int = _lib().lc_prctl(option, a2, a3, a4, a5)
    if result < 0:
        _fail(-result, "prctl", option, a2, a3, a4, a5)
    return result


def prctl_set_name(name: str) -> None:
    """PR_SET_NAME: the name ``ps`` and /proc/self/comm show (the kernel keeps 15 bytes)."""
    lib = _lib()
    buf = _ffi.new("char[]", name.encode()[: consts.TASK_COMM_LEN - 1])
    result = lib.lc_prctl(consts.PR_SET_NAME, int(_ffi.cast("uintptr_t", buf)), 0, 0, 0)
    if result < 0:
        _fail(-result, "prctl_set_name", name)


def set_cmdline(title: str | bytes) -> bytes:
    """What /proc/PID/cmdline (and `ps`) shows for this process: ``title``, written over the
    strings the kernel reads it from, the process's original argv (its [arg_start, arg_end) in
    /proc/self/stat), cut to fit and padded with NULs. The interpreter keeps copies of argv; only
    glibc's program_invocation_name still points there (its messages would show the title).
    PR_SET_MM_ARG_START would point the kernel elsewhere, but it needs CAP_SYS_RESOURCE, which
    root lacks on some hosts (this project's VM among them). Returns what was there before (bytes
    given back to it restore it exactly). OSError when /proc cannot be read."""
    fd = posix.open("/proc/self/stat", posix.O_RDONLY | posix.O_CLOEXEC)
    try:
        stat = posix.read(fd, 4096)
    finally:
        posix.close(fd)
    fields = stat.rpartition(b")")[2].split()  # after the name: field 3 onwards
    start, end = int(fields[45]), int(fields[46])  # arg_start and arg_end: fields 48 and 49
    if end <= start:
        return b""
    _lib()
    size = end - start
    area = _ffi.cast("char *", start)
    before = bytes(_ffi.buffer(area, size))
    raw = title if isinstance(title, bytes) else title.encode()[: size - 1]
    _ffi.memmove(area, raw[:size].ljust(size, b"\0"), size)
    return before


def prctl_get_name() -> str:
    """PR_GET_NAME."""
    lib = _lib()
    buf = _ffi.new("char[]", consts.TASK_COMM_LEN)
    result = lib.lc_prctl(consts.PR_GET_NAME, int(_ffi.cast("uintptr_t", buf)), 0, 0, 0)
    if result < 0:
        _fail(-result, "prctl_get_name")
    return bytes(_ffi.string(buf)).decode(errors="replace")


def prctl_get_child_subreaper() -> bool:
    """PR_GET_CHILD_SUBREAPER (the kernel writes an int through the pointer)."""
    lib = _lib()
    value = _ffi.new("int *")
    result = lib.lc_prctl(consts.PR_GET_CHILD_SUBREAPER, int(_ffi.cast("uintptr_t", value)), 0, 0, 0)
    if result < 0:
        _fail(-result, "prctl_get_child_subreaper")
    return bool(value[0])


def fstatfs_type(fd: int) -> int:
    """fstatfs(2)'s f_type: the magic number of the filesystem ``fd`` is on (an O_PATH fd will do)."""
    lib = _lib()
    out = _ffi.new("long *")
    err = lib.lc_fstatfs_type(fd, out)
    if err:
        _fail(err, "fstatfs_type", fd)
    return int(out[0]) & 0xFFFFFFFF


def close_range(first: int, last: int = 0xFFFFFFFF, flags: int = 0) -> None:
    """close_range(2) (Linux 5.9; CLOSE_RANGE_CLOEXEC 5.11): close, or mark close-on-exec, every fd
    from ``first`` to ``last`` in one call, whatever /proc shows (a container's image controls its /proc)."""
    err = _lib().lc_close_range(first, last, flags)
    if err:
        _fail(err, "close_range", first, last, flags)


RLIM_INFINITY = 0xFFFFFFFFFFFFFFFF
RLIMIT_NAMES = (
    "RLIMIT_CPU", "RLIMIT_FSIZE", "RLIMIT_DATA", "RLIMIT_STACK", "RLIMIT_CORE", "RLIMIT_RSS",
    "RLIMIT_NPROC", "RLIMIT_NOFILE", "RLIMIT_MEMLOCK", "RLIMIT_AS", "RLIMIT_LOCKS",
    "RLIMIT_SIGPENDING", "RLIMIT_MSGQUEUE", "RLIMIT_NICE", "RLIMIT_RTPRIO", "RLIMIT_RTTIME",
)  # fmt: skip


def rlimit_number(name: str) -> int | None:
    """The number of ``RLIMIT_NOFILE`` and the others on this architecture (from <sys/resource.h>,
    compiled into the shim), or None for a name Linux does not have."""
    if name not in RLIMIT_NAMES:
        return None
    number: int = getattr(_lib(), name)
    return number


def prlimit(resource: int, new: tuple[int, int] | None = None, pid: int = 0) -> tuple[int, int]:
    """prlimit(2): set ``(soft, hard)`` of ``resource`` when ``new`` is given; returns the limit as
    it was. For the init's rlimits without the ``resource`` module, an extension module whose
    load (~0.3 ms) every create and exec paid. RLIM_INFINITY is 2**64 - 1."""
    ffi = _ffi
    old = ffi.new("uint64_t[2]")
    want = ffi.new("uint64_t[2]", list(new)) if new is not None else ffi.NULL
    err = _lib().lc_prlimit(pid, resource, want, old)
    if err:
        _fail(err, "prlimit", pid, resource, new)
    return int(old[0]), int(old[1])


def bpf_prog_load(prog_type: int, insns: bytes, license: str, name: str, log: bytearray | None = None) -> int:
    """bpf(BPF_PROG_LOAD): the new program's fd. ``insns``: the program, 8 bytes an instruction.
    ``log``, when given, receives the verifier's log (NUL-terminated): why a program was refused."""
    lib = _lib()
    buf = _ffi.from_buffer("char[]", log) if log is not None else _ffi.NULL
    code = _ffi.from_buffer(insns)
    fd = lib.lc_bpf_prog_load(
        prog_type, code, len(insns) // 8, license.encode(), buf, len(log) if log is not None else 0, name.encode()
    )
    if fd < 0:
        _fail(-fd, "bpf_prog_load", prog_type, insns, license, name)
    return int(fd)


def bpf_prog_query(target_fd: int, attach_type: int, capacity: int = 64) -> list[int]:
    """bpf(BPF_PROG_QUERY): the ids of the programs of ``attach_type`` attached to ``target_fd``
    (a cgroup directory), at most ``capacity`` of them."""
    lib = _lib()
    ids = _ffi.new("uint32_t[]", capacity)
    count = _ffi.new("uint32_t *", capacity)
    err = lib.lc_bpf_prog_query(target_fd, attach_type, ids, count)
    if err < 0:
        _fail(-err, "bpf_prog_query", target_fd, attach_type)
    return [int(ids[i]) for i in range(min(int(count[0]), capacity))]


def bpf_prog_get_fd_by_id(prog_id: int) -> int:
    """bpf(BPF_PROG_GET_FD_BY_ID): an fd of the loaded program ``prog_id``."""
    fd = _lib().lc_bpf_prog_get_fd_by_id(prog_id)
    if fd < 0:
        _fail(-fd, "bpf_prog_get_fd_by_id", prog_id)
    return int(fd)


def bpf_prog_attach(target_fd: int, prog_fd: int, attach_type: int, flags: int = 0) -> None:
    """bpf(BPF_PROG_ATTACH): attach ``prog_fd`` to ``target_fd`` (BPF_F_ALLOW_MULTI in ``flags``
    keeps the programs already there)."""
    err = _lib().lc_bpf_prog_attach(target_fd, prog_fd, attach_type, flags, 0)
    if err < 0:
        _fail(-err, "bpf_prog_attach", target_fd, prog_fd, attach_type, flags)


def bpf_prog_detach(target_fd: int, prog_fd: int, attach_type: int) -> None:
    """bpf(BPF_PROG_DETACH) of that one program."""
    err = _lib().lc_bpf_prog_attach(target_fd, prog_fd, attach_type, 0, 1)
    if err < 0:
        _fail(-err, "bpf_prog_detach", target_fd, prog_fd, attach_type)


def getcpu() -> int:
    """The CPU the calling thread runs on now (sched_getcpu(3), through the vDSO: ~50 ns, no system
    call). Only a hint: the scheduler may move the thread right after."""
    cpu = _lib().lc_getcpu()
    if cpu < 0:
        _fail(-cpu, "getcpu")
    return int(cpu)


def fork() -> int:
    """fork(3) without Python's at-fork work (the pid; 0 in the child). Only for a process with one
    thread, whose child runs the runtime's own code and never returns into its caller's: the one
    user is init/pidfork.py bare_fork, which says why and when."""
    pid = _lib().lc_fork()
    if pid < 0:
        _fail(-pid, "fork")
    return int(pid)


def clone_into_cgroup(cgroup_fd: int) -> int:
    """clone3(2) as fork(2), the child born in the cgroup v2 directory ``cgroup_fd``
    (CLONE_INTO_CGROUP): the pid, 0 in the child. Like fork() above, without Python's at-fork work
    and for one thread only; and without glibc's: init/pidfork.py bare_fork is its one user."""
    pid = _lib().lc_clone_into_cgroup(cgroup_fd)
    if pid < 0:
        _fail(-pid, "clone_into_cgroup", cgroup_fd)
    return int(pid)


def clone_sibling(cgroup_fd: int = -1) -> int:
    """clone3(2) with CLONE_PARENT: a copy of this process that is a child of our parent, which
    gets its SIGCHLD and waits for it; born in the cgroup v2 directory ``cgroup_fd`` unless -1. The
    pid, 0 in the child. For one thread only, as fork() above: init/forkserver.py is its one user."""
    pid = _lib().lc_clone_sibling(cgroup_fd)
    if pid < 0:
        _fail(-pid, "clone_sibling", cgroup_fd)
    return int(pid)


if TYPE_CHECKING:

    class PlanResult(NamedTuple):
        pid: int
        failed: int
        err: int
        detail: int
        candidate: int

    # (kind, fd, a, b, c, path, data, len[, s2, s3]): one struct lc_op
    Op: TypeAlias = (
        tuple[int, int, int, int, int, bytes | None, bytes | None, int]
        | tuple[int, int, int, int, int, bytes | None, bytes | None, int, bytes | None, bytes | None]
    )

else:

    class PlanResult(TupleRecord):
        """What vfork_plan's child left: its pid, and for a child that failed (it exited with 127;
        the caller waits for it either way) the index of the step (``failed``; -1: it called execve;
        LC_PLAN_UNFINISHED: it ended another way before, a signal),
        the errno, and the step's detail (the capability, or how the program lookup failed:
        LC_EXEC_* in vfork_plan.c) and for a failed execve, which candidate."""

        __slots__ = ()
        _fields = ("pid", "failed", "err", "detail", "candidate")


def vfork_plan(
    ops: Sequence[Op],
    argv: Sequence[bytes],
    envp: Sequence[bytes],
    candidates: Sequence[bytes],
    *,
    direct: bool = False,
    cgroup_fd: int = -1,
    clone_flags: int = 0,
) -> PlanResult | None:
    """Run ``ops`` (struct lc_op, vfork_plan.c) in a child that shares this process's memory while
    the calling thread waits, the last step an execve of ``argv`` with ``envp`` from the first
    executable of ``candidates`` (``direct``: the one candidate is the program, named with a slash).
    Born in the cgroup v2 directory ``cgroup_fd`` unless -1, and in new namespaces ``clone_flags``
    (CLONE_NEW*: the container's init, init/vinit.py). Safe from a caller with threads: no
    fork, no Python in the child. init/vspawn.py builds the steps and turns a failure into its
    error. None when there is no such child here (not x86_64, a kernel without clone3 or
    CLONE_INTO_CGROUP, a seccomp filter that refuses clone3): nothing was started."""
    lib = _lib()
    keep: list[Any] = []  # every buffer the child reads, alive until it has gone

    def cstr(raw: bytes | None) -> Any:
        if raw is None:
            return _ffi.NULL
        buf = _ffi.new("char[]", raw)
        keep.append(buf)
        return buf

    def strv(items: Sequence[bytes]) -> Any:
        arr = _ffi.new("char *[]", [cstr(x) for x in items] + [_ffi.NULL])
        keep.append(arr)
        return arr

    c_ops = _ffi.new("struct lc_op[]", len(ops))
    for i, fields in enumerate(ops):
        op = c_ops[i]
        op.kind, op.fd, op.a, op.b, op.c = fields[:5]
        op.path, op.data, op.len = cstr(fields[5]), cstr(fields[6]), fields[7]
        if len(fields) > 8:
            op.s2, op.s3 = cstr(fields[8]), cstr(fields[9])
    plan = _ffi.new("struct lc_plan *")
    plan.clone_flags = clone_flags
    plan.ops, plan.nops, plan.direct = c_ops, len(ops), int(direct)
    plan.candidates, plan.argv, plan.envp = strv(candidates), strv(argv), strv(envp)
    pid = lib.lc_vfork_plan(plan, cgroup_fd)
    if pid < 0:
        # ENOSYS/E2BIG/EINVAL: no clone3 or no CLONE_INTO_CGROUP in this kernel; EPERM (and
        # ENOSYS): a seccomp filter of ours (a runtime inside a container) refusing clone3
        if -pid in (errno.ENOSYS, errno.E2BIG, errno.EINVAL, errno.EPERM):
            return None
        _fail(-pid, "vfork_plan", cgroup_fd)
    res: PlanResult = PlanResult(int(pid), int(plan.failed), int(plan.err), int(plan.detail), int(plan.candidate))
    return res


def plan_const(name: str) -> int:
    """A constant of vfork_plan.c (LC_OP_*, LC_EXEC_*)."""
    return int(getattr(_lib(), name))


def plan_op_name(kind: int) -> str:
    """The name of step kind ``kind`` (LC_OP_MOUNT -> "MOUNT"), for a failed step's debug line."""
    lib = _lib()
    return next((n[6:] for n in dir(lib) if n.startswith("LC_OP_") and getattr(lib, n) == kind), str(kind))


def seccomp(op: int, flags: int = 0, arg: bytearray | None = None) -> int:
    """seccomp(2) for its queries and probes (SECCOMP_GET_ACTION_AVAIL, SECCOMP_GET_NOTIF_SIZES, a
    flag tried with no program): ``arg``, when given, is the buffer the kernel reads and fills in
    place; None passes NULL. Returns the kernel's result."""
    lib = _lib()
    rc = lib.lc_seccomp(op, flags, _ffi.NULL if arg is None else _ffi.from_buffer(arg))
    if rc < 0:
        _fail(-rc, "seccomp", op, flags)
    return int(rc)


def seccomp_set_mode_filter(flags: int, program: bytes) -> int:
    """seccomp(SECCOMP_SET_MODE_FILTER, flags, &prog): install the classic BPF ``program`` (struct
    sock_filter, 8 bytes each) on the calling thread. Returns 0, or the notify listener fd with
    SECCOMP_FILTER_FLAG_NEW_LISTENER. The bytes are passed as they are (no copy, no allocation):
    the init calls this last, in a forked child, where every allocation is a copy-on-write fault."""
    rc = _lib().lc_seccomp_set_filter(flags, program, len(program) // 8)
    if rc < 0:
        _fail(-rc, "seccomp_set_mode_filter", flags, len(program) // 8)
    return int(rc)


def renameat2(olddirfd: int, oldpath: StrOrBytesPath, newdirfd: int, newpath: StrOrBytesPath, flags: int = 0) -> None:
    """renameat2(2): ``flags`` RENAME_EXCHANGE swaps the two paths atomically, RENAME_NOREPLACE refuses
    to replace."""
    err = _lib().lc_renameat2(olddirfd, _path(oldpath), newdirfd, _path(newpath), flags)
    if err:
        _fail(err, "renameat2", olddirfd, oldpath, newdirfd, newpath, flags)


if TYPE_CHECKING:

    class CapSets(NamedTuple):
        """A thread's capability sets as 64-bit masks (bit N is capability number N, e.g. 21 CAP_SYS_ADMIN)."""

        effective: int
        permitted: int
        inheritable: int

else:  # the same tuple, without importing typing (~3 ms of every pyrunc call that makes a container), nor
    # collections for namedtuple (with contextlib's other dependencies, ~3 ms too)

    class CapSets(TupleRecord):
        """(effective, permitted, inheritable): a thread's capability sets as 64-bit masks."""

        __slots__ = ()
        _fields = ("effective", "permitted", "inheritable")


def _words(mask: int) -> Any:
    return _ffi.new("uint32_t[2]", [mask & 0xFFFFFFFF, (mask >> 32) & 0xFFFFFFFF])


def capget(pid: int = 0) -> CapSets:
    """capget(2) with the v3 ABI (two 32-bit words per set). pid 0 is the calling thread."""
    lib = _lib()
    eff, prm, inh = (_ffi.new("uint32_t[2]") for _ in range(3))
    err = lib.lc_capget(pid, eff, prm, inh)
    if err:
        _fail(err, "capget", pid)
    return CapSets(*(int(w[0]) | int(w[1]) << 32 for w in (eff, prm, inh)))


def capset(effective: int, permitted: int, inheritable: int) -> None:
    """capset(2) of the calling thread (v3 ABI). The bounding and ambient sets are prctl's business."""
    lib = _lib()
    err = lib.lc_capset(_words(effective), _words(permitted), _words(inheritable))
    if err:
        _fail(err, "capset", effective, permitted, inheritable)


def keyctl_join_session_keyring(name: str | None = None) -> int:
    """KEYCTL_JOIN_SESSION_KEYRING: a fresh session keyring (runc's _ses.<id>), so containers do not
    share the host's session keys. Returns the keyring's serial. ``None`` makes an anonymous one."""
    result: int = _lib().lc_keyctl_join_session_keyring(_ffi.NULL if name is None else name.encode())
    if result < 0:
        _fail(-result, "keyctl_join_session_keyring", name)
    return result


def ioprio_set(which: int, who: int, ioprio: int) -> None:
    """ioprio_set(2) (process.ioPriority); build ``ioprio`` with ``consts.ioprio_value(class, level)``."""
    err = _lib().lc_ioprio_set(which, who, ioprio)
    if err:
        _fail(err, "ioprio_set", which, who, ioprio)


def ioprio_get(which: int, who: int) -> int:
    """ioprio_get(2)."""
    result: int = _lib().lc_ioprio_get(which, who)
    if result < 0:
        _fail(-result, "ioprio_get", which, who)
    return result


def set_mempolicy(mode: int, nodes: Iterable[int] = ()) -> None:
    """set_mempolicy(2) (linux.memoryPolicy): ``mode`` may include MPOL_F_* flags; ``nodes`` numbers."""
    node_list = tuple(sorted(set(nodes)))
    lib = _lib()
    if node_list:
        bits = _ffi.sizeof("unsigned long") * 8
        mask = _ffi.new("unsigned long[]", node_list[-1] // bits + 1)
        for node in node_list:
            mask[node // bits] |= 1 << (node % bits)
        # The kernel reads maxnode-1 bits (a historical off-by-one that libnuma also compensates for).
        err = lib.lc_set_mempolicy(mode, mask, len(mask) * bits + 1)
    else:
        err = lib.lc_set_mempolicy(mode, _ffi.NULL, 0)
    if err:
        _fail(err, "set_mempolicy", mode, node_list)


def sched_setattr(
    pid: int,
    policy: int,
    flags: int = 0,
    nice: int = 0,
    priority: int = 0,
    runtime: int = 0,
    deadline: int = 0,
    period: int = 0,
) -> None:
    """sched_setattr(2) (process.scheduler); os.sched_setscheduler lacks flags, nice and deadline."""
    err = _lib().lc_sched_setattr(pid, policy, flags, nice, priority, runtime, deadline, period)
    if err:
        _fail(err, "sched_setattr", pid, policy, flags, nice, priority, runtime, deadline, period)


# --- the seam -----------------------------------------------------------------------------------------


class Syscalls:
    """The real kernel. Subsystems take one of these (default ``Syscalls()``) and call its methods;
    unit tests pass ``RecordingSyscalls`` (``_sys/fake.py``), which overrides every method."""

    def unshare(self, flags: int) -> None:
        unshare(flags)

    def setns(self, fd: int, nstype: int = 0) -> None:
        setns(fd, nstype)

    def mount(
        self,
        source: StrOrBytesPath | None,
        target: StrOrBytesPath,
        fstype: str | None = None,
        flags: int = 0,
        data: str | None = None,
    ) -> None:
        mount(source, target, fstype, flags, data)

    def umount2(self, target: StrOrBytesPath, flags: int = 0) -> None:
        umount2(target, flags)

    def pivot_root(self, new_root: StrOrBytesPath, put_old: StrOrBytesPath) -> None:
        pivot_root(new_root, put_old)

    def mount_setattr(
        self,
        dirfd: int,
        path: StrOrBytesPath,
        flags: int = 0,
        attr_set: int = 0,
        attr_clr: int = 0,
        propagation: int = 0,
        userns_fd: int = 0,
    ) -> None:
        mount_setattr(dirfd, path, flags, attr_set, attr_clr, propagation, userns_fd)

    def open_tree(self, dirfd: int, path: StrOrBytesPath, flags: int = 0) -> int:
        return open_tree(dirfd, path, flags)

    def move_mount(
        self,
        from_dirfd: int,
        from_path: StrOrBytesPath,
        to_dirfd: int,
        to_path: StrOrBytesPath,
        flags: int = 0,
    ) -> None:
        move_mount(from_dirfd, from_path, to_dirfd, to_path, flags)

    def openat2(self, dirfd: int, path: StrOrBytesPath, flags: int = 0, mode: int = 0, resolve: int = 0) -> int:
        return openat2(dirfd, path, flags, mode, resolve)

    def sethostname(self, name: str) -> None:
        sethostname(name)

    def setdomainname(self, name: str) -> None:
        setdomainname(name)

    def personality(self, persona: int) -> int:
        return personality(persona)

    def prctl(self, option: int, a2: int = 0, a3: int = 0, a4: int = 0, a5: int = 0) -> int:
        return prctl(option, a2, a3, a4, a5)

    def prctl_set_name(self, name: str) -> None:
        prctl_set_name(name)

    def prctl_get_name(self) -> str:
        return prctl_get_name()

    def set_cmdline(self, title: str) -> None:
        set_cmdline(title)

    def prctl_get_child_subreaper(self) -> bool:
        return prctl_get_child_subreaper()

    def fstatfs_type(self, fd: int) -> int:
        return fstatfs_type(fd)

    def close_range(self, first: int, last: int = 0xFFFFFFFF, flags: int = 0) -> None:
        close_range(first, last, flags)

    def prlimit(self, resource: int, new: tuple[int, int] | None = None, pid: int = 0) -> tuple[int, int]:
        return prlimit(resource, new, pid)

    def getcpu(self) -> int:
        return getcpu()

    def bpf_prog_load(self, prog_type: int, insns: bytes, license: str, name: str, log: bytearray | None = None) -> int:
        return bpf_prog_load(prog_type, insns, license, name, log)

    def bpf_prog_query(self, target_fd: int, attach_type: int, capacity: int = 64) -> list[int]:
        return bpf_prog_query(target_fd, attach_type, capacity)

    def bpf_prog_get_fd_by_id(self, prog_id: int) -> int:
        return bpf_prog_get_fd_by_id(prog_id)

    def bpf_prog_attach(self, target_fd: int, prog_fd: int, attach_type: int, flags: int = 0) -> None:
        bpf_prog_attach(target_fd, prog_fd, attach_type, flags)

    def bpf_prog_detach(self, target_fd: int, prog_fd: int, attach_type: int) -> None:
        bpf_prog_detach(target_fd, prog_fd, attach_type)

    def renameat2(
        self, olddirfd: int, oldpath: StrOrBytesPath, newdirfd: int, newpath: StrOrBytesPath, flags: int = 0
    ) -> None:
        renameat2(olddirfd, oldpath, newdirfd, newpath, flags)

    def capget(self, pid: int = 0) -> CapSets:
        return capget(pid)

    def capset(self, effective: int, permitted: int, inheritable: int) -> None:
        capset(effective, permitted, inheritable)

    def keyctl_join_session_keyring(self, name: str | None = None) -> int:
        return keyctl_join_session_keyring(name)

    def ioprio_set(self, which: int, who: int, ioprio: int) -> None:
        ioprio_set(which, who, ioprio)

    def ioprio_get(self, which: int, who: int) -> int:
        return ioprio_get(which, who)

    def set_mempolicy(self, mode: int, nodes: Iterable[int] = ()) -> None:
        set_mempolicy(mode, nodes)

    def sched_setattr(
        self,
        pid: int,
        policy: int,
        flags: int = 0,
        nice: int = 0,
        priority: int = 0,
        runtime: int = 0,
        deadline: int = 0,
        period: int = 0,
    ) -> None:
        sched_setattr(pid, policy, flags, nice, priority, runtime, deadline, period)
