"""pyrunc pause, resume, update, events, ps and kill --all on real containers (issue 5), checked in the
host's v1 cgroup files; `events --stats` compared with runc's where runc is installed."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import time
from collections.abc import Callable
from typing import Any

import pytest

from libcontainer_py.cgroups import Layout, detect_mounts

pytestmark = pytest.mark.skipif(
    detect_mounts().layout not in (Layout.V1, Layout.HYBRID),
    reason="these tests read the v1 controllers' files (this host's layout is not v1/hybrid)",
)
CG = "/sys/fs/cgroup"
MiB = 1 << 20
RUNC = shutil.which("runc")


def cg_read(controller: str, cid: str, file: str) -> str:
    with open(f"{CG}/{controller}/pyrunc/{cid}/{file}") as f:
        return f.read().strip()


def cg_gone(cid: str) -> bool:
    return not any(os.path.exists(f"{CG}/{c}/pyrunc/{cid}") for c in ("memory", "pids", "cpu", "freezer", "devices"))


def poll(fn: Callable[[], Any], timeout: float = 5.0) -> Any:
    deadline = time.monotonic() + timeout
    while not (value := fn()) and time.monotonic() < deadline:
        time.sleep(0.02)
    return value


def detached(rt: Any, args: list[str], edit: Any = None) -> str:
    cid = rt.new_id()
    r = rt.pyrunc("run", "-d", "--bundle", str(rt.bundle(args, edit=edit)), cid)
    assert r.rc == 0, r
    return cid


def limits(config: dict[str, Any]) -> None:
    config["linux"]["resources"].update(memory={"limit": 64 * MiB}, pids={"limit": 20},
                                        cpu={"shares": 1024, "quota": 50000, "period": 100000})  # fmt: skip


def test_pause_and_resume(rt: Any) -> None:
    shared = rt.mkdir("shared")
    counter = shared / "counter"

    def value() -> int:
        with contextlib.suppress(OSError, ValueError):
            return int(counter.read_text())
        return -1

    def edit(config: dict[str, Any]) -> None:
        config["mounts"].append({"destination": "/shared", "type": "bind", "source": str(shared),
                                 "options": ["rbind", "rw"]})  # fmt: skip

    cid = detached(rt, ["sh", "-c", "i=0; while true; do i=$((i+1)); echo $i > /shared/counter; done"], edit)
    assert poll(lambda: value() > 0)
    assert rt.pyrunc("pause", cid).rc == 0
    assert rt.state(cid)["status"] == "paused"
    listed = json.loads(rt.pyrunc("list", "--format", "json").out)
    assert [(c["id"], c["status"]) for c in listed] == [(cid, "paused")]
    assert cg_read("freezer", cid, "freezer.state") == "FROZEN"
    frozen = value()
    time.sleep(0.2)
    assert value() == frozen
    r = rt.pyrunc("pause", cid)
    assert r.rc == 1 and "not running" in r.err, r
    r = rt.pyrunc("delete", cid)
    assert r.rc == 1, r
    assert rt.pyrunc("resume", cid).rc == 0
    assert rt.state(cid)["status"] == "running"
    assert poll(lambda: value() > frozen)
    r = rt.pyrunc("resume", cid)
    assert r.rc == 1 and "not paused" in r.err, r
    # a paused container can be force-deleted: it is thawed so that SIGKILL takes
    assert rt.pyrunc("pause", cid).rc == 0
    r = rt.pyrunc("delete", "--force", cid)
    assert r.rc == 0, r
    assert cg_gone(cid)


def test_pause_a_stopped_or_created_container(rt: Any) -> None:
    cid = rt.new_id()
    assert rt.pyrunc("create", "--bundle", str(rt.bundle(["true"])), cid).rc == 0
    r = rt.pyrunc("pause", cid)
    assert r.rc == 1 and "not running" in r.err and len(r.err.strip().splitlines()) == 1, r
    r = rt.pyrunc("resume", cid)
    assert r.rc == 1 and "not paused" in r.err, r


def test_update_flags(rt: Any) -> None:
    cid = detached(rt, ["sleep", "100"], limits)
    r = rt.pyrunc(
        "update", "--memory", "32m", "--memory-reservation", "16m", "--cpu-shares", "512",
        "--cpu-quota", "20000", "--cpu-period", "50000", "--cpuset-cpus", "0", "--pids-limit", "7", cid,
    )  # fmt: skip
    assert r.rc == 0, r
    assert cg_read("memory", cid, "memory.limit_in_bytes") == str(32 * MiB)
    assert cg_read("memory", cid, "memory.soft_limit_in_bytes") == str(16 * MiB)
    assert cg_read("cpu", cid, "cpu.shares") == "512"
    assert cg_read("cpu", cid, "cpu.cfs_quota_us") == "20000"
    assert cg_read("cpu", cid, "cpu.cfs_period_us") == "50000"
    assert cg_read("cpuset", cid, "cpuset.cpus") == "0"
    assert cg_read("pids", cid, "pids.max") == "7"
    r = rt.pyrunc("exec", cid, "cat", "/sys/fs/cgroup/pids/pids.max")
    assert r.out.strip() == "7", r
    r = rt.pyrunc("update", "--pids-limit", "-1", "--memory", "-1", cid)
    assert r.rc == 0, r
    assert cg_read("pids", cid, "pids.max") == "max"
    assert int(cg_read("memory", cid, "memory.limit_in_bytes")) > 1 << 60


def test_update_resources_from_stdin_and_file(rt: Any) -> None:
    cid = detached(rt, ["sleep", "100"], limits)
    r = rt.pyrunc("update", "--resources", "-", cid, input=json.dumps({"pids": {"limit": 9}}))
    assert r.rc == 0, r
    assert cg_read("pids", cid, "pids.max") == "9"
    path = rt.base / "res.json"
    path.write_text(json.dumps({"memory": {"limit": 48 * MiB}, "cpu": {"shares": 300}}))
    assert rt.pyrunc("update", "-r", str(path), cid).rc == 0
    assert cg_read("memory", cid, "memory.limit_in_bytes") == str(48 * MiB)
    assert cg_read("cpu", cid, "cpu.shares") == "300"


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["--memory", "lots"], "lots"),
        (["--pids-limit", "x"], "--pids-limit"),
        ([], "nothing to update"),
        (["--resources", "-"], "invalid JSON"),
        (["--cpuset-cpus", "0-63"], "linux.resources.cpu.cpus"),
        (["--blkio-weight", "5"], "linux.resources.blockIO.weight"),
    ],
    ids=["bad-size", "bad-int", "nothing", "bad-json", "cpuset-outside-host", "blkio-weight"],
)
def test_update_bad_input(rt: Any, argv: list[str], needle: str) -> None:
    cid = detached(rt, ["sleep", "100"], limits)
    r = rt.pyrunc("update", *argv, cid, input="{not json" if "-" in argv else None)
    assert r.rc != 0, r
    assert needle in r.err, r
    assert cg_read("pids", cid, "pids.max") == "20"  # nothing applied
    assert cg_read("memory", cid, "memory.limit_in_bytes") == str(64 * MiB)


def test_update_a_stopped_container(rt: Any) -> None:
    cid = detached(rt, ["true"])
    poll(lambda: rt.state(cid)["status"] == "stopped")
    r = rt.pyrunc("update", "--pids-limit", "5", cid)
    assert r.rc == 1 and "not running" in r.err, r


def test_events_stats_shape(rt: Any) -> None:
    cid = detached(rt, ["sleep", "100"], limits)
    r = rt.pyrunc("events", "--stats", cid)
    assert r.rc == 0, r
    assert len(r.out.splitlines()) == 1
    doc = json.loads(r.out)
    assert doc["type"] == "stats" and doc["id"] == cid
    data = doc["data"]
    assert {"cpu", "memory", "pids", "blkio", "hugetlb"} <= set(data)
    assert data["pids"] == {"current": 1, "limit": 20}
    assert data["memory"]["usage"]["limit"] == 64 * MiB
    assert data["memory"]["usage"]["usage"] > 0
    assert data["cpu"]["usage"]["total"] > 0
    assert isinstance(data["memory"]["raw"], dict) and "cache" in data["memory"]["raw"]


@pytest.mark.skipif(RUNC is None, reason="runc is not installed (apt-get install runc)")
def test_events_stats_like_runcs(rt: Any) -> None:
    cid = detached(rt, ["sleep", "100"], limits)
    ours = json.loads(rt.pyrunc("events", "--stats", cid).out)

    runc_id = rt.new_id("runc")
    runc_root = str(rt.base / "runc-state")
    parent = f"pyrunc-test-{runc_id}"

    def edit(config: dict[str, Any]) -> None:
        limits(config)
        config["linux"]["cgroupsPath"] = f"/{parent}/{runc_id}"  # outside the caller's own cgroup

    bundle = rt.bundle(["sleep", "100"], edit=edit)
    assert RUNC is not None
    base = [RUNC, "--root", runc_root]
    try:
        # Not pipes: the detached container holds runc's stdout and stderr.
        with open(rt.base / "runc.err", "w+") as err:
            p = subprocess.run([*base, "run", "-d", "--bundle", str(bundle), runc_id], stdin=subprocess.DEVNULL,
                               stdout=subprocess.DEVNULL, stderr=err, timeout=30)  # fmt: skip
            err.seek(0)
            assert p.returncode == 0, err.read()
        p = subprocess.run([*base, "events", "--stats", runc_id], capture_output=True, text=True, timeout=30)
        assert p.returncode == 0, p.stderr
        theirs = json.loads(p.stdout)
    finally:
        subprocess.run([*base, "delete", "--force", runc_id], capture_output=True, timeout=30)
        for c in os.listdir(CG):
            with contextlib.suppress(OSError):
                os.rmdir(f"{CG}/{c}/{parent}")

    def shape(doc: Any, depth: int = 0) -> Any:
        if isinstance(doc, dict) and depth < 3:
            return {k: shape(v, depth + 1) for k, v in doc.items() if k != "raw"}
        return type(doc).__name__

    def memory_filled(memory: dict[str, Any]) -> dict[str, Any]:
        # Go's omitempty drops a zero: whether `cache` (page cache charged to the cgroup) or an
        # entry's `usage`/`max` is zero depends on which cgroup first read a file, not on the runtime.
        filled = {"cache": 0, **memory}
        for entry in ("usage", "swap", "kernel", "kernelTCP"):
            filled[entry] = {"usage": 0, "max": 0, **memory[entry]}
        return filled

    assert set(ours) == set(theirs)
    assert shape(ours["data"]["pids"]) == shape(theirs["data"]["pids"])
    assert ours["data"]["pids"] == theirs["data"]["pids"]
    assert shape(memory_filled(ours["data"]["memory"])) == shape(memory_filled(theirs["data"]["memory"]))
    for doc in (ours, theirs):  # v1: runc's `cache` is memory.stat's cache, and omitted only when zero
        memory = doc["data"]["memory"]
        assert memory.get("cache", 0) == memory["raw"]["cache"], memory
    assert set(ours["data"]["cpu"]) == set(theirs["data"]["cpu"])
    assert set(ours["data"]["cpu"]["usage"]) == set(theirs["data"]["cpu"]["usage"])
    assert set(ours["data"]) >= {k for k, v in theirs["data"].items() if v}
    assert set(ours["data"]["memory"]["raw"]) == set(theirs["data"]["memory"]["raw"])


def test_events_stream(rt: Any) -> None:
    cid = detached(rt, ["sleep", "100"], limits)
    p = subprocess.Popen([*rt.cmd, "--root", rt.root, "events", "--interval", "100ms", cid],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    try:
        assert p.stdout is not None
        lines = [p.stdout.readline() for _ in range(3)]
        assert rt.pyrunc("kill", cid, "KILL").rc == 0
        _, err = p.communicate(timeout=10)  # the stream ends when the container stops
        assert p.returncode == 0, err
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    for line in lines:
        doc = json.loads(line)
        assert doc["type"] == "stats" and doc["id"] == cid and doc["data"]["pids"]["limit"] == 20


def test_events_bad_input(rt: Any) -> None:
    cid = detached(rt, ["sleep", "100"])
    r = rt.pyrunc("events", "--interval", "soon", cid)
    assert r.rc != 0 and "soon" in r.err, r
    r = rt.pyrunc("events", "--stats", "nonexistent")
    assert r.rc == 1 and "nonexistent" in r.err, r


def test_ps_lists_the_cgroup(rt: Any) -> None:
    cid = detached(rt, ["sh", "-c", "sleep 100 & sleep 100 & wait"])
    assert poll(lambda: len(cg_read("pids", cid, "cgroup.procs").split()) == 3)
    procs = sorted(int(p) for p in cg_read("pids", cid, "cgroup.procs").split())
    r = rt.pyrunc("ps", "--format", "json", cid)
    assert r.rc == 0, r
    assert sorted(json.loads(r.out)) == procs
    r = rt.pyrunc("ps", cid)
    assert r.rc == 0, r
    commands = [line.split(None, 7)[-1] for line in r.out.splitlines()[1:]]
    # (ps -ef cuts long command lines at its column width)
    assert sorted(c[:12] for c in commands) == ["sh -c sleep ", "sleep 100", "sleep 100"], r


def test_kill_all_uses_the_cgroup(rt: Any) -> None:
    # pid 1 of the container ignores SIGTERM (no handler): --all reaches its children all the same.
    cid = detached(rt, ["sh", "-c", "sleep 100 & sleep 100 & wait; sleep 100"])
    assert poll(lambda: len(cg_read("pids", cid, "cgroup.procs").split()) == 3)
    init = rt.state(cid)["pid"]
    assert rt.pyrunc("kill", "--all", cid, "TERM").rc == 0
    # the sleeps die; the init lives on (the shell execs its last command, so it is alone)
    assert poll(lambda: cg_read("pids", cid, "cgroup.procs").split() == [str(init)])
    assert rt.pyrunc("kill", "--all", cid, "KILL").rc == 0
    assert poll(lambda: rt.state(cid)["status"] == "stopped")
    assert rt.pyrunc("delete", cid).rc == 0
    assert cg_gone(cid)
