"""Networking for containers, on pyroute2 (runc itself does none; this is what its users do in hooks).

- ``connect(container_id, pid_or_netns_path, bridge, subnet, ...) -> Attachment``: a bridge with the
  subnet's gateway address, a veth pair with `eth0` in the container, a leased address, a default route.
- ``disconnect(container_id, bridge, ...)``: delete the veth, release the lease; the bridge stays.
- ``setup_bridge`` / ``remove_bridge``: the bridge alone.
- ``move_net_devices(spec.linux.net_devices, pid)``: ``linux.netDevices`` (spec 1.3).
- ``AddressManager``: the lease files (``<state_root>/<bridge>.json``, flock-ed).
- ``add_network_hooks(config, bridge, subnet)``: the ``pyrunc-netns`` hooks in a config.

Every function takes ``host_netns`` (a netns path or name; None: this process's) for the namespace that
holds the bridge. Importing this package does not import pyroute2 (~200 ms): the functions that talk
netlink import it when called.
"""

from __future__ import annotations

from libcontainer_py.network.bridge import remove_bridge, setup_bridge
from libcontainer_py.network.errors import NetworkError
from libcontainer_py.network.hook import add_network_hooks, hook_command
from libcontainer_py.network.ipam import DEFAULT_STATE_ROOT, AddressManager, Lease, parse_subnet
from libcontainer_py.network.netdevices import move_net_devices
from libcontainer_py.network.veth import (
    DEFAULT_BRIDGE,
    DEFAULT_SUBNET,
    Attachment,
    attachment,
    connect,
    disconnect,
    veth_name,
)

__all__ = [
    "DEFAULT_BRIDGE",
    "DEFAULT_STATE_ROOT",
    "DEFAULT_SUBNET",
    "AddressManager",
    "Attachment",
    "Lease",
    "NetworkError",
    "add_network_hooks",
    "attachment",
    "connect",
    "disconnect",
    "hook_command",
    "move_net_devices",
    "parse_subnet",
    "remove_bridge",
    "setup_bridge",
    "veth_name",
]
