"""A container's link to the bridge: a veth pair, one end on the bridge in the host namespace, the
other in the container's network namespace as `eth0`, with a leased address and a default route.

    connect("web", pid)          ->  Attachment(ip="10.88.0.2", gateway="10.88.0.1", veth_host="pyv...")
    disconnect("web")            ->  the veth and the lease are gone; the bridge stays for the others

Ordering, and why:
  1. Validate every argument (names, subnet, MTU, the pid / netns path) before touching anything.
  2. Take the bridge's lease lock and hold it to the end: connects and disconnects on one bridge are
     serialised, so two connects can neither lease one address nor race to create the bridge.
  3. Lease (the container's existing lease if it has one: that is what makes connect idempotent).
  4. Bridge, then veth: the peer is created directly inside the container's namespace, under its final
     name (RTM_NEWLINK with the peer's IFLA_NET_NS_FD), so there is no window where a temporary name
     sits in the host namespace and no rename is needed.
  5. Configure the container side: lo up, address, MTU, up, default route via the gateway.
  6. Only then write the lease file. On any failure the veth this call made is deleted (which also
     removes the peer) and the lease is not written, so nothing is left half-made.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import ipaddress
import os
from dataclasses import dataclass
from typing import Any

from libcontainer_py.network._netns import (
    check_ifname,
    iproute,
    netlink_code,
    netlink_errors,
    netns_path,
    open_netns,
    same_netns_fd,
)
from libcontainer_py.network.bridge import check_mtu, ensure_bridge, resolve_host_netns
from libcontainer_py.network.errors import NetworkError
from libcontainer_py.network.ipam import DEFAULT_STATE_ROOT, AddressManager, Lease, gateway_of, parse_subnet

DEFAULT_BRIDGE = "pyrunc0"
DEFAULT_SUBNET = "10.88.0.0/16"
DEFAULT_IFNAME = "eth0"
VETH_PREFIX = "pyv"


@dataclass(frozen=True)
class Attachment:
    """Where a container sits on a bridge."""

    container_id: str
    ip: str
    prefixlen: int
    gateway: str
    bridge: str
    veth_host: str
    ifname: str
    mtu: int | None = None

    @property
    def cidr(self) -> str:
        """The container's address with its prefix length, e.g. '10.88.0.2/16'."""
        return f"{self.ip}/{self.prefixlen}"


def veth_name(container_id: str, bridge: str) -> str:
    """The host end's name: 'pyv' + 12 hex digits of a hash of (bridge, container id), 15 bytes, the
    most Linux allows. Stable, so a re-connect finds the same veth and a disconnect can find it even
    without a lease; per bridge, so one container can sit on two bridges."""
    digest = hashlib.sha256(f"{bridge}\0{container_id}".encode()).hexdigest()
    return VETH_PREFIX + digest[:12]


def _check_container_id(container_id: object) -> str:
    if not isinstance(container_id, str) or not container_id:
        raise NetworkError("container_id", f"a container id must be a non-empty string (got {container_id!r})")
    return container_id


def _paired(host: Any, host_index: int, cont: Any, cont_index: int) -> bool:
    """Whether host veth `host_index` and container interface `cont_index` are the two ends of one pair:
    each one's IFLA_LINK (the peer's ifindex, in the peer's namespace) names the other."""
    host_link = host.link("get", index=host_index)[0]
    cont_link = cont.link("get", index=cont_index)[0]
    return bool(host_link.get("link") == cont_index and cont_link.get("link") == host_index)


def _configure_container_side(
    cont: Any, ifname: str, lease: Lease, subnet: ipaddress.IPv4Network, mtu: int, gateway: str
) -> None:
    """lo up; the leased address on `ifname` (once); MTU; up; default route via the gateway."""
    with netlink_errors("pid", "bringing lo up in the container"):
        lo = cont.link_lookup(ifname="lo")
        if lo:
            cont.link("set", index=lo[0], state="up")
    found = cont.link_lookup(ifname=ifname)
    if not found:
        raise NetworkError("ifname", f"{ifname} is missing from the container's network namespace")
    index = found[0]
    have = {(a.get("address"), a.get("prefixlen")) for a in cont.addr("dump", index=index, family=2)}
    if (lease.ip, subnet.prefixlen) not in have:
        with netlink_errors("pid", f"adding {lease.ip}/{subnet.prefixlen} to {ifname} in the container"):
            cont.addr("add", index=index, address=lease.ip, prefixlen=subnet.prefixlen)
    with netlink_errors("pid", f"bringing {ifname} up in the container"):
        cont.link("set", index=index, mtu=mtu, state="up")
    with netlink_errors("pid", f"adding the default route via {gateway} in the container"):
        cont.route("replace", dst="0.0.0.0/0", gateway=gateway, oif=index)


def connect(
    container_id: str,
    pid_or_netns_path: int | str,
    bridge: str = DEFAULT_BRIDGE,
    subnet: str | ipaddress.IPv4Network = DEFAULT_SUBNET,
    *,
    state_root: str | os.PathLike[str] = DEFAULT_STATE_ROOT,
    mtu: int | None = None,
    host_netns: str | None = None,
    ifname: str = DEFAULT_IFNAME,
) -> Attachment:
    """Attach a container to `bridge`: make or reuse the bridge (gateway = the subnet's first address)
    in `host_netns` (None: ours), a veth pair whose container end is `ifname` in the container's
    network namespace (a pid, a /proc/PID/ns/net-like path, or an `ip netns` name), an address leased
    from `subnet` in `<state_root>/<bridge>.json`, a default route via the gateway, lo up, and the MTU
    (`mtu`, else the bridge's). Calling it again for the same container returns the same address.

    Raises NetworkError naming the argument at fault; on failure nothing it made is left behind."""
    _check_container_id(container_id)
    check_ifname(bridge, "bridge")
    check_ifname(ifname, "ifname")
    net = parse_subnet(subnet)
    check_mtu(mtu)
    argument = "pid" if isinstance(pid_or_netns_path, int) else "netns"
    cont_path = netns_path(pid_or_netns_path, argument)
    host_path = resolve_host_netns(host_netns)
    cont_fd = open_netns(cont_path, argument)  # held: the namespace cannot vanish under us
    try:
        if same_netns_fd(cont_fd, host_path):
            raise NetworkError(argument, f"{cont_path} is the host's own network namespace, not the container's")
        gateway = str(gateway_of(net))
        veth = veth_name(container_id, bridge)
        ipam = AddressManager(state_root, bridge, net)
        with ipam.locked() as table:
            lease = table.allocate(container_id, veth=veth, ifname=ifname)
            with iproute(host_path, "host_netns") as host, iproute(cont_path, argument) as cont:
                made_bridge = False
                made_veth = False
                try:
                    br_index, br_mtu, made_bridge = ensure_bridge(host, bridge, net, mtu)
                    use_mtu = mtu if mtu is not None else br_mtu
                    made_veth = _ensure_veth(host, cont, cont_fd, veth, ifname)
                    host_index = host.link_lookup(ifname=veth)[0]
                    with netlink_errors("bridge", f"attaching {veth} to bridge {bridge}"):
                        host.link("set", index=host_index, master=br_index, mtu=use_mtu, state="up")
                    _configure_container_side(cont, ifname, lease, net, use_mtu, gateway)
                    table.save()
                except BaseException:
                    if made_veth:
                        with contextlib.suppress(Exception):
                            for index in host.link_lookup(ifname=veth):
                                host.link("del", index=index)
                    if made_bridge:
                        with contextlib.suppress(Exception):
                            for index in host.link_lookup(ifname=bridge):
                                host.link("del", index=index)
                    raise
        return Attachment(
            container_id=container_id,
            ip=lease.ip,
            prefixlen=net.prefixlen,
            gateway=gateway,
            bridge=bridge,
            veth_host=veth,
            ifname=ifname,
            mtu=use_mtu,
        )
    finally:
        os.close(cont_fd)


def _ensure_veth(host: Any, cont: Any, cont_fd: int, veth: str, ifname: str) -> bool:
    """Reuse the pair if `veth` (host) and `ifname` (container) are already its two ends; otherwise
    make it. Returns whether it was made here."""
    host_found = host.link_lookup(ifname=veth)
    cont_found = cont.link_lookup(ifname=ifname)
    if host_found and cont_found and _paired(host, host_found[0], cont, cont_found[0]):
        return False
    if cont_found:
        raise NetworkError("ifname", f"{ifname} already exists in the container's network namespace")
    if host_found:
        # The host end of an earlier attachment whose container is gone (its peer went with the
        # namespace, or lives in another one): it is ours by name, and stale.
        with netlink_errors("bridge", f"deleting stale veth {veth}"):
            host.link("del", index=host_found[0])
    with netlink_errors("bridge", f"creating veth pair {veth} / {ifname}"):
        host.link("add", ifname=veth, kind="veth", peer={"ifname": ifname, "net_ns_fd": cont_fd})
    return True


def disconnect(
    container_id: str,
    bridge: str = DEFAULT_BRIDGE,
    *,
    state_root: str | os.PathLike[str] = DEFAULT_STATE_ROOT,
    host_netns: str | None = None,
) -> Attachment | None:
    """Detach a container: delete its host-side veth (the kernel deletes the peer with it) and release
    its lease. The bridge stays. Needs no pid (it runs as a poststop hook, when the container is gone).
    Returns what was released, or None if the container had no lease (disconnect is idempotent)."""
    _check_container_id(container_id)
    check_ifname(bridge, "bridge")
    host_path = resolve_host_netns(host_netns)
    ipam = AddressManager(state_root, bridge)
    with ipam.locked() as table:
        lease = table.get(container_id)
        veth = lease.veth if lease is not None else veth_name(container_id, bridge)
        with iproute(host_path, "host_netns") as host:
            for index in host.link_lookup(ifname=veth):
                try:
                    with netlink_errors("bridge", f"deleting veth {veth}"):
                        host.link("del", index=index)
                except NetworkError as exc:
                    if netlink_code(exc) != errno.ENODEV:  # it went with its namespace meanwhile
                        raise
        table.release(container_id)
        table.save()
        if lease is None or table.subnet is None:
            return None
        return Attachment(
            container_id=container_id,
            ip=lease.ip,
            prefixlen=table.subnet.prefixlen,
            gateway=str(gateway_of(table.subnet)),
            bridge=bridge,
            veth_host=lease.veth,
            ifname=lease.ifname,
        )


def attachment(
    container_id: str, bridge: str = DEFAULT_BRIDGE, *, state_root: str | os.PathLike[str] = DEFAULT_STATE_ROOT
) -> Attachment | None:
    """The container's lease on `bridge` as an Attachment (from the lease file only), or None."""
    _check_container_id(container_id)
    check_ifname(bridge, "bridge")
    with AddressManager(state_root, bridge).locked() as table:
        lease = table.get(container_id)
        if lease is None or table.subnet is None:
            return None
        return Attachment(
            container_id=container_id,
            ip=lease.ip,
            prefixlen=table.subnet.prefixlen,
            gateway=str(gateway_of(table.subnet)),
            bridge=bridge,
            veth_host=lease.veth,
            ifname=lease.ifname,
        )
