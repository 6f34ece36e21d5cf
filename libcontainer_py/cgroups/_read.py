"""Reading a container's cgroups: the file helpers, the v1 and v2 stats, and the frozen check.

Everything here imports only `posix` and _paths.py, not even `os` (~2 ms: _paths.py says why), and
the typed Stats records of cgroups/stats.py only for stats_v1() and stats_v2(), what the drivers'
stats() give: `pyrunc events --stats` reads a container's stats as
runc's dict (runc_stats) through this module alone, without the records and the drivers
(v1.py, v2.py: the manager ABC, the layout enum, mountinfo, cgroupspy), which V1Manager.stats and
V2Manager.stats delegate to. cgroupspy stays the v1 driver's writer; its three cpuacct reads are
done here the way its IntegerFile, IntegerListFile and DictFile parse them (a file it cannot read
or parse gives the default), so the numbers are the same.
"""

# No `from __future__ import annotations`: `pyrunc state` and `events --stats` import this module,
# and the __future__ module costs them ~0.15 ms (tests/integration/test_cli_imports.py); annotations
# that name TYPE_CHECKING imports are strings.
import posix

from libcontainer_py._paths import dirname, exists, isdir, join
from libcontainer_py._status import read_all

TYPE_CHECKING = False  # not `typing` (~3 ms)
if TYPE_CHECKING:
    from typing import Any

    from libcontainer_py.cgroups.stats import Stats

#: What runc reports as the limit when there is none (math.MaxUint64 on v2, the page-rounded
#: LONG_MAX that v1 shows as memory.limit_in_bytes of an unlimited cgroup).
UNLIMITED = 2**64 - 1

# --- file helpers ------------------------------------------------------------------------------------


def read_file(path: str) -> str:
    """The stripped content of a cgroup file (OSError propagates). posix.read, not open(): a text
    file object costs ~4x as much for these few bytes."""
    return read_all(path).decode("ascii", errors="replace").strip()


def read_optional(path: str) -> str | None:
    """The content of a cgroup file, or None when it does not exist or cannot be read."""
    try:
        return read_file(path)
    except OSError:
        return None


def read_int(path: str, default: int = 0) -> int:
    """An integer file; ``max`` and a missing file give ``default``."""
    text = read_optional(path)
    if text is None or text in ("", "max"):
        return default
    try:
        return int(text.split()[0])
    except ValueError:
        return default


def read_keyed(path: str) -> dict[str, int]:
    """A flat-keyed file (``key value`` per line: memory.stat, cpu.stat, memory.events)."""
    out: dict[str, int] = {}
    text = read_optional(path)
    if not text:
        return out
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 2:
            try:
                out[parts[0]] = int(parts[1])
            except ValueError:
                continue
    return out


# --- huge pages --------------------------------------------------------------------------------------


def kernel_page_size_name(size_bytes: int) -> str:
    """The name the hugetlb controller gives a page size (mm/hugetlb_cgroup.c mem_fmt)."""
    if size_bytes >= 1024**3:
        return f"{size_bytes // 1024**3}GB"
    if size_bytes >= 1024**2:
        return f"{size_bytes // 1024**2}MB"
    return f"{size_bytes // 1024}KB"


def host_hugepage_sizes(sysfs: str = "/sys/kernel/mm/hugepages") -> list[str]:
    """The host's huge page sizes as the hugetlb controller names them (["2MB", "1GB"])."""
    sizes: list[int] = []
    try:
        names = posix.listdir(sysfs)
    except OSError:
        return []
    for n in names:  # "hugepages-2048kB" (by hand: stats read this, and `re` costs ~5 ms to import)
        kib = n.removeprefix("hugepages-").removesuffix("kB")
        if n.startswith("hugepages-") and n.endswith("kB") and kib.isascii() and kib.isdigit():
            sizes.append(int(kib) * 1024)
    return [kernel_page_size_name(s) for s in sorted(sizes)]


# --- stats -------------------------------------------------------------------------------------------
#
# The readers give runc's stats as runc prints them (libcontainer/cgroups/stats.go and types/events.go:
# the `data` of `events --stats`, Go's JSON names, `omitempty` applied): plain dicts, because that is
# what `pyrunc events --stats` prints, and building the typed records of cgroups/stats.py first cost
# more than the ~30 file reads (~0.6 ms: ten classes to build, their module and _record). The library's
# typed Stats is made from the same dict (Stats.from_runc), and turns back into it (to_runc_dict): a
# test holds the two to each other.


def stats_v1(dirs: dict[str, str]) -> "Stats":
    from libcontainer_py.cgroups.stats import Stats

    return Stats.from_runc(*runc_stats_v1(dirs))


def stats_v2(directory: str) -> "Stats":
    from libcontainer_py.cgroups.stats import Stats

    return Stats.from_runc(*runc_stats_v2(directory))


def runc_stats(paths: dict[str, str]) -> "tuple[dict[str, Any], int]":
    """runc's stats dict (see above) and the OOM-kill count (memory.oom_control or memory.events'
    oom_kill, not in runc's stats: what `events` reports OOMs from) of a state.json's
    ``cgroup_paths``: ``{"": dir}`` is v2, ``{controller: dir}`` v1, ``{}`` no cgroup (zeros)."""
    if not paths:
        return runc_dict(_cpu_usage(), _throttling(), _memory(), {}, [], [], {}), 0
    if "" in paths:
        return runc_stats_v2(paths[""])
    return runc_stats_v1(paths)


# The parts, with every key: runc_dict drops the omitempty ones that are zero or empty.


def _cpu_usage() -> "dict[str, Any]":
    return {"total": 0, "percpu": [], "percpu_kernel": [], "kernel": 0, "percpu_user": [], "user": 0}


def _throttling() -> "dict[str, Any]":
    return {"periods": 0, "throttledPeriods": 0, "throttledTime": 0}


def _memory_entry() -> "dict[str, Any]":
    return {"limit": 0, "usage": 0, "max": 0, "failcnt": 0}


def _memory() -> "dict[str, Any]":
    return {"cache": 0, "usage": _memory_entry(), "swap": _memory_entry(), "kernel": _memory_entry(),
            "kernelTCP": _memory_entry(), "raw": {}}


def _omit(d: "dict[str, Any]", *keys: str) -> "dict[str, Any]":
    """Drop the ``omitempty`` keys whose value is zero, empty or None (Go's encoding/json)."""
    for k in keys:
        if not d.get(k):
            d.pop(k, None)
    return d


def runc_dict(
    usage: "dict[str, Any]",
    throttling: "dict[str, Any]",
    memory: "dict[str, Any]",
    pids: dict[str, int],
    io_bytes: "list[dict[str, Any]]",
    io_ops: "list[dict[str, Any]]",
    hugetlb: dict[str, dict[str, int]],
) -> "dict[str, Any]":
    """runc's ``types.Stats``, the JSON tags and omitempty as stats.go has them (nested structs are
    always there)."""
    for entry in ("usage", "swap", "kernel", "kernelTCP"):
        _omit(memory[entry], "usage", "max")
    for e in io_bytes + io_ops:
        _omit(e, "major", "minor", "op", "value")
    return {
        "cpu": {"usage": _omit(usage, "total", "percpu", "percpu_kernel", "percpu_user"),
                "throttling": _omit(throttling, "periods", "throttledPeriods", "throttledTime")},
        "cpuset": {
            "cpu_exclusive": 0,
            "mem_hardwall": 0,
            "mem_exclusive": 0,
            "memory_migrate": 0,
            "memory_spread_page": 0,
            "memory_spread_slab": 0,
            "memory_pressure": 0,
            "sched_load_balance": 0,
            "sched_relax_domain_level": 0,
        },
        "memory": _omit(memory, "cache", "raw"),
        "pids": _omit(pids, "current", "limit"),
        "blkio": _omit({"ioServiceBytesRecursive": io_bytes, "ioServicedRecursive": io_ops},
                       "ioServiceBytesRecursive", "ioServicedRecursive"),
        "hugetlb": {size: _omit(h, "usage", "max") for size, h in hugetlb.items()},
        "intel_rdt": {},
        "network_interfaces": None,
    }


def runc_stats_v1(dirs: dict[str, str]) -> "tuple[dict[str, Any], int]":
    usage, throttling, memory = _cpu_usage(), _throttling(), _memory()
    pids: dict[str, int] = {"current": 0, "limit": 0}
    io_bytes: list[dict[str, Any]] = []
    io_ops: list[dict[str, Any]] = []
    hugetlb: dict[str, dict[str, int]] = {}
    oom_kill = 0
    acct = dirs.get("cpuacct")
    if acct is not None and isdir(acct):
        text = read_optional(join(acct, "cpuacct.usage"))
        try:
            total = int(text) if text is not None else 0
        except ValueError:
            total = 0
        usage["total"] = 0 if total == -1 else total  # cgroupspy's IntegerFile reads -1 as None
        text = read_optional(join(acct, "cpuacct.usage_percpu"))
        try:
            usage["percpu"] = [int(v) for v in text.split()] if text is not None else []
        except ValueError:
            usage["percpu"] = []
        # runc reports per-CPU user and system time too (cpuacct.usage_all: "cpu user system" rows)
        for line in (read_optional(join(acct, "cpuacct.usage_all")) or "").splitlines()[1:]:
            parts = line.split()
            if len(parts) == 3 and parts[1].isdigit() and parts[2].isdigit():
                usage["percpu_user"].append(int(parts[1]))
                usage["percpu_kernel"].append(int(parts[2]))
        ticks = _acct_stat(read_optional(join(acct, "cpuacct.stat")))
        hz = posix.sysconf("SC_CLK_TCK")
        usage["user"] = ticks.get("user", 0) * 1_000_000_000 // hz
        usage["kernel"] = ticks.get("system", 0) * 1_000_000_000 // hz
    if "cpu" in dirs:
        st = read_keyed(join(dirs["cpu"], "cpu.stat"))
        throttling["periods"] = st.get("nr_periods", 0)
        throttling["throttledPeriods"] = st.get("nr_throttled", 0)
        throttling["throttledTime"] = st.get("throttled_time", 0)
    d = dirs.get("memory")
    if d is not None and isdir(d):
        raw = read_keyed(join(d, "memory.stat"))
        memory["raw"] = raw
        memory["cache"] = raw.get("cache", 0)  # runc's fs/memory.go: the cgroup's own, not total_cache
        for entry, prefix in (("usage", "memory"), ("swap", "memory.memsw"), ("kernel", "memory.kmem"),
                              ("kernelTCP", "memory.kmem.tcp")):
            e = memory[entry]
            e["usage"] = read_int(join(d, f"{prefix}.usage_in_bytes"))
            e["max"] = read_int(join(d, f"{prefix}.max_usage_in_bytes"))
            e["failcnt"] = read_int(join(d, f"{prefix}.failcnt"))
            e["limit"] = read_int(join(d, f"{prefix}.limit_in_bytes"))
        oom_kill = read_keyed(join(d, "memory.oom_control")).get("oom_kill", 0)
    if "pids" in dirs:
        d = dirs["pids"]
        pids["current"] = read_int(join(d, "pids.current"))
        pids["limit"] = read_int(join(d, "pids.max"))
    if "blkio" in dirs:
        d = dirs["blkio"]
        io_bytes = _blkio_entries(join(d, "blkio.throttle.io_service_bytes_recursive"))
        io_ops = _blkio_entries(join(d, "blkio.throttle.io_serviced_recursive"))
    if "hugetlb" in dirs:
        d = dirs["hugetlb"]
        for size in host_hugepage_sizes():
            hugetlb[size] = {
                "usage": read_int(join(d, f"hugetlb.{size}.usage_in_bytes")),
                "max": read_int(join(d, f"hugetlb.{size}.max_usage_in_bytes")),
                "failcnt": read_int(join(d, f"hugetlb.{size}.failcnt")),
            }
    return runc_dict(usage, throttling, memory, pids, io_bytes, io_ops, hugetlb), oom_kill


def _acct_stat(text: str | None) -> dict[str, int]:
    """cpuacct.stat ("user N" and "system N" lines), all or nothing, as cgroupspy's DictFile."""
    if text is None:
        return {}
    out: dict[str, int] = {}
    for line in text.split("\n"):
        parts = line.split()
        if len(parts) != 2:
            return {}
        try:
            out[parts[0]] = int(parts[1])
        except ValueError:
            return {}
    return out


def _blkio_entries(path: str) -> "list[dict[str, Any]]":
    """``8:0 Read 4096`` lines (the ``Total`` line is dropped, as runc does)."""
    out: list[dict[str, Any]] = []
    for line in (read_optional(path) or "").splitlines():
        parts = line.split()
        if len(parts) != 3 or ":" not in parts[0]:
            continue
        major, _, minor = parts[0].partition(":")
        try:
            out.append({"major": int(major), "minor": int(minor), "op": parts[1], "value": int(parts[2])})
        except ValueError:
            continue
    return out


def v2_controllers(directory: str) -> set[str]:
    """Controllers usable in a v2 cgroup: its cgroup.controllers; before it exists, those of its
    nearest existing ancestor, which the driver's create enables in every cgroup.subtree_control
    on the way down (v2.py enable_controllers). (It read the parent's subtree_control, which is
    empty until that create: the first container under a new parent, or under one whose
    controllers nothing had enabled yet, was refused every limit as "not enabled".)"""
    text = read_optional(join(directory, "cgroup.controllers"))
    parent = directory.rstrip("/")
    while text is None and parent not in ("", "/"):
        parent = dirname(parent)
        text = read_optional(join(parent, "cgroup.controllers"))
    return set((text or "").split())


def runc_stats_v2(directory: str) -> "tuple[dict[str, Any], int]":
    directory = directory.rstrip("/")

    def file(name: str) -> str:
        return join(directory, name)

    usage, throttling, memory = _cpu_usage(), _throttling(), _memory()
    io_bytes: list[dict[str, Any]] = []
    io_ops: list[dict[str, Any]] = []
    hugetlb: dict[str, dict[str, int]] = {}
    oom_kill = 0
    cpu = read_keyed(file("cpu.stat"))
    usage["total"] = cpu.get("usage_usec", 0) * 1000
    usage["user"] = cpu.get("user_usec", 0) * 1000
    usage["kernel"] = cpu.get("system_usec", 0) * 1000
    throttling["periods"] = cpu.get("nr_periods", 0)
    throttling["throttledPeriods"] = cpu.get("nr_throttled", 0)
    throttling["throttledTime"] = cpu.get("throttled_usec", 0) * 1000
    if exists(file("memory.current")):
        raw = read_keyed(file("memory.stat"))
        memory["raw"] = raw
        memory["cache"] = raw.get("file", 0)
        events = read_keyed(file("memory.events"))
        u = memory["usage"]
        u["usage"] = read_int(file("memory.current"))
        u["limit"] = read_int(file("memory.max"), default=UNLIMITED)
        u["max"] = read_int(file("memory.peak"))
        u["failcnt"] = events.get("max", 0)
        sw = memory["swap"]
        # v1 reports memory+swap: add memory to swap-only v2 values, as runc does.
        sw["usage"] = read_int(file("memory.swap.current")) + u["usage"]
        swap_max = read_int(file("memory.swap.max"), default=UNLIMITED)
        sw["limit"] = UNLIMITED if swap_max == UNLIMITED or u["limit"] == UNLIMITED else swap_max + u["limit"]
        sw["failcnt"] = read_keyed(file("memory.swap.events")).get("max", 0)
        oom_kill = events.get("oom_kill", 0)
    pids = {"current": read_int(file("pids.current")), "limit": read_int(file("pids.max"))}
    for line in (read_optional(file("io.stat")) or "").splitlines():
        parts = line.split()
        if not parts or ":" not in parts[0]:
            continue
        major, _, minor = parts[0].partition(":")
        kv = dict(p.split("=", 1) for p in parts[1:] if "=" in p)
        for key, op, target in (("rbytes", "Read", io_bytes), ("wbytes", "Write", io_bytes),
                                ("rios", "Read", io_ops), ("wios", "Write", io_ops)):
            if key in kv:
                target.append({"major": int(major), "minor": int(minor), "op": op, "value": int(kv[key])})
    if "hugetlb" in v2_controllers(directory):
        for size in host_hugepage_sizes():
            if exists(file(f"hugetlb.{size}.current")):
                hugetlb[size] = {
                    "usage": read_int(file(f"hugetlb.{size}.current")),
                    "max": 0,
                    "failcnt": read_keyed(file(f"hugetlb.{size}.events")).get("max", 0),
                }
    return runc_dict(usage, throttling, memory, pids, io_bytes, io_ops, hugetlb), oom_kill
