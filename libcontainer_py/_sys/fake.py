"""RecordingSyscalls: the fake side of the kernel seam, for unit tests that need no root.

It records every call (name and arguments, paths as str) and touches nothing. Failures are scripted:

    sys = RecordingSyscalls()
    sys.fail("mount", errno.EPERM, target="/rootfs/dev")     # only the mount onto /rootfs/dev fails
    setup_rootfs(spec, sys)                                    # code under test
    assert sys.names() == ["mount", "mount", ...]
    assert sys.calls_to("mount")[0].args["flags"] & MS_REC

A scripted failure raises the same SyscallError, with the same message, as the real call would, so
tests can check the error a user will read. Calls that return fds give fake numbers from 10000 up:
they are not open files. A little state makes read-after-write work (capset then capget, personality,
PR_SET_NAME then PR_GET_NAME, ioprio). The fake overrides every public method of Syscalls (a unit test
checks this), so a fake can never reach the real kernel by falling through to the base class.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from libcontainer_py._sys import RLIM_INFINITY, CapSets, Syscalls, consts
from libcontainer_py._sys import describe as _d
from libcontainer_py.errors import SyscallError

if TYPE_CHECKING:
    from libcontainer_py._sys import StrOrBytesPath  # an alias for the type checker only

# What a root process in the initial user namespace holds: the 41 capabilities of Linux 5.9+.
ALL_CAPS = (1 << 41) - 1


@dataclass(frozen=True)
class Call:
    """One recorded call: the Syscalls method name and its arguments by parameter name."""

    name: str
    args: dict[str, Any]


@dataclass
class _Failure:
    name: str
    errno: int
    times: int | None  # None: every matching call fails
    when: Callable[[Call], bool] | None
    match: dict[str, Any] = field(default_factory=dict)

    def matches(self, call: Call) -> bool:
        if call.name != self.name or self.times == 0:
            return False
        if any(call.args.get(key) != value for key, value in self.match.items()):
            return False
        return self.when is None or self.when(call)


def _plain(value: Any) -> Any:
    """Record paths as str, whatever form the caller passed, so tests compare against plain strings."""
    if isinstance(value, bytes | os.PathLike):
        return os.fsdecode(value)
    return value


class RecordingSyscalls(Syscalls):
    """A Syscalls that records calls, returns canned results and raises scripted errors."""

    def __init__(self, *, caps: CapSets | None = None) -> None:
        self.calls: list[Call] = []
        self._failures: list[_Failure] = []
        self._next_fd = 10000
        self._next_serial = 100000
        self.caps = caps if caps is not None else CapSets(ALL_CAPS, ALL_CAPS, 0)
        self.persona = consts.PER_LINUX
        self.comm = "python3"
        self.ioprio = 0
        self.prctl_results: dict[int, int] = {}  # option -> what prctl(option, ...) returns
        self.child_subreaper = False
        self.fs_type = consts.PROC_SUPER_MAGIC  # what fstatfs_type() answers
        self.cpu = 0  # what getcpu() answers

    # --- scripting and inspection ---------------------------------------------------------------------

    def fail(
        self,
        name: str,
        errno_: int,
        /,
        *,
        times: int | None = 1,
        when: Callable[[Call], bool] | None = None,
        **match: Any,
    ) -> None:
        """Make the next ``times`` calls to ``name`` (None: all of them) fail with ``errno_``.

        Keyword arguments restrict it to calls whose arguments equal them (paths compared as str);
        ``when`` is a predicate on the Call for anything finer.
        """
        if not callable(getattr(Syscalls, name, None)) or name.startswith("_"):
            raise AttributeError(f"Syscalls has no method {name!r} to fail")
        self._failures.append(_Failure(name, errno_, times, when, {k: _plain(v) for k, v in match.items()}))

    def names(self) -> list[str]:
        """The names of the calls made, in order."""
        return [call.name for call in self.calls]

    def calls_to(self, name: str) -> list[Call]:
        return [call for call in self.calls if call.name == name]

    def _record(self, name: str, what: Callable[..., str], /, **args: Any) -> None:
        call = Call(name, {key: _plain(value) for key, value in args.items()})
        self.calls.append(call)
        for failure in self._failures:
            if failure.matches(call):
                if failure.times is not None:
                    failure.times -= 1
                raise SyscallError(failure.errno, what(**args))

    def _fd(self) -> int:
        self._next_fd += 1
        return self._next_fd

    # --- the Syscalls methods -------------------------------------------------------------------------

    def unshare(self, flags: int) -> None:
        self._record("unshare", _d.unshare, flags=flags)

    def setns(self, fd: int, nstype: int = 0) -> None:
        self._record("setns", _d.setns, fd=fd, nstype=nstype)

    def mount(
        self,
        source: StrOrBytesPath | None,
        target: StrOrBytesPath,
        fstype: str | None = None,
        flags: int = 0,
        data: str | None = None,
    ) -> None:
        self._record("mount", _d.mount, source=source, target=target, fstype=fstype, flags=flags, data=data)

    def umount2(self, target: StrOrBytesPath, flags: int = 0) -> None:
        self._record("umount2", _d.umount2, target=target, flags=flags)

    def pivot_root(self, new_root: StrOrBytesPath, put_old: StrOrBytesPath) -> None:
        self._record("pivot_root", _d.pivot_root, new_root=new_root, put_old=put_old)

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
        self._record(
            "mount_setattr",
            _d.mount_setattr,
            dirfd=dirfd,
            path=path,
            flags=flags,
            attr_set=attr_set,
            attr_clr=attr_clr,
            propagation=propagation,
            userns_fd=userns_fd,
        )

    def open_tree(self, dirfd: int, path: StrOrBytesPath, flags: int = 0) -> int:
        self._record("open_tree", _d.open_tree, dirfd=dirfd, path=path, flags=flags)
        return self._fd()

    def move_mount(
        self,
        from_dirfd: int,
        from_path: StrOrBytesPath,
        to_dirfd: int,
        to_path: StrOrBytesPath,
        flags: int = 0,
    ) -> None:
        self._record(
            "move_mount",
            _d.move_mount,
            from_dirfd=from_dirfd,
            from_path=from_path,
            to_dirfd=to_dirfd,
            to_path=to_path,
            flags=flags,
        )

    def openat2(self, dirfd: int, path: StrOrBytesPath, flags: int = 0, mode: int = 0, resolve: int = 0) -> int:
        self._record("openat2", _d.openat2, dirfd=dirfd, path=path, flags=flags, mode=mode, resolve=resolve)
        return self._fd()

    def sethostname(self, name: str) -> None:
        self._record("sethostname", _d.sethostname, name=name)

    def setdomainname(self, name: str) -> None:
        self._record("setdomainname", _d.setdomainname, name=name)

    def personality(self, persona: int) -> int:
        self._record("personality", _d.personality, persona=persona)
        previous = self.persona
        if persona != consts.PERSONALITY_QUERY:
            self.persona = persona
        return previous

    def prctl(self, option: int, a2: int = 0, a3: int = 0, a4: int = 0, a5: int = 0) -> int:
        self._record("prctl", _d.prctl, option=option, a2=a2, a3=a3, a4=a4, a5=a5)
        return self.prctl_results.get(option, 0)

    def prctl_set_name(self, name: str) -> None:
        self._record("prctl_set_name", _d.prctl_set_name, name=name)
        self.comm = name.encode()[: consts.TASK_COMM_LEN - 1].decode(errors="replace")

    def prctl_get_name(self) -> str:
        self._record("prctl_get_name", _d.prctl_get_name)
        return self.comm

    def set_cmdline(self, title: str) -> None:
        self._record("set_cmdline", _d.set_cmdline, title=title)

    def prctl_get_child_subreaper(self) -> bool:
        self._record("prctl_get_child_subreaper", _d.prctl_get_child_subreaper)
        return self.child_subreaper

    def fstatfs_type(self, fd: int) -> int:
        self._record("fstatfs_type", _d.fstatfs_type, fd=fd)
        return self.fs_type

    def close_range(self, first: int, last: int = 0xFFFFFFFF, flags: int = 0) -> None:
        self._record("close_range", _d.close_range, first=first, last=last, flags=flags)

    def prlimit(self, resource: int, new: tuple[int, int] | None = None, pid: int = 0) -> tuple[int, int]:
        self._record("prlimit", _d.prlimit, pid=pid, resource=resource, new=new)
        return (RLIM_INFINITY, RLIM_INFINITY) if new is None else new

    def getcpu(self) -> int:
        self._record("getcpu", _d.getcpu)
        return self.cpu

    def bpf_prog_load(
        self, prog_type: int, insns: bytes, license: str, name: str, log: bytearray | None = None
    ) -> int:
        self._record("bpf_prog_load", _d.bpf_prog_load, prog_type=prog_type, insns=insns, license=license, name=name,
                     log=log)  # fmt: skip
        return self._fd()

    def bpf_prog_query(self, target_fd: int, attach_type: int, capacity: int = 64) -> list[int]:
        self._record("bpf_prog_query", _d.bpf_prog_query, target_fd=target_fd, attach_type=attach_type,
                     capacity=capacity)  # fmt: skip
        return []

    def bpf_prog_get_fd_by_id(self, prog_id: int) -> int:
        self._record("bpf_prog_get_fd_by_id", _d.bpf_prog_get_fd_by_id, prog_id=prog_id)
        return self._fd()

    def bpf_prog_attach(self, target_fd: int, prog_fd: int, attach_type: int, flags: int = 0) -> None:
        self._record("bpf_prog_attach", _d.bpf_prog_attach, target_fd=target_fd, prog_fd=prog_fd,
                     attach_type=attach_type, flags=flags)  # fmt: skip

    def bpf_prog_detach(self, target_fd: int, prog_fd: int, attach_type: int) -> None:
        self._record("bpf_prog_detach", _d.bpf_prog_detach, target_fd=target_fd, prog_fd=prog_fd,
                     attach_type=attach_type)  # fmt: skip

    def renameat2(
        self, olddirfd: int, oldpath: StrOrBytesPath, newdirfd: int, newpath: StrOrBytesPath, flags: int = 0
    ) -> None:
        self._record(
            "renameat2", _d.renameat2, olddirfd=olddirfd, oldpath=oldpath, newdirfd=newdirfd, newpath=newpath,
            flags=flags,
        )  # fmt: skip

    def capget(self, pid: int = 0) -> CapSets:
        self._record("capget", _d.capget, pid=pid)
        return self.caps

    def capset(self, effective: int, permitted: int, inheritable: int) -> None:
        self._record("capset", _d.capset, effective=effective, permitted=permitted, inheritable=inheritable)
        self.caps = CapSets(effective, permitted, inheritable)

    def keyctl_join_session_keyring(self, name: str | None = None) -> int:
        self._record("keyctl_join_session_keyring", _d.keyctl_join_session_keyring, name=name)
        self._next_serial += 1
        return self._next_serial

    def ioprio_set(self, which: int, who: int, ioprio: int) -> None:
        self._record("ioprio_set", _d.ioprio_set, which=which, who=who, ioprio=ioprio)
        self.ioprio = ioprio

    def ioprio_get(self, which: int, who: int) -> int:
        self._record("ioprio_get", _d.ioprio_get, which=which, who=who)
        return self.ioprio

    def set_mempolicy(self, mode: int, nodes: Iterable[int] = ()) -> None:
        self._record("set_mempolicy", _d.set_mempolicy, mode=mode, nodes=tuple(sorted(set(nodes))))

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
        self._record(
            "sched_setattr",
            _d.sched_setattr,
            pid=pid,
            policy=policy,
            flags=flags,
            nice=nice,
            priority=priority,
            runtime=runtime,
            deadline=deadline,
            period=period,
        )
