"""The address manager: allocation, release, persistence, locking and corrupt files (no root)."""

from __future__ import annotations

import ipaddress
import json
import multiprocessing
from pathlib import Path

import pytest

from libcontainer_py.network import AddressManager, NetworkError, parse_subnet
from libcontainer_py.network.ipam import capacity, gateway_of


def test_parse_subnet() -> None:
    assert parse_subnet("10.88.0.0/16") == ipaddress.IPv4Network("10.88.0.0/16")
    assert parse_subnet(" 192.168.7.0/255.255.255.0 ") == ipaddress.IPv4Network("192.168.7.0/24")
    assert gateway_of(parse_subnet("10.88.0.0/16")) == ipaddress.IPv4Address("10.88.0.1")
    assert capacity(parse_subnet("10.0.0.0/30")) == 1


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "expected an IPv4 subnet"),
        (None, "expected an IPv4 subnet"),
        ("10.88.0.0", "has no prefix length"),
        ("10.88.0.1/16", r"has host bits set \(did you mean 10\.88\.0\.0/16\?\)"),
        ("10.88.0.0/33", "is not a valid subnet"),
        ("banana/8", "is not a valid subnet"),
        ("fd00::/64", "only IPv4 is supported"),
        ("10.0.0.0/31", "too small: a bridge subnet needs at least a /30"),
        ("10.0.0.0/32", "too small"),
    ],
)
def test_parse_subnet_rejects(text: object, message: str) -> None:
    with pytest.raises(NetworkError, match=f"^subnet: .*{message}") as info:
        parse_subnet(text)
    assert info.value.argument == "subnet"
    assert "\n" not in str(info.value)


def test_allocate_lowest_free_and_idempotent(tmp_path: Path) -> None:
    ipam = AddressManager(tmp_path, "br0", "10.1.0.0/29")  # .1 gateway, .2-.6 leasable, .7 broadcast
    with ipam.locked() as table:
        got = [table.allocate(f"c{i}", veth=f"v{i}", ifname="eth0").ip for i in range(5)]
        assert got == ["10.1.0.2", "10.1.0.3", "10.1.0.4", "10.1.0.5", "10.1.0.6"]
        assert table.allocate("c2", veth="v2", ifname="eth0").ip == "10.1.0.4"  # same container, same address
        with pytest.raises(NetworkError, match=r"^subnet: 10\.1\.0\.0/29 is exhausted: all 5 container addresses"):
            table.allocate("c5", veth="v5", ifname="eth0")
        assert table.release("c1") is not None
        assert table.release("c1") is None
        assert table.allocate("c9", veth="v9", ifname="eth0").ip == "10.1.0.3"  # the hole is reused first
        table.save()


def test_persistence_and_format(tmp_path: Path) -> None:
    ipam = AddressManager(tmp_path / "deeper" / "root", "br0", "10.2.0.0/24")
    with ipam.locked() as table:
        table.allocate("web", veth="pyvaaaa", ifname="eth0")
        table.allocate("db", veth="pyvbbbb", ifname="eth1")
    assert not ipam.path.exists()  # nothing is written without save()
    with ipam.locked() as table:
        table.allocate("web", veth="pyvaaaa", ifname="eth0")
        table.allocate("db", veth="pyvbbbb", ifname="eth1")
        table.save()
    data = json.loads(ipam.path.read_text())
    assert data == {
        "version": 1,
        "bridge": "br0",
        "subnet": "10.2.0.0/24",
        "gateway": "10.2.0.1",
        "leases": {
            "web": {"ip": "10.2.0.2", "veth": "pyvaaaa", "ifname": "eth0"},
            "db": {"ip": "10.2.0.3", "veth": "pyvbbbb", "ifname": "eth1"},
        },
    }
    # Reloaded by a manager that knows no subnet (as disconnect does).
    again = AddressManager(ipam.state_root, "br0")
    leases = again.leases()
    assert leases["db"].ip == "10.2.0.3" and leases["db"].ifname == "eth1"
    with again.locked() as table:
        assert table.subnet == ipaddress.IPv4Network("10.2.0.0/24")
        table.release("db")
        table.save()
    assert set(json.loads(ipam.path.read_text())["leases"]) == {"web"}
    assert sorted(p.name for p in ipam.state_root.iterdir()) == ["br0.json", "br0.lock"]  # no temp files left


def test_subnet_change(tmp_path: Path) -> None:
    with AddressManager(tmp_path, "br0", "10.3.0.0/24").locked() as table:
        table.allocate("a", veth="v", ifname="eth0")
        table.save()
    with pytest.raises(NetworkError, match=r"^subnet: 10\.4\.0\.0/24 differs from 10\.3\.0\.0/24.* 1 lease"):
        AddressManager(tmp_path, "br0", "10.4.0.0/24").leases()
    with AddressManager(tmp_path, "br0").locked() as table:
        table.release("a")
        table.save()
    # With no leases left, the bridge may take another subnet.
    with AddressManager(tmp_path, "br0", "10.4.0.0/24").locked() as table:
        assert table.allocate("b", veth="v", ifname="eth0").ip == "10.4.0.2"


@pytest.mark.parametrize(
    ("content", "why"),
    [
        ("{not json", "not JSON"),
        ("[]", "not a JSON object"),
        ('{"version": 7, "subnet": "10.0.0.0/24", "leases": {}}', "version 7"),
        ('{"version": 1, "subnet": "10.0.0.0/24", "leases": []}', '"leases" is not an object'),
        ('{"version": 1, "subnet": "10.0.0.1/24", "leases": {}}', "subnet: "),
        ('{"version": 1, "subnet": "10.0.0.0/24", "leases": {"a": {"ip": "10.0.0.2"}}}', "needs string ip"),
        (
            '{"version": 1, "subnet": "10.0.0.0/24", "leases": {"a": {"ip": "10.9.0.2", "veth": "v", "ifname": "e"}}}',
            "outside the subnet",
        ),
        (
            '{"version": 1, "subnet": "10.0.0.0/24", "leases": {"a": {"ip": "x", "veth": "v", "ifname": "e"}}}',
            "not an IPv4 address",
        ),
        (
            '{"version": 1, "subnet": "10.0.0.0/24", "leases": {"a": {"ip": "10.0.0.2", "veth": "v", "ifname": "e"},'
            ' "b": {"ip": "10.0.0.2", "veth": "w", "ifname": "e"}}}',
            "leased twice",
        ),
    ],
)
def test_corrupt_file_is_refused_not_reset(tmp_path: Path, content: str, why: str) -> None:
    path = tmp_path / "br0.json"
    path.write_text(content)
    with pytest.raises(NetworkError, match=r"^state_root: lease file .*br0.json is corrupt") as info:
        AddressManager(tmp_path, "br0", "10.0.0.0/24").leases()
    assert why in str(info.value) and "\n" not in str(info.value)
    assert path.read_text() == content  # left for a person to look at


def test_empty_file_is_an_empty_table(tmp_path: Path) -> None:
    (tmp_path / "br0.json").write_text("")
    with AddressManager(tmp_path, "br0", "10.0.0.0/24").locked() as table:
        assert table.allocate("a", veth="v", ifname="eth0").ip == "10.0.0.2"


def test_unwritable_state_root(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(NetworkError, match=r"^state_root: cannot create"):
        AddressManager(blocker / "sub", "br0", "10.0.0.0/24").leases()


def _worker(root: str, cid: str, barrier: multiprocessing.synchronize.Barrier, out: multiprocessing.Queue[str]) -> None:
    barrier.wait()
    with AddressManager(root, "br0", "10.5.0.0/24").locked() as table:
        lease = table.allocate(cid, veth="v" + cid, ifname="eth0")
        table.save()
    out.put(lease.ip)


def test_concurrent_processes_never_share_an_address(tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("fork")
    count = 8
    barrier = ctx.Barrier(count)
    out: multiprocessing.Queue[str] = ctx.Queue()
    procs = [ctx.Process(target=_worker, args=(str(tmp_path), f"c{i}", barrier, out)) for i in range(count)]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(30)
        assert proc.exitcode == 0
    ips = sorted(out.get(timeout=5) for _ in range(count))
    assert ips == sorted(f"10.5.0.{n}" for n in range(2, 2 + count))
    leases = json.loads((tmp_path / "br0.json").read_text())["leases"]
    assert sorted(v["ip"] for v in leases.values()) == ips
