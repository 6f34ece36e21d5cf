"""Terminals: process.terminal with a console socket (containerd, conmon) and relayed by a
foreground `pyrunc run` / `exec -t`; what the container sees: tty, size, /dev/console."""

from __future__ import annotations

import fcntl
import os
import pty
import select
import socket
import struct
import termios
import time
from pathlib import Path
from typing import Any

from libcontainer_py.container import Container
from libcontainer_py.tty import receive_from_socket


def set_winsize(fd: int, rows: int, cols: int) -> None:
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))


def read_until(fd: int, needle: bytes, timeout: float = 10) -> bytes:
    out = b""
    deadline = time.monotonic() + timeout
    while needle not in out and time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.05)
        if ready:
            try:
                block = os.read(fd, 4096)
            except OSError:
                break
            if not block:
                break
            out += block
    return out


def under_pty(argv: list[str], rows: int = 30, cols: int = 100) -> tuple[int, int]:
    """Start argv with a new pty as its controlling terminal and stdio; (pid, master)."""
    pid, master = pty.fork()
    if pid == 0:  # pragma: no cover - child
        try:
            os.execv(argv[0], argv)
        finally:
            os._exit(127)
    set_winsize(master, rows, cols)
    return pid, master


def exit_status(pid: int, timeout: float = 15) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        time.sleep(0.02)
    os.kill(pid, 9)
    os.waitpid(pid, 0)
    raise AssertionError(f"{pid} did not exit")


def tty_bundle(rt: Any, args: list[str], size: tuple[int, int] | None = None) -> Path:
    def edit(c: dict[str, Any]) -> None:
        c["process"]["terminal"] = True
        if size:
            c["process"]["consoleSize"] = {"height": size[0], "width": size[1]}

    return rt.bundle(args, edit=edit)


def cli(rt: Any) -> list[str]:
    cmd = list(rt.cmd)
    return [cmd[0], *cmd[1:], "--root", rt.root]


def test_foreground_run_relays_the_terminal(rt: Any) -> None:
    bundle = tty_bundle(rt, ["sh"])
    pid, master = under_pty([*cli(rt), "run", "--bundle", str(bundle), rt.new_id("tty")], rows=33, cols=120)
    try:
        read_until(master, b"# ")
        # `echo DO""NE` prints DONE, which the echoed command line does not contain
        os.write(master, b"tty; stty size; echo T=$TERM; ls -l /dev/console; echo DO\"\"NE\n")
        out = read_until(master, b"DONE").decode(errors="replace")
        assert "/dev/pts/0" in out and "33 120" in out and "T=xterm" in out, out
        assert "136,   0" in out, out  # /dev/console is the container's pty 0 (char major 136)
        set_winsize(master, 40, 90)  # the outer terminal is resized: SIGWINCH reaches pyrunc
        os.kill(pid, 28)
        time.sleep(0.2)
        os.write(master, b"stty size; echo DO\"\"NE; exit 4\n")
        out = read_until(master, b"DONE").decode(errors="replace")
        assert "40 90" in out, out
        assert exit_status(pid) == 4
    finally:
        os.close(master)


def test_console_socket_gets_the_master(rt: Any) -> None:
    bundle = tty_bundle(rt, ["sh"], size=(25, 70))
    sock_path = rt.base / "console.sock"
    cid = rt.new_id("cs")
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as listener:
        listener.bind(str(sock_path))
        listener.listen(1)
        import threading

        got: list[int] = []
        t = threading.Thread(target=lambda: got.append(receive_from_socket(listener)))
        t.start()
        r = rt.pyrunc("create", "--bundle", str(bundle), "--console-socket", str(sock_path), cid)
        t.join(30)
    assert r.rc == 0, r
    master = got[0]
    try:
        assert rt.state(cid)["status"] == "created"
        assert rt.pyrunc("start", cid).rc == 0
        os.write(master, b"tty; stty size; echo DO\"\"NE; exit\n")
        out = read_until(master, b"DONE").decode(errors="replace")
        assert "/dev/pts/0" in out and "25 70" in out, out
    finally:
        os.close(master)
    rt.wait_status(cid, "stopped")


def test_exec_with_a_terminal(rt: Any) -> None:
    bundle = rt.bundle(["sleep", "60"])
    cid = rt.new_id("ext")
    assert rt.pyrunc("run", "-d", "--bundle", str(bundle), cid).rc == 0
    pid, master = under_pty([*cli(rt), "exec", "-t", cid, "sh"], rows=20, cols=60)
    try:
        read_until(master, b"# ")
        os.write(master, b"tty; stty size; echo DO\"\"NE; exit 6\n")
        out = read_until(master, b"DONE").decode(errors="replace")
        assert "/dev/pts/" in out and "20 60" in out, out
        assert exit_status(pid) == 6
    finally:
        os.close(master)
    # the init's /dev/console is untouched by the exec's pty
    r = rt.pyrunc("exec", cid, "sh", "-c", "test -e /dev/console && echo has-console || echo none")
    assert r.out.strip() == "none", r


def test_terminal_errors_leave_nothing(rt: Any) -> None:
    bundle = tty_bundle(rt, ["sh"])
    r = rt.pyrunc("create", "--bundle", str(bundle), rt.new_id("e"))
    assert r.rc == 1 and "console socket" in r.err and len(r.err.strip().splitlines()) == 1, r
    r = rt.pyrunc(
        "create", "--bundle", str(bundle), "--console-socket", str(rt.base / "nobody-listens"), rt.new_id("e")
    )
    assert r.rc == 1 and "--console-socket" in r.err, r
    plain = rt.bundle(["true"])
    r = rt.pyrunc("create", "--bundle", str(plain), "--console-socket", str(rt.base / "x.sock"), rt.new_id("e"))
    assert r.rc == 1 and "process.terminal" in r.err, r
    assert rt.state_dirs() == []
    assert Container.list(rt.root) == []
