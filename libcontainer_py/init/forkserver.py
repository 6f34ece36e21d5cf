"""The fork server: the third way to bring a container's first child to life (spawn mode
"forkserver"; spawn.py has the other two).

A caller with threads (a Jupyter kernel, an asyncio service) cannot fork safely: a lock another
thread holds at that moment stays held in the child. Mode "exec" starts a fresh interpreter for
every container instead, and pays its start and the init's imports each time (~20 ms against ~6
forked). The fork server pays them once: a fresh interpreter, `python -I -m
libcontainer_py.init.forkserver FD`, started on the first request, single-threaded, with the
init's modules imported, that forks the child of each create and exec on request. Its child is
a copy of a small process (~10 MB, the init's code only), not of the caller: cheaper to fork and
to copy on write than a caller with the pydantic models loaded.

    caller (create/exec)                      fork server                        child
      | "fork": targets, single, mask,           |                                  |
      |   fds (SCM_RIGHTS): the sync socket,     |                                  |
      |   stdio, the fifo, --preserve-fds,       |                                  |
      |   the config (a memfd), the cgroup ----->| decode the config                |
      |                                          | [unshare/setns pid_for_children] |
      |                                          | clone3(CLONE_PARENT [| INTO_CGROUP])
      |                                          |--------------------------------->| fds to the caller's
      |<-------------- "forked": pid, placed ----| close the fds                    | numbers, its mask;
      | (the child is OUR child: waitpid,        |                                  | then as a forked
      |  SIGCHLD, its exit status)               |                                  | child (spawn.py)
      |<=================== the sync protocol (sync.py) with the child ============>|

CLONE_PARENT makes the child the caller's, not the server's: the caller waits for it, gets its
exit status and its SIGCHLD, exactly as if it had forked it. Its fds are put at the numbers they
have in the caller, so the child runs the same code as a forked one (child.single_init, stage1,
setns._one_child, setns.exec_stage1).

What a child inherits from its parent that config.json does not set (its namespaces, cgroup,
rlimits, umask, capabilities, affinity, oom_score_adj, LSM label...) it gets from the server, a
copy of the caller as it was when the server started. So every request carries the caller's
fingerprint of those (a few /proc reads, ~0.1-0.3 ms) and a caller that has changed since gets a
new server. Its cwd and signal mask travel with the request, and the child takes them. The
server ends when the caller closes its end (stop(), the caller's exit) or its parent is gone;
stop() also waits for it.
"""

from __future__ import annotations

import _signal  # type: ignore[import-not-found]  # (no stub) not signal: see pidfork.py
import _socket
import _thread
import os
import select
import sys

from libcontainer_py import _json
from libcontainer_py.errors import LibcontainerError
from libcontainer_py.init import sync

TYPE_CHECKING = False  # not `typing`: its import costs ~3 ms of every pyrunc call
if TYPE_CHECKING:
    from typing import Any

    from libcontainer_py.init.spawn import AnyConfig

START_TIMEOUT = 60.0
# What a child inherits that its config may leave alone, read by the caller's thread and by the
# server (one thread): equal, or the server is a copy of another caller (see the docstring).
_NAMESPACES = ("mnt", "net", "pid_for_children", "user", "uts", "ipc", "cgroup", "time_for_children")
_STATUS = ("Umask", "Uid", "Gid", "Groups", "SigIgn", "NoNewPrivs", "Seccomp", "CapInh", "CapPrm", "CapEff",
           "CapBnd", "CapAmb", "Cpus_allowed_list", "Mems_allowed_list")  # fmt: skip


class ForkServerError(LibcontainerError):
    pass


def fingerprint() -> list[Any]:
    """This thread's inheritable state, as the kernel shows it."""
    out: list[Any] = []
    for name in _NAMESPACES:
        try:
            out.append(os.stat(f"/proc/thread-self/ns/{name}").st_ino)
        except OSError:
            out.append(0)
    for path in ("/proc/thread-self/status", "/proc/self/limits", "/proc/self/cgroup",
                 "/proc/self/oom_score_adj", "/proc/thread-self/attr/current"):  # fmt: skip
        try:
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        except OSError:
            out.append(None)
            continue
        try:
            text = os.read(fd, 65536).decode(errors="replace")
        except OSError:
            text = None
        finally:
            os.close(fd)
        if text is not None and path.endswith("status"):
            text = "\n".join(line for line in text.splitlines() if line.split(":", 1)[0] in _STATUS)
        out.append(text)
    return out


# -- the caller's side ----------------------------------------------------------------------------


class _Server:
    def __init__(self) -> None:
        import subprocess  # (a threaded caller, or one that asked for this mode: ~2 ms once)

        ours, theirs = sync.socketpair()
        try:
            self.proc = subprocess.Popen(
                [sys.executable, "-I", "-m", "libcontainer_py.init.forkserver", str(theirs.fileno())],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                pass_fds=[theirs.fileno()],
                close_fds=True,
            )
        except BaseException:
            ours.close()
            raise
        finally:
            theirs.close()
        self.sock = ours
        self.owner = os.getpid()
        try:
            msg = sync.recv(ours, START_TIMEOUT)
            if msg is None or msg.get("type") != "ready":
                raise ForkServerError(f"the fork server did not start: {msg.get('message') if msg else 'it exited'}")
        except BaseException:
            self.stop()
            raise
        self.fingerprint = msg["fingerprint"]
        # The server's first clone3(CLONE_PARENT), made at its start to learn that it can (not
        # before Linux 5.3; a seccomp profile may refuse clone3, as Docker's did): a child of ours
        # that exited at once.
        try:  # noqa: SIM105  (not contextlib: ~3 ms to import)
            os.waitpid(int(msg["trial"]), 0)
        except ChildProcessError:  # reaped already by a waitpid(-1) of the caller's (an asyncio watcher)
            pass

    def stop(self) -> None:
        self.sock.close()
        if self.owner != os.getpid():
            return  # a forked copy of the caller: the server is the caller's, not ours
        try:
            self.proc.wait(timeout=5)
        except Exception:
            self.proc.kill()
            self.proc.wait()


_lock = _thread.allocate_lock()
_server: _Server | None = None
_broken: str | None = None  # why this process cannot have a fork server (usable())


def _after_fork_in_child() -> None:
    """A fork of the caller: another thread may have held the lock, and the server is the
    parent's (the child's first request starts its own: _current)."""
    global _lock
    _lock = _thread.allocate_lock()


os.register_at_fork(after_in_child=_after_fork_in_child)


def usable() -> bool:
    """Whether this process has, or can start, a fork server: what mode "auto" asks for a caller
    with threads (mode.py), which takes "exec" instead when it cannot. Starts the server."""
    global _broken
    with _lock:
        if _broken is not None:
            return False
        if _server is not None and _server.owner == os.getpid():
            return True
        try:
            _current(fingerprint())
        except (LibcontainerError, OSError) as exc:  # (it did not start, or timed out, or no interpreter)
            _broken = str(exc) or type(exc).__name__
            return False
        return True


def stop() -> None:
    """End this process's fork server, if it has one (and wait for it). The next request starts a
    new one. Tests call it, so that no process of theirs outlives them."""
    global _server
    with _lock:
        if _server is not None:
            server, _server = _server, None
            server.stop()


def _current(mine: list[Any]) -> _Server:
    global _server
    server = _server
    stale = server is not None and (
        server.owner != os.getpid() or server.proc.poll() is not None or server.fingerprint != mine
    )
    if server is not None and stale:
        _server = None
        server.stop()
        server = None
    if server is None:
        if not _started_before:
            import atexit

            atexit.register(stop)
            _started_before.append(True)
        server = _server = _Server()
    return server


_started_before: list[bool] = []


def spawn_child(
    cfg: AnyConfig,
    child_sock: _socket.socket,
    stdio: tuple[int | None, ...],
    *,
    single: bool,
    cgroup_fd: int = -1,
) -> tuple[int, bool]:
    """Have the fork server fork the first child of a create (an InitConfig) or an exec (an
    ExecConfig) for us: (its pid, whether it was born in the cgroup v2 directory `cgroup_fd`).
    `single`: the init itself (child.single_stage) or exec's one child, born in the container's pid
    namespace; else stage 1 (child.stage1, setns.exec_stage1). The child is ours (CLONE_PARENT)."""
    from libcontainer_py.init.child import InitConfig
    from libcontainer_py.init.spawn import encode

    targets: list[tuple[int, bool]] = [(child_sock.fileno(), False)]
    fds = [child_sock.fileno()]
    for target, fd in enumerate(stdio):
        fd = target if fd is None else fd  # (ours are open: container._ensure_stdio)
        fds.append(fd)  # (one that is not open: sendmsg refuses, EBADF, as dup2 would in a fork)
        targets.append((target, True))
    if isinstance(cfg, InitConfig) and cfg.exec_fifo_fd >= 0:
        fds.append(cfg.exec_fifo_fd)
        targets.append((cfg.exec_fifo_fd, False))
    for fd in range(3, 3 + cfg.preserve_fds):
        fds.append(fd)
        targets.append((fd, True))
    cfg_fd = os.memfd_create("pyrunc-init-config", os.MFD_CLOEXEC)
    try:
        os.write(cfg_fd, _json.dumps(encode(cfg)).encode())
        extra = [cfg_fd] + ([cgroup_fd] if cgroup_fd >= 0 else [])
        mask = sorted(int(s) for s in _signal.pthread_sigmask(_signal.SIG_BLOCK, []))
        try:
            cwd: str | None = os.getcwd()  # (the child's, as a forked one would have it)
        except OSError:
            cwd = None
        with _lock:
            server = _current(fingerprint())
            sync.send(
                server.sock, "fork", fds=fds + extra, targets=targets, single=single, mask=mask,
                cgroup=cgroup_fd >= 0, cwd=cwd,
            )  # fmt: skip
            msg = sync.recv(server.sock, START_TIMEOUT)
    finally:
        os.close(cfg_fd)
    if msg is None:
        raise ForkServerError("the fork server exited without forking the container's child")
    if msg["type"] == "error":
        raise ForkServerError(f"the fork server could not fork the container's child: {msg.get('message')}")
    return int(msg["pid"]), bool(msg["placed"])


# -- the server's side ----------------------------------------------------------------------------


def _preload() -> None:
    """Everything a child may need, imported once, so that no child pays for it after the fork.
    Not the only guard: the children run the same preload as forked ones (child.preload, before
    pivot_root or the setns of a mount namespace, after which nothing can be imported from the
    host), which finds these imported already."""
    import subprocess  # noqa: F401  (hooks that the init runs)

    import libcontainer_py._sys.describe
    import libcontainer_py.cgroups
    import libcontainer_py.cgroups._join
    import libcontainer_py.cgroups.base
    import libcontainer_py.hooks
    import libcontainer_py.init.child
    import libcontainer_py.init.process_setup
    import libcontainer_py.init.setns
    import libcontainer_py.init.spawn
    import libcontainer_py.procfs
    import libcontainer_py.rootfs
    import libcontainer_py.seccomp.load
    import libcontainer_py.tty  # noqa: F401
    from libcontainer_py.mountinfo import cgroup_mounts

    cgroup_mounts()


def _fork(msg: dict[str, Any], fds: list[int]) -> tuple[int, bool]:
    from libcontainer_py.init import pidfork
    from libcontainer_py.init.child import InitConfig
    from libcontainer_py.init.spawn import decode

    targets = [(int(t), bool(inheritable)) for t, inheritable in msg["targets"]]
    n = len(targets)
    cfg_fd = fds[n]
    cgroup_fd = fds[n + 1] if msg.get("cgroup") else -1
    chunks: list[bytes] = []
    offset = 0
    while block := os.pread(cfg_fd, 1 << 20, offset):
        chunks.append(block)
        offset += len(block)
    cfg = decode(_json.loads(b"".join(chunks).decode()))
    single = bool(msg.get("single"))
    pidns: str | None = None  # stage 1 (not single) is born in ours: it enters the container's itself
    if single and isinstance(cfg, InitConfig):
        pidns = pidfork.NEW if cfg.ns.new_pid else None
    elif single and not isinstance(cfg, InitConfig):
        pidns = next((path for t, path in cfg.join if t == "pid"), None)
    forked = pidfork.fork_in_pidns(
        pidns, nondumpable=single and not isinstance(cfg, InitConfig), cgroup_fd=cgroup_fd, sibling=True
    )
    if forked is None:
        raise ForkServerError("could not set this process's pid namespace for children back")
    pid, _mask, placed = forked
    if pid == 0:  # pragma: no cover - the child
        _child(cfg, msg, fds[:n], targets, single, placed)
        os._exit(1)  # (never reached: the child ends in execve or _exit, and never serves)
    return pid, placed


def _child(cfg: AnyConfig, msg: dict[str, Any], fds: list[int], targets: list[tuple[int, bool]], single: bool,
           placed: bool) -> None:  # fmt: skip
    """The child, first: the caller's fds at the caller's numbers, its signal mask; then what a
    child forked by the caller would run."""
    import fcntl

    from libcontainer_py.init.child import InitConfig, single_init, stage1
    from libcontainer_py.init.pidfork import child_begins

    try:
        # Out of the way of every target first: a received fd may sit on another's number.
        high = max([fd for fd, _ in targets] + fds) + 1
        moved = [fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, high) for fd in fds]
        for fd, (target, inheritable) in zip(moved, targets, strict=True):
            os.dup2(fd, target, inheritable=inheritable)
        sock = _socket.socket(fileno=targets[0][0])
        mask = set(msg.get("mask") or ())
        if msg.get("cwd"):
            try:  # noqa: SIM105  (not contextlib: ~3 ms to import)
                os.chdir(msg["cwd"])  # the caller's now (hooks the init runs start there)
            except OSError:
                pass
        # (every other fd of ours, the server's socket among them, is closed by the child's first
        # steps: child._enter, setns._one_child, exec_stage1)
    except BaseException:
        os._exit(1)
    if isinstance(cfg, InitConfig):
        child_begins(mask)
        if single:
            single_init(cfg, sock)
        stage1(cfg, sock)
    from libcontainer_py.init.setns import _one_child, exec_stage1

    if single:
        _one_child(cfg, sock, (None, None, None), None, mask, placed)  # (it runs child_begins)
    child_begins(mask)
    exec_stage1(cfg, sock)


def _ignore(_signum: int, _frame: Any) -> None:
    """A Ctrl-C at the caller's terminal reaches the server too (one process group): it goes on.
    Caught, not ignored: an ignored signal stays ignored in the children (their hooks, say), and
    the server's ignored signals must be the caller's (its fingerprint's SigIgn)."""


def serve(fd: int) -> None:
    sock = _socket.socket(fileno=fd)
    parent = os.getppid()
    # Unless the caller ignores it already (a background job of a shell without job control): the
    # server inherited that, and a handler here would make its SigIgn differ from the caller's, so
    # that every request found a "changed caller" and started a server of its own (~130 ms each).
    if _signal.getsignal(_signal.SIGINT) != _signal.SIG_IGN:
        _signal.signal(_signal.SIGINT, _ignore)
    try:
        _preload()
    except BaseException as exc:
        sync.send(sock, "error", message=f"cannot import the init's modules: {exc}")
        return
    from libcontainer_py import _sys

    try:
        trial = _sys.clone_sibling(-1)
    except OSError as exc:
        sync.send(sock, "error", message=f"clone3 with CLONE_PARENT refused: {exc}")
        return
    if trial == 0:  # pragma: no cover - the trial child
        os._exit(0)
    sync.send(sock, "ready", fingerprint=fingerprint(), trial=trial)
    while True:
        ready, _, _ = select.select([sock], [], [], 1.0)
        if not ready:
            if os.getppid() != parent:  # the caller is gone (and its end with it, unless a child kept it)
                return
            continue
        msg = sync.recv(sock)
        if msg is None:
            return
        fds = msg.pop("fds", [])
        try:
            pid, placed = _fork(msg, fds)
        except BaseException as exc:  # report, never die of one request
            sync.send(sock, "error", message=str(exc) or type(exc).__name__)
            continue
        finally:
            for received in fds:
                os.close(received)
        sync.send(sock, "forked", pid=pid, placed=placed)


def main() -> None:
    try:
        serve(int(sys.argv[1]))
    except BaseException as exc:  # one line on the caller's stderr, never a traceback
        os.write(2, f"pyrunc fork server: {exc or type(exc).__name__}\n".encode(errors="replace"))
        os._exit(1)


if __name__ == "__main__":
    main()
