"""The default config.json, as plain data: what `runc spec` and `runc spec --rootless` write.

The reference is runc 1.1.5 (`runc spec`, which is libcontainer/specconv.Example(), and
`runc spec --rootless`, which is specconv.ToRootless() applied to it). Everything matches it except
`ociVersion`, which is the spec version this runtime implements.

Why plain dicts and not the pydantic models: `pyrunc spec` only has to write this JSON, and an
orchestrator may call the runtime many times; importing pydantic and building models costs tens of
milliseconds for nothing. So this module imports only the standard library, every function returns
a fresh structure (callers may mutate it), and `default_spec()` builds the typed `Spec` lazily.

Keep this module free of imports from the rest of the package at import time: `pyrunc spec`
imports it directly.
"""

from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING, Any

# _version has no imports of its own: safe for the fast path.
from libcontainer_py._version import SPEC_VERSION

if TYPE_CHECKING:
    from libcontainer_py.spec import Spec

#: The capabilities runc gives a default container (in every set it fills).
DEFAULT_CAPABILITIES: tuple[str, ...] = ("CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE")

#: The capability sets runc fills. `inheritable` is left out on purpose: since CVE-2022-29162
#: runc no longer puts capabilities in the inheritable set, because a non-root process that
#: execs a file with inheritable file capabilities would gain them.
DEFAULT_CAPABILITY_SETS: tuple[str, ...] = ("bounding", "effective", "permitted", "ambient")

DEFAULT_MASKED_PATHS: tuple[str, ...] = (
    "/proc/acpi",
    "/proc/asound",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/sys/firmware",
    "/proc/scsi",
)

DEFAULT_READONLY_PATHS: tuple[str, ...] = (
    "/proc/bus",
    "/proc/fs",
    "/proc/irq",
    "/proc/sys",
    "/proc/sysrq-trigger",
)

DEFAULT_ENV: tuple[str, ...] = (
    "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "TERM=xterm",
)


def _default_mounts() -> list[dict[str, Any]]:
    return [
        {"destination": "/proc", "type": "proc", "source": "proc"},
        {
            "destination": "/dev",
            "type": "tmpfs",
            "source": "tmpfs",
            "options": ["nosuid", "strictatime", "mode=755", "size=65536k"],
        },
        {
            "destination": "/dev/pts",
            "type": "devpts",
            "source": "devpts",
            "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"],
        },
        {
            "destination": "/dev/shm",
            "type": "tmpfs",
            "source": "shm",
            "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"],
        },
        {
            "destination": "/dev/mqueue",
            "type": "mqueue",
            "source": "mqueue",
            "options": ["nosuid", "noexec", "nodev"],
        },
        {
            "destination": "/sys",
            "type": "sysfs",
            "source": "sysfs",
            "options": ["nosuid", "noexec", "nodev", "ro"],
        },
        {
            "destination": "/sys/fs/cgroup",
            "type": "cgroup",
            "source": "cgroup",
            "options": ["nosuid", "noexec", "nodev", "relatime", "ro"],
        },
    ]


def _unified_host() -> bool:
    """Whether /sys/fs/cgroup is a cgroup2 filesystem (a pure v2 host), as runc decides it (its
    statfs type, cgroups.IsCgroup2UnifiedMode): here from /proc/self/mountinfo, the last mount
    listed at that path being the one seen there (no shim to import for `pyrunc spec`)."""
    fstype = None
    try:
        with open("/proc/self/mountinfo") as f:
            for line in f:
                fields = line.split(" - ", 1)
                if len(fields) == 2 and fields[0].split()[4:5] == ["/sys/fs/cgroup"]:
                    fstype = fields[1].split()[0]
    except OSError:
        return False
    return fstype == "cgroup2"


def default_config(cgroupns: bool | None = None) -> dict[str, Any]:
    """The content of `runc spec` (with our ociVersion), as a fresh dict in runc's key order. On a
    pure cgroup v2 host (`cgroupns` None: looked at; see _unified_host) it has a cgroup namespace
    too, as runc's: the container then sees its cgroup as the root, and its cgroup2 mount is
    rooted there."""
    config: dict[str, Any] = {
        "ociVersion": SPEC_VERSION,
        "process": {
            "terminal": True,
            "user": {"uid": 0, "gid": 0},
            "args": ["sh"],
            "env": list(DEFAULT_ENV),
            "cwd": "/",
            "capabilities": {name: list(DEFAULT_CAPABILITIES) for name in DEFAULT_CAPABILITY_SETS},
            "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
            "noNewPrivileges": True,
        },
        "root": {"path": "rootfs", "readonly": True},
        "hostname": "runc",
        "mounts": _default_mounts(),
        "linux": {
            # Deny every device in the device cgroup; the runtime then allows its default devices.
            "resources": {"devices": [{"allow": False, "access": "rwm"}]},
            "namespaces": [
                {"type": "pid"},
                {"type": "network"},
                {"type": "ipc"},
                {"type": "uts"},
                {"type": "mount"},
            ],
            "maskedPaths": list(DEFAULT_MASKED_PATHS),
            "readonlyPaths": list(DEFAULT_READONLY_PATHS),
        },
    }
    if cgroupns is None:
        cgroupns = _unified_host()
    if cgroupns:
        config["linux"]["namespaces"].append({"type": "cgroup"})
    return config


def rootless_config(uid: int | None = None, gid: int | None = None) -> dict[str, Any]:
    """The content of `runc spec --rootless`: `default_config()` made runnable without root.

    Follows runc's specconv.ToRootless step by step:
    - no network namespace (an unprivileged user cannot configure a new one usefully), a user
      namespace instead, appended last;
    - map the caller's euid/egid (or `uid`/`gid`) to root in the container, one id each;
    - /sys becomes a read-only rbind of the host's /sys: mounting a fresh sysfs needs a network
      namespace owned by the user namespace, which we just removed;
    - drop `gid=`/`uid=` mount options (gid 5 of devpts does not exist in a one-id mapping);
    - no `linux.resources`: an unprivileged user usually cannot write the cgroup.
    """
    config = default_config()
    host_uid = os.geteuid() if uid is None else uid
    host_gid = os.getegid() if gid is None else gid
    linux = config["linux"]
    namespaces = [ns for ns in linux["namespaces"] if ns["type"] != "network"]
    namespaces.append({"type": "user"})
    mounts: list[dict[str, Any]] = []
    for mount in config["mounts"]:
        if os.path.normpath(mount["destination"]) == "/sys":
            mounts.append(
                {
                    "destination": "/sys",
                    "type": "none",
                    "source": "/sys",
                    "options": ["rbind", "nosuid", "noexec", "nodev", "ro"],
                }
            )
            continue
        if "options" in mount:
            mount["options"] = [opt for opt in mount["options"] if not opt.startswith(("gid=", "uid="))]
        mounts.append(mount)
    config["mounts"] = mounts
    # Rebuild `linux` in runc's key order (uidMappings, gidMappings, namespaces, ...) so that the
    # file we write reads the same as runc's.
    config["linux"] = {
        "uidMappings": [{"containerID": 0, "hostID": host_uid, "size": 1}],
        "gidMappings": [{"containerID": 0, "hostID": host_gid, "size": 1}],
        "namespaces": namespaces,
        "maskedPaths": linux["maskedPaths"],
        "readonlyPaths": linux["readonlyPaths"],
    }
    return config


def default_dict(rootless: bool = False) -> dict[str, Any]:
    """`default_config()` or `rootless_config()`."""
    return rootless_config() if rootless else default_config()


def dumps_config(config: dict[str, Any]) -> str:
    """Serialise a config the way runc does (json.MarshalIndent with a tab, no final newline), so
    that `pyrunc spec` and `runc spec` write files that diff cleanly."""
    return json.dumps(config, indent="\t", ensure_ascii=False)


def default_json(rootless: bool = False) -> str:
    """The text `pyrunc spec [--rootless]` writes."""
    return dumps_config(default_dict(rootless))


def default_spec(rootless: bool = False) -> Spec:
    """The default config as a typed `Spec` (imports the pydantic models on first use)."""
    from libcontainer_py.spec import Spec

    return Spec.from_dict(default_dict(rootless))


__all__ = [
    "DEFAULT_CAPABILITIES",
    "DEFAULT_CAPABILITY_SETS",
    "DEFAULT_ENV",
    "DEFAULT_MASKED_PATHS",
    "DEFAULT_READONLY_PATHS",
    "SPEC_VERSION",
    "default_config",
    "default_dict",
    "default_json",
    "default_spec",
    "dumps_config",
    "rootless_config",
]
