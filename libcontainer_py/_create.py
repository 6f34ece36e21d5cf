"""create: the parent's side (init/child.py has the children's; init/sync.py draws the protocol).

What can be checked without touching the kernel is checked first (prepare), so a bad config fails
before anything exists; the cgroup's checks (its driver, every limit against the host) right before
the fork (_plan_cgroup). In order: the state directory (claims the id), the exec fifo, the cgroup's
checks, the fork of the init (or of stage 1), and the conversation with the children, during which
the parent
  - writes the user namespace maps,
  - places stage 1 in the container's cgroup and applies linux.resources BEFORE it forks the init
    and before it unshares the cgroup namespace (so the namespace is rooted at that cgroup),
  - runs the prestart and createRuntime hooks when the init has made its mounts (before pivot_root),
  - passes the pty master on, and the seccomp notify fd to linux.seccomp.listenerPath.
Any failure kills what was started, destroys the cgroup and removes the state: nothing is left.
"""

from __future__ import annotations

import _signal  # type: ignore[import-not-found]  # (no stub) not signal (container.py)
import os

from libcontainer_py._faults import checkpoint
from libcontainer_py._record import Record, field
from libcontainer_py.errors import ConfigError, LibcontainerError
from libcontainer_py.state import ContainerState, process_start_time

TYPE_CHECKING = False  # not `typing`: its import costs ~3 ms of every pyrunc call
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from libcontainer_py.cgroups import Manager
    from libcontainer_py.container import Container
    from libcontainer_py.namespaces import NamespacePlan
    from libcontainer_py.seccomp import CompiledFilter
    from libcontainer_py.spec import Spec

CREATE_TIMEOUT = 60.0

# Who imports the init's modules (init/child.py preload: the rootfs, the process setup...).
# False (a library caller): this process, once, before its first fork, so that the child of every
# later container has them already (~4 ms each time otherwise). True (pyrunc, which creates one
# container and exits): the child alone, on the other CPU, while this process makes the cgroup.
CHILD_IMPORTS = False


class Prepared(Record):
    """A validated request to create a container; nothing exists yet."""

    container_id: str
    spec: Spec
    bundle: str  # absolute, as runc's filepath.Abs (no pathlib: ~3 ms to import)
    rootfs: str
    source: str
    ns: NamespacePlan
    seccomp: CompiledFilter | None
    cgroups: Manager | None = None  # from _plan_cgroup, right before the fork
    resources: Any = None  # effective_resources(spec), idem
    hooks: dict[str, list[Any]] = field(default_factory=dict)
    # Whether a failed create may remove the cgroup: not when it existed before apply() (another
    # container's busy cgroup that apply refused, or one the caller made): rmdir of a busy cgroup
    # would also retry EBUSY for seconds per controller before giving up.
    cgroup_owned: bool = False


def prepare(
    container_id: str,
    bundle: str | os.PathLike[str] | None,
    spec: Spec | None,
    *,
    root: str,
    console_socket: str | None,
    detach: bool,
    warn: Callable[[str], None],
) -> Prepared:
    from libcontainer_py._specload import as_runtime, load_spec
    from libcontainer_py.namespaces import check_join_owners, check_sysctls, open_namespace, plan
    from libcontainer_py.spec.validate import validate_runtime
    from libcontainer_py.state import validate_id

    validate_id(container_id)
    bundle_path = os.path.abspath(bundle if bundle is not None else os.getcwd())
    config_path = os.path.join(bundle_path, "config.json")
    if spec is None:
        if not os.path.isdir(bundle_path):
            raise ConfigError(f"bundle directory {bundle_path} does not exist")
        spec = load_spec(config_path)
    else:
        spec = as_runtime(spec)  # from here on, the runtime's objects only (_specload.py)
    source = config_path
    for message in validate_runtime(spec, source=source):
        warn(message)
    proc = spec.process
    if proc is None:
        raise ConfigError("a container needs a process to run", path="process", source=source)
    if not proc.args:
        raise ConfigError("must not be empty", path="process.args", source=source)
    if proc.terminal and detach and not console_socket:
        raise ConfigError(
            "cannot allocate a tty if the runtime will detach without a console socket: pass "
            "--console-socket, or set process.terminal to false",
            path="process.terminal",
            source=source,
        )
    if console_socket and not proc.terminal:
        raise ConfigError(
            "a console socket was given but the process has no terminal: set process.terminal "
            "to true, or drop --console-socket",
            path="process.terminal",
            source=source,
        )
    if spec.root is None:
        raise ConfigError("a container needs a root filesystem", path="root", source=source)
    rootfs = os.path.realpath(os.path.join(bundle_path, spec.root.path))
    if not os.path.isdir(rootfs):
        raise ConfigError(
            f"root filesystem {os.path.join(bundle_path, spec.root.path)} does not exist or is not a directory",
            path="root.path",
            source=source,
        )
    linux = spec.linux
    namespaces = [(str(ns.type), ns.path) for ns in (linux.namespaces if linux and linux.namespaces else [])]
    ns_plan = plan(namespaces)
    if ns_plan.new_user and not (linux and linux.uid_mappings and linux.gid_mappings):
        raise ConfigError(
            "a new user namespace needs linux.uidMappings and linux.gidMappings",
            path="linux.uidMappings",
            source=source,
        )
    # Joined namespaces are checked here too, so a wrong path fails before any fork.
    for i, (ns_type, path) in enumerate(namespaces):
        if path:
            os.close(open_namespace(ns_type, path, i))
    check_join_owners(namespaces)
    check_sysctls(linux.sysctl if linux else None, namespaces)
    new_netns = any(t == "network" and not path for t, path in namespaces)
    if linux and linux.net_devices and not new_netns:
        raise ConfigError(
            'moving host interfaces needs a new network namespace: add {"type": "network"}',
            path="linux.netDevices",
            source=source,
        )
    hook_kinds: dict[str, list[Any]] = {}
    if spec.hooks is not None:  # hooks.py (with signal's enums) only for a config that has some
        from libcontainer_py import hooks

        hooks.validate_hooks(spec.hooks)
        hook_kinds = hooks.hooks_by_kind(spec.hooks)
    compiled = None
    if linux and linux.seccomp:
        from libcontainer_py.seccomp.compile import compile_filter

        # It validates the profile (a one-line ConfigError naming the field) before libseccomp; a
        # profile found in its cache was valid, and its warnings come from the cache.
        compiled = compile_filter(linux.seccomp, warn, cache_dir=os.path.join(root, ".seccomp-cache"))
    # The cgroup's checks (the driver, every limit against the host) come later, in _plan_cgroup,
    # once the state directory is claimed: they read the host's cgroup files.
    if not CHILD_IMPORTS:
        from libcontainer_py.init.child import preload

        preload(spec)
    return Prepared(
        container_id=container_id,
        spec=spec,
        bundle=bundle_path,
        rootfs=rootfs,
        source=source,
        ns=ns_plan,
        seccomp=compiled,
        hooks=hook_kinds,
    )


# What every container may use whatever its device rules say, appended after them as runc does
# (libcontainer/specconv AllowedDevices): mknod of any node (the node is still useless without an
# allow rule), the standard character devices, the pty master and slaves, and tun.
DEFAULT_ALLOWED_DEVICES: tuple[tuple[str, int | None, int | None, str], ...] = (
    ("c", None, None, "m"),
    ("b", None, None, "m"),
    ("c", 1, 3, "rwm"),  # /dev/null
    ("c", 1, 8, "rwm"),  # /dev/random
    ("c", 1, 7, "rwm"),  # /dev/full
    ("c", 5, 0, "rwm"),  # /dev/tty
    ("c", 1, 5, "rwm"),  # /dev/zero
    ("c", 1, 9, "rwm"),  # /dev/urandom
    ("c", 5, 1, "rwm"),  # /dev/console
    ("c", 136, None, "rwm"),  # /dev/pts/*
    ("c", 5, 2, "rwm"),  # /dev/ptmx
    ("c", 10, 200, "rwm"),  # /dev/net/tun
)


def effective_resources(spec: Spec) -> Any:
    """linux.resources as the cgroup gets it: the spec's device rules, then the default allowed
    devices and an allow rule for each linux.devices entry (so the nodes the runtime creates can
    be used). None when the spec has no resources and no devices."""
    from libcontainer_py._specload import new

    linux = spec.linux
    if linux is None:
        return None
    # A shallow copy: only `devices` is replaced below, with a new list (a deep copy imports `copy`).
    resources = linux.resources.model_copy() if linux.resources else new("LinuxResources")
    rules = [*(resources.devices or []), *_default_rules()]
    for dev in linux.devices or []:
        kind = "c" if str(dev.type) in ("c", "u") else str(dev.type)
        rules.append(new("LinuxDeviceCgroup", allow=True, type=kind, major=dev.major, minor=dev.minor, access="rwm"))
    resources.devices = rules
    return resources


_DEFAULT_RULES: list[Any] = []


def _default_rules() -> list[Any]:
    """DEFAULT_ALLOWED_DEVICES as rule objects, made once per process (nothing changes a rule once
    made; twelve of them took ~0.2 ms of each create, on the path the init waits on)."""
    if not _DEFAULT_RULES:
        from libcontainer_py._specload import new

        _DEFAULT_RULES.extend(
            new("LinuxDeviceCgroup", allow=True, type=kind, major=major, minor=minor, access=access)
            for kind, major, minor, access in DEFAULT_ALLOWED_DEVICES
        )
    return _DEFAULT_RULES


def hook_state(state: ContainerState, status: str) -> dict[str, Any]:
    """The state document hooks get on stdin (runtime.md "State")."""
    doc: dict[str, Any] = {
        "ociVersion": state.oci_version,
        "id": state.id,
        "status": status,
        "pid": state.pid,
        "bundle": state.bundle,
    }
    if state.annotations:
        doc["annotations"] = dict(state.annotations)
    return doc


def create(
    container: Container,
    p: Prepared,
    *,
    pid_file: str | None,
    no_pivot: bool,
    preserve_fds: int,
    no_new_keyring: bool,
    stdio: tuple[int | None, int | None, int | None],
    spawn: str,
    console_socket: str | None,
    warn: Callable[[str], None],
    start_now: bool = False,
) -> None:
    from libcontainer_py.container import _host_id, _reap, _write_pid_file, subreaper
    from libcontainer_py.init import child as init_child
    from libcontainer_py.init import sync
    from libcontainer_py.init.mode import choose
    from libcontainer_py.init.spawn import fork_single, is_single
    from libcontainer_py.init.spawn import spawn as spawn_init

    state_dir = container._dir
    state = container._state
    pids: list[int] = []
    parent_sock = child_sock = None
    fifo_fd = -1
    try:
        if not start_now:
            # Not for run (start_now): its init execs the program when told "run", so the fifo
            # would only be made and removed (an mkfifo is ~0.5 ms on some filesystems).
            os.mkfifo(state_dir.exec_fifo, 0o622)
            # Owned by the container's root as the host sees it (as runc does), so that the init can
            # open it for writing after it has become that user; 0622 despite the umask.
            os.chown(state_dir.exec_fifo, _host_id(p.spec, "uid"), _host_id(p.spec, "gid"))
            os.chmod(state_dir.exec_fifo, 0o622)
            fifo_fd = os.open(state_dir.exec_fifo, os.O_PATH | os.O_CLOEXEC)
        state_dir.save(state)
        checkpoint("create:state-dir")
        cfg = init_child.InitConfig(
            spec=p.spec,
            bundle=p.bundle,
            rootfs=p.rootfs,
            ns=p.ns,
            exec_fifo_fd=fifo_fd,
            no_pivot=no_pivot,
            preserve_fds=preserve_fds,
            container_id=p.container_id,
            no_new_keyring=no_new_keyring,
            seccomp=p.seccomp,
            hook_state=hook_state(state, "creating"),
            cpus=_cpus(),
            wait_run=needs_run_barrier(p, start_now),
        )
        # Without stage 1 (init/child.py single_stage) the child is the init and ours to wait for.
        # The cgroup's checks just before the fork, not after it beside the child's start: the
        # parent's Python work after a fork pays a copy-on-write fault for every page it writes
        # to while the child shares them (~2 us each here: the same checks took 5-10x as long).
        _plan_cgroup(p)
        stage1 = None
        made: list[str] | None = None  # the cgroup's join files, when it was made before the fork
        placed = False  # the first child was born in its cgroup (v2: clone3 CLONE_INTO_CGROUP)
        cgroup_fd = -1
        assert p.cgroups is not None
        v2_dir = p.cgroups.paths().get("")
        # The planned init (init/vinit.py) for run, in "auto" (and "vfork", its name): it forks
        # nothing of this caller's, so a caller's threads do not matter to it.
        may_plan = start_now and spawn in ("auto", "vfork")
        requested = "auto" if spawn == "vfork" else spawn
        # Once, and only for a child that is not planned: "auto" looks at the caller's threads,
        # which may come and go, and with them it starts the fork server.
        spawn = "vfork" if may_plan else choose(requested)
        if v2_dir is not None and spawn in ("vfork", "fork", "forkserver"):
            # cgroup v2: made now, for the first child to be born in it rather than moved in
            # through cgroup.procs, whose lock waits ~10 ms for an RCU grace period after an idle
            # moment (pidfork.bare_fork). v1 joins through `tasks` after the fork: no wait. (The
            # fresh interpreter of spawn "exec" is moved in: subprocess cannot clone3.)
            made = _make_cgroup(container, p)
            cgroup_fd = os.open(v2_dir, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            planned = None
            if may_plan:
                planned, made = _start_planned(container, p, cfg, stdio, made, cgroup_fd)
            elif start_now:
                container.init_kind = f"python: spawn {requested!r}"
            if planned is not None:
                pids.append(planned)
                state.pid = planned
                state.pid_start = process_start_time(planned) or 0
            else:
                if spawn == "vfork":
                    spawn = choose(requested)
                parent_sock, child_sock = sync.socketpair()
                if is_single(spawn, cfg):
                    if spawn == "forkserver":
                        from libcontainer_py.init.forkserver import spawn_child
                        from libcontainer_py.init.spawn import off_our_cpu

                        stage1, placed = spawn_child(cfg, child_sock, stdio, single=True, cgroup_fd=cgroup_fd)
                        off_our_cpu(stage1, cfg.cpus)
                    else:
                        forked = fork_single(cfg, child_sock, stdio, parent_sock, cgroup_fd)
                        if forked is not None:
                            stage1, placed = forked
                single = stage1 is not None
                with subreaper(active=not single):
                    if stage1 is None:
                        stage1, placed = spawn_init(spawn, cfg, child_sock, stdio, parent_sock, cgroup_fd)
                    pids.append(stage1)
                    if cgroup_fd >= 0:
                        os.close(cgroup_fd)
                        cgroup_fd = -1
                    child_sock.close()
                    child_sock = None
                    checkpoint("create:stage1-spawned")
                    if single:
                        state.pid = stage1
                        state.pid_start = process_start_time(stage1) or 0  # saved with the cgroup's paths
                    _converse(
                        container, p, parent_sock, stage1, pids, console_socket, warn,
                        single=single, start_now=start_now, made=made, placed=placed, wait_run=cfg.wait_run,
                    )  # fmt: skip
        finally:
            if cgroup_fd >= 0:
                os.close(cgroup_fd)
        checkpoint("create:before-created")
        state.stage = "created"
        state_dir.save(state)
        if pid_file:
            _write_pid_file(pid_file, state.pid)
    except BaseException:
        if container.console is not None:
            os.close(container.console)
            container.console = None
        for pid in reversed(pids):
            try:  # noqa: SIM105  (not contextlib: its import costs ~3 ms of every pyrunc call)
                os.kill(pid, _signal.SIGKILL)
            except OSError:
                pass
        for pid in reversed(pids):
            _reap(pid)
        if p.cgroup_owned and p.cgroups is not None:
            try:  # noqa: SIM105  (not contextlib: its import costs ~3 ms of every pyrunc call)
                p.cgroups.destroy()
            except (LibcontainerError, OSError):
                pass
        state_dir.remove()
        raise
    finally:
        for s in (parent_sock, child_sock):
            if s is not None:
                s.close()
        if fifo_fd >= 0:
            os.close(fifo_fd)


def _start_planned(
    container: Container,
    p: Prepared,
    cfg: Any,
    stdio: tuple[int | None, int | None, int | None],
    made: list[str] | None,
    cgroup_fd: int,
) -> tuple[int | None, list[str] | None]:
    """A run's init without Python, where the config allows it (init/vinit.py): its pid, once it
    has called execve, or None (container.init_kind says why), and the cgroup's join files if it
    was made here. The cgroup is made and every limit set first, pids too: that child cannot wait
    for them, and forks nothing. After a None, the Python init runs the config in this cgroup."""
    from libcontainer_py.init import vinit

    planned = None
    why, checked = vinit.why_not(p, cfg)
    if checked is not None:
        assert p.cgroups is not None
        if made is None:
            made = _make_cgroup(container, p)
        p.cgroups.set(p.resources)
        planned, why = vinit.start(cfg, p, checked, stdio, join=made, cgroup_fd=cgroup_fd)
    container.init_kind = "planned" if planned is not None else f"python: {why}"
    return planned, made


def _cpus() -> list[int] | None:
    """This process's CPU affinity for the first child to take back (spawn.py off_our_cpu), or
    None when it allows one CPU only (nowhere else to start the child)."""
    cpus = os.sched_getaffinity(0)
    return sorted(cpus) if len(cpus) > 1 else None


def _converse(
    container: Container,
    p: Prepared,
    sock: Any,
    stage1: int,
    pids: list[int],
    console_socket: str | None,
    warn: Callable[[str], None],
    *,
    single: bool = False,
    start_now: bool = False,
    made: list[str] | None = None,
    placed: bool = False,
    wait_run: bool = True,
) -> None:
    from libcontainer_py.container import _reap, _reap_exited, _write_id_maps
    from libcontainer_py.init import sync

    state = container._state
    ready = False
    # The cgroup is made while the child starts up (it asks for it with "cgroup" once it has
    # entered or created its namespaces but the cgroup one): creating it, the state save and the
    # limits take ~1-3 ms, the child's start about as long.
    join = made if made is not None else _make_cgroup(container, p)
    manager = p.cgroups
    assert manager is not None

    def cgroup_done() -> None:
        # v1: the child moves itself in, through the `tasks` files we open (cgroups/_join.py
        # join_self: no global lock, no RCU grace period); otherwise we move it in.
        if not join and not placed:
            manager.add_process(stage1)
        join_fds = _open_join_files(join)
        try:
            sync.send(sock, "cgroup-done", fds=join_fds, files=join)
        except (BrokenPipeError, ConnectionResetError):
            return  # the child is gone (it failed before it read this): its error is read below
        finally:
            for fd in join_fds:
                os.close(fd)
        checkpoint("create:limits-pending")
        _set_limits(p)
        try:
            sync.send(sock, "limits-done")
        except (BrokenPipeError, ConnectionResetError):
            return  # (idem)
        # Tests stop (and SIGKILL) the runtime here: the cgroup exists with its limits and the
        # state names it; the child is in it (v2) or joins it (v1), then goes on to its mounts
        # (the init) or to fork the init (stage 1), and ends when it finds our socket closed.
        checkpoint("create:cgroup-applied")

    if single:
        # The init asks for nothing before the cgroup (no user namespace to map first), so it is
        # sent now and waits in the socket: the init reads it when it has unshared, without a
        # round trip (each side waking the other: ~0.3 ms here). It still says "cgroup" below.
        cgroup_done()
    while True:
        msg = sync.recv(sock, CREATE_TIMEOUT)
        if msg is None:
            break
        kind = msg["type"]
        if kind == "error":
            raise sync.InitError(f"container init failed ({msg.get('stage')}): {msg.get('message')}")
        if kind == "userns":
            _write_id_maps(stage1, p.spec)
            sync.send(sock, "userns-done")
        elif kind == "cgroup":
            if not single:
                # Stage 1 waits: it has not forked the init nor unshared the cgroup namespace yet.
                cgroup_done()
            else:
                # The init is in its namespaces (state.pid was saved with the cgroup).
                checkpoint("create:init-pid")
                _move_net_devices(p, stage1)
        elif kind == "pid":
            pid = int(msg["pid"])
            pids.append(pid)
            state.pid = pid
            state.pid_start = process_start_time(pid) or 0
            container._dir.save(state)  # from now on delete --force can find it
            checkpoint("create:init-pid")
            _move_net_devices(p, pid)
        elif kind == "hooks":
            # The init has made its mounts and waits before pivot_root (runtime.md steps 3-4).
            from libcontainer_py import hooks

            doc = hook_state(state, "creating")
            hooks.run_hooks("prestart", p.hooks.get("prestart"), doc, cwd=p.bundle)
            hooks.run_hooks("createRuntime", p.hooks.get("createRuntime"), doc, cwd=p.bundle)
            checkpoint("create:hooks-done")
            sync.send(sock, "hooks-done")
        elif kind == "console":
            container._take_console(msg, console_socket)
        elif kind == "seccomp-fd":
            pass_listener_fd(msg["fds"][0], p.seccomp, hook_state(state, "creating"))
            sync.send(sock, "seccomp-fd-done")
        elif kind == "ready":
            if not wait_run:  # (needs_run_barrier: nothing to do here; the init goes on)
                ready = True
                checkpoint("create:ready")
                continue
            if p.resources is not None and p.resources.pids is not None:
                from libcontainer_py._specload import new

                manager.set(new("LinuxResources", pids=p.resources.pids))
            if p.spec.process is not None and p.spec.process.rlimits:
                # From here, in the host's user namespace, as runc at procReady: the init, in a
                # user namespace of its own, could not raise a hard limit (process_setup.
                # apply_rlimits). After its mounts and hooks, so that its setup (and stage 1's
                # fork) never ran under the container's limits; before "run", so that it has them
                # before it drops its capabilities and execs.
                from libcontainer_py.init.process_setup import apply_rlimits

                apply_rlimits(p.spec.process.rlimits, state.pid)
            ready = True
            checkpoint("create:ready")
            # start_now: no exec fifo (none was made): the init execs the program once it is set
            # up (as crun's run does, without its fifo), no round trip through a `start`; without
            # the fifo, the container is never "created" (_status.live_status). The init waits for
            # this even with nothing written here: it is the barrier after which what we did for
            # its earlier messages (the net devices moved in at "cgroup" or "pid", the console
            # handed over) is done before the program runs. Going on from "ready" without it was
            # tried: a program started before its net device arrived (test_container_netdevices).
            # Where nothing of that kind is pending, the init does not wait (needs_run_barrier).
            sync.send(sock, "run", exec=start_now)
        else:
            raise sync.ProtocolError(f"unexpected message {kind!r} from container init")
    if state.pid and not single:
        # Stage 1 exits right after it sent the pid; collected here rather than at "pid", where it
        # was still tearing down its copy of our memory and a reap had to poll (~1-2 ms).
        _reap_exited(stage1)
    if not ready or not state.pid:
        raise sync.InitError("container init exited during create")
    # EOF after "run": the init closed its end and waits on the exec fifo; confirm it lives. Not
    # when it was told to exec at once: the program may have run and ended by now, and its exit
    # status is the caller's to collect (wait()).
    if not start_now and process_start_time(state.pid) != state.pid_start:
        status = _reap(state.pid, 0.5)
        raise sync.InitError(f"container init exited during create (wait status {status})")


def needs_run_barrier(p: Prepared, start_now: bool) -> bool:
    """Whether the init, after "ready", waits for the parent's "run" (sync.py's diagram).

    A create without start_now always does: "run" tells it whether to wait on the exec fifo. With
    start_now (run(), pyrunc run) the round trip costs two wake-ups (~0.5-0.8 ms of every `run`
    here) and is needed only where the parent does something at "ready" or must be done with an
    earlier message before the program runs:
      - a new or joined user namespace: process.rlimits are set by the parent, from the host's
        user namespace (process_setup.apply_rlimits); without one the init sets them itself, to the
        same effect, at the same point;
      - a pids limit, which the parent writes at "ready" (_set_limits says why);
      - linux.netDevices, moved in at "cgroup" or "pid";
      - a terminal, whose pty master the parent takes at "console".
    """
    if not start_now or p.ns.new_user or p.ns.joins_user:
        return True
    spec = p.spec
    linux = spec.linux
    if linux is not None and linux.net_devices:
        return True
    if spec.process is not None and spec.process.terminal:
        return True
    resources = linux.resources if linux is not None else None
    return resources is not None and resources.pids is not None


def _move_net_devices(p: Prepared, pid: int) -> None:
    if p.spec.linux and p.spec.linux.net_devices:
        # The init is in its new network namespace: move the host's interfaces in, renamed,
        # with their addresses (spec 1.3 linux.netDevices).
        from libcontainer_py.network import move_net_devices

        move_net_devices(p.spec.linux.net_devices, pid)


def _plan_cgroup(p: Prepared) -> Manager:
    """The cgroup's part of create's checks: its driver for this host and every limit checked
    against it (a bad value is a ConfigError naming the field, before the cgroup exists). Made
    right before the fork: it was made after it, beside the child's start on the other CPU, but
    there every page it wrote to was a copy-on-write fault (~2 us each on this VM), and it took
    5-10x as long (docs/performance.md, "Copy-on-write")."""
    from libcontainer_py import cgroups

    manager = cgroups.manager_for_spec(p.spec, p.container_id)
    p.resources = effective_resources(p.spec)
    if p.resources is not None:
        manager.plan(p.resources)
    p.cgroups = manager
    return manager


def _make_cgroup(container: Container, p: Prepared) -> list[str]:
    """Create the container's cgroup (refusing a busy or frozen one) and name it in the state;
    return the files the child joins it through (v1), or [] when the runtime moves it in (v2, or
    no cgroup). Its limits are set next (_set_limits), once the child has been told to join."""
    manager = p.cgroups
    assert manager is not None  # (_plan_cgroup, before the fork)
    p.cgroup_owned = manager.create()  # what create made is ours, even if create then fails
    state = container._state
    state.cgroup_paths = manager.paths()
    container._dir.save(state)  # from now on delete --force finds the cgroup
    return manager.join_files()


def _set_limits(p: Prepared) -> None:
    """Every limit but pids, right after the child was told to join: it joins, and the init starts
    its setup, while we write them (~0.5 ms less on the path it waits on). They were checked before
    the cgroup was made (_plan_cgroup). The init waits for "limits-done" before its first mount: a
    v1 device list is written as "deny all" then one allow rule at a time, and a device opened or
    made in between (a mount's block device, a copied node, /dev/null) would be refused. runc sets
    them at procReady, after the init's mounts. pids waits for "ready" itself: a limit below what
    create needs (stage 1 forks the init; hooks fork too; 0 is a valid limit) would make create fail
    with EAGAIN."""
    assert p.cgroups is not None
    p.cgroups.set(_without_pids(p.resources))


def _open_join_files(files: list[str]) -> list[int]:
    """Open the cgroup files stage 1 joins through (write-only: the kernel checks the opener's
    credentials, ours, so stage 1 may already be in its new user or joined mount namespace)."""
    from libcontainer_py.cgroups import CgroupError

    fds: list[int] = []
    try:
        for path in files:
            try:
                fds.append(os.open(path, os.O_WRONLY | os.O_CLOEXEC))
            except OSError as exc:
                raise CgroupError(f"cannot open {path}: {exc.strerror}", field="linux.cgroupsPath") from exc
    except BaseException:
        for fd in fds:
            os.close(fd)
        raise
    return fds


def _without_pids(resources: Any) -> Any:
    if resources is None or resources.pids is None:
        return resources
    return resources.model_copy(update={"pids": None})


def pass_listener_fd(fd: int, compiled: CompiledFilter | None, state: dict[str, Any]) -> None:
    """A seccomp notify fd a child sent: to linux.seccomp.listenerPath, with the state (config-linux.md)."""
    from libcontainer_py.seccomp import send_listener_fd

    try:
        if compiled is not None and compiled.listener_path:
            send_listener_fd(compiled.listener_path, fd, state, compiled.listener_metadata)
    finally:
        os.close(fd)
