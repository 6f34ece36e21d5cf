"""A second container joins the network and user namespaces of a first one by path, as in the
talk: A serves a page with busybox httpd in a user namespace mapped to 200000; B, in A's network
and user namespaces, fetches it over 127.0.0.1."""

from __future__ import annotations

import os
import time
from typing import Any

import pytest

from libcontainer_py.container import Container
from libcontainer_py.errors import ConfigError
from libcontainer_py.spec import Spec


def userns_200000(c: dict[str, Any]) -> None:
    c["linux"]["namespaces"].append({"type": "user"})
    c["linux"]["uidMappings"] = [{"containerID": 0, "hostID": 200000, "size": 65536}]
    c["linux"]["gidMappings"] = [{"containerID": 0, "hostID": 200000, "size": 65536}]
    c["root"]["readonly"] = False


def start_server(rt: Any) -> Container:
    bundle = rt.bundle(["httpd", "-f", "-p", "127.0.0.1:8080", "-h", "/var/www"], edit=userns_200000)
    cid = rt.new_id("web")
    assert rt.pyrunc("run", "-d", "--bundle", str(bundle), cid).rc == 0
    server = Container.load(cid, rt.root)
    with open(f"/proc/{server.pid}/status") as f:
        assert [line.split()[1] for line in f if line.startswith("Uid:")] == ["200000"]
    return server


def test_join_network_and_user_namespaces_by_path(rt: Any) -> None:
    server = start_server(rt)
    client_bundle = rt.bundle(["true"], edit=userns_200000)
    spec = Spec.load(client_bundle)
    spec.process.args = ["sh", "-c", "id -u; wget -q -O - http://127.0.0.1:8080/index.html"]
    spec.join_namespaces_of(server, "network", "user")
    assert spec.linux.uid_mappings is None
    spec.save(client_bundle)
    deadline = time.monotonic() + 5
    while True:
        r = rt.run(client_bundle)
        if r.rc == 0 or time.monotonic() > deadline:
            break
        time.sleep(0.1)  # httpd may still be binding
    assert r.rc == 0, r
    assert r.out.splitlines() == ["0", "hello from libcontainer-py"]


def test_joined_namespaces_are_the_servers(rt: Any) -> None:
    server = start_server(rt)
    bundle = rt.bundle(["true"], edit=userns_200000)
    spec = Spec.load(bundle)
    spec.process.args = ["sh", "-c", "for n in net user uts; do readlink /proc/self/ns/$n; done"]
    spec.join_namespaces_of(server.pid, "network", "user")
    spec.save(bundle)
    r = rt.run(bundle)
    assert r.rc == 0, r
    net, user, uts = r.out.split()
    assert net == os.readlink(f"/proc/{server.pid}/ns/net")
    assert user == os.readlink(f"/proc/{server.pid}/ns/user")
    assert uts != os.readlink(f"/proc/{server.pid}/ns/uts")  # not asked: a new one


def test_joining_a_network_namespace_without_its_user_namespace_is_refused(rt: Any) -> None:
    server = start_server(rt)
    bundle = rt.bundle(["true"])
    spec = Spec.load(bundle)
    spec.join_namespaces_of(server, "network")
    spec.save(bundle)
    r = rt.run(bundle)
    assert r.rc == 1, r
    assert "linux.namespaces[" in r.err and "another user namespace" in r.err
    assert f"/proc/{server.pid}/ns/user" in r.err
    assert len(r.err.strip().splitlines()) == 1
    assert [d for d in rt.state_dirs()] == [server.id]  # nothing left of the refused one


def test_join_namespaces_of_rejects_nonsense() -> None:
    spec = Spec.default()
    with pytest.raises(ValueError, match="namespace types"):
        spec.join_namespaces_of(1, "netwrok")
    with pytest.raises(ValueError, match="no running init"):
        spec.join_namespaces_of(0, "network")
    assert isinstance(ConfigError("x"), Exception)
