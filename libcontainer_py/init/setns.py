"""The children of `exec`: join a running container's namespaces and run one more process in it.

    parent (exec)                 stage-1 "pyrunc:[1:EXEC]"            stage-2 "pyrunc:[2:EXEC]"
      | spawn ---------------------->| non-dumpable
      |                              | join the cgroup (v1: "0" to each `tasks`)
      |                              | setns(user), setresuid/gid(0)
      |                              | setns(the others, mount last)
      |                              | fork ------------------------------>| (born in the pid namespace)
      |<----------- pid {pid} -------|                                      |
      |                              | _exit(0)                             | rlimits, no_new_privs,
      |                                                                     | capabilities, user, cwd,
      |<----------------------------------------------------- error ------| look up the program
      |<----------------------------------------------------- EOF --------| execve (the socket is
      | waitpid(stage-1)                                                    | close-on-exec)
      | exit status of the process (unless --detach)

CVE-2019-5736: until execve, stage 2 is this Python interpreter running inside the container's pid
and mount namespaces, visible in its /proc. It is made non-dumpable before it joins anything, so a
process in the container can neither ptrace it nor open /proc/PID/exe (the host's interpreter) or
/proc/PID/mem; the flag passes to stage 2 with the fork and ends at execve, where the program
replaces the interpreter. The window is kept short: everything is imported and decided before.
"""

from __future__ import annotations

import _socket
import os

from libcontainer_py import _sys
from libcontainer_py._faults import checkpoint
from libcontainer_py._record import Record, field
from libcontainer_py._sys import consts as c
from libcontainer_py.init import process_setup as ps
from libcontainer_py.init.child import load_seccomp, setup_console
from libcontainer_py.init.sync import child_fail, send
from libcontainer_py.namespaces import NAMESPACES, open_namespace

TYPE_CHECKING = False  # not `typing`: its import costs ~3 ms of every pyrunc call
if TYPE_CHECKING:
    from typing import Any, NoReturn

PR_SET_DUMPABLE = 4


class ExecConfig(Record):
    process: Any  # libcontainer_py.spec.Process
    join: tuple[tuple[str, str], ...]  # (namespace type, path), in JOIN_ORDER
    preserve_fds: int = 0
    container_id: str = ""
    seccomp: Any = None  # the container's compiled filter: exec'd processes get it too (as runc)
    cgroup_paths: dict[str, str] = field(default_factory=dict)


def _fail(sock: _socket.socket, stage: str, exc: BaseException) -> NoReturn:
    child_fail(sock, stage, exc)
    os._exit(1)


def exec_stage1(cfg: ExecConfig, sock: _socket.socket) -> NoReturn:
    stage = "namespaces"
    try:
        _sys.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)
        # CVE-2024-21626: no fd of the caller's but the socket and --preserve-fds enters the container.
        ps.close_inherited_fds([sock.fileno(), *range(3, 3 + cfg.preserve_fds)])
        _sys.prctl_set_name("pyrunc:[1:EXEC]")
        if cfg.cgroup_paths:
            # Join the container's cgroup from the host side, before any namespace: the process
            # forked next inherits it, so the exec'd program never runs outside the limits.
            from libcontainer_py import cgroups
            from libcontainer_py.cgroups.base import join_self

            manager = cgroups.load_manager(cfg.cgroup_paths)
            join = manager.join_files()
            for path in join:  # v1: we move ourselves in (no global lock: cgroups/base.py join_self)
                cg_fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
                try:
                    join_self(cg_fd, path)
                finally:
                    os.close(cg_fd)
            if not join:
                manager.add_process(os.getpid())
        fds = [(t, open_namespace(t, p)) for t, p in cfg.join]
        for ns_type, fd in fds:
            if ns_type == "user":
                _sys.setns(fd, c.CLONE_NEWUSER)
                os.setresgid(0, 0, 0)
                os.setresuid(0, 0, 0)
        for ns_type, fd in fds:
            if ns_type != "user":
                _sys.setns(fd, NAMESPACES[ns_type][0])
            os.close(fd)
        pid = os.fork()
        if pid == 0:
            exec_stage2(cfg, sock)
        send(sock, "pid", pid=pid)
        os._exit(0)
    except BaseException as exc:
        _fail(sock, stage, exc)


def exec_stage2(cfg: ExecConfig, sock: _socket.socket) -> NoReturn:
    stage = ps.Stage("exec")
    try:
        _sys.prctl_set_name("pyrunc:[2:EXEC]")
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
        # The sync socket is close-on-exec: the parent sees EOF when execve has succeeded.
        os.execve(path, args, env)
    except BaseException as exc:
        _fail(sock, stage.name, exc)
