"""``linux.resources`` of config.json (config-linux.md "Control groups"): what the cgroup managers
apply. Every numeric field keeps the schema's signedness: ``-1`` means "unlimited" for the int64
memory fields, so they are Int64, not Uint64."""

from typing import Annotated

from pydantic import Field

from libcontainer_py.spec._base import Bool, Int64, OCIModel, Str, StrMap, Uint16, Uint32, Uint64

HUGEPAGE_SIZE_PATTERN = r"^[1-9][0-9]*[KMG]B$"


class LinuxDeviceCgroup(OCIModel):
    """One ``resources.devices[]`` rule of the device allow/deny list."""

    allow: Bool
    type: Str | None = None
    major: Int64 | None = None
    minor: Int64 | None = None
    access: Str | None = None


class LinuxMemory(OCIModel):
    """``resources.memory`` (bytes; ``-1`` is unlimited)."""

    limit: Int64 | None = None
    reservation: Int64 | None = None
    swap: Int64 | None = None
    kernel: Int64 | None = None
    kernel_tcp: Int64 | None = Field(default=None, alias="kernelTCP")
    swappiness: Uint64 | None = None
    disable_oom_killer: Bool | None = Field(default=None, alias="disableOOMKiller")
    use_hierarchy: Bool | None = None
    check_before_update: Bool | None = None


class LinuxCPU(OCIModel):
    """``resources.cpu``: CFS shares/quota/period/burst, realtime, cpusets and SCHED_IDLE."""

    shares: Uint64 | None = None
    quota: Int64 | None = None
    burst: Uint64 | None = None
    period: Uint64 | None = None
    realtime_runtime: Int64 | None = None
    realtime_period: Uint64 | None = None
    cpus: Str | None = None
    mems: Str | None = None
    idle: Int64 | None = None


class LinuxPids(OCIModel):
    """``resources.pids``; a limit <= 0 means unlimited (config-linux.md)."""

    limit: Int64


class LinuxWeightDevice(OCIModel):
    """``blockIO.weightDevice[]``."""

    major: Int64
    minor: Int64
    weight: Uint16 | None = None
    leaf_weight: Uint16 | None = None


class LinuxThrottleDevice(OCIModel):
    """``blockIO.throttle*Device[]``: a rate in bytes or IO operations per second."""

    major: Int64
    minor: Int64
    rate: Uint64 | None = None


class LinuxBlockIO(OCIModel):
    """``resources.blockIO``."""

    weight: Uint16 | None = None
    leaf_weight: Uint16 | None = None
    weight_device: list[LinuxWeightDevice] | None = None
    throttle_read_bps_device: list[LinuxThrottleDevice] | None = None
    throttle_write_bps_device: list[LinuxThrottleDevice] | None = None
    throttle_read_iops_device: list[LinuxThrottleDevice] | None = Field(default=None, alias="throttleReadIOPSDevice")
    throttle_write_iops_device: list[LinuxThrottleDevice] | None = Field(default=None, alias="throttleWriteIOPSDevice")


class LinuxHugepageLimit(OCIModel):
    """``resources.hugepageLimits[]``: ``pageSize`` like ``"2MB"`` (the schema's pattern), limit in bytes."""

    page_size: Annotated[str, Field(strict=True, pattern=HUGEPAGE_SIZE_PATTERN)]
    limit: Uint64


class LinuxInterfacePriority(OCIModel):
    """``network.priorities[]`` (net_prio)."""

    name: Str
    priority: Uint32


class LinuxNetwork(OCIModel):
    """``resources.network`` (net_cls classid and net_prio priorities; cgroup v1 only)."""

    class_id: Uint32 | None = Field(default=None, alias="classID")
    priorities: list[LinuxInterfacePriority] | None = None


class LinuxRdma(OCIModel):
    """One ``resources.rdma`` entry, keyed by the RDMA device name."""

    hca_handles: Uint32 | None = None
    hca_objects: Uint32 | None = None


class LinuxResources(OCIModel):
    """``linux.resources``. ``unified`` holds raw cgroup v2 ``file: value`` pairs."""

    devices: list[LinuxDeviceCgroup] | None = None
    memory: LinuxMemory | None = None
    cpu: LinuxCPU | None = None
    pids: LinuxPids | None = None
    block_io: LinuxBlockIO | None = Field(default=None, alias="blockIO")
    hugepage_limits: list[LinuxHugepageLimit] | None = None
    network: LinuxNetwork | None = None
    rdma: dict[str, LinuxRdma] | None = None
    unified: StrMap | None = None
