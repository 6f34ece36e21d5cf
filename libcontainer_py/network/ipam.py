"""A small address manager: IPv4 leases for the containers on one bridge, in a JSON file.

The file is ``<state_root>/<bridge>.json``::

    {"version": 1, "bridge": "pyrunc0", "subnet": "10.88.0.0/16", "gateway": "10.88.0.1",
     "leases": {"web": {"ip": "10.88.0.2", "veth": "pyv1a2b3c4d5e6f", "ifname": "eth0"}}}

Every read-modify-write happens under an exclusive flock(2) on ``<state_root>/<bridge>.lock`` (a file
of its own, because the JSON is replaced by rename and a lock on a replaced inode would lock nothing),
and the JSON is written to a temporary file, fsynced and renamed over, so a crash leaves the old file or
the new one, never half of one. Addresses are allocated lowest-free; the network address, the gateway
(the first host address, which the bridge carries) and the broadcast address are never leased.

No pyroute2 here: this module is imported by the hook's argument parsing and by unit tests.
"""

from __future__ import annotations

import contextlib
import fcntl
import ipaddress
import json
import os
import tempfile
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from libcontainer_py.network.errors import NetworkError

DEFAULT_STATE_ROOT = "/run/pyrunc/network"
FORMAT_VERSION = 1
#: The smallest subnet with room for a gateway and one container (plus network and broadcast).
MAX_PREFIXLEN = 30


def parse_subnet(text: object, argument: str = "subnet") -> ipaddress.IPv4Network:
    """'10.88.0.0/16' -> IPv4Network, or a NetworkError saying what is wrong with it."""
    if isinstance(text, ipaddress.IPv4Network):
        net = text
    else:
        if not isinstance(text, str) or not text.strip():
            raise NetworkError(argument, f"expected an IPv4 subnet like 10.88.0.0/16, got {text!r}")
        if "/" not in text:
            raise NetworkError(argument, f"{text!r} has no prefix length (write it like 10.88.0.0/16)")
        try:
            parsed = ipaddress.ip_network(text.strip(), strict=False)
        except ValueError as exc:
            raise NetworkError(argument, f"{text!r} is not a valid subnet ({exc})") from None
        if not isinstance(parsed, ipaddress.IPv4Network):
            raise NetworkError(argument, f"{text!r} is an IPv6 subnet; only IPv4 is supported")
        if parsed.network_address != ipaddress.ip_interface(text.strip()).ip:
            raise NetworkError(argument, f"{text!r} has host bits set (did you mean {parsed}?)")
        net = parsed
    if net.prefixlen > MAX_PREFIXLEN:
        raise NetworkError(
            argument,
            f"{net} is too small: a bridge subnet needs at least a /{MAX_PREFIXLEN} "
            "(network, gateway, one container, broadcast)",
        )
    return net


def gateway_of(subnet: ipaddress.IPv4Network) -> ipaddress.IPv4Address:
    """The bridge's address: the subnet's first host address."""
    return subnet.network_address + 1


def capacity(subnet: ipaddress.IPv4Network) -> int:
    """How many containers fit: all addresses but network, gateway and broadcast."""
    return subnet.num_addresses - 3


@dataclass(frozen=True)
class Lease:
    """One container's address on a bridge, with the names needed to tear it down."""

    container_id: str
    ip: str
    veth: str
    ifname: str


class LeaseTable:
    """The leases of one bridge, loaded under the lock. Mutate with allocate/release, then save()."""

    def __init__(self, path: Path, bridge: str, subnet: ipaddress.IPv4Network | None, leases: dict[str, Lease]):
        self.path = path
        self.bridge = bridge
        self.subnet = subnet
        self.leases = leases
        self.dirty = False

    @property
    def gateway(self) -> ipaddress.IPv4Address | None:
        return gateway_of(self.subnet) if self.subnet is not None else None

    def get(self, container_id: str) -> Lease | None:
        return self.leases.get(container_id)

    def allocate(self, container_id: str, veth: str, ifname: str) -> Lease:
        """The container's lease: its existing one (same address again: idempotent), or a new one with
        the lowest free address. Raises NetworkError("subnet") when the subnet is exhausted."""
        existing = self.leases.get(container_id)
        if existing is not None:
            if (existing.veth, existing.ifname) != (veth, ifname):
                existing = Lease(container_id, existing.ip, veth, ifname)
                self.leases[container_id] = existing
                self.dirty = True
            return existing
        if self.subnet is None:
            raise NetworkError("subnet", f"no subnet known for bridge {self.bridge} (give one)")
        used = {ipaddress.IPv4Address(lease.ip) for lease in self.leases.values()}
        used.add(gateway_of(self.subnet))
        for address in self.subnet.hosts():  # hosts() leaves out the network and broadcast addresses
            if address not in used:
                lease = Lease(container_id, str(address), veth, ifname)
                self.leases[container_id] = lease
                self.dirty = True
                return lease
        raise NetworkError(
            "subnet",
            f"{self.subnet} is exhausted: all {capacity(self.subnet)} container addresses on bridge "
            f"{self.bridge} are leased (see {self.path})",
        )

    def release(self, container_id: str) -> Lease | None:
        """Forget the container's lease; returns it (None if it had none)."""
        lease = self.leases.pop(container_id, None)
        if lease is not None:
            self.dirty = True
        return lease

    def to_json(self) -> dict[str, Any]:
        leases = {}
        for cid, lease in sorted(self.leases.items(), key=lambda kv: ipaddress.IPv4Address(kv[1].ip)):
            entry = asdict(lease)
            del entry["container_id"]
            leases[cid] = entry
        return {
            "version": FORMAT_VERSION,
            "bridge": self.bridge,
            "subnet": str(self.subnet) if self.subnet is not None else None,
            "gateway": str(self.gateway) if self.gateway is not None else None,
            "leases": leases,
        }

    def save(self) -> None:
        """Write atomically (temporary file, fsync, rename), only if something changed."""
        if not self.dirty:
            return
        data = json.dumps(self.to_json(), indent=2, sort_keys=False) + "\n"
        fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", dir=self.path.parent)
        try:
            with os.fdopen(fd, "w") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        self.dirty = False


def _corrupt(path: Path, bridge: str, why: str) -> NetworkError:
    # Refuse rather than start afresh: an empty table would hand out addresses that running
    # containers still use. The person can look at the file, or remove it when nothing is attached.
    return NetworkError(
        "state_root",
        f"lease file {path} is corrupt ({why}); fix it, or remove it if no container is attached to bridge {bridge}",
    )


def _parse(path: Path, bridge: str, text: str) -> tuple[ipaddress.IPv4Network | None, dict[str, Lease]]:
    if not text.strip():
        return None, {}  # an empty file (a crash between create and first write cannot make one, but a person can)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise _corrupt(path, bridge, f"not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise _corrupt(path, bridge, "not a JSON object")
    if data.get("version") != FORMAT_VERSION:
        raise _corrupt(path, bridge, f"version {data.get('version')!r}, expected {FORMAT_VERSION}")
    raw_subnet = data.get("subnet")
    subnet = None
    if raw_subnet is not None:
        try:
            subnet = parse_subnet(raw_subnet)
        except NetworkError as exc:
            raise _corrupt(path, bridge, f"subnet: {exc.reason}") from None
    raw = data.get("leases")
    if not isinstance(raw, dict):
        raise _corrupt(path, bridge, '"leases" is not an object')
    leases: dict[str, Lease] = {}
    seen: set[ipaddress.IPv4Address] = set()
    for cid, entry in raw.items():
        if not isinstance(entry, dict) or not all(isinstance(entry.get(k), str) for k in ("ip", "veth", "ifname")):
            raise _corrupt(path, bridge, f"lease {cid!r} needs string ip, veth and ifname")
        try:
            ip = ipaddress.IPv4Address(entry["ip"])
        except ValueError:
            raise _corrupt(path, bridge, f"lease {cid!r}: {entry['ip']!r} is not an IPv4 address") from None
        if subnet is None or ip not in subnet:
            raise _corrupt(path, bridge, f"lease {cid!r}: {ip} is outside the subnet {subnet}")
        if ip in seen:
            raise _corrupt(path, bridge, f"lease {cid!r}: {ip} is leased twice")
        seen.add(ip)
        leases[cid] = Lease(cid, str(ip), entry["veth"], entry["ifname"])
    return subnet, leases


class AddressManager:
    """The leases of one bridge under one state root.

    >>> with AddressManager("/run/pyrunc/network", "pyrunc0", "10.88.0.0/16").locked() as table:
    ...     lease = table.allocate("web", veth="pyv...", ifname="eth0")
    ...     table.save()
    """

    def __init__(
        self,
        state_root: str | os.PathLike[str],
        bridge: str,
        subnet: str | ipaddress.IPv4Network | None = None,
    ) -> None:
        self.state_root = Path(state_root)
        self.bridge = bridge
        self.subnet = parse_subnet(subnet) if subnet is not None else None
        self.path = self.state_root / f"{bridge}.json"
        self.lock_path = self.state_root / f"{bridge}.lock"

    @contextlib.contextmanager
    def locked(self) -> Iterator[LeaseTable]:
        """Hold the bridge's lock and yield its lease table. Nothing is written unless save() is called,
        so an exception in the block leaves the file as it was."""
        try:
            self.state_root.mkdir(parents=True, exist_ok=True, mode=0o700)
            lock_fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        except OSError as exc:
            raise NetworkError("state_root", f"cannot create {exc.filename or self.lock_path}: {exc.strerror}") from exc
        try:
            fcntl.flock(lock_fd, fcntl.LOCK_EX)
            yield self._load()
        finally:
            os.close(lock_fd)  # closing drops the flock

    def _load(self) -> LeaseTable:
        try:
            text = self.path.read_text()
        except FileNotFoundError:
            text = ""
        except (OSError, UnicodeDecodeError) as exc:
            raise _corrupt(self.path, self.bridge, f"unreadable: {exc}") from exc
        subnet, leases = _parse(self.path, self.bridge, text)
        table = LeaseTable(self.path, self.bridge, subnet, leases)
        if self.subnet is not None and subnet != self.subnet:
            if leases:
                raise NetworkError(
                    "subnet",
                    f"{self.subnet} differs from {subnet}, the subnet of bridge {self.bridge}'s "
                    f"{len(leases)} lease(s) in {self.path}; disconnect those containers first or use another bridge",
                )
            table.subnet = self.subnet
            table.dirty = True
        return table

    def leases(self) -> dict[str, Lease]:
        """A snapshot of the current leases (taken under the lock)."""
        with self.locked() as table:
            return dict(table.leases)
