"""The cgroup v1 driver (pure v1 and hybrid hosts): one directory per mounted hierarchy.

cgroupspy's controller classes do the writes of the files they model (memory, cpu, cpuset, devices,
blkio weights, net_cls). We build them on the one directory we manage (``_Node``) instead of
cgroupspy's ``trees.Tree``, which walks every cgroup of the host when it loads. The stats are read by
_read.py, which parses cpuacct's files as cgroupspy does without importing it (events --stats).
Files cgroupspy does not model, or models wrongly, are written directly:

* pids.*, freezer.state, hugetlb.*, rdma.max, cpu.cfs_burst_us, cpu.idle, memory.kmem.tcp.*: not modelled;
* blkio.throttle.write_*_device: cgroupspy's file names carry a trailing space (``"...write_bps_device "``)
  so they cannot be opened; all four throttle files and the *_device weights are written directly;
* net_prio.ifpriomap: cgroupspy joins all entries into one write, but the kernel parses one
  ``ifname prio`` per write(2), so each entry is written on its own;
* cgroup.procs: one pid per write, with an error naming the cgroup.

create's stage 1 and exec's first child join the cgroup themselves, writing "0" to each hierarchy's
``tasks`` (join_files): moving a pid through cgroup.procs takes the kernel's global
cgroup_threadgroup_rwsem for writing, whose first write after an idle moment waits for an RCU grace
period (5-15 ms on the project's machine); a single thread moving itself does not take it (0.05 ms).
"""

from __future__ import annotations

import os
import time

from libcontainer_py.cgroups import _read, convert
from libcontainer_py.cgroups._plan import Planner, R, throttles
from libcontainer_py.cgroups.base import (
    FREEZE_TIMEOUT_SECONDS,
    Write,
    procs_recursive,
    read_int,
    read_keyed,
    read_optional,
    rmdir_each,
    rmdir_tree,
    write_file,
)
from libcontainer_py.cgroups.paths import CgroupError, Layout, Mounts

# Type-only: importing the spec models (pydantic) costs ~75 ms, which `pyrunc events --stats`,
# `pause` and `delete` need not pay (they never build a LinuxResources).
TYPE_CHECKING = False  # not `typing`: its import costs ~3 ms of every pyrunc call
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from libcontainer_py.cgroups.stats import Stats
    from libcontainer_py.spec import resources as oci

CGPATH = "linux.cgroupsPath"


class _Node:
    """The one thing cgroupspy's controllers read from a node: its directory, as bytes."""

    def __init__(self, path: str) -> None:
        self.full_path = os.fsencode(path)


# file -> (cgroupspy controller class, attribute, value conversion)
_CGROUPSPY: dict[str, tuple[str, str, Callable[[str], Any]]] = {
    "memory.limit_in_bytes": ("MemoryController", "limit_in_bytes", int),
    "memory.soft_limit_in_bytes": ("MemoryController", "soft_limit_in_bytes", int),
    "memory.memsw.limit_in_bytes": ("MemoryController", "memsw_limit_in_bytes", int),
    "memory.swappiness": ("MemoryController", "swappiness", int),
    "memory.oom_control": ("MemoryController", "oom_control", int),
    "cpu.shares": ("CpuController", "shares", int),
    "cpu.cfs_period_us": ("CpuController", "cfs_period_us", int),
    "cpu.cfs_quota_us": ("CpuController", "cfs_quota_us", int),
    "cpu.rt_period_us": ("CpuController", "rt_period_us", int),
    "cpu.rt_runtime_us": ("CpuController", "rt_runtime_us", int),
    "cpuset.cpus": ("CpuSetController", "cpus", convert.parse_cpuset),
    "cpuset.mems": ("CpuSetController", "mems", convert.parse_cpuset),
    "devices.allow": ("DevicesController", "allow", str),
    "devices.deny": ("DevicesController", "deny", str),
    "blkio.weight": ("BlkIOController", "weight", int),
    "blkio.leaf_weight": ("BlkIOController", "leaf_weight", int),
    "net_cls.classid": ("NetClsController", "class_id", int),
}


def _cgspy() -> Any:
    """cgroupspy's controllers module, imported when a file it models is first written: `pyrunc
    state`, `events`, `kill` and `delete` never need it (~1 ms to import here)."""
    from cgroupspy import controllers  # type: ignore[import-untyped]

    return controllers

_THROTTLE_FILES = (
    "blkio.throttle.read_bps_device",
    "blkio.throttle.write_bps_device",
    "blkio.throttle.read_iops_device",
    "blkio.throttle.write_iops_device",
)


class V1Manager(Planner):
    """A container's cgroups on the v1 hierarchies: ``{controller: directory}``."""

    _HUGETLB_FILES = ("hugetlb.{}.limit_in_bytes", "hugetlb.{}.rsvd.limit_in_bytes")

    def __init__(self, dirs: dict[str, str], *, mounts: Mounts | None = None, inner: str = "") -> None:
        self._dirs = dict(dirs)
        self._mounts = mounts
        self._inner = inner
        self.layout = mounts.layout if mounts is not None else Layout.V1

    @classmethod
    def for_path(cls, inner: str, mounts: Mounts) -> V1Manager:
        from libcontainer_py.cgroups.paths import host_path

        dirs = {c: host_path(m, inner) for c, m in mounts.v1.items()}
        return cls(dirs, mounts=mounts, inner=inner)

    # --- identity ---------------------------------------------------------------------------------

    @property
    def path(self) -> str:
        return self._inner

    def paths(self) -> dict[str, str]:
        return dict(self._dirs)

    def _unique_dirs(self) -> list[str]:
        seen: list[str] = []
        for d in self._dirs.values():
            if d not in seen:
                seen.append(d)
        return seen

    def exists(self) -> bool:
        return any(os.path.isdir(d) for d in self._unique_dirs())

    def _dir(self, controller: str, field: str) -> str:
        d = self._dirs.get(controller)
        if d is None:
            raise CgroupError(
                f"the {controller} cgroup controller is not mounted on this host "
                f"(no cgroup v1 hierarchy with {controller} in /proc/self/mountinfo)",
                field=field,
            )
        return d

    # --- create / join ----------------------------------------------------------------------------

    def _check_usable(self, existing: list[str]) -> None:
        """Refuse a pre-existing cgroup that has processes or is frozen (config-linux.md)."""
        for d in existing:
            text = read_optional(os.path.join(d, "cgroup.procs"))
            if text:
                pids = text.split()
                raise CgroupError(
                    f"cgroup {d} already has processes ({', '.join(pids[:5])}{'...' if len(pids) > 5 else ''}); "
                    "a new container needs an empty cgroup",
                    field=CGPATH,
                )
        fz = self._dirs.get("freezer")
        if fz and fz in existing:
            state = read_optional(os.path.join(fz, "freezer.state"))
            if state in ("FROZEN", "FREEZING"):
                raise CgroupError(f"cgroup {fz} is frozen (freezer.state {state}); thaw it first", field=CGPATH)

    def _create(self, made: list[str]) -> list[str]:
        """mkdir each hierarchy's directory; those made are appended to ``made`` as they are (for
        the caller's undo), those already there returned. One mkdir each in the usual case, rather
        than a stat of each first (~0.1 ms of the path the container's init waits on)."""
        existing: list[str] = []
        for d in self._unique_dirs():
            try:
                try:
                    os.mkdir(d)  # the usual case: only the container's own directory is missing
                    made.append(d)
                except FileExistsError:
                    if not os.path.isdir(d):
                        raise
                    existing.append(d)
                except FileNotFoundError:
                    os.makedirs(d)
                    made.append(d)
            except OSError as e:
                raise CgroupError(f"cannot create cgroup {d}: {e.strerror}", field=CGPATH) from e
        return existing

    def _init_cpuset(self, d: str) -> None:
        """A new v1 cpuset has empty cpus/mems, and a task cannot join it (ENOSPC): copy them down from the
        parent at every level we created (runc's cpuset ensureParent)."""
        root = self._mounts.v1["cpuset"].mountpoint if self._mounts and "cpuset" in self._mounts.v1 else None
        if root is None:
            return
        rel = os.path.relpath(d, root)
        if rel.startswith(".."):
            return
        parent = root
        for part in [] if rel == "." else rel.split("/"):
            child = os.path.join(parent, part)
            for f in ("cpuset.cpus", "cpuset.mems"):
                cur = read_optional(os.path.join(child, f))
                if cur == "":
                    value = read_optional(os.path.join(parent, f)) or ""
                    write_file(os.path.join(child, f), value, CGPATH)
            parent = child

    def apply(self, pid: int) -> None:
        self.create()
        self.add_process(pid)

    def create(self) -> bool:
        made: list[str] = []
        try:
            existing = self._create(made)
            self._check_usable(existing)
            if "cpuset" in self._dirs:
                self._init_cpuset(self._dirs["cpuset"])
        except BaseException:
            for d in reversed(made):  # refused, or failed: nothing of ours is left
                try:  # noqa: SIM105  (not contextlib: ~1 ms to import for one line)
                    os.rmdir(d)
                except OSError:
                    pass
            raise
        return not existing

    def join_files(self) -> list[str]:
        from libcontainer_py.cgroups import join_files

        return join_files(self._dirs)

    def add_process(self, pid: int) -> None:
        for d in self._unique_dirs():
            write_file(os.path.join(d, "cgroup.procs"), str(pid), CGPATH)

    # --- resources (plan() is _plan.Planner's; these are the v1 answers and sections) ---------------

    def _need(self, controller: str, field: str) -> None:
        self._dir(controller, field)

    def _dir_of(self, controller: str) -> str | None:
        return self._dirs.get(controller)

    def _ctl(self, controller: str) -> str:
        return controller

    def _cpuset_limit(self, name: str) -> tuple[str, str]:
        return self._cpuset_parent(), f"cpuset.{name}"

    def _require(self, controller: str, file: str, field: str, why: str = "") -> None:
        d = self._dir(controller, field)
        if not self._has(controller, file):
            raise CgroupError(f"this host has no {file} in {d}{why}", field=field)

    def _plan_memory(self, m: oci.LinuxMemory) -> list[Write]:
        f = f"{R}.memory"
        out: list[Write] = []
        for name, v in (("limit", m.limit), ("swap", m.swap), ("reservation", m.reservation),
                        ("kernelTCP", m.kernel_tcp)):
            if v is not None:
                convert.check_limit(v, f"{f}.{name}")
        d = self._dir("memory", f)
        self._check_usage(m, f, "memory.usage_in_bytes")
        limit = m.limit or 0
        swap = m.swap or 0
        has_memsw = self._has("memory", "memory.memsw.limit_in_bytes")
        if limit == -1 and swap == 0 and has_memsw:
            swap = -1  # unlimited memory without a swap value: unlimited memory+swap too (runc)
        if swap != 0 and not has_memsw:
            if swap != -1:
                raise CgroupError(
                    f"{swap}: swap accounting is off on this host (no memory.memsw.limit_in_bytes in {d}; "
                    "boot with swapaccount=1)",
                    field=f"{f}.swap",
                )
            swap = 0
        if swap > 0 and limit > 0 and swap < limit:
            raise CgroupError(f"{swap} is below memory.limit {limit}: OCI swap is memory+swap", field=f"{f}.swap")
        w_limit = Write(f"{f}.limit", "memory", "memory.limit_in_bytes", str(limit))
        w_swap = Write(f"{f}.swap", "memory", "memory.memsw.limit_in_bytes", str(swap))
        if limit != 0 and swap != 0:
            # The kernel keeps limit <= memsw at every step: raise memsw first when growing.
            cur = read_int(os.path.join(d, "memory.limit_in_bytes"), default=2**63 - 1)
            out += [w_swap, w_limit] if swap == -1 or cur < swap else [w_limit, w_swap]
        elif limit != 0:
            out.append(w_limit)
        elif swap != 0:
            out.append(w_swap)
        if m.reservation is not None and m.reservation != 0:
            out.append(Write(f"{f}.reservation", "memory", "memory.soft_limit_in_bytes", str(m.reservation)))
        # memory.kernel is ignored, as runc does since 1.0: kernel memory limits are deprecated
        # (the file is a no-op since Linux 5.16 and gone in 6.x cgroup v2).
        if m.kernel_tcp is not None and m.kernel_tcp != 0:
            self._require("memory", "memory.kmem.tcp.limit_in_bytes", f"{f}.kernelTCP")
            out.append(Write(f"{f}.kernelTCP", "memory", "memory.kmem.tcp.limit_in_bytes", str(m.kernel_tcp)))
        if m.swappiness is not None:
            if m.swappiness > 100:
                raise CgroupError(f"{m.swappiness} is invalid: swappiness is 0..100", field=f"{f}.swappiness")
            out.append(Write(f"{f}.swappiness", "memory", "memory.swappiness", str(m.swappiness)))
        if m.disable_oom_killer:
            out.append(Write(f"{f}.disableOOMKiller", "memory", "memory.oom_control", "1"))
        return out

    def _cpuset_parent(self) -> str:
        d = self._dirs["cpuset"]
        root = self._mounts.v1["cpuset"].mountpoint if self._mounts and "cpuset" in self._mounts.v1 else "/"
        p = os.path.dirname(d)
        while len(p) > len(root) and not read_optional(os.path.join(p, "cpuset.cpus")):
            p = os.path.dirname(p)
        return p

    def _plan_cpu(self, c: oci.LinuxCPU) -> list[Write]:
        f = f"{R}.cpu"
        out: list[Write] = []
        if c.shares:
            self._dir("cpu", f"{f}.shares")
            convert.check_shares(c.shares, f"{f}.shares")
            out.append(Write(f"{f}.shares", "cpu", "cpu.shares", str(c.shares)))
        convert.check_cfs(c.quota, c.period, c.burst, f)
        if c.period:
            self._dir("cpu", f"{f}.period")
            out.append(Write(f"{f}.period", "cpu", "cpu.cfs_period_us", str(c.period)))
        if c.quota:
            self._dir("cpu", f"{f}.quota")
            out.append(Write(f"{f}.quota", "cpu", "cpu.cfs_quota_us", str(c.quota)))
        if c.burst is not None:
            self._require("cpu", "cpu.cfs_burst_us", f"{f}.burst", " (CFS burst needs Linux 5.14)")
            out.append(Write(f"{f}.burst", "cpu", "cpu.cfs_burst_us", str(c.burst)))
        if c.realtime_period:
            self._require("cpu", "cpu.rt_period_us", f"{f}.realtimePeriod", " (CONFIG_RT_GROUP_SCHED is off)")
            out.append(Write(f"{f}.realtimePeriod", "cpu", "cpu.rt_period_us", str(c.realtime_period)))
        if c.realtime_runtime:
            self._require("cpu", "cpu.rt_runtime_us", f"{f}.realtimeRuntime", " (CONFIG_RT_GROUP_SCHED is off)")
            out.append(Write(f"{f}.realtimeRuntime", "cpu", "cpu.rt_runtime_us", str(c.realtime_runtime)))
        if c.idle is not None:
            convert.check_idle(c.idle, f"{f}.idle")
            self._require("cpu", "cpu.idle", f"{f}.idle", " (cpu.idle needs Linux 5.15)")
            out.append(Write(f"{f}.idle", "cpu", "cpu.idle", str(c.idle)))
        return out + self._plan_cpusets(c, f)

    def _plan_block_io(self, b: oci.LinuxBlockIO) -> list[Write]:
        f = f"{R}.blockIO"
        out: list[Write] = []

        def weight_file(base: str, fld: str) -> str:
            self._dir("blkio", fld)
            for cand in (f"blkio.{base}", f"blkio.bfq.{base}"):
                if self._has("blkio", cand):
                    return cand
            raise CgroupError(
                f"this host has no blkio.{base} or blkio.bfq.{base} in {self._dirs['blkio']} "
                "(no CFQ/BFQ I/O scheduler)",
                field=fld,
            )

        if b.weight is not None and b.weight != 0:
            convert.check_blkio_weight(b.weight, f"{f}.weight")
            out.append(Write(f"{f}.weight", "blkio", weight_file("weight", f"{f}.weight"), str(b.weight)))
        if b.leaf_weight is not None and b.leaf_weight != 0:
            self._require("blkio", "blkio.leaf_weight", f"{f}.leafWeight", " (CFQ only)")
            out.append(Write(f"{f}.leafWeight", "blkio", "blkio.leaf_weight", str(b.leaf_weight)))
        for i, wd in enumerate(b.weight_device or []):
            fld = f"{f}.weightDevice[{i}]"
            if wd.weight is None and wd.leaf_weight is None:
                raise CgroupError("give weight, leafWeight or both", field=fld)
            if wd.weight is not None:
                out.append(Write(f"{fld}.weight", "blkio", weight_file("weight_device", fld),
                                 f"{wd.major}:{wd.minor} {wd.weight}"))
            if wd.leaf_weight is not None:
                self._require("blkio", "blkio.leaf_weight_device", f"{fld}.leafWeight", " (CFQ only)")
                out.append(Write(f"{fld}.leafWeight", "blkio", "blkio.leaf_weight_device",
                                 f"{wd.major}:{wd.minor} {wd.leaf_weight}"))
        for file, fld, td in throttles(b, f, _THROTTLE_FILES):
            self._require("blkio", file, fld)
            out.append(Write(fld, "blkio", file, f"{td.major}:{td.minor} {td.rate or 0}"))
        return out

    def _plan_network(self, n: oci.LinuxNetwork) -> list[Write]:
        out: list[Write] = []
        if n.class_id is not None:
            f = f"{R}.network.classID"
            self._dir("net_cls", f)
            out.append(Write(f, "net_cls", "net_cls.classid", str(n.class_id)))
        for i, p in enumerate(n.priorities or []):
            f = f"{R}.network.priorities[{i}]"
            self._dir("net_prio", f)
            out.append(Write(f, "net_prio", "net_prio.ifpriomap", f"{p.name} {p.priority}"))
        return out

    def _plan_unified(self, unified: dict[str, str]) -> list[Write]:
        if unified:
            raise CgroupError(
                f"{sorted(unified)} are cgroup v2 files, but this host's controllers are on cgroup v1 "
                f"({self.layout.value} layout); use the v1 fields of linux.resources",
                field=f"{R}.unified",
            )
        return []

    def _plan_devices(self, devices: list[oci.LinuxDeviceCgroup]) -> list[Write]:
        out: list[Write] = []
        for i, rule in enumerate(devices):
            f = f"{R}.devices[{i}]"
            self._dir("devices", f)
            line = convert.device_rule_v1(rule, f)
            out.append(Write(f, "devices", "devices.allow" if rule.allow else "devices.deny", line))
        return out

    def set(self, resources: oci.LinuxResources | None) -> None:
        if resources is None:
            return
        for w in self.plan(resources):
            self._write(w)

    def _write(self, w: Write) -> None:
        d = self._dirs[w.controller]
        path = os.path.join(d, w.file)
        spy = _CGROUPSPY.get(w.file)
        if spy is None:
            write_file(path, w.value, w.field)
            return
        cls_name, attr, conv = spy
        try:
            setattr(getattr(_cgspy(), cls_name)(_Node(d)), attr, conv(w.value))
        except OSError as e:
            from libcontainer_py.cgroups.base import _HINTS

            raise CgroupError(f"{w.value!r}: writing {path}: {_HINTS.get(e.errno or 0, e.strerror)}",
                              field=w.field) from e

    # --- freezer ----------------------------------------------------------------------------------

    def _freezer(self, what: str) -> str:
        d = self._dirs.get("freezer")
        if d is None:
            raise CgroupError(f"cannot {what}: the freezer cgroup controller is not mounted on this host")
        return os.path.join(d, "freezer.state")

    def _set_freezer(self, state: str) -> None:
        path = self._freezer("pause" if state == "FROZEN" else "resume")
        write_file(path, state, "freezer.state")
        deadline = time.monotonic() + FREEZE_TIMEOUT_SECONDS
        delay = 0.0005
        n = 0
        while True:
            cur = read_optional(path)
            if cur == state:
                return
            if time.monotonic() > deadline:
                if state == "FROZEN":  # do not leave it half frozen
                    write_file(path, "THAWED", "freezer.state")
                raise CgroupError(f"{path} stayed {cur} instead of {state} for {FREEZE_TIMEOUT_SECONDS:g}s")
            n += 1
            if state == "FROZEN" and n % 10 == 0:
                # A task that forks while freezing can leave the cgroup FREEZING: ask again (runc does).
                write_file(path, state, "freezer.state")
            time.sleep(delay)
            delay = min(delay * 2, 0.05)

    def freeze(self) -> None:
        self._set_freezer("FROZEN")

    def thaw(self) -> None:
        self._set_freezer("THAWED")

    def is_frozen(self) -> bool:
        d = self._dirs.get("freezer")
        if d is None:
            return False
        return read_optional(os.path.join(d, "freezer.state")) in ("FROZEN", "FREEZING")

    # --- reading ----------------------------------------------------------------------------------

    _LISTED_BY = ("freezer", "pids", "memory", "devices", "cpu")  # pids() reads the first that is there

    def pids(self) -> list[int]:
        for c in self._LISTED_BY:
            d = self._dirs.get(c)
            if d and os.path.isdir(d):
                return procs_recursive(d)
        dirs = [d for d in self._unique_dirs() if os.path.isdir(d)]
        return procs_recursive(dirs[0]) if dirs else []

    def oom_kill_count(self) -> int:
        d = self._dirs.get("memory")
        if d is None:
            return 0
        return read_keyed(os.path.join(d, "memory.oom_control")).get("oom_kill", 0)

    def stats(self) -> Stats:
        return _read.stats_v1(self._dirs)

    # --- removal ----------------------------------------------------------------------------------

    def remove_if_empty(self) -> bool:
        listed = [self._dirs[c] for c in self._LISTED_BY if c in self._dirs]
        return rmdir_each(list(dict.fromkeys([*listed, *self._unique_dirs()])))

    def destroy(self) -> None:
        errors: list[CgroupError] = []
        for d in self._unique_dirs():
            try:
                rmdir_tree(d)
            except CgroupError as e:
                errors.append(e)
        if errors:
            raise errors[0]
