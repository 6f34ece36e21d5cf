"""The closed string sets of the OCI runtime spec (defs-linux.json, config-schema.json, state-schema.json).

They are ``StrEnum``s, so members compare equal to (and serialize as) their plain string values:
``ns.type == "pid"`` and ``ns.type is NamespaceType.PID`` both hold after loading ``{"type": "pid"}``.
"""

from __future__ import annotations

from enum import StrEnum


class NamespaceType(StrEnum):
    MOUNT = "mount"
    PID = "pid"
    NETWORK = "network"
    UTS = "uts"
    IPC = "ipc"
    USER = "user"
    CGROUP = "cgroup"
    TIME = "time"


class RootfsPropagation(StrEnum):
    PRIVATE = "private"
    SHARED = "shared"
    SLAVE = "slave"
    UNBINDABLE = "unbindable"


class DeviceType(StrEnum):
    """``linux.devices[].type`` (the schema's ``^[cbup]$``): char, block, unbuffered char, FIFO."""

    CHAR = "c"
    BLOCK = "b"
    UNBUFFERED = "u"
    FIFO = "p"


class SeccompAction(StrEnum):
    KILL = "SCMP_ACT_KILL"
    KILL_PROCESS = "SCMP_ACT_KILL_PROCESS"
    KILL_THREAD = "SCMP_ACT_KILL_THREAD"
    TRAP = "SCMP_ACT_TRAP"
    ERRNO = "SCMP_ACT_ERRNO"
    TRACE = "SCMP_ACT_TRACE"
    ALLOW = "SCMP_ACT_ALLOW"
    LOG = "SCMP_ACT_LOG"
    NOTIFY = "SCMP_ACT_NOTIFY"


class SeccompOperator(StrEnum):
    NE = "SCMP_CMP_NE"
    LT = "SCMP_CMP_LT"
    LE = "SCMP_CMP_LE"
    EQ = "SCMP_CMP_EQ"
    GE = "SCMP_CMP_GE"
    GT = "SCMP_CMP_GT"
    MASKED_EQ = "SCMP_CMP_MASKED_EQ"


class SeccompArch(StrEnum):
    X86 = "SCMP_ARCH_X86"
    X86_64 = "SCMP_ARCH_X86_64"
    X32 = "SCMP_ARCH_X32"
    ARM = "SCMP_ARCH_ARM"
    AARCH64 = "SCMP_ARCH_AARCH64"
    LOONGARCH64 = "SCMP_ARCH_LOONGARCH64"
    M68K = "SCMP_ARCH_M68K"
    MIPS = "SCMP_ARCH_MIPS"
    MIPS64 = "SCMP_ARCH_MIPS64"
    MIPS64N32 = "SCMP_ARCH_MIPS64N32"
    MIPSEL = "SCMP_ARCH_MIPSEL"
    MIPSEL64 = "SCMP_ARCH_MIPSEL64"
    MIPSEL64N32 = "SCMP_ARCH_MIPSEL64N32"
    PPC = "SCMP_ARCH_PPC"
    PPC64 = "SCMP_ARCH_PPC64"
    PPC64LE = "SCMP_ARCH_PPC64LE"
    S390 = "SCMP_ARCH_S390"
    S390X = "SCMP_ARCH_S390X"
    SH = "SCMP_ARCH_SH"
    SHEB = "SCMP_ARCH_SHEB"
    PARISC = "SCMP_ARCH_PARISC"
    PARISC64 = "SCMP_ARCH_PARISC64"
    RISCV64 = "SCMP_ARCH_RISCV64"


class SeccompFlag(StrEnum):
    TSYNC = "SECCOMP_FILTER_FLAG_TSYNC"
    LOG = "SECCOMP_FILTER_FLAG_LOG"
    SPEC_ALLOW = "SECCOMP_FILTER_FLAG_SPEC_ALLOW"
    WAIT_KILLABLE_RECV = "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"


class SchedulerPolicy(StrEnum):
    OTHER = "SCHED_OTHER"
    FIFO = "SCHED_FIFO"
    RR = "SCHED_RR"
    BATCH = "SCHED_BATCH"
    ISO = "SCHED_ISO"
    IDLE = "SCHED_IDLE"
    DEADLINE = "SCHED_DEADLINE"


class SchedulerFlag(StrEnum):
    RESET_ON_FORK = "SCHED_FLAG_RESET_ON_FORK"
    RECLAIM = "SCHED_FLAG_RECLAIM"
    DL_OVERRUN = "SCHED_FLAG_DL_OVERRUN"
    KEEP_POLICY = "SCHED_FLAG_KEEP_POLICY"
    KEEP_PARAMS = "SCHED_FLAG_KEEP_PARAMS"
    UTIL_CLAMP_MIN = "SCHED_FLAG_UTIL_CLAMP_MIN"
    UTIL_CLAMP_MAX = "SCHED_FLAG_UTIL_CLAMP_MAX"


class IOPriorityClass(StrEnum):
    RT = "IOPRIO_CLASS_RT"
    BE = "IOPRIO_CLASS_BE"
    IDLE = "IOPRIO_CLASS_IDLE"


class MemoryPolicyMode(StrEnum):
    DEFAULT = "MPOL_DEFAULT"
    BIND = "MPOL_BIND"
    INTERLEAVE = "MPOL_INTERLEAVE"
    WEIGHTED_INTERLEAVE = "MPOL_WEIGHTED_INTERLEAVE"
    PREFERRED = "MPOL_PREFERRED"
    PREFERRED_MANY = "MPOL_PREFERRED_MANY"
    LOCAL = "MPOL_LOCAL"


class MemoryPolicyFlag(StrEnum):
    NUMA_BALANCING = "MPOL_F_NUMA_BALANCING"
    RELATIVE_NODES = "MPOL_F_RELATIVE_NODES"
    STATIC_NODES = "MPOL_F_STATIC_NODES"


class PersonalityDomain(StrEnum):
    LINUX = "LINUX"
    LINUX32 = "LINUX32"


class ContainerStatus(StrEnum):
    """``state.json``'s ``status``. Lifecycle rules (can_start...) live in libcontainer_py.state."""

    CREATING = "creating"
    CREATED = "created"
    RUNNING = "running"
    STOPPED = "stopped"
