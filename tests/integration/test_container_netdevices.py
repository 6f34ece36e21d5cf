"""linux.netDevices (spec 1.3): a host interface moves into the container, renamed, with its
addresses. The "host" here is a network namespace the test makes (pyrunc runs inside
`unshare --net`), so no interface of the machine is touched."""

from __future__ import annotations

import json
import shutil
from typing import Any

import pytest


@pytest.mark.skipif(shutil.which("ip") is None or shutil.which("unshare") is None, reason="needs iproute2 and unshare")
def test_net_device_moves_in_renamed_with_its_address(rt: Any) -> None:
    def edit(c: dict[str, Any]) -> None:
        c["linux"]["netDevices"] = {"lcpyt0": {"name": "eth7"}}

    bundle = rt.bundle(["sh", "-c", "ip -o -4 addr show eth7; ip -o link show lcpyt0 || echo gone"], edit=edit)
    cid = rt.new_id("nd")
    script = (
        "set -e; ip link add lcpyt0 type veth peer name lcpyt1; ip addr add 10.77.0.1/24 dev lcpyt0; "
        f"{' '.join(rt.cmd)} --root {rt.root} run --bundle {bundle} {cid}; "
        "ip -o link show lcpyt0 >/dev/null 2>&1 && echo host-still-has-it || echo host-lost-it"
    )
    r = rt.helper_run(["unshare", "--net", "sh", "-c", script])
    assert r.rc == 0, r
    lines = r.out.splitlines()
    assert "eth7" in lines[0] and "inet 10.77.0.1/24" in lines[0], r
    assert "gone" in lines[1]  # not under its old name in the container
    assert lines[-1] == "host-lost-it"  # moved, not copied (its veth peer died with the container)


def test_net_devices_need_a_new_network_namespace(rt: Any) -> None:
    def edit(c: dict[str, Any]) -> None:
        c["linux"]["namespaces"] = [ns for ns in c["linux"]["namespaces"] if ns["type"] != "network"]
        c["linux"]["netDevices"] = {"lcpyt9": {}}

    bundle = rt.bundle(["true"], edit=edit)
    r = rt.run(bundle)
    assert r.rc == 1 and "linux.netDevices" in r.err and len(r.err.strip().splitlines()) == 1, r
    assert rt.state_dirs() == []
    assert json.loads((bundle / "config.json").read_text())["linux"]["netDevices"] == {"lcpyt9": {}}
