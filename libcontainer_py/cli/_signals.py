"""The signals pyrunc catches from the start of `create`, `run` and `exec`, and passes on to the
container's process once there is one, as runc does.

Why from the start: a signal whose default action ends pyrunc (SIGTERM, SIGHUP, SIGINT from a
supervisor, a terminal that closes) arriving while it made the container killed it half-way, and
a half-made container was left behind: its state directory, its cgroups, an init. runc sets up
its handler for every signal before it creates anything, so none of them ends it half-way (tried:
SIGTERM from a createRuntime hook, runc 1.1.5). pyrunc keeps the signals it forwards that arrive
before the process runs and passes them on once it does (a foreground `run` or `exec`), or drops
them when it does not stay (`create`, `--detach`). The container's own processes never see these
handlers: the child of a fork drops the caller's Python handlers (init/pidfork.py child_begins)
and execve resets the rest.
"""

import _signal  # type: ignore[import-not-found]  # (no stub) not signal: its three IntEnums cost ~0.4 ms of every run and exec
import posix

# What a foreground run or exec passes on to the container's process (as runc does).
FORWARDED = (
    _signal.SIGINT,
    _signal.SIGTERM,
    _signal.SIGHUP,
    _signal.SIGQUIT,
    _signal.SIGUSR1,
    _signal.SIGUSR2,
    _signal.SIGWINCH,
)


class Relay:
    """Catch FORWARDED from now on. Until `target(pid)` the signals are kept; from then on each
    goes to that process (the kept ones first); `target(None)` (the process has been reaped: its
    pid may be another's) keeps them again. `close()` puts the handlers pyrunc had back."""

    def __init__(self) -> None:
        self.pid: int | None = None
        self.pending: list[int] = []
        self._old = [(sig, _signal.signal(sig, self._handle)) for sig in FORWARDED]

    def _handle(self, signum: int, _frame: object) -> None:
        if self.pid is None:
            self.pending.append(signum)
            return
        try:  # noqa: SIM105  (not contextlib: its import costs ~3 ms of every pyrunc call)
            posix.kill(self.pid, signum)
        except ProcessLookupError:
            pass

    def target(self, pid: int | None) -> None:
        self.pid = pid
        if pid is None:
            return
        pending, self.pending = self.pending, []
        for signum in pending:
            self._handle(signum, None)

    def close(self) -> None:
        for sig, old in self._old:
            _signal.signal(sig, old if old is not None else _signal.SIG_DFL)  # None: set outside Python
