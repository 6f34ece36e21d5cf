"""libcontainer_py.network end to end, with the "host" side in a namespace the test makes.

Every namespace here belongs to an `unshare --net sleep` process the test starts and kills by pid, so
the bridge, the veths and the addresses live and die with those processes and the machine's own
interfaces are never touched. The lease files go in a temporary state root removed at teardown. A
finalizer checks, pass or fail, that nothing of ours (`pyv*`, `lcpyt*`) appeared in our own netns.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from libcontainer_py.network import NetworkError, connect, disconnect, setup_bridge, veth_name

pytestmark = [
    pytest.mark.root,
    pytest.mark.skipif(shutil.which("unshare") is None or shutil.which("nsenter") is None, reason="needs util-linux"),
    pytest.mark.skipif(shutil.which("ip") is None, reason="needs iproute2's ip to observe"),
]

BRIDGE = "lcpytbr0"
SUBNET = "10.213.0.0/24"


@dataclass
class Netns:
    pid: int
    path: str


def _our_links() -> set[str]:
    out = subprocess.run(["ip", "-j", "link"], check=True, capture_output=True, text=True).stdout
    return {link["ifname"] for link in json.loads(out) if link["ifname"].startswith(("pyv", "lcpyt"))}


@pytest.fixture
def netns(netns_holders: Any) -> Iterator[Callable[[], Netns]]:
    """A factory of fresh network namespaces, each held by a sleeping process killed at teardown."""
    before = _our_links()

    def make() -> Netns:
        proc = netns_holders.new()
        return Netns(proc.pid, f"/proc/{proc.pid}/ns/net")

    try:
        yield make
    finally:
        netns_holders.close()
        assert _our_links() == before, "something of ours leaked into the test runner's own netns"


@pytest.fixture
def state_root() -> Iterator[str]:
    path = tempfile.mkdtemp(prefix="lcpyt-state-")
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def host(netns: Callable[[], Netns]) -> Netns:
    return netns()


def ip_json(ns: Netns, *args: str) -> Any:
    out = subprocess.run(
        ["nsenter", f"--net={ns.path}", "ip", "-j", *args], check=True, capture_output=True, text=True
    ).stdout
    return json.loads(out) if out.strip() else []


def links(ns: Netns) -> dict[str, dict[str, Any]]:
    return {link["ifname"]: link for link in ip_json(ns, "addr")}


def ipv4(link: dict[str, Any]) -> list[str]:
    return [f"{a['local']}/{a['prefixlen']}" for a in link.get("addr_info", []) if a["family"] == "inet"]


def in_netns(ns: Netns, code: str, timeout: float = 10) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["nsenter", f"--net={ns.path}", sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=timeout,
    )


SERVER = """
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], int(sys.argv[2]))); s.listen(); print("ready", flush=True)
s.settimeout(15)
c, peer = s.accept(); c.sendall(("hello " + peer[0]).encode()); c.close()
"""

CLIENT = """
import socket
c = socket.create_connection(({addr!r}, {port}), timeout=5)
print(c.recv(100).decode())
"""


def tcp_roundtrip(server_ns: Netns, addr: str, client_ns: Netns, port: int = 8081) -> str:
    """Serve on addr:port in server_ns; connect from client_ns; return what the client read."""
    server = subprocess.Popen(
        ["nsenter", f"--net={server_ns.path}", sys.executable, "-c", SERVER, addr, str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        assert server.stdout.readline().strip() == "ready", server.stderr.read() if server.stderr else ""
        client = in_netns(client_ns, CLIENT.format(addr=addr, port=port))
        assert client.returncode == 0, client.stderr
        return client.stdout.strip()
    finally:
        server.kill()
        server.wait()


def test_connect_configures_the_container_side(netns: Callable[[], Netns], host: Netns, state_root: str) -> None:
    cont = netns()
    att = connect("c1", cont.pid, BRIDGE, SUBNET, state_root=state_root, host_netns=host.path)
    assert (att.ip, att.gateway, att.prefixlen, att.ifname) == ("10.213.0.2", "10.213.0.1", 24, "eth0")
    assert att.veth_host == veth_name("c1", BRIDGE)

    inside = links(cont)
    assert set(inside) == {"lo", "eth0"}
    assert "UP" in inside["eth0"]["flags"] and ipv4(inside["eth0"]) == ["10.213.0.2/24"]
    assert "UP" in inside["lo"]["flags"]
    routes = ip_json(cont, "route")
    assert {"dst": "default", "gateway": "10.213.0.1", "dev": "eth0"}.items() <= routes[0].items()

    outside = links(host)
    assert ipv4(outside[BRIDGE]) == ["10.213.0.1/24"]
    assert outside[att.veth_host]["master"] == BRIDGE and "UP" in outside[att.veth_host]["flags"]
    assert inside["eth0"]["mtu"] == outside[att.veth_host]["mtu"] == outside[BRIDGE]["mtu"]

    # The container reaches the gateway, over TCP, from its leased address.
    assert tcp_roundtrip(host, "10.213.0.1", cont) == "hello 10.213.0.2"

    leases = json.loads(Path(state_root, f"{BRIDGE}.json").read_text())
    assert leases["subnet"] == SUBNET and leases["gateway"] == "10.213.0.1"
    assert leases["leases"] == {"c1": {"ip": "10.213.0.2", "veth": att.veth_host, "ifname": "eth0"}}


def test_two_containers_reach_each_other(netns: Callable[[], Netns], host: Netns, state_root: str) -> None:
    a, b = netns(), netns()
    att_a = connect("a", a.path, BRIDGE, SUBNET, state_root=state_root, host_netns=host.path)
    att_b = connect("b", b.pid, BRIDGE, SUBNET, state_root=state_root, host_netns=host.path)
    assert (att_a.ip, att_b.ip) == ("10.213.0.2", "10.213.0.3")
    assert tcp_roundtrip(a, att_a.ip, b) == f"hello {att_b.ip}"
    if shutil.which("busybox"):
        ping = subprocess.run(
            ["nsenter", f"--net={b.path}", "busybox", "ping", "-c", "1", "-W", "3", att_a.ip],
            capture_output=True,
            text=True,
        )
        assert ping.returncode == 0, ping.stdout + ping.stderr


def test_connect_is_idempotent(netns: Callable[[], Netns], host: Netns, state_root: str) -> None:
    cont = netns()
    first = connect("c1", cont.pid, BRIDGE, SUBNET, state_root=state_root, host_netns=host.path, mtu=1400)
    second = connect("c1", cont.pid, BRIDGE, SUBNET, state_root=state_root, host_netns=host.path, mtu=1400)
    assert first == second
    inside = links(cont)
    assert ipv4(inside["eth0"]) == ["10.213.0.2/24"] and inside["eth0"]["mtu"] == 1400
    assert [name for name in links(host) if name.startswith("pyv")] == [first.veth_host]
    assert links(host)[first.veth_host]["mtu"] == 1400
    assert len(json.loads(Path(state_root, f"{BRIDGE}.json").read_text())["leases"]) == 1


def test_disconnect_removes_veth_and_lease_keeps_bridge(
    netns: Callable[[], Netns], host: Netns, state_root: str
) -> None:
    a, b = netns(), netns()
    att_a = connect("a", a.pid, BRIDGE, SUBNET, state_root=state_root, host_netns=host.path)
    att_b = connect("b", b.pid, BRIDGE, SUBNET, state_root=state_root, host_netns=host.path)

    released = disconnect("a", BRIDGE, state_root=state_root, host_netns=host.path)
    assert released is not None and released.ip == att_a.ip
    outside = links(host)
    assert att_a.veth_host not in outside and att_b.veth_host in outside and BRIDGE in outside
    assert "eth0" not in links(a)  # the peer went with the host end
    leases = json.loads(Path(state_root, f"{BRIDGE}.json").read_text())["leases"]
    assert set(leases) == {"b"}
    assert disconnect("a", BRIDGE, state_root=state_root, host_netns=host.path) is None  # idempotent

    # The freed address is the lowest free one again.
    c = netns()
    assert connect("c", c.pid, BRIDGE, SUBNET, state_root=state_root, host_netns=host.path).ip == att_a.ip


def test_setup_bridge_alone_and_reuse(host: Netns) -> None:
    assert setup_bridge(BRIDGE, "10.214.0.0/16", host_netns=host.path) == "10.214.0.1"
    assert setup_bridge(BRIDGE, "10.214.0.0/16", host_netns=host.path) == "10.214.0.1"
    assert ipv4(links(host)[BRIDGE]) == ["10.214.0.1/16"]


def test_exhausted_subnet_leaves_nothing(netns: Callable[[], Netns], host: Netns, state_root: str) -> None:
    one, two = netns(), netns()
    att = connect("one", one.pid, BRIDGE, "10.215.0.0/30", state_root=state_root, host_netns=host.path)
    assert att.ip == "10.215.0.2"
    lease_file = Path(state_root, f"{BRIDGE}.json")
    before = lease_file.read_text()
    with pytest.raises(NetworkError, match=r"^subnet: 10\.215\.0\.0/30 is exhausted") as info:
        connect("two", two.pid, BRIDGE, "10.215.0.0/30", state_root=state_root, host_netns=host.path)
    assert info.value.argument == "subnet"
    assert veth_name("two", BRIDGE) not in links(host)
    assert set(links(two)) == {"lo"}
    assert lease_file.read_text() == before


def test_failed_connect_removes_what_it_made(netns: Callable[[], Netns], host: Netns, state_root: str) -> None:
    cont = netns()
    subprocess.run(
        ["nsenter", f"--net={cont.path}", "ip", "link", "add", "eth0", "type", "veth", "peer", "name", "lcpytp0"],
        check=True,
    )
    with pytest.raises(NetworkError, match=r"^ifname: eth0 already exists in the container"):
        connect("c1", cont.pid, BRIDGE, SUBNET, state_root=state_root, host_netns=host.path)
    assert set(links(host)) == {"lo"}  # no veth, and the bridge this call made is gone too
    lease_file = Path(state_root, f"{BRIDGE}.json")
    assert not lease_file.exists() or json.loads(lease_file.read_text())["leases"] == {}


def test_pid_gone_and_bad_netns(host: Netns, state_root: str) -> None:
    gone = subprocess.Popen(["true"])
    gone.wait()
    with pytest.raises(NetworkError, match=rf"^pid: pid {gone.pid}: no such process"):
        connect("c1", gone.pid, BRIDGE, SUBNET, state_root=state_root, host_netns=host.path)
    with pytest.raises(NetworkError, match=r"^netns: .* no such network namespace"):
        connect("c1", "/proc/self/ns/lcpyt-nope", BRIDGE, SUBNET, state_root=state_root, host_netns=host.path)
    with pytest.raises(NetworkError, match=r"^netns: .* is the host's own network namespace"):
        connect("c1", host.path, BRIDGE, SUBNET, state_root=state_root, host_netns=host.path)
    with pytest.raises(NetworkError, match=r"^netns: .* not a network namespace"):
        connect("c1", "/proc/self/ns/uts", BRIDGE, SUBNET, state_root=state_root, host_netns=host.path)
    assert set(links(host)) == {"lo"}
    assert not Path(state_root, f"{BRIDGE}.json").exists()


CONCURRENT = """
import sys, time
from libcontainer_py.network import connect
start = float(sys.argv[1])
time.sleep(max(0.0, start - time.time()))
att = connect(sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5], state_root=sys.argv[6], host_netns=sys.argv[7])
print(att.ip)
"""


def test_concurrent_connects_get_distinct_addresses(netns: Callable[[], Netns], host: Netns, state_root: str) -> None:
    conts = [netns() for _ in range(6)]
    start = time.time() + 1.5  # all processes past their imports, then go at once
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", CONCURRENT, str(start), f"c{i}", str(c.pid), BRIDGE, SUBNET, state_root, host.path],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i, c in enumerate(conts)
    ]
    results = [p.communicate(timeout=60) for p in procs]
    assert all(p.returncode == 0 for p in procs), [err for _, err in results]
    ips = sorted(out.strip() for out, _ in results)
    assert ips == [f"10.213.0.{n}" for n in range(2, 8)]
    leases = json.loads(Path(state_root, f"{BRIDGE}.json").read_text())["leases"]
    assert sorted(lease["ip"] for lease in leases.values()) == ips
    for i, c in enumerate(conts):
        assert ipv4(links(c)["eth0"]) == [f"{leases[f'c{i}']['ip']}/24"]
    assert len([name for name in links(host) if name.startswith("pyv")]) == 6
