"""os.fork() with the child born in another pid namespace: the one fork of create and of exec.

A process cannot move itself into a pid namespace; setns(CLONE_NEWPID) or unshare(CLONE_NEWPID)
change only the calling thread's pid_for_children, the namespace its next child is born in. So the
parent sets it, forks, and sets it back: the child is the container's (its pid 1 for a new
namespace, one more process for a joined one) with one fork of the Python process instead of a
stage 1 that forks again.

While pid_for_children is elsewhere, nothing else this process forks may land there: signals are
blocked (a Python signal handler of the caller could fork) and the cyclic collector is off (a
finalizer could), and both are restored, with pid_for_children, on every path. If setting it back
fails, the child is killed. What still runs in the window is os.fork's own at-fork handlers (the
caller's os.register_at_fork ones included), where bare_fork does not spare them. The child gets
the caller's signal mask back from its own code (`mask`), once it has closed the caller's fds; it
keeps the collector off (it execs soon, and a collection over the copied heap would only fault
pages in).
"""

from __future__ import annotations

import _signal  # type: ignore[import-not-found]  # (no stub) not signal: see _ALL_SIGNALS
import gc
import posix

from libcontainer_py import _sys
from libcontainer_py._sys import consts as c

TYPE_CHECKING = False  # not `typing`: its import costs ~3 ms of every pyrunc call
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

PR_GET_DUMPABLE = 3
PR_SET_DUMPABLE = 4
# _signal's pthread_sigmask, not signal's: that one turns every signal of the old mask into an
# enum member, and restoring after the fork returns all of them (~65): ~0.1 ms in the child.
_ALL_SIGNALS = _signal.valid_signals()
# Every signal but the two that cannot be caught or ignored (process_setup.default_signals too).
CATCHABLE = tuple(sorted(_ALL_SIGNALS - {_signal.SIGKILL, _signal.SIGSTOP}))
CMDLINE = "pyrunc init"  # what the runtime's children show in /proc/PID/cmdline (child_begins)
NEW = "new"  # `pidns`: a new pid namespace (unshare) rather than a path to join (setns)


def fork_in_pidns(
    pidns: str | None,
    *,
    nondumpable: bool = False,
    cgroup_fd: int = -1,
    sibling: bool = False,
    spawn: Callable[[], tuple[int, bool]] | None = None,
) -> tuple[int, Any, bool] | None:
    """fork(); the child is born in `pidns` (a /proc/PID/ns/pid path, NEW, or None: ours).

    Returns (pid, mask, placed) as os.fork returns pid (0 in the child), `mask` being the signal
    mask the child restores with child_begins(), `placed` whether the child was born in the cgroup
    v2 directory `cgroup_fd` (bare_fork; else it is to be moved in as before); or None when this
    caller's state could not be put back (a pid_for_children without a process in it yet cannot
    be opened; PR_GET_DUMPABLE 2, which prctl cannot set) and nothing was forked: the caller then
    takes its two stages.
    `nondumpable`: the child is non-dumpable from its first instruction (the dumpable flag is cleared
    across the fork, which copies it): for a child born among the container's processes, which
    could otherwise open its /proc/PID/exe and fd/ before it closed the caller's fds.
    `sibling`: the child is our parent's (clone3 CLONE_PARENT: the fork server's children,
    init/forkserver.py), not ours.
    `spawn`: what starts the child instead of a fork, (pid, placed) as bare_fork returns them, a
    pid of -1 for none: exec's child that never returns to Python (init/vspawn.py), which needs
    the same window."""
    dumpable = _sys.prctl(PR_GET_DUMPABLE) if nondumpable else 0
    if dumpable not in (0, 1):
        return None
    own = target = -1
    if pidns is not None:
        # thread-self: the vfork child (vspawn.py) may be started from any thread of a caller, and
        # pid_for_children is the calling thread's (/proc/self is the main thread's)
        try:  # a pid_for_children without a process yet (unshare without fork) cannot be opened
            own = posix.open("/proc/thread-self/ns/pid_for_children", posix.O_RDONLY | posix.O_CLOEXEC)
        except OSError:
            return None
        if pidns != NEW:
            from libcontainer_py.namespaces import open_namespace

            try:
                target = open_namespace("pid", pidns)
            except BaseException:
                posix.close(own)
                raise
    mask = _signal.pthread_sigmask(_signal.SIG_BLOCK, _ALL_SIGNALS)
    _handle_pending()  # (before bare_fork: none may be left for the child to handle too)
    collecting = gc.isenabled()
    gc.disable()
    pid = -1
    placed = False
    try:
        if dumpable:
            _sys.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)
        try:
            if target >= 0:
                _sys.setns(target, c.CLONE_NEWPID)
            elif own >= 0:
                _sys.unshare(c.CLONE_NEWPID)
            try:
                if spawn is not None:
                    pid, placed = spawn()
                else:
                    pid, placed = _sibling(cgroup_fd) if sibling else bare_fork(cgroup_fd)
            finally:
                if pid != 0 and own >= 0:
                    _sys.setns(own, c.CLONE_NEWPID)
        finally:
            if pid != 0 and dumpable:
                _sys.prctl(PR_SET_DUMPABLE, 1, 0, 0, 0)
    except BaseException:
        if pid > 0:  # the restore failed: the child must not run on
            posix.kill(pid, _signal.SIGKILL)
            if not sibling:  # (a sibling is our parent's to wait for)
                posix.waitpid(pid, 0)
        raise
    finally:
        if pid != 0:
            if collecting:
                gc.enable()
            _signal.pthread_sigmask(_signal.SIG_SETMASK, mask)
        # The child's copies too: it closes the caller's fds later, these are closed now.
        for fd in (own, target):
            if fd >= 0:
                posix.close(fd)
    return pid, mask, placed


def bare_fork(cgroup_fd: int = -1) -> tuple[int, bool]:
    """os.fork(), without Python's own work around it when this process has one thread.

    os.fork() wraps fork(3) in PyOS_BeforeFork and PyOS_AfterFork_Child: the import lock taken and
    given back; in the child, the interpreter's locks and the GIL made anew, other threads' states
    dropped, pending signal flags cleared, and every hook of os.register_at_fork run: `threading`'s
    (it rebuilds its table of threads and their locks), `random`'s (a reseed from the kernel),
    `logging`'s... In the child each first write to a page it shares with the caller copies that
    page (~2 us a page on this VM), and that work writes to hundreds: a child forked from a caller
    that had imported the pydantic models (and with them `threading`) took 238 page faults before
    its first line of Python and started 0.84 ms after the fork; forked here, 40 faults and
    0.44 ms (a lean caller: 108 and 0.37 ms against 38 and 0.24). docs/performance.md,
    "Copy-on-write".

    All of that work is for other threads: a lock one of them held at the fork would stay held in
    the child. Here there are none. The kernel counts this process's threads (/proc/self/task has
    two links more than threads), those that `threading` does not know of too (a C library's); the
    GIL, which cffi lets go of around the call, and the interpreter's locks have no other taker,
    and the child's one thread is the same thread (its ident, its locks' owner) as ours. The hooks
    are for a child that goes on running the caller's code; this one runs only the runtime's and
    ends in execve or _exit (spawn.py, setns.py). Signals: the caller blocks all of them
    and runs the Python handlers of those already arrived (_handle_pending) first, so that no
    pending flag is copied for the child to handle again, as PyOS_AfterFork_Child would have
    cleared it. With more than one thread, or without /proc, it is os.fork(). The one fork of create
    and of exec takes this way, and stage 1 of a two-stage create (a user namespace) on cgroup v2,
    to be born in its cgroup (below); on v1, stage 1 and the init it forks measured the same with
    it, and stay on os.fork().

    With `cgroup_fd` (a cgroup v2 directory), the child is born in that cgroup (clone3 with
    CLONE_INTO_CGROUP, `placed` True): a move through cgroup.procs afterwards waits for an RCU
    grace period after an idle moment, 10 ms of a library `run()` of `true` here (on a pure v2
    layout, after 30 ms of idle; 0.1 ms back to back), as crun does it. clone3 has no glibc
    wrapper, so glibc's own fork work is skipped too, and glibc's cached thread id in the child
    stays ours: only pthread calls that read it (raise(), pthread_kill(), the recursive and
    robust mutexes) would be wrong, and the runtime's child makes none (Python's locks are plain
    ones; its fork and subprocess go through glibc, which sets their children's right). A kernel
    without it (before 5.7) refuses the call: then fork(), and the caller moves the child in."""
    try:
        alone = posix.stat("/proc/self/task").st_nlink == 3
    except OSError:
        alone = False
    if not alone:
        return posix.fork(), False
    if cgroup_fd >= 0:
        try:
            return _sys.clone_into_cgroup(cgroup_fd), True
        except OSError:  # (SyscallError) nothing was forked
            pass
    return _sys.fork(), False


def _sibling(cgroup_fd: int) -> tuple[int, bool]:
    """The fork server's fork (it has one thread): born in the cgroup v2 directory `cgroup_fd`
    when the kernel can, else where we are (the caller then moves it in, as after os.fork)."""
    if cgroup_fd >= 0:
        try:
            return _sys.clone_sibling(cgroup_fd), True
        except OSError:  # (SyscallError) nothing was forked
            pass
    return _sys.clone_sibling(-1), False


def _handle_pending() -> None:
    """Nothing: entering a Python function is where the interpreter runs the handlers of signals
    that have arrived (its eval breaker), and with every signal blocked no other can arrive."""


def child_begins(mask: Any) -> None:
    """In the child, first (after fork_in_pidns every signal is still blocked): the caller's Python
    signal handlers dropped, the command line named, then the caller's signal mask back (`mask`;
    None after an os.fork(), which blocked none) for the runtime's own steps (right before execve,
    process_setup.default_signals clears it: the program starts with none blocked).

    Handlers: a handler of the caller's is the caller's code: in the child it would run in the
    container's init, in its namespaces. A library caller's SIGTERM handler (a service's graceful
    stop) made a created container's init survive `kill(SIGTERM)`; pyrunc's own (cli/_signals.py)
    would have done the same to `pyrunc kill` of a created container; an asyncio caller's wakeup
    fd is a number that the child closes and may reuse for the sync socket. So every signal with a
    Python handler gets the default action (the created init then sets its own: child.py
    _die_of_signals), and no wakeup fd.

    Command line: "pyrunc init", as runc's init shows "runc init". It was the caller's: for pyrunc,
    `python -SP .../pyrunc --root ... create --bundle ... ID`, which `ps` in the container showed
    (the host's paths) and which made a created container look, on the host, like a create still
    at work. The init forked from stage 1 inherits it."""
    # ValueError: not the interpreter's main thread, where neither can be set (os.fork() makes
    # the forking thread the child's main thread, and bare_fork runs only from a single-threaded
    # caller's main thread: not expected)
    try:
        _signal.set_wakeup_fd(-1)
        for signum in CATCHABLE:
            if callable(_signal.getsignal(signum)):
                _signal.signal(signum, _signal.SIG_DFL)
    except ValueError:
        pass
    try:  # noqa: SIM105
        _sys.set_cmdline(CMDLINE)
    except OSError:  # no /proc: the caller's command line stays, nothing else depends on it
        pass
    if mask is not None:
        _signal.pthread_sigmask(_signal.SIG_SETMASK, mask)
