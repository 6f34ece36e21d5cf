"""The closed string sets of the OCI runtime spec (defs-linux.json, config-schema.json, state-schema.json).

They are ``StrEnum``s, so members compare equal to (and serialize as) their plain string values:
``ns.type == "pid"`` and ``ns.type is NamespaceType.PID`` both hold after loading ``{"type": "pid"}``.
The base is ``libcontainer_py._strenum.StrEnum``, which behaves as ``enum.StrEnum`` (pydantic
included) without importing ``enum`` (3-6 ms of a `pyrunc run` here; that module says what differs).
"""

from __future__ import annotations

# Two modules: an enum class costs ~0.1 ms to create here, and `pyrunc run` of a typical config needs
# two of the fourteen (spec.fast creates a field's enum only when a value arrives for it); the
# pydantic models, and `from libcontainer_py.spec.enums import X`, see them all, as before.
from libcontainer_py.spec._enums_core import ContainerStatus, DeviceType, NamespaceType, RootfsPropagation
from libcontainer_py.spec._enums_more import (
    IOPriorityClass,
    MemoryPolicyFlag,
    MemoryPolicyMode,
    PersonalityDomain,
    SchedulerFlag,
    SchedulerPolicy,
    SeccompAction,
    SeccompArch,
    SeccompFlag,
    SeccompOperator,
)

__all__ = [
    "ContainerStatus",
    "DeviceType",
    "IOPriorityClass",
    "MemoryPolicyFlag",
    "MemoryPolicyMode",
    "NamespaceType",
    "PersonalityDomain",
    "RootfsPropagation",
    "SchedulerFlag",
    "SchedulerPolicy",
    "SeccompAction",
    "SeccompArch",
    "SeccompFlag",
    "SeccompOperator",
]
