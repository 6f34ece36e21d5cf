"""The talk, step 2: turn on a terminal and get a shell in the container.

    sudo .venv/bin/python examples/02_terminal_shell.py [--keep DIR]

`"terminal": true` in config.json (what `runc spec` writes) gives the container's process a
pseudo-terminal made in the container's own devpts; a foreground `pyrunc run` relays it to the
terminal it was started from. Here that terminal is a pty this script opens, and the script types
into the shell as a person would. Run as root.
"""

from __future__ import annotations

import os
import pty
import select
import sys
import time

from _talk import PYRUNC, Talk, expect, parse_args

import libcontainer_py as lc


def read_until(fd: int, needle: bytes, timeout: float = 10) -> bytes:
    out = b""
    deadline = time.monotonic() + timeout
    while needle not in out and time.monotonic() < deadline:
        if select.select([fd], [], [], 0.05)[0]:
            try:
                block = os.read(fd, 4096)
            except OSError:  # EIO: the other side is gone
                break
            if not block:
                break
            out += block
    return out


def main() -> int:
    opts = parse_args(__doc__)
    talk = Talk(opts.keep)
    master = pid = -1
    try:
        # 1. A bundle whose config asks for a terminal, running a shell (runc spec's default args).
        bundle = lc.make_busybox_bundle(talk.dir / "busybox", args=["sh"], terminal=True)
        print(f'$ grep -E \'"terminal"|"sh"\' {bundle.name}/config.json')
        print('        "terminal": true,\n            "sh"')
        # 2. `pyrunc run shell` from a terminal: here a pty we hold the master side of.
        print(f"$ (cd {bundle.name}) pyrunc run shell")
        pid, master = pty.fork()
        if pid == 0:  # the child: pyrunc, its stdio the pty's slave side
            try:
                os.chdir(bundle)
                os.execv(PYRUNC[0], [*PYRUNC, "--root", talk.root, "run", "shell"])
            finally:
                os._exit(127)
        prompt = read_until(master, b"# ")
        expect(b"# " in prompt, f"no shell prompt from the container: {prompt!r}")
        # `echo DO""NE` prints DONE, which the echoed command line does not contain.
        os.write(master, b'tty; echo pid=$$; id -un; ls /; echo DO""NE\n')
        session = prompt + read_until(master, b"DONE\r\n")
        session += read_until(master, b"# ")  # the next prompt, before typing on
        os.write(master, b"exit 3\n")
        session += read_until(master, b"\x00", timeout=5)  # everything until pyrunc exits
        _, status = os.waitpid(pid, 0)
        pid = -1
        code = os.waitstatus_to_exitcode(status)
        # ash asks the terminal where its cursor is (ESC [ 6 n); a transcript has no use for that.
        text = session.decode(errors="replace").replace("\r\n", "\n").replace("\x1b[6n", "")
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
        print(f"[pyrunc exited {code}]")
        expect("/dev/pts/0" in text, "the shell's stdin is not the container's first pty /dev/pts/0")
        expect("pid=1\n" in text, "the shell is not pid 1 of the container's pid namespace")
        expect("root\n" in text, "the shell does not run as root")
        expect(code == 3, f"pyrunc run should exit with the shell's status 3, not {code}")
        print("ok: an interactive shell on the container's own terminal, pid 1, exit status passed through")
        return 0
    finally:
        if pid > 0:
            os.kill(pid, 9)
            os.waitpid(pid, 0)
        if master >= 0:
            os.close(master)
        talk.close()


if __name__ == "__main__":
    sys.exit(main())
