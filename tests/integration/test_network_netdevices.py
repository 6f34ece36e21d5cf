"""linux.netDevices: an interface in a test-made "host" netns moved into a test-made "container"
netns, renamed, addresses kept, up. (This kernel may lack the dummy driver, so the device moved is one
end of a veth pair; the other end stays behind in the host namespace.)"""

from __future__ import annotations

import json
import shutil
import subprocess
from typing import Any

import pytest

from libcontainer_py.network import NetworkError, move_net_devices
from libcontainer_py.spec import LinuxNetDevice

pytestmark = [
    pytest.mark.root,
    pytest.mark.skipif(shutil.which("unshare") is None or shutil.which("nsenter") is None, reason="needs util-linux"),
    pytest.mark.skipif(shutil.which("ip") is None, reason="needs iproute2's ip"),
]


@pytest.fixture
def pair(netns_holders: Any) -> tuple[int, int]:
    """(host pid, container pid); the host netns has lcpytd0 (up, with addresses) and lcpytd1."""
    host, cont = netns_holders.new().pid, netns_holders.new().pid
    for cmd in (
        "link add lcpytd0 type veth peer name lcpytd1",
        "addr add 10.218.0.5/24 dev lcpytd0",
        "addr add 10.218.1.5/24 dev lcpytd0",
        "addr add 169.254.7.7/16 scope link dev lcpytd0",  # not global: must not be carried over
        "-6 addr add 2001:db8:218::5/64 dev lcpytd0 nodad",
        "link set lcpytd0 up",
        "link add lcpytd2 type veth peer name lcpytd3",
    ):
        sh(host, cmd)
    return host, cont


def sh(pid: int, cmd: str) -> str:
    return subprocess.run(
        ["nsenter", f"--net=/proc/{pid}/ns/net", "ip", *cmd.split()], check=True, capture_output=True, text=True
    ).stdout


def links(pid: int) -> dict[str, dict[str, Any]]:
    return {link["ifname"]: link for link in json.loads(sh(pid, "-j addr"))}


def global_addrs(link: dict[str, Any]) -> set[str]:
    return {f"{a['local']}/{a['prefixlen']}" for a in link.get("addr_info", []) if a.get("scope") == "global"}


def test_move_renamed_with_addresses(pair: tuple[int, int]) -> None:
    host, cont = pair
    moved = move_net_devices({"lcpytd0": LinuxNetDevice(name="lcpytc0")}, cont, host_netns=f"/proc/{host}/ns/net")
    assert moved == {"lcpytd0": "lcpytc0"}
    assert "lcpytd0" not in links(host)
    inside = links(cont)["lcpytc0"]
    assert "UP" in inside["flags"]
    assert global_addrs(inside) == {"10.218.0.5/24", "10.218.1.5/24", "2001:db8:218::5/64"}
    assert not any(a["local"] == "169.254.7.7" for a in inside["addr_info"])


def test_same_name_and_template(pair: tuple[int, int]) -> None:
    host, cont = pair
    hostns = f"/proc/{host}/ns/net"
    assert move_net_devices({"lcpytd2": None}, cont, host_netns=hostns) == {"lcpytd2": "lcpytd2"}
    # "%d": the kernel picks a free number even though lcpytd2 is now taken in the container
    moved = move_net_devices({"lcpytd3": {"name": "lcpytd%d"}}, f"/proc/{cont}/ns/net", host_netns=hostns)
    assert moved["lcpytd3"].startswith("lcpytd") and moved["lcpytd3"] != "lcpytd2"
    assert {"lcpytd2", moved["lcpytd3"]} <= set(links(cont))


def test_nothing_moves_when_one_cannot(pair: tuple[int, int]) -> None:
    host, cont = pair
    hostns = f"/proc/{host}/ns/net"
    with pytest.raises(NetworkError, match=r"^linux\.netDevices\.lcpytnope: no network device lcpytnope"):
        move_net_devices({"lcpytd0": None, "lcpytnope": None}, cont, host_netns=hostns)
    sh(cont, "link add lcpytx type veth peer name lcpyty")
    with pytest.raises(NetworkError, match=r"^linux\.netDevices\.lcpytd0\.name: lcpytx already exists"):
        move_net_devices({"lcpytd2": None, "lcpytd0": {"name": "lcpytx"}}, cont, host_netns=hostns)
    with pytest.raises(NetworkError, match=r"^linux\.netDevices\.lcpytd0\.name: .* at most 15"):
        move_net_devices({"lcpytd0": {"name": "lcpyt-much-too-long"}}, cont, host_netns=hostns)
    assert {"lcpytd0", "lcpytd1", "lcpytd2", "lcpytd3"} <= set(links(host))
    assert set(links(cont)) == {"lo", "lcpytx", "lcpyty"}
    assert global_addrs(links(host)["lcpytd0"]) == {"10.218.0.5/24", "10.218.1.5/24", "2001:db8:218::5/64"}


def test_failed_move_moves_the_others_back(pair: tuple[int, int]) -> None:
    host, cont = pair
    sh(host, "link add lcpytbr9 type bridge")  # bridges are netns-local: the kernel refuses to move them
    with pytest.raises(NetworkError, match=r"^linux\.netDevices\.lcpytbr9: moving lcpytbr9 into the container"):
        move_net_devices({"lcpytd0": {"name": "lcpytc0"}, "lcpytbr9": None}, cont, host_netns=f"/proc/{host}/ns/net")
    assert set(links(cont)) == {"lo"}
    back = links(host)["lcpytd0"]
    assert "UP" in back["flags"]
    assert global_addrs(back) == {"10.218.0.5/24", "10.218.1.5/24", "2001:db8:218::5/64"}
