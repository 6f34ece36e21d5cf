"""Devices: a container cannot use a device node the cgroup does not allow, and a user-namespaced
container cannot mknod at all.

As in runc, every container's cgroup allows mknod ("m") of any node: a node is useless without a
read/write rule, and images carry nodes. What the cgroup refuses is opening it: here /dev/kmsg
(1:11) and /dev/mem (1:1), which root on the host may read, are made with CAP_MKNOD inside and
cannot be opened (EPERM from the device controller, before the driver). In a user namespace the
kernel refuses mknod of any device, whatever the capabilities there.
"""

from __future__ import annotations

from typing import Any


def with_mknod(c: dict[str, Any]) -> None:
    # a writable place without "nodev" (the root is read-only, /dev/shm is nodev)
    c["mounts"].append({"destination": "/run", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid"]})
    for kind in ("bounding", "effective", "permitted"):
        c["process"]["capabilities"][kind] = sorted(set(c["process"]["capabilities"][kind]) | {"CAP_MKNOD"})


SCRIPT = (
    "mknod /run/kmsg c 1 11 && echo made-kmsg; mknod /run/mem c 1 1 && echo made-mem; "
    "head -c 1 /run/kmsg >/dev/null 2>&1 && echo read-kmsg; head -c 1 /run/mem >/dev/null 2>&1 && echo read-mem; "
    "head -c 1 /run/kmsg 2>&1; echo done"
)


def test_a_node_made_inside_cannot_be_opened(rt: Any) -> None:
    r = rt.run(rt.bundle(["sh", "-c", SCRIPT], edit=with_mknod))
    assert r.rc == 0, r
    assert "made-kmsg" in r.out and "made-mem" in r.out, r  # mknod itself is allowed, as in runc
    assert "read-kmsg" not in r.out and "read-mem" not in r.out, r
    assert "Operation not permitted" in r.out, r


def test_without_cap_mknod_no_node_is_made(rt: Any) -> None:
    r = rt.run(rt.bundle(["sh", "-c", SCRIPT]))  # runc's default capabilities: no CAP_MKNOD
    assert "made-" not in r.out and "read-" not in r.out, r


def test_a_user_namespaced_container_cannot_mknod_at_all(rt: Any) -> None:
    def edit(c: dict[str, Any]) -> None:
        with_mknod(c)
        c["linux"]["namespaces"].append({"type": "user"})
        c["linux"]["uidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
        c["linux"]["gidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]

    r = rt.run(rt.bundle(["sh", "-c", "grep CapEff /proc/self/status; " + SCRIPT], edit=edit))
    assert r.rc == 0, r
    assert "made-" not in r.out and "read-" not in r.out, r
    cap_eff = int(r.out.split()[1], 16)
    assert cap_eff & (1 << 27), r  # CAP_MKNOD is in the effective set: the kernel still says no
