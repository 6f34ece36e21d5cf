"""``process`` of config.json (config.md "Process", "POSIX process", "User")."""

from typing import Annotated

from pydantic import Field

from libcontainer_py.spec._base import Bool, Int, Int32, OCIModel, Str, StrList, Uint32, Uint64
from libcontainer_py.spec.enums import IOPriorityClass, SchedulerFlag, SchedulerPolicy

# The schema's patterns, kept as names so error messages and tests can refer to them.
RLIMIT_TYPE_PATTERN = r"^RLIMIT_[A-Z]+$"
CPU_LIST_PATTERN = r"^[0-9, -]*$"


class ConsoleSize(OCIModel):
    """``process.consoleSize`` (Go: ``Box``), in characters."""

    height: Uint64
    width: Uint64


class User(OCIModel):
    """``process.user``. The spec requires uid/gid on POSIX, but the schema does not; runc treats a
    missing one as 0, so they stay optional here."""

    uid: Uint32 | None = None
    gid: Uint32 | None = None
    umask: Uint32 | None = None
    additional_gids: list[Uint32] | None = None
    username: Str | None = None


class LinuxCapabilities(OCIModel):
    """``process.capabilities``: the five capability sets, as ``CAP_*`` names. Unknown names are not a
    schema error (runc warns and ignores them); see ``validate.validate_runtime``."""

    bounding: StrList | None = None
    effective: StrList | None = None
    inheritable: StrList | None = None
    permitted: StrList | None = None
    ambient: StrList | None = None


class POSIXRlimit(OCIModel):
    """One ``process.rlimits[]`` entry."""

    type: Annotated[str, Field(strict=True, pattern=RLIMIT_TYPE_PATTERN)]
    hard: Uint64
    soft: Uint64


class Scheduler(OCIModel):
    """``process.scheduler``: sched_setattr(2) parameters."""

    policy: SchedulerPolicy
    nice: Int32 | None = None
    priority: Int32 | None = None
    flags: list[SchedulerFlag] | None = None
    runtime: Uint64 | None = None
    deadline: Uint64 | None = None
    period: Uint64 | None = None


class LinuxIOPriority(OCIModel):
    """``process.ioPriority``. ``class`` is a Python keyword, hence ``class_``."""

    class_: IOPriorityClass = Field(alias="class")
    priority: Int32 | None = None


class CPUAffinity(OCIModel):
    """``process.execCPUAffinity``: cpu lists (``"0-3,7"``) for the runtime's exec and the process."""

    initial: Annotated[str, Field(strict=True, pattern=CPU_LIST_PATTERN)] | None = None
    final: Annotated[str, Field(strict=True, pattern=CPU_LIST_PATTERN)] | None = None


class Process(OCIModel):
    """``process``: the container process (or an ``exec``'d one: ``runc exec --process``)."""

    terminal: Bool | None = None
    console_size: ConsoleSize | None = None
    user: User | None = None
    args: StrList | None = None
    command_line: Str | None = None
    env: StrList | None = None
    cwd: Str
    capabilities: LinuxCapabilities | None = None
    rlimits: list[POSIXRlimit] | None = None
    no_new_privileges: Bool | None = None
    apparmor_profile: Str | None = None
    oom_score_adj: Int | None = None
    scheduler: Scheduler | None = None
    selinux_label: Str | None = None
    io_priority: LinuxIOPriority | None = None
    exec_cpu_affinity: CPUAffinity | None = Field(default=None, alias="execCPUAffinity")
