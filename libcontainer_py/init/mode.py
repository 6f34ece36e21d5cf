"""How a child of the runtime is started: forked, or (a caller with threads, such as a Jupyter
kernel) by the fork server (forkserver.py), or as a fresh interpreter where that cannot run
(spawn.py). Apart from spawn.py so that exec, which forks its one
child itself (setns.py), need not import the init's modules that spawn.py brings (~0.2 ms)."""

from __future__ import annotations

import sys

MODES = ("auto", "fork", "exec", "forkserver")


def choose(mode: str) -> str:
    if mode not in MODES:
        raise ValueError(f"spawn mode must be one of {', '.join(MODES)}, not {mode!r}")
    if mode == "auto":
        # Threads exist only once `threading` was imported (nothing here uses _thread directly);
        # not importing it ourselves saves ~0.5 ms of every pyrunc create.
        threading = sys.modules.get("threading")
        if threading is None or threading.active_count() == 1:
            return "fork"
        # Other threads: the fork server (~6 ms a container after its first), or where it cannot
        # run, a fresh interpreter each time (~20 ms): forkserver.py.
        from libcontainer_py.init import forkserver

        return "forkserver" if forkserver.usable() else "exec"
    return mode
