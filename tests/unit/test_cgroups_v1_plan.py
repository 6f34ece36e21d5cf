"""The v1 driver's file plan and writes on a fake cgroup tree (a temp dir): every resource field -> the
file and the value, the bad-input errors, apply/destroy, stats. No root."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from libcontainer_py.cgroups import CgroupError, Layout, Mounts, V1Manager, load_manager, new_manager
from libcontainer_py.cgroups.paths import CgroupMount
from libcontainer_py.spec.resources import LinuxResources

FILES = {
    "memory": [
        "memory.limit_in_bytes",
        "memory.soft_limit_in_bytes",
        "memory.memsw.limit_in_bytes",
        "memory.swappiness",
        "memory.oom_control",
        "memory.kmem.tcp.limit_in_bytes",
        "memory.usage_in_bytes",
        "memory.stat",
        "memory.failcnt",
        "memory.max_usage_in_bytes",
    ],
    "cpu": [
        "cpu.shares",
        "cpu.cfs_period_us",
        "cpu.cfs_quota_us",
        "cpu.cfs_burst_us",
        "cpu.rt_period_us",
        "cpu.rt_runtime_us",
        "cpu.idle",
        "cpu.stat",
    ],
    "cpuacct": ["cpuacct.usage", "cpuacct.usage_percpu", "cpuacct.stat"],
    "cpuset": ["cpuset.cpus", "cpuset.mems"],
    "pids": ["pids.max", "pids.current"],
    "blkio": [
        "blkio.weight",
        "blkio.leaf_weight",
        "blkio.weight_device",
        "blkio.leaf_weight_device",
        "blkio.throttle.read_bps_device",
        "blkio.throttle.write_bps_device",
        "blkio.throttle.read_iops_device",
        "blkio.throttle.write_iops_device",
    ],
    "hugetlb": ["hugetlb.2MB.limit_in_bytes", "hugetlb.2MB.rsvd.limit_in_bytes"],
    "net_cls": ["net_cls.classid"],
    "net_prio": ["net_prio.ifpriomap"],
    "rdma": ["rdma.max"],
    "devices": ["devices.allow", "devices.deny", "devices.list"],
    "freezer": ["freezer.state"],
}
INITIAL = {
    "cpuset.cpus": "",
    "cpuset.mems": "",
    "freezer.state": "THAWED",
    "memory.limit_in_bytes": "9223372036854771712",
    "memory.usage_in_bytes": "1000",
    "memory.stat": "cache 5\nrss 7",
    "cpuacct.usage_percpu": "1 2",
    "cpuacct.usage": "3",
    "cpuacct.stat": "user 1\nsystem 2",
    "cpu.stat": "nr_periods 4\nnr_throttled 1\nthrottled_time 9",
    "pids.current": "2",
    "pids.max": "max",
}


def _mkfiles(d: Path, controller: str) -> None:
    d.mkdir(parents=True, exist_ok=True)
    for f in [*FILES[controller], "cgroup.procs"]:
        (d / f).write_text(INITIAL.get(f, "0") if f != "cgroup.procs" else "")


@pytest.fixture
def tree(tmp_path: Path) -> tuple[Mounts, Path]:
    v1: dict[str, CgroupMount] = {}
    for c in FILES:
        root = tmp_path / c
        _mkfiles(root, c)
        v1[c] = CgroupMount(str(root), "/", "cgroup", frozenset({c}))
    (tmp_path / "cpuset" / "cpuset.cpus").write_text("0-1")
    (tmp_path / "cpuset" / "cpuset.mems").write_text("0")
    return Mounts(Layout.HYBRID, v1), tmp_path


@pytest.fixture
def mgr(tree: tuple[Mounts, Path]) -> V1Manager:
    mounts, root = tree
    m = new_manager("c1", None, mounts=mounts)
    assert isinstance(m, V1Manager)
    for c in FILES:  # the kernel would create the files on mkdir; the fake tree needs them up front
        _mkfiles(root / c / "pyrunc" / "c1", c)
    (root / "cpuset" / "pyrunc" / "cpuset.cpus").write_text("")
    (root / "cpuset" / "pyrunc" / "cpuset.mems").write_text("")
    return m


def res(**kw: Any) -> LinuxResources:
    return LinuxResources.model_validate(kw)


def plan(m: V1Manager, **kw: Any) -> list[tuple[str, str, str]]:
    return [(w.controller, w.file, w.value) for w in m.plan(res(**kw))]


def test_paths_and_reload(mgr: V1Manager, tree: tuple[Mounts, Path]) -> None:
    mounts, root = tree
    assert mgr.path == "/pyrunc/c1"
    assert mgr.paths()["memory"] == str(root / "memory" / "pyrunc" / "c1")
    again = load_manager(mgr.paths(), mounts=mounts)
    assert isinstance(again, V1Manager) and again.paths() == mgr.paths() and again.path == "/pyrunc/c1"


def test_join_files_from_the_saved_paths(mgr: V1Manager) -> None:
    """What exec joins through, from state.json's cgroup_paths alone: each hierarchy's `tasks`
    once (co-mounted controllers share a directory), in the manager's order; nothing on v2 (its
    paths have the "" key) or without cgroups."""
    from libcontainer_py.cgroups import join_files

    paths = mgr.paths()
    files = join_files(paths)
    assert files == mgr.join_files()
    assert files == [os.path.join(d, "tasks") for d in dict.fromkeys(paths.values())]
    assert len(files) == len(set(paths.values()))
    assert join_files({"cpu": "/cg/cpu,cpuacct/x", "cpuacct": "/cg/cpu,cpuacct/x"}) == ["/cg/cpu,cpuacct/x/tasks"]
    assert join_files({"": "/sys/fs/cgroup/x"}) == []
    assert join_files({}) == []


def test_join_self_writes_zero_and_names_the_cgroup_when_it_cannot(tmp_path: Path) -> None:
    """join_self writes "0" (the writer itself) to the open `tasks` file; a refusal is one
    CgroupError naming the cgroup's directory and linux.cgroupsPath (here a read-only fd: EBADF)."""
    from libcontainer_py.cgroups._join import join_self

    tasks = tmp_path / "tasks"
    tasks.write_text("")
    fd = os.open(tasks, os.O_WRONLY)
    try:
        join_self(fd, str(tasks))
    finally:
        os.close(fd)
    assert tasks.read_text() == "0"
    fd = os.open(tasks, os.O_RDONLY)
    try:
        with pytest.raises(CgroupError, match=f"cannot join cgroup {tmp_path}") as err:
            join_self(fd, str(tasks))
    finally:
        os.close(fd)
    assert err.value.field == "linux.cgroupsPath"


def test_memory_order_grow_and_shrink(mgr: V1Manager) -> None:
    d = Path(mgr.paths()["memory"])
    (d / "memory.limit_in_bytes").write_text(str(100))
    # growing past the current limit: memsw first
    assert [f for _, f, _ in plan(mgr, memory={"limit": 300, "swap": 400})] == [
        "memory.memsw.limit_in_bytes",
        "memory.limit_in_bytes",
    ]
    (d / "memory.limit_in_bytes").write_text(str(1000))
    # shrinking below it: memory first
    assert [f for _, f, _ in plan(mgr, memory={"limit": 300, "swap": 400})] == [
        "memory.limit_in_bytes",
        "memory.memsw.limit_in_bytes",
    ]
    # unlimited memory without swap: both unlimited
    assert plan(mgr, memory={"limit": -1}) == [
        ("memory", "memory.memsw.limit_in_bytes", "-1"),
        ("memory", "memory.limit_in_bytes", "-1"),
    ]


def test_memory_full_plan(mgr: V1Manager) -> None:
    got = plan(
        mgr,
        memory={
            "limit": 1 << 30,
            "swap": 2 << 30,
            "reservation": 1 << 29,
            "swappiness": 10,
            "disableOOMKiller": True,
            "kernel": 100,
            "kernelTCP": 200,
        },
    )
    assert got == [
        ("memory", "memory.limit_in_bytes", str(1 << 30)),
        ("memory", "memory.memsw.limit_in_bytes", str(2 << 30)),
        ("memory", "memory.soft_limit_in_bytes", str(1 << 29)),
        ("memory", "memory.kmem.tcp.limit_in_bytes", "200"),
        ("memory", "memory.swappiness", "10"),
        ("memory", "memory.oom_control", "1"),
    ]


@pytest.mark.parametrize(
    ("kw", "msg"),
    [
        ({"memory": {"limit": -5}}, r"^linux\.resources\.memory\.limit: -5 is invalid"),
        ({"memory": {"limit": 200, "swap": 100}}, r"^linux\.resources\.memory\.swap: 100 is below"),
        (
            {"memory": {"limit": 500, "checkBeforeUpdate": True}},
            r"^linux\.resources\.memory\.limit: 500 is below the current usage 1000 \(.*memory\.usage_in_bytes\)",
        ),
        ({"memory": {"swappiness": 101}}, r"swappiness: 101 is invalid"),
        (
            {"cpu": {"cpus": "7"}},
            r"^linux\.resources\.cpu\.cpus: '7' is outside this host's CPUs 0-1 \(cpuset\.cpus of ",
        ),
        ({"cpu": {"mems": "1"}}, r"^linux\.resources\.cpu\.mems: '1' is outside this host's memory nodes 0"),
        ({"cpu": {"cpus": "0-x"}}, r"cpu\.cpus: '0-x' is malformed"),
        ({"cpu": {"shares": 1}}, r"cpu\.shares: 1 is outside the kernel's range 2\.\.262144"),
        ({"cpu": {"period": 10}}, r"cpu\.period: 10 is outside"),
        ({"cpu": {"quota": 5}}, r"cpu\.quota: 5 is invalid"),
        ({"cpu": {"quota": 5000, "burst": 6000}}, r"cpu\.burst: 6000 is larger than quota 5000"),
        ({"cpu": {"idle": 3}}, r"cpu\.idle: 3 is invalid"),
        ({"pids": {"limit": -2}}, r"^linux\.resources\.pids\.limit: -2 is invalid"),
        ({"blockIO": {"weight": 5}}, r"blockIO\.weight: 5 is outside 10\.\.1000"),
        (
            {"hugepageLimits": [{"pageSize": "64KB", "limit": 1}]},
            r"hugepageLimits\[0\]\.pageSize: '64KB' is not a huge page size of this host",
        ),
        ({"unified": {"memory.max": "1"}}, r"^linux\.resources\.unified: \['memory\.max'\] are cgroup v2 files"),
        ({"devices": [{"allow": True, "type": "z"}]}, r"devices\[0\]\.type: type 'z' is invalid"),
        ({"rdma": {"mlx": {}}}, r"rdma\.mlx: give hcaHandles"),
    ],
)
def test_bad_input(mgr: V1Manager, kw: dict[str, Any], msg: str) -> None:
    with pytest.raises(CgroupError, match=msg) as e:
        mgr.set(res(**kw))
    assert "\n" not in str(e.value)


def test_missing_controller(tree: tuple[Mounts, Path]) -> None:
    mounts, _ = tree
    v1 = dict(mounts.v1)
    del v1["hugetlb"]
    m = new_manager("c1", None, mounts=Mounts(Layout.V1, v1))
    with pytest.raises(CgroupError, match=r"hugepageLimits\[0\]: the hugetlb cgroup controller is not mounted"):
        m.set(res(hugepageLimits=[{"pageSize": "2MB", "limit": 1}]))


def test_missing_file(mgr: V1Manager) -> None:
    os.unlink(Path(mgr.paths()["cpu"]) / "cpu.cfs_burst_us")
    with pytest.raises(CgroupError, match=r"^linux\.resources\.cpu\.burst: this host has no cpu\.cfs_burst_us"):
        mgr.set(res(cpu={"burst": 10}))


def test_nothing_written_when_invalid(mgr: V1Manager) -> None:
    with pytest.raises(CgroupError):
        mgr.set(res(memory={"limit": 4096}, pids={"limit": 5}, cpu={"cpus": "9"}))
    assert (Path(mgr.paths()["memory"]) / "memory.limit_in_bytes").read_text() == INITIAL["memory.limit_in_bytes"]
    assert (Path(mgr.paths()["pids"]) / "pids.max").read_text() == "max"


def test_cpu(mgr: V1Manager) -> None:
    assert plan(
        mgr,
        cpu={
            "shares": 512,
            "quota": 50000,
            "period": 100000,
            "burst": 1000,
            "realtimeRuntime": 950,
            "realtimePeriod": 1000,
            "idle": 1,
            "cpus": "0-1",
            "mems": "0",
        },
    ) == [
        ("cpu", "cpu.shares", "512"),
        ("cpu", "cpu.cfs_period_us", "100000"),
        ("cpu", "cpu.cfs_quota_us", "50000"),
        ("cpu", "cpu.cfs_burst_us", "1000"),
        ("cpu", "cpu.rt_period_us", "1000"),
        ("cpu", "cpu.rt_runtime_us", "950"),
        ("cpu", "cpu.idle", "1"),
        ("cpuset", "cpuset.cpus", "0-1"),
        ("cpuset", "cpuset.mems", "0"),
    ]
    assert plan(mgr, cpu={"quota": -1}) == [("cpu", "cpu.cfs_quota_us", "-1")]


@pytest.mark.parametrize(("limit", "value"), [(0, "0"), (-1, "max"), (32, "32")])
def test_pids(mgr: V1Manager, limit: int, value: str) -> None:
    assert plan(mgr, pids={"limit": limit}) == [("pids", "pids.max", value)]


def test_blkio(mgr: V1Manager) -> None:
    got = plan(
        mgr,
        blockIO={
            "weight": 500,
            "leafWeight": 300,
            "weightDevice": [{"major": 8, "minor": 0, "weight": 600, "leafWeight": 200}],
            "throttleReadBpsDevice": [{"major": 8, "minor": 0, "rate": 1000}],
            "throttleWriteBpsDevice": [{"major": 8, "minor": 0, "rate": 2000}],
            "throttleReadIOPSDevice": [{"major": 8, "minor": 16, "rate": 30}],
            "throttleWriteIOPSDevice": [{"major": 8, "minor": 16, "rate": 40}],
        },
    )
    assert got == [
        ("blkio", "blkio.weight", "500"),
        ("blkio", "blkio.leaf_weight", "300"),
        ("blkio", "blkio.weight_device", "8:0 600"),
        ("blkio", "blkio.leaf_weight_device", "8:0 200"),
        ("blkio", "blkio.throttle.read_bps_device", "8:0 1000"),
        ("blkio", "blkio.throttle.write_bps_device", "8:0 2000"),
        ("blkio", "blkio.throttle.read_iops_device", "8:16 30"),
        ("blkio", "blkio.throttle.write_iops_device", "8:16 40"),
    ]


def test_blkio_bfq_fallback(mgr: V1Manager) -> None:
    d = Path(mgr.paths()["blkio"])
    os.unlink(d / "blkio.weight")
    (d / "blkio.bfq.weight").write_text("100")
    assert plan(mgr, blockIO={"weight": 500}) == [("blkio", "blkio.bfq.weight", "500")]
    os.unlink(d / "blkio.bfq.weight")
    with pytest.raises(CgroupError, match=r"blockIO\.weight: this host has no blkio\.weight or blkio\.bfq\.weight"):
        mgr.plan(res(blockIO={"weight": 500}))


def test_hugetlb_net_rdma_devices(mgr: V1Manager) -> None:
    assert plan(
        mgr,
        hugepageLimits=[{"pageSize": "2MB", "limit": 4194304}],
        network={"classID": 1048577, "priorities": [{"name": "eth0", "priority": 5}, {"name": "lo", "priority": 1}]},
        rdma={"mlx5_1": {"hcaHandles": 3, "hcaObjects": 10000}, "rxe": {"hcaObjects": 1}},
        devices=[
            {"allow": False, "access": "rwm"},
            {"allow": True, "type": "c", "major": 1, "minor": 3, "access": "rw"},
        ],
    ) == [
        ("hugetlb", "hugetlb.2MB.limit_in_bytes", "4194304"),
        ("hugetlb", "hugetlb.2MB.rsvd.limit_in_bytes", "4194304"),
        ("net_cls", "net_cls.classid", "1048577"),
        ("net_prio", "net_prio.ifpriomap", "eth0 5"),
        ("net_prio", "net_prio.ifpriomap", "lo 1"),
        ("rdma", "rdma.max", "mlx5_1 hca_handle=3 hca_object=10000"),
        ("rdma", "rdma.max", "rxe hca_object=1"),
        ("devices", "devices.deny", "a *:* rwm"),
        ("devices", "devices.allow", "c 1:3 rw"),
    ]


def test_set_writes_through_cgroupspy(mgr: V1Manager) -> None:
    mgr.set(
        res(
            memory={"limit": 4096, "swap": 8192},
            cpu={"shares": 512, "cpus": "1"},
            pids={"limit": 0},
            devices=[{"allow": True, "type": "c", "major": 1, "minor": 3, "access": "rw"}],
        )
    )
    p = {c: Path(d) for c, d in mgr.paths().items()}
    assert (p["memory"] / "memory.limit_in_bytes").read_text() == "4096"
    assert (p["memory"] / "memory.memsw.limit_in_bytes").read_text() == "8192"
    assert (p["cpu"] / "cpu.shares").read_text() == "512"
    assert (p["cpuset"] / "cpuset.cpus").read_text() == "1"
    assert (p["pids"] / "pids.max").read_text() == "0"
    assert (p["devices"] / "devices.allow").read_text() == "c 1:3 rw"


def test_apply_copies_cpuset_and_refuses_busy(mgr: V1Manager, tree: tuple[Mounts, Path]) -> None:
    _, root = tree
    mgr.apply(1234)
    assert (root / "cpuset" / "pyrunc" / "cpuset.cpus").read_text() == "0-1"
    assert (root / "cpuset" / "pyrunc" / "c1" / "cpuset.mems").read_text() == "0"
    assert (root / "pids" / "pyrunc" / "c1" / "cgroup.procs").read_text() == "1234"
    with pytest.raises(CgroupError, match=r"^linux\.cgroupsPath: cgroup .* already has processes \(1234\)"):
        mgr.apply(99)


def test_create_says_whether_it_made_the_cgroup_and_undoes_a_refusal(tree: tuple[Mounts, Path]) -> None:
    """create() makes each hierarchy's directory with one mkdir (no stat first) and says whether it
    made the cgroup (the caller's to remove if create then fails) or found it. Refused because a
    hierarchy's directory was there with a process in it, it removes what it had made already."""
    mounts, root = tree
    busy = new_manager("busy", None, mounts=mounts)
    made = {c: root / c / "pyrunc" / "busy" for c in FILES}
    _mkfiles(made["freezer"], "freezer")  # only there, and with a process
    (made["freezer"] / "cgroup.procs").write_text("4321\n")
    with pytest.raises(CgroupError, match=r"^linux\.cgroupsPath: cgroup .*freezer.* already has processes \(4321\)"):
        busy.create()
    assert made["freezer"].is_dir()  # not ours: left alone
    assert [c for c, d in made.items() if c != "freezer" and d.exists()] == []  # ours: undone

    fresh = new_manager("fresh", None, mounts=mounts)
    (root / "cpuset" / "pyrunc").mkdir(exist_ok=True)
    for f, v in (("cpuset.cpus", "0-1"), ("cpuset.mems", "0")):
        (root / "cpuset" / "pyrunc" / f).write_text(v)
    for c in FILES:  # the kernel's files appear on mkdir: a fake tree has them once create made the dirs
        (root / c / "pyrunc").mkdir(exist_ok=True)
    assert fresh.create() is True
    found = new_manager("fresh", None, mounts=mounts)
    for c in FILES:
        _mkfiles(root / c / "pyrunc" / "fresh", c)
    assert found.create() is False  # there, empty, thawed: usable, not ours


def test_apply_refuses_frozen(mgr: V1Manager) -> None:
    (Path(mgr.paths()["freezer"]) / "freezer.state").write_text("FROZEN")
    assert mgr.is_frozen()
    with pytest.raises(CgroupError, match=r"^linux\.cgroupsPath: cgroup .* is frozen"):
        mgr.apply(99)


def test_stats_and_pids(mgr: V1Manager) -> None:
    Path(mgr.paths()["freezer"], "cgroup.procs").write_text("5\n6\n")
    sub = Path(mgr.paths()["freezer"], "sub")
    sub.mkdir()
    (sub / "cgroup.procs").write_text("7\n")
    assert mgr.pids() == [5, 6, 7]
    s = mgr.stats()
    assert s.cpu.usage.total == 3 and s.cpu.usage.percpu == [1, 2]
    assert s.cpu.throttling.throttled_periods == 1 and s.cpu.throttling.throttled_time == 9
    assert s.memory.usage.usage == 1000 and s.memory.cache == 5 and s.memory.raw["rss"] == 7
    assert s.pids.current == 2 and s.pids.limit == 0


def test_destroy(tree: tuple[Mounts, Path]) -> None:
    mounts, _root = tree
    m = new_manager("c2", "/t/c2", mounts=mounts)
    assert not m.exists()
    for d in m.paths().values():
        os.makedirs(os.path.join(d, "child"), exist_ok=True)
    assert m.exists()
    m.destroy()
    assert not m.exists()
    m.destroy()  # idempotent


@pytest.mark.parametrize(
    ("usage", "percpu", "stat"),
    [
        ("3\n", "1 2 \n", "user 5\nsystem 7\n"),
        ("-1\n", "", ""),
        ("", "1 x", "user 5\nsystem\n"),
        ("12abc", "4", "user 5 6\n"),
        (None, None, None),
    ],
)
def test_cpuacct_read_as_cgroupspy_reads_it(
    tmp_path: Path, usage: str | None, percpu: str | None, stat: str | None
) -> None:
    """The stats reader (cgroups/_read.py) parses cpuacct's files without cgroupspy: the same
    numbers as its CpuAcctController (missing or unparsable: the default), so events --stats is."""
    from cgroupspy import controllers  # type: ignore[import-untyped]

    from libcontainer_py.cgroups import _read
    from libcontainer_py.cgroups.v1 import _Node

    for name, text in (("cpuacct.usage", usage), ("cpuacct.usage_percpu", percpu), ("cpuacct.stat", stat)):
        if text is not None:
            (tmp_path / name).write_text(text)
    acct = controllers.CpuAcctController(_Node(str(tmp_path)))

    def get(attr: str, default: object) -> object:
        try:
            return getattr(acct, attr)
        except (OSError, ValueError):
            return default

    hz = os.sysconf("SC_CLK_TCK")
    ticks: dict[str, int] = get("acct_stat", {}) or {}  # type: ignore[assignment]
    usage_ = _read.stats_v1({"cpuacct": str(tmp_path)}).cpu.usage
    assert usage_.total == (get("usage", 0) or 0)
    assert usage_.percpu == (get("usage_percpu", []) or [])
    assert (usage_.user, usage_.kernel) == (ticks.get("user", 0) * 10**9 // hz, ticks.get("system", 0) * 10**9 // hz)
