"""The cgroup drivers on this machine's real cgroups: v1 controllers (hybrid layout) and, where it can
be, the cgroup2 mount at /sys/fs/cgroup/unified (freeze, the device BPF program, hugetlb).

Processes here are plain children placed in a cgroup, not containers. Every test removes what it made
(kill its processes by pid, then rmdir), pass or fail; the last test checks nothing is left."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from libcontainer_py.cgroups import CgroupError, Layout, Manager, V1Manager, V2Manager, detect_mounts, new_manager
from libcontainer_py.spec.resources import LinuxResources

pytestmark = pytest.mark.root

PREFIX = "pyrunc-test-"
MOUNTS = detect_mounts()
HAS_V1 = MOUNTS.layout in (Layout.V1, Layout.HYBRID)
UNIFIED = "/sys/fs/cgroup/unified"
HAS_UNIFIED = MOUNTS.layout is Layout.HYBRID and os.path.isdir(UNIFIED)

needs_v1 = pytest.mark.skipif(not HAS_V1, reason="needs cgroup v1 controllers (this host's layout is not v1/hybrid)")
needs_unified = pytest.mark.skipif(
    not HAS_UNIFIED, reason="needs a hybrid host's cgroup2 mount at /sys/fs/cgroup/unified"
)


class Child:
    """A child that waits on stdin until it has been placed in its cgroup, then runs ``code``."""

    def __init__(self, code: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-c", "import sys; sys.stdin.readline()\n" + code],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.pid = self.proc.pid

    def go(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write("\n")
        self.proc.stdin.flush()

    def wait(self, timeout: float = 20) -> tuple[int, str, str]:
        out, err = self.proc.communicate(timeout=timeout)
        return self.proc.returncode, out, err

    def kill(self) -> None:
        if self.proc.poll() is None:
            os.kill(self.pid, signal.SIGKILL)
        self.proc.wait()


@pytest.fixture
def cg() -> Iterator[tuple[Callable[..., Manager], Callable[[str], Child]]]:
    """``cg(kind)`` -> (make_manager, spawn): managers under a unique test parent, children killed and
    cgroups removed afterwards."""
    parent = f"/{PREFIX}{os.getpid()}-{uuid.uuid4().hex[:8]}"
    managers: list[Manager] = []
    children: list[Child] = []
    root_subtree = Path(f"{UNIFIED}/cgroup.subtree_control").read_text().split() if HAS_UNIFIED else []

    def make(name: str = "c", *, v2: bool = False) -> Manager:
        m: Manager
        if v2:
            m = V2Manager(f"{UNIFIED}{parent}/{name}", mountpoint=UNIFIED)
        else:
            m = new_manager(name, f"{parent}/{name}")
        managers.append(m)
        return m

    def spawn(code: str) -> Child:
        c = Child(code)
        children.append(c)
        return c

    yield make, spawn

    for c in children:
        for m in managers:  # a frozen child cannot die
            try:
                if m.is_frozen():
                    m.thaw()
            except CgroupError:
                pass
        c.kill()
    for m in managers:
        for pid in m.pids():  # grandchildren (fork loop)
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        m.destroy()
    roots = [mnt.mountpoint for mnt in set(MOUNTS.v1.values())] + ([UNIFIED] if HAS_UNIFIED else [])
    for r in roots:
        d = r + parent
        if os.path.isdir(d):
            os.rmdir(d)
    if HAS_UNIFIED:  # undo the controllers the v2 driver enabled at the mount root
        now = Path(f"{UNIFIED}/cgroup.subtree_control").read_text().split()
        for ctrl in now:
            if ctrl not in root_subtree:
                with open(f"{UNIFIED}/cgroup.subtree_control", "w") as f:
                    f.write(f"-{ctrl}")


def res(**kw: Any) -> LinuxResources:
    return LinuxResources.model_validate(kw)


def cpu_ticks(pid: int) -> int:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


BUSY = "while True: pass"


@needs_v1
def test_limits_read_back(cg: Any) -> None:
    make, spawn = cg
    m = make()
    assert isinstance(m, V1Manager)
    c = spawn("import time; time.sleep(30)")
    m.apply(c.pid)
    m.set(
        res(
            memory={"limit": 64 << 20, "reservation": 32 << 20},
            pids={"limit": 20},
            cpu={"shares": 512, "quota": 50000, "period": 100000, "cpus": "0", "mems": "0"},
        )
    )
    p = m.paths()

    def rd(ctrl: str, f: str) -> str:
        return Path(os.path.join(p[ctrl], f)).read_text().strip()

    assert rd("memory", "memory.limit_in_bytes") == str(64 << 20)
    assert rd("memory", "memory.soft_limit_in_bytes") == str(32 << 20)
    assert rd("pids", "pids.max") == "20"
    assert rd("cpu", "cpu.shares") == "512"
    assert rd("cpu", "cpu.cfs_quota_us") == "50000"
    assert rd("cpuset", "cpuset.cpus") == "0"
    assert m.pids() == [c.pid]
    # update a live limit; -1 -> unlimited
    m.set(res(pids={"limit": -1}, memory={"limit": 128 << 20}))
    assert rd("pids", "pids.max") == "max"
    assert rd("memory", "memory.limit_in_bytes") == str(128 << 20)


@needs_v1
def test_refuses_busy_cgroup_and_bad_cpuset(cg: Any) -> None:
    make, spawn = cg
    m = make()
    c = spawn("import time; time.sleep(30)")
    m.apply(c.pid)
    with pytest.raises(CgroupError, match=r"^linux\.cgroupsPath: cgroup .* already has processes"):
        make().apply(os.getpid())  # same path, second manager
    ncpu = len(os.sched_getaffinity(0))
    with pytest.raises(CgroupError, match=rf"^linux\.resources\.cpu\.cpus: '{ncpu + 5}' is outside this host's CPUs"):
        m.set(res(cpu={"cpus": str(ncpu + 5)}))


@needs_v1
def test_fork_loop_stops_at_pids_limit(cg: Any) -> None:
    make, spawn = cg
    m = make()
    code = (
        "import os, time\n"
        "n = 0\n"
        "for _ in range(50):\n"
        "    try:\n"
        "        pid = os.fork()\n"
        "    except OSError:\n"
        "        break\n"
        "    if pid == 0:\n"
        "        os.close(1); os.close(2); time.sleep(30); os._exit(0)\n"
        "    n += 1\n"
        "print(n, flush=True)\n"
    )
    c = spawn(code)
    m.apply(c.pid)
    m.set(res(pids={"limit": 5}))
    c.go()
    rc, out, err = c.wait()
    assert rc == 0, err
    assert int(out) == 4  # the parent is the 5th task
    assert m.stats().pids.current >= 1


@needs_v1
def test_memory_hog_is_oom_killed(cg: Any) -> None:
    make, spawn = cg
    m = make()
    c = spawn("b = bytearray(256 << 20)\nfor i in range(0, len(b), 4096): b[i] = 1\nprint('survived')")
    m.apply(c.pid)
    limit = 32 << 20
    has_swap = os.path.exists(os.path.join(m.paths()["memory"], "memory.memsw.limit_in_bytes"))
    m.set(res(memory={"limit": limit, **({"swap": limit} if has_swap else {})}))
    assert m.oom_kill_count() == 0
    c.go()
    rc, out, _ = c.wait()
    assert rc == -signal.SIGKILL and "survived" not in out
    assert m.oom_kill_count() >= 1
    s = m.stats()
    assert s.oom_kill >= 1 and s.memory.usage.limit == limit and s.memory.usage.max >= limit - (1 << 20)


@needs_v1
def test_check_before_update(cg: Any) -> None:
    make, spawn = cg
    m = make()
    c = spawn(
        "import time\nb = bytearray(16 << 20)\nfor i in range(0, len(b), 4096): b[i] = 1\n"
        "print('ok', flush=True)\ntime.sleep(30)"
    )
    m.apply(c.pid)
    c.go()
    assert c.proc.stdout is not None and c.proc.stdout.readline().strip() == "ok"
    with pytest.raises(CgroupError, match=r"^linux\.resources\.memory\.limit: 4096 is below the current usage \d+"):
        m.set(res(memory={"limit": 4096, "checkBeforeUpdate": True}))


@needs_v1
def test_cpu_quota_throttles(cg: Any) -> None:
    make, spawn = cg
    m = make()
    c = spawn(BUSY)
    m.apply(c.pid)
    m.set(res(cpu={"quota": 10000, "period": 100000}))
    c.go()
    time.sleep(0.6)
    s = m.stats()
    assert s.cpu.throttling.throttled_periods > 0 and s.cpu.throttling.throttled_time > 0
    assert s.cpu.usage.total > 0 and len(s.cpu.usage.percpu) == os.cpu_count()
    assert s.cpu.usage.total < 0.3 * 0.6 * 1e9  # ~10% of one CPU


def _assert_freezes(m: Manager, c: Child) -> None:
    c.go()
    time.sleep(0.2)
    m.freeze()
    assert m.is_frozen()
    t0 = cpu_ticks(c.pid)
    time.sleep(0.3)
    assert cpu_ticks(c.pid) == t0
    m.thaw()
    assert not m.is_frozen()
    time.sleep(0.3)
    assert cpu_ticks(c.pid) > t0


@needs_v1
def test_freeze_thaw_busy_child(cg: Any) -> None:
    make, spawn = cg
    m = make()
    c = spawn(BUSY)
    m.apply(c.pid)
    _assert_freezes(m, c)
    # a frozen cgroup is refused for a new container
    m.freeze()
    c2 = make()
    with pytest.raises(CgroupError, match=r"already has processes|is frozen"):
        c2.apply(os.getpid())
    m.thaw()


@needs_v1
@pytest.mark.parametrize(
    ("rules", "allowed"),
    [
        ([{"allow": False, "access": "rwm"}], False),
        (
            [{"allow": False, "access": "rwm"}, {"allow": True, "type": "c", "major": 1, "minor": 3, "access": "rw"}],
            True,
        ),
    ],
)
def test_devices_v1(cg: Any, rules: list[dict[str, Any]], allowed: bool) -> None:
    make, spawn = cg
    m = make()
    c = spawn("open('/dev/null').read(); print('opened')")
    m.apply(c.pid)
    m.set(res(devices=rules))
    c.go()
    rc, out, err = c.wait()
    if allowed:
        assert rc == 0 and "opened" in out, err
    else:
        assert rc != 0 and "Operation not permitted" in err


@needs_v1
def test_stats_sane(cg: Any) -> None:
    make, spawn = cg
    m = make()
    c = spawn(
        "import time\nb = bytearray(8 << 20)\nfor i in range(0, len(b), 4096): b[i] = 1\n"
        "t = time.time()\nwhile time.time() - t < 0.3: pass\nprint('ok', flush=True)\ntime.sleep(30)"
    )
    m.apply(c.pid)
    m.set(res(memory={"limit": 256 << 20}, pids={"limit": 10}))
    c.go()
    assert c.proc.stdout is not None and c.proc.stdout.readline().strip() == "ok"
    s = m.stats()
    assert s.cpu.usage.total > 100_000_000
    assert s.memory.usage.usage > 8 << 20 and s.memory.usage.limit == 256 << 20
    assert s.memory.usage.max >= s.memory.usage.usage
    assert s.pids.current == 1 and s.pids.limit == 10
    d = s.to_runc_event("x")["data"]
    assert d["memory"]["usage"]["usage"] == s.memory.usage.usage and d["pids"] == {"current": 1, "limit": 10}
    # The reader's dict (what `pyrunc events --stats` prints) is the records' runc dict, read again.
    from libcontainer_py.cgroups import _read
    from libcontainer_py.cgroups.stats import Stats

    data, oom_kill = _read.runc_stats(m.paths())
    assert oom_kill == 0 and set(data) == set(d) and data["pids"] == d["pids"]
    assert Stats.from_runc(data).to_runc_dict() == data
    assert data["memory"]["usage"]["limit"] == 256 << 20 and data["cpu"]["usage"]["total"] >= s.cpu.usage.total


# --- v2 on the hybrid host's cgroup2 mount (no v1 controllers there) --------------------------------------


@needs_unified
def test_v2_freeze_on_unified(cg: Any) -> None:
    make, spawn = cg
    m = make(v2=True)
    c = spawn(BUSY)
    m.apply(c.pid)
    assert m.pids() == [c.pid]
    _assert_freezes(m, c)


@needs_unified
@pytest.mark.parametrize(
    ("rules", "allowed"),
    [
        ([{"allow": False, "access": "rwm"}], False),
        (
            [{"allow": False, "access": "rwm"}, {"allow": True, "type": "c", "major": 1, "minor": 3, "access": "rw"}],
            True,
        ),
        (
            [{"allow": True, "access": "rwm"}, {"allow": False, "type": "c", "major": 1, "minor": 3, "access": "r"}],
            False,
        ),
    ],
)
def test_v2_device_program(cg: Any, rules: list[dict[str, Any]], allowed: bool) -> None:
    make, spawn = cg
    m = make(v2=True)
    c = spawn("open('/dev/null').read(); print('opened')")
    m.apply(c.pid)
    m.set(res(devices=rules))
    m.set(res(devices=rules))  # replacing the program keeps exactly one attached
    from libcontainer_py.cgroups import bpf

    fd = os.open(m.paths()[""], os.O_RDONLY | os.O_DIRECTORY)
    try:
        assert len(bpf.query_programs(fd)) == 1
    finally:
        os.close(fd)
    c.go()
    rc, out, err = c.wait()
    if allowed:
        assert rc == 0 and "opened" in out, err
    else:
        assert rc != 0 and "Operation not permitted" in err


@needs_unified
def test_v2_device_program_of_the_default_rules(cg: Any) -> None:
    """What every container gets (the spec's deny-all, then runc's default allowed devices: 69
    instructions): its verifier log is over 4 KiB, and a load that asked for the log in a 4 KiB
    buffer was refused with ENOSPC, so no container could be created on a v2 host."""
    from libcontainer_py._create import effective_resources
    from libcontainer_py._specload import load_spec
    from libcontainer_py.bundle import make_busybox_bundle
    from libcontainer_py.cgroups import bpf

    bundle = make_busybox_bundle(Path(tempfile.mkdtemp(prefix=PREFIX)) / "b")
    try:
        rules = effective_resources(load_spec(str(bundle / "config.json"))).devices
    finally:
        shutil.rmtree(bundle.parent)
    assert len(bpf.compile_device_program(rules)) > 60
    make, spawn = cg
    m = make(v2=True)
    c = spawn(
        "import os\n"
        "open('/dev/null', 'w').write('x'); open('/dev/urandom', 'rb').read(1); print('allowed')\n"
        "try:\n    os.open('/dev/kmsg', os.O_RDONLY)\nexcept PermissionError:\n    print('kmsg refused')"
    )
    m.apply(c.pid)
    m.set(res(devices=[r.to_dict() for r in rules]))
    c.go()
    rc, out, err = c.wait()
    assert rc == 0, err
    assert out.split() == ["allowed", "kmsg", "refused"]


def test_a_refused_device_program_says_what_the_verifier_said() -> None:
    """bpf(2) through the shim (_sys.bpf_prog_load): a program the verifier refuses (here one that
    never exits) is one CgroupError naming linux.resources.devices, the errno and the verifier's
    last line; a good one loads and gives an fd."""
    from libcontainer_py.cgroups import bpf

    with pytest.raises(CgroupError, match=r"loading the device BPF program: .*\(verifier: .+\)") as info:
        bpf.load_program([bpf.Insn(op=bpf._MOV64_K, dst=0, imm=1)])  # r0 = 1, and no exit
    assert info.value.field == "linux.resources.devices"
    fd = bpf.load_program(bpf.compile_device_program([]))
    try:
        assert os.readlink(f"/proc/self/fd/{fd}") == "anon_inode:bpf-prog"
    finally:
        os.close(fd)


@needs_unified
def test_v2_hugetlb_and_missing_controller(cg: Any) -> None:
    make, spawn = cg
    m = make(v2=True)
    c = spawn("import time; time.sleep(30)")
    m.apply(c.pid)
    if "hugetlb" not in Path(f"{UNIFIED}/cgroup.controllers").read_text().split():
        pytest.skip("hugetlb is not on the cgroup2 mount here")
    m.set(res(hugepageLimits=[{"pageSize": "2MB", "limit": 4 << 20}]))
    assert Path(m.paths()[""], "hugetlb.2MB.max").read_text().strip() == str(4 << 20)
    with pytest.raises(CgroupError, match=r"^linux\.resources\.memory: the memory controller is not available in"):
        m.set(res(memory={"limit": 1 << 20}))


@pytest.fixture
def v2_dir() -> Iterator[tuple[Path, int, int, int]]:
    """A new cgroup v2 directory on the unified mount, open (O_DIRECTORY), and a pipe (read, write)
    for what a child born there says (read it once the child has ended: the write end stays open
    here until the end); all removed and closed after."""
    d = Path(UNIFIED, f"{PREFIX}born-{uuid.uuid4().hex[:8]}")
    d.mkdir()
    fds = [os.open(d, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC), *os.pipe()]
    try:
        yield d, fds[0], fds[1], fds[2]
    finally:
        for fd in fds:
            os.close(fd)
        d.rmdir()


@needs_unified
def test_a_child_born_in_its_v2_cgroup(v2_dir: tuple[Path, int, int, int]) -> None:
    """pidfork.bare_fork with a cgroup v2 directory (clone3 CLONE_INTO_CGROUP): the child is in
    that cgroup from its first instruction, with nobody moving it (no cgroup.procs write, and its
    wait for an RCU grace period after an idle moment); the caller stays where it was."""
    from libcontainer_py.init.pidfork import fork_in_pidns

    d, fd, r, w = v2_dir
    ours = Path("/proc/self/cgroup").read_text()
    forked = fork_in_pidns(None, cgroup_fd=fd)
    if forked is not None and forked[0] == 0:  # the child: where is it, first thing?
        try:
            os.write(w, Path("/proc/self/cgroup").read_bytes())
        finally:
            os._exit(0)
    assert forked is not None
    pid, _mask, placed = forked
    _, status = os.waitpid(pid, 0)
    seen = os.read(r, 65536).decode()
    assert os.waitstatus_to_exitcode(status) == 0
    assert placed is True
    assert f"0::/{d.name}" in seen.splitlines(), seen
    assert Path("/proc/self/cgroup").read_text() == ours


@needs_unified
def test_execs_vfork_child_is_born_in_its_v2_cgroup(v2_dir: tuple[Path, int, int, int]) -> None:
    """_sys.vfork_plan with a cgroup v2 directory (exec's child that runs no Python: clone3 with
    CLONE_VM | CLONE_VFORK | CLONE_INTO_CGROUP): the program it execs is in that cgroup, and no
    fallback hid a refusal (vfork_plan returns None when the kernel refuses the clone)."""
    from libcontainer_py import _sys

    d, fd, r, w = v2_dir
    ours = Path("/proc/self/cgroup").read_text()
    dup2 = (_sys.plan_const("LC_OP_DUP2"), w, 1, 0, 0, None, None, 0)
    exec_ = (_sys.plan_const("LC_OP_EXEC"), -1, 0, 0, 0, None, None, 0)
    res = _sys.vfork_plan([dup2, exec_], [b"cat", b"/proc/self/cgroup"], [], [b"/bin/cat"], cgroup_fd=fd)
    assert res is not None and res.failed == -1, res
    _, status = os.waitpid(res.pid, 0)
    seen = os.read(r, 65536).decode()
    assert os.waitstatus_to_exitcode(status) == 0
    assert f"0::/{d.name}" in seen.splitlines(), seen
    assert Path("/proc/self/cgroup").read_text() == ours


def _remove_cgroup(d: Path, *, parent_too: bool) -> None:
    """What a failed pure-v2 test may leave: the container's cgroup on the host's cgroup2 mount
    (its processes killed by pid first), and the default parent the driver made for it."""
    if d.exists():
        for pid in d.joinpath("cgroup.procs").read_text().split():
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(pid), signal.SIGKILL)
        time.sleep(0.2)
        d.rmdir()
    if parent_too:
        with contextlib.suppress(OSError):
            d.parent.rmdir()


# The start of each script below: this process's own mount namespace, where /sys/fs/cgroup is the
# host's cgroup2 hierarchy alone, the layout of a pure v2 host (whose controllers this one keeps on
# v1: none but hugetlb is enabled there). The children it starts (pyrunc) inherit it.
_PURE_V2 = r"""
import os, subprocess, sys
from libcontainer_py import _sys
from libcontainer_py._sys import consts as c

_sys.unshare(c.CLONE_NEWNS)
_sys.mount("none", "/", None, c.MS_REC | c.MS_PRIVATE, None)
_sys.umount2("/sys/fs/cgroup", c.MNT_DETACH)
"""


_PURE_V2_CALLER = _PURE_V2 + r"""
# nsdelegate, as systemd mounts it (the hierarchy's root flags: the test puts back the host's after)
_sys.mount("none", "/sys/fs/cgroup", "cgroup2", 0, "nsdelegate")
import libcontainer_py as lc
from libcontainer_py.cgroups import detect_mounts

print(detect_mounts().layout.value)
from libcontainer_py.container import Container

_create = Container.create.__func__
kinds = []


def _recording(cls, *args, **kwargs):  # which init: Container.init_kind (init/vinit.py)
    container = _create(cls, *args, **kwargs)
    kinds.append(container.init_kind)
    return container


Container.create = classmethod(_recording)
r = lc.run(sys.argv[1], root=sys.argv[2], container_id=sys.argv[3], capture_output=True, spawn=sys.argv[4])
print("init", kinds[0])
if sys.argv[4] == "forkserver":
    from libcontainer_py.init import forkserver

    forkserver.stop()
sys.stdout.write(r.stdout.decode())
sys.stderr.write(r.stderr.decode())
# the hierarchy's flags after the container's mount of it
print("flags", [line.split(" - ")[1].split()[2] for line in open("/proc/self/mountinfo") if " - cgroup2 " in line][0])
sys.exit(r.returncode)
"""


def _cgroup2_flags() -> str:
    """The super options of this host's cgroup2 hierarchy (its root's flags: nsdelegate...)."""
    with open("/proc/self/mountinfo") as f:
        return next(line.split(" - ")[1].split()[2] for line in f if " - cgroup2 " in line)


def _set_cgroup2_flags(flags: str) -> None:
    """Put the hierarchy's root flags back: a cgroup2 mount made from the host's cgroup namespace
    (in a child's own mount namespace, gone with it) applies its options to the root."""
    from libcontainer_py import _sys
    from libcontainer_py._sys import consts as c

    data = ",".join(o for o in flags.split(",") if o not in ("rw", "ro")) or None
    target = tempfile.mkdtemp(prefix=PREFIX)
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            _sys.unshare(c.CLONE_NEWNS)
            _sys.mount("none", "/", None, c.MS_REC | c.MS_PRIVATE, None)
            _sys.mount("none", target, "cgroup2", 0, data)
            code = 0
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    os.rmdir(target)
    assert os.waitstatus_to_exitcode(status) == 0


@needs_unified
@pytest.mark.parametrize("spawn", ["fork", "forkserver", "vfork"])
@pytest.mark.parametrize("userns", [False, True], ids=["single-stage", "user-namespace"])
def test_a_container_on_a_pure_v2_layout(userns: bool, spawn: str) -> None:
    """End to end on the v2 driver: a container created, run and deleted where /sys/fs/cgroup is
    a cgroup2 mount alone (a private mount namespace of a child process here). It is born in its
    cgroup, gets the device program of the default rules, sees its cgroup, and at /sys/fs/cgroup
    its own cgroup directory (no cgroup namespace: a bind, not a fresh mount, which would have
    cleared the hierarchy's nsdelegate for the whole host), and its cgroup is gone after. The
    same from the fork server (init/forkserver.py), which clones the child into the cgroup, and
    from the planned init (spawn "vfork": init/vinit.py), cloned into it too."""
    work = Path(tempfile.mkdtemp(prefix=PREFIX))
    os.chmod(work, 0o755)
    cid = f"{PREFIX}v2-{uuid.uuid4().hex[:8]}"
    host_dir = Path(UNIFIED, "pyrunc", cid)
    parent_was_there = host_dir.parent.exists()
    flags = _cgroup2_flags()
    try:
        from libcontainer_py.bundle import make_busybox_bundle

        bundle = make_busybox_bundle(
            work / "b",
            args=["sh", "-c", "cat /proc/self/cgroup; grep ' /sys/fs/cgroup ' /proc/self/mountinfo; echo >/dev/null"],
        )
        if userns:  # the two-stage create: stage 1, born in the cgroup, forks the init
            import json

            config = json.loads((bundle / "config.json").read_text())
            config["linux"]["namespaces"].append({"type": "user"})
            config["linux"]["uidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
            config["linux"]["gidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
            (bundle / "config.json").write_text(json.dumps(config))
        proc = subprocess.run(
            [sys.executable, "-c", _PURE_V2_CALLER, str(bundle), str(work / "state"), cid, spawn],
            capture_output=True,
            text=True,
            timeout=60,
            cwd="/",
        )
        assert proc.returncode == 0, proc.stderr
        lines = proc.stdout.splitlines()
        assert lines[0] == "v2"
        kind = "init planned" if spawn == "vfork" and not userns else "init python: "
        assert lines[1].startswith(kind), lines[1]
        # (its v1 hierarchies stay listed: it is in their root cgroups, which no driver touched)
        assert f"0::/pyrunc/{cid}" in lines, lines
        (mount,) = [line for line in lines if " /sys/fs/cgroup " in line]
        assert " - cgroup2 " in mount, mount
        assert mount.split()[3] == f"/pyrunc/{cid}", mount  # its root: the container's own cgroup
        assert "nsdelegate" in lines[-1].split()[1].split(","), lines[-1]
        assert not host_dir.exists()
    finally:
        if _cgroup2_flags() != flags:
            _set_cgroup2_flags(flags)
        _remove_cgroup(host_dir, parent_too=not parent_was_there)
        shutil.rmtree(work)


_PURE_V2_CLI = _PURE_V2 + r"""
import json
_sys.mount("none", "/sys/fs/cgroup", "cgroup2", 0, None)
pyrunc, bundle, root, cid = sys.argv[1:5]


def run(*args):
    # stdout and stderr in files: a detached container keeps the stdio it was given, and the end
    # of a pipe it holds would come only with it
    with open(root + ".out", "w+") as out, open(root + ".err", "w+") as err:
        p = subprocess.run([pyrunc, "--root", root, *args], stdout=out, stderr=err, stdin=subprocess.DEVNULL)
        out.seek(0)
        err.seek(0)
        if p.returncode != 0:
            sys.exit(f"pyrunc {' '.join(args)}: {err.read().strip()}")
        return out.read()


# hugetlb, the one controller this host's cgroup2 root has: a limit at create and one updated,
# on a first container under a new parent (whose controllers create enables on the way down)
hugetlb = "hugetlb" in open("/sys/fs/cgroup/cgroup.controllers").read().split()
if hugetlb:
    with open(os.path.join(bundle, "config.json")) as f:
        config = json.load(f)
    config["linux"]["resources"]["hugepageLimits"] = [{"pageSize": "2MB", "limit": 4 << 20}]
    with open(os.path.join(bundle, "config.json"), "w") as f:
        json.dump(config, f)
    with open(root + ".res", "w") as f:
        json.dump({"hugepageLimits": [{"pageSize": "2MB", "limit": 8 << 20}]}, f)
limit = f"/sys/fs/cgroup/pyrunc/{cid}/hugetlb.2MB.max"
run("run", "-d", "--bundle", bundle, cid)
try:
    if hugetlb:
        print(open(limit).read().strip())
        run("update", "--resources", root + ".res", cid)
        print(open(limit).read().strip())
    else:
        print(4 << 20, 8 << 20)
    print(run("exec", cid, "cat", "/proc/self/cgroup").split()[-1])
    run("pause", cid)
    print(json.loads(run("state", cid))["status"])
    run("resume", cid)
    print(json.loads(run("state", cid))["status"])
    # (cpu.stat is in every v2 cgroup; this mount enables no pids or memory controller)
    print(json.loads(run("events", "--stats", cid))["data"]["cpu"]["usage"]["total"] > 0)
    print(len(run("ps", "--format", "json", cid).strip("[]\n").split(",")))
finally:
    run("delete", "--force", cid)
print(os.path.exists(f"/sys/fs/cgroup/pyrunc/{cid}"))
"""


@needs_unified
def test_pyrunc_verbs_on_a_pure_v2_layout() -> None:
    """pyrunc's verbs on the v2 driver, as podman would call them on a v2 host: a hugetlb limit
    at create and by update, exec joins the container's cgroup, pause freezes it
    (cgroup.freeze), events --stats reads it, ps lists it, delete --force of the running
    container removes it."""
    work = Path(tempfile.mkdtemp(prefix=PREFIX))
    os.chmod(work, 0o755)
    cid = f"{PREFIX}v2cli-{uuid.uuid4().hex[:8]}"
    host_dir = Path(UNIFIED, "pyrunc", cid)
    parent_was_there = host_dir.parent.exists()
    try:
        from libcontainer_py.bundle import make_busybox_bundle

        bundle = make_busybox_bundle(work / "b", args=["sleep", "100"])
        pyrunc = str(Path(sys.executable).with_name("pyrunc"))
        proc = subprocess.run(
            [sys.executable, "-c", _PURE_V2_CLI, pyrunc, str(bundle), str(work / "state"), cid],
            capture_output=True,
            text=True,
            timeout=120,
            cwd="/",
        )
        assert proc.returncode == 0, proc.stderr
        # exec's process in the container's cgroup; paused, then running; its cpu time counted;
        # the sleep alone in ps; the cgroup gone after
        assert proc.stdout.split() == [
            str(4 << 20),
            str(8 << 20),
            f"0::/pyrunc/{cid}",
            "paused",
            "running",
            "True",
            "1",
            "False",
        ], proc.stdout
        assert not host_dir.exists()
    finally:
        _remove_cgroup(host_dir, parent_too=not parent_was_there)
        shutil.rmtree(work)


_SPEC_ON_V2 = _PURE_V2 + r"""
_sys.mount("none", "/sys/fs/cgroup", "cgroup2", 0, None)
pyrunc, work = sys.argv[1:3]
for tool in ("runc", pyrunc):
    for rootless in ([], ["--rootless"]):
        d = os.path.join(work, os.path.basename(tool) + "".join(rootless))
        os.mkdir(d)
        subprocess.run([tool, "spec", "--bundle", d, *rootless], check=True)
"""


@needs_unified
@pytest.mark.skipif(shutil.which("runc") is None, reason="runc is not installed (CI installs it)")
def test_spec_on_a_pure_v2_layout_as_runc_spec() -> None:
    """`pyrunc spec` where /sys/fs/cgroup is cgroup2 (a pure v2 host) writes what `runc spec` writes
    there: the default namespaces and a cgroup namespace, for both the default and the rootless."""
    import json

    work = Path(tempfile.mkdtemp(prefix=PREFIX))
    try:
        pyrunc = str(Path(sys.executable).with_name("pyrunc"))
        proc = subprocess.run(
            [sys.executable, "-c", _SPEC_ON_V2, pyrunc, str(work)], capture_output=True, text=True, timeout=60
        )
        assert proc.returncode == 0, proc.stderr
        for suffix in ("", "--rootless"):
            theirs = json.loads((work / f"runc{suffix}" / "config.json").read_text())
            ours = json.loads((work / f"pyrunc{suffix}" / "config.json").read_text())
            theirs.pop("ociVersion")
            ours.pop("ociVersion")
            assert ours == theirs, suffix
            assert {"type": "cgroup"} in ours["linux"]["namespaces"]
    finally:
        shutil.rmtree(work)


def test_zz_nothing_left_behind() -> None:
    left = []
    for base in ["/sys/fs/cgroup"] + [os.path.join("/sys/fs/cgroup", d) for d in os.listdir("/sys/fs/cgroup")]:
        if os.path.isdir(base):
            left += [os.path.join(base, n) for n in os.listdir(base) if n.startswith(PREFIX)]
    assert left == []
