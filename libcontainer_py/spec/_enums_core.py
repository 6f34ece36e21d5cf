"""The spec's enums that almost every config.json uses (namespaces, device rules), and the state's
status. A module of their own so that the runtime creates only these at start (spec/enums.py has
why)."""

from __future__ import annotations

from libcontainer_py._strenum import StrEnum


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


class ContainerStatus(StrEnum):
    """``state.json``'s ``status``. Lifecycle rules (can_start...) live in libcontainer_py.state."""

    CREATING = "creating"
    CREATED = "created"
    RUNNING = "running"
    STOPPED = "stopped"
