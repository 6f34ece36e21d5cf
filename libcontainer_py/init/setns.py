"""The children of `exec`: join a running container's namespaces and run one more process in it.

One child (a caller with one thread, spawn "fork": `pyrunc exec`, `Container.exec()`):

    parent (exec)                                  child "pyrunc:[EXEC]"
      | signals blocked, gc off, non-dumpable
      | setns(the container's pid ns, CLONE_NEWPID)
      | fork ------------------------------------->| born in the container's pid namespace,
      | setns(back), dumpable, gc, signal mask      | non-dumpable; close the caller's fds,
      |   as they were                              | child_begins: the caller's handlers dropped,
      |                                             | "pyrunc init", its signal mask back
      |                                             | join the cgroup (v1: "0" to each `tasks`)
      |                                             | oom_score_adj, rlimits (the host's userns)
      |                                             | setns(user), setresuid/gid(0)
      |                                             | setns(the others, mount last)
      |                                             | no_new_privs, capabilities,
      |<-------------------------------- error -----| user, cwd, look up the program
      |<-------------------------------- EOF -------| execve (the socket is close-on-exec)
      | exit status of the process (unless --detach)

Two stages (spawn "exec", for a caller with threads where the fork server cannot run: stage 1 is
a fresh interpreter, see spawn.py; the fork server forks the one child above):

    parent (exec)                 stage-1 "pyrunc:[1:EXEC]"            stage-2 "pyrunc:[2:EXEC]"
      | spawn ---------------------->| non-dumpable, close inherited fds
      |                              | join the cgroup, oom_score_adj, rlimits but
      |                              |   RLIMIT_NPROC, setns(user), setresuid/gid(0)
      |                              | setns(the others, mount last)
      |                              | fork ------------------------------>| (born in the pid namespace)
      |<----------- pid {pid} -------|                                      |
      |                              | _exit(0)                             | RLIMIT_NPROC, then as the
      |<----------------------------------------------------- error ------| one child above
      |<----------------------------------------------------- EOF --------|
      | waitpid(stage-1)

rlimits are set before any namespace is joined, in the host's user namespace: inside the
container's, no process can raise a hard limit (process_setup.apply_rlimits; runc sets them from
its parent for the same reason). Stage 2 sets RLIMIT_NPROC itself, after stage 1's fork, which a
low one would refuse.

CVE-2019-5736 / CVE-2024-21626: until execve, the child is this Python interpreter inside the
container's pid namespace, visible in its /proc, and (the one child) holding the caller's fds until
its first steps. It is non-dumpable from birth (the parent clears the flag across the fork; a
fork copies it), so a process in the container can neither ptrace it nor open /proc/PID/exe (the
host's interpreter), /proc/PID/fd/N (the caller's files), cwd, root, mem or environ: the kernel
asks for CAP_SYS_PTRACE in the host's user namespace, whose mm this is. The flag ends at execve,
where the program replaces the interpreter. test_escape_fds.py attacks the child at its birth.
"""

from __future__ import annotations

import _socket
import os

from libcontainer_py import _sys
from libcontainer_py._faults import checkpoint
from libcontainer_py._sys import consts as c
from libcontainer_py.cgroups._join import join_self  # here, not in the child: a child's import costs ~0.5 ms
from libcontainer_py.init import process_setup as ps
from libcontainer_py.init.execconfig import ExecConfig, open_v2_cgroup
from libcontainer_py.init.finish import load_seccomp, setup_console
from libcontainer_py.init.pidfork import child_begins, fork_in_pidns
from libcontainer_py.init.seal import seal
from libcontainer_py.init.sync import child_fail, send
from libcontainer_py.namespaces import NAMESPACES, open_namespace

__all__ = ["ExecConfig", "open_v2_cgroup", "spawn_one"]  # (ExecConfig lived here: init/execconfig.py)

TYPE_CHECKING = False  # not `typing`: its import costs ~3 ms of every pyrunc call
if TYPE_CHECKING:
    from typing import NoReturn

PR_SET_DUMPABLE = 4


def _fail(sock: _socket.socket, stage: str, exc: BaseException) -> NoReturn:
    child_fail(sock, stage, exc)
    os._exit(1)


def spawn_one(
    cfg: ExecConfig, sock: _socket.socket, stdio: tuple[int | None, ...], close_in_child: _socket.socket
) -> int | None:
    """fork() the one child of exec, born in the container's pid namespace (if it has its own);
    returns its pid, or None when this caller cannot have it (the two stages then: spawn.py).

    Why one fork: a fork of the caller (~30 MB of Python) and the copy-on-write faults of the child
    that runs Python in it are what an exec costs; the second stage was there only to be born in the
    pid namespace, which setns(CLONE_NEWPID) gives the parent's next child without moving the
    parent (it changes this thread's pid_for_children, nothing else).

    Around the fork (pidfork.py), the caller's state is changed and restored on every path:
    pid_for_children, the signal mask, the collector, and the dumpable flag (0 across the fork, so
    that the child is non-dumpable from birth: PR_GET_DUMPABLE 2, which prctl cannot set back,
    takes the two stages). While it is non-dumpable the caller can neither be ptraced by a non-root
    debugger nor dump core: for ~0.1 ms."""
    pidns = next((path for t, path in cfg.join if t == "pid"), None)
    # cgroup v2: born in the container's cgroup (pidfork.bare_fork), not moved in through
    # cgroup.procs and its wait after an idle moment; v1 joins through `tasks`, which has none.
    cgroup_fd = open_v2_cgroup(cfg)
    try:
        forked = fork_in_pidns(pidns, nondumpable=True, cgroup_fd=cgroup_fd)
    finally:
        if cgroup_fd >= 0:
            os.close(cgroup_fd)  # (the child's copy too: it closes every fd of ours)
    if forked is None:
        return None
    pid, mask, placed = forked
    if pid == 0:  # pragma: no cover - the child
        _one_child(cfg, sock, stdio, close_in_child, mask, placed)
    return pid


def _one_child(
    cfg: ExecConfig,
    sock: _socket.socket,
    stdio: tuple[int | None, ...],
    close_in_child: _socket.socket | None,
    mask: set[int],
    placed: bool = False,
) -> NoReturn:
    stage = ps.Stage("namespaces")
    try:
        # Stopped here, the child is at its most exposed: in the container's pid namespace with
        # every fd of the caller (test_escape_fds.py).
        checkpoint("exec:born")
        if close_in_child is not None:  # (None: the fork server's child, which has no copy of it)
            close_in_child.close()
        for target, fd in enumerate(stdio):
            if fd is not None and fd != target:
                os.dup2(fd, target)
        # CVE-2024-21626: no fd of the caller's but the socket and --preserve-fds enters the container.
        ps.close_inherited_fds([sock.fileno(), *range(3, 3 + cfg.preserve_fds)])
        child_begins(mask)  # (until execve: default_signals then clears it, as runc and crun)
        _sys.prctl_set_name("pyrunc:[EXEC]")
        if not placed:  # (born in it: clone3 into the v2 cgroup)
            _join_cgroup(cfg)
        ps.write_oom_score_adj_first(cfg.process.oom_score_adj, stage)  # (before any namespace)
        # The fds are opened after the caller's are closed (a sweep would take them too); the pid
        # namespace is joined already: we were born in it.
        fds = [(t, os.open(p, os.O_RDONLY | os.O_CLOEXEC)) for t, p in cfg.join if t != "pid"]
        # Still in the host's user namespace, where a hard limit can be raised; after the fds
        # are open, which a low RLIMIT_NOFILE would refuse (process_setup.apply_rlimits).
        ps.apply_rlimits_first(cfg.process.rlimits, stage)
        _join_namespaces(fds)
        _setup_and_exec(cfg, sock, stage)
    except BaseException as exc:
        _fail(sock, stage.name, exc)


def _join_cgroup(cfg: ExecConfig) -> None:
    """Join the container's cgroup from the host side, before any namespace: the exec'd program
    never runs outside the limits (and a forked child would inherit it)."""
    if cfg.cgroup_join:
        for path in cfg.cgroup_join:  # v1: we move ourselves in (no global lock: cgroups/_join.py join_self)
            cg_fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
            try:
                join_self(cg_fd, path)
            finally:
                os.close(cg_fd)
    elif cfg.cgroup_paths:
        from libcontainer_py import cgroups

        # by pid: the kernel reads it in the writer's pid namespace, whichever ours is by now
        cgroups.load_manager(cfg.cgroup_paths).add_process(os.getpid())


def _join_namespaces(fds: list[tuple[str, int]]) -> None:
    """setns into each (type, fd): the user namespace first (it gives the capabilities to join the
    others), the mount namespace last (the paths of the others are the host's)."""
    for ns_type, fd in fds:
        if ns_type == "user":
            _sys.setns(fd, c.CLONE_NEWUSER)
            os.setresgid(0, 0, 0)
            os.setresuid(0, 0, 0)
    for ns_type, fd in fds:
        if ns_type != "user":
            # the type named: the kernel refuses an fd that is not that kind of namespace
            _sys.setns(fd, NAMESPACES[ns_type][0])
        os.close(fd)
        if ns_type == "mount":  # (the last) the container's files from here: not ours to import
            seal()


def exec_stage1(cfg: ExecConfig, sock: _socket.socket) -> NoReturn:
    stage = ps.Stage("namespaces")
    try:
        _sys.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)
        # CVE-2024-21626: no fd of the caller's but the socket and --preserve-fds enters the container.
        ps.close_inherited_fds([sock.fileno(), *range(3, 3 + cfg.preserve_fds)])
        _sys.prctl_set_name("pyrunc:[1:EXEC]")
        _join_cgroup(cfg)
        ps.write_oom_score_adj_first(cfg.process.oom_score_adj, stage)  # (before any namespace)
        fds = [(t, open_namespace(t, p)) for t, p in cfg.join]
        # As the one child (stage 2 inherits them), but RLIMIT_NPROC: a low one would refuse
        # the fork below, in a user namespace (whose root the kernel does not exempt); stage 2
        # sets it after, inside, where it cannot raise its hard limit.
        ps.apply_rlimits_first(cfg.process.rlimits, stage, nproc=False)
        _join_namespaces(fds)
        pid = os.fork()
        if pid == 0:
            exec_stage2(cfg, sock)
        send(sock, "pid", pid=pid)
        os._exit(0)
    except BaseException as exc:
        _fail(sock, stage.name, exc)


def exec_stage2(cfg: ExecConfig, sock: _socket.socket) -> NoReturn:
    stage = ps.Stage("exec")
    try:
        _sys.prctl_set_name("pyrunc:[2:EXEC]")
        ps.apply_rlimits_first(cfg.process.rlimits, stage, nproc=True)  # (exec_stage1 set the others)
        _setup_and_exec(cfg, sock, stage)
    except BaseException as exc:
        _fail(sock, stage.name, exc)


def _setup_and_exec(cfg: ExecConfig, sock: _socket.socket, stage: ps.Stage) -> NoReturn:
    """In the container's namespaces: the process's own setup, then execve."""
    stage.name = "exec"
    checkpoint("exec:joined")
    if cfg.process.terminal:
        stage.name = "console"
        # /dev/console stays the init's; this pty is the exec'd process's own.
        setup_console(cfg.process, sock, mount_console=False)
    path, args, env = ps.finalize_process(
        cfg.process,
        stage,
        seccomp_load=(lambda: load_seccomp(cfg.seccomp, sock)) if cfg.seccomp is not None else None,
    )
    ps.close_fds_from(3 + cfg.preserve_fds)
    ps.default_signals()
    # The sync socket is close-on-exec: the parent sees EOF when execve has succeeded.
    os.execve(path, args, env)
