"""The OCI features document (features.md): what this runtime really implements.

It is built from the tables of the modules that implement each feature, so it grows with the
project and cannot claim more than the code does. Plain data: `pyrunc features` must be fast and
must not import pydantic.
"""

from __future__ import annotations

from typing import Any

from libcontainer_py._version import SPEC_VERSION, __version__

OCI_VERSION_MIN = "1.0.0"


def features_document() -> dict[str, Any]:
    doc: dict[str, Any] = {
        "ociVersionMin": OCI_VERSION_MIN,
        "ociVersionMax": SPEC_VERSION,
    }
    linux: dict[str, Any] = {}
    try:
        from libcontainer_py.namespaces import NAMESPACE_TYPES
    except ImportError:  # not implemented yet
        pass
    else:
        linux["namespaces"] = sorted(NAMESPACE_TYPES)
    try:
        from libcontainer_py.rootfs.options import MOUNT_OPTIONS
    except ImportError:
        pass
    else:
        doc["mountOptions"] = sorted(MOUNT_OPTIONS)
    try:
        from libcontainer_py.capabilities import CAPABILITIES
    except ImportError:
        pass
    else:
        linux["capabilities"] = list(CAPABILITIES)
    try:
        from libcontainer_py.hooks import HOOK_KINDS
    except ImportError:
        pass
    else:
        doc["hooks"] = list(HOOK_KINDS)
    linux["cgroup"] = {"v1": True, "v2": True, "systemd": False, "systemdUser": False, "rdma": True}
    linux["seccomp"] = _seccomp()
    linux["apparmor"] = {"enabled": False}
    linux["selinux"] = {"enabled": False}
    linux["intelRdt"] = {"enabled": False}
    linux["mountExtensions"] = {"idmap": {"enabled": True}}
    linux["netDevices"] = {"enabled": True}
    if linux:
        doc["linux"] = linux
    doc["annotations"] = {
        "io.github.libcontainer-py.version": __version__,
        "io.github.libcontainer-py.implementation": "python",
    }
    return doc


def _seccomp() -> dict[str, Any]:
    """What the seccomp code implements, and which filter flags this kernel takes."""
    from libcontainer_py.seccomp import compile as sc
    from libcontainer_py.seccomp import load

    return {
        "enabled": True,
        "actions": sorted(sc.ACTIONS),
        "operators": sorted(sc.OPERATORS),
        "archs": sorted(sc.ARCHES),
        "knownFlags": sorted(load.FILTER_FLAGS),
        "supportedFlags": sorted(n for n, bit in load.FILTER_FLAGS.items() if load.flag_supported(bit)),
    }
