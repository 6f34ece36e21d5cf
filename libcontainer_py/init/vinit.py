"""A run's init without Python: the planned init (run(), pyrunc run, create(start=True)).

The Python init (child.py) is a fork of the caller that runs Python from the fork until its
execve: every page it writes to is a copy-on-write fault of the caller's (~650 of them, ~2-3 us
each here), and its interpretation is most of what a `run` of `true` costs above crun's. For the
configs most containers have, this init is exec's kind of child instead (vspawn.py): it shares our
memory while we wait (CLONE_VM | CLONE_VFORK), is born in the container's new namespaces (clone3
flags) and in its cgroup (v2), and runs a list of system calls that the subsystems wrote before the
clone: the namespaces' and cgroup's steps here, the rootfs's (rootfs/plan.py) and the process's
(opplan.py, exec's own), run by _sys/vfork_plan.c and vfork_init.c:

    parent (create, start_now)                      child (vfork_plan.c: no Python, no fork)
      | the cgroup made, every limit written
      | the plan: fds (joined namespaces, v1
      |   `tasks`, /proc), the rootfs's mounts,
      |   the cgroup binds' sources, devices,
      |   HOME from the rootfs's /etc/passwd
      | clone3(CLONE_VM|CLONE_VFORK|CLONE_NEW*) --->| pid 1 of its pid namespace, in its others;
      |   (this thread waits)                       | stdio; every other fd of the caller's closed
      |                                             | oom_score_adj; setns of joined ones; lo up
      |                                             | "0" to each `tasks` (v1); cgroup namespace
      |                                             | setsid, session keyring
      |                                             | the rootfs (prepare_rootfs), pivot_root
      |                                             | hostname, domainname; finalize_rootfs
      |                                             | rlimits; the process's steps; execve
      |<------ execve done, or "step i: errno" -----|
      | state saved: the program runs

Nothing that the parent would do in the middle (a user namespace's maps, hooks, a terminal, net
devices) can be planned: why_not() names what sends a config to the Python init, which stays the
reference for every config. And a step that fails (a symlink on a mount's destination, a file in
the way, an error of the kernel's) ends the child before anything of the container's ran: its
namespaces and mounts go with it, its cgroup stays ours, and create starts the Python init on the
same config, which takes the long way, or fails with its own one-line error (then nothing is left:
create's cleanup as ever). So the plan never explains a failure itself; what sent a container to
the Python init is in Container.init_kind ("planned", or "python: <why>").

CVE-2019-5736 / CVE-2024-21626, as exec's child (vspawn.py): non-dumpable until its execve (the
flag is the memory's, ours), every fd of the caller's closed before anything else, its own fds
(opened by the parent or by its steps) close-on-exec.
"""

from __future__ import annotations

import os
import posix

from libcontainer_py import _sys
from libcontainer_py._faults import ENV as _STOP_ENV
from libcontainer_py._paths import getenv
from libcontainer_py._sys import consts as c
from libcontainer_py.init import process_setup as ps
from libcontainer_py.init.child import INIT_NAME
from libcontainer_py.init.opplan import OpPlan
from libcontainer_py.namespaces import NAMESPACES

TYPE_CHECKING = False  # not `typing`: its import costs ~3 ms of every pyrunc call
if TYPE_CHECKING:

    from libcontainer_py._create import Prepared
    from libcontainer_py.init.child import InitConfig
    from libcontainer_py.rootfs.plan import Checked

# Namespaces the child is born in (clone3 flags). Not the cgroup one (unshared once the child is in
# its cgroup), nor user or time (the Python init: their maps and offsets come first).
_BORN_IN = c.CLONE_NEWNS | c.CLONE_NEWPID | c.CLONE_NEWNET | c.CLONE_NEWIPC | c.CLONE_NEWUTS
_JOINABLE = ("network", "ipc", "uts")
# LIBCONTAINER_PY_INIT=python: every container's init is the Python one (the differential tests;
# a way around a planned init that misbehaves, until it is mended).
ENV = "LIBCONTAINER_PY_INIT"
_CREATE_HOOKS = ("prestart", "createRuntime", "createContainer", "startContainer")


def why_not(p: Prepared, cfg: InitConfig) -> tuple[str | None, Checked | None]:
    """(None, the config's mounts and devices planned) when the planned init can do all that the
    config asks; else (why it cannot, None): the Python init does it then."""
    if getenv(ENV) == "python":
        return f"{ENV}=python", None
    if os.uname().machine != "x86_64":
        return "vfork_plan.c has no clone3 entry for this architecture", None
    if getenv(_STOP_ENV):
        return "a test's checkpoint", None
    ns = cfg.ns
    if ns.new_user or ns.joins_user:
        return "a user namespace", None
    if ns.new_flags & c.CLONE_NEWTIME:
        return "a time namespace", None
    if not ns.new_flags & c.CLONE_NEWNS:
        return "no new mount namespace", None
    joined = [t for t, _ in ns.join if t not in _JOINABLE]
    if joined:
        return f"a joined {joined[0]} namespace", None
    spec = p.spec
    proc = spec.process
    linux = spec.linux
    assert proc is not None  # (prepare)
    if proc.terminal:
        return "a terminal", None
    if any(p.hooks.get(kind) for kind in _CREATE_HOOKS):
        return "hooks that run during create", None
    if linux is not None:
        if linux.net_devices:
            return "linux.netDevices", None
        if linux.sysctl:
            return "linux.sysctl", None
        if linux.personality is not None:
            return "linux.personality", None
    resources = p.resources
    if resources is not None and resources.pids is not None and resources.pids.limit == 0:
        return "a pids limit of 0", None  # (a clone3 into that cgroup is refused: EAGAIN)
    if p.seccomp is not None:
        from libcontainer_py.seccomp.load import SECCOMP_FILTER_FLAG_NEW_LISTENER

        if p.seccomp.flags & SECCOMP_FILTER_FLAG_NEW_LISTENER:
            return "a seccomp notify listener", None
    from libcontainer_py.rootfs.plan import NotPlanned, check

    try:
        checked = check(spec, p.bundle, no_pivot=cfg.no_pivot)
    except NotPlanned as exc:
        return str(exc), None
    if "HOME" not in ps.env_dict(proc.env):
        from libcontainer_py.rootfs.plan import covers

        if covers(checked.mounts, "/etc/passwd"):
            return "a mount over /etc/passwd, where HOME comes from", None
    return None, checked


def start(
    cfg: InitConfig,
    p: Prepared,
    checked: Checked,
    stdio: tuple[int | None, ...],
    *,
    join: list[str],
    cgroup_fd: int,
) -> tuple[int | None, str]:
    """Start the planned init of ``cfg`` with why_not's ``checked`` (the cgroup is made, its limits
    set): (its pid, "planned") once it has called execve; (None, why) when it could not, with
    nothing of it left (it has been reaped): create starts the Python init then."""
    plan = _InitPlan(3 + cfg.preserve_fds)
    try:
        try:
            argv, envp, candidates, direct = plan.build(cfg, p, checked, stdio, join)
        except Exception as exc:  # (the Python init finds and says it)
            return None, f"planning: {exc}"
        return plan.run(argv, envp, candidates, direct, cgroup_fd)
    finally:
        plan.close()


class _InitPlan(OpPlan):
    new_flags = 0  # the namespaces the child is born in (those of _BORN_IN): build() sets them

    def build(
        self,
        cfg: InitConfig,
        p: Prepared,
        checked: Checked,
        stdio: tuple[int | None, ...],
        join: list[str],
    ) -> tuple[list[bytes], list[bytes], list[bytes], bool]:
        from libcontainer_py.namespaces import open_namespace
        from libcontainer_py.rootfs import plan as rootfs_plan

        spec = p.spec
        proc = spec.process
        assert proc is not None  # (prepare)
        self.new_flags = cfg.ns.new_flags
        stage = "init start"
        self.add("SET_NAME", stage, path=INIT_NAME)
        for target, fd in enumerate(stdio):
            if fd is not None and fd != target:
                self.add("DUP2", stage, fd=fd, a=target)
        # Ours first (then the child's own slots go above them): what it joins, the cgroup's
        # `tasks` files, the host's /proc for oomScoreAdj.
        joins = [(t, self.fd(open_namespace(t, path))) for t, path in cfg.ns.join]
        tasks = [self.fd(posix.open(path, posix.O_WRONLY | posix.O_CLOEXEC)) for path in join]
        procfd = -1
        if proc.oom_score_adj is not None:
            from libcontainer_py import procfs

            procfd = self.fd(procfs.open_proc_root("/proc"))
        self.close_callers_fds(stage)
        if proc.oom_score_adj is not None:  # (before any namespace: child._oom_score_adj)
            path, value = "self/oom_score_adj", str(proc.oom_score_adj).encode()
            self.add("WRITE_AT", "process", fd=procfd, path=path, data=value)
            self.add("CLOSE", stage, fd=procfd)
        stage = "namespaces"
        for ns_type, fd in joins:
            self.add("SETNS", stage, fd=fd, a=NAMESPACES[ns_type][0])
            self.add("CLOSE", stage, fd=fd)
        if cfg.ns.new_flags & c.CLONE_NEWNET:
            self.add("LOOPBACK_UP", "loopback")
        for fd in tasks:
            self.add("WRITE", "cgroups", fd=fd, data=b"0")
            self.add("CLOSE", "cgroups", fd=fd)
        if cfg.ns.new_flags & c.CLONE_NEWCGROUP:
            self.add("UNSHARE", stage, a=c.CLONE_NEWCGROUP)
        self.add("SETSID", "init")
        if not cfg.no_new_keyring:
            self.add("KEYRING", "keyring", path=f"_ses.{cfg.container_id}" if cfg.container_id else None)
        manager = p.cgroups
        rootfs_plan.add_prepare(
            self,
            cfg.rootfs,
            checked,
            cgroup_sources=lambda: rootfs_plan.cgroup_bind_sources(manager.paths() if manager else {}),
            cgroupns=bool(cfg.ns.new_flags & c.CLONE_NEWCGROUP),
        )
        if spec.hostname:
            self.add("SETHOSTNAME", "hostname", data=spec.hostname.encode())
        if spec.domainname:
            self.add("SETDOMAINNAME", "hostname", data=spec.domainname.encode())
        rootfs_plan.add_finalize(self, spec)
        for i, rl in enumerate(proc.rlimits or ()):  # (child.stage2 without the "run" barrier)
            self.add("PRLIMIT", "process", a=ps.rlimit_checked(rl, i), b=rl.soft, c=rl.hard)
        return self.process_steps(
            proc,
            p.seccomp,
            setgroups_denied=ps.setgroups_denied(),
            home=lambda uid: ps.home_under(cfg.rootfs, uid),
            preserve_fds=cfg.preserve_fds,
        )

    def run(
        self, argv: list[bytes], envp: list[bytes], candidates: list[bytes], direct: bool, cgroup_fd: int
    ) -> tuple[int | None, str]:
        res = self.clone(argv, envp, candidates, direct, cgroup_fd=cgroup_fd, clone_flags=_BORN_IN & self.new_flags)
        if res is None:
            return None, "no clone3 (or no CLONE_INTO_CGROUP) here"
        if res.failed == -1:
            return int(res.pid), "planned"
        posix.waitpid(res.pid, 0)  # it has ended (127 after a step failed)
        if 0 <= res.failed < len(self.errors):
            stage = self.errors[res.failed][0]
            kind = _sys.plan_op_name(self.ops[res.failed][0])
            return None, f"step {res.failed} (stage {stage}, {kind}) failed: {posix.strerror(res.err)}"
        return None, "the child ended before its steps did"
