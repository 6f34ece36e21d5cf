"""Cgroup conversions, layout detection, cgroupsPath, the device BPF program and the stats JSON: no root."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from libcontainer_py.cgroups import CgroupError, Layout, bpf, convert, mounts_from_mountinfo, resolve_cgroups_path
from libcontainer_py.cgroups.paths import CgroupMount, host_path
from libcontainer_py.cgroups.stats import BlkioEntry, HugetlbStats, Stats
from libcontainer_py.spec.resources import LinuxDeviceCgroup as Dev

HYBRID = """\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
"""
PURE_V1 = """\
25 18 0:22 / /sys/fs/cgroup ro,nosuid - tmpfs tmpfs ro,mode=755
26 25 0:23 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid - cgroup cgroup rw,cpu,cpuacct
27 25 0:24 / /sys/fs/cgroup/pids rw,nosuid - cgroup cgroup rw,pids
28 25 0:25 / /sys/fs/cgroup/net_cls,net_prio rw,nosuid - cgroup cgroup rw,net_cls,net_prio
"""
PURE_V2 = """\
22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw
30 22 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate
"""
# systemd's "unified" mode with a leftover named v1 hierarchy: still a v2 host.
V2_WITH_NAMED = PURE_V2 + "31 30 0:27 / /run/x rw - cgroup cgroup rw,name=foo\n"
NONE = "22 1 8:1 / / rw,relatime - ext4 /dev/sda1 rw\n"


@pytest.mark.parametrize(
    ("text", "layout"),
    [
        (HYBRID, Layout.HYBRID),
        (PURE_V1, Layout.V1),
        (PURE_V2, Layout.V2),
        (V2_WITH_NAMED, Layout.V2),
        (NONE, Layout.NONE),
    ],
)
def test_layout_detection(text: str, layout: Layout) -> None:
    assert mounts_from_mountinfo(text).layout is layout


def test_mountinfo_controllers() -> None:
    m = mounts_from_mountinfo(PURE_V1)
    assert m.v1["cpu"] is m.v1["cpuacct"]
    assert m.v1["cpu"].mountpoint == "/sys/fs/cgroup/cpu,cpuacct"
    assert set(m.v1) == {"cpu", "cpuacct", "pids", "net_cls", "net_prio"}
    h = mounts_from_mountinfo(HYBRID)
    assert "name=systemd" in h.v1 and h.unified is not None and h.unified.mountpoint == "/sys/fs/cgroup/unified"
    assert mounts_from_mountinfo(PURE_V2).unified == CgroupMount("/sys/fs/cgroup", "/", "cgroup2")


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        (None, "/pyrunc/c1"),
        ("", "/pyrunc/c1"),
        ("/machine/c1", "/machine/c1"),
        ("rel/c1", "/pyrunc/rel/c1"),
        ("/../../etc/x", "/etc/x"),
        ("../../x", "/x"),
        ("/a//b/", "/a/b"),
    ],
)
def test_cgroups_path(path: str | None, expected: str) -> None:
    assert resolve_cgroups_path(path, "c1") == expected


@pytest.mark.parametrize("path", ["/", "/..", "system.slice:docker:abc"])
def test_cgroups_path_refused(path: str) -> None:
    with pytest.raises(CgroupError, match=r"^linux\.cgroupsPath: "):
        resolve_cgroups_path(path, "c1")


def test_host_path_with_mount_root() -> None:
    m = CgroupMount("/sys/fs/cgroup", "/", "cgroup2")
    assert host_path(m, "/pyrunc/c1") == "/sys/fs/cgroup/pyrunc/c1"
    sub = CgroupMount("/sys/fs/cgroup/memory", "/docker/abc", "cgroup")
    assert host_path(sub, "/docker/abc/x") == "/sys/fs/cgroup/memory/x"
    assert host_path(sub, "/pyrunc/c1") == "/sys/fs/cgroup/memory/pyrunc/c1"


@pytest.mark.parametrize(
    ("shares", "weight"),
    [(0, 0), (1, 1), (2, 1), (3, 2), (512, 59), (1024, 100), (2048, 174), (262144, 10000), (10**6, 10000)],
)
def test_shares_to_weight_crun(shares: int, weight: int) -> None:
    assert convert.shares_to_weight(shares) == weight


def test_blkio_weight_conversion() -> None:
    assert convert.blkio_weight_to_io_weight(10) == 1
    assert convert.blkio_weight_to_io_weight(1000) == 10000
    assert convert.blkio_weight_to_io_weight(500) == 4950


@pytest.mark.parametrize(
    ("swap", "limit", "v2"),
    [(None, None, None), (None, -1, -1), (-1, 100, -1), (300, 100, 200), (100, 100, 0), (0, 100, None)],
)
def test_swap_to_v2(swap: int | None, limit: int | None, v2: int | None) -> None:
    assert convert.swap_to_v2(swap, limit) == v2


@pytest.mark.parametrize(("swap", "limit"), [(100, None), (100, -1), (50, 100)])
def test_swap_to_v2_refused(swap: int, limit: int | None) -> None:
    with pytest.raises(ValueError):
        convert.swap_to_v2(swap, limit)


def test_range_checks_accept_the_bounds() -> None:
    for shares in (2, 1024, 262144):
        convert.check_shares(shares, "f")
    for quota, period, burst in ((None, None, None), (-1, 1000, 5), (1000, 1000000, 1000), (0, 0, 0)):
        convert.check_cfs(quota, period, burst, "f")
    for idle in (0, 1):
        convert.check_idle(idle, "f")
    for weight in (10, 1000):
        convert.check_blkio_weight(weight, "f")


@pytest.mark.parametrize(
    ("check", "field", "message"),
    [
        (lambda: convert.check_shares(1, "c.shares"), "c.shares", "1 is outside the kernel's range 2..262144"),
        (lambda: convert.check_cfs(None, 999, None, "c"), "c.period",
         "999 is outside the kernel's range 1000..1000000 (microseconds)"),
        (lambda: convert.check_cfs(-2, None, None, "c"), "c.quota",
         "-2 is invalid: -1 (unlimited) or at least 1000 microseconds"),
        (lambda: convert.check_cfs(2000, None, 3000, "c"), "c.burst", "3000 is larger than quota 2000"),
        (lambda: convert.check_idle(2, "c.idle"), "c.idle", "2 is invalid: 0 (normal) or 1 (SCHED_IDLE)"),
        (lambda: convert.check_blkio_weight(1001, "b.weight"), "b.weight", "1001 is outside 10..1000"),
    ],
)
def test_range_checks_name_the_field(check: Callable[[], None], field: str, message: str) -> None:
    with pytest.raises(CgroupError) as e:
        check()
    assert e.value.field == field and str(e.value) == f"{field}: {message}"


def test_cpuset_parse_format() -> None:
    assert convert.parse_cpuset("0-3,7") == {0, 1, 2, 3, 7}
    assert convert.format_cpuset({0, 1, 2, 3, 7, 9, 10}) == "0-3,7,9-10"
    for bad in ("a", "3-1", "1,,2", "-1"):
        with pytest.raises(ValueError):
            convert.parse_cpuset(bad)


def test_cpuset_outside_host_names_file() -> None:
    with pytest.raises(CgroupError) as e:
        convert.check_cpuset("7", "0-1", "linux.resources.cpu.cpus", "CPU", "cpuset.cpus of /sys/fs/cgroup/cpuset")
    assert str(e.value) == (
        "linux.resources.cpu.cpus: '7' is outside this host's CPUs 0-1 (cpuset.cpus of /sys/fs/cgroup/cpuset); "
        "7 not available"
    )


def test_page_sizes() -> None:
    assert convert.page_size_bytes("2MB") == 2 * 1024 * 1024
    assert convert.kernel_page_size_name(convert.page_size_bytes("1024MB")) == "1GB"
    assert convert.kernel_page_size_name(64 * 1024) == "64KB"


@pytest.mark.parametrize(
    ("rule", "line"),
    [
        (Dev(allow=False, access="rwm"), "a *:* rwm"),
        (Dev(allow=True, type="c", major=1, minor=3, access="rw"), "c 1:3 rw"),
        (Dev(allow=True, type="b", major=8), "b 8:* rwm"),
        (Dev(allow=True, type="c", major=-1, minor=-1, access="m"), "c *:* m"),
    ],
)
def test_device_rule_v1(rule: Dev, line: str) -> None:
    assert convert.device_rule_v1(rule, "f") == line


@pytest.mark.parametrize("rule", [Dev(allow=True, type="x"), Dev(allow=True, access="rwx"), Dev(allow=True, major=-5)])
def test_device_rule_v1_refused(rule: Dev) -> None:
    with pytest.raises(CgroupError, match=r"^f\."):
        convert.device_rule_v1(rule, "f")


# --- the device program, interpreted ----------------------------------------------------------------


def _allows(rules: list[Dev], *req: tuple[str, int, int, str]) -> list[bool]:
    prog = bpf.compile_device_program(rules)
    return [bpf.run_program(prog, *r) for r in req]


def test_bpf_default_deny_and_allow_list() -> None:
    rules = [Dev(allow=False, access="rwm"), Dev(allow=True, type="c", major=1, minor=3, access="rw")]
    assert _allows(
        rules, ("c", 1, 3, "r"), ("c", 1, 3, "rw"), ("c", 1, 3, "m"), ("c", 1, 5, "r"), ("b", 1, 3, "r")
    ) == [True, True, False, False, False]


def test_bpf_last_rule_wins() -> None:
    rules = [Dev(allow=True, access="rwm"), Dev(allow=False, type="c", major=1, minor=3, access="w")]
    assert _allows(rules, ("c", 1, 3, "r"), ("c", 1, 3, "w"), ("c", 1, 3, "rw"), ("b", 8, 0, "rwm")) == [
        True,
        False,
        False,
        True,
    ]
    # a catch-all at the end makes the earlier rules irrelevant
    assert _allows([Dev(allow=True, type="c", major=1, minor=3), Dev(allow=False, access="rwm")], ("c", 1, 3, "r")) == [
        False
    ]


def test_bpf_wildcard_minor() -> None:
    rules = [Dev(allow=True, type="c", major=136, access="rwm")]
    assert _allows(rules, ("c", 136, 0, "rw"), ("c", 136, 99, "r"), ("c", 137, 0, "r")) == [True, True, False]


def test_bpf_encoding() -> None:
    prog = bpf.compile_device_program([])
    assert len(prog) == 8
    assert prog[0].encode() == bytes([0x61, 0x12, 0, 0, 0, 0, 0, 0])  # r2 = *(u32 *)(r1 + 0)
    assert prog[-1].encode() == bytes([0x95, 0, 0, 0, 0, 0, 0, 0])


# --- stats JSON ------------------------------------------------------------------------------------------


def test_stats_runc_shape() -> None:
    s = Stats()
    s.cpu.usage.total = 10
    s.cpu.usage.percpu = [4, 6]
    s.memory.usage.limit = 100
    s.memory.raw = {"cache": 1}
    s.pids.current = 2
    s.blkio.io_service_bytes_recursive = [BlkioEntry(8, 0, "Read", 4096)]
    s.hugetlb["2MB"] = HugetlbStats(usage=0, failcnt=0)
    ev = json.loads(s.to_runc_json("c1"))
    assert ev["type"] == "stats" and ev["id"] == "c1"
    d = ev["data"]
    assert d["cpu"] == {"usage": {"total": 10, "percpu": [4, 6], "kernel": 0, "user": 0}, "throttling": {}}
    assert d["memory"]["usage"] == {"limit": 100, "failcnt": 0}
    assert d["memory"]["swap"] == {"limit": 0, "failcnt": 0}
    assert d["memory"]["raw"] == {"cache": 1}
    assert d["pids"] == {"current": 2}
    assert d["blkio"] == {"ioServiceBytesRecursive": [{"major": 8, "op": "Read", "value": 4096}]}
    assert d["hugetlb"] == {"2MB": {"failcnt": 0}}
    assert d["network_interfaces"] is None
