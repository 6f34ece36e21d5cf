"""The Docker-like default profile: valid, about 300 syscalls, capability- and arch-dependent rules."""

from __future__ import annotations

from typing import Any

from libcontainer_py.seccomp import default_profile, validate_seccomp
from libcontainer_py.spec import LinuxSeccomp


def names(profile: dict[str, Any], action: str = "SCMP_ACT_ALLOW", with_args: bool = False) -> set[str]:
    return {
        name
        for rule in profile["syscalls"]
        if rule["action"] == action and bool(rule.get("args")) == with_args
        for name in rule["names"]
    }


def test_default_profile_is_a_valid_oci_seccomp() -> None:
    profile = default_profile(arch="SCMP_ARCH_X86_64")
    assert validate_seccomp(profile) == []
    LinuxSeccomp.model_validate(profile)
    assert profile["defaultAction"] == "SCMP_ACT_ERRNO" and profile["defaultErrnoRet"] == 1
    assert profile["architectures"] == ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"]
    assert all("includes" not in r and "excludes" not in r for r in profile["syscalls"])
    allowed = names(profile)
    assert 300 <= len(allowed) <= 450
    assert {"read", "write", "execve", "openat", "arch_prctl", "socket"} <= allowed
    assert not {"mount", "unshare", "setns", "sethostname", "reboot", "kexec_load", "bpf"} & allowed


def test_clone_limited_and_clone3_enosys_without_sys_admin() -> None:
    profile = default_profile(arch="SCMP_ARCH_X86_64")
    clone = [r for r in profile["syscalls"] if r["names"] == ["clone"]]
    assert clone == [
        {
            "names": ["clone"],
            "action": "SCMP_ACT_ALLOW",
            "args": [{"index": 0, "value": 0x7E020000, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}],
        }
    ]
    assert {"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38} in profile["syscalls"]


def test_capabilities_open_their_syscalls() -> None:
    admin = default_profile(["CAP_SYS_ADMIN", "sys_time"], arch="SCMP_ARCH_X86_64")
    allowed = names(admin)
    assert {"mount", "unshare", "setns", "sethostname", "clone", "clone3", "settimeofday"} <= allowed
    assert not any(r["names"] == ["clone3"] and r["action"] == "SCMP_ACT_ERRNO" for r in admin["syscalls"])


def test_arch_specific_rules() -> None:
    arm = default_profile(arch="SCMP_ARCH_AARCH64")
    assert arm["architectures"] == ["SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"]
    assert "cacheflush" in names(arm) and "arch_prctl" not in names(arm)
    s390 = default_profile(arch="SCMP_ARCH_S390X")
    clone = [r for r in s390["syscalls"] if r["names"] == ["clone"]]
    assert clone[0]["args"][0]["index"] == 1  # s390 swaps clone's first two arguments


def test_copies_are_independent() -> None:
    a = default_profile()
    a["syscalls"][0]["names"].append("x")
    assert "x" not in default_profile()["syscalls"][0]["names"]
