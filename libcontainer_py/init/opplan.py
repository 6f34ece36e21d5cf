"""A plan of system calls for vfork_plan.c's child, written by Python before the clone.

Two children run one: exec's (vspawn.py) and a run's init (vinit.py). Each step is one struct
lc_op (its kind, an fd, three numbers, up to three strings and a buffer); the child runs them in
order and stops at the first that fails, leaving its index and errno. This class collects the
steps with the stage and the error each would be reported as (exec reports them as its forked
child would; the init's planned child never does: vinit.py), the fds the parent opened for the
child, and the process's own steps, which both children end with.
"""

from __future__ import annotations

import _thread
import posix
import sys

from libcontainer_py import _sys, capabilities
from libcontainer_py._paths import fsencode
from libcontainer_py._sys import consts as c
from libcontainer_py.errors import ConfigError, SyscallError
from libcontainer_py.init import process_setup as ps

TYPE_CHECKING = False  # not `typing`: its import costs ~3 ms of every pyrunc call
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any


# The dumpable flag and the command line are the whole process's, and each clone of a plan's child
# clears the one and swaps the other for its time: two threads' clones at once would put them back
# wrong (a child left dumpable while the other thread's has already restored the flag; the
# caller's command line left as "pyrunc init"). So one clone at a time per process (~1 ms each):
# exec's child and a run's planned init alike.
_CLONE_LOCK = _thread.allocate_lock()


def clone_lock() -> Any:
    """The lock each clone of a plan's child holds (vspawn.py, vinit.py)."""
    return _CLONE_LOCK


def _new_lock_in_child() -> None:
    """A caller's os.fork() while another of its threads held the lock: the child's copy would
    stay held, and its first clone would wait forever."""
    global _CLONE_LOCK
    _CLONE_LOCK = _thread.allocate_lock()


posix.register_at_fork(after_in_child=_new_lock_in_child)


class OpPlan:
    def __init__(self, floor: int) -> None:
        self.ops: list[tuple[Any, ...]] = []
        self.errors: list[tuple[str, Callable[[int, Any], BaseException]]] = []
        self.fds: list[int] = []  # ours, for the child: closed here after the clone
        self.floor = floor  # the child's fds below this are its own (stdio, --preserve-fds)
        self._stage = "namespaces"  # the stage the build is at: for an error it finds itself
        self._slots: list[int] = []  # numbers the child's own fds were moved to, free again
        self._next_slot = -1

    def clone(
        self,
        argv: list[bytes],
        envp: list[bytes],
        candidates: list[bytes],
        direct: bool,
        *,
        cgroup_fd: int = -1,
        clone_flags: int = 0,
        pidns: str | None = None,
    ) -> Any:
        """Run the steps in vfork_plan.c's child, one clone at a time per process, with signals
        blocked, the collector off and this process non-dumpable across it (pidfork.fork_in_pidns;
        born in ``pidns``, a path, when given), "pyrunc init" as the command line the child shares
        with us: its PlanResult, or None when there is no such child here (nothing started)."""
        from libcontainer_py.init.pidfork import CMDLINE, fork_in_pidns

        result: list[Any] = []

        def spawn() -> tuple[int, bool]:
            try:
                title = _sys.set_cmdline(CMDLINE)  # the child shares our argv strings
            except OSError:
                title = None
            try:
                res = _sys.vfork_plan(
                    self.ops, argv, envp, candidates, direct=direct, cgroup_fd=cgroup_fd, clone_flags=clone_flags
                )
            finally:
                if title is not None:
                    _sys.set_cmdline(title)
            result.append(res)
            return (res.pid, cgroup_fd >= 0) if res is not None else (-1, False)

        with clone_lock():
            forked = fork_in_pidns(pidns, nondumpable=True, spawn=spawn)
        return result[0] if forked is not None and result else None

    def close_callers_fds(self, stage: str) -> None:
        """Every fd of the caller's closed in the child (CVE-2024-21626), from the floor up, around
        ours (opened by the parent for it, close-on-exec: the child closes each once it has served)."""
        low = self.floor
        for fd in sorted(self.fds):
            if fd >= low:
                self.add("CLOSE_RANGE", stage, a=low, b=fd - 1)
                low = fd + 1
        self.add("CLOSE_RANGE", stage, a=low, b=0xFFFFFFFF)

    def slot(self) -> int:
        """A number for an fd the child opens itself (its steps move it there: LC_OP_OPENAT2,
        LC_OP_ENSURE_AT), above every fd of ours; release() closes it and gives it back. Once the
        first is taken, the parent opens no more fds for the child."""
        if self._slots:
            return self._slots.pop()
        if self._next_slot < 0:
            self._next_slot = max([self.floor, *(f + 1 for f in self.fds)])
        self._next_slot += 1
        return self._next_slot - 1

    def release(self, slot: int) -> None:
        self.add("CLOSE", self._stage, fd=slot)
        self._slots.append(slot)

    def close(self) -> None:
        for fd in self.fds:
            posix.close(fd)
        self.fds.clear()

    def fd(self, fd: int) -> int:
        """``fd`` (ours, opened for the child) moved to the floor or above, and kept for close()."""
        assert self._next_slot < 0, "an fd of ours after the child's own"
        if fd < self.floor:
            import fcntl

            try:
                high = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, self.floor)
            finally:
                posix.close(fd)
            fd = high
        self.fds.append(fd)
        return fd

    def add(
        self,
        op: str,
        stage: str,
        error: Callable[[int, Any], BaseException] | None = None,
        *,
        fd: int = -1,
        a: int = 0,
        b: int = 0,
        c: int = 0,
        path: str | bytes | None = None,
        data: bytes | None = None,
        length: int | None = None,
        s2: str | bytes | None = None,
        s3: str | bytes | None = None,
    ) -> None:
        raw = path.encode() if isinstance(path, str) else path
        size = length if length is not None else (len(data) if data is not None else 0)
        kind = _sys.plan_const(f"LC_OP_{op}")
        if s2 is None and s3 is None:
            self.ops.append((kind, fd, a, b, c, raw, data, size))
        else:
            self.ops.append((kind, fd, a, b, c, raw, data, size, _raw(s2), _raw(s3)))
        self.errors.append((stage, error or (lambda err, _res: OSError(err, posix.strerror(err)))))

    def process_steps(
        self,
        proc: Any,
        seccomp: Any,
        *,
        setgroups_denied: bool,
        home: Callable[[int], str],
        preserve_fds: int = 0,
    ) -> tuple[list[bytes], list[bytes], list[bytes], bool]:
        """process_setup.finalize_process, step by step, ending in the program's execve; returns
        (argv, envp, candidates, direct) for vfork_plan. The rlimits and oomScoreAdj are the
        caller's steps (each child sets them at another point)."""
        self._stage = stage = "process"
        if proc.no_new_privileges:
            self.add("PRCTL", stage, _prctl_error(c.PR_SET_NO_NEW_PRIVS, 1), a=c.PR_SET_NO_NEW_PRIVS, b=1)
        elif seccomp is not None:
            self.seccomp(seccomp)
        stage = "capabilities"
        caps = capabilities.CapSets.from_spec(proc.capabilities, lambda _msg: None)  # warned at create
        top = capabilities.last_cap()
        self.add("BOUNDING", stage, _cap_error(c.PR_CAPBSET_DROP), a=caps.bounding, b=top)
        self.add("PRCTL", stage, _prctl_error(c.PR_SET_KEEPCAPS, 1), a=c.PR_SET_KEEPCAPS, b=1)
        stage = "user"
        uid, gid, groups = ps.user_ids(proc.user)
        if not setgroups_denied:
            gids = b"".join(g.to_bytes(4, sys.byteorder) for g in groups)
            self.add("SETGROUPS", stage, _user_error("groups", groups), data=gids, length=len(groups))
        self.add("SETRESGID", stage, _user_error("gid", gid), a=gid, b=gid, c=gid)
        self.add("SETRESUID", stage, _user_error("uid", uid), a=uid, b=uid, c=uid)
        self.add("UMASK", stage, a=ps.umask_of(proc.user))
        self.add("PRCTL", stage, _prctl_error(c.PR_SET_KEEPCAPS, 0), a=c.PR_SET_KEEPCAPS, b=0)
        stage = "capabilities"
        eff, prm, inh = caps.effective, caps.permitted, caps.inheritable
        self.add("CAPSET", stage, _capset_error(eff, prm, inh), a=eff, b=prm, c=inh)
        ambient = caps.ambient & caps.permitted & caps.inheritable
        self.add("AMBIENT", stage, _cap_error(c.PR_CAP_AMBIENT, c.PR_CAP_AMBIENT_RAISE), a=ambient, b=top)
        stage = "cwd"
        cwd = proc.cwd
        self.add("CHDIR", stage, lambda err, _d: ps.cwd_error(cwd, posix.strerror(err)), path=cwd)
        self.add("CHECK_CWD", stage, lambda err, _d: ps.cwd_error(cwd, "it is outside the container's root filesystem"))
        if proc.no_new_privileges and seccomp is not None:
            self.seccomp(seccomp)
        self._stage = stage = "exec"
        env = ps.program_env(proc, home)
        args = list(proc.args or [])
        if not args:
            raise ConfigError("must not be empty", path="process.args")
        if preserve_fds:
            self.add("INHERIT", stage, a=3, b=2 + preserve_fds)
        arg0 = args[0]
        direct = "/" in arg0
        candidates = [arg0] if direct else ps.path_candidates(arg0, env.get("PATH", ps.DEFAULT_PATH))
        self.add("EXEC", stage, _exec_error(arg0, candidates))
        return (
            [fsencode(a) for a in args],
            [fsencode(f"{k}={v}") for k, v in env.items()],
            [fsencode(x) for x in candidates],
            direct,
        )

    def seccomp(self, compiled: Any) -> None:
        self.add(
            "SECCOMP",
            "seccomp",
            lambda err, _d: compiled.load_error(err),
            a=compiled.flags,
            data=compiled.program,
            length=len(compiled.program) // 8,
        )


def _raw(s: str | bytes | None) -> bytes | None:
    return s.encode() if isinstance(s, str) else s


def _describe() -> Any:
    from libcontainer_py._sys import describe

    return describe


def setns_error(fd: int, flag: int) -> Callable[[int, Any], BaseException]:
    return lambda err, _d: SyscallError(err, _describe().setns(fd, flag))


def _prctl_error(option: int, a2: int, a3: int = 0) -> Callable[[int, Any], BaseException]:
    return lambda err, _d: SyscallError(err, _describe().prctl(option, a2, a3, 0, 0))


def _cap_error(option: int, a2: int | None = None) -> Callable[[int, Any], BaseException]:
    """A prctl over each capability of a mask: the failed one is the result's detail."""

    def error(err: int, res: Any) -> BaseException:
        args = (res.detail, 0) if a2 is None else (a2, res.detail)
        return SyscallError(err, _describe().prctl(option, *args, 0, 0))

    return error


def _capset_error(eff: int, prm: int, inh: int) -> Callable[[int, Any], BaseException]:
    return lambda err, _d: SyscallError(err, _describe().capset(eff, prm, inh))


def _user_error(what: str, value: Any) -> Callable[[int, Any], BaseException]:
    return lambda err, _d: ps.user_error(what, value, err)


def rlimit_error(rl: Any, i: int) -> Callable[[int, Any], BaseException]:
    return lambda err, _d: ps.rlimit_error(rl, i, err)


def _exec_error(arg0: str, candidates: list[str]) -> Callable[[int, Any], BaseException]:
    def error(err: int, res: Any) -> BaseException:
        const = _sys.plan_const
        detail = res.detail
        if detail == const("LC_EXEC_NO_FILE"):
            return ps.program_error(arg0, "no such file or directory")
        if detail == const("LC_EXEC_NO_ACCESS"):
            return ps.program_error(arg0, "permission denied")
        if detail == const("LC_EXEC_NOT_IN_PATH"):
            return ps.program_error(arg0, "executable file not found in $PATH")
        k = res.candidate
        return OSError(err, posix.strerror(err), candidates[k] if 0 <= k < len(candidates) else arg0)

    return error
