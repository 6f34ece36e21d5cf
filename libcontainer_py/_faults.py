"""Named checkpoints where tests stop the runtime, to attack it or kill it at that exact step.

With LIBCONTAINER_PY_STOP_AT=<name> in the environment, the process that reaches checkpoint
<name> stops itself with SIGSTOP; the test then does what it wants (open /proc/PID/exe from the
container, SIGKILL the runtime...) and sends SIGCONT or SIGKILL. Unset, a checkpoint costs one
dict lookup. Names are listed in CHECKPOINTS so a test cannot wait on a misspelt one forever.
"""

from __future__ import annotations

import _signal  # type: ignore[import-not-found]  # (no stub) not signal: its enums, ~0.4 ms of every create
import posix
import time

from libcontainer_py._paths import getenv

ENV = "LIBCONTAINER_PY_STOP_AT"
CHECKPOINTS = frozenset({
    # create, the parent (_create.py), in order
    "create:state-dir",  # the state dir, exec fifo and a "creating" state.json exist; nothing runs
    "create:stage1-spawned",  # the first child forked (stage 1, or the init itself) or started, not in the cgroup
    "create:limits-pending",  # the child told to join the cgroup, no limit written yet: the init waits to mount
    "create:cgroup-applied",  # the cgroup exists, limits set, the state names it; the child told to join (v1) or in it
    "create:init-pid",  # the init exists (in its namespaces, setting up) and the state names it
    "create:hooks-done",  # prestart/createRuntime hooks ran; the init waits before pivot_root
    "create:ready",  # the init is set up and waits for "run"; pids limit set
    "create:before-created",  # the init waits on the exec fifo (create without start); state.json still says "creating"
    # the children
    # create's stage 2 (the init), in the container's pid namespace, before its setup. Only when it
    # JOINS a pid namespace: as pid 1 of a new one it cannot stop itself (the kernel drops SIGSTOP
    # sent to a namespace's init from inside it), and the checkpoint does nothing.
    "init:started",
    # exec's one child, just born in the container's pid namespace: the caller's fds still open,
    # no namespace joined (init/setns.py spawn_one; not reached with the two stages, spawn "exec")
    "exec:born",
    "exec:joined",  # exec's child (or stage 2), in the container's namespaces, before its setup and execve
    # start, exec, delete (container.py, _exec.py)
    "start:fifo-opened",  # start opened the exec fifo: the init is released, start has not read yet
    "start:before-poststart",  # the program runs; the poststart hooks have not
    "exec:pid-known",  # exec's parent knows the new process's pid; it has not waited for execve
    "delete:killed",  # delete killed the container's processes and waited for the init
    "delete:cgroup-destroyed",  # the cgroup is gone; the state dir is not
    "delete:before-remove",  # just before the state dir is removed (and the poststop hooks)
})  # fmt: skip


def checkpoint(name: str) -> None:
    if getenv(ENV) != name:
        return
    # A stopped process whose process group becomes orphaned (the init, when stage 1 exits) gets
    # SIGHUP and SIGCONT from the kernel: that SIGHUP must not kill it, and that SIGCONT is not the
    # test's, so it stops again. A SIGCONT without a SIGHUP is the test's: go on.
    hup: list[int] = []
    try:
        old = _signal.signal(_signal.SIGHUP, lambda signum, _frame: hup.append(signum))
    except ValueError:  # not the main thread: no handler, plain stop
        posix.kill(posix.getpid(), _signal.SIGSTOP)
        return
    try:
        while True:
            hup.clear()
            posix.kill(posix.getpid(), _signal.SIGSTOP)
            time.sleep(0.01)  # let a pending SIGHUP's handler run
            if not hup:
                break
    finally:
        _signal.signal(_signal.SIGHUP, old)
