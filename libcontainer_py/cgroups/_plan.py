"""The resource planning the v1 and v2 drivers share: plan()'s walk over ``linux.resources`` (the
order of its sections, hence of the writes and of the checks), and the sections whose checks and
values do not depend on the cgroup version (pids, hugetlb, rdma, cpusets, checkBeforeUpdate).

What differs stays in v1.py and v2.py: the file names and value forms, which controller a file
needs, and the sections that are not alike (memory, cpu, blockIO, network, unified, devices).
"""

from __future__ import annotations

import abc
import os

from libcontainer_py.cgroups import convert
from libcontainer_py.cgroups.base import Manager, Write, read_int, read_optional
from libcontainer_py.cgroups.paths import CgroupError

# Type-only: importing the spec models (pydantic) costs ~75 ms, which `pyrunc events --stats`,
# `pause` and `delete` need not pay (they never build a LinuxResources).
TYPE_CHECKING = False  # not `typing`: its import costs ~3 ms of every pyrunc call
if TYPE_CHECKING:
    from collections.abc import Iterator

    from libcontainer_py.spec import resources as oci

R = "linux.resources"

# blockIO's throttle lists, in the order both drivers write them: (attribute, JSON name).
_THROTTLES = (
    ("throttle_read_bps_device", "throttleReadBpsDevice"),
    ("throttle_write_bps_device", "throttleWriteBpsDevice"),
    ("throttle_read_iops_device", "throttleReadIOPSDevice"),
    ("throttle_write_iops_device", "throttleWriteIOPSDevice"),
)


def throttles(
    b: oci.LinuxBlockIO, f: str, per_list: tuple[str, str, str, str]
) -> Iterator[tuple[str, str, oci.LinuxThrottleDevice]]:
    """Every throttle entry of ``b`` (read bps, write bps, read iops, write iops) as (the driver's
    word for its list, from ``per_list`` in that order; the entry's field; the entry)."""
    for (attr, name), what in zip(_THROTTLES, per_list, strict=True):
        for i, td in enumerate(getattr(b, attr) or []):
            yield what, f"{f}.{name}[{i}]", td


class Planner(Manager):
    """plan() of a driver that writes files into a cgroup directory per controller (v1) or one for
    all (v2). The driver answers the questions that depend on the version (the abstract methods)."""

    #: hugetlb's limit and reservation-limit files, with ``{}`` for the page size name ("2MB").
    _HUGETLB_FILES: tuple[str, str]

    @abc.abstractmethod
    def _need(self, controller: str, field: str) -> None:
        """Raise CgroupError, naming ``field``, when the cgroup cannot have ``controller``."""

    @abc.abstractmethod
    def _dir_of(self, controller: str) -> str | None:
        """The directory of ``controller``'s files (None when it has none: not mounted)."""

    @abc.abstractmethod
    def _ctl(self, controller: str) -> str:
        """Write.controller for a file of ``controller``: its name on v1, "" on v2 (one directory)."""

    @abc.abstractmethod
    def _cpuset_limit(self, name: str) -> tuple[str, str]:
        """(directory, file) holding the CPUs or memory nodes (``name``: cpus or mems) a cpuset
        may take, for the check of cpu.cpus/mems."""

    # The sections that differ by version.

    @abc.abstractmethod
    def _plan_memory(self, m: oci.LinuxMemory) -> list[Write]: ...

    @abc.abstractmethod
    def _plan_cpu(self, c: oci.LinuxCPU) -> list[Write]: ...

    @abc.abstractmethod
    def _plan_block_io(self, b: oci.LinuxBlockIO) -> list[Write]: ...

    @abc.abstractmethod
    def _plan_network(self, n: oci.LinuxNetwork) -> list[Write]: ...

    @abc.abstractmethod
    def _plan_unified(self, unified: dict[str, str]) -> list[Write]: ...

    @abc.abstractmethod
    def _plan_devices(self, devices: list[oci.LinuxDeviceCgroup]) -> list[Write]: ...

    def plan(self, resources: oci.LinuxResources) -> list[Write]:
        r = resources
        out: list[Write] = []
        if r.memory is not None:
            out += self._plan_memory(r.memory)
        if r.cpu is not None:
            out += self._plan_cpu(r.cpu)
        if r.pids is not None:
            out.append(self._plan_pids(r.pids.limit))
        if r.block_io is not None:
            out += self._plan_block_io(r.block_io)
        for i, h in enumerate(r.hugepage_limits or []):
            out += self._plan_hugetlb(i, h)
        if r.network is not None:
            out += self._plan_network(r.network)
        for dev, lim in (r.rdma or {}).items():
            out.append(self._plan_rdma(dev, lim))
        return out + self._plan_unified(r.unified or {}) + self._plan_devices(r.devices or [])

    # --- what both versions check -----------------------------------------------------------------

    def _has(self, controller: str, file: str) -> bool:
        """True when the cgroup has ``file``, or is not created yet: let the write say what is missing."""
        d = self._dir_of(controller)
        if d is None:
            return False
        return not os.path.isdir(d) or os.path.exists(os.path.join(d, file))

    def _found(self, controller: str, file: str) -> bool:
        """True when the cgroup exists and has ``file``: for an optional file, written only if there."""
        d = self._dir_of(controller)
        return d is not None and os.path.isdir(d) and os.path.exists(os.path.join(d, file))

    def _check_usage(self, m: oci.LinuxMemory, f: str, usage_file: str) -> None:
        """checkBeforeUpdate: refuse a memory limit below what the (existing) cgroup uses now."""
        limit = m.limit or 0
        d = self._dir_of("memory")
        if limit > 0 and m.check_before_update and d is not None and os.path.isdir(d):
            usage = read_int(os.path.join(d, usage_file))
            if usage > limit:
                raise CgroupError(
                    f"{limit} is below the current usage {usage} ({d}/{usage_file}) and checkBeforeUpdate is set",
                    field=f"{f}.limit",
                )

    def _plan_cpusets(self, c: oci.LinuxCPU, f: str) -> list[Write]:
        """cpu.cpus and cpu.mems, each inside what the parent may give (an error naming that file)."""
        out: list[Write] = []
        for name, value, what in (("cpus", c.cpus, "CPU"), ("mems", c.mems, "memory node")):
            if value is None or value == "":
                continue
            fld = f"{f}.{name}"
            self._need("cpuset", fld)
            parent, file = self._cpuset_limit(name)
            host = read_optional(os.path.join(parent, file)) or ""
            convert.check_cpuset(value, host, fld, what, f"{file} of {parent}")
            out.append(Write(fld, self._ctl("cpuset"), f"cpuset.{name}", value.replace(" ", "")))
        return out

    # --- sections alike on both versions ----------------------------------------------------------

    def _plan_pids(self, limit: int) -> Write:
        f = f"{R}.pids.limit"
        convert.check_limit(limit, f)
        self._need("pids", f)
        return Write(f, self._ctl("pids"), "pids.max", convert.v2_limit(limit))

    def _plan_hugetlb(self, i: int, h: oci.LinuxHugepageLimit) -> list[Write]:
        f = f"{R}.hugepageLimits[{i}]"
        self._need("hugetlb", f)
        name = convert.kernel_page_size_name(convert.page_size_bytes(h.page_size))
        file, rsvd = (pattern.format(name) for pattern in self._HUGETLB_FILES)
        if not self._has("hugetlb", file):
            sizes = ", ".join(convert.host_hugepage_sizes()) or "none"
            raise CgroupError(
                f"{h.page_size!r} is not a huge page size of this host ({sizes}; no {file})",
                field=f"{f}.pageSize",
            )
        out = [Write(f"{f}.limit", self._ctl("hugetlb"), file, str(h.limit))]
        if self._found("hugetlb", rsvd):  # the reservation limit too, where the kernel has it (Linux 5.7+)
            out.append(Write(f"{f}.limit", self._ctl("hugetlb"), rsvd, str(h.limit)))
        return out

    def _plan_rdma(self, dev: str, lim: oci.LinuxRdma) -> Write:
        f = f"{R}.rdma.{dev}"
        self._need("rdma", f)
        if lim.hca_handles is None and lim.hca_objects is None:
            raise CgroupError("give hcaHandles, hcaObjects or both", field=f)
        parts = [dev]
        if lim.hca_handles is not None:
            parts.append(f"hca_handle={lim.hca_handles}")
        if lim.hca_objects is not None:
            parts.append(f"hca_object={lim.hca_objects}")
        return Write(f, self._ctl("rdma"), "rdma.max", " ".join(parts))
