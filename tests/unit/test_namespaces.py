"""namespaces.py without root: the plan (flags, join order, user first) and the checks on paths."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from libcontainer_py._sys import consts as c
from libcontainer_py.errors import ConfigError
from libcontainer_py.namespaces import JOIN_ORDER, NAMESPACE_TYPES, NAMESPACES, namespace_path, open_namespace, plan


def test_new_namespaces_become_flags() -> None:
    p = plan([("pid", None), ("network", None), ("mount", None), ("user", None)])
    assert p.new_flags == c.CLONE_NEWPID | c.CLONE_NEWNET | c.CLONE_NEWNS | c.CLONE_NEWUSER
    assert p.new_user and p.new_pid and not p.joins_user
    assert p.join == ()


def test_empty_path_means_new() -> None:
    assert plan([("uts", "")]).new_flags == c.CLONE_NEWUTS


def test_joins_are_ordered_user_first_mount_last() -> None:
    p = plan([("mount", "/m"), ("network", "/n"), ("user", "/u"), ("pid", "/p"), ("time", "/t")])
    assert [t for t, _ in p.join] == ["user", "pid", "network", "time", "mount"]
    assert p.joins_user and not p.new_user and p.new_flags == 0


def test_join_order_covers_every_type() -> None:
    assert set(JOIN_ORDER) == NAMESPACE_TYPES == set(NAMESPACES)
    assert JOIN_ORDER[0] == "user" and JOIN_ORDER[-1] == "mount"


def test_unknown_type_names_the_index() -> None:
    with pytest.raises(ConfigError, match=r"linux\.namespaces\[1\]\.type"):
        plan([("pid", None), ("bogus", None)])


def test_namespace_path() -> None:
    assert namespace_path(42, "network") == "/proc/42/ns/net"
    assert namespace_path(1, "mount") == "/proc/1/ns/mnt"


@pytest.mark.parametrize("kind", ["network", "uts", "ipc", "mount", "pid", "cgroup", "user"])
def test_open_own_namespace(kind: str) -> None:
    # Opening (not joining) our own namespace files needs no privilege.
    fd = open_namespace(kind, namespace_path(os.getpid(), kind), 0)
    try:
        assert fd >= 0
    finally:
        os.close(fd)


def test_wrong_type_names_the_field_and_both_types() -> None:
    with pytest.raises(ConfigError) as info:
        open_namespace("network", "/proc/self/ns/ipc", 3)
    message = str(info.value)
    assert "linux.namespaces[3].path" in message
    assert "ipc" in message and "network" in message
    assert "\n" not in message


def test_not_a_namespace(tmp_path: Path) -> None:
    f = tmp_path / "plain"
    f.write_text("x")
    with pytest.raises(
        ConfigError,
        match=r"not a namespace.*linux\.namespaces\[0\]\.path|linux\.namespaces\[0\]\.path.*not a namespace",
    ):
        open_namespace("uts", str(f), 0)


def test_missing_path(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"linux\.namespaces\[2\]\.path"):
        open_namespace("pid", str(tmp_path / "nope"), 2)


def test_no_fd_leaks_on_error(tmp_path: Path) -> None:
    before = set(os.listdir("/proc/self/fd"))
    f = tmp_path / "plain"
    f.write_text("x")
    for path, kind in ((str(f), "uts"), ("/proc/self/ns/ipc", "network")):
        with pytest.raises(ConfigError):
            open_namespace(kind, path, 0)
    assert set(os.listdir("/proc/self/fd")) == before


# --- sysctls must be isolated by one of the container's namespaces ---------------------------------


def test_namespaced_sysctls_are_accepted() -> None:
    from libcontainer_py.namespaces import check_sysctls

    ns = [("ipc", None), ("network", None), ("uts", None)]
    check_sysctls({"net.ipv4.ip_forward": "1", "kernel.shmmax": "1", "fs.mqueue.msg_max": "9",
                   "kernel.domainname": "x"}, ns)  # fmt: skip
    check_sysctls(None, [])


@pytest.mark.parametrize(
    ("key", "namespaces", "message"),
    [
        ("vm.swappiness", [("ipc", None), ("network", None)], "not isolated by any namespace"),
        ("kernel.panic", [("ipc", None)], "not isolated"),
        ("net.ipv4.ip_forward", [("ipc", None)], "needs a network namespace"),
        ("kernel.shmmax", [("network", None)], "needs a ipc namespace"),
        ("net.ipv4.ip_forward", [("network", "/proc/self/ns/net")], "host's network namespace"),
        ("kernel.hostname", [("uts", None)], "hostname field"),
        ("net..x", [("network", None)], "invalid sysctl name"),
        ("net/ipv4", [("network", None)], "invalid sysctl name"),
    ],
)
def test_host_sysctls_are_refused(key: str, namespaces: list[tuple[str, str | None]], message: str) -> None:
    from libcontainer_py.errors import ConfigError
    from libcontainer_py.namespaces import check_sysctls

    with pytest.raises(ConfigError, match=message) as info:
        check_sysctls({key: "1"}, namespaces)
    assert str(info.value).startswith(f"linux.sysctl.{key}: ")
