"""Typed models of the OCI runtime spec v1.3.0: config.json (``Spec``), the state (``State``) and the
features document (``Features``), plus runtime validation beyond the JSON schema.

Python attributes are snake_case; JSON uses the spec's names. Unknown fields are kept, so
``Spec.load(p).to_dict()`` equals the input. Loading errors are ``ConfigError``s naming the file and
the JSON path::

    >>> spec = Spec.load("bundle")            # or bundle/config.json
    >>> spec.linux.resources.block_io.weight
    >>> warnings = validate_runtime(spec)     # raises ConfigError if it cannot run

Import cost: pydantic itself (~90 ms here) is paid once; on top of that, the names below are loaded
on first use (PEP 562), so ``from libcontainer_py.spec.state import State`` does not build the ~45
config.json model classes, and no validator is built before the first load (``defer_build``).
To add a module's names (defaults, builder...), add it to ``_EXPORTS`` and to the TYPE_CHECKING block.
"""

from __future__ import annotations

import sys

TYPE_CHECKING = False  # not `typing` (nor importlib) at import: ~3 ms of every pyrunc call
if TYPE_CHECKING:
    from typing import Any

    from libcontainer_py.spec.builder import SpecBuilder
    from libcontainer_py.spec.caps import CAPABILITIES, KNOWN_CAPABILITIES, is_known_capability
    from libcontainer_py.spec.config import OCI_VERSION, Hook, Hooks, Mount, Root, Spec
    from libcontainer_py.spec.defaults import default_spec
    from libcontainer_py.spec.enums import (
        ContainerStatus,
        DeviceType,
        IOPriorityClass,
        MemoryPolicyFlag,
        MemoryPolicyMode,
        NamespaceType,
        PersonalityDomain,
        RootfsPropagation,
        SchedulerFlag,
        SchedulerPolicy,
        SeccompAction,
        SeccompArch,
        SeccompFlag,
        SeccompOperator,
    )
    from libcontainer_py.spec.features import (
        CgroupFeatures,
        EnabledFeature,
        Features,
        IntelRdtFeatures,
        LinuxFeatures,
        MemoryPolicyFeatures,
        MountExtensionsFeatures,
        SeccompFeatures,
    )
    from libcontainer_py.spec.linux import (
        IDMapping,
        Linux,
        LinuxDevice,
        LinuxIDMapping,
        LinuxIntelRdt,
        LinuxMemoryPolicy,
        LinuxNamespace,
        LinuxNetDevice,
        LinuxPersonality,
        LinuxSeccomp,
        LinuxSeccompArg,
        LinuxSyscall,
        LinuxTimeOffset,
    )
    from libcontainer_py.spec.process import (
        ConsoleSize,
        CPUAffinity,
        LinuxCapabilities,
        LinuxIOPriority,
        POSIXRlimit,
        Process,
        Scheduler,
        User,
    )
    from libcontainer_py.spec.resources import (
        LinuxBlockIO,
        LinuxCPU,
        LinuxDeviceCgroup,
        LinuxHugepageLimit,
        LinuxInterfacePriority,
        LinuxMemory,
        LinuxNetwork,
        LinuxPids,
        LinuxRdma,
        LinuxResources,
        LinuxThrottleDevice,
        LinuxWeightDevice,
    )
    from libcontainer_py.spec.state import State
    from libcontainer_py.spec.validate import Problem, runtime_problems, validate_runtime

#: submodule -> the public names it provides (keep in step with the TYPE_CHECKING imports above;
#: tests/unit/test_spec_api.py checks that they agree).
_EXPORTS: dict[str, tuple[str, ...]] = {
    "builder": ("SpecBuilder",),
    "defaults": ("default_spec",),
    "caps": (
        "CAPABILITIES",
        "KNOWN_CAPABILITIES",
        "is_known_capability",
    ),
    "config": (
        "OCI_VERSION",
        "Hook",
        "Hooks",
        "Mount",
        "Root",
        "Spec",
    ),
    "enums": (
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
    ),
    "features": (
        "CgroupFeatures",
        "EnabledFeature",
        "Features",
        "IntelRdtFeatures",
        "LinuxFeatures",
        "MemoryPolicyFeatures",
        "MountExtensionsFeatures",
        "SeccompFeatures",
    ),
    "linux": (
        "IDMapping",
        "Linux",
        "LinuxDevice",
        "LinuxIDMapping",
        "LinuxIntelRdt",
        "LinuxMemoryPolicy",
        "LinuxNamespace",
        "LinuxNetDevice",
        "LinuxPersonality",
        "LinuxSeccomp",
        "LinuxSeccompArg",
        "LinuxSyscall",
        "LinuxTimeOffset",
    ),
    "process": (
        "ConsoleSize",
        "CPUAffinity",
        "LinuxCapabilities",
        "LinuxIOPriority",
        "POSIXRlimit",
        "Process",
        "Scheduler",
        "User",
    ),
    "resources": (
        "LinuxBlockIO",
        "LinuxCPU",
        "LinuxDeviceCgroup",
        "LinuxHugepageLimit",
        "LinuxInterfacePriority",
        "LinuxMemory",
        "LinuxNetwork",
        "LinuxPids",
        "LinuxRdma",
        "LinuxResources",
        "LinuxThrottleDevice",
        "LinuxWeightDevice",
    ),
    "state": ("State",),
    "validate": (
        "Problem",
        "runtime_problems",
        "validate_runtime",
    ),
}

_MODULE_OF: dict[str, str] = {name: mod for mod, names in _EXPORTS.items() for name in names}

__all__ = [
    "CAPABILITIES",
    "KNOWN_CAPABILITIES",
    "OCI_VERSION",
    "CPUAffinity",
    "CgroupFeatures",
    "ConsoleSize",
    "ContainerStatus",
    "DeviceType",
    "EnabledFeature",
    "Features",
    "Hook",
    "Hooks",
    "IDMapping",
    "IOPriorityClass",
    "IntelRdtFeatures",
    "Linux",
    "LinuxBlockIO",
    "LinuxCPU",
    "LinuxCapabilities",
    "LinuxDevice",
    "LinuxDeviceCgroup",
    "LinuxFeatures",
    "LinuxHugepageLimit",
    "LinuxIDMapping",
    "LinuxIOPriority",
    "LinuxIntelRdt",
    "LinuxInterfacePriority",
    "LinuxMemory",
    "LinuxMemoryPolicy",
    "LinuxNamespace",
    "LinuxNetDevice",
    "LinuxNetwork",
    "LinuxPersonality",
    "LinuxPids",
    "LinuxRdma",
    "LinuxResources",
    "LinuxSeccomp",
    "LinuxSeccompArg",
    "LinuxSyscall",
    "LinuxThrottleDevice",
    "LinuxTimeOffset",
    "LinuxWeightDevice",
    "MemoryPolicyFeatures",
    "MemoryPolicyFlag",
    "MemoryPolicyMode",
    "Mount",
    "MountExtensionsFeatures",
    "NamespaceType",
    "POSIXRlimit",
    "PersonalityDomain",
    "Problem",
    "Process",
    "Root",
    "RootfsPropagation",
    "Scheduler",
    "SchedulerFlag",
    "SchedulerPolicy",
    "SeccompAction",
    "SeccompArch",
    "SeccompFeatures",
    "SeccompFlag",
    "SeccompOperator",
    "Spec",
    "SpecBuilder",
    "State",
    "User",
    "default_spec",
    "is_known_capability",
    "runtime_problems",
    "validate_runtime",
]


def __getattr__(name: str) -> Any:
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    full = f"{__name__}.{module}"
    __import__(full)
    value = getattr(sys.modules[full], name)
    globals()[name] = value  # cache: later lookups do not come back here
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
