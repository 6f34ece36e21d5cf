"""Seccomp user notification (SCMP_ACT_NOTIFY): the runtime's side and a seccomp agent's side.

Runtime side, :func:`send_listener_fd`: config-linux.md "listenerPath" and "The Container Process
State": connect to the agent's AF_UNIX SOCK_STREAM socket, send ONE container process state as JSON
with the listener fd in SCM_RIGHTS (in the first sendmsg), then close. A failure is an error of
`create` (runtime.md "Errors").

Agent side (what a seccomp agent, or a test, runs): :class:`NotifyListener` accepts those
connections; :func:`receive` / :func:`respond` speak the kernel's SECCOMP_IOCTL_NOTIF_* ioctls on
the fd; :func:`serve` loops until the container has gone; :func:`read_string` reads a path argument
from the target's memory. Layouts are from <linux/seccomp.h> (uapi), packed with ``struct``:

    struct seccomp_data       { int nr; __u32 arch; __u64 instruction_pointer; __u64 args[6]; };  64 B
    struct seccomp_notif      { __u64 id; __u32 pid; __u32 flags; struct seccomp_data data; };    80 B
    struct seccomp_notif_resp { __u64 id; __s64 val; __s32 error; __u32 flags; };                 24 B

Only the standard library is used (pyseccomp only to print syscall names, if present).
"""

from __future__ import annotations

import array
import contextlib
import errno as _errno
import fcntl
import json
import os
import select
import socket
import stat
import struct
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from libcontainer_py.errors import LibcontainerError

OCI_VERSION = "1.3.0"

_NOTIF = struct.Struct("=QIIiIQ6Q")
_RESP = struct.Struct("=QqiI")
assert _NOTIF.size == 80 and _RESP.size == 24


def _iowr(nr: int, size: int, direction: int) -> int:
    # _IOC(dir, '!', nr, size): dir << 30 | size << 16 | type << 8 | nr (asm-generic/ioctl.h)
    return (direction << 30) | (size << 16) | (ord("!") << 8) | nr


SECCOMP_IOCTL_NOTIF_RECV = _iowr(0, _NOTIF.size, 3)  # _IOWR
SECCOMP_IOCTL_NOTIF_SEND = _iowr(1, _RESP.size, 3)  # _IOWR
SECCOMP_IOCTL_NOTIF_ID_VALID = _iowr(2, 8, 1)  # _IOW (the kernel also accepts the old _IOR)
SECCOMP_USER_NOTIF_FLAG_CONTINUE = 1


class NotifyError(LibcontainerError):
    """Sending the listener fd to the seccomp agent failed, or the agent got a bad message."""


# --- the runtime's side -------------------------------------------------------------------------


def container_process_state(
    state: dict[str, Any], metadata: str | None = None, *, oci_version: str = OCI_VERSION
) -> dict[str, Any]:
    """The JSON object sent with the fd: ``state`` is the container's state (runtime.md), status
    "creating"; its pid (as the runtime sees it) is the process state's pid too."""
    msg: dict[str, Any] = {"ociVersion": oci_version, "fds": ["seccompFd"], "pid": state.get("pid")}
    if metadata is not None:
        msg["metadata"] = metadata
    msg["state"] = state
    return msg


def send_listener_fd(
    listener_path: str,
    fd: int,
    state: dict[str, Any],
    metadata: str | None = None,
    *,
    timeout: float = 10.0,
) -> None:
    """Send the seccomp listener ``fd`` and the container process state to the agent at
    ``listener_path`` (``linux.seccomp.listenerPath``), one connection, closed afterwards.
    ``fd`` stays open: the caller closes it (the runtime keeps no notify fd)."""
    payload = json.dumps(container_process_state(state, metadata)).encode()
    where = f"linux.seccomp.listenerPath ({listener_path})"
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(timeout)
            sock.connect(listener_path)
            # The fd goes with the first bytes, as the spec requires; the rest (if the kernel took
            # only part of a large state) follows without ancillary data.
            sent = sock.sendmsg([payload], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", [fd]))])
            if sent < len(payload):
                sock.sendall(payload[sent:])
            sock.shutdown(socket.SHUT_WR)
    except TimeoutError as exc:
        raise NotifyError(f"{where}: seccomp agent did not accept the state within {timeout:g}s") from exc
    except OSError as exc:
        raise NotifyError(f"{where}: sending the seccomp fd: {exc.strerror or exc}") from exc


# --- the agent's side: the unix socket ----------------------------------------------------------


@dataclass
class ContainerProcessState:
    """What the agent received: the parsed JSON and the fds by name (the agent owns and closes them)."""

    oci_version: str
    pid: int
    state: dict[str, Any]
    metadata: str | None = None
    fds: dict[str, int] = field(default_factory=dict)

    @property
    def seccomp_fd(self) -> int:
        return self.fds["seccompFd"]

    def close(self) -> None:
        for fd in self.fds.values():
            os.close(fd)
        self.fds.clear()


def recv_container_process_state(conn: socket.socket, max_fds: int = 8) -> ContainerProcessState:
    """Read one container process state (until EOF) from an accepted connection."""
    chunks: list[bytes] = []
    fds: list[int] = []
    while True:
        data, anc, _flags, _addr = conn.recvmsg(65536, socket.CMSG_SPACE(max_fds * 4))
        for level, kind, cdata in anc:
            if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                arr = array.array("i")
                arr.frombytes(cdata[: len(cdata) - len(cdata) % 4])
                fds.extend(arr)
        if not data:
            break
        chunks.append(data)
    try:
        msg = json.loads(b"".join(chunks))
        names = msg.get("fds") or []
        if len(names) != len(fds):
            raise ValueError(f"{len(fds)} fds received for names {names}")
        return ContainerProcessState(
            oci_version=msg["ociVersion"],
            pid=int(msg["pid"]),
            state=msg["state"],
            metadata=msg.get("metadata"),
            fds=dict(zip(names, fds, strict=True)),
        )
    except (ValueError, KeyError, TypeError) as exc:
        for fd in fds:
            os.close(fd)
        raise NotifyError(f"malformed container process state: {exc}") from exc


class NotifyListener:
    """An AF_UNIX SOCK_STREAM server at ``path`` receiving container process states (a seccomp agent).

    ``with NotifyListener(path) as lst: cps = lst.accept(timeout=5); serve(cps.seccomp_fd, handler)``
    """

    def __init__(self, path: str, backlog: int = 16) -> None:
        self.path = path
        # A stale socket from a previous agent would make bind fail: replace it, but nothing else.
        try:
            if stat.S_ISSOCK(os.lstat(path).st_mode):
                os.unlink(path)
        except FileNotFoundError:
            pass
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._sock.bind(path)
        self._sock.listen(backlog)

    def fileno(self) -> int:
        return self._sock.fileno()

    def accept(self, timeout: float | None = None) -> ContainerProcessState:
        self._sock.settimeout(timeout)
        conn, _ = self._sock.accept()
        with conn:
            conn.settimeout(timeout)
            return recv_container_process_state(conn)

    def close(self) -> None:
        self._sock.close()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)

    def __enter__(self) -> NotifyListener:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# --- the agent's side: notifications ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Notification:
    """One trapped syscall: ``pid`` is in the agent's pid namespace, ``args`` the six raw arguments."""

    id: int
    pid: int
    flags: int
    nr: int
    arch: int
    instruction_pointer: int
    args: tuple[int, ...]

    @property
    def syscall(self) -> str:
        """The syscall's name (through libseccomp when available, else ``"syscall <nr>"``)."""
        return _syscall_name(self.arch, self.nr)


@dataclass(frozen=True, slots=True)
class Reply:
    """An answer: :meth:`allow` (run the syscall as is), :meth:`deny` (fail with an errno), or
    :meth:`value` (skip it and return a made-up result)."""

    val: int = 0
    error: int = 0  # the kernel wants -errno
    flags: int = 0

    @classmethod
    def allow(cls) -> Reply:
        # CONTINUE: the kernel runs the syscall itself. Not a security decision for pointer args: the
        # target can change the memory between our check and the kernel's read (seccomp_unotify(2)).
        return cls(flags=SECCOMP_USER_NOTIF_FLAG_CONTINUE)

    @classmethod
    def deny(cls, errno: int = _errno.EPERM) -> Reply:
        return cls(error=-abs(errno))

    @classmethod
    def value(cls, val: int) -> Reply:
        return cls(val=val)


def receive(fd: int) -> Notification:
    """SECCOMP_IOCTL_NOTIF_RECV: block until a notification arrives (poll ``fd`` first to wait with a
    timeout). The buffer must be zeroed: the kernel refuses (EINVAL) a dirty one."""
    buf = bytearray(_NOTIF.size)
    fcntl.ioctl(fd, SECCOMP_IOCTL_NOTIF_RECV, buf, True)
    nid, pid, flags, nr, arch, ip, *args = _NOTIF.unpack(buf)
    return Notification(nid, pid, flags, nr, arch, ip, tuple(args))


def respond(fd: int, notif_id: int, reply: Reply) -> None:
    """SECCOMP_IOCTL_NOTIF_SEND. ENOENT means the target was interrupted or died: nothing to answer."""
    buf = bytearray(_RESP.pack(notif_id, reply.val, reply.error, reply.flags))
    fcntl.ioctl(fd, SECCOMP_IOCTL_NOTIF_SEND, buf, True)


def id_valid(fd: int, notif_id: int) -> bool:
    """SECCOMP_IOCTL_NOTIF_ID_VALID: whether the notification is still pending (its task still waits).
    Check it after reading the target's memory: a pid may have been reused meanwhile."""
    try:
        fcntl.ioctl(fd, SECCOMP_IOCTL_NOTIF_ID_VALID, bytearray(struct.pack("=Q", notif_id)), True)
    except OSError as exc:
        if exc.errno == _errno.ENOENT:
            return False
        raise
    return True


def read_string(
    pid: int, address: int, *, fd: int | None = None, notif_id: int | None = None, max_len: int = 4096
) -> str:
    """A NUL-terminated string (a path argument) from the target's memory via /proc/PID/mem.

    With ``fd`` and ``notif_id``, verifies afterwards that the notification is still valid, so the
    string really belongs to the trapped call (raises NotifyError otherwise)."""
    out = bytearray()
    mem = os.open(f"/proc/{pid}/mem", os.O_RDONLY | os.O_CLOEXEC)
    try:
        pos = address
        while len(out) < max_len:
            # Read to the end of the page at most: the next page may be unmapped (EIO).
            chunk = os.pread(mem, min(4096 - pos % 4096, max_len - len(out)), pos)
            if not chunk:
                break
            end = chunk.find(b"\0")
            if end >= 0:
                out += chunk[:end]
                break
            out += chunk
            pos += len(chunk)
    finally:
        os.close(mem)
    if fd is not None and notif_id is not None and not id_valid(fd, notif_id):
        raise NotifyError(f"notification {notif_id} of pid {pid} is no longer valid")
    return out.decode(errors="surrogateescape")


Handler = Callable[[Notification], Reply]


def serve(fd: int, handler: Handler, *, stop: threading.Event | None = None, poll_interval: float = 0.1) -> None:
    """Answer every notification on ``fd`` with ``handler``'s Reply, until all processes using the
    filter have exited (POLLHUP) or ``stop`` is set. A handler that raises gets the syscall denied
    with EPERM (never left hanging) and the exception propagates."""
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    while stop is None or not stop.is_set():
        for _, events in poller.poll(int(poll_interval * 1000)):
            if events & select.POLLIN:
                try:
                    notif = receive(fd)
                except OSError as exc:
                    if exc.errno in (_errno.ENOENT, _errno.EINTR):  # the target went away first
                        continue
                    raise
                try:
                    reply = handler(notif)
                except BaseException:
                    _respond_quietly(fd, notif.id, Reply.deny(_errno.EPERM))
                    raise
                _respond_quietly(fd, notif.id, reply)
            elif events & (select.POLLHUP | select.POLLERR):
                return


def _respond_quietly(fd: int, notif_id: int, reply: Reply) -> None:
    try:
        respond(fd, notif_id, reply)
    except OSError as exc:
        if exc.errno != _errno.ENOENT:
            raise


_NAMES: dict[tuple[int, int], str] = {}


def _syscall_name(arch: int, nr: int) -> str:
    key = (arch, nr)
    if key not in _NAMES:
        try:
            import importlib

            pyseccomp = importlib.import_module("pyseccomp")
            _NAMES[key] = pyseccomp.resolve_syscall(arch, nr).decode()
        except Exception:  # no libseccomp, or a number it does not know
            _NAMES[key] = f"syscall {nr}"
    return _NAMES[key]
