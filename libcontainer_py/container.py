"""Container: the OCI lifecycle (runtime.md) as a Python object.

    c = Container.create("web", "/path/to/bundle")   # status "created": the program waits
    c.start()                                          # status "running"
    status = c.wait()
    c.delete()

The caller (this process) is the parent in the sync protocol drawn in init/sync.py. It marks itself
a child subreaper (PR_SET_CHILD_SUBREAPER) so that the container's init, a grandchild born in the
new pid namespace, is re-parented to it when the intermediate child exits and `wait()` can reap it,
as runc's `run` can.
"""

from __future__ import annotations

import _signal  # type: ignore[import-not-found]  # (no stub) not signal: its IntEnums cost ~0.4 ms of every create/run/start/delete; kill imports it
import builtins
import errno
import posix
import select
import time

from libcontainer_py._faults import checkpoint
from libcontainer_py._paths import abspath, basename, dirname, join
from libcontainer_py.errors import ConfigError, LibcontainerError
from libcontainer_py.state import (
    ContainerNotFound,
    ContainerState,
    InvalidState,
    StateDir,
    Status,
    list_ids,
    now_rfc3339,
    process_start_time,
    status_of,
)

TYPE_CHECKING = False  # not `typing`: its import costs ~3 ms of every pyrunc call
if TYPE_CHECKING:
    import os
    from collections.abc import Callable, Iterator
    from typing import Any

    from libcontainer_py._exec import ExecResult
    from libcontainer_py.spec import Spec

DEFAULT_ROOT = "/run/pyrunc"
PR_SET_CHILD_SUBREAPER = 36
# The detached exec()s of this process, by container (its state directory): (pid, start time).
# They are our children: once ended, zombies until we reap them, and the init of the container's
# pid namespace cannot finish dying while one is there, so delete(force=True) reaps the ones it
# killed or that had ended (it waited ~10 s for the init with one left).
_detached_execs: dict[str, list[tuple[int, int]]] = {}
CREATE_TIMEOUT = 60.0
START_TIMEOUT = 30.0


def parse_signal(value: str | int) -> int:
    """`KILL`, `SIGKILL`, `kill`, `9` -> 9, as runc accepts them: the names of signal.Signals,
    read from `_signal` (the `signal` module's IntEnums import `enum`: ~5 ms of every `pyrunc kill`
    here), and every number kill(2) takes, 0 to 64, as runc passes a number on: 0 (is it alive?)
    and the real-time signals without a name (35-63) included, which signal.Signals refuses."""
    if isinstance(value, int) or str(value).isdigit():
        if not 0 <= int(value) < _signal.NSIG:
            raise LibcontainerError(f"invalid signal number {value} (0 to {_signal.NSIG - 1})")
        return int(value)
    numbers = {n: getattr(_signal, n) for n in dir(_signal) if n.startswith("SIG") and not n.startswith("SIG_")}
    name = str(value).upper()
    if not name.startswith("SIG"):
        name = "SIG" + name
    try:
        return int(numbers[name])
    except KeyError:
        raise LibcontainerError(f"unknown signal {value!r} (use a name like KILL or a number)") from None


def _reap(pid: int, timeout: float = 5.0) -> int | None:
    """waitpid a child of ours (the init is one, as we are its subreaper); None if not ours, or
    not ended within `timeout` seconds."""
    deadline = time.monotonic() + timeout
    fd = -2  # not opened yet: the first waitpid usually finds it ended (timeout 0: only that)
    try:
        while True:
            try:
                done, status = posix.waitpid(pid, posix.WNOHANG)
            except ChildProcessError:
                return None
            if done:
                return status
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            if fd == -2:
                fd = _exit_fd(pid)
            _until_ended(fd, left)
    finally:
        if fd >= 0:
            posix.close(fd)


def _reap_exited(pid: int) -> int | None:
    """waitpid a child of ours that has exited or is exiting (blocks until it has); None if not ours."""
    while True:
        try:
            return posix.waitpid(pid, 0)[1]
        except ChildProcessError:
            return None
        except InterruptedError:
            continue


def _until_any_ended(fds: list[int], seconds: float) -> None:
    """Sleep until one of the pidfds `fds` is readable (its process ended) or for `seconds`; closes
    all but the first (the caller's). Without pidfds (-1), a slice of 5 ms."""
    import select

    try:
        if any(fd < 0 for fd in fds):
            time.sleep(min(seconds, 0.005))
            return
        poller = select.poll()
        for fd in fds:
            poller.register(fd, select.POLLIN)
        poller.poll(max(0, int(seconds * 1000) + 1))
    finally:
        for fd in fds[1:]:
            if fd >= 0:
                posix.close(fd)


def no_child_error(what: str, pid: int) -> LibcontainerError:
    """waitpid found no such child: the error that says why, SIGCHLD ignored above all (the kernel
    then reaps this process's children itself, exit statuses and all)."""
    if _signal.getsignal(_signal.SIGCHLD) == _signal.SIG_IGN:
        return LibcontainerError(
            f"cannot wait for {what} (pid {pid}): this process ignores SIGCHLD, so the kernel reaps its "
            "children and their exit status is lost: set SIGCHLD back to signal.SIG_DFL before starting containers"
        )
    return LibcontainerError(f"{what} (pid {pid}) was not started by this process: cannot wait for it")


def _reap_ended(detached: list[tuple[int, int]]) -> None:
    """Reap those of `detached` (pid, start time) that have ended; drop those gone otherwise."""
    for entry in list(detached):
        pid, start = entry
        if process_start_time(pid, zombie=True) != start:  # reaped by the caller (or its number reused)
            detached.remove(entry)
            continue
        try:
            done, _ = posix.waitpid(pid, posix.WNOHANG)
        except ChildProcessError:
            done = pid
        if done:
            detached.remove(entry)


def _wait_gone(pid: int, start: int, timeout: float = 10.0) -> None:
    """Until process `pid` (started at `start`: not a later one with its number) has ended, reaped
    by us if it is ours; a process of someone else's counts as ended once it is a zombie."""
    deadline = time.monotonic() + timeout
    fd = _exit_fd(pid)
    try:
        while process_start_time(pid) == start:
            if _peek_ended(pid):
                return
            left = deadline - time.monotonic()
            if left <= 0 or _until_ended(fd, left):
                return
    finally:
        if fd >= 0:
            posix.close(fd)


def _peek_ended(pid: int) -> bool:
    """Whether child `pid` has ended, leaving it to be reaped (waitid WNOWAIT); False if not ours."""
    try:
        return posix.waitid(posix.P_PID, pid, posix.WEXITED | posix.WNOHANG | posix.WNOWAIT) is not None
    except ChildProcessError:
        return False


def _exit_fd(pid: int) -> int:
    """A pidfd of `pid` (pidfd_open(2)), which becomes readable when the process ends, a child of
    ours or not; -1 where there is none (a kernel before 5.3, a pid gone). Waiting on it instead of
    sleeping in slices: a `run(..., timeout=...)` of `true` took 10.3 ms against 6.2 without the
    timeout, and `delete(force=True)` of a running container 6.2 ms, each sleeping 5 ms slices."""
    try:
        return posix.pidfd_open(pid)
    except OSError:
        return -1


def _until_ended(fd: int, seconds: float) -> bool:
    """Sleep until the process of pidfd `fd` has ended (True) or for `seconds` (False); without a
    pidfd (-1), a slice of 5 ms and False, for the caller to look again."""
    if fd < 0:
        time.sleep(min(seconds, 0.005))
        return False
    import select  # here: only a wait with a timeout, or for a process that is not ours, needs it

    poller = select.poll()
    poller.register(fd, select.POLLIN)
    return bool(poller.poll(max(0, int(seconds * 1000) + 1)))


class Container:
    """A container under a state root. Get one with create(), load() or list()."""

    def __init__(self, state_dir: StateDir, state: ContainerState) -> None:
        self._dir = state_dir
        self._state = state
        self.exit_status: int | None = None
        # The pty master of a container whose process has a terminal and was created without a
        # console socket: the creator relays it (pyrunc run) or uses it (a library caller).
        self.console: int | None = None
        # Which init set the container up, for this object's create with start=True: "planned"
        # (no Python in it: init/vinit.py), "python: <why not the planned one>"; else None.
        self.init_kind: str | None = None

    # -- lookup ------------------------------------------------------------------------------------
    @property
    def id(self) -> str:
        return self._state.id

    @property
    def root(self) -> str:
        return self._dir.root

    @property
    def pid(self) -> int:
        return self._state.pid

    @property
    def bundle(self) -> str:
        return self._state.bundle

    @classmethod
    def load(cls, container_id: str, root: str = DEFAULT_ROOT) -> Container:
        state_dir = StateDir(root, container_id)
        return cls(state_dir, state_dir.load())

    @classmethod
    def list(cls, root: str = DEFAULT_ROOT) -> list[Container]:
        out = []
        for cid in list_ids(root):
            try:  # noqa: SIM105  (not contextlib: its import costs ~3 ms of every pyrunc call)
                out.append(cls.load(cid, root))
            except LibcontainerError:
                pass
        return out

    @property
    def status(self) -> Status:
        return status_of(self._state, self._dir)

    def state(self) -> dict[str, Any]:
        """The OCI state (state-schema.json) plus runc's `rootfs`, `created` and `owner`.
        ContainerNotFound once the container has been deleted (as start, kill and exec)."""
        from libcontainer_py._status import oci_state  # shared with `pyrunc state`'s fast path

        if not self._dir.exists():
            raise ContainerNotFound(self.id)
        s = self._state
        return oci_state(
            oci_version=s.oci_version, container_id=s.id, status=self.status.value, pid=s.pid, bundle=s.bundle,
            rootfs=s.rootfs, created=s.created, owner=s.owner, annotations=s.annotations,
        )  # fmt: skip

    def __repr__(self) -> str:
        return f"<Container {self.id!r} {self.status.value} pid={self.pid} bundle={self.bundle!r}>"

    # -- create ------------------------------------------------------------------------------------
    @classmethod
    def create(
        cls,
        container_id: str,
        bundle: str | os.PathLike[str] | None = None,
        *,
        spec: Spec | None = None,
        root: str = DEFAULT_ROOT,
        pid_file: str | None = None,
        no_pivot: bool = False,
        preserve_fds: int = 0,
        no_new_keyring: bool = False,
        stdio: tuple[int | None, int | None, int | None] = (None, None, None),
        spawn: str = "auto",
        console_socket: str | None = None,
        detach: bool = False,
        warn: Callable[[str], None] | None = None,
        start: bool = False,
    ) -> Container:
        """Create a container from a bundle directory (its config.json) or from `spec` (with
        `bundle` as the directory that relative paths are resolved against; default: cwd).
        Everything in the config is applied except running the program, which waits for start().
        With start=True the program runs as soon as the container is set up, without that wait
        (what run() does; no round trip through the exec fifo), and the poststart hooks have run
        when this returns. On any failure nothing is left behind: no state, no process, no mount.
        `spawn`: how its first child is started: "fork" (this process forks), "forkserver" (this
        process's fork server forks it: init/forkserver.py), "exec" (a fresh interpreter), or
        "auto": with start=True the planned init (no fork of this caller, no Python in the init:
        init/vinit.py) where it can do all the config asks; else "fork" with one thread, else
        "forkserver" where it can run, else "exec". "vfork" is "auto"'s first choice by name.
        `init_kind` on the result says which init it was."""
        from libcontainer_py import _create
        from libcontainer_py.init.fds import ensure_stdio

        ensure_stdio()
        report = warn or _default_warn
        p = _create.prepare(
            container_id, bundle, spec, root=root, console_socket=console_socket, detach=detach, warn=report
        )
        state_dir = StateDir(root, container_id)
        state_dir.create()
        with state_dir.creating():
            container = cls._create_locked(state_dir, p, pid_file, no_pivot, preserve_fds, no_new_keyring, stdio,
                                           spawn, console_socket, report, start)  # fmt: skip
        if start and container._hooks().get("poststart"):  # (else no lock and no reload for nothing)
            with container._locked():
                container._poststart()
        return container

    @classmethod
    def _create_locked(
        cls,
        state_dir: StateDir,
        p: Any,
        pid_file: str | None,
        no_pivot: bool,
        preserve_fds: int,
        no_new_keyring: bool,
        stdio: tuple[int | None, int | None, int | None],
        spawn: str,
        console_socket: str | None,
        report: Callable[[str], None],
        start: bool = False,
    ) -> Container:
        from libcontainer_py import _create

        container_id = state_dir.id
        state = ContainerState(
            id=container_id,
            bundle=str(p.bundle),
            rootfs=str(p.rootfs),
            created=now_rfc3339(),
            owner="",
            oci_version=p.spec.oci_version,
            annotations=dict(p.spec.annotations or {}),
            config=p.source,
        )
        # What later verbs need without re-reading config.json (which may have changed or gone).
        if p.spec.hooks is not None:
            state.extra["hooks"] = p.spec.hooks.to_dict()
        if p.seccomp is not None:
            state.extra["seccomp"] = p.seccomp.to_dict()
        linux = p.spec.linux
        memory = linux.resources.memory if linux is not None and linux.resources is not None else None
        if memory is not None and memory.check_before_update:
            # update() keeps it, as runc's update keeps the config's MemoryCheckBeforeUpdate.
            state.extra["memoryCheckBeforeUpdate"] = True
        container = cls(state_dir, state)
        _create.create(
            container,
            p,
            pid_file=pid_file,
            no_pivot=no_pivot,
            preserve_fds=preserve_fds,
            no_new_keyring=no_new_keyring,
            stdio=stdio,
            spawn=spawn,
            console_socket=console_socket,
            warn=report,
            start_now=start,
        )
        return container

    def _take_console(self, msg: dict[str, Any], console_socket: str | None) -> None:
        from libcontainer_py import tty

        (master,) = msg.get("fds") or [None]
        if master is None:
            raise LibcontainerError("container init sent no pty master")
        self.console = tty.hand_over(master, console_socket)

    # -- start, wait, kill, delete -----------------------------------------------------------------
    def _locked(self) -> _Locked:
        """The container's lock, for a `with` block, with its state (re)loaded under it."""
        return _Locked(self)

    def start(self) -> None:
        """Run the program: release the init blocked on the exec fifo."""
        with self._locked():
            status = self.status
            if not status.can_start():
                raise InvalidState(f"cannot start container {self.id!r}: it is {status.value}, not created")
            try:
                fd = posix.open(self._dir.exec_fifo, posix.O_RDONLY | posix.O_NONBLOCK | posix.O_CLOEXEC)
            except FileNotFoundError:
                raise InvalidState(f"cannot start container {self.id!r}: already started") from None
            try:
                checkpoint("start:fifo-opened")
                deadline = time.monotonic() + START_TIMEOUT
                while True:
                    ready, _, _ = select.select([fd], [], [], 0.05)
                    if ready and posix.read(fd, 1):
                        break
                    if process_start_time(self.pid) != self._state.pid_start:
                        raise InvalidState(f"cannot start container {self.id!r}: its init has exited")
                    if time.monotonic() > deadline:
                        raise InvalidState(f"container {self.id!r} did not start within {START_TIMEOUT:.0f}s")
            finally:
                posix.close(fd)
                try:  # noqa: SIM105  (not contextlib: its import costs ~3 ms of every pyrunc call)
                    posix.unlink(self._dir.exec_fifo)
                except FileNotFoundError:
                    pass
            self._poststart()

    def _poststart(self) -> None:
        """The program runs: the poststart hooks (under the container's lock)."""
        poststart = self._hooks().get("poststart")
        checkpoint("start:before-poststart")
        if poststart:
            from libcontainer_py import hooks
            from libcontainer_py._create import hook_state

            try:
                hooks.run_hooks("poststart", poststart, hook_state(self._state, "running"), cwd=self.bundle)
            except hooks.HookError:
                # runtime.md 1.3: a poststart failure is an error: stop the container, destroy
                # it (poststop hooks run), and report.
                self._destroy(warn=_default_warn)
                raise

    def _hooks(self) -> dict[str, builtins.list[Any]]:
        doc = self._state.extra.get("hooks")
        if not doc:
            return {}  # hooks.py (and signal's enums with it) only for a container that has some
        from libcontainer_py.hooks import hooks_by_kind

        return hooks_by_kind(doc)

    def _cgroups(self) -> Any:
        """The container's cgroup manager (the do-nothing one when it has no cgroup)."""
        from libcontainer_py import cgroups

        return cgroups.load_manager(self._state.cgroup_paths)

    def wait(self, timeout: float | None = None) -> int:
        """Wait for the container's init to exit; return its status as a shell does (128+signal
        when killed). Works for containers this process created (it is their subreaper).
        Meanwhile it reaps the processes exec(detach=True) started in the container that have
        ended: the init of a pid namespace cannot finish dying while one of them is left."""
        if self.exit_status is not None:
            return self.exit_status
        detached = _detached_execs.get(self._dir.path)
        deadline = None if timeout is None else time.monotonic() + timeout
        fd = -2  # (a pidfd, opened when there is something to wait for with a timeout)
        try:
            while True:
                if detached:
                    _reap_ended(detached)
                try:
                    blocking = deadline is None and not detached
                    done, status = posix.waitpid(self.pid, 0 if blocking else posix.WNOHANG)
                except ChildProcessError:
                    raise no_child_error(f"container {self.id!r}", self.pid) from None
                except InterruptedError:
                    continue
                if done:
                    self.exit_status = shell_status(status)
                    return self.exit_status
                left = 3600.0 if deadline is None else deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"container {self.id!r} still running after {timeout}s")
                if fd == -2:
                    fd = _exit_fd(self.pid)
                if detached:  # until the init or one of them ends
                    _until_any_ended([fd, *(_exit_fd(pid) for pid, _ in detached)], left)
                else:
                    _until_ended(fd, left)
        finally:
            if fd >= 0:
                posix.close(fd)

    def exec(
        self,
        process: Any,
        *,
        detach: bool = False,
        pid_file: str | None = None,
        preserve_fds: int = 0,
        stdio: tuple[int | None, int | None, int | None] = (None, None, None),
        spawn: str = "auto",
        console_socket: str | None = None,
    ) -> ExecResult:
        """Run `process` (a libcontainer_py.spec.Process, or a dict in process.json's form, which
        spares a caller the pydantic models' import) in this running container, in all its
        namespaces. Returns (pid, exit status, console): the status is None with detach=True; the
        console is the pty master when process.terminal is set, detached and without a socket.

        `spawn`: "auto" (the default) and "vfork" start the process without forking this caller
        where that can do all the process asks (init/vspawn.py: not for a terminal, a seccomp
        notify listener or a time namespace), else as "auto" chooses for create; "fork",
        "forkserver" and "exec" as for create (the forked child, init/setns.py)."""
        from libcontainer_py._exec import exec_process
        from libcontainer_py._specload import as_runtime
        from libcontainer_py.init.fds import ensure_stdio

        ensure_stdio()
        self._state = self._dir.load()
        result = exec_process(
            self,
            as_runtime(process, "Process"),
            detach=detach,
            pid_file=pid_file,
            preserve_fds=preserve_fds,
            stdio=stdio,
            spawn=spawn,
            console_socket=console_socket,
        )
        if detach:
            detached = _detached_execs.setdefault(self._dir.path, [])
            # (those the caller has reaped since are forgotten: the list does not grow with them)
            detached[:] = [(pid, start) for pid, start in detached if process_start_time(pid, zombie=True) == start]
            start = process_start_time(result.pid, zombie=True)
            if start is not None:
                detached.append((result.pid, start))
        return result

    # -- cgroups: pause, resume, update, stats ---------------------------------------------------
    def _need_cgroup(self, what: str) -> Any:
        if not self._state.cgroup_paths:
            raise InvalidState(f"cannot {what} container {self.id!r}: it has no cgroup (cgroups are off)")
        return self._cgroups()

    def pause(self) -> None:
        """Freeze every process of the container (cgroup freezer)."""
        with self._locked():
            status = self.status
            if not status.can_pause():
                raise InvalidState(f"cannot pause container {self.id!r}: container not running ({status.value})")
            self._need_cgroup("pause").freeze()

    def resume(self) -> None:
        with self._locked():
            status = self.status
            if not status.can_resume():
                raise InvalidState(f"cannot resume container {self.id!r}: container not paused ({status.value})")
            self._need_cgroup("resume").thaw()

    def update(self, resources: Any) -> None:
        """Apply new linux.resources (a LinuxResources or its JSON dict) to the live container.
        Every value is checked against the host before anything is written."""
        from libcontainer_py._specload import resources as runtime_resources

        resources = runtime_resources(resources, source="resources")
        with self._locked():
            status = self.status
            if not status.can_update():
                raise InvalidState(f"cannot update container {self.id!r}: container not running ({status.value})")
            memory = resources.memory
            if (
                memory is not None
                and memory.check_before_update is None
                and self._state.extra.get("memoryCheckBeforeUpdate")
            ):
                resources = resources.model_copy(
                    update={"memory": memory.model_copy(update={"check_before_update": True})}
                )
            self._need_cgroup("update").set(resources)

    def stats(self) -> Any:
        """Resource usage now (libcontainer_py.cgroups.Stats: cpu, memory, pids, blkio, hugetlb)."""
        status = self.status
        if status is Status.STOPPED:
            raise InvalidState(f"cannot get stats of container {self.id!r}: container not running (stopped)")
        return self._need_cgroup("get stats of").stats()

    def iter_stats(self, interval: float = 5.0) -> Iterator[Any]:
        """Stats every `interval` seconds while the container lives; it ends when the container
        stops, not up to `interval` later (it sleeps on the init's pidfd)."""
        fd = _exit_fd(self.pid) if self.pid else -1
        try:
            while self.status is not Status.STOPPED:
                yield self.stats()
                if fd >= 0:
                    _until_ended(fd, interval)
                else:
                    time.sleep(interval)
        finally:
            if fd >= 0:
                posix.close(fd)

    def kill(self, sig: str | int = _signal.SIGTERM, *, all: bool = False) -> None:
        signum = parse_signal(sig)
        with self._locked():
            status = self.status
            if not status.can_kill():
                raise InvalidState(f"cannot kill container {self.id!r}: container not running ({status.value})")
            pids = self._processes() if all else [self.pid]
            for pid in pids:
                try:
                    posix.kill(pid, signum)
                except ProcessLookupError:
                    if pid == self.pid and not all:
                        raise InvalidState(f"cannot kill container {self.id!r}: no such process") from None

    def processes(self) -> builtins.list[int]:
        """The pids (as the host sees them) of every process in the container, its init first."""
        pids = self._processes()
        return sorted(pids, key=lambda p: (p != self.pid, p))

    def _processes(self) -> builtins.list[int]:
        """Every process of the container: its cgroup's list, or without a cgroup, every process in
        its pid namespace."""
        if self._state.cgroup_paths:
            try:
                return list(self._cgroups().pids())
            except (LibcontainerError, OSError):
                pass
        try:
            want = posix.stat(f"/proc/{self.pid}/ns/pid").st_ino
        except OSError:
            return []
        out = []
        for name in posix.listdir("/proc"):
            if name.isdigit():
                try:
                    if posix.stat(f"/proc/{name}/ns/pid").st_ino == want:
                        out.append(int(name))
                except OSError:
                    pass
        return out

    def delete(self, *, force: bool = False, warn: Callable[[str], None] | None = None) -> None:
        """Remove the container. Only when stopped, unless force: then kill it first. Failing
        poststop hooks are reported to `warn` (default: warnings.warn). The processes this
        process started in it with exec(detach=True) and did not wait for are reaped."""
        try:
            lock = self._dir.lock()
            lock.__enter__()
        except LibcontainerError:
            if force:
                return
            raise
        try:
            self._state = self._dir.load()
            status = self.status
            if not status.can_delete() and not force:
                raise InvalidState(
                    f"cannot delete container {self.id!r} that is not stopped: {status.value} "
                    "(stop it first, or use --force)"
                )
            self._destroy(warn=warn or _default_warn)
        finally:
            lock.__exit__(None, None, None)

    def _destroy(self, warn: Callable[[str], None]) -> None:
        """Kill every process, remove the cgroup and the state, then run the poststop hooks
        (runtime.md steps 12-13; a poststop failure is a warning)."""
        alive = bool(self.pid) and process_start_time(self.pid) == self._state.pid_start
        manager = self._cgroups() if self._state.cgroup_paths else None
        # An init that has ended took its pid namespace's processes with it (the kernel kills them
        # and the init's exit waits for them): the cgroup is then empty, and an rmdir says so
        # without listing it (remove_if_empty). Busy (no pid namespace of its own, a sub-cgroup):
        # the processes are listed and killed, as for a container still running.
        removed = not alive and manager is not None and manager.remove_if_empty()
        victims = [] if removed else self._processes() or ([self.pid] if alive else [])
        for pid in victims:
            try:  # noqa: SIM105  (not contextlib: its import costs ~3 ms of every pyrunc call)
                posix.kill(pid, _signal.SIGKILL)
            except OSError:
                pass
        if victims and manager is not None:  # (an empty cgroup is removed frozen or not)
            try:
                if manager.is_frozen():  # (frozen or freezing) frozen tasks cannot die
                    manager.thaw()
            except (LibcontainerError, OSError):
                pass
        # Before the init: an init of a pid namespace ends only when every other process of the
        # namespace is gone, zombies included, and ours are until we reap them (it waited the
        # whole 10 s of _wait_gone for one).
        for pid, start in _detached_execs.pop(self._dir.path, ()):
            if process_start_time(pid, zombie=True) == start:  # (not reaped by the caller, nor reused)
                _reap(pid, 1.0)
        if alive:
            _wait_gone(self.pid, self._state.pid_start)
        if self.pid:
            status = _reap(self.pid, 0)
            if status is not None and self.exit_status is None:
                self.exit_status = shell_status(status)  # (what wait() returns after the delete)
        checkpoint("delete:killed")
        if manager is not None:
            if not removed:
                manager.destroy()
            checkpoint("delete:cgroup-destroyed")
        hooks_left = self._hooks().get("poststop")
        state = self._state
        checkpoint("delete:before-remove")
        self._dir.remove()
        if hooks_left:
            from libcontainer_py import hooks
            from libcontainer_py._create import hook_state

            hooks.run_hooks("poststop", hooks_left, hook_state(state, "stopped"), warn=warn, cwd=state.bundle)


def _host_id(spec: Spec, kind: str) -> int:
    """The host uid (or gid) of the container's root: mapped when the spec has mappings."""
    linux = spec.linux
    mappings = (linux.uid_mappings if kind == "uid" else linux.gid_mappings) if linux else None
    for m in mappings or []:
        if m.container_id <= 0 < m.container_id + m.size:
            return m.host_id - m.container_id
    return posix.geteuid() if kind == "uid" else posix.getegid()


def _default_warn(message: str) -> None:
    import warnings

    warnings.warn(message, stacklevel=3)


def shell_status(wait_status: int) -> int:
    """A waitpid status as a shell reports it: the exit code, or 128+N when killed by signal N."""
    code = posix.waitstatus_to_exitcode(wait_status)
    return 128 - code if code < 0 else code


def subreaper(active: bool = True) -> _Subreaper:
    """Be a child subreaper while a container's first child lives: when it exits, the process it
    forked (the init, or exec's process) is re-parented to us, so we can wait for it. Only for
    that window: a library caller (a test runner, a notebook) must not collect every orphan of
    its other children for the rest of its life. A caller that was a subreaper stays one. With
    active=False, a `with` block that does nothing (for a caller that waits for its own child)."""
    return _Subreaper(active)


# The two context managers below are classes, not @contextlib.contextmanager generators:
# contextlib's import (with collections and functools) costs ~3 ms of every pyrunc call.
class _Subreaper:
    __slots__ = ("_active", "_made")

    def __init__(self, active: bool) -> None:
        self._active = active
        self._made = False  # we made ourselves a subreaper, and undo it at the end

    def __enter__(self) -> None:
        if self._active and not _is_subreaper():
            from libcontainer_py import _sys

            _sys.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
            self._made = True

    def __exit__(self, *exc_info: object) -> None:
        if self._made:
            from libcontainer_py import _sys

            self._made = False
            _sys.prctl(PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0)


class _Locked:
    """Container._locked(): the state directory's lock, and the state loaded under it."""

    __slots__ = ("_container", "_lock")

    def __init__(self, container: Container) -> None:
        self._container = container
        self._lock = container._dir.lock()

    def __enter__(self) -> None:
        self._lock.__enter__()
        try:
            self._container._state = self._container._dir.load()
        except BaseException:
            self._lock.__exit__(None, None, None)
            raise

    def __exit__(self, *exc_info: object) -> None:
        self._lock.__exit__(None, None, None)


def _is_subreaper() -> bool:
    from libcontainer_py import _sys

    return _sys.prctl_get_child_subreaper()


def _write_pid_file(path: str, pid: int) -> None:
    # Atomic, as runc: a client polling the file never reads a partial number.
    path = posix.fspath(path)  # (a library caller's Path too)
    tmp = join(dirname(abspath(path)), f".{basename(path)}.tmp")
    try:
        with open(tmp, "w") as f:
            f.write(str(pid))
        posix.replace(tmp, path)
    except OSError as exc:
        try:  # noqa: SIM105  (not contextlib: its import costs ~3 ms of every pyrunc call)
            posix.unlink(tmp)
        except OSError:
            pass
        raise LibcontainerError(f"cannot write the pid file {path} (--pid-file): {exc.strerror or exc}") from None


def _write_id_maps(pid: int, spec: Spec) -> None:
    """Write the user namespace's maps from the parent (it holds CAP_SETUID/SETGID in the parent
    namespace; the child could only map its own uid). setgroups must be denied before an
    unprivileged writer may write gid_map."""
    linux = spec.linux
    assert linux is not None
    for kind, mappings in (("uid", linux.uid_mappings), ("gid", linux.gid_mappings)):
        text = "".join(f"{m.container_id} {m.host_id} {m.size}\n" for m in mappings or [])
        if kind == "gid" and posix.geteuid() != 0:
            with open(f"/proc/{pid}/setgroups", "w") as f:
                f.write("deny")
        try:
            with open(f"/proc/{pid}/{kind}_map", "w") as f:
                f.write(text)
        except OSError as exc:
            field = "linux.uidMappings" if kind == "uid" else "linux.gidMappings"
            reason = exc.strerror or str(exc)
            if exc.errno == errno.EPERM:
                reason += " (the runtime may map only ids it owns; overlapping ranges are refused too)"
            raise ConfigError(f"cannot write {kind}_map {text.strip()!r}: {reason}", path=field) from None
