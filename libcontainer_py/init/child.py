"""The two child stages of `create` (see sync.py for the ladder diagram).

They run in processes forked from the runtime. What only they use (the rootfs, the process setup,
the capabilities...) is imported by preload: in pyrunc by the child itself, while the parent makes
the cgroup (on two CPUs instead of one after the other); in a library caller by the caller, once,
before its first fork (_create.CHILD_IMPORTS), and the child finds it imported. After pivot_root (or setns of a
mount namespace, or in a user namespace) nothing more is imported: the host's files, the Python
standard library among them, are gone or seen with other eyes. Each stage names itself (PR_SET_NAME) so `ps` shows where
a container hung.
"""

from __future__ import annotations

import _signal  # type: ignore[import-not-found]  # (no stub) not signal: its enums
import _socket
import errno
import os
import sys

from libcontainer_py import _sys
from libcontainer_py._faults import checkpoint
from libcontainer_py._record import Record, field
from libcontainer_py._sys import consts as c
from libcontainer_py.errors import ConfigError, LibcontainerError
from libcontainer_py.init.fds import close_inherited_fds
from libcontainer_py.init.finish import load_seccomp, setup_console
from libcontainer_py.init.seal import seal
from libcontainer_py.init.sync import Stage, child_fail, expect, send
from libcontainer_py.namespaces import NAMESPACES, NamespacePlan, open_namespace

TYPE_CHECKING = False  # not `typing`: its import costs ~3 ms of every pyrunc call
if TYPE_CHECKING:
    from typing import Any, NoReturn

PR_SET_PDEATHSIG = 1
PR_SET_DUMPABLE = 4
INIT_NAME = "pyrunc:[2:INIT]"  # state.py INIT_COMM: `created` is told from `running` by it


class InitConfig(Record):
    """Everything the children need, prepared (and validated) by the parent before the fork."""

    spec: Any  # libcontainer_py.spec.Spec
    bundle: str
    rootfs: str
    ns: NamespacePlan
    # O_PATH, opened by the parent: the mapped root may not reach the state dir. -1 for
    # Container.create(start=True), which makes no fifo.
    exec_fifo_fd: int
    no_pivot: bool = False
    preserve_fds: int = 0
    container_id: str = ""
    no_new_keyring: bool = False
    seccomp: Any = None  # libcontainer_py.seccomp.CompiledFilter, compiled by the parent
    hook_state: dict[str, Any] = field(default_factory=dict)  # for createContainer/startContainer
    # The caller's CPU affinity (None: one CPU), taken back by the first child once the parent has
    # moved it off the parent's CPU (spawn.py off_our_cpu).
    cpus: list[int] | None = None
    # Whether the init waits for "run" after "ready" (_create.needs_run_barrier): False only for a
    # create(start=True) with nothing for the parent to do at "ready"; the init then sets its
    # rlimits itself and goes on.
    wait_run: bool = True


def preload(spec: Any) -> None:
    """Import what the init needs after pivot_root (or after joining a mount namespace), where
    nothing can be imported from the host any more: by create before the fork (a library caller)
    and by the first child (stage 2 inherits the modules), where it is a no-op then but in pyrunc;
    by a fresh interpreter's init (spawn.py's exec mode) before stage 1. Only what the config
    uses: most containers have no terminal, seccomp filter or hooks that run in the container."""
    import libcontainer_py._sys.describe  # (SyscallError's texts)
    import libcontainer_py.cgroups._join  # (_join_cgroup: join_self)
    import libcontainer_py.init.process_setup
    import libcontainer_py.procfs  # (_write_sysctls)
    import libcontainer_py.rootfs  # (stage2: prepare_rootfs, finalize_rootfs)
    from libcontainer_py.mountinfo import cgroup_mounts

    cgroup_mounts()  # read here once per process, not by every init (mountinfo.py)
    linux = spec.linux
    if linux is not None and any(ns.type == "mount" and ns.path for ns in linux.namespaces or ()):
        # join_self's error imports its CgroupError when it happens: after a joined mount
        # namespace, the host's files are out of sight by then.
        import libcontainer_py.cgroups.base

    hook_kinds: dict[str, list[Any]] = {}
    if spec.hooks is not None:
        from libcontainer_py.hooks import hooks_by_kind

        hook_kinds = hooks_by_kind(spec.hooks)

    if linux is not None and linux.seccomp is not None:
        import libcontainer_py.seccomp.load  # (load_seccomp: CompiledFilter.load)
    if spec.process is not None and spec.process.terminal:
        import libcontainer_py.tty  # noqa: F401  (setup_console)
    if "createContainer" in hook_kinds or "startContainer" in hook_kinds:
        import subprocess  # noqa: F401  (the init runs these hooks; hooks.py imports it when used)


def _fail(sock: _socket.socket, stage: str, exc: BaseException) -> NoReturn:
    child_fail(sock, stage, exc)
    os._exit(1)


def single_stage(ns: NamespacePlan) -> bool:
    """Whether the init can be the runtime's own child, with no stage 1 (see spawn.py).

    Stage 1 exists for what must happen in a process before the init is born: entering a user
    namespace (new or joined: every namespace the init creates must be owned by it, or its root
    could not mount /proc), joining a pid namespace (setns of a pid namespace applies to children
    only), and a time namespace (its offsets must be written before any process is in it). Without
    those, the parent makes the new pid namespace its children's (unshare(CLONE_NEWPID) changes only
    pid_for_children) and forks the init straight into it: one fork of the Python process instead of
    two, ~1-2 ms and ~500 copy-on-write faults less per container here.
    """
    return not (
        ns.new_user or ns.joins_user or ns.new_flags & c.CLONE_NEWTIME or any(t in ("pid", "time") for t, _ in ns.join)
    )


def _oom_score_adj(cfg: InitConfig, stage: Stage) -> None:
    """process.oomScoreAdj, before any namespace (process_setup.write_oom_score_adj says why)."""
    if cfg.spec.process is not None and cfg.spec.process.oom_score_adj is not None:
        from libcontainer_py.init.process_setup import write_oom_score_adj_first

        write_oom_score_adj_first(cfg.spec.process.oom_score_adj, stage)


def _enter(cfg: InitConfig, sock: _socket.socket, name: str) -> None:
    """What either first child does before anything else: it is still the host's interpreter."""
    # CVE-2019-5736: until execve this is the host's Python interpreter, and the init lives in the
    # container's pid namespace (until start, as its pid 1). Non-dumpable, no process of the
    # container can open its /proc/PID/exe (the interpreter), mem, environ or fd/ (ptrace access
    # checks); the flag passes to the init with the fork and ends at execve. A new user namespace
    # would often clear it anyway (setresuid resets it), a container without one would not: a
    # process exec'd into a created container read /proc/1/exe.
    _sys.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)
    # CVE-2024-21626: nothing of the caller's but what the init needs may enter the container.
    close_inherited_fds([sock.fileno(), cfg.exec_fifo_fd, *range(3, 3 + cfg.preserve_fds)])
    _sys.prctl_set_name(name)
    # Join first, then create (runc's order): joined namespaces are entered with the runtime's
    # own privileges, before a new user namespace would leave us without them. The user
    # namespace is joined first of all, since it decides what we may join next; mount last.
    # Every path is opened up front: after setns(mount) a path may no longer mean the same.
    fds = [(t, open_namespace(t, p)) for t, p in cfg.ns.join]
    for ns_type, fd in fds:
        _sys.setns(fd, NAMESPACES[ns_type][0])
        os.close(fd)
        if ns_type == "mount":  # another mount table: the cached cgroup mounts are not its
            from libcontainer_py.mountinfo import forget_cgroup_mounts  # (preload)

            seal()  # its files are not ours to import (init/seal.py)
            forget_cgroup_mounts()


def _unshare_then_join_cgroup(
    cfg: InitConfig, sock: _socket.socket, flags: int, stage: Stage, *, preload_late: bool = False
) -> None:
    """unshare(flags), then join the container's cgroup, then unshare the cgroup namespace.

    The parent creates the cgroup and applies its limits meanwhile (~1-3 ms of file writes):
    unsharing first lets that overlap our unshare (a new network namespace is ~0.4 ms of kernel
    time, and the first call into the shim in a forked child faults in its pages). We join it
    (v1: ourselves, through the `tasks` files the parent opened; v2: it moves us) before the init
    runs anything of the container's (it is the init, or inherits the cgroup from us) and before
    unshare(CLONE_NEWCGROUP), which roots the namespace at our cgroup."""
    stage.name = "namespaces"
    early = flags & ~c.CLONE_NEWCGROUP
    if early:
        _sys.unshare(early)
    if early & c.CLONE_NEWTIME:
        stage.name = "time offsets"
        _write_time_offsets(cfg.spec)
    if early & c.CLONE_NEWNET:
        # A new network namespace has only a loopback, and it is down: runc brings it up,
        # and programs count on 127.0.0.1 working.
        stage.name = "loopback"
        _loopback_up()
    stage.name = "cgroups"
    send(sock, "cgroup")
    if preload_late:  # while the parent makes the cgroup
        stage.name = "init start"
        preload(cfg.spec)
        stage.name = "cgroups"
    msg = expect(sock, "cgroup-done")
    if cfg.cpus:  # the parent has moved us off its CPU by now (spawn.py off_our_cpu): all back
        try:
            os.sched_setaffinity(0, cfg.cpus)
        except OSError as exc:  # (the caller's cpuset shrank meanwhile, say)
            raise LibcontainerError(f"cannot take the caller's CPUs {cfg.cpus} back: {exc.strerror}") from None
    _join_cgroup(msg)
    if flags & c.CLONE_NEWCGROUP:
        stage.name = "namespaces"
        _sys.unshare(c.CLONE_NEWCGROUP)


def stage1(cfg: InitConfig, sock: _socket.socket) -> NoReturn:
    """Enter the namespaces, then fork the init so that it is born in the new pid namespace."""
    stage = Stage("init start")
    try:
        preload(cfg.spec)  # before any setns or user namespace: the host's files as the runtime sees them
        _oom_score_adj(cfg, stage)
        stage.name = "namespaces"
        _enter(cfg, sock, "pyrunc:[1:CHILD]")
        if cfg.ns.new_user:
            _sys.unshare(c.CLONE_NEWUSER)
            send(sock, "userns")
            expect(sock, "userns-done")
        if cfg.ns.new_user or cfg.ns.joins_user:
            # Become root of the user namespace: the mapped uid 0, with its full capability set.
            os.setresgid(0, 0, 0)
            os.setresuid(0, 0, 0)
        _unshare_then_join_cgroup(cfg, sock, cfg.ns.new_flags & ~c.CLONE_NEWUSER, stage)
        pid = os.fork()
        if pid == 0:
            stage2(cfg, sock)
        send(sock, "pid", pid=pid)
        os._exit(0)
    except BaseException as exc:
        _fail(sock, stage.name, exc)


def single_init(cfg: InitConfig, sock: _socket.socket) -> NoReturn:
    """The init as the runtime's own child (single_stage): born in its pid namespace already.

    It imports what it needs (preload) while the parent makes the cgroup, once it has asked for
    it: the parent's share of create's work (the cgroup's modules, checks, mkdirs and limits) and
    ours (the imports, ~4 ms here, then the unshare) run on two CPUs. Only a joined mount
    namespace makes it import first: the host's files are out of sight after that setns."""
    late = not any(t == "mount" for t, _ in cfg.ns.join)
    stage = Stage("init start")
    try:
        if not late:
            preload(cfg.spec)
        _oom_score_adj(cfg, stage)
        stage.name = "namespaces"
        _enter(cfg, sock, INIT_NAME)
        _unshare_then_join_cgroup(cfg, sock, cfg.ns.new_flags & ~c.CLONE_NEWPID, stage, preload_late=late)
    except BaseException as exc:
        _fail(sock, stage.name, exc)
    stage2(cfg, sock)


def _join_cgroup(msg: dict[str, Any]) -> None:
    """Write "0" to each cgroup file the parent sent (cgroups/_join.py join_self), then close them:
    nothing of the host's may stay open into the init."""
    from libcontainer_py.cgroups._join import join_self  # (preload)

    fds = msg.get("fds") or []
    try:
        for fd, path in zip(fds, msg.get("files") or [], strict=True):
            join_self(fd, path)
    finally:
        for fd in fds:
            os.close(fd)


def _loopback_up() -> None:
    """ip link set lo up, with two ioctls (no pyroute2: it costs ~250 ms to import)."""
    import fcntl

    siocgifflags, siocsifflags, iff_up = 0x8913, 0x8914, 0x1

    def ifreq(flags: int) -> bytes:
        # struct ifreq: the name in 16 bytes, then the union, here ifr_flags (a native short):
        # "16sH14x" in struct's terms, without importing struct (~0.5 ms here).
        return b"lo".ljust(16, b"\0") + flags.to_bytes(2, sys.byteorder) + bytes(14)

    s = _socket.socket(_socket.AF_INET, _socket.SOCK_DGRAM)
    try:
        flags = int.from_bytes(fcntl.ioctl(s.fileno(), siocgifflags, ifreq(0))[16:18], sys.byteorder)
        if not flags & iff_up:
            fcntl.ioctl(s.fileno(), siocsifflags, ifreq(flags | iff_up))
    finally:
        s.close()


def _write_time_offsets(spec: Any) -> None:
    """Offsets must be written after unshare(CLONE_NEWTIME) and before any process enters it."""
    offsets = spec.linux.time_offsets if spec.linux else None
    if not offsets:
        return
    lines = []
    for clock, off in offsets.items():
        if clock not in ("monotonic", "boottime"):
            raise ConfigError(f"unknown clock {clock!r} (monotonic or boottime)", path=f"linux.timeOffsets.{clock}")
        lines.append(f"{clock} {off.secs or 0} {off.nanosecs or 0}\n")
    try:
        with open("/proc/self/timens_offsets", "w") as f:
            f.write("".join(lines))
    except OSError as exc:
        raise ConfigError(f"cannot write time offsets: {exc.strerror}", path="linux.timeOffsets") from None


def stage2(cfg: InitConfig, sock: _socket.socket) -> NoReturn:
    """The container's init: set up the root filesystem and the process, wait for start, exec."""
    from libcontainer_py import rootfs  # (preload)
    from libcontainer_py.init import process_setup as ps  # (preload)

    spec = cfg.spec
    stage = "init"
    try:
        _sys.prctl_set_name(INIT_NAME)
        os.setsid()
        # Tests stop the init here: in the container's pid namespace, still the interpreter.
        checkpoint("init:started")
        # The parent opened the fifo O_PATH (as runc passes _LIBCONTAINER_FIFOFD): in a user
        # namespace our uid may not even search the state directory. It is reopened for writing
        # through /proc/self/fd after pivot_root; opening it for writing now would block.
        fifo_fd = cfg.exec_fifo_fd
        stage = "keyring"
        if not cfg.no_new_keyring:
            _join_session_keyring(cfg.container_id)
        stage = "rootfs"
        if cfg.ns.new_flags & c.CLONE_NEWNS or any(t == "mount" for t, _ in cfg.ns.join):
            rootfs.prepare_rootfs(
                spec,
                cfg.bundle,
                in_userns=cfg.ns.new_user or cfg.ns.joins_user,
                no_pivot=cfg.no_pivot,
                before_mounts=lambda: expect(sock, "limits-done"),  # (_create._set_limits)
                before_pivot=lambda: _creation_hooks(cfg, sock),
                rootfs=cfg.rootfs,
            )
        else:
            raise ConfigError("a mount namespace is required", path="linux.namespaces")
        if spec.process.terminal:
            stage = "console"
            setup_console(spec.process, sock)
        stage = "hostname"
        if spec.hostname:
            _sys.sethostname(spec.hostname)
        if spec.domainname:
            _sys.setdomainname(spec.domainname)
        stage = "sysctl"
        _write_sysctls(spec.linux.sysctl if spec.linux else None)
        stage = "rootfs"
        rootfs.finalize_rootfs(spec)
        send(sock, "ready")
        if cfg.wait_run:
            at_once = bool(expect(sock, "run").get("exec"))  # Container.create(start=True): no fifo
        else:
            # No "run" comes (_create.needs_run_barrier): the parent has nothing to do first.
            # process.rlimits are ours to set then, now as the parent would have at "ready": in
            # the host's user namespace (there is no other), after our own setup.
            stage = "process"
            ps.apply_rlimits(spec.process.rlimits)
            at_once = True
        if not at_once:
            _die_of_signals()

        cell = ps.Stage("process")
        try:
            exe, args, env = ps.finalize_process(
                spec.process,
                cell,
                personality=spec.linux.personality if spec.linux else None,
                seccomp_load=(lambda: load_seccomp(cfg.seccomp, sock)) if cfg.seccomp is not None else None,
            )
        finally:
            stage = cell.name
        # Past this point the parent is told "all set up" by EOF on the sync socket.
        sock.close()
        stage = "exec fifo"
        if not at_once:
            if fifo_fd < 0:
                raise LibcontainerError("told to wait on the exec fifo, but the runtime made none")
            try:
                wfd = os.open(f"/proc/self/fd/{fifo_fd}", os.O_WRONLY | os.O_CLOEXEC)
            except OSError as exc:
                raise LibcontainerError(
                    f"cannot open the exec fifo through /proc/self/fd ({exc.strerror}): "
                    "the container needs /proc mounted"
                ) from None
            os.write(wfd, b"0")
            os.close(wfd)
        if fifo_fd >= 0:
            os.close(fifo_fd)
        if spec.hooks is not None:
            from libcontainer_py import hooks  # (preload)

            start_hooks = hooks.hooks_by_kind(spec.hooks).get("startContainer")
            if start_hooks:  # in the container, after start, just before the program (runtime.md step 7)
                stage = "startContainer hooks"
                hooks.run_hooks_in_container("startContainer", start_hooks, {**cfg.hook_state, "status": "created"})
        ps.close_fds_from(3 + cfg.preserve_fds)
        ps.default_signals()
        os.execve(exe, args, env)
    except BaseException as exc:
        if sock.fileno() >= 0:
            _fail(sock, stage, exc)
        # After the parent has gone (exec failed after start): the container's stderr is all we have.
        os.write(2, f"pyrunc init: {stage}: {exc}\n".encode(errors="replace"))
        os._exit(127 if isinstance(exc, FileNotFoundError) else 126)


# The signals that end runc's created init (measured: runc 1.1.5 `kill` of a created container with
# each signal; a Go program exits on these when it does not catch them itself, and ignores USR1,
# USR2, ALRM, PIPE, the real-time ones...). SIGSYS too: a filter's SECCOMP_RET_TRAP, as in runc.
_TERMINATING = (
    _signal.SIGHUP, _signal.SIGINT, _signal.SIGQUIT, _signal.SIGABRT, _signal.SIGTERM, _signal.SIGSTKFLT,
    _signal.SIGSYS,
)  # fmt: skip


def _die_of(signum: int, _frame: object) -> None:
    os._exit(128 + signum)


def _die_of_signals() -> None:
    """From before its process setup until execve, in an init that will wait for `start` (a
    created container): the signals that end runc's init end it, with status 128+signal (runc's
    exits with 2). The init is pid 1 of its pid namespace, and the kernel drops a signal sent to
    such a process from outside its namespace unless it has a handler for it (only SIGKILL and
    SIGSTOP always arrive): without these, `pyrunc kill ID` (SIGTERM) of a created container did
    nothing, where runc's ends it, and a client's stop waited for its SIGKILL. Installed before
    the seccomp filter is loaded (a profile may refuse rt_sigaction). execve resets them: the
    program starts with the default actions."""
    for signum in _TERMINATING:
        _signal.signal(signum, _die_of)


def _creation_hooks(cfg: InitConfig, sock: _socket.socket) -> None:
    """Mounts made, pivot_root not yet (runtime.md steps 3-5): the parent runs prestart and
    createRuntime in the runtime namespace, then we run createContainer in the container's."""
    if cfg.spec.hooks is None:
        return
    from libcontainer_py import hooks  # (preload)

    by_kind = hooks.hooks_by_kind(cfg.spec.hooks)
    if by_kind.get("prestart") or by_kind.get("createRuntime"):
        send(sock, "hooks")
        expect(sock, "hooks-done")
    if by_kind.get("createContainer"):
        hooks.run_hooks_in_container("createContainer", by_kind["createContainer"], cfg.hook_state)


def _join_session_keyring(container_id: str) -> None:
    """A new session keyring named "_ses.<id>", as runc makes: without it the container's
    processes would share the session keyring of whoever ran the runtime (a login's, with its
    keys: kerberos tickets, ecryptfs keys...). Done first, while still root of the namespaces.
    runc also widens the keyring's permissions (search for the container's uid, or "other" in a
    user namespace) with keyctl_setperm, which the _sys shim does not wrap yet.
    ENOSYS (no keyrings in this kernel) is ignored, as runc does: the feature is best effort."""
    try:
        _sys.keyctl_join_session_keyring(f"_ses.{container_id}" if container_id else None)
    except OSError as exc:
        if exc.errno != errno.ENOSYS:
            raise LibcontainerError(f"cannot join a new session keyring: {exc.strerror or exc}") from None


def _write_sysctls(sysctl: dict[str, str] | None) -> None:
    from libcontainer_py import procfs  # (preload)

    for key, value in (sysctl or {}).items():
        if "/" in key or any(part in ("", "..") for part in key.split(".")):
            raise ConfigError(f"invalid sysctl name {key!r}", path=f"linux.sysctl.{key}")
        # CVE-2025-52881: through a verified procfs, no symlink, no mount crossing (libcontainer_py/procfs.py):
        # a bind mount or symlink in the container's /proc cannot redirect the write to another file.
        try:
            procfs.write_proc_file("sys/" + key.replace(".", "/"), value)
        except OSError as exc:
            raise ConfigError(f"cannot set sysctl {key}={value}: {exc.strerror}", path=f"linux.sysctl.{key}") from None
