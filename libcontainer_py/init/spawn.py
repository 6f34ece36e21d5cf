"""How the container's first child comes to life: fork, a fresh interpreter, or the fork server.

fork (the default when the caller has one thread, e.g. `pyrunc`): the child is a copy of the
caller with everything already imported and the Spec already validated, so it costs ~1 ms.

exec (for a caller with other threads, e.g. a Jupyter kernel or an asyncio service, where the fork
server below cannot run): fork() copies only the calling thread, and a lock another thread held
at that moment (stdout's, logging's, an import lock) stays locked forever in the child. So the child is started as
`python -I -m libcontainer_py.init FD` through subprocess (fork+exec in C, safe with threads), reads
its InitConfig as JSON from the sync socket, and runs the same stage1() as a forked child would. It
costs an interpreter start and the imports (a `run()` of `true` took 20 ms against 6.4 forked,
on 2026-12-01 here).

forkserver (the default when the caller has other threads and the server can run): one fresh
interpreter per caller, started once, forks the child for it, which is the caller's own child
all the same (forkserver.py). A `run()` of `true` from a threaded caller: 15.5 ms against 45.0
with a fresh interpreter each time, on a boot where a fork took 16-18 ms.
"""

from __future__ import annotations

import _socket
import os
import sys

from libcontainer_py import _json, _sys
from libcontainer_py.init.child import InitConfig, single_init, single_stage, stage1
from libcontainer_py.init.mode import MODES, choose  # noqa: F401  (MODES: part of this module's API)
from libcontainer_py.namespaces import NamespacePlan

TYPE_CHECKING = False  # not `typing`: its import costs ~3 ms of every pyrunc call
if TYPE_CHECKING:
    from typing import Any, TypeAlias

    # exec's children (init/setns.py) are imported by exec, not by every create
    from libcontainer_py.init.setns import ExecConfig

    AnyConfig: TypeAlias = InitConfig | ExecConfig

def spawn(
    mode: str,
    cfg: AnyConfig,
    child_sock: _socket.socket,
    stdio: tuple[int | None, ...],
    close_in_child: _socket.socket | None = None,
    cgroup_fd: int = -1,
) -> tuple[int, bool]:
    """Start stage 1 of the init; return its pid (a child of this process) and whether it was born
    in the cgroup v2 directory `cgroup_fd` (forked: pidfork.bare_fork). `stdio` are the fds that
    become the container's 0, 1, 2 (None: this process's own)."""
    chosen = choose(mode)
    if chosen == "fork":
        return _spawn_fork(cfg, child_sock, stdio, close_in_child, cgroup_fd)
    if chosen == "forkserver":
        from libcontainer_py.init.forkserver import spawn_child

        return spawn_child(cfg, child_sock, stdio, single=False, cgroup_fd=cgroup_fd)
    return _spawn_exec(cfg, child_sock, stdio), False


def is_single(mode: str, cfg: AnyConfig) -> bool:
    """Whether create may start the container's init itself, as its own child (fork_single)."""
    return isinstance(cfg, InitConfig) and choose(mode) in ("fork", "forkserver") and single_stage(cfg.ns)


def fork_single(
    cfg: InitConfig,
    child_sock: _socket.socket,
    stdio: tuple[int | None, ...],
    close_in_child: _socket.socket,
    cgroup_fd: int = -1,
) -> tuple[int, bool] | None:
    """Fork the init itself (child.single_stage; a caller with one thread): its pid and whether it
    was born in the cgroup v2 directory `cgroup_fd` (pidfork.bare_fork), or None when this
    caller's pid_for_children could not be put back (pidfork.py; nothing was forked: take stage 1
    then). No "pid" message follows: the parent knows it."""
    mask = None
    placed = False
    if cgroup_fd >= 0 and not cfg.ns.new_pid:
        from libcontainer_py.init.pidfork import fork_in_pidns

        forked = fork_in_pidns(None, cgroup_fd=cgroup_fd)
        assert forked is not None  # (our own pid namespace: nothing to put back)
        pid, mask, placed = forked
    elif cfg.ns.new_pid:
        # Born as pid 1 of its new pid namespace (pidfork.py). Nobody else is ever in that namespace
        # before the init has closed our fds and made itself non-dumpable (child._enter), so its
        # birth there opens no window that stage 1's fork had not.
        from libcontainer_py.init.pidfork import NEW, fork_in_pidns

        forked = fork_in_pidns(NEW, cgroup_fd=cgroup_fd)
        if forked is None:
            return None
        pid, mask, placed = forked
    else:
        pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child
        _child_start(stdio, close_in_child, mask)
        single_init(cfg, child_sock)  # (it imports what it needs: child.preload)
    off_our_cpu(pid, cfg.cpus)
    return pid, placed


def off_our_cpu(pid: int, cpus: list[int] | None) -> None:
    """Move the child we just forked off the CPU we run on, for its first steps.

    The kernel starts a forked child on its parent's CPU (fork balancing finds it no busier than
    the others), where it waits until the parent sleeps or a periodic balance moves it: 1-3 ms
    here, because create's parent does not sleep after the fork but makes the cgroup, and the
    child's work (its unshare; in pyrunc the init's imports) was meant to overlap that on the other
    CPU. Allowed everywhere but here, it starts on another CPU at once (~0.4 ms after the fork;
    docs/performance.md). `cpus` is the caller's affinity, which the child takes back when our first
    message reaches it (child.py _unshare_then_join_cgroup): this call is over by then, so it cannot
    undo that, and the child joins the cgroup (and its cpuset) with the affinity it always had.
    None (one CPU allowed), a failure, or no other CPU: the child simply stays where it is."""
    if not cpus:
        return
    try:
        here = _sys.getcpu()
        others = [cpu for cpu in cpus if cpu != here]
        if others:
            os.sched_setaffinity(pid, others)
    except OSError:  # (SyscallError too) an optimisation only
        pass


def _spawn_fork(
    cfg: AnyConfig,
    child_sock: _socket.socket,
    stdio: tuple[int | None, ...],
    close_in_child: _socket.socket | None,
    cgroup_fd: int = -1,
) -> tuple[int, bool]:
    mask = None
    placed = False
    if cgroup_fd >= 0:  # cgroup v2: born in it (the other forks stay os.fork: measured the same)
        from libcontainer_py.init.pidfork import fork_in_pidns

        forked = fork_in_pidns(None, cgroup_fd=cgroup_fd)
        assert forked is not None  # (our own pid namespace: nothing to put back)
        pid, mask, placed = forked
    else:
        pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child
        _child_start(stdio, close_in_child, mask)
        if not isinstance(cfg, InitConfig):
            from libcontainer_py.init.setns import exec_stage1

            exec_stage1(cfg, child_sock)
        stage1(cfg, child_sock)  # (it imports what it needs: child.preload)
    if isinstance(cfg, InitConfig):  # (exec's parent sleeps right after: its child runs here at once)
        off_our_cpu(pid, cfg.cpus)
    return pid, placed


def _child_start(stdio: tuple[int | None, ...], close_in_child: _socket.socket | None, mask: Any) -> None:
    """In a forked child, first: the parent's end of the socket closed, stdio in place, then
    pidfork.child_begins: the caller's signal handlers dropped, "pyrunc init" as the command line,
    and the caller's signal mask back when pidfork.py blocked every signal across the fork (`mask`;
    None after os.fork(), which blocked none)."""
    try:
        if close_in_child is not None:
            close_in_child.close()
        for target, fd in enumerate(stdio):
            if fd is not None and fd != target:
                os.dup2(fd, target)
        from libcontainer_py.init.pidfork import child_begins

        child_begins(mask)
    except BaseException:  # never return into the caller's code
        os._exit(1)


def _spawn_exec(cfg: AnyConfig, child_sock: _socket.socket, stdio: tuple[int | None, ...]) -> int:
    # The config travels in a memfd: a config.json with a large seccomp profile may exceed what
    # one datagram on the sync socket can hold.
    cfg_fd = os.memfd_create("pyrunc-init-config", os.MFD_CLOEXEC)
    try:
        os.write(cfg_fd, _json.dumps(encode(cfg)).encode())
        keep = [child_sock.fileno(), cfg_fd, *range(3, 3 + cfg.preserve_fds)]
        if isinstance(cfg, InitConfig) and cfg.exec_fifo_fd >= 0:
            keep.append(cfg.exec_fifo_fd)
        std = [fd if fd is not None else target for target, fd in enumerate(stdio)]
        import subprocess  # here: only spawn "exec" starts children this way (~2 ms to import)

        proc = subprocess.Popen(
            [sys.executable, "-I", "-m", "libcontainer_py.init", str(child_sock.fileno()), str(cfg_fd)],
            stdin=std[0],
            stdout=std[1],
            stderr=std[2],
            pass_fds=keep,
            close_fds=True,
        )
    finally:
        os.close(cfg_fd)
    # The container code reaps stage 1 with waitpid itself; keep Popen from trying later.
    proc.returncode = 0
    return proc.pid


def encode(cfg: AnyConfig) -> dict[str, Any]:
    out: dict[str, Any] = {"kind": "init" if isinstance(cfg, InitConfig) else "exec"}
    for name in cfg.__record_fields__:
        value = getattr(cfg, name)
        if name in ("spec", "process") or (name == "seccomp" and value is not None):
            value = value.to_dict()
        elif name == "join":
            value = [list(j) for j in value]
        elif name == "ns":
            value = {"new_flags": value.new_flags, "join": [list(j) for j in value.join], "new_user": value.new_user}
        out[name] = value
    return out


def decode(data: dict[str, Any]) -> AnyConfig:
    # The dicts are to_dict() dumps of objects the parent validated: rebuilt, not checked again,
    # as the runtime's objects (spec/fast.py, no pydantic: _specload.py).
    from libcontainer_py.spec import fast

    kwargs: dict[str, Any] = dict(data)
    if kwargs.get("seccomp") is not None:
        from libcontainer_py.seccomp import CompiledFilter

        kwargs["seccomp"] = CompiledFilter.from_dict(kwargs["seccomp"])
    if kwargs.pop("kind") == "exec":
        from libcontainer_py.init.setns import ExecConfig

        kwargs["process"] = fast.build(data["process"], "Process")
        kwargs["join"] = tuple((t, p) for t, p in data["join"])
        return ExecConfig(**kwargs)
    kwargs["spec"] = fast.build(data["spec"])
    ns = data["ns"]
    kwargs["ns"] = NamespacePlan(
        new_flags=ns["new_flags"], join=tuple((t, p) for t, p in ns["join"]), new_user=ns["new_user"]
    )
    return InitConfig(**kwargs)
