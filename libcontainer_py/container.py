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

import builtins
import contextlib
import errno
import os
import select
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from libcontainer_py._version import SPEC_VERSION
from libcontainer_py.errors import ConfigError, LibcontainerError
from libcontainer_py.state import (
    ContainerState,
    InvalidState,
    StateDir,
    Status,
    list_ids,
    now_rfc3339,
    process_start_time,
    status_of,
)

if TYPE_CHECKING:
    from libcontainer_py._exec import ExecResult
    from libcontainer_py.spec import Spec

DEFAULT_ROOT = "/run/pyrunc"
PR_SET_CHILD_SUBREAPER = 36
CREATE_TIMEOUT = 60.0
START_TIMEOUT = 30.0


def parse_signal(value: str | int) -> signal.Signals:
    """`KILL`, `SIGKILL`, `kill`, `9` -> SIGKILL, as runc accepts them."""
    if isinstance(value, int) or str(value).isdigit():
        try:
            return signal.Signals(int(value))
        except ValueError:
            raise LibcontainerError(f"invalid signal number {value}") from None
    name = str(value).upper()
    if not name.startswith("SIG"):
        name = "SIG" + name
    try:
        return signal.Signals[name]
    except KeyError:
        raise LibcontainerError(f"unknown signal {value!r} (use a name like KILL or a number)") from None


def _reap(pid: int, timeout: float = 5.0) -> int | None:
    """waitpid a child of ours (the init is one, as we are its subreaper); None if not ours."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            done, status = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            return None
        if done:
            return status
        if time.monotonic() > deadline:
            return None
        time.sleep(0.002)


def _wait_gone(pid: int, start: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while process_start_time(pid) == start and time.monotonic() < deadline:
        if _reap(pid, 0) is not None:
            return
        time.sleep(0.005)


class Container:
    """A container under a state root. Get one with create(), load() or list()."""

    def __init__(self, state_dir: StateDir, state: ContainerState) -> None:
        self._dir = state_dir
        self._state = state
        self.exit_status: int | None = None
        # The pty master of a container whose process has a terminal and was created without a
        # console socket: the creator relays it (pyrunc run) or uses it (a library caller).
        self.console: int | None = None

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
            with contextlib.suppress(LibcontainerError):
                out.append(cls.load(cid, root))
        return out

    @property
    def status(self) -> Status:
        return status_of(self._state, self._dir)

    def state(self) -> dict[str, Any]:
        """The OCI state (state-schema.json) plus runc's `rootfs`, `created` and `owner`."""
        status = self.status
        doc: dict[str, Any] = {
            "ociVersion": self._state.oci_version or SPEC_VERSION,
            "id": self.id,
            "status": status.value,
            "pid": self.pid if status not in (Status.STOPPED,) else 0,
            "bundle": self.bundle,
            "rootfs": self._state.rootfs,
            "created": self._state.created,
            "owner": self._state.owner,
        }
        if self._state.annotations:
            doc["annotations"] = dict(self._state.annotations)
        return doc

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
    ) -> Container:
        """Create a container from a bundle directory (its config.json) or from `spec` (with
        `bundle` as the directory that relative paths are resolved against; default: cwd).
        Everything in the config is applied except running the program, which waits for start().
        On any failure nothing is left behind: no state, no process, no mount."""
        from libcontainer_py.init import child as init_child
        from libcontainer_py.init import sync
        from libcontainer_py.init.spawn import spawn as spawn_init
        from libcontainer_py.namespaces import plan
        from libcontainer_py.spec import Spec as SpecModel
        from libcontainer_py.spec.validate import validate_runtime

        bundle_path = Path(bundle if bundle is not None else os.getcwd()).absolute()
        if spec is None:
            if not bundle_path.is_dir():
                raise ConfigError(f"bundle directory {bundle_path} does not exist")
            spec = SpecModel.load(bundle_path / "config.json")
        source = str(bundle_path / "config.json")
        for message in validate_runtime(spec):
            (warn or _default_warn)(message)
        if spec.process is None:
            raise ConfigError("a container needs a process to run", path="process", source=source)
        if not spec.process.args:
            raise ConfigError("must not be empty", path="process.args", source=source)
        if spec.process.terminal and detach and not console_socket:
            raise ConfigError(
                "cannot allocate a tty if the runtime will detach without a console socket: pass "
                "--console-socket, or set process.terminal to false",
                path="process.terminal",
                source=source,
            )
        if console_socket and not spec.process.terminal:
            raise ConfigError(
                "a console socket was given but the process has no terminal: set process.terminal "
                "to true, or drop --console-socket",
                path="process.terminal",
                source=source,
            )
        if spec.root is None:
            raise ConfigError("a container needs a root filesystem", path="root", source=source)
        rootfs = (bundle_path / spec.root.path).resolve()
        if not rootfs.is_dir():
            raise ConfigError(
                f"root filesystem {bundle_path / spec.root.path} does not exist or is not a directory",
                path="root.path",
                source=source,
            )
        namespaces = [
            (ns.type.value if hasattr(ns.type, "value") else str(ns.type), ns.path)
            for ns in (spec.linux.namespaces if spec.linux and spec.linux.namespaces else [])
        ]
        ns_plan = plan(namespaces)
        linux = spec.linux
        if ns_plan.new_user and not (linux and linux.uid_mappings and linux.gid_mappings):
            raise ConfigError(
                "a new user namespace needs linux.uidMappings and linux.gidMappings",
                path="linux.uidMappings",
                source=source,
            )
        # Joined namespaces are checked here too, so a wrong path fails before any fork.
        for i, (ns_type, path) in enumerate(namespaces):
            if path:
                from libcontainer_py.namespaces import open_namespace

                os.close(open_namespace(ns_type, path, i))
        # Pre-import what the init needs: after pivot_root it cannot import from the host.
        import libcontainer_py.rootfs  # noqa: F401

        state_dir = StateDir(root, container_id)
        state_dir.create()
        state = ContainerState(
            id=container_id,
            bundle=str(bundle_path),
            rootfs=str(rootfs),
            created=now_rfc3339(),
            owner="",
            oci_version=spec.oci_version,
            annotations=dict(spec.annotations or {}),
            config=source,
        )
        container = cls(state_dir, state)
        pids: list[int] = []
        parent_sock = child_sock = None
        fifo_fd = -1
        try:
            os.mkfifo(state_dir.exec_fifo, 0o622)
            # Owned by the container's root as the host sees it (as runc does), so that the init
            # can open it for writing after it has become that user; 0622 despite the umask.
            os.chown(state_dir.exec_fifo, _host_id(spec, "uid"), _host_id(spec, "gid"))
            os.chmod(state_dir.exec_fifo, 0o622)
            fifo_fd = os.open(state_dir.exec_fifo, os.O_PATH | os.O_CLOEXEC)
            state_dir.save(state)
            cfg = init_child.InitConfig(
                spec=spec,
                bundle=bundle_path,
                rootfs=rootfs,
                ns=ns_plan,
                exec_fifo_fd=fifo_fd,
                no_pivot=no_pivot,
                preserve_fds=preserve_fds,
                container_id=container_id,
                no_new_keyring=no_new_keyring,
            )
            parent_sock, child_sock = sync.socketpair()
            _set_subreaper()
            stage1 = spawn_init(spawn, cfg, child_sock, stdio, close_in_child=parent_sock)
            pids.append(stage1)
            child_sock.close()
            child_sock = None
            container._drive_create(parent_sock, stage1, pids, spec, console_socket)
            state.stage = "created"
            state_dir.save(state)
            if pid_file:
                _write_pid_file(pid_file, state.pid)
        except BaseException:
            if container.console is not None:
                os.close(container.console)
                container.console = None
            for pid in reversed(pids):
                with contextlib.suppress(OSError):
                    os.kill(pid, signal.SIGKILL)
            for pid in reversed(pids):
                _reap(pid)
            state_dir.remove()
            raise
        finally:
            for s in (parent_sock, child_sock):
                if s is not None:
                    s.close()
            if fifo_fd >= 0:
                os.close(fifo_fd)
        return container

    def _drive_create(
        self, sock: Any, stage1: int, pids: builtins.list[int], spec: Spec, console_socket: str | None
    ) -> None:
        from libcontainer_py.init import sync

        ready = False
        while True:
            msg = sync.recv(sock, CREATE_TIMEOUT)
            if msg is None:
                break
            kind = msg["type"]
            if kind == "error":
                raise sync.InitError(f"container init failed ({msg.get('stage')}): {msg.get('message')}")
            if kind == "userns":
                _write_id_maps(stage1, spec)
                sync.send(sock, "userns-done")
            elif kind == "pid":
                pid = int(msg["pid"])
                pids.append(pid)
                self._state.pid = pid
                self._state.pid_start = process_start_time(pid) or 0
                self._dir.save(self._state)  # from now on delete --force can find it
                _reap(stage1)
            elif kind == "console":
                self._take_console(msg, console_socket)
            elif kind == "ready":
                ready = True
                sync.send(sock, "run")
            else:
                raise sync.ProtocolError(f"unexpected message {kind!r} from container init")
        if not ready or not self._state.pid:
            raise sync.InitError("container init exited during create")
        # EOF after "run": the init closed its end and waits on the exec fifo; confirm it lives.
        if process_start_time(self._state.pid) != self._state.pid_start:
            status = _reap(self._state.pid, 0.5)
            raise sync.InitError(f"container init exited during create (wait status {status})")

    def _take_console(self, msg: dict[str, Any], console_socket: str | None) -> None:
        from libcontainer_py import tty

        (master,) = msg.get("fds") or [None]
        if master is None:
            raise LibcontainerError("container init sent no pty master")
        if console_socket:
            try:
                tty.send_to_socket(console_socket, master)
            finally:
                os.close(master)
        else:
            self.console = master

    # -- start, wait, kill, delete -----------------------------------------------------------------
    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        with self._dir.lock():
            self._state = self._dir.load()
            yield

    def start(self) -> None:
        """Run the program: release the init blocked on the exec fifo."""
        with self._locked():
            status = self.status
            if not status.can_start():
                raise InvalidState(f"cannot start container {self.id!r}: it is {status.value}, not created")
            try:
                fd = os.open(self._dir.exec_fifo, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
            except FileNotFoundError:
                raise InvalidState(f"cannot start container {self.id!r}: already started") from None
            try:
                deadline = time.monotonic() + START_TIMEOUT
                while True:
                    ready, _, _ = select.select([fd], [], [], 0.05)
                    if ready and os.read(fd, 1):
                        break
                    if process_start_time(self.pid) != self._state.pid_start:
                        raise InvalidState(f"cannot start container {self.id!r}: its init has exited")
                    if time.monotonic() > deadline:
                        raise InvalidState(f"container {self.id!r} did not start within {START_TIMEOUT:.0f}s")
            finally:
                os.close(fd)
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(self._dir.exec_fifo)

    def wait(self, timeout: float | None = None) -> int:
        """Wait for the container's init to exit; return its status as a shell does (128+signal
        when killed). Works for containers this process created (it is their subreaper)."""
        if self.exit_status is not None:
            return self.exit_status
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            try:
                done, status = os.waitpid(self.pid, 0 if deadline is None else os.WNOHANG)
            except ChildProcessError:
                raise LibcontainerError(
                    f"container {self.id!r} (pid {self.pid}) was not started by this process: cannot wait for it"
                ) from None
            except InterruptedError:
                continue
            if done:
                self.exit_status = os.waitstatus_to_exitcode(status)
                if self.exit_status < 0:
                    self.exit_status = 128 - self.exit_status
                return self.exit_status
            if deadline is not None and time.monotonic() > deadline:
                raise TimeoutError(f"container {self.id!r} still running after {timeout}s")
            time.sleep(0.005)

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
        """Run `process` (a libcontainer_py.spec.Process) in this running container, in all its
        namespaces. Returns (pid, exit status, console): the status is None with detach=True; the
        console is the pty master when process.terminal is set, detached and without a socket."""
        from libcontainer_py._exec import exec_process

        self._state = self._dir.load()
        return exec_process(
            self,
            process,
            detach=detach,
            pid_file=pid_file,
            preserve_fds=preserve_fds,
            stdio=stdio,
            spawn=spawn,
            console_socket=console_socket,
        )

    def kill(self, sig: str | int = signal.SIGTERM, *, all: bool = False) -> None:
        signum = parse_signal(sig)
        with self._locked():
            status = self.status
            if not status.can_kill():
                raise InvalidState(f"cannot kill container {self.id!r}: container not running ({status.value})")
            pids = self._processes() if all else [self.pid]
            for pid in pids:
                try:
                    os.kill(pid, signum)
                except ProcessLookupError:
                    if pid == self.pid and not all:
                        raise InvalidState(f"cannot kill container {self.id!r}: no such process") from None

    def processes(self) -> builtins.list[int]:
        """The pids (as the host sees them) of every process in the container, its init first."""
        pids = self._processes()
        return sorted(pids, key=lambda p: (p != self.pid, p))

    def _processes(self) -> builtins.list[int]:
        """Every process in the container's pid namespace (cgroup-based with the cgroup manager)."""
        try:
            want = os.stat(f"/proc/{self.pid}/ns/pid").st_ino
        except OSError:
            return []
        out = []
        for name in os.listdir("/proc"):
            if name.isdigit():
                with contextlib.suppress(OSError):
                    if os.stat(f"/proc/{name}/ns/pid").st_ino == want:
                        out.append(int(name))
        return out

    def delete(self, *, force: bool = False) -> None:
        """Remove the container. Only when stopped, unless force: then kill it first."""
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
            if self.pid and process_start_time(self.pid) == self._state.pid_start:
                for pid in self._processes() or [self.pid]:
                    with contextlib.suppress(OSError):
                        os.kill(pid, signal.SIGKILL)
                _wait_gone(self.pid, self._state.pid_start)
            if self.pid:
                _reap(self.pid, 0)
            self._dir.remove()
        finally:
            lock.__exit__(None, None, None)


def _host_id(spec: Spec, kind: str) -> int:
    """The host uid (or gid) of the container's root: mapped when the spec has mappings."""
    linux = spec.linux
    mappings = (linux.uid_mappings if kind == "uid" else linux.gid_mappings) if linux else None
    for m in mappings or []:
        if m.container_id <= 0 < m.container_id + m.size:
            return m.host_id - m.container_id
    return os.geteuid() if kind == "uid" else os.getegid()


def _default_warn(message: str) -> None:
    import warnings

    warnings.warn(message, stacklevel=3)


def _set_subreaper() -> None:
    from libcontainer_py import _sys

    _sys.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)


def _write_pid_file(path: str, pid: int) -> None:
    # Atomic, as runc: a client polling the file never reads a partial number.
    tmp = os.path.join(os.path.dirname(os.path.abspath(path)), f".{os.path.basename(path)}.tmp")
    with open(tmp, "w") as f:
        f.write(str(pid))
    os.replace(tmp, path)


def _write_id_maps(pid: int, spec: Spec) -> None:
    """Write the user namespace's maps from the parent (it holds CAP_SETUID/SETGID in the parent
    namespace; the child could only map its own uid). setgroups must be denied before an
    unprivileged writer may write gid_map."""
    linux = spec.linux
    assert linux is not None
    for kind, mappings in (("uid", linux.uid_mappings), ("gid", linux.gid_mappings)):
        text = "".join(f"{m.container_id} {m.host_id} {m.size}\n" for m in mappings or [])
        if kind == "gid" and os.geteuid() != 0:
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
