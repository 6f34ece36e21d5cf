"""CVE-2019-5736 (GHSA-xr7r-f8xq-vfvv) during create: the runtime's own binary out of the container's reach.

Until it execs the program, the container's init is the host's Python interpreter, living in the
container's pid namespace: from the start of stage 2 (in a pid namespace another container may
share) and, after create, as the container's pid 1 until start. runc's attack: a process of the
container opens /proc/PID/exe (the runtime's binary) and overwrites it once the runtime exits, so
that the next runtime run executes the attacker's code as host root. The same access would read
/proc/PID/mem and /proc/PID/environ (the runtime's environment: host secrets) and go through
/proc/PID/fd/N to whatever the runtime has open.

The init is made non-dumpable before it joins or creates anything (init/child.py _enter); the
kernel then refuses every such access to a process of the container, whatever its capabilities in
its namespaces. (exec's own window has its test in test_exec.py.)
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from typing import Any

import pytest

from libcontainer_py._faults import ENV
from libcontainer_py.container import Container


@pytest.mark.parametrize("attacker", ["default", "all-caps-in-userns"])
def test_a_created_containers_init_is_out_of_reach(rt: Any, attacker: str) -> None:
    """Between create and start the container's pid 1 is the runtime; a process exec'd into the
    created container (runc allows exec then, and so do we) attacks it. Before the fix a default
    container read /proc/1/exe, /proc/1/environ (the host's environment) and /proc/1/fd."""
    bundle = rt.bundle(["sleep", "60"], edit=rt.all_caps_in_userns if attacker != "default" else None)
    cid = rt.new_id("cve5736")
    r = rt.pyrunc("create", "--bundle", str(bundle), cid)
    assert r.rc == 0, r
    assert rt.state(cid)["status"] == "created"
    rt.attack_from(cid, Container.load(cid, rt.root).pid)  # its pid 1
    # and the container still works afterwards
    assert rt.pyrunc("start", cid).rc == 0
    assert rt.state(cid)["status"] == "running"


def test_the_init_is_out_of_reach_while_it_sets_up(rt: Any) -> None:
    """Stage 2 of a second container is born in the first one's pid (and user) namespace and is
    stopped there at the checkpoint "init:started", before any of its setup: the first
    container, root of that user namespace with every capability there, attacks it."""
    cid_a = rt.new_id("host")
    r = rt.pyrunc("run", "-d", "--bundle", str(rt.bundle(["sleep", "60"], edit=rt.all_caps_in_userns)), cid_a)
    assert r.rc == 0, r
    a_pid = Container.load(cid_a, rt.root).pid

    def join_a(c: dict[str, Any]) -> None:
        c["linux"]["namespaces"] = [
            {"type": "pid", "path": f"/proc/{a_pid}/ns/pid"},
            {"type": "user", "path": f"/proc/{a_pid}/ns/user"},
            {"type": "mount"},
            {"type": "ipc"},
            {"type": "uts"},
        ]
        c["linux"].pop("uidMappings", None)
        c["linux"].pop("gidMappings", None)
        c["linux"].pop("resources", None)

    bundle_b = rt.bundle(["true"], edit=join_a)
    cid_b = rt.new_id("joiner")
    env = dict(os.environ, **{ENV: "init:started"})
    creator = subprocess.Popen(
        [*rt.cmd, "--root", rt.root, "create", "--bundle", str(bundle_b), cid_b],
        env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        a_pidns = os.readlink(f"/proc/{a_pid}/ns/pid")

        def the_joiner(pid: int, _fields: list[str]) -> bool:
            with open(f"/proc/{pid}/comm") as f:
                comm = f.read().strip()
            return comm == "pyrunc:[2:INIT]" and os.readlink(f"/proc/{pid}/ns/pid") == a_pidns

        victim_host_pid = rt.wait_stopped(the_joiner)
        assert victim_host_pid is not None, "the second container's init never reached the checkpoint"
        rt.attack_from(cid_a, victim_host_pid)
        os.kill(victim_host_pid, signal.SIGCONT)
        assert creator.wait(30) == 0
    finally:
        if creator.poll() is None:
            creator.kill()
            creator.wait()
        if victim_host_pid is not None:
            # the stopped init, if create was given up: it is ours (we started its create)
            with contextlib.suppress(OSError), open(f"/proc/{victim_host_pid}/comm") as f:
                if f.read().strip() == "pyrunc:[2:INIT]":
                    os.kill(victim_host_pid, signal.SIGKILL)
