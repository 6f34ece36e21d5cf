"""linux.resources enforced on real containers (issue 5), observed from inside the container and from
the host's cgroup files (this machine: v1 controllers, hybrid layout): OOM kill, pids limit, cpu
quota, pause/resume, update, devices, cgroupsPath, /proc/self/cgroup, delete after SIGKILL (of the
container and of `pyrunc create`), bad input, and stats through the library.

Containers go through the `rt` fixture (which deletes them and checks for leaks); every test also
checks that the container's cgroup directories are gone at the end."""

from __future__ import annotations

import contextlib
import errno
import json
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from libcontainer_py.cgroups import Layout, Stats, detect_mounts
from libcontainer_py.container import Container
from libcontainer_py.state import Status

MOUNTS = detect_mounts()
pytestmark = pytest.mark.skipif(
    MOUNTS.layout not in (Layout.V1, Layout.HYBRID),
    reason="these container tests read the v1 controllers' files (this host's layout is not v1/hybrid)",
)
CG = "/sys/fs/cgroup"
CONTROLLERS = ("memory", "pids", "cpu", "cpuacct", "cpuset", "freezer", "devices", "blkio")
MiB = 1 << 20


def cg_dir(controller: str, cid: str, parent: str = "pyrunc") -> str:
    return f"{CG}/{controller}/{parent}/{cid}"


def cg_read(controller: str, cid: str, file: str) -> str:
    with open(f"{cg_dir(controller, cid)}/{file}") as f:
        return f.read().strip()


def cg_left(inner: str) -> list[str]:
    """The hierarchies that still have the cgroup `inner` (a path from the hierarchy root)."""
    return [c for c in os.listdir(CG) if os.path.isdir(f"{CG}/{c}/{inner.lstrip('/')}")]


def resources(**res: Any) -> Callable[[dict[str, Any]], None]:
    def edit(config: dict[str, Any]) -> None:
        config["linux"].setdefault("resources", {}).update(res)

    return edit


def edits(*fns: Callable[[dict[str, Any]], None]) -> Callable[[dict[str, Any]], None]:
    def edit(config: dict[str, Any]) -> None:
        for fn in fns:
            fn(config)

    return edit


def share(path: Path, dest: str = "/shared") -> Callable[[dict[str, Any]], None]:
    def edit(config: dict[str, Any]) -> None:
        config["mounts"].append({"destination": dest, "type": "bind", "source": str(path), "options": ["rbind", "rw"]})

    return edit


@contextlib.contextmanager
def running(rt: Any, bundle: Path, cid: str | None = None) -> Iterator[Container]:
    """A started library container, deleted (force) on the way out; its cgroup must be gone then."""
    cid = cid or rt.new_id()
    null = os.open(os.devnull, os.O_RDWR | os.O_CLOEXEC)
    try:
        c = Container.create(cid, bundle, root=rt.root, stdio=(null, null, None))
    finally:
        os.close(null)
    try:
        c.start()
        yield c
    finally:
        c.delete(force=True)
    assert cg_left(f"/pyrunc/{cid}") == []


def poll(fn: Callable[[], Any], timeout: float = 5.0, interval: float = 0.02) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = fn()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(interval)


# --- enforcement ----------------------------------------------------------------------------------


def test_memory_hog_is_oom_killed(rt: Any) -> None:
    # dd's 64 MiB buffer is touched by the read: more than the 16 MiB limit (memory+swap too).
    script = "dd if=/dev/zero of=/dev/null bs=64M count=1; echo dd=$?; dd if=/dev/zero of=/dev/null bs=1M count=1"
    bundle = rt.bundle(["sh", "-c", script], edit=resources(memory={"limit": 16 * MiB, "swap": 16 * MiB}))
    r = rt.run(bundle)
    assert r.rc == 0, r
    assert r.out.splitlines()[0] == f"dd={128 + signal.SIGKILL}", r  # the hog died; the shell went on


def test_oom_counter_and_event(rt: Any) -> None:
    # The hog runs after a pause so that `pyrunc events` (a stream) is watching when it happens.
    script = "sleep 0.5; dd if=/dev/zero of=/dev/null bs=64M count=1; sleep 100"
    bundle = rt.bundle(["sh", "-c", script], edit=resources(memory={"limit": 16 * MiB, "swap": 16 * MiB}))
    cid = rt.new_id()
    assert rt.pyrunc("create", "--bundle", str(bundle), cid).rc == 0
    events = subprocess.Popen(
        [*rt.cmd, "--root", rt.root, "events", "--interval", "10s", cid],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert events.stdout is not None
        first = events.stdout.readline()  # it prints stats at once: from now on it watches for OOMs
        assert rt.pyrunc("start", cid).rc == 0
        c = Container.load(cid, rt.root)
        assert poll(lambda: c.stats().oom_kill >= 1), "no OOM kill counted"
        assert rt.pyrunc("kill", cid, "KILL").rc == 0
        out, err = events.communicate(timeout=15)  # the stream ends when the container stops
    finally:
        if events.poll() is None:
            events.kill()
            events.wait()

    docs = [json.loads(line) for line in [first, *out.splitlines()]]
    assert {"type": "oom", "id": cid} in docs, (out, err)
    assert docs[0]["type"] == "stats"  # the first stats object comes right away
    assert rt.pyrunc("delete", cid).rc == 0
    assert cg_left(f"/pyrunc/{cid}") == []


def test_fork_loop_stops_at_the_pids_limit(rt: Any) -> None:
    script = "i=0; while [ $i -lt 30 ]; do sleep 30 & i=$((i+1)); echo started $i; done"
    bundle = rt.bundle(["sh", "-c", script], edit=resources(pids={"limit": 8}))
    r = rt.run(bundle)
    # The shell counts as one of the 8: it started 7 children, then its fork failed (EAGAIN).
    assert r.out.split("\n")[-2] == "started 7", r
    assert "can't fork" in r.err and os.strerror(11) in r.err, r


def test_pids_limit_zero_is_valid(rt: Any) -> None:
    # 0 is a limit ("no new processes"), not "unset": the program (the init itself) still runs.
    bundle = rt.bundle(["sh", "-c", "echo alone; sleep 0 && echo forked"], edit=resources(pids={"limit": 0}))
    r = rt.run(bundle)
    assert r.out == "alone\n", r
    assert "can't fork" in r.err, r


def test_cpu_quota_throttles(rt: Any) -> None:
    busy = "i=0; while [ $i -lt 200000 ]; do i=$((i+1)); done; sleep 100"
    bundle = rt.bundle(["sh", "-c", busy], edit=resources(cpu={"quota": 10000, "period": 100000}))
    with running(rt, bundle) as c:
        assert cg_read("cpu", c.id, "cpu.cfs_quota_us") == "10000"
        assert cg_read("cpu", c.id, "cpu.cfs_period_us") == "100000"
        assert poll(lambda: _throttled(c.id) > 0), "cpu.stat: nr_throttled stayed 0"
        stats = c.stats()
        assert stats.cpu.throttling.throttled_periods > 0
        assert stats.cpu.throttling.periods >= stats.cpu.throttling.throttled_periods


def _throttled(cid: str) -> int:
    with open(f"{cg_dir('cpu', cid)}/cpu.stat") as f:
        return int(dict(line.split() for line in f).get("nr_throttled", "0"))


def test_pause_freezes_and_resume_thaws(rt: Any) -> None:
    shared = rt.mkdir("shared")
    counter = shared / "counter"
    loop = "i=0; while true; do i=$((i+1)); echo $i > /shared/counter; done"
    bundle = rt.bundle(["sh", "-c", loop], edit=share(shared))
    with running(rt, bundle) as c:

        def value() -> int:
            with contextlib.suppress(OSError, ValueError):
                return int(counter.read_text() or -1)
            return -1

        assert poll(lambda: value() > 0)
        c.pause()
        assert c.status is Status.PAUSED
        assert c.state()["status"] == "paused"
        assert cg_read("freezer", c.id, "freezer.state") == "FROZEN"
        frozen = value()
        time.sleep(0.2)
        assert value() == frozen, "the loop ran while paused"
        c.resume()
        assert c.state()["status"] == "running"
        assert cg_read("freezer", c.id, "freezer.state") == "THAWED"
        assert poll(lambda: value() > frozen), "the loop did not resume"


def test_update_changes_a_live_limit(rt: Any) -> None:
    bundle = rt.bundle(["sleep", "100"], edit=resources(memory={"limit": 64 * MiB}, pids={"limit": 20}))
    with running(rt, bundle) as c:
        assert cg_read("memory", c.id, "memory.limit_in_bytes") == str(64 * MiB)
        c.update({"memory": {"limit": 32 * MiB}, "pids": {"limit": 10}, "cpu": {"shares": 512}})
        assert cg_read("memory", c.id, "memory.limit_in_bytes") == str(32 * MiB)
        assert cg_read("pids", c.id, "pids.max") == "10"
        assert cg_read("cpu", c.id, "cpu.shares") == "512"
        # and from inside: the container's /sys/fs/cgroup shows its own cgroup
        r = rt.pyrunc("exec", c.id, "sh", "-c",
                      "cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/pids/pids.max")  # fmt: skip
        assert r.rc == 0 and r.out.split() == [str(32 * MiB), "10"], r
        stats = c.stats()
        assert stats.pids.limit == 10 and stats.memory.usage.limit == 32 * MiB


def test_devices_cgroup_denies_a_node(rt: Any) -> None:
    # With CAP_MKNOD the container can make any node ("c *:* m" is allowed, as runc allows it), but
    # only the allowed ones open: 1:3 (/dev/null's numbers) is on the default list, 1:11 (kmsg) not.
    def caps(config: dict[str, Any]) -> None:
        for kind in ("bounding", "effective", "permitted"):
            config["process"]["capabilities"][kind].append("CAP_MKNOD")

    script = (
        "mknod /dev/allowed c 1 3 && mknod /dev/denied c 1 11 && echo made; "
        "echo x > /dev/allowed && echo allowed-ok; head -c1 /dev/denied; echo denied=$?"
    )
    r = rt.run(rt.bundle(["sh", "-c", script], edit=caps))
    assert r.out.split() == ["made", "allowed-ok", "denied=1"], r
    assert os.strerror(1) in r.err, r  # EPERM from the devices cgroup


def test_every_device_rule_reaches_the_cgroup(rt: Any) -> None:
    """The deny-all, then the default allow rules, one write(2) each: the kernel took every one of
    them, and the container's cgroup allows nothing else."""
    from libcontainer_py._create import DEFAULT_ALLOWED_DEVICES

    expected = {f"{kind} {'*' if major is None else major}:{'*' if minor is None else minor} {access}"
                for kind, major, minor, access in DEFAULT_ALLOWED_DEVICES}  # fmt: skip
    cid = rt.new_id()
    with running(rt, rt.bundle(["sleep", "100"]), cid) as c:
        assert set(cg_read("devices", c.id, "devices.list").splitlines()) == expected


def test_linux_devices_node_is_usable(rt: Any) -> None:
    # Each linux.devices entry gets an allow rule after the spec's rules (runc does the same), so a
    # node the config asks for can be used even though the default config denies everything first.
    def edit(config: dict[str, Any]) -> None:
        config["linux"]["devices"] = [{"path": "/dev/mykmsg", "type": "c", "major": 1, "minor": 11, "fileMode": 0o644}]

    cid = rt.new_id()
    bundle = rt.bundle(["sleep", "100"], edit=edit)
    with running(rt, bundle, cid) as c:
        rules = cg_read("devices", c.id, "devices.list").splitlines()
        assert "c 1:11 rwm" in rules
        assert "a *:* rwm" not in rules


# --- where the cgroup is --------------------------------------------------------------------------


def test_default_cgroup_and_proc_self_cgroup(rt: Any) -> None:
    cid = rt.new_id()
    bundle = rt.bundle(["cat", "/proc/self/cgroup"])
    r = rt.run(bundle, cid=cid)
    assert r.rc == 0, r
    lines = r.out
    seen = dict(line.split(":", 2)[1:] for line in lines.splitlines())
    for ctrl in ("memory", "pids", "cpu,cpuacct" if "cpu,cpuacct" in seen else "cpu", "freezer", "devices"):
        assert seen[ctrl] == f"/pyrunc/{cid}", (ctrl, lines)
    assert cg_left(f"/pyrunc/{cid}") == []


def test_cgroup_namespace_roots_proc_self_cgroup(rt: Any) -> None:
    def edit(config: dict[str, Any]) -> None:
        config["linux"]["namespaces"].append({"type": "cgroup"})

    lines = rt.out(rt.bundle(["cat", "/proc/self/cgroup"], edit=edit))
    for line in lines.splitlines():
        _, ctrl, path = line.split(":", 2)
        if ctrl and ctrl != "name=systemd":
            assert path == "/", lines  # the namespace is rooted at the container's cgroup


@pytest.mark.parametrize("how", ["bind", "cgroupns", "userns"])
def test_cgroup_mount_shows_every_hierarchy_read_only(rt: Any, how: str) -> None:
    """The "cgroup" mount on a v1 host (rootfs/mounts.py _mount_cgroup): a tmpfs with one read-only
    directory per host hierarchy, named as on the host, holding the container's own cgroup (a bind
    of it, or a fresh mount rooted at the cgroup namespace), and a symlink for each controller of a
    co-mounted pair (cpu -> cpu,cpuacct). The same from a user namespace, whose mount namespace
    holds the host's cgroup mounts with their flags locked (none but relatime on this host's:
    tests/unit/test_rootfs_cgroup_mount.py has the refused remount that a locked flag causes)."""
    from libcontainer_py.mountinfo import parse_mountinfo, read_mountinfo

    cgroupns = how == "cgroupns"

    def edit(config: dict[str, Any]) -> None:
        if cgroupns:
            config["linux"]["namespaces"].append({"type": "cgroup"})
        if how == "userns":
            config["linux"]["namespaces"].append({"type": "user"})
            config["linux"]["uidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
            config["linux"]["gidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]

    cid = rt.new_id()
    script = "cat /proc/self/mountinfo; echo ==; ls -l /sys/fs/cgroup; echo ==; cat /sys/fs/cgroup/pids/pids.max"
    r = rt.run(rt.bundle(["sh", "-c", script], edit=edit), cid=cid)
    assert r.rc == 0, r
    mi_text, ls_text, pids_max = r.out.split("==\n")
    inside = {m.mountpoint: m for m in parse_mountinfo(mi_text)}  # (the last mount at each point)
    assert inside["/sys/fs/cgroup"].fstype == "tmpfs" and "ro" in inside["/sys/fs/cgroup"].options
    names = {os.path.basename(m.mountpoint.rstrip("/")) for m in read_mountinfo(fstypes=("cgroup",))}
    assert names
    for name in names:
        m = inside[f"/sys/fs/cgroup/{name}"]
        assert m.fstype == "cgroup" and "ro" in m.options, m
        assert m.root == ("/" if cgroupns else f"/pyrunc/{cid}"), m
        for single in name.split(",") if "," in name else ():
            assert f"{single} -> {name}" in ls_text, ls_text
    assert pids_max.strip() == "max"
    assert cg_left(f"/pyrunc/{cid}") == []


@pytest.mark.parametrize("kind", ["absolute", "relative"])
def test_cgroups_path(rt: Any, kind: str) -> None:
    cid = rt.new_id()
    parent = f"pyrunc-test-{cid}"
    value = f"/{parent}/box" if kind == "absolute" else f"{parent}/box"
    # absolute: under each hierarchy's root, as runc; relative: under /pyrunc (runc would put it
    # under its own cgroup; libcontainer_py/cgroups/paths.py says why pyrunc does not).
    inner = f"/{parent}/box" if kind == "absolute" else f"/pyrunc/{parent}/box"
    bundle = rt.bundle(["sleep", "100"], edit=lambda c: c["linux"].__setitem__("cgroupsPath", value))
    try:
        r = rt.pyrunc("run", "-d", "--bundle", str(bundle), cid)
        assert r.rc == 0, r
        pid = rt.state(cid)["pid"]
        with open(f"/proc/{pid}/cgroup") as f:
            seen = dict(line.strip().split(":", 2)[1:] for line in f)
        assert seen["memory"] == inner and seen["pids"] == inner, seen
        assert set(cg_left(inner)) >= set(CONTROLLERS)
        assert rt.pyrunc("delete", "--force", cid).rc == 0
        assert cg_left(inner) == []
    finally:
        top = f"/{parent}" if kind == "absolute" else f"/pyrunc/{parent}"
        rt.pyrunc("delete", "--force", cid)
        # The parent we named is ours to remove (runc leaves parents too); in every hierarchy,
        # the name=systemd one included.
        for c in os.listdir(CG):
            for d in (f"{CG}/{c}{top}/box", f"{CG}/{c}{top}"):
                with contextlib.suppress(FileNotFoundError):
                    os.rmdir(d)


def test_refuses_a_cgroup_that_has_processes(rt: Any) -> None:
    first, second = rt.new_id(), rt.new_id()
    path = f"/pyrunc/shared-{first}"
    bundle = rt.bundle(["sleep", "100"], edit=lambda c: c["linux"].__setitem__("cgroupsPath", path))
    assert rt.pyrunc("run", "-d", "--bundle", str(bundle), first).rc == 0
    r = rt.pyrunc("create", "--bundle", str(bundle), second)
    assert r.rc == 1, r
    assert "linux.cgroupsPath" in r.err and "already has processes" in r.err, r
    assert len(r.err.strip().splitlines()) == 1, r
    assert rt.state_dirs() == [first]
    # the failed create left the first container's cgroup alone
    assert set(cg_left(path)) >= set(CONTROLLERS)
    assert str(rt.state(first)["pid"]) in _procs_in(path)
    assert rt.pyrunc("delete", "--force", first).rc == 0
    assert cg_left(path) == []


# --- delete removes the cgroup, whatever happened ------------------------------------------------


def test_delete_after_kill_9_of_the_container(rt: Any) -> None:
    cid = rt.new_id()
    bundle = rt.bundle(["sh", "-c", "sleep 100 & sleep 100"], edit=resources(pids={"limit": 10}))
    assert rt.pyrunc("run", "-d", "--bundle", str(bundle), cid).rc == 0
    pid = rt.state(cid)["pid"]
    assert poll(lambda: len(Container.load(cid, rt.root).processes()) == 2)  # sh and a sleep (sh execs the other)
    os.kill(pid, signal.SIGKILL)
    rt.wait_status(cid, "stopped")
    r = rt.pyrunc("delete", cid)
    assert r.rc == 0, r
    assert cg_left(f"/pyrunc/{cid}") == []


@pytest.mark.parametrize("pidns", [True, False])
def test_delete_after_the_init_ended_removes_its_cgroup_and_what_is_left_in_it(rt: Any, pidns: bool) -> None:
    """Its init ended: with a pid namespace of its own, the kernel took the other processes with
    it, and delete removes the empty cgroup without listing it (Manager.remove_if_empty); without
    one, a background process outlives the init, the rmdir finds the cgroup busy, and delete lists
    it, kills it and removes the cgroup, as for a running container."""

    def edit(config: dict[str, Any]) -> None:
        if not pidns:
            config["linux"]["namespaces"] = [n for n in config["linux"]["namespaces"] if n["type"] != "pid"]

    cid = rt.new_id()
    bundle = rt.bundle(["sh", "-c", "sleep 100 & echo $! > /tmp/bg; exit 0"], edit=edit)
    assert rt.pyrunc("run", "-d", "--bundle", str(bundle), cid).rc == 0
    init = rt.state(cid)["pid"]
    rt.wait_status(cid, "stopped")
    left = [int(p) for p in _procs_in(f"/pyrunc/{cid}")]
    if pidns:
        assert left == [], left
    else:
        assert len(left) == 1 and left[0] != init, left  # the sleep, in the host's pid namespace
        with open(f"/proc/{left[0]}/cmdline", "rb") as f:
            assert f.read().split(b"\0")[0] == b"sleep"
    r = rt.pyrunc("delete", cid)
    assert r.rc == 0, r
    assert cg_left(f"/pyrunc/{cid}") == [] and rt.state_dirs() == []
    for pid in left:  # killed (a zombie until its new parent, a subreaper, reaps it)
        assert poll(lambda pid=pid: _state_of(pid) in (None, "Z"), timeout=5), pid


def _state_of(pid: int) -> str | None:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rpartition(")")[2].split()[0]
    except OSError:
        return None


def test_delete_after_create_was_sigkilled(rt: Any) -> None:
    cid = rt.new_id()
    bundle = rt.bundle(["true"], edit=resources(memory={"limit": 64 * MiB}, pids={"limit": 10}))
    env = dict(os.environ, LIBCONTAINER_PY_STOP_AT="create:cgroup-applied")
    p = subprocess.Popen([*rt.cmd, "--root", rt.root, "create", "--bundle", str(bundle), cid], env=env,
                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        assert poll(lambda: _stopped(p.pid), timeout=20), "pyrunc create did not reach the checkpoint"
        assert cg_left(f"/pyrunc/{cid}"), "the cgroup should exist at the checkpoint"
    finally:
        p.kill()
        p.wait(10)
    # Stage 1, left waiting for "cgroup-done", sees the socket close and exits.
    assert poll(lambda: not _procs_in(f"/pyrunc/{cid}"), timeout=5)
    r = rt.pyrunc("delete", "--force", cid)
    assert r.rc == 0, r
    assert rt.state_dirs() == []
    assert cg_left(f"/pyrunc/{cid}") == []


@pytest.mark.parametrize("userns", [False, True])
def test_the_init_mounts_nothing_until_the_limits_are_written(rt: Any, userns: bool) -> None:
    """The limits are written while the child joins the cgroup (_create._set_limits); a v1 device
    list goes "deny all" first, then one allow rule at a time, so the init must not open or make a
    device (nor mount anything, which may) before "limits-done". With the runtime stopped before it
    writes them, the init stays without a mount of its own; let go, the container runs and uses
    /dev/null. (Without that wait, 2 creates in 150 failed reopening stdio on /dev/null.)"""

    def edit(config: dict[str, Any]) -> None:
        if userns:
            config["linux"]["namespaces"].append({"type": "user"})
            config["linux"]["uidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
            config["linux"]["gidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]

    cid = rt.new_id()
    bundle = rt.bundle(["sh", "-c", "echo ok >/dev/null && echo ok"], edit=edit)
    env = dict(os.environ, LIBCONTAINER_PY_STOP_AT="create:limits-pending")
    # (not pipes: the created container holds its stdio until it ends)
    p = subprocess.Popen([*rt.cmd, "--root", rt.root, "create", "--bundle", str(bundle), cid], env=env,
                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        assert poll(lambda: _stopped(p.pid), timeout=20), "pyrunc create did not reach the checkpoint"
        rootfs = str(bundle / "rootfs")
        assert poll(lambda: bool(_procs_in(f"/pyrunc/{cid}"))), "the child should have joined the cgroup"
        time.sleep(0.3)  # time enough for an init that did not wait to mount everything
        # Listed again now: with a user namespace, stage 1 joins the cgroup, forks the init and
        # ends, and a process that is ending has no mountinfo to read (EINVAL) or no /proc entry.
        seen = 0
        for pid in _procs_in(f"/pyrunc/{cid}"):
            try:
                with open(f"/proc/{pid}/mountinfo") as f:
                    points = [line.split()[4] for line in f]
            except OSError as exc:
                if exc.errno not in (errno.ENOENT, errno.ESRCH, errno.EINVAL):
                    raise
                continue
            seen += 1
            # the rootfs bound onto itself, not pivoted into (then it would be "/"), nothing on it
            assert rootfs in points, (pid, points)
            assert not [m for m in points if m.startswith(rootfs + "/")], (pid, points)
        assert seen, "no process of the container was there to look at"
        assert cg_read("devices", cid, "devices.list") == "a *:* rwm"  # nothing written yet
        os.kill(p.pid, signal.SIGCONT)
        assert p.wait(30) == 0
    finally:
        if p.poll() is None:
            p.kill()
            p.wait(10)
    assert "c 1:3 rwm" in cg_read("devices", cid, "devices.list")
    r = rt.pyrunc("start", cid)
    assert r.rc == 0, r
    rt.wait_status(cid, "stopped")
    assert rt.pyrunc("delete", cid).rc == 0
    assert cg_left(f"/pyrunc/{cid}") == []


def _stopped(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rpartition(")")[2].split()[0] == "T"
    except OSError:
        return False


def _procs_in(inner: str) -> list[str]:
    try:
        with open(f"{CG}/pids{inner}/cgroup.procs") as f:
            return f.read().split()
    except OSError:
        return []


# --- bad input: one line naming the field, nothing half-applied ------------------------------------


@pytest.mark.parametrize(
    ("res", "field", "text"),
    [
        ({"cpu": {"cpus": "0-63"}}, "linux.resources.cpu.cpus", "0-63"),
        ({"memory": {"limit": -5}}, "linux.resources.memory.limit", "-5"),
        ({"pids": {"limit": "lots"}}, "linux.resources.pids.limit", "lots"),
        ({"cpu": {"quota": 500}}, "linux.resources.cpu.quota", "500"),
        ({"blockIO": {"weight": 5000}}, "linux.resources.blockIO.weight", "5000"),
    ],
    ids=["cpuset-outside-host", "negative-memory", "malformed-pids", "quota-too-small", "blkio-weight"],
)
def test_bad_resources_on_create(rt: Any, res: dict[str, Any], field: str, text: str) -> None:
    cid = rt.new_id()
    bundle = rt.bundle(["true"], edit=resources(**res))
    r = rt.pyrunc("create", "--bundle", str(bundle), cid)
    assert r.rc == 1, r
    lines = r.err.strip().splitlines()
    assert len(lines) == 1, r
    assert field in lines[0] and text in lines[0], r
    assert rt.state_dirs() == []
    assert cg_left(f"/pyrunc/{cid}") == []


def test_update_below_usage_with_check_before_update(rt: Any) -> None:
    bundle = rt.bundle(["sleep", "100"], edit=resources(memory={"limit": 64 * MiB, "checkBeforeUpdate": True}))
    with running(rt, bundle) as c:
        usage = int(cg_read("memory", c.id, "memory.usage_in_bytes"))
        assert usage > 4096
        r = rt.pyrunc("update", "--resources", "-", c.id,
                      input='{"memory": {"limit": 4096, "checkBeforeUpdate": true}}')  # fmt: skip
        assert r.rc == 1, r
        lines = r.err.strip().splitlines()
        assert len(lines) == 1 and "linux.resources.memory.limit" in lines[0] and "below the current usage" in lines[0]
        # checkBeforeUpdate from the container's config counts too, as runc (update keeps the config's)
        r = rt.pyrunc("update", "--memory", "4096", c.id)
        assert r.rc == 1 and "below the current usage" in r.err, r
        assert cg_read("memory", c.id, "memory.limit_in_bytes") == str(64 * MiB)  # nothing applied
        assert c.status is Status.RUNNING


def test_update_half_bad_applies_nothing(rt: Any) -> None:
    bundle = rt.bundle(["sleep", "100"], edit=resources(memory={"limit": 64 * MiB}, pids={"limit": 20}))
    with running(rt, bundle) as c:
        r = rt.pyrunc("update", "--pids-limit", "5", "--cpuset-cpus", "0-63", c.id)
        assert r.rc == 1, r
        assert "linux.resources.cpu.cpus" in r.err and len(r.err.strip().splitlines()) == 1, r
        assert cg_read("pids", c.id, "pids.max") == "20"


# --- stats through the library --------------------------------------------------------------------


def test_stats_typed(rt: Any) -> None:
    bundle = rt.bundle(["sh", "-c", "sleep 100 & i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done; wait"],
                       edit=resources(memory={"limit": 64 * MiB}, pids={"limit": 20}))  # fmt: skip
    with running(rt, bundle) as c:
        assert poll(lambda: c.stats().pids.current == 2)
        s = c.stats()
        assert isinstance(s, Stats)
        assert s.pids.current == 2 and s.pids.limit == 20
        assert s.memory.usage.limit == 64 * MiB and 0 < s.memory.usage.usage < 64 * MiB
        assert poll(lambda: c.stats().cpu.usage.total > 0)
        assert len(s.cpu.usage.percpu) == os.cpu_count()
        it = c.iter_stats(interval=0.01)
        assert isinstance(next(it), Stats) and isinstance(next(it), Stats)
        event = s.to_runc_event(c.id)
        assert event["type"] == "stats" and event["id"] == c.id
        assert event["data"]["pids"] == {"current": 2, "limit": 20}
        slow = c.iter_stats(interval=60)
        assert isinstance(next(slow), Stats)
        killer = threading.Timer(0.2, c.kill, ("KILL",), {"all": True})
        killer.start()
        t0 = time.monotonic()
        with pytest.raises(StopIteration):  # it ends with the container, not a minute later
            next(slow)
        assert time.monotonic() - t0 < 30
        killer.join()
        c.wait(10)
        with pytest.raises(Exception, match="not running"):
            c.stats()
