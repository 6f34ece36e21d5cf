"""``linux.netDevices`` (OCI runtime spec 1.3): move named host interfaces into the container's network
namespace, renamed, with their addresses kept, and up.

The kernel drops an interface's addresses when it changes namespace (and, for IPv6, already when it
goes down, unless keep_addr_on_down is set), so they are read first. As the spec asks, only permanent
(IFA_F_PERMANENT) addresses of global scope (RT_SCOPE_UNIVERSE) are carried over: link-local and
dynamic ones belong to the old place. The move and the rename are one RTM_NEWLINK (IFLA_NET_NS_FD
plus IFLA_IFNAME), as runc does, so the interface never needs a name that is free in both namespaces;
a name with "%d" lets the kernel pick a free one in the container.

Everything is checked before anything moves (every device exists in the host namespace, no target
name is taken in the container's); if a move still fails, the devices already moved are moved back
under their old names with their addresses, so nothing is left half-made.

The spec also says what the runtime must NOT do: move the devices back out before the namespace is
deleted. The kernel returns physical devices to the initial namespace and destroys virtual ones.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from libcontainer_py.network._netns import (
    check_ifname,
    iproute,
    netlink_errors,
    netns_path,
    open_netns,
    same_netns_fd,
)
from libcontainer_py.network.bridge import resolve_host_netns
from libcontainer_py.network.errors import NetworkError

IFA_F_PERMANENT = 0x80
RT_SCOPE_UNIVERSE = 0


@dataclass
class _Move:
    host_name: str
    target: str
    where: str
    index: int = 0
    mac: str | None = None
    was_up: bool = False
    addresses: list[dict[str, Any]] = field(default_factory=list)
    new_name: str | None = None


def _target_name(host_name: str, device: Any) -> str | None:
    """The `name` of a LinuxNetDevice, a {"name": ...} dict, or None."""
    if device is None:
        return None
    if isinstance(device, Mapping):
        name = device.get("name")
    else:
        name = getattr(device, "name", None)
    if name is not None and not isinstance(name, str):
        raise NetworkError(f"linux.netDevices.{host_name}.name", f"must be a string (got {name!r})")
    return name


def _kept_addresses(ipr: Any, index: int) -> list[dict[str, Any]]:
    """The interface's permanent, global-scope addresses, as keyword arguments for ipr.addr('add')."""
    kept = []
    for msg in ipr.addr("dump", index=index):
        flags = msg.get_attr("IFA_FLAGS")
        if flags is None:
            flags = msg["flags"] or 0
        if msg.get("scope") != RT_SCOPE_UNIVERSE or not int(flags) & IFA_F_PERMANENT:
            continue
        entry: dict[str, Any] = {
            "family": msg.get("family"),
            "address": msg.get("address"),
            "prefixlen": msg.get("prefixlen"),
        }
        local = msg.get("local")
        if local is not None and local != entry["address"]:  # point-to-point: keep the peer address too
            entry["address"], entry["local"] = msg.get("address"), local
        broadcast = msg.get("broadcast")
        if broadcast is not None:
            entry["broadcast"] = broadcast
        kept.append(entry)
    return kept


def _restore_addresses(ipr: Any, index: int, addresses: list[dict[str, Any]], what: str, argument: str) -> None:
    for entry in addresses:
        with netlink_errors(argument, f"re-adding {entry['address']}/{entry['prefixlen']} to {what}"):
            ipr.addr("replace", index=index, **entry)


def _find_moved(cont: Any, move: _Move) -> int:
    """The moved interface's index in the container: by its name, or for a %d template, by its MAC
    address among the names the template allows (the kernel chose the number)."""
    if "%d" not in move.target:
        found = cont.link_lookup(ifname=move.target)
        if found:
            return int(found[0])
    else:
        prefix, _, suffix = move.target.partition("%d")
        for link in cont.link("dump"):
            name = link.get("ifname") or ""
            middle = name[len(prefix) : len(name) - len(suffix) if suffix else None]
            if (
                name.startswith(prefix)
                and name.endswith(suffix)
                and middle.isdigit()
                and link.get("address") == move.mac
            ):
                return int(link["index"])
    raise NetworkError(move.where, f"{move.host_name} was moved but cannot be found in the container as {move.target}")


def move_net_devices(
    net_devices: Mapping[str, Any] | None,
    pid_or_netns_path: int | str,
    *,
    host_netns: str | None = None,
) -> dict[str, str]:
    """Move each host interface named by a key of `net_devices` (``Spec.linux.net_devices``: values
    are LinuxNetDevice, {"name": ...} dicts or None) from `host_netns` (None: ours) into the network
    namespace of `pid_or_netns_path`, renamed to the value's `name` (default: the same name), with its
    permanent global addresses, and up. Returns {host name: name in the container}.

    Raises NetworkError naming ``linux.netDevices.<name>`` for a missing device, a name taken in the
    container, or a failed move; devices moved before a failure are moved back."""
    if not net_devices:
        return {}
    moves: list[_Move] = []
    targets: dict[str, str] = {}
    for host_name, device in net_devices.items():
        where = f"linux.netDevices.{host_name}"
        check_ifname(host_name, where)
        target = _target_name(host_name, device) or host_name
        check_ifname(target, f"{where}.name", template=True)
        if "%d" not in target and target in targets:
            raise NetworkError(f"{where}.name", f"{target} is also the name given to {targets[target]}")
        targets[target] = host_name
        moves.append(_Move(host_name, target, where))
    argument = "pid" if isinstance(pid_or_netns_path, int) else "netns"
    cont_path = netns_path(pid_or_netns_path, argument)
    host_path = resolve_host_netns(host_netns)
    cont_fd = open_netns(cont_path, argument)
    host_fd = open_netns(host_path or "/proc/self/ns/net", "host_netns")
    try:
        if same_netns_fd(cont_fd, host_path):
            raise NetworkError(argument, f"{cont_path} is the host's own network namespace, not the container's")
        with iproute(host_path, "host_netns") as host, iproute(cont_path, argument) as cont:
            # Check everything first: the spec says the runtime MUST check the move is possible.
            for move in moves:
                found = host.link_lookup(ifname=move.host_name)
                if not found:
                    raise NetworkError(move.where, f"no network device {move.host_name} in the host namespace")
                move.index = int(found[0])
                if "%d" not in move.target and cont.link_lookup(ifname=move.target):
                    raise NetworkError(
                        f"{move.where}.name", f"{move.target} already exists in the container's network namespace"
                    )
            done: list[_Move] = []
            try:
                for move in moves:
                    _move_one(host, cont, cont_fd, move)
                    done.append(move)
            except BaseException:
                for move in reversed(done):
                    with contextlib.suppress(Exception):
                        _move_back(host, cont, host_fd, move)
                raise
        return {move.host_name: move.new_name or move.target for move in moves}
    finally:
        os.close(cont_fd)
        os.close(host_fd)


def _move_one(host: Any, cont: Any, cont_fd: int, move: _Move) -> None:
    link = host.link("get", index=move.index)[0]
    move.mac = link.get("address")
    move.was_up = bool(link["flags"] & 1)  # IFF_UP
    move.addresses = _kept_addresses(host, move.index)  # before "down": IPv6 ones may go with it
    with netlink_errors(move.where, f"moving {move.host_name} into the container as {move.target}"):
        host.link("set", index=move.index, state="down")
        host.link("set", index=move.index, net_ns_fd=cont_fd, ifname=move.target)
    index = _find_moved(cont, move)
    move.new_name = cont.link("get", index=index)[0].get("ifname")
    _restore_addresses(cont, index, move.addresses, f"{move.new_name} in the container", move.where)
    with netlink_errors(move.where, f"bringing {move.new_name} up in the container"):
        cont.link("set", index=index, state="up")


def _move_back(host: Any, cont: Any, host_fd: int, move: _Move) -> None:
    """Undo _move_one after a later device failed: back to the host under its old name, addresses too."""
    found = cont.link_lookup(ifname=move.new_name or move.target)
    if not found:
        return
    cont.link("set", index=found[0], state="down")
    cont.link("set", index=found[0], net_ns_fd=host_fd, ifname=move.host_name)
    back = host.link_lookup(ifname=move.host_name)
    if back:
        _restore_addresses(host, back[0], move.addresses, move.host_name, move.where)
        if move.was_up:
            host.link("set", index=back[0], state="up")
