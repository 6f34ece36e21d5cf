"""The `pyrunc-netns` hook end to end: fed an OCI state JSON whose pid is a sleeping process in a
namespace the test made, with the bridge in another such namespace (`--host-netns`)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from libcontainer_py.network import veth_name

pytestmark = [
    pytest.mark.root,
    pytest.mark.skipif(shutil.which("unshare") is None or shutil.which("nsenter") is None, reason="needs util-linux"),
    pytest.mark.skipif(shutil.which("ip") is None, reason="needs iproute2's ip to observe"),
]

BRIDGE = "lcpytbr1"
SUBNET = "10.216.0.0/24"
SCRIPT = Path(sys.executable).parent / "pyrunc-netns"
HOOK = [str(SCRIPT)] if SCRIPT.exists() else [sys.executable, "-m", "libcontainer_py.network"]


@pytest.fixture
def world(netns_holders: Any) -> Iterator[tuple[int, int, str]]:
    """(host pid, container pid, state root): two sleeping processes in new netns, a temp state root."""
    state_root = tempfile.mkdtemp(prefix="lcpyt-state-")
    try:
        host, cont = netns_holders.new(), netns_holders.new()
        yield host.pid, cont.pid, state_root
    finally:
        netns_holders.close()
        shutil.rmtree(state_root, ignore_errors=True)


def hook(args: list[str], state: dict[str, Any] | str | None) -> subprocess.CompletedProcess[str]:
    text = state if isinstance(state, str) or state is None else json.dumps(state)
    return subprocess.run([*HOOK, *args], input=text or "", capture_output=True, text=True, timeout=60)


def link_names(pid: int) -> set[str]:
    out = subprocess.run(
        ["nsenter", f"--net=/proc/{pid}/ns/net", "ip", "-j", "addr"], check=True, capture_output=True, text=True
    ).stdout
    return {link["ifname"] for link in json.loads(out)}


def addrs(pid: int, ifname: str) -> list[str]:
    out = subprocess.run(
        ["nsenter", f"--net=/proc/{pid}/ns/net", "ip", "-j", "-4", "addr", "show", ifname],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return [f"{a['local']}/{a['prefixlen']}" for link in json.loads(out) for a in link["addr_info"]]


def test_hook_up_then_down(world: tuple[int, int, str]) -> None:
    host, cont, root = world
    common = ["--bridge", BRIDGE, "--subnet", SUBNET, "--state-root", root, "--host-netns", f"/proc/{host}/ns/net"]
    state = {"ociVersion": "1.3.0", "id": "hooked", "status": "creating", "pid": cont, "bundle": "/nonexistent"}

    up = hook(["up", *common], state)
    assert (up.returncode, up.stdout, up.stderr) == (0, "", "")
    assert addrs(cont, "eth0") == ["10.216.0.2/24"]
    assert addrs(host, BRIDGE) == ["10.216.0.1/24"]
    veth = veth_name("hooked", BRIDGE)
    assert veth in link_names(host)

    again = hook(["up", *common], state)  # a retried hook is harmless
    assert again.returncode == 0, again.stderr
    assert addrs(cont, "eth0") == ["10.216.0.2/24"]

    stopped = {"ociVersion": "1.3.0", "id": "hooked", "status": "stopped", "bundle": "/nonexistent"}
    down = hook(["down", *common], stopped)
    assert (down.returncode, down.stderr) == (0, "")
    assert veth not in link_names(host) and BRIDGE in link_names(host)
    assert "eth0" not in link_names(cont)
    assert json.loads(Path(root, f"{BRIDGE}.json").read_text())["leases"] == {}


def test_hook_failures_are_one_line_and_leave_nothing(world: tuple[int, int, str], netns_holders: Any) -> None:
    host, cont, root = world
    common = ["--bridge", BRIDGE, "--subnet", SUBNET, "--state-root", root, "--host-netns", f"/proc/{host}/ns/net"]
    gone = subprocess.Popen(["true"])
    gone.wait()
    cases: list[tuple[list[str], dict[str, Any] | str, str]] = [
        (["up", *common], {"id": "x", "status": "creating", "pid": gone.pid, "bundle": "/"}, "stdin: pid: pid "),
        (["up", *common], "", "stdin: no container state"),
        (["up", *common], "{not json", "stdin: the container state is not valid JSON"),
        (["up", *common], {"id": "x", "status": "stopped", "bundle": "/"}, 'stdin: the container state has no "pid"'),
        (["down", *common], "", "stdin: no container state"),
        (["up", *common[:2], "--subnet", "10.216.0.0/33", *common[4:]], {"id": "x", "pid": cont}, "--subnet: "),
        (["up", "--bridge", "lcpyt-way-too-long0", *common[2:]], {"id": "x", "pid": cont}, "--bridge: "),
        (["up", *common, "--mtu", "12"], {"id": "x", "pid": cont}, "--mtu: MTU must be"),
    ]
    for argv, state, expected in cases:
        result = hook(argv, state)
        assert result.returncode == 1, (argv, result)
        assert result.stdout == ""
        assert result.stderr.count("\n") == 1 and expected in result.stderr, (expected, result.stderr)
    assert link_names(host) == {"lo"} and link_names(cont) == {"lo"}

    # exhausted: one container fits a /30; the second's up fails and leaves no veth, no lease
    small = [*common[:2], "--subnet", "10.217.0.0/30", *common[4:]]
    ok = hook(["up", *small], {"id": "first", "pid": cont, "status": "creating", "bundle": "/"})
    assert ok.returncode == 0, ok.stderr
    other = netns_holders.new()  # killed with the world's two at teardown
    full = hook(["up", *small], {"id": "second", "pid": other.pid, "status": "creating", "bundle": "/"})
    assert full.returncode == 1
    assert full.stderr.startswith("pyrunc-netns up: --subnet: 10.217.0.0/30 is exhausted")
    assert link_names(other.pid) == {"lo"}
    assert veth_name("second", BRIDGE) not in link_names(host)
    assert set(json.loads(Path(root, f"{BRIDGE}.json").read_text())["leases"]) == {"first"}
    assert hook(["down", *small], {"id": "first", "status": "stopped", "bundle": "/"}).returncode == 0


@pytest.mark.runc
@pytest.mark.skipif(shutil.which("runc") is None, reason="needs runc (apt-get install runc)")
@pytest.mark.skipif(shutil.which("busybox") is None, reason="needs busybox-static for the bundle")
def test_hooks_under_runc(world: tuple[int, int, str]) -> None:
    """add_network_hooks' config, run by runc: runc feeds the state on stdin, as any runtime must."""
    from libcontainer_py.bundle import make_busybox_bundle
    from libcontainer_py.network import add_network_hooks
    from libcontainer_py.spec.defaults import default_dict

    host, _, root = world
    work = tempfile.mkdtemp(prefix="lcpyt-runc-")
    os.chmod(work, 0o755)
    cid = "lcpyt-net-runc"
    try:
        config = default_dict()
        config["process"]["args"] = ["sh", "-c", "ip -4 addr show eth0; ip route"]
        config["process"]["terminal"] = False
        add_network_hooks(config, BRIDGE, SUBNET, state_root=root, host_netns=f"/proc/{host}/ns/net")
        bundle = Path(work, "bundle")
        make_busybox_bundle(bundle, args=config["process"]["args"], config=config, terminal=False)
        result = subprocess.run(
            ["runc", "--root", f"{work}/state", "run", "-b", str(bundle), cid],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 0, result.stderr
        assert "inet 10.216.0.2/24" in result.stdout and "default via 10.216.0.1 dev eth0" in result.stdout
        # poststop ran `down`: the lease is released, the bridge stays, no veth is left
        assert json.loads(Path(root, f"{BRIDGE}.json").read_text())["leases"] == {}
        assert link_names(host) == {"lo", BRIDGE}
    finally:
        subprocess.run(["runc", "--root", f"{work}/state", "delete", "-f", cid], capture_output=True)
        shutil.rmtree(work, ignore_errors=True)
