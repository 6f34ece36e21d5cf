"""Named checkpoints where tests stop the runtime, to attack it or kill it at that exact step.

With LIBCONTAINER_PY_STOP_AT=<name> in the environment, the process that reaches checkpoint
<name> stops itself with SIGSTOP; the test then does what it wants (open /proc/PID/exe from the
container, SIGKILL the runtime...) and sends SIGCONT or SIGKILL. Unset, a checkpoint costs one
dict lookup. Names are listed in CHECKPOINTS so a test cannot wait on a misspelt one forever.
"""

from __future__ import annotations

import os
import signal

ENV = "LIBCONTAINER_PY_STOP_AT"
CHECKPOINTS = frozenset({
    "exec:joined",  # exec's stage 2, in the container's namespaces, before its setup and execve
    "create:cgroup-applied",  # create's parent: stage 1 is in the cgroup, limits set, state saved
})  # fmt: skip


def checkpoint(name: str) -> None:
    if os.environ.get(ENV) == name:
        os.kill(os.getpid(), signal.SIGSTOP)
