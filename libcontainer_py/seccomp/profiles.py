"""A Docker-like default seccomp profile, kept as data (``default_profile.json`` beside this file).

The profile is an allow list of ~370 syscall names with everything else failing with EPERM, as
Docker's ``profiles/seccomp/default.json``. Like Docker's, some rules only apply on some architectures
or when the container holds a capability (``includes``/``excludes``); :func:`default_profile` resolves
them for one architecture and one capability set into a plain OCI ``linux.seccomp`` object, because
the OCI spec has no such conditions.

Simplifications compared with Docker: no ``minKernel`` conditions (all rules assume a kernel >= 4.8),
and syscalls that libseccomp does not know are simply skipped at compile time with a warning. Names
absent from the running architecture (the 32-bit ``*_time64`` calls on x86_64, ...) are harmless:
libseccomp only adds them for the architectures that have them.
"""

from __future__ import annotations

import copy
import functools
import json
import platform
from collections.abc import Iterable
from importlib import resources
from typing import Any

# runc's `runc spec` capability set (and Docker's minus a few): what a container gets by default.
DEFAULT_CAPABILITIES: tuple[str, ...] = ("CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE")

_MACHINE_ARCH = {
    "x86_64": "SCMP_ARCH_X86_64",
    "aarch64": "SCMP_ARCH_AARCH64",
    "ppc64le": "SCMP_ARCH_PPC64LE",
    "s390x": "SCMP_ARCH_S390X",
    "riscv64": "SCMP_ARCH_RISCV64",
    "mips64": "SCMP_ARCH_MIPSEL64",
}


@functools.lru_cache(maxsize=1)
def _raw() -> dict[str, Any]:
    text = resources.files(__package__).joinpath("default_profile.json").read_text()
    data: dict[str, Any] = json.loads(text)
    return data


def native_arch() -> str:
    """The SCMP_ARCH_* name of this machine (SCMP_ARCH_X86_64 on an x86_64 host)."""
    return _MACHINE_ARCH.get(platform.machine(), "SCMP_ARCH_X86_64")


def default_profile(
    capabilities: Iterable[str] | None = None,
    arch: str | None = None,
) -> dict[str, Any]:
    """The default profile as an OCI ``linux.seccomp`` dict (a fresh copy: edit it freely).

    ``capabilities``: the container's bounding/effective capabilities (``CAP_SYS_ADMIN`` ...);
    syscalls gated on a capability are allowed only when it is present, as Docker does. Default:
    :data:`DEFAULT_CAPABILITIES`. ``arch``: the main architecture (default: this machine's); its
    companion architectures (x86 and x32 beside x86_64, ...) are listed too.
    """
    raw = _raw()
    caps = {
        c.upper() if c.upper().startswith("CAP_") else "CAP_" + c.upper()
        for c in (capabilities or DEFAULT_CAPABILITIES)
    }
    main = arch or native_arch()
    arches = [main]
    for entry in raw["archMap"]:
        if entry["architecture"] == main:
            arches += entry["subArchitectures"]
    syscalls: list[dict[str, Any]] = []
    for rule in raw["syscalls"]:
        if not _applies(rule, arches, caps):
            continue
        syscalls.append({k: copy.deepcopy(v) for k, v in rule.items() if k not in ("includes", "excludes", "comment")})
    return {
        "defaultAction": raw["defaultAction"],
        "defaultErrnoRet": raw["defaultErrnoRet"],
        "architectures": arches,
        "syscalls": syscalls,
    }


def _applies(rule: dict[str, Any], arches: list[str], caps: set[str]) -> bool:
    inc = rule.get("includes") or {}
    exc = rule.get("excludes") or {}
    if inc.get("arches") and not set(inc["arches"]) & set(arches):
        return False
    if inc.get("caps") and not set(inc["caps"]) <= caps:
        return False
    if exc.get("arches") and set(exc["arches"]) & set(arches):
        return False
    return not (exc.get("caps") and set(exc["caps"]) & caps)
