"""The two late steps that the container's init and exec's child share: the seccomp filter (with its
listener fd for the parent) and the terminal. In a module of their own so that exec's parent,
which imports what its child needs before the fork, does not import the init's module (child.py)
for them (~0.25 ms of every `pyrunc exec`)."""

from __future__ import annotations

import _socket
import os

from libcontainer_py.init.sync import expect, send

TYPE_CHECKING = False  # not `typing`: its import costs ~3 ms of every pyrunc call
if TYPE_CHECKING:
    from typing import Any


def load_seccomp(compiled: Any, sock: _socket.socket) -> None:
    """Install the filter; with SCMP_ACT_NOTIFY hand the listener fd to the parent and wait until
    it reached linux.seccomp.listenerPath (a notified syscall would wait forever otherwise)."""
    fd = compiled.load()
    if fd is not None:
        try:
            send(sock, "seccomp-fd", fds=[fd])
        finally:
            os.close(fd)
        expect(sock, "seccomp-fd-done")


def setup_console(process: Any, sock: _socket.socket, *, mount_console: bool = True) -> None:
    """A pty from the container's own devpts: the slave becomes our controlling terminal, our
    stdio and /dev/console; the master goes to the runtime (which sends it to --console-socket or
    relays it). libcontainer_py.tty (with termios) is imported by whoever forks us when the process
    has a terminal (_create.prepare, _exec.exec_process): after pivot_root or setns there is no
    importing from the host, and most containers have no terminal."""
    from libcontainer_py import tty

    size = process.console_size
    master, slave, path = tty.open_pty((size.height, size.width) if size else None)
    try:
        if mount_console:
            from libcontainer_py.rootfs.devices import mount_console as bind_console

            bind_console(slave)  # through fds, never a symlink (CVE-2025-52565)
        tty.become_console(slave, path, mount_console=False)
        send(sock, "console", fds=[master])
    finally:
        os.close(master)
