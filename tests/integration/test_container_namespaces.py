"""Namespaces on real containers: new ones differ from the host's, joined ones are the same,
the time namespace's offsets, and the user namespace's mapping seen from both sides."""

from __future__ import annotations

import os
import shutil
import time
from typing import Any

import pytest

from libcontainer_py.container import Container

ALL = ["pid", "network", "ipc", "uts", "mount", "cgroup", "time", "user"]
PROC_NAME = {"pid": "pid", "network": "net", "ipc": "ipc", "uts": "uts", "mount": "mnt", "cgroup": "cgroup",
             "time": "time", "user": "user"}  # fmt: skip


def host_ns(kind: str) -> int:
    return os.stat(f"/proc/self/ns/{PROC_NAME[kind]}").st_ino


def with_userns(config: dict[str, Any]) -> None:
    config["linux"]["namespaces"].append({"type": "user"})
    config["linux"]["uidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
    config["linux"]["gidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]


def inside_ns(rt: Any, edit: Any = None) -> dict[str, int]:
    script = "for n in pid net ipc uts mnt cgroup time user; do echo $n $(stat -L -c %i /proc/self/ns/$n); done"
    out = rt.out(rt.bundle(["sh", "-c", script], edit=edit))
    return {name: int(ino) for name, ino in (line.split() for line in out.splitlines())}


def test_every_new_namespace_differs_from_the_host(rt: Any) -> None:
    def edit(config: dict[str, Any]) -> None:
        config["linux"]["namespaces"] = [{"type": t} for t in ALL if t != "user"]
        with_userns(config)

    seen = inside_ns(rt, edit)
    for kind in ALL:
        assert seen[PROC_NAME[kind]] != host_ns(kind), f"{kind} namespace is the host's"


def test_namespaces_not_asked_are_the_hosts(rt: Any) -> None:
    def edit(config: dict[str, Any]) -> None:
        config["linux"]["namespaces"] = [{"type": "mount"}, {"type": "pid"}]

    seen = inside_ns(rt, edit)
    assert seen["mnt"] != host_ns("mount") and seen["pid"] != host_ns("pid")
    for kind in ("network", "ipc", "uts", "cgroup", "time", "user"):
        assert seen[PROC_NAME[kind]] == host_ns(kind), kind


def _netns_holder(rt: Any) -> tuple[int, int]:
    """A helper process sleeping in a new network namespace: (its pid, that namespace's inode)."""
    if shutil.which("unshare") is None:
        pytest.skip("needs unshare(1) from util-linux")
    p = rt.helper(["unshare", "--net", "sleep", "300"])
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            ino = os.stat(f"/proc/{p.pid}/ns/net").st_ino
        except FileNotFoundError:
            ino = 0
        if ino and ino != host_ns("network") and os.readlink(f"/proc/{p.pid}/exe").endswith("sleep"):
            return p.pid, ino
        time.sleep(0.01)
    raise AssertionError("the netns helper did not start")


def test_join_a_namespace_by_path(rt: Any) -> None:
    pid, ino = _netns_holder(rt)

    def edit(config: dict[str, Any]) -> None:
        for ns in config["linux"]["namespaces"]:
            if ns["type"] == "network":
                ns["path"] = f"/proc/{pid}/ns/net"

    seen = inside_ns(rt, edit)
    assert seen["net"] == ino


def test_join_a_path_of_the_wrong_type(rt: Any) -> None:
    def edit(config: dict[str, Any]) -> None:
        config["linux"]["namespaces"] = [{"type": "pid"}, {"type": "network", "path": "/proc/self/ns/ipc"},
                                         {"type": "mount"}]  # fmt: skip

    bundle = rt.bundle(["true"], edit=edit)
    r = rt.pyrunc("create", "-b", str(bundle), rt.new_id())
    assert r.rc == 1, r
    assert len(r.err.strip().splitlines()) == 1, r
    assert "linux.namespaces[1].path" in r.err and "ipc" in r.err, r
    assert rt.state_dirs() == []


def test_join_a_path_that_is_not_a_namespace(rt: Any) -> None:
    def edit(config: dict[str, Any]) -> None:
        config["linux"]["namespaces"].append({"type": "uts", "path": "/etc/hostname"})
        config["linux"]["namespaces"] = [n for n in config["linux"]["namespaces"] if n != {"type": "uts"}]

    bundle = rt.bundle(["true"], edit=edit)
    r = rt.pyrunc("create", "-b", str(bundle), rt.new_id())
    assert r.rc == 1 and "not a namespace" in r.err and "linux.namespaces[" in r.err, r


def test_time_namespace_offsets(rt: Any) -> None:
    year = 365 * 24 * 3600

    def edit(config: dict[str, Any]) -> None:
        config["linux"]["namespaces"].append({"type": "time"})
        config["linux"]["timeOffsets"] = {"boottime": {"secs": year}, "monotonic": {"secs": 2 * year}}

    with open("/proc/uptime") as f:
        host_uptime = float(f.read().split()[0])
    out = rt.out(rt.bundle(["cat", "/proc/uptime"], edit=edit))
    uptime = float(out.split()[0])
    assert year + host_uptime - 1 <= uptime <= year + host_uptime + 60


def test_user_namespace_mapping(rt: Any) -> None:
    out_dir = rt.mkdir("out")

    def edit(config: dict[str, Any]) -> None:
        with_userns(config)
        config["mounts"].append({"destination": "/out", "type": "bind", "source": str(out_dir), "options": ["rbind"]})

    os.chown(out_dir, 100000, 100000)
    bundle = rt.bundle(
        ["sh", "-c", "id; cat /proc/self/uid_map /proc/self/gid_map; touch /out/made; exec sleep 100"], edit=edit
    )
    # The mount point must exist: the container's root (host uid 100000) may not mkdir in a rootfs
    # owned by the host's root.
    (bundle / "rootfs" / "out").mkdir()
    cid = rt.new_id()
    log = rt.base / "log"
    with open(log, "w") as f:
        c = Container.create(cid, bundle, root=rt.root, stdio=(None, f.fileno(), f.fileno()))
    c.start()
    deadline = time.monotonic() + 5
    while not (out_dir / "made").exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    with open(f"/proc/{c.pid}/status") as f:
        host_view = rt.status_fields(f.read())
    c.delete(force=True)
    lines = log.read_text().splitlines()
    assert lines[0].startswith("uid=0(root) gid=0(root)"), lines
    assert lines[1].split() == ["0", "100000", "65536"]
    assert lines[2].split() == ["0", "100000", "65536"]
    assert host_view["Uid"].split() == ["100000"] * 4
    assert host_view["Gid"].split() == ["100000"] * 4
    assert os.stat(out_dir / "made").st_uid == 100000  # what the container made, the host sees as 100000


def test_user_namespace_without_mappings_is_refused(rt: Any) -> None:
    bundle = rt.bundle(["true"], edit=lambda c: c["linux"]["namespaces"].append({"type": "user"}))
    r = rt.pyrunc("create", "-b", str(bundle), rt.new_id())
    assert r.rc == 1 and "linux.uidMappings" in r.err, r


@pytest.mark.parametrize("kind", ["uts", "ipc"])
def test_join_by_path_with_a_user_namespace(rt: Any, kind: str) -> None:
    # Joining a host-owned namespace from inside a new user namespace is refused by the kernel
    # (EPERM): the error must name the step, not be a traceback.
    def edit(config: dict[str, Any]) -> None:
        with_userns(config)
        for ns in config["linux"]["namespaces"]:
            if ns["type"] == kind:
                ns["path"] = f"/proc/1/ns/{kind}"

    r = rt.pyrunc("create", "-b", str(rt.bundle(["true"], edit=edit)), rt.new_id())
    if r.rc == 0:  # a kernel that allows it is fine too
        return
    assert r.rc == 1 and len(r.err.strip().splitlines()) == 1, r
    assert "Traceback" not in r.err
