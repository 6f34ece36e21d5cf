"""`python -I -m libcontainer_py.init FD`: stage 1 of a container's init in a fresh interpreter
(see spawn.py for when and why). FD is the child's end of the sync socket; the first message on it
is the InitConfig as JSON."""

from __future__ import annotations

import _socket
import os
import sys


def main() -> None:
    sock = _socket.socket(fileno=int(sys.argv[1]))
    try:
        from libcontainer_py import _sys
        from libcontainer_py.init.pidfork import CMDLINE

        try:  # noqa: SIM105  (not contextlib: one more import)
            _sys.set_cmdline(CMDLINE)  # as a forked child shows (pidfork.child_begins)
        except OSError:
            pass
        from libcontainer_py.init.spawn import decode

        cfg_fd = int(sys.argv[2])
        chunks: list[bytes] = []
        offset = 0
        while block := os.pread(cfg_fd, 1 << 20, offset):
            chunks.append(block)
            offset += len(block)
        os.close(cfg_fd)
        from libcontainer_py import _json

        cfg = decode(_json.loads(b"".join(chunks).decode()))
        # What a forked child would have inherited already imported: after pivot_root (or setns
        # of a mount namespace), nothing more can be imported from the host.
        from libcontainer_py.init.child import InitConfig, preload

        if isinstance(cfg, InitConfig):
            preload(cfg.spec)
        elif cfg.process.terminal:
            import libcontainer_py.tty  # noqa: F401  (exec -t: the pty is made after the joins)
    except BaseException as exc:  # report to the parent, never a traceback
        from libcontainer_py.init.sync import child_fail

        child_fail(sock, "init start", exc)
        os._exit(1)
    from libcontainer_py.init.child import stage1
    from libcontainer_py.init.setns import ExecConfig, exec_stage1

    if isinstance(cfg, ExecConfig):
        exec_stage1(cfg, sock)
    stage1(cfg, sock)


if __name__ == "__main__":
    main()
