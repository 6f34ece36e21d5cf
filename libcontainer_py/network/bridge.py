"""The host side: a Linux bridge carrying the subnet's gateway address.

All functions take `host_netns` (a netns path or an `ip netns` name; None: this process's own) so that
the "host" can itself be a namespace, which is how the tests keep the machine's interfaces untouched.
pyroute2 is imported inside the functions (through `_netns.iproute`), never at module import.
"""

from __future__ import annotations

import errno
import ipaddress
from typing import Any

from libcontainer_py.network._netns import check_ifname, iproute, netlink_code, netlink_errors, netns_path
from libcontainer_py.network.errors import NetworkError
from libcontainer_py.network.ipam import gateway_of, parse_subnet

MIN_MTU = 68
MAX_MTU = 65535


def check_mtu(mtu: object, argument: str = "mtu") -> int | None:
    if mtu is None:
        return None
    if isinstance(mtu, bool) or not isinstance(mtu, int) or not MIN_MTU <= mtu <= MAX_MTU:
        raise NetworkError(argument, f"MTU must be an integer from {MIN_MTU} to {MAX_MTU} (got {mtu!r})")
    return mtu


def resolve_host_netns(host_netns: str | None) -> str | None:
    """None stays None (our own namespace); a name or path is checked to exist."""
    return None if host_netns is None else netns_path(host_netns, "host_netns")


def link_kind(link: Any) -> str | None:
    kind = link.get_nested("IFLA_LINKINFO", "IFLA_INFO_KIND")
    return str(kind) if kind is not None else None


def ensure_bridge(ipr: Any, name: str, subnet: ipaddress.IPv4Network, mtu: int | None) -> tuple[int, int, bool]:
    """Make or reuse bridge `name` with the gateway address, up. Returns (ifindex, its MTU, created).

    Runs with the caller's IPRoute in the host namespace. A concurrent creator (EEXIST) is fine: the
    callers serialise on the lease lock, but a person or another tool may race us."""
    created = False
    found = ipr.link_lookup(ifname=name)
    if not found:
        try:
            with netlink_errors("bridge", f"creating bridge {name}"):
                ipr.link("add", ifname=name, kind="bridge")
            created = True
        except NetworkError as exc:
            if netlink_code(exc) != errno.EEXIST:
                raise
        found = ipr.link_lookup(ifname=name)
        if not found:
            raise NetworkError("bridge", f"bridge {name} vanished right after it was created")
    index = int(found[0])
    link = ipr.link("get", index=index)[0]
    kind = link_kind(link)
    if kind != "bridge":
        raise NetworkError("bridge", f"{name} exists but is a {kind or 'plain'} interface, not a bridge")
    gateway = str(gateway_of(subnet))
    have = {(a.get("address"), a.get("prefixlen")) for a in ipr.addr("dump", index=index, family=2)}
    if (gateway, subnet.prefixlen) not in have:
        try:
            with netlink_errors("bridge", f"adding {gateway}/{subnet.prefixlen} to bridge {name}"):
                ipr.addr("add", index=index, address=gateway, prefixlen=subnet.prefixlen)
        except NetworkError as exc:
            if netlink_code(exc) != errno.EEXIST:
                raise
    with netlink_errors("bridge", f"bringing bridge {name} up"):
        if mtu is not None and created:
            ipr.link("set", index=index, mtu=mtu, state="up")
        else:
            ipr.link("set", index=index, state="up")
    current_mtu = int(ipr.link("get", index=index)[0].get("mtu"))
    return index, current_mtu, created


def setup_bridge(
    name: str = "pyrunc0",
    subnet: str | ipaddress.IPv4Network = "10.88.0.0/16",
    *,
    host_netns: str | None = None,
    mtu: int | None = None,
) -> str:
    """Make (or reuse) the bridge `name` in `host_netns` with the subnet's gateway address (its first
    host address), up. Returns the gateway address, e.g. '10.88.0.1'. `mtu` applies when the bridge is
    made here; an existing bridge keeps its MTU."""
    check_ifname(name, "bridge")
    net = parse_subnet(subnet)
    check_mtu(mtu)
    host = resolve_host_netns(host_netns)
    with iproute(host, "host_netns") as ipr:
        ensure_bridge(ipr, name, net, mtu)
    return str(gateway_of(net))


def remove_bridge(name: str = "pyrunc0", *, host_netns: str | None = None) -> bool:
    """Delete the bridge (its ports are detached by the kernel, not deleted). Returns whether it
    existed. `disconnect` never does this: the bridge is shared; call it when the last one is gone."""
    check_ifname(name, "bridge")
    host = resolve_host_netns(host_netns)
    with iproute(host, "host_netns") as ipr:
        found = ipr.link_lookup(ifname=name)
        if not found:
            return False
        link = ipr.link("get", index=found[0])[0]
        if link_kind(link) != "bridge":
            raise NetworkError("bridge", f"{name} is not a bridge; not deleting it")
        with netlink_errors("bridge", f"deleting bridge {name}"):
            ipr.link("del", index=found[0])
    return True
