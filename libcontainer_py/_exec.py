"""exec: run one more process in a running container (the parent's side; init/setns.py has the
children's). `Container.exec()` and `pyrunc exec` call exec_process()."""

from __future__ import annotations

import _signal  # type: ignore[import-not-found]  # (no stub) not signal: its enums, ~0.4 ms of every exec
import posix

from libcontainer_py._faults import checkpoint
from libcontainer_py._record import TupleRecord
from libcontainer_py.errors import ConfigError, LibcontainerError
from libcontainer_py.state import InvalidState, Status

TYPE_CHECKING = False  # not `typing`: its import costs ~3 ms of every pyrunc call
if TYPE_CHECKING:
    from typing import Any, NamedTuple

    from libcontainer_py.container import Container

EXEC_TIMEOUT = 60.0


if TYPE_CHECKING:

    class ExecResult(NamedTuple):
        pid: int
        exit_status: int | None  # None when detached
        console: int | None = None  # the pty master, for a terminal without a console socket (yours to close)

else:  # the same tuple, without importing typing (~3 ms of every pyrunc exec) nor collections for namedtuple

    class ExecResult(TupleRecord):
        """(pid, exit_status, console): the process's pid as the host sees it; its status as a shell
        gives it (None when detached); the pty master, for a terminal without a console socket."""

        __slots__ = ()
        _fields = ("pid", "exit_status", "console")
        _field_defaults = {"console": None}


class ExecError(LibcontainerError):
    """The process could not be started in the container (pyrunc exits 255, as runc)."""

    exit_status = 255


def namespaces_to_join(pid: int) -> tuple[tuple[str, str], ...]:
    """Every namespace of the container's init that differs from ours, in join order. Joining one
    we are already in is pointless, and for the user namespace an error (EINVAL). The links are
    compared ("net:[4026531840]": the type and the inode on nsfs): readlink is half the cost of
    stat on these files (~3.5 us against ~7, on every exec)."""
    from libcontainer_py.namespaces import JOIN_ORDER, NAMESPACES

    out = []
    for ns_type in JOIN_ORDER:
        name = NAMESPACES[ns_type][1]
        theirs = f"/proc/{pid}/ns/{name}"
        try:
            ours = posix.readlink(f"/proc/self/ns/{name}")
        except FileNotFoundError:  # a namespace type this kernel lacks
            continue
        try:
            if posix.readlink(theirs) == ours:
                continue
        except FileNotFoundError:
            # The init is gone. Skipping its namespaces here (as for a type the kernel lacks) would
            # run the process in ours: the host's.
            raise ExecError(f"exec failed: the container's init (pid {pid}) is gone") from None
        out.append((ns_type, theirs))
    return tuple(out)


def check_process(process: Any, source: str = "process") -> None:
    from libcontainer_py.spec.validate import exec_problems

    for problem in exec_problems(process, source):
        raise ConfigError(problem.message, path=problem.path)
    if not process.args:
        raise ConfigError("must not be empty: give the command to run", path=f"{source}.args")
    if not process.cwd or not process.cwd.startswith("/"):
        raise ConfigError(f"must be an absolute path (got {process.cwd!r})", path=f"{source}.cwd")


def exec_process(
    container: Container,
    process: Any,
    *,
    detach: bool = False,
    pid_file: str | None = None,
    preserve_fds: int = 0,
    stdio: tuple[int | None, int | None, int | None] = (None, None, None),
    spawn: str = "auto",
    console_socket: str | None = None,
) -> ExecResult:
    """Start `process` (a spec Process) in the container. Returns its pid, its exit status (None
    when detached) and, for a terminal without a console socket, the pty master. Without detach,
    a terminal is relayed to this process's stdin/stdout. Raises ExecError when the process could
    not be started."""
    from libcontainer_py.init.execconfig import ExecConfig

    check_process(process)
    if process.terminal:
        import libcontainer_py.tty  # noqa: F401  (the child sets up the pty after joining the mount namespace)
    if console_socket and not process.terminal:
        raise ConfigError("a console socket was given but the process has no terminal", path="process.terminal")
    status = container.status
    if status is Status.PAUSED:
        raise InvalidState(f"cannot exec in container {container.id!r}: it is paused (resume it first)")
    if not status.can_exec():
        raise InvalidState(f"cannot exec in container {container.id!r}: container not running ({status.value})")
    compiled = None
    if container._state.extra.get("seccomp"):
        from libcontainer_py.seccomp import CompiledFilter

        compiled = CompiledFilter.from_dict(container._state.extra["seccomp"])
    cgroup_paths = dict(container._state.cgroup_paths)
    cgroup_join: tuple[str, ...] = ()
    if cgroup_paths:
        from libcontainer_py import cgroups

        cgroup_join = tuple(cgroups.join_files(cgroup_paths))
    cfg = ExecConfig(
        process=process,
        join=namespaces_to_join(container.pid),
        preserve_fds=preserve_fds,
        container_id=container.id,
        seccomp=compiled,
        cgroup_paths=cgroup_paths,
        cgroup_join=cgroup_join,
    )
    if spawn in ("auto", "vfork"):
        # No fork of this caller, no Python in the child (init/vspawn.py), where it can do all
        # that is asked; else setns.py's child, as "auto" would choose it.
        from libcontainer_py.init import vspawn

        if vspawn.usable(cfg):
            try:
                born = vspawn.spawn(cfg, stdio, container.pid)
            except vspawn.PlanFailed as exc:
                raise ExecError(str(exc)) from None
            if born is not None:
                checkpoint("exec:pid-known")
                return _exec_started(container, born, detach=detach, pid_file=pid_file, console=None)
        spawn = "auto"
    from libcontainer_py.container import _reap, _reap_exited, subreaper
    from libcontainer_py.init import sync
    from libcontainer_py.init.mode import choose
    from libcontainer_py.init.setns import spawn_one

    parent_sock, child_sock = sync.socketpair()
    pids: list[int] = []
    console: int | None = None
    reaper = None  # our subreaper window, for two stages
    try:
        # One child, our own, when this caller can fork (init/setns.py spawn_one); else two stages:
        # stage 1 exits once stage 2 is born, which we wait for as their subreaper.
        chosen = choose(spawn)
        if chosen == "fork":
            one = spawn_one(cfg, child_sock, stdio, parent_sock)
        elif chosen == "forkserver":
            from libcontainer_py.init.execconfig import open_v2_cgroup
            from libcontainer_py.init.forkserver import spawn_child as fork_by_server

            cgroup_fd = open_v2_cgroup(cfg)
            try:
                one, _ = fork_by_server(cfg, child_sock, stdio, single=True, cgroup_fd=cgroup_fd)
            finally:
                if cgroup_fd >= 0:
                    posix.close(cgroup_fd)
        else:
            one = None
        if one is not None:
            pid = one
            pids.append(pid)
            checkpoint("exec:pid-known")
        else:
            from libcontainer_py.init.spawn import spawn as spawn_child  # (two stages: rarely)

            reaper = subreaper()
            reaper.__enter__()
            stage1, _ = spawn_child(chosen, cfg, child_sock, stdio, close_in_child=parent_sock)
            pids.append(stage1)
            pid = 0
        child_sock.close()
        while True:
            msg = sync.recv(parent_sock, EXEC_TIMEOUT)
            if msg is None:
                break
            if msg["type"] == "error":
                raise ExecError(f"exec failed ({msg.get('stage')}): {msg.get('message')}")
            if msg["type"] == "pid" and one is None:
                pid = int(msg["pid"])
                pids.append(pid)
                checkpoint("exec:pid-known")
            elif msg["type"] == "seccomp-fd":
                from libcontainer_py._create import hook_state, pass_listener_fd

                doc = dict(hook_state(container._state, "running"), pid=pid)
                pass_listener_fd(msg["fds"][0], compiled, doc)
                sync.send(parent_sock, "seccomp-fd-done")
            elif msg["type"] == "console":
                from libcontainer_py import tty

                console = tty.hand_over(msg["fds"][0], console_socket)
        if not pid:
            raise ExecError(f"exec failed: the process did not start in container {container.id!r}")
        if one is None:
            # Stage 1 exited right after it sent the pid (so the process is re-parented to us before
            # we stop being a subreaper); collected now rather than polled for at "pid".
            _reap_exited(pids[0])
        _check_still_running(container)
    except BaseException:
        if console is not None:
            posix.close(console)
        for p in reversed(pids):
            try:  # noqa: SIM105  (not contextlib: its import costs ~3 ms of every pyrunc call)
                posix.kill(p, _signal.SIGKILL)
            except OSError:
                pass
            _reap(p)
        raise
    finally:
        if reaper is not None:  # (not contextlib.ExitStack: its import costs ~3 ms of every pyrunc exec)
            reaper.__exit__(None, None, None)
        parent_sock.close()
        child_sock.close()
    return _exec_started(container, pid, detach=detach, pid_file=pid_file, console=console, checked=True)


def _check_still_running(container: Container) -> None:
    from libcontainer_py.state import process_start_time

    if process_start_time(container.pid) is None:
        raise ExecError(f"exec failed: container {container.id!r} stopped meanwhile")


def _exec_started(
    container: Container,
    pid: int,
    *,
    detach: bool,
    pid_file: str | None,
    console: int | None,
    checked: bool = False,
) -> ExecResult:
    """The process `pid` runs in the container: the pid file, then its result (or the wait)."""
    from libcontainer_py.container import _reap, _write_pid_file

    if not checked:
        try:
            _check_still_running(container)
        except BaseException:
            try:  # noqa: SIM105
                posix.kill(pid, _signal.SIGKILL)
            except OSError:
                pass
            _reap(pid)
            raise
    if pid_file:
        _write_pid_file(pid_file, pid)
    if detach:
        return ExecResult(pid, None, console)
    if console is not None:
        from libcontainer_py import tty

        try:
            return ExecResult(pid, tty.relay(console, pid), None)
        finally:
            posix.close(console)
    return ExecResult(pid, wait_exit(pid), None)


def poll_exit(pid: int) -> int | None:
    """The exit status if `pid` (our child) has exited, else None."""
    from libcontainer_py.container import shell_status

    try:
        done, status = posix.waitpid(pid, posix.WNOHANG)
    except ChildProcessError:
        return 255
    if not done:
        return None
    return shell_status(status)


def wait_exit(pid: int) -> int:
    """waitpid a process this one is the (sub)reaper of; the status as a shell gives it."""
    from libcontainer_py.container import no_child_error, shell_status

    while True:
        try:
            _, status = posix.waitpid(pid, 0)
        except InterruptedError:
            continue
        except ChildProcessError:
            raise no_child_error("the exec'd process", pid) from None
        return shell_status(status)
