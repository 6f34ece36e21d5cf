"""``linux`` of config.json (config-linux.md), except ``resources`` (resources.py)."""

from typing import Annotated

from pydantic import Field

from libcontainer_py.spec._base import (
    Bool,
    FileMode,
    Int64,
    OCIModel,
    Str,
    StrList,
    StrMap,
    Uint32,
    Uint64,
)
from libcontainer_py.spec.enums import (
    DeviceType,
    MemoryPolicyFlag,
    MemoryPolicyMode,
    NamespaceType,
    PersonalityDomain,
    RootfsPropagation,
    SeccompAction,
    SeccompArch,
    SeccompFlag,
    SeccompOperator,
)
from libcontainer_py.spec.resources import LinuxResources

MEM_BW_SCHEMA_PATTERN = r"^MB:[^\n]*$"


class IDMapping(OCIModel):
    """A uid/gid mapping range (defs.json ``IDMapping``; Go: ``LinuxIDMapping``), used by
    ``linux.uidMappings``/``gidMappings`` and by idmapped mounts."""

    container_id: Uint32 = Field(alias="containerID")
    host_id: Uint32 = Field(alias="hostID")
    size: Uint32


class LinuxNamespace(OCIModel):
    """``linux.namespaces[]``: a namespace to create, or (with ``path``) to join."""

    type: NamespaceType
    path: Str | None = None


class LinuxDevice(OCIModel):
    """``linux.devices[]``: a device node to create in the container."""

    type: DeviceType
    path: Str
    major: Int64 | None = None
    minor: Int64 | None = None
    file_mode: FileMode | None = None
    uid: Uint32 | None = None
    gid: Uint32 | None = None


class LinuxNetDevice(OCIModel):
    """A ``linux.netDevices`` value (keyed by the host interface name): its name in the container."""

    name: Str | None = None


class LinuxSeccompArg(OCIModel):
    """``syscalls[].args[]``: compare syscall argument ``index`` with ``value`` (and ``valueTwo`` for
    SCMP_CMP_MASKED_EQ, where ``value`` is the mask)."""

    index: Uint32
    value: Uint64
    value_two: Uint64 | None = None
    op: SeccompOperator


class LinuxSyscall(OCIModel):
    """``seccomp.syscalls[]``: a rule for one or more syscall names."""

    names: Annotated[list[Str], Field(min_length=1)]
    action: SeccompAction
    errno_ret: Uint32 | None = None
    args: list[LinuxSeccompArg] | None = None


class LinuxSeccomp(OCIModel):
    """``linux.seccomp``: the profile the seccomp package turns into a BPF filter."""

    default_action: SeccompAction
    default_errno_ret: Uint32 | None = None
    architectures: list[SeccompArch] | None = None
    flags: list[SeccompFlag] | None = None
    listener_path: Str | None = None
    listener_metadata: Str | None = None
    syscalls: list[LinuxSyscall] | None = None


class LinuxIntelRdt(OCIModel):
    """``linux.intelRdt`` (resctrl). ``enableCMT``/``enableMBM`` are from spec 1.1-1.2 (replaced by
    ``enableMonitoring`` in 1.3); they are still accepted so older configs keep loading."""

    clos_id: Str | None = Field(default=None, alias="closID")
    schemata: StrList | None = None
    l3_cache_schema: Str | None = Field(default=None, alias="l3CacheSchema")
    mem_bw_schema: Annotated[str, Field(strict=True, pattern=MEM_BW_SCHEMA_PATTERN)] | None = None
    enable_monitoring: Bool | None = None
    enable_cmt: Bool | None = Field(default=None, alias="enableCMT")
    enable_mbm: Bool | None = Field(default=None, alias="enableMBM")


class LinuxMemoryPolicy(OCIModel):
    """``linux.memoryPolicy``: set_mempolicy(2) for the container process."""

    mode: MemoryPolicyMode | None = None
    nodes: Str | None = None
    flags: list[MemoryPolicyFlag] | None = None


class LinuxPersonality(OCIModel):
    """``linux.personality``: personality(2) execution domain and flags."""

    domain: PersonalityDomain | None = None
    flags: StrList | None = None


class LinuxTimeOffset(OCIModel):
    """A ``linux.timeOffsets`` value (keys ``boottime``, ``monotonic``) for the time namespace."""

    secs: Int64 | None = None
    nanosecs: Uint32 | None = None


class Linux(OCIModel):
    """``linux``: everything Linux-specific."""

    namespaces: list[LinuxNamespace] | None = None
    uid_mappings: list[IDMapping] | None = None
    gid_mappings: list[IDMapping] | None = None
    time_offsets: dict[str, LinuxTimeOffset] | None = None
    devices: list[LinuxDevice] | None = None
    net_devices: dict[str, LinuxNetDevice] | None = None
    cgroups_path: Str | None = None
    resources: LinuxResources | None = None
    rootfs_propagation: RootfsPropagation | None = None
    seccomp: LinuxSeccomp | None = None
    sysctl: StrMap | None = None
    masked_paths: StrList | None = None
    readonly_paths: StrList | None = None
    mount_label: Str | None = None
    personality: LinuxPersonality | None = None
    intel_rdt: LinuxIntelRdt | None = None
    memory_policy: LinuxMemoryPolicy | None = None


#: Go's name (specs-go ``LinuxIDMapping``), for readers coming from runc.
LinuxIDMapping = IDMapping
