"""The cgroup v2 driver: one directory in the unified hierarchy, written natively.

* apply() enables every controller available in each ancestor's ``cgroup.subtree_control`` (from the
  mount root down to the parent; never in the container's own cgroup, which holds processes), one
  controller per write so that one refusal (cpu with a realtime task in the parent, say) does not
  stop the others, as runc and crun do.
* Conversions from the v1-shaped OCI fields: shares -> cpu.weight (crun's formula), memory+swap ->
  memory.swap.max (swap alone), blkio weights -> io.bfq.weight (same scale) or io.weight (converted),
  throttles -> io.max, hugetlb -> hugetlb.<size>.max (+ .rsvd.max), devices -> a BPF program.
* ``unified`` keys are written verbatim, last, so they override the converted values.
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
    read_keyed,
    read_optional,
    rmdir_each,
    rmdir_tree,
    write_file,
)
from libcontainer_py.cgroups.paths import CgroupError, Layout
from libcontainer_py.cgroups.stats import Stats

# Type-only: importing the spec models (pydantic) costs ~75 ms, which `pyrunc events --stats`,
# `pause` and `delete` need not pay (they never build a LinuxResources).
TYPE_CHECKING = False  # not `typing`: its import costs ~3 ms of every pyrunc call (v2 hosts)
if TYPE_CHECKING:
    from libcontainer_py.spec import resources as oci

CGPATH = "linux.cgroupsPath"


class V2Manager(Planner):
    """A container's cgroup in the unified hierarchy mounted at ``mountpoint``."""

    layout = Layout.V2
    _HUGETLB_FILES = ("hugetlb.{}.max", "hugetlb.{}.rsvd.max")

    def __init__(self, directory: str, *, mountpoint: str | None = None, inner: str = "") -> None:
        self._dir = directory.rstrip("/")
        self._mount = (mountpoint or _guess_mountpoint(self._dir)).rstrip("/") or "/"
        rel = os.path.relpath(self._dir, self._mount)
        self._inner = inner or ("/" if rel == "." else "/" + rel)

    @property
    def path(self) -> str:
        return self._inner

    @property
    def directory(self) -> str:
        return self._dir

    def paths(self) -> dict[str, str]:
        return {"": self._dir}

    def exists(self) -> bool:
        return os.path.isdir(self._dir)

    def _file(self, name: str) -> str:
        return os.path.join(self._dir, name)

    # --- create / join ----------------------------------------------------------------------------

    def _check_usable(self) -> None:
        if not os.path.isdir(self._dir):
            return
        procs = read_optional(self._file("cgroup.procs"))
        if procs:
            pids = procs.split()
            raise CgroupError(
                f"cgroup {self._dir} already has processes ({', '.join(pids[:5])}{'...' if len(pids) > 5 else ''}); "
                "a new container needs an empty cgroup",
                field=CGPATH,
            )
        events = read_keyed(self._file("cgroup.events"))
        if events.get("frozen") == 1 or read_optional(self._file("cgroup.freeze")) == "1":
            raise CgroupError(f"cgroup {self._dir} is frozen (cgroup.freeze 1); thaw it first", field=CGPATH)

    def _ancestors(self) -> list[str]:
        """The mount root and every directory down to the container's parent."""
        rel = os.path.relpath(os.path.dirname(self._dir), self._mount)
        out = [self._mount]
        if rel != ".":
            cur = self._mount
            for part in rel.split("/"):
                cur = os.path.join(cur, part)
                out.append(cur)
        return out

    def _create(self) -> None:
        for anc in self._ancestors():
            if not os.path.isdir(anc):
                try:
                    os.mkdir(anc)
                except FileExistsError:
                    pass
                except OSError as e:
                    raise CgroupError(f"cannot create cgroup {anc}: {e.strerror}", field=CGPATH) from e
            enable_controllers(anc)
        try:
            os.makedirs(self._dir, exist_ok=True)
        except OSError as e:
            raise CgroupError(f"cannot create cgroup {self._dir}: {e.strerror}", field=CGPATH) from e

    def apply(self, pid: int) -> None:
        self.create()
        self.add_process(pid)

    def create(self) -> bool:
        existed = os.path.isdir(self._dir)
        self._check_usable()
        self._create()
        return not existed

    def add_process(self, pid: int) -> None:
        write_file(self._file("cgroup.procs"), str(pid), CGPATH)

    # --- resources (plan() is _plan.Planner's; these are the v2 answers and sections) ---------------

    def _controllers(self) -> set[str]:
        """Controllers usable in the container's cgroup (its cgroup.controllers; before it exists, the
        parent's subtree_control, which is what it will get)."""
        return _read.v2_controllers(self._dir)

    def _need(self, controller: str, field: str) -> None:
        if controller not in self._controllers():
            avail = read_optional(os.path.join(self._mount, "cgroup.controllers"))
            where = "not enabled for" if avail and controller in avail.split() else "not available in"
            raise CgroupError(
                f"the {controller} controller is {where} cgroup {self._dir} "
                f"(cgroup.controllers: {' '.join(sorted(self._controllers())) or 'none'})",
                field=field,
            )

    def _dir_of(self, controller: str) -> str:
        return self._dir

    def _ctl(self, controller: str) -> str:
        return ""  # one directory for all

    def _cpuset_limit(self, name: str) -> tuple[str, str]:
        return os.path.dirname(self._dir), f"cpuset.{name}.effective"

    def _plan_memory(self, m: oci.LinuxMemory) -> list[Write]:
        f = f"{R}.memory"
        out: list[Write] = []
        for name, v in (("limit", m.limit), ("swap", m.swap), ("reservation", m.reservation)):
            if v is not None:
                convert.check_limit(v, f"{f}.{name}")
        if m.swappiness is not None:
            raise CgroupError(f"{m.swappiness}: cgroup v2 has no per-cgroup swappiness", field=f"{f}.swappiness")
        if m.disable_oom_killer:
            raise CgroupError(
                "true: cgroup v2 cannot disable the OOM killer for a cgroup (memory.oom_control is v1 only)",
                field=f"{f}.disableOOMKiller",
            )
        if not any(v not in (None, 0) for v in (m.limit, m.swap, m.reservation)):
            return out
        self._need("memory", f)
        self._check_usage(m, f, "memory.current")
        limit = m.limit or 0
        try:
            swap = convert.swap_to_v2(m.swap, m.limit)
        except ValueError as e:
            raise CgroupError(f"{m.swap}: {e}", field=f"{f}.swap") from None
        if swap is None and m.swap is not None and m.swap > 0:
            swap = 0
        if swap is not None:
            value = convert.v2_limit(swap)
            if not self._has("memory", "memory.swap.max"):
                if value not in ("max", "0"):  # no swap on this host: unlimited/none are already true
                    raise CgroupError(
                        f"{m.swap}: this host has no memory.swap.max in {self._dir} (swap accounting is off)",
                        field=f"{f}.swap",
                    )
            else:
                out.append(Write(f"{f}.swap", "", "memory.swap.max", value))
        if limit != 0:
            out.append(Write(f"{f}.limit", "", "memory.max", convert.v2_limit(limit)))
        if m.reservation:
            out.append(Write(f"{f}.reservation", "", "memory.low", convert.v2_limit(m.reservation)))
        # memory.kernel / kernelTCP have no v2 files: ignored, as runc does.
        return out

    def _plan_cpu(self, c: oci.LinuxCPU) -> list[Write]:
        f = f"{R}.cpu"
        out: list[Write] = []
        if c.shares:
            self._need("cpu", f"{f}.shares")
            convert.check_shares(c.shares, f"{f}.shares")
            out.append(Write(f"{f}.shares", "", "cpu.weight", str(convert.shares_to_weight(c.shares))))
        convert.check_cfs(c.quota, c.period, c.burst, f)
        if c.quota or c.period:
            self._need("cpu", f"{f}.quota" if c.quota else f"{f}.period")
            if c.quota:
                quota = convert.v2_limit(c.quota)
            else:  # only the period changes: keep the current quota
                quota = (read_optional(self._file("cpu.max")) or "max").split()[0]
            cpu_max = quota + (f" {c.period}" if c.period else "")
            out.append(Write(f"{f}.quota" if c.quota else f"{f}.period", "", "cpu.max", cpu_max))
        if c.burst is not None:
            self._need("cpu", f"{f}.burst")
            if not self._has("cpu", "cpu.max.burst"):
                raise CgroupError(f"{c.burst}: this host has no cpu.max.burst (Linux 5.14+)", field=f"{f}.burst")
            out.append(Write(f"{f}.burst", "", "cpu.max.burst", str(c.burst)))
        if c.realtime_period or c.realtime_runtime:
            raise CgroupError(
                "cgroup v2 has no realtime bandwidth control (cpu.rt_* are v1 files)",
                field=f"{f}.realtimeRuntime" if c.realtime_runtime else f"{f}.realtimePeriod",
            )
        if c.idle is not None:
            convert.check_idle(c.idle, f"{f}.idle")
            self._need("cpu", f"{f}.idle")
            out.append(Write(f"{f}.idle", "", "cpu.idle", str(c.idle)))
        return out + self._plan_cpusets(c, f)

    def _plan_block_io(self, b: oci.LinuxBlockIO) -> list[Write]:
        f = f"{R}.blockIO"
        out: list[Write] = []
        bfq = self._found("io", "io.bfq.weight")
        if b.weight:
            self._need("io", f"{f}.weight")
            convert.check_blkio_weight(b.weight, f"{f}.weight")
            if bfq:
                out.append(Write(f"{f}.weight", "", "io.bfq.weight", str(b.weight)))
            else:
                out.append(Write(f"{f}.weight", "", "io.weight",
                                 f"default {convert.blkio_weight_to_io_weight(b.weight)}"))
        if b.leaf_weight:
            raise CgroupError(f"{b.leaf_weight}: cgroup v2 has no leaf weight (a CFQ v1 feature)",
                              field=f"{f}.leafWeight")
        for i, wd in enumerate(b.weight_device or []):
            fld = f"{f}.weightDevice[{i}]"
            self._need("io", fld)
            if wd.leaf_weight is not None:
                raise CgroupError(f"{wd.leaf_weight}: cgroup v2 has no leaf weight", field=f"{fld}.leafWeight")
            if wd.weight is None:
                raise CgroupError("give a weight", field=fld)
            if bfq:
                out.append(Write(f"{fld}.weight", "", "io.bfq.weight", f"{wd.major}:{wd.minor} {wd.weight}"))
            else:
                w = convert.blkio_weight_to_io_weight(wd.weight)
                out.append(Write(f"{fld}.weight", "", "io.weight", f"{wd.major}:{wd.minor} {w}"))
        for key, fld, td in throttles(b, f, ("rbps", "wbps", "riops", "wiops")):
            self._need("io", fld)
            rate = td.rate if td.rate else "max"  # 0 clears the limit, as on v1
            out.append(Write(fld, "", "io.max", f"{td.major}:{td.minor} {key}={rate}"))
        return out

    def _plan_network(self, n: oci.LinuxNetwork) -> list[Write]:
        if n.class_id is not None or n.priorities:
            raise CgroupError(
                "net_cls/net_prio are cgroup v1 controllers and have no cgroup v2 equivalent "
                "(classify traffic with a BPF or nftables cgroup match instead)",
                field=f"{R}.network",
            )
        return []

    def _plan_unified(self, unified: dict[str, str]) -> list[Write]:
        out: list[Write] = []
        for key, value in unified.items():
            f = f"{R}.unified[{key!r}]"
            if "/" in key or key in ("", ".", "..") or key.startswith("cgroup.procs") or key == "cgroup.threads":
                raise CgroupError(f"{key!r} is not a cgroup interface file name", field=f)
            ctrl = key.split(".", 1)[0]
            if ctrl not in ("cgroup",) and ctrl not in self._controllers():
                self._need(ctrl, f)
            if os.path.isdir(self._dir) and not os.path.exists(self._file(key)):
                raise CgroupError(f"{self._file(key)} does not exist on this host", field=f)
            out.append(Write(f, "", key, value))
        return out

    def _plan_devices(self, devices: list[oci.LinuxDeviceCgroup]) -> list[Write]:
        for i, rule in enumerate(devices):  # validate now; the program is built and attached in set()
            convert.device_rule_v1(rule, f"{R}.devices[{i}]")
        return []

    def set(self, resources: oci.LinuxResources | None) -> None:
        if resources is None:
            return
        plan = self.plan(resources)
        for w in plan:
            write_file(self._file(w.file), w.value, w.field)
        if resources.devices is not None:
            from libcontainer_py.cgroups import bpf  # (ctypes: only the verbs that set devices)

            bpf.set_device_program(self._dir, resources.devices)

    # --- freezer ----------------------------------------------------------------------------------

    def _set_frozen(self, frozen: bool) -> None:
        want = "1" if frozen else "0"
        if not os.path.exists(self._file("cgroup.freeze")):
            raise CgroupError(f"cannot {'pause' if frozen else 'resume'}: no cgroup.freeze in {self._dir} "
                              "(Linux 5.2+ needed)")
        write_file(self._file("cgroup.freeze"), want, "cgroup.freeze")
        deadline = time.monotonic() + FREEZE_TIMEOUT_SECONDS
        delay = 0.0005
        while read_keyed(self._file("cgroup.events")).get("frozen") != int(want):
            if time.monotonic() > deadline:
                if frozen:
                    write_file(self._file("cgroup.freeze"), "0", "cgroup.freeze")
                raise CgroupError(f"{self._dir}/cgroup.events did not report frozen {want} "
                                  f"within {FREEZE_TIMEOUT_SECONDS:g}s")
            time.sleep(delay)
            delay = min(delay * 2, 0.05)

    def freeze(self) -> None:
        self._set_frozen(True)

    def thaw(self) -> None:
        self._set_frozen(False)

    def is_frozen(self) -> bool:
        return read_optional(self._file("cgroup.freeze")) == "1"

    # --- reading ----------------------------------------------------------------------------------

    def pids(self) -> list[int]:
        return procs_recursive(self._dir)

    def oom_kill_count(self) -> int:
        return read_keyed(self._file("memory.events")).get("oom_kill", 0)

    def stats(self) -> Stats:
        return _read.stats_v2(self._dir)

    def remove_if_empty(self) -> bool:
        return rmdir_each([self._dir])

    def destroy(self) -> None:
        rmdir_tree(self._dir)


def enable_controllers(directory: str) -> list[str]:
    """Enable, in ``directory``/cgroup.subtree_control, every controller it has that is not yet
    enabled. Returns the controllers the kernel refused (each is tried on its own)."""
    available = (read_optional(os.path.join(directory, "cgroup.controllers")) or "").split()
    enabled = set((read_optional(os.path.join(directory, "cgroup.subtree_control")) or "").split())
    refused: list[str] = []
    for c in available:
        if c in enabled:
            continue
        try:
            write_file(os.path.join(directory, "cgroup.subtree_control"), f"+{c}", CGPATH)
        except CgroupError:
            refused.append(c)
    return refused


def _guess_mountpoint(directory: str) -> str:
    """The cgroup2 mountpoint above ``directory`` (from the mounts; /sys/fs/cgroup by default)."""
    from libcontainer_py.cgroups.paths import detect_mounts

    m = detect_mounts()
    if m.unified is not None and (directory + "/").startswith(m.unified.mountpoint.rstrip("/") + "/"):
        return m.unified.mountpoint
    return "/sys/fs/cgroup"
