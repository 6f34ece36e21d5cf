"""The v2 driver's file plan and writes on a fake unified tree (a temp dir). No root."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from libcontainer_py.cgroups import CgroupError, Layout, Mounts, V2Manager, _read, load_manager, new_manager
from libcontainer_py.cgroups.paths import CgroupMount
from libcontainer_py.cgroups.stats import Stats
from libcontainer_py.spec.resources import LinuxResources

CONTROLLERS = "cpuset cpu io memory hugetlb pids rdma"
LEAF_FILES = {
    "cgroup.procs": "",
    "cgroup.freeze": "0",
    "cgroup.events": "populated 0\nfrozen 0",
    "cgroup.controllers": CONTROLLERS,
    "cgroup.subtree_control": "",
    "memory.max": "max",
    "memory.low": "0",
    "memory.swap.max": "max",
    "memory.current": "1000",
    "memory.stat": "file 5\nanon 7",
    "memory.events": "low 0\nhigh 0\nmax 2\noom 1\noom_kill 1",
    "memory.peak": "2000",
    "memory.swap.current": "10",
    "cpu.weight": "100",
    "cpu.max": "max 100000",
    "cpu.max.burst": "0",
    "cpu.idle": "0",
    "cpu.stat": "usage_usec 3\nuser_usec 1\nsystem_usec 2\nnr_periods 4\nnr_throttled 1\nthrottled_usec 9",
    "cpuset.cpus": "",
    "cpuset.mems": "",
    "pids.max": "max",
    "pids.current": "2",
    "io.weight": "default 100",
    "io.max": "",
    "io.stat": "8:0 rbytes=4096 wbytes=0 rios=1 wios=0 dbytes=0 dios=0",
    "hugetlb.2MB.max": "max",
    "hugetlb.2MB.rsvd.max": "max",
    "hugetlb.2MB.current": "0",
    "rdma.max": "",
}


@pytest.fixture
def mounts(tmp_path: Path) -> Mounts:
    (tmp_path / "cgroup.controllers").write_text(CONTROLLERS)
    (tmp_path / "cgroup.subtree_control").write_text("")
    (tmp_path / "cpuset.cpus.effective").write_text("0-3")
    (tmp_path / "cpuset.mems.effective").write_text("0")
    return Mounts(Layout.V2, {}, CgroupMount(str(tmp_path), "/", "cgroup2"))


@pytest.fixture
def mgr(mounts: Mounts, tmp_path: Path) -> V2Manager:
    m = new_manager("c1", "/box/c1", mounts=mounts)
    assert isinstance(m, V2Manager)
    parent = tmp_path / "box"
    parent.mkdir()
    for f, v in {
        "cgroup.controllers": CONTROLLERS,
        "cgroup.subtree_control": CONTROLLERS,
        "cpuset.cpus.effective": "0-3",
        "cpuset.mems.effective": "0",
    }.items():
        (parent / f).write_text(v)
    leaf = parent / "c1"
    leaf.mkdir()
    for f, v in LEAF_FILES.items():
        (leaf / f).write_text(v)
    return m


def res(**kw: Any) -> LinuxResources:
    return LinuxResources.model_validate(kw)


def plan(m: V2Manager, **kw: Any) -> list[tuple[str, str]]:
    return [(w.file, w.value) for w in m.plan(res(**kw))]


def test_identity_and_reload(mgr: V2Manager, mounts: Mounts, tmp_path: Path) -> None:
    assert mgr.path == "/box/c1"
    assert mgr.paths() == {"": str(tmp_path / "box" / "c1")}
    again = load_manager(mgr.paths(), mounts=mounts)
    assert isinstance(again, V2Manager) and again.path == "/box/c1"


def test_memory(mgr: V2Manager) -> None:
    assert plan(mgr, memory={"limit": 1000000, "swap": 3000000, "reservation": 500000}) == [
        ("memory.swap.max", "2000000"),
        ("memory.max", "1000000"),
        ("memory.low", "500000"),
    ]
    assert plan(mgr, memory={"limit": -1}) == [("memory.swap.max", "max"), ("memory.max", "max")]
    assert plan(mgr, memory={"limit": 100, "swap": 100}) == [("memory.swap.max", "0"), ("memory.max", "100")]
    assert plan(mgr, memory={"limit": 100, "kernel": 5, "kernelTCP": 5}) == [("memory.max", "100")]


@pytest.mark.parametrize(
    ("kw", "msg"),
    [
        ({"memory": {"swap": 100}}, r"memory\.swap: 100: a swap limit needs a memory limit"),
        ({"memory": {"limit": 500, "checkBeforeUpdate": True}}, r"memory\.limit: 500 is below the current usage 1000"),
        ({"memory": {"swappiness": 10}}, r"memory\.swappiness: 10: cgroup v2 has no per-cgroup swappiness"),
        ({"memory": {"disableOOMKiller": True}}, r"disableOOMKiller: true: cgroup v2 cannot disable"),
        ({"cpu": {"realtimeRuntime": 5}}, r"cpu\.realtimeRuntime: cgroup v2 has no realtime"),
        ({"cpu": {"cpus": "4-5"}}, r"cpu\.cpus: '4-5' is outside this host's CPUs 0-3 \(cpuset\.cpus\.effective of "),
        ({"network": {"classID": 1}}, r"^linux\.resources\.network: net_cls/net_prio are cgroup v1 controllers"),
        ({"blockIO": {"leafWeight": 10}}, r"blockIO\.leafWeight: 10: cgroup v2 has no leaf weight"),
        ({"unified": {"../x": "1"}}, r"unified\['\.\./x'\]: '\.\./x' is not a cgroup interface file"),
        ({"unified": {"misc.max": "1"}}, r"unified\['misc\.max'\]: the misc controller is not available"),
        ({"unified": {"memory.nope": "1"}}, r"unified\['memory\.nope'\]: .*memory\.nope does not exist"),
        ({"hugepageLimits": [{"pageSize": "64KB", "limit": 1}]}, r"pageSize: '64KB' is not a huge page size"),
        ({"pids": {"limit": -3}}, r"pids\.limit: -3 is invalid"),
    ],
)
def test_bad_input(mgr: V2Manager, kw: dict[str, Any], msg: str) -> None:
    with pytest.raises(CgroupError, match=msg):
        mgr.set(res(**kw))


def test_controller_not_enabled(mgr: V2Manager) -> None:
    Path(mgr.directory, "cgroup.controllers").write_text("memory")
    with pytest.raises(
        CgroupError,
        match=r"pids\.limit: the pids controller is not enabled for cgroup .* "
        r"\(cgroup\.controllers: memory\)",
    ):
        mgr.set(res(pids={"limit": 5}))


def test_the_first_container_under_a_new_parent(mounts: Mounts, tmp_path: Path) -> None:
    """Neither the container's cgroup nor its parent exists yet, and nothing is enabled in the
    root's subtree_control: the plan (create's checks, before anything is made) takes what the
    root has, which create then enables all the way down. It took the missing parent's
    subtree_control, and refused every limit as "not enabled" (found on a pure v2 layout)."""
    m = new_manager("c2", "/fresh/c2", mounts=mounts)
    assert isinstance(m, V2Manager)
    assert plan(m, pids={"limit": 5}) == [("pids.max", "5")]
    (tmp_path / "cgroup.controllers").write_text("memory")  # what the host has is still the limit
    with pytest.raises(CgroupError, match=r"the pids controller is not available in cgroup"):
        plan(m, pids={"limit": 5})


def test_cpu(mgr: V2Manager) -> None:
    assert plan(
        mgr,
        cpu={"shares": 1024, "quota": 50000, "period": 100000, "burst": 1000, "idle": 1, "cpus": "1-2", "mems": "0"},
    ) == [
        ("cpu.weight", "100"),
        ("cpu.max", "50000 100000"),
        ("cpu.max.burst", "1000"),
        ("cpu.idle", "1"),
        ("cpuset.cpus", "1-2"),
        ("cpuset.mems", "0"),
    ]
    assert plan(mgr, cpu={"quota": -1}) == [("cpu.max", "max")]
    Path(mgr.directory, "cpu.max").write_text("20000 100000")
    assert plan(mgr, cpu={"period": 50000}) == [("cpu.max", "20000 50000")]  # keeps the quota


@pytest.mark.parametrize(("limit", "value"), [(0, "0"), (-1, "max"), (7, "7")])
def test_pids(mgr: V2Manager, limit: int, value: str) -> None:
    assert plan(mgr, pids={"limit": limit}) == [("pids.max", value)]


def test_io(mgr: V2Manager) -> None:
    assert plan(
        mgr,
        blockIO={
            "weight": 500,
            "weightDevice": [{"major": 8, "minor": 0, "weight": 1000}],
            "throttleReadBpsDevice": [{"major": 8, "minor": 0, "rate": 1000}],
            "throttleWriteBpsDevice": [{"major": 8, "minor": 0, "rate": 0}],
            "throttleReadIOPSDevice": [{"major": 8, "minor": 16, "rate": 30}],
            "throttleWriteIOPSDevice": [{"major": 8, "minor": 16, "rate": 40}],
        },
    ) == [
        ("io.weight", "default 4950"),
        ("io.weight", "8:0 10000"),
        ("io.max", "8:0 rbps=1000"),
        ("io.max", "8:0 wbps=max"),
        ("io.max", "8:16 riops=30"),
        ("io.max", "8:16 wiops=40"),
    ]
    Path(mgr.directory, "io.bfq.weight").write_text("default 100")
    assert plan(mgr, blockIO={"weight": 500, "weightDevice": [{"major": 8, "minor": 0, "weight": 10}]}) == [
        ("io.bfq.weight", "500"),
        ("io.bfq.weight", "8:0 10"),
    ]


def test_hugetlb_rdma(mgr: V2Manager) -> None:
    assert plan(mgr, hugepageLimits=[{"pageSize": "2MB", "limit": 4194304}], rdma={"mlx5_1": {"hcaHandles": 3}}) == [
        ("hugetlb.2MB.max", "4194304"),
        ("hugetlb.2MB.rsvd.max", "4194304"),
        ("rdma.max", "mlx5_1 hca_handle=3"),
    ]


def test_unified_verbatim_and_last(mgr: V2Manager) -> None:
    Path(mgr.directory, "cgroup.max.depth").write_text("max")
    assert plan(mgr, memory={"limit": 100}, unified={"memory.max": "123", "cgroup.max.depth": "3"}) == [
        ("memory.max", "100"),
        ("memory.max", "123"),
        ("cgroup.max.depth", "3"),
    ]


def test_set_writes(mgr: V2Manager) -> None:
    mgr.set(res(memory={"limit": 4096}, pids={"limit": 0}, cpu={"shares": 2}))
    d = Path(mgr.directory)
    assert (d / "memory.max").read_text() == "4096"
    assert (d / "pids.max").read_text() == "0"
    assert (d / "cpu.weight").read_text() == "1"


def test_apply_enables_controllers_and_refuses_busy(mounts: Mounts, tmp_path: Path) -> None:
    m = new_manager("c9", None, mounts=mounts)
    assert isinstance(m, V2Manager) and m.path == "/pyrunc/c9"
    (tmp_path / "pyrunc").mkdir()
    (tmp_path / "pyrunc" / "cgroup.controllers").write_text(CONTROLLERS)
    (tmp_path / "pyrunc" / "cgroup.subtree_control").write_text("")
    leaf = tmp_path / "pyrunc" / "c9"
    leaf.mkdir()
    (leaf / "cgroup.procs").write_text("")
    m.apply(42)
    assert (leaf / "cgroup.procs").read_text() == "42"
    # a fake file keeps only the last write; the real file accumulates "+x" writes
    assert (tmp_path / "pyrunc" / "cgroup.subtree_control").read_text() == "+rdma"
    assert (tmp_path / "cgroup.subtree_control").read_text() == "+rdma"
    with pytest.raises(CgroupError, match=r"^linux\.cgroupsPath: cgroup .* already has processes \(42\)"):
        m.apply(43)
    m.add_process(43)  # exec: no check


def test_apply_refuses_frozen(mgr: V2Manager) -> None:
    Path(mgr.directory, "cgroup.freeze").write_text("1")
    assert mgr.is_frozen()
    with pytest.raises(CgroupError, match=r"is frozen"):
        mgr.apply(1)


def test_stats(mgr: V2Manager) -> None:
    s = mgr.stats()
    assert s.cpu.usage.total == 3000 and s.cpu.usage.user == 1000 and s.cpu.usage.kernel == 2000
    assert s.cpu.throttling.periods == 4 and s.cpu.throttling.throttled_time == 9000
    assert s.memory.usage.usage == 1000 and s.memory.usage.max == 2000 and s.memory.usage.failcnt == 2
    assert s.memory.usage.limit == 2**64 - 1 and s.memory.swap.usage == 1010
    assert s.memory.cache == 5 and s.oom_kill == 1 and mgr.oom_kill_count() == 1
    assert s.pids.current == 2 and s.pids.limit == 0
    assert [(e.op, e.value) for e in s.blkio.io_service_bytes_recursive] == [("Read", 4096), ("Write", 0)]
    assert "2MB" in s.hugetlb
    # What `pyrunc events --stats` prints is the reader's dict itself; the typed records turn back into it.
    data, oom_kill = _read.runc_stats(mgr.paths())
    assert oom_kill == 1 and s.to_runc_dict() == data and Stats.from_runc(data, oom_kill) == s
    assert data["memory"]["usage"] == {"limit": 2**64 - 1, "usage": 1000, "max": 2000, "failcnt": 2}
    # Go's omitempty: minor 0 and the Write of 0 bytes lose those keys, as runc prints them
    assert data["blkio"]["ioServiceBytesRecursive"] == [{"major": 8, "op": "Read", "value": 4096},
                                                        {"major": 8, "op": "Write"}]
