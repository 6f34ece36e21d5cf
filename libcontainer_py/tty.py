"""Terminals: the container's pty, the console socket, and relaying a pty to our own terminal.

As runc: with process.terminal the init (or exec's last stage) opens /dev/ptmx *inside* the
container (its own devpts instance, so the pty belongs to the container), makes the slave its
controlling terminal and its stdio, binds it over /dev/console, and hands the master to the runtime
over the sync socket. The runtime then
  - sends it over --console-socket with SCM_RIGHTS (containerd's shim, conmon), or
  - in a foreground `run` / `exec -t` without a socket, relays it to its own stdin/stdout, with the
    real terminal in raw mode and its window size followed on SIGWINCH.
The modules used here are imported at load time: the init needs them after pivot_root.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import select
import signal
import socket
import struct
import termios
import time
import tty as _tty

from libcontainer_py.errors import LibcontainerError

TIOCGPTN = 0x80045430  # get the pty number (asm-generic/ioctls.h)
TIOCSPTLCK = 0x40045431  # (un)lock the slave
TIOCGPTPEER = 0x5441  # open the slave from the master, without a path lookup (Linux 4.13)


class ConsoleError(LibcontainerError):
    pass


def open_pty(console_size: tuple[int, int] | None = None) -> tuple[int, int, str]:
    """Open a pty on the devpts of the current mount namespace (call it after pivot_root).
    Returns (master fd, slave fd, slave path as the container sees it)."""
    try:
        master = os.open("/dev/ptmx", os.O_RDWR | os.O_NOCTTY | os.O_CLOEXEC)
    except OSError as exc:
        raise ConsoleError(
            f"process.terminal: cannot open /dev/ptmx in the container ({exc.strerror}): mount devpts on "
            "/dev/pts (newinstance,ptmxmode=0666)"
        ) from None
    try:
        fcntl.ioctl(master, TIOCSPTLCK, struct.pack("i", 0))
        number = struct.unpack("I", fcntl.ioctl(master, TIOCGPTN, struct.pack("I", 0)))[0]
        path = f"/dev/pts/{number}"
        try:
            # Through the master, not the path: a symlink planted at /dev/pts/N cannot redirect it.
            slave = fcntl.ioctl(master, TIOCGPTPEER, os.O_RDWR | os.O_NOCTTY)
        except OSError:
            slave = os.open(path, os.O_RDWR | os.O_NOCTTY)
        if console_size:
            set_size(master, *console_size)
    except BaseException:
        os.close(master)
        raise
    return master, slave, path


def set_size(fd: int, rows: int, cols: int) -> None:
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))


def get_size(fd: int) -> tuple[int, int] | None:
    try:
        rows, cols, _, _ = struct.unpack("HHHH", fcntl.ioctl(fd, termios.TIOCGWINSZ, b"\0" * 8))
    except OSError:
        return None
    return rows, cols


def become_console(slave: int, slave_path: str, *, mount_console: bool) -> None:
    """Make the slave our controlling terminal and our stdio; bind it over /dev/console."""
    if mount_console:
        from libcontainer_py import _sys
        from libcontainer_py._sys import consts as c

        # /dev is the container's own tmpfs here (after pivot_root); the file is a mount point.
        fd = os.open("/dev/console", os.O_CREAT | os.O_WRONLY | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        os.close(fd)
        _sys.mount(slave_path, "/dev/console", None, c.MS_BIND)
    if os.getsid(0) != os.getpid():
        os.setsid()
    fcntl.ioctl(slave, termios.TIOCSCTTY, 0)
    for target in (0, 1, 2):
        os.dup2(slave, target)
    if slave > 2:
        os.close(slave)


def send_to_socket(path: str, master: int) -> None:
    """Give the pty master to whoever listens on --console-socket (SCM_RIGHTS), as runc does."""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.connect(path)
            socket.send_fds(sock, [b"/dev/ptmx"], [master])
    except OSError as exc:
        raise ConsoleError(f"--console-socket {path}: {exc.strerror or exc}") from None


def hand_over(master: int, console_socket: str | None) -> int | None:
    """What the runtime does with a pty master the init sent: to the console socket (closed here
    then, None returned), or kept, returned, for the caller to relay or use."""
    if not console_socket:
        return master
    try:
        send_to_socket(console_socket, master)
    finally:
        os.close(master)
    return None


def receive_from_socket(listener: socket.socket, timeout: float = 30) -> int:
    """The other side of send_to_socket (for tests and library users with a console socket)."""
    listener.settimeout(timeout)
    conn, _ = listener.accept()
    with conn:
        _data, fds, _flags, _addr = socket.recv_fds(conn, 1024, 1)
    if not fds:
        raise ConsoleError("no pty master received on the console socket")
    return fds[0]


def relay(master: int, pid: int, stdin: int = 0, stdout: int = 1) -> int:
    """Copy our stdin to the pty and the pty to our stdout until process `pid` (our child: the
    container's init, or exec's process) has ended; return its status as a shell gives it. With
    a real terminal on stdin, it is put in raw mode (the container's line discipline does the
    echo and ^C), restored at the end, and its window size is followed. The process's pidfd wakes
    the loop when it ends (without one, before Linux 5.3, it looks every 50 ms: that polling made
    `pyrunc run` of `true` with a terminal take 43 ms against 24 without one)."""
    from libcontainer_py._exec import poll_exit  # (the parent's side only: not in the init)

    def done() -> int | None:
        return poll_exit(pid)

    exit_fd = -1
    with contextlib.suppress(OSError):  # (a kernel before 5.3, or it has ended: done() says so)
        exit_fd = os.pidfd_open(pid)
    saved = None
    with contextlib.suppress(termios.error):
        saved = termios.tcgetattr(stdin)
    old_winch = None
    if saved is not None:
        size = get_size(stdin)
        if size:
            set_size(master, *size)

        def winch(_signum: int, _frame: object) -> None:
            new = get_size(stdin)
            if new:
                with contextlib.suppress(OSError):
                    set_size(master, *new)

        old_winch = signal.signal(signal.SIGWINCH, winch)
        _tty.setraw(stdin)
    readers = [master, stdin]
    try:
        while True:
            status = done()
            if status is not None:
                _drain(master, stdout)
                return status
            try:
                if exit_fd < 0:
                    ready, _, _ = select.select(readers, [], [], 0.05)
                else:
                    ready, _, _ = select.select([*readers, exit_fd], [], [], 1.0)
            except InterruptedError:
                continue
            if master in ready:
                try:
                    data = os.read(master, 65536)
                except OSError as exc:
                    if exc.errno != errno.EIO:  # EIO: every slave fd is closed
                        raise
                    data = b""
                if data:
                    _write_all(stdout, data)
                else:
                    readers.remove(master)
                    if exit_fd < 0:
                        time.sleep(0.01)  # (with the pidfd, select wakes when the process ends)
            if stdin in ready:
                data = os.read(stdin, 65536)
                if data:
                    _write_all(master, data)
                else:
                    readers.remove(stdin)  # our stdin ended: keep relaying output
    finally:
        if exit_fd >= 0:
            os.close(exit_fd)
        if saved is not None:
            termios.tcsetattr(stdin, termios.TCSADRAIN, saved)
        if old_winch is not None:
            signal.signal(signal.SIGWINCH, old_winch)


def _drain(master: int, stdout: int) -> None:
    """What the container wrote just before it exited."""
    os.set_blocking(master, False)
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:
            return
        if not data:
            return
        _write_all(stdout, data)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        try:
            n = os.write(fd, view)
        except BlockingIOError:
            select.select([], [fd], [], 1)
            continue
        view = view[n:]


__all__ = [
    "ConsoleError",
    "become_console",
    "get_size",
    "open_pty",
    "receive_from_socket",
    "relay",
    "send_to_socket",
    "set_size",
]
