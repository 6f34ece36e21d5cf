"""Issue 7's network test with real containers, inside a network namespace this test makes and
removes (so the host side of the bridge is itself a test host): A serves a page with busybox
httpd, B on the same bridge fetches it with wget over A's address, C joins A's network and user
namespaces and fetches it over 127.0.0.1. After teardown: no veth, no lease, no namespace."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from libcontainer_py.container import Container
from libcontainer_py.spec import Spec, SpecBuilder

pytestmark = pytest.mark.skipif(
    shutil.which("unshare") is None or shutil.which("nsenter") is None or shutil.which("ip") is None,
    reason="needs util-linux (unshare, nsenter) and iproute2",
)

BRIDGE, SUBNET = "lcpytbr0", "10.211.0.0/24"
# (busybox 1.35's wget segfaults with -T, on the host too: the fetches below go without a timeout)


def links(netns: str) -> list[str]:
    out = subprocess.run(["nsenter", f"--net={netns}", "ip", "-o", "link"], capture_output=True, text=True).stdout
    return [line.split(":")[1].strip().split("@")[0] for line in out.splitlines()]


def test_three_containers_on_a_bridge_in_a_test_netns(rt: Any) -> None:
    ours = os.readlink("/proc/self/ns/net")
    host = rt.helper(["unshare", "--net", "sleep", "infinity"])
    deadline = time.monotonic() + 5
    while os.readlink(f"/proc/{host.pid}/ns/net") == ours and time.monotonic() < deadline:
        time.sleep(0.005)
    netns = f"/proc/{host.pid}/ns/net"
    leases = rt.mkdir("leases")

    def networked(args: list[str], userns_host_id: int | None = None) -> Path:
        def edit(c: dict[str, Any]) -> None:
            c["root"]["readonly"] = False
            if userns_host_id is not None:
                c["linux"]["namespaces"].append({"type": "user"})
                c["linux"]["uidMappings"] = [{"containerID": 0, "hostID": userns_host_id, "size": 65536}]
                c["linux"]["gidMappings"] = [{"containerID": 0, "hostID": userns_host_id, "size": 65536}]

        bundle = rt.bundle(args, edit=edit)
        spec = SpecBuilder.load(bundle).with_network(BRIDGE, SUBNET, host_netns=netns, state_root=str(leases)).build()
        spec.save(bundle)
        return bundle

    a = networked(["httpd", "-f", "-p", "80", "-h", "/var/www"], userns_host_id=200000)
    assert rt.pyrunc("run", "-d", "--bundle", str(a), "net-a").rc == 0
    server = Container.load("net-a", rt.root)
    lease_file = leases / f"{BRIDGE}.json"
    a_ip = json.loads(lease_file.read_text())  # the lease format is the network package's
    a_addr = next(v["ip"] if isinstance(v, dict) else v for k, v in _leases(a_ip).items() if "net-a" in k)

    b = networked(["sh", "-c", f"ip -o -4 addr show eth0; wget -q -O - http://{a_addr}/index.html"])
    r = _retry(lambda: rt.run(b, cid="net-b"))
    assert r.rc == 0, r
    assert "inet 10.211.0." in r.out and r.out.splitlines()[-1] == "hello from libcontainer-py"

    c_bundle = rt.bundle(["sh", "-c", "wget -q -O - http://127.0.0.1/index.html"])
    spec = Spec.load(c_bundle).join_namespaces_of(server, "network", "user")
    spec.save(c_bundle)
    r = _retry(lambda: rt.run(c_bundle, cid="net-c"))
    assert r.rc == 0, r
    assert r.out.strip() == "hello from libcontainer-py"

    # B's veth and lease went with B (its poststop hook); A's are there until A goes.
    names = links(netns)
    assert BRIDGE in names and sum(n.startswith("pyv") for n in names) == 1, names
    assert rt.pyrunc("delete", "--force", "net-a").rc == 0
    names = links(netns)
    assert [n for n in names if n.startswith("pyv")] == [] and BRIDGE in names, names  # the bridge stays
    assert _leases(json.loads(lease_file.read_text())) == {}
    # nothing on this machine's own interfaces
    assert not any(n.startswith(("pyv", "lcpyt")) for n in os.listdir("/sys/class/net"))


def _leases(doc: Any) -> dict[str, Any]:
    return doc.get("leases", doc) if isinstance(doc, dict) else {}


def _retry(fn: Any, seconds: float = 5) -> Any:
    deadline = time.monotonic() + seconds
    while True:
        r = fn()
        if r.rc == 0 or time.monotonic() > deadline:
            return r
        time.sleep(0.2)  # httpd may still be binding
