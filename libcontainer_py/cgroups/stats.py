"""Typed cgroup statistics, shaped like runc's ``events --stats`` (libcontainer/cgroups/stats.go and
types/events.go). The readers (cgroups/_read.py) give runc's dict itself, which is what `pyrunc
events --stats` prints; ``Stats.from_runc`` makes these records from it for the library, and
``to_runc_dict()`` turns them back into it, Go's JSON tags and ``omitempty`` included (a zero
number or an empty list/map is left out; nested structs are always present), through the same
function the readers use (_read.runc_dict)."""

from __future__ import annotations

from libcontainer_py import _json
from libcontainer_py._record import Record, field
from libcontainer_py.cgroups._read import UNLIMITED as UNLIMITED
from libcontainer_py.cgroups._read import runc_dict

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


class CpuUsage(Record):
    total: int = 0  # nanoseconds
    percpu: list[int] = field(default_factory=list)
    kernel: int = 0
    user: int = 0
    # v1's cpuacct.usage_all (runc's percpu_kernel/percpu_user, omitempty): nanoseconds per CPU
    percpu_kernel: list[int] = field(default_factory=list)
    percpu_user: list[int] = field(default_factory=list)


class Throttling(Record):
    periods: int = 0
    throttled_periods: int = 0
    throttled_time: int = 0  # nanoseconds


class CpuStats(Record):
    usage: CpuUsage = field(default_factory=CpuUsage)
    throttling: Throttling = field(default_factory=Throttling)


class MemoryEntry(Record):
    limit: int = 0
    usage: int = 0
    max: int = 0
    failcnt: int = 0


class MemoryStats(Record):
    cache: int = 0
    usage: MemoryEntry = field(default_factory=MemoryEntry)
    swap: MemoryEntry = field(default_factory=MemoryEntry)
    kernel: MemoryEntry = field(default_factory=MemoryEntry)
    kernel_tcp: MemoryEntry = field(default_factory=MemoryEntry)
    raw: dict[str, int] = field(default_factory=dict)


class PidsStats(Record):
    current: int = 0
    limit: int = 0  # 0: unlimited (as runc reports "max")


class BlkioEntry(Record):
    major: int = 0
    minor: int = 0
    op: str = ""
    value: int = 0


class BlkioStats(Record):
    io_service_bytes_recursive: list[BlkioEntry] = field(default_factory=list)
    io_serviced_recursive: list[BlkioEntry] = field(default_factory=list)


class HugetlbStats(Record):
    usage: int = 0
    max: int = 0
    failcnt: int = 0


def _memory_entry(d: dict[str, int]) -> MemoryEntry:
    return MemoryEntry(limit=d.get("limit", 0), usage=d.get("usage", 0), max=d.get("max", 0),
                       failcnt=d.get("failcnt", 0))


def _memory_dict(e: MemoryEntry) -> dict[str, int]:
    return {"limit": e.limit, "usage": e.usage, "max": e.max, "failcnt": e.failcnt}


def _blkio(entries: list[dict[str, Any]]) -> list[BlkioEntry]:
    return [BlkioEntry(e.get("major", 0), e.get("minor", 0), e.get("op", ""), e.get("value", 0)) for e in entries]


def _blkio_dicts(entries: list[BlkioEntry]) -> list[dict[str, Any]]:
    return [{"major": e.major, "minor": e.minor, "op": e.op, "value": e.value} for e in entries]


class Stats(Record):
    """One sample of a container's cgroup statistics."""

    cpu: CpuStats = field(default_factory=CpuStats)
    memory: MemoryStats = field(default_factory=MemoryStats)
    pids: PidsStats = field(default_factory=PidsStats)
    blkio: BlkioStats = field(default_factory=BlkioStats)
    hugetlb: dict[str, HugetlbStats] = field(default_factory=dict)  # page size ("2MB") -> stats
    oom_kill: int = 0  # not in runc's stats; what events uses to report OOM

    @classmethod
    def from_runc(cls, data: dict[str, Any], oom_kill: int = 0) -> Stats:
        """The records of runc's stats dict (``to_runc_dict``'s shape; a key omitted is zero)."""
        cpu, memory, blkio = data.get("cpu", {}), data.get("memory", {}), data.get("blkio", {})
        usage, throttling, pids = cpu.get("usage", {}), cpu.get("throttling", {}), data.get("pids", {})
        return cls(
            cpu=CpuStats(
                usage=CpuUsage(
                    total=usage.get("total", 0),
                    percpu=list(usage.get("percpu", [])),
                    kernel=usage.get("kernel", 0),
                    user=usage.get("user", 0),
                    percpu_kernel=list(usage.get("percpu_kernel", [])),
                    percpu_user=list(usage.get("percpu_user", [])),
                ),
                throttling=Throttling(
                    periods=throttling.get("periods", 0),
                    throttled_periods=throttling.get("throttledPeriods", 0),
                    throttled_time=throttling.get("throttledTime", 0),
                ),
            ),
            memory=MemoryStats(
                cache=memory.get("cache", 0),
                usage=_memory_entry(memory.get("usage", {})),
                swap=_memory_entry(memory.get("swap", {})),
                kernel=_memory_entry(memory.get("kernel", {})),
                kernel_tcp=_memory_entry(memory.get("kernelTCP", {})),
                raw=dict(memory.get("raw", {})),
            ),
            pids=PidsStats(current=pids.get("current", 0), limit=pids.get("limit", 0)),
            blkio=BlkioStats(
                io_service_bytes_recursive=_blkio(blkio.get("ioServiceBytesRecursive", [])),
                io_serviced_recursive=_blkio(blkio.get("ioServicedRecursive", [])),
            ),
            hugetlb={
                size: HugetlbStats(usage=h.get("usage", 0), max=h.get("max", 0), failcnt=h.get("failcnt", 0))
                for size, h in data.get("hugetlb", {}).items()
            },
            oom_kill=oom_kill,
        )

    def to_runc_dict(self) -> dict[str, Any]:
        """runc's ``types.Stats`` (the ``data`` of a stats event)."""
        u, t, m = self.cpu.usage, self.cpu.throttling, self.memory
        return runc_dict(
            {"total": u.total, "percpu": list(u.percpu), "percpu_kernel": list(u.percpu_kernel),
             "kernel": u.kernel, "percpu_user": list(u.percpu_user), "user": u.user},
            {"periods": t.periods, "throttledPeriods": t.throttled_periods, "throttledTime": t.throttled_time},
            {"cache": m.cache, "usage": _memory_dict(m.usage), "swap": _memory_dict(m.swap),
             "kernel": _memory_dict(m.kernel), "kernelTCP": _memory_dict(m.kernel_tcp), "raw": dict(m.raw)},
            {"current": self.pids.current, "limit": self.pids.limit},
            _blkio_dicts(self.blkio.io_service_bytes_recursive),
            _blkio_dicts(self.blkio.io_serviced_recursive),
            {size: {"usage": h.usage, "max": h.max, "failcnt": h.failcnt} for size, h in self.hugetlb.items()},
        )

    def to_runc_event(self, container_id: str) -> dict[str, Any]:
        """The whole event object: ``{"type": "stats", "id": ID, "data": {...}}``."""
        return {"type": "stats", "id": container_id, "data": self.to_runc_dict()}

    def to_runc_json(self, container_id: str) -> str:
        """The line ``runc events --stats ID`` prints (compact JSON, as Go's encoder writes it)."""
        return _json.dumps(self.to_runc_event(container_id), separators=(",", ":"))
