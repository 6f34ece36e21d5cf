"""The talk, step 4: give the container a network with a prestart hook (runc itself does no networking).

    sudo .venv/bin/python examples/04_network_hook.py [--keep DIR]

The hook is `pyrunc-netns`: `up` (prestart) makes a bridge with a gateway address, a veth pair with
one end in the container's network namespace as eth0, an address leased from the subnet and a
default route; `down` (poststop) removes the veth and releases the lease.

The "host" side of the bridge is not this machine: it is a network namespace this script makes
(`unshare --net sleep infinity`, killed by pid at the end), passed to the hook as --host-netns. So
the bridge, the veth's host end and the private subnet exist only inside it, and go with it. Run as root.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

from _talk import Talk, expect, parse_args, show

import libcontainer_py as lc
from libcontainer_py.network import veth_name
from libcontainer_py.spec import SpecBuilder

BRIDGE, SUBNET, GATEWAY = "talkbr0", "10.203.0.0/24", "10.203.0.1"


def netns_holder() -> subprocess.Popen[bytes]:
    """A process sleeping in a new network namespace; returned once it is in it."""
    ours = os.readlink("/proc/self/ns/net")
    proc = subprocess.Popen(["unshare", "--net", "sleep", "infinity"])
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            if os.readlink(f"/proc/{proc.pid}/ns/net") != ours:
                return proc
        except FileNotFoundError:
            break
        time.sleep(0.005)
    proc.kill()
    proc.wait()
    raise RuntimeError("unshare --net did not start a network namespace")


def links(pid: int) -> list[str]:
    """Interface names in the network namespace of `pid`."""
    cmd = ["nsenter", f"--net=/proc/{pid}/ns/net", "ip", "-o", "link"]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return [line.split(":")[1].strip().split("@")[0] for line in out.splitlines()]


def main() -> int:
    opts = parse_args(__doc__)
    talk = Talk(opts.keep)
    host = None
    try:
        host = netns_holder()
        host_netns = f"/proc/{host.pid}/ns/net"
        print(f"$ unshare --net sleep infinity &   # the bridge's side: pid {host.pid}, {host_netns}")
        # 1. A config that pings the gateway (ping needs CAP_NET_RAW), with the two hooks.
        # (`pyrunc generate --network talkbr0:10.203.0.0/24 --network-host-netns PATH` adds the same
        # hooks as createRuntime ones, with the leases under /run/pyrunc/network.)
        config = (
            SpecBuilder.default()
            .args("sh", "-c", f"ip -4 addr show eth0; ip route; ping -c 1 -W 2 {GATEWAY}")
            .add_capabilities("NET_RAW")
            .with_network(BRIDGE, SUBNET, kind="prestart", host_netns=host_netns, state_root=str(talk.dir / "leases"))
            .to_dict()
        )
        bundle = lc.make_busybox_bundle(talk.dir / "busybox", args=config["process"]["args"], config=config)
        print("$ jq -c '.hooks[][] | .args[1:]' config.json")
        for kind in ("prestart", "poststop"):
            print(json.dumps(config["hooks"][kind][0]["args"][1:]), f"  # {kind}")
        # 2. Run it: the prestart hook wires eth0 before the shell starts.
        out = talk.pyrunc("run", "net", cwd=bundle).stdout
        expect(f"inet {SUBNET[:-4]}2/24" in out, "eth0 did not get the subnet's first free address")
        expect(f"default via {GATEWAY} dev eth0" in out, "no default route via the bridge")
        expect("1 packets received" in out, "the container could not ping the bridge")
        # 3. The poststop hook ran: the veth's host end and the lease are gone; the bridge stays.
        print(f"$ nsenter --net={host_netns} ip -o link | cut -d: -f2\n{' '.join(links(host.pid))}")
        leases = json.loads((talk.dir / "leases" / f"{BRIDGE}.json").read_text())["leases"]
        print(f"$ jq -c .leases {talk.dir.name}/leases/{BRIDGE}.json\n{json.dumps(leases)}")
        expect(veth_name("net", BRIDGE) not in links(host.pid) and BRIDGE in links(host.pid), "poststop: veth left")
        expect(leases == {}, f"poststop did not release the lease: {leases}")
        # 4. The library runs the same hooks.
        spec = SpecBuilder.load(bundle).args("sh", "-c", "ip -4 addr show eth0 | grep inet").build()
        result = lc.run(bundle, spec=spec, root=talk.root, container_id="net-lib", capture_output=True)
        show(">>> lc.run(bundle, spec=spec, capture_output=True).stdout", result.stdout)
        expect(result.returncode == 0 and b"10.203.0.2/24" in (result.stdout or b""), f"library run: {result}")
        expect(not os.path.exists(f"/sys/class/net/{BRIDGE}"), "the bridge leaked into this machine's namespace")
        print("ok: the prestart hook gave the container eth0, an address and a route; poststop cleaned up")
        return 0
    finally:
        talk.close()
        if host is not None:  # the bridge dies with its namespace
            host.kill()
            host.wait()


if __name__ == "__main__":
    sys.exit(main())
