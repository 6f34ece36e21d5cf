"""Typed cgroup statistics, shaped like runc's ``events --stats`` (libcontainer/cgroups/stats.go and
types/events.go). ``to_runc_dict()`` reproduces Go's JSON tags, including ``omitempty`` (a zero number or
an empty list/map is left out; nested structs are always present)."""

from __future__ import annotations

from libcontainer_py import _json
from libcontainer_py._record import Record, field

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

#: What runc reports as the limit when there is none (math.MaxUint64 on v2, the page-rounded
#: LONG_MAX that v1 shows as memory.limit_in_bytes of an unlimited cgroup).
UNLIMITED = 2**64 - 1


def _omit(d: dict[str, Any], *keys: str) -> dict[str, Any]:
    """Drop the ``omitempty`` keys whose value is zero, empty or None."""
    for k in keys:
        if not d.get(k):
            d.pop(k, None)
    return d


class CpuUsage(Record):
    total: int = 0  # nanoseconds
    percpu: list[int] = field(default_factory=list)
    kernel: int = 0
    user: int = 0
    # v1's cpuacct.usage_all (runc's percpu_kernel/percpu_user, omitempty): nanoseconds per CPU
    percpu_kernel: list[int] = field(default_factory=list)
    percpu_user: list[int] = field(default_factory=list)

    def to_runc_dict(self) -> dict[str, Any]:
        return _omit({"total": self.total, "percpu": self.percpu, "percpu_kernel": self.percpu_kernel,
                      "kernel": self.kernel, "percpu_user": self.percpu_user, "user": self.user},
                     "total", "percpu", "percpu_kernel", "percpu_user")


class Throttling(Record):
    periods: int = 0
    throttled_periods: int = 0
    throttled_time: int = 0  # nanoseconds

    def to_runc_dict(self) -> dict[str, Any]:
        d = {"periods": self.periods, "throttledPeriods": self.throttled_periods, "throttledTime": self.throttled_time}
        return _omit(d, "periods", "throttledPeriods", "throttledTime")


class CpuStats(Record):
    usage: CpuUsage = field(default_factory=CpuUsage)
    throttling: Throttling = field(default_factory=Throttling)

    def to_runc_dict(self) -> dict[str, Any]:
        return {"usage": self.usage.to_runc_dict(), "throttling": self.throttling.to_runc_dict()}


class MemoryEntry(Record):
    limit: int = 0
    usage: int = 0
    max: int = 0
    failcnt: int = 0

    def to_runc_dict(self) -> dict[str, Any]:
        return _omit({"limit": self.limit, "usage": self.usage, "max": self.max, "failcnt": self.failcnt},
                     "usage", "max")


class MemoryStats(Record):
    cache: int = 0
    usage: MemoryEntry = field(default_factory=MemoryEntry)
    swap: MemoryEntry = field(default_factory=MemoryEntry)
    kernel: MemoryEntry = field(default_factory=MemoryEntry)
    kernel_tcp: MemoryEntry = field(default_factory=MemoryEntry)
    raw: dict[str, int] = field(default_factory=dict)

    def to_runc_dict(self) -> dict[str, Any]:
        d = {
            "cache": self.cache,
            "usage": self.usage.to_runc_dict(),
            "swap": self.swap.to_runc_dict(),
            "kernel": self.kernel.to_runc_dict(),
            "kernelTCP": self.kernel_tcp.to_runc_dict(),
            "raw": dict(self.raw),
        }
        return _omit(d, "cache", "raw")


class PidsStats(Record):
    current: int = 0
    limit: int = 0  # 0: unlimited (as runc reports "max")

    def to_runc_dict(self) -> dict[str, Any]:
        return _omit({"current": self.current, "limit": self.limit}, "current", "limit")


class BlkioEntry(Record):
    major: int = 0
    minor: int = 0
    op: str = ""
    value: int = 0

    def to_runc_dict(self) -> dict[str, Any]:
        return _omit({"major": self.major, "minor": self.minor, "op": self.op, "value": self.value},
                     "major", "minor", "op", "value")


class BlkioStats(Record):
    io_service_bytes_recursive: list[BlkioEntry] = field(default_factory=list)
    io_serviced_recursive: list[BlkioEntry] = field(default_factory=list)

    def to_runc_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "ioServiceBytesRecursive": [e.to_runc_dict() for e in self.io_service_bytes_recursive],
            "ioServicedRecursive": [e.to_runc_dict() for e in self.io_serviced_recursive],
        }
        return _omit(d, "ioServiceBytesRecursive", "ioServicedRecursive")


class HugetlbStats(Record):
    usage: int = 0
    max: int = 0
    failcnt: int = 0

    def to_runc_dict(self) -> dict[str, Any]:
        return _omit({"usage": self.usage, "max": self.max, "failcnt": self.failcnt}, "usage", "max")


class Stats(Record):
    """One sample of a container's cgroup statistics."""

    cpu: CpuStats = field(default_factory=CpuStats)
    memory: MemoryStats = field(default_factory=MemoryStats)
    pids: PidsStats = field(default_factory=PidsStats)
    blkio: BlkioStats = field(default_factory=BlkioStats)
    hugetlb: dict[str, HugetlbStats] = field(default_factory=dict)  # page size ("2MB") -> stats
    oom_kill: int = 0  # not in runc's stats; what events uses to report OOM

    def to_runc_dict(self) -> dict[str, Any]:
        """runc's ``types.Stats`` (the ``data`` of a stats event)."""
        return {
            "cpu": self.cpu.to_runc_dict(),
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
            "memory": self.memory.to_runc_dict(),
            "pids": self.pids.to_runc_dict(),
            "blkio": self.blkio.to_runc_dict(),
            "hugetlb": {k: v.to_runc_dict() for k, v in self.hugetlb.items()},
            "intel_rdt": {},
            "network_interfaces": None,
        }

    def to_runc_event(self, container_id: str) -> dict[str, Any]:
        """The whole event object: ``{"type": "stats", "id": ID, "data": {...}}``."""
        return {"type": "stats", "id": container_id, "data": self.to_runc_dict()}

    def to_runc_json(self, container_id: str) -> str:
        """The line ``runc events --stats ID`` prints (compact JSON, as Go's encoder writes it)."""
        return _json.dumps(self.to_runc_event(container_id), separators=(",", ":"))
