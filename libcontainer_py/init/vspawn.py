"""exec's child without a fork of the caller (spawn "vfork", exec's default where it can run).

The child that setns.py forks is a copy of the caller that runs Python: the fork copies the
caller's page tables, and the child's every write to a page it shares with the caller copies that
page, until execve throws the copy away. For `pyrunc exec` of `true` here, that was ~4 ms of ~36:
the fork 1.3 ms, the child's Python 2.4 ms, its execve's teardown of the copy ~1 ms; more for a
bigger caller. This child is posix_spawn's kind instead: it shares our memory (CLONE_VM) while the
calling thread waits (CLONE_VFORK), and runs no Python, only a list of system calls that Python
decided beforehand (_sys/vfork_plan.c runs them; this module writes them):

    parent (exec)                                   child (vfork_plan.c: no Python, no fork)
      | the plan: fds opened (namespaces, cgroup
      |   `tasks`, /proc), ids, capabilities,
      |   rlimits, HOME from the container's
      |   /etc/passwd, the program's candidates
      | signals blocked, gc off, non-dumpable,
      |   cmdline "pyrunc init", setns(pid ns)
      | clone3(CLONE_VM|CLONE_VFORK) ------------->| the caller's signal handlers to SIG_DFL;
      |   (this thread waits)                       | stdio; every fd of the caller's closed
      |                                             | "0" to each `tasks` (v1; v2: born in it)
      |                                             | oom_score_adj (the host's /proc), rlimits
      |                                             | setns(user), setresgid/uid(0), the others,
      |                                             |   mount last
      |                                             | no_new_privs,
      |                                             |   seccomp (without no_new_privs), bounding
      |                                             |   set, groups, gid, uid, umask, caps, ambient
      |                                             | chdir(cwd), cwd inside the root, seccomp
      |                                             |   (with no_new_privs), --preserve-fds
      |                                             | signals to default, unblocked; execve of
      |<------ execve done, or "step i: errno" -----|   the first executable candidate
      | setns(back), cmdline, dumpable, gc, mask
      | a failed step: its error, as the forked child reports it (same stage, same text)

The steps are setns.py's and process_setup.finalize_process's, in their order and with their
errors (the same helper builds each message): a test runs both children on the same processes
and compares. Safe from a caller with threads too (no fork: a Jupyter kernel needs no fork
server for exec). Not used, and setns.py's child is, for a terminal (the pty is set up by Python,
finish.setup_console), a seccomp filter with a notify listener (its fd goes to the parent over the
sync socket), a container with a time namespace (the kernel refuses its setns to a process that
shares its memory), on an architecture vfork_plan.c has no clone3 entry for (not x86_64), a
kernel without clone3 (before 5.3; on cgroup v2, without CLONE_INTO_CGROUP: 5.7), or a caller
whose own seccomp filter refuses clone3 (a runtime inside a container).

CVE-2019-5736 / CVE-2024-21626: the child is non-dumpable (the flag belongs to the memory, ours,
cleared across the clone as for the fork), so a process of the container can neither ptrace it nor
open its /proc/PID/exe, fd/, mem or environ: the kernel asks for CAP_SYS_PTRACE in the host's user
namespace. It closes every fd of the caller's but stdio and --preserve-fds before it joins any
namespace, and its own few (opened by the parent, close-on-exec) as soon as each has served.
`pyrunc init` is what it shows as its command line: the caller's argv strings, which it shares,
say that until the clone returns.
"""

from __future__ import annotations

import posix

from libcontainer_py import _sys
from libcontainer_py._faults import ENV as _STOP_ENV
from libcontainer_py._paths import getenv
from libcontainer_py._sys import consts as c
from libcontainer_py.errors import ConfigError
from libcontainer_py.init import process_setup as ps
from libcontainer_py.init.opplan import OpPlan, rlimit_error, setns_error
from libcontainer_py.init.stage import failure_message
from libcontainer_py.namespaces import NAMESPACES
from libcontainer_py.procfs import read_text

TYPE_CHECKING = False  # not `typing`: its import costs ~3 ms of every pyrunc call
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from libcontainer_py.init.execconfig import ExecConfig

NAME = "pyrunc:[EXEC]"  # its comm, as setns.py's child's


def usable(cfg: ExecConfig) -> bool:
    """Whether this child can do all that ``cfg`` asks (see the module's docstring)."""
    if cfg.process.terminal:
        return False
    # The kernel lets only a process that shares its memory with no other join a time namespace
    # (setns: EUSERS; the namespace's clock pages are mapped into that memory).
    if any(t == "time" for t, _ in cfg.join):
        return False
    if cfg.seccomp is None:
        return True
    from libcontainer_py.seccomp.load import SECCOMP_FILTER_FLAG_NEW_LISTENER  # (loaded with the filter)

    return not cfg.seccomp.flags & SECCOMP_FILTER_FLAG_NEW_LISTENER


class PlanFailed(Exception):
    """A step failed: ``stage`` and ``error`` as setns.py's child reports them."""

    def __init__(self, stage: str, error: BaseException) -> None:
        super().__init__(f"exec failed ({stage}): {failure_message(error)}")


def spawn(cfg: ExecConfig, stdio: tuple[int | None, ...], init_pid: int) -> int | None:
    """Start ``cfg``'s process in the container whose init is ``init_pid``: its pid (it has called
    execve); None when this child cannot run here (nothing started: setns.py's then). Raises
    PlanFailed when a step failed (the child is reaped), as setns.py's child reports it."""
    plan = _Plan(cfg, init_pid)
    try:
        return plan.run(stdio)
    finally:
        plan.close()


class _Plan(OpPlan):
    def __init__(self, cfg: ExecConfig, init_pid: int) -> None:
        # Ours are placed above --preserve-fds, which the child keeps (and they are close-on-exec).
        super().__init__(3 + cfg.preserve_fds)
        self.cfg = cfg
        self.init_pid = init_pid
        self._stage = "namespaces"  # the stage _build is at: for an error it finds itself

    def run(self, stdio: tuple[int | None, ...]) -> int | None:
        cfg = self.cfg
        cgroup_fd = -1
        if not cfg.cgroup_join and "" in cfg.cgroup_paths:
            from libcontainer_py.init.execconfig import open_v2_cgroup

            cgroup_fd = open_v2_cgroup(cfg)
            if cgroup_fd < 0:
                return None  # (setns.py's child moves itself in, and says why it cannot)
            self.fds.append(cgroup_fd)
        try:
            argv, envp, candidates, direct = self._build(stdio)
        except (ConfigError, OSError) as exc:  # found before any child: reported as the child would
            raise PlanFailed(self._stage, exc) from None
        pidns = next((path for t, path in cfg.join if t == "pid"), None)
        res = self.clone(argv, envp, candidates, direct, cgroup_fd=cgroup_fd, pidns=pidns)
        if res is None:
            return None
        if res.failed == -1:
            return int(res.pid)
        _, status = posix.waitpid(res.pid, 0)  # it has ended (127 after a step failed)
        if res.failed == _sys.plan_const("LC_PLAN_UNFINISHED"):
            how = f"by signal {posix.WTERMSIG(status)}" if posix.WIFSIGNALED(status) else "with its steps unfinished"
            raise PlanFailed(self._stage, ChildProcessError(f"the child ended {how} before it started the program"))
        if res.failed >= len(self.errors):
            raise PlanFailed("exec", RuntimeError("the plan has no exec step"))
        stage, error = self.errors[res.failed]
        raise PlanFailed(stage, error(res.err, res))

    def _build(self, stdio: tuple[int | None, ...]) -> tuple[list[bytes], list[bytes], list[bytes], bool]:
        cfg, proc = self.cfg, self.cfg.process
        stop = getenv(_STOP_ENV)
        self._stage = stage = "namespaces"
        self.add("SET_NAME", stage, path=NAME)
        if stop == "exec:born":
            self.add("STOP", stage)
        for target, fd in enumerate(stdio):
            if fd is not None and fd != target:
                self.add("DUP2", stage, fd=fd, a=target)
        # The fds the child needs, opened here by the parent (close-on-exec); the child's sweep of
        # the caller's fds goes around them, and it closes each once it has served.
        joins = [(t, self.fd(posix.open(p, posix.O_RDONLY | posix.O_CLOEXEC))) for t, p in cfg.join if t != "pid"]
        tasks = []
        for path in cfg.cgroup_join:
            try:
                tasks.append((path, self.fd(posix.open(path, posix.O_WRONLY | posix.O_CLOEXEC))))
            except OSError as exc:
                from libcontainer_py.cgroups._join import join_error

                raise PlanFailed(stage, join_error(path, exc.errno or 0)) from None
        procfd = -1
        if proc.oom_score_adj is not None:
            from libcontainer_py import procfs

            procfd = self.fd(procfs.open_proc_root("/proc"))
        self.close_callers_fds(stage)
        for path, fd in tasks:
            self.add("WRITE", stage, _join_error(path), fd=fd, data=b"0")
            self.add("CLOSE", stage, fd=fd)
        if proc.oom_score_adj is not None:  # (before any namespace: process_setup.write_oom_score_adj)
            value = proc.oom_score_adj
            self.add(
                "WRITE_AT",
                "process",
                lambda err, _d: ps.oom_score_adj_error(value, err),
                fd=procfd,
                path="self/oom_score_adj",
                data=str(value).encode(),
            )
            self.add("CLOSE", stage, fd=procfd)
        # (before any namespace too, from the host's user namespace: process_setup.apply_rlimits)
        for i, rl in enumerate(proc.rlimits or ()):
            number = ps.rlimit_checked(rl, i)
            self.add("PRLIMIT", "process", rlimit_error(rl, i), a=number, b=rl.soft, c=rl.hard)
        # setns.py _join_namespaces: the user namespace first, the mount namespace last
        for ns_type, fd in joins:
            if ns_type == "user":
                self.add("SETNS", stage, setns_error(fd, c.CLONE_NEWUSER), fd=fd, a=c.CLONE_NEWUSER)
                self.add("SETRESGID", stage)
                self.add("SETRESUID", stage)
        for ns_type, fd in joins:
            if ns_type != "user":
                flag = NAMESPACES[ns_type][0]
                self.add("SETNS", stage, setns_error(fd, flag), fd=fd, a=flag)
            self.add("CLOSE", stage, fd=fd)
        if stop == "exec:joined":
            self.add("STOP", "exec")
        # process_setup.finalize_process, step by step
        self._stage = "process"
        return self.process_steps(
            proc, cfg.seccomp, setgroups_denied=self._setgroups_denied(), home=self._home, preserve_fds=cfg.preserve_fds
        )

    def _setgroups_denied(self) -> bool:
        """Whether the user namespace the child will be in denies setgroups (its /proc/PID/setgroups:
        the container's when the child joins its user namespace, else ours)."""
        joined = any(t == "user" for t, _ in self.cfg.join)
        try:
            text = read_text(f"/proc/{self.init_pid}/setgroups" if joined else "/proc/self/setgroups")
        except OSError:
            return False
        return bool(text.strip() == "deny")

    def _home(self, uid: int) -> str:
        """HOME for ``uid`` from the container's /etc/passwd, read through its init's root
        (process_setup.home_under). As process_setup.home_of: not blocking on a FIFO, only a
        regular file counts."""
        return ps.home_under(f"/proc/{self.init_pid}/root", uid)


def _join_error(path: str) -> Callable[[int, Any], BaseException]:
    def error(err: int, _res: Any) -> BaseException:
        from libcontainer_py.cgroups._join import join_error

        return join_error(path, err)

    return error
