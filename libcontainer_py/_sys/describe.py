"""The ``what`` of each SyscallError: one line naming the call, its paths and its flags by name.

Shared by the real seam and the recording fake, so a scripted failure in a unit test reads exactly like
the kernel's. Each function takes the same arguments as the wrapper it describes. Imported only on the
error path (the flag-name tables cost a little to build), so it may do some work, such as reading
/proc/self/fd to name a directory fd.
"""

from __future__ import annotations

import os

from libcontainer_py._sys import consts as c

TYPE_CHECKING = False  # not `typing`: its import costs ~3 ms of every pyrunc call
if TYPE_CHECKING:
    from collections.abc import Mapping

    from libcontainer_py._sys import StrOrBytesPath


def _table(prefix: str, *, exclude: tuple[str, ...] = ()) -> dict[str, int]:
    """The positive constants in consts whose names start with prefix, widest masks first (so a
    multi-bit value is named once rather than bit by bit), otherwise in definition order."""
    found = {
        name: value
        for name, value in vars(c).items()
        if name.startswith(prefix) and isinstance(value, int) and value > 0 and name not in exclude
    }
    return dict(sorted(found.items(), key=lambda item: -item[1].bit_count()))


CLONE_FLAGS: Mapping[str, int] = _table("CLONE_")
MS_FLAGS: Mapping[str, int] = _table("MS_", exclude=("MS_PROPAGATION",))
UMOUNT_FLAGS: Mapping[str, int] = {**_table("MNT_"), "UMOUNT_NOFOLLOW": c.UMOUNT_NOFOLLOW}
AT_FLAGS: Mapping[str, int] = _table("AT_")
MOUNT_ATTR_FLAGS: Mapping[str, int] = _table("MOUNT_ATTR_", exclude=("MOUNT_ATTR__ATIME",))
OPEN_TREE_FLAGS: Mapping[str, int] = {**_table("OPEN_TREE_"), **AT_FLAGS}
MOVE_MOUNT_FLAGS: Mapping[str, int] = _table("MOVE_MOUNT_")
RESOLVE_FLAGS: Mapping[str, int] = _table("RESOLVE_")
# Open flags come from os: their values differ between architectures. O_TMPFILE includes the
# O_DIRECTORY bit, so it goes first.
OPEN_FLAGS: Mapping[str, int] = {
    name: getattr(os, name)
    for name in (
        "O_TMPFILE", "O_WRONLY", "O_RDWR", "O_CREAT", "O_EXCL", "O_NOCTTY", "O_TRUNC", "O_APPEND",
        "O_NONBLOCK", "O_DIRECTORY", "O_NOFOLLOW", "O_CLOEXEC", "O_PATH",
    )
    if hasattr(os, name)
}  # fmt: skip


def flag_names(value: int, table: Mapping[str, int], *, zero: str = "0") -> str:
    """``MS_NOSUID|MS_NODEV`` for value 6; bits the table does not name are appended in hex."""
    if value == 0:
        return zero
    names = []
    rest = value
    for name, bits in table.items():
        if rest & bits == bits:
            names.append(name)
            rest &= ~bits
    if rest:
        names.append(hex(rest))
    return "|".join(names)


def namespace_name(nstype: int) -> str:
    """``CLONE_NEWNS`` for setns' nstype; 0 means "any type" to the kernel."""
    return flag_names(nstype, CLONE_FLAGS, zero="any")


def path_str(path: StrOrBytesPath) -> str:
    return os.fsdecode(path)


def fd_str(fd: int) -> str:
    """``fd 5 (/run/x)``: the fd and, when /proc can tell, what it is."""
    if fd == c.AT_FDCWD:
        return "the current directory"
    try:
        return f"fd {fd} ({os.readlink(f'/proc/self/fd/{fd}')})"
    except OSError:
        return f"fd {fd}"


def at_str(dirfd: int, path: StrOrBytesPath) -> str:
    """Name a (dirfd, path) pair the way a person would look for it."""
    p = path_str(path)
    if dirfd == c.AT_FDCWD or p.startswith("/"):
        return p or "the current directory"
    if not p:
        return fd_str(dirfd)
    return f"{p} under {fd_str(dirfd)}"


def pivot_root(new_root: StrOrBytesPath, put_old: StrOrBytesPath) -> str:
    return f"pivot_root to {path_str(new_root)} (put_old={path_str(put_old)})"


def setns(fd: int, nstype: int) -> str:
    return f"setns {fd_str(fd)} (nstype={namespace_name(nstype)})"


def unshare(flags: int) -> str:
    return f"unshare {flag_names(flags, CLONE_FLAGS)}"


def mount(
    source: StrOrBytesPath | None,
    target: StrOrBytesPath,
    fstype: str | None,
    flags: int,
    data: str | None,
) -> str:
    src = path_str(source) if source is not None else (fstype or "none")
    details = []
    if fstype and fstype != src:
        details.append(f"type={fstype}")
    details.append(f"flags={flag_names(flags, MS_FLAGS)}")
    if data:
        details.append(f"data={data}")
    return f"mount {src} on {path_str(target)} ({', '.join(details)})"


def umount2(target: StrOrBytesPath, flags: int) -> str:
    return f"umount2 {path_str(target)} (flags={flag_names(flags, UMOUNT_FLAGS)})"


def mount_setattr(
    dirfd: int,
    path: StrOrBytesPath,
    flags: int,
    attr_set: int,
    attr_clr: int,
    propagation: int,
    userns_fd: int,
) -> str:
    details = [f"flags={flag_names(flags, AT_FLAGS)}"]
    if attr_set:
        details.append(f"set={flag_names(attr_set, MOUNT_ATTR_FLAGS)}")
    if attr_clr:
        details.append(f"clear={flag_names(attr_clr, MOUNT_ATTR_FLAGS)}")
    if propagation:
        details.append(f"propagation={flag_names(propagation, MS_FLAGS)}")
    if attr_set & c.MOUNT_ATTR_IDMAP:
        details.append(f"userns={fd_str(userns_fd)}")
    return f"mount_setattr {at_str(dirfd, path)} ({', '.join(details)})"


def open_tree(dirfd: int, path: StrOrBytesPath, flags: int) -> str:
    return f"open_tree {at_str(dirfd, path)} (flags={flag_names(flags, OPEN_TREE_FLAGS)})"


def move_mount(from_dirfd: int, from_path: StrOrBytesPath, to_dirfd: int, to_path: StrOrBytesPath, flags: int) -> str:
    return (
        f"move_mount {at_str(from_dirfd, from_path)} to {at_str(to_dirfd, to_path)}"
        f" (flags={flag_names(flags, MOVE_MOUNT_FLAGS)})"
    )


def openat2(dirfd: int, path: StrOrBytesPath, flags: int, mode: int, resolve: int) -> str:
    if resolve & (c.RESOLVE_IN_ROOT | c.RESOLVE_BENEATH) and dirfd != c.AT_FDCWD:
        # With these, even an absolute path is looked up under dirfd: say so.
        where = f"{path_str(path)} in root {fd_str(dirfd)}"
    else:
        where = at_str(dirfd, path)
    details = [f"flags={flag_names(flags, OPEN_FLAGS, zero='O_RDONLY')}"]
    if mode:
        details.append(f"mode={mode:#o}")
    details.append(f"resolve={flag_names(resolve, RESOLVE_FLAGS)}")
    return f"openat2 {where} ({', '.join(details)})"


def sethostname(name: str) -> str:
    return f"sethostname {name!r}"


def setdomainname(name: str) -> str:
    return f"setdomainname {name!r}"


def personality(persona: int) -> str:
    return f"personality {persona:#x}"


def prctl(option: int, a2: int, a3: int, a4: int, a5: int) -> str:
    return f"prctl option {option} (args {a2}, {a3}, {a4}, {a5})"


def prctl_set_name(name: str) -> str:
    return f"prctl PR_SET_NAME {name!r}"


def vfork_plan(cgroup_fd: int) -> str:
    into = f" into the cgroup v2 directory fd {cgroup_fd}" if cgroup_fd >= 0 else ""
    return f"clone3(CLONE_VM | CLONE_VFORK){into} for exec's child"


def set_cmdline(title: str | bytes) -> str:
    return f"set the command line to {title!r} (over the argv strings, at /proc/self/stat's arg_start)"


def prctl_get_name() -> str:
    return "prctl PR_GET_NAME"


def prctl_get_child_subreaper() -> str:
    return "prctl PR_GET_CHILD_SUBREAPER"


def fstatfs_type(fd: int) -> str:
    return f"fstatfs {fd_str(fd)}"


def getcpu() -> str:
    return "getcpu"


def fork() -> str:
    return "fork"


def clone_into_cgroup(cgroup_fd: int) -> str:
    return f"clone3 CLONE_INTO_CGROUP (cgroup fd {cgroup_fd})"


def clone_sibling(cgroup_fd: int = -1) -> str:
    into = f", CLONE_INTO_CGROUP (cgroup fd {cgroup_fd})" if cgroup_fd >= 0 else ""
    return f"clone3 CLONE_PARENT{into}"


def bpf_prog_load(prog_type: int, insns: bytes, license: str, name: str, log: bytearray | None = None) -> str:
    return f"bpf BPF_PROG_LOAD (type {prog_type}, {len(insns) // 8} instructions, {name!r}, license {license!r})"


def bpf_prog_query(target_fd: int, attach_type: int, capacity: int = 64) -> str:
    return f"bpf BPF_PROG_QUERY {fd_str(target_fd)} (attach type {attach_type})"


def bpf_prog_get_fd_by_id(prog_id: int) -> str:
    return f"bpf BPF_PROG_GET_FD_BY_ID {prog_id}"


def bpf_prog_attach(target_fd: int, prog_fd: int, attach_type: int, flags: int) -> str:
    return f"bpf BPF_PROG_ATTACH {fd_str(prog_fd)} to {fd_str(target_fd)} (attach type {attach_type}, flags {flags})"


def bpf_prog_detach(target_fd: int, prog_fd: int, attach_type: int) -> str:
    return f"bpf BPF_PROG_DETACH {fd_str(prog_fd)} from {fd_str(target_fd)} (attach type {attach_type})"


def prlimit(pid: int, resource: int, new: tuple[int, int] | None) -> str:
    what = f"set {new[0]}/{new[1]}" if new is not None else "get"
    return f"prlimit pid {pid} resource {resource} ({what})"


def close_range(first: int, last: int, flags: int) -> str:
    names = flag_names(flags, _table("CLOSE_RANGE_"))
    return f"close_range {first}..{last} (flags={names})"


def renameat2(olddirfd: int, oldpath: StrOrBytesPath, newdirfd: int, newpath: StrOrBytesPath, flags: int) -> str:
    names = flag_names(flags, _table("RENAME_"))
    return f"renameat2 {at_str(olddirfd, oldpath)} to {at_str(newdirfd, newpath)} (flags={names})"


def capget(pid: int) -> str:
    return f"capget of pid {pid}" if pid else "capget of this process"


def capset(effective: int, permitted: int, inheritable: int) -> str:
    return f"capset effective={effective:#x} permitted={permitted:#x} inheritable={inheritable:#x}"


def keyctl_join_session_keyring(name: str | None) -> str:
    return f"keyctl join session keyring {name!r}" if name else "keyctl join a new anonymous session keyring"


def ioprio_set(which: int, who: int, ioprio: int) -> str:
    klass, level = ioprio >> c.IOPRIO_CLASS_SHIFT, ioprio & ((1 << c.IOPRIO_CLASS_SHIFT) - 1)
    return f"ioprio_set which={which} who={who} (class {klass}, level {level})"


def ioprio_get(which: int, who: int) -> str:
    return f"ioprio_get which={which} who={who}"


def set_mempolicy(mode: int, nodes: tuple[int, ...]) -> str:
    return f"set_mempolicy mode={mode:#x} nodes={list(nodes)}"


def sched_setattr(
    pid: int, policy: int, flags: int, nice: int, priority: int, runtime: int, deadline: int, period: int
) -> str:
    return (
        f"sched_setattr pid {pid} (policy={policy}, flags={flags:#x}, nice={nice}, priority={priority},"
        f" runtime={runtime}, deadline={deadline}, period={period})"
    )


_SECCOMP_OPS = {0: "SECCOMP_SET_MODE_STRICT", 1: "SECCOMP_SET_MODE_FILTER", 2: "SECCOMP_GET_ACTION_AVAIL",
                3: "SECCOMP_GET_NOTIF_SIZES"}  # fmt: skip
_SECCOMP_FLAGS = {"TSYNC": 1, "LOG": 2, "SPEC_ALLOW": 4, "NEW_LISTENER": 8, "TSYNC_ESRCH": 16, "WAIT_KILLABLE_RECV": 32}


def seccomp(op: int, flags: int) -> str:
    return f"seccomp {_SECCOMP_OPS.get(op, op)} (flags {flag_names(flags, _SECCOMP_FLAGS)})"


def seccomp_set_mode_filter(flags: int, instructions: int) -> str:
    return f"loading the seccomp filter ({instructions} instructions, flags {flag_names(flags, _SECCOMP_FLAGS)})"
