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
import time
from typing import Any

import pytest

from libcontainer_py._faults import ENV
from libcontainer_py.capabilities import CAPABILITIES
from libcontainer_py.container import Container

# Listing /proc/PID/fd (names only) follows the directory's mode, root's: the fds themselves, like
# exe, need ptrace access, which a non-dumpable process refuses.
LEAKS = ("exe-writable", "exe-readable", "mem-readable", "environ-readable", "fd-openable")


def attack(pid: int | str) -> str:
    """A shell script that tries every door into process `pid` (as the container sees it)."""
    return (
        f"(exec 3>>/proc/{pid}/exe) 2>/dev/null && echo exe-writable; "
        f"(exec 3</proc/{pid}/exe) 2>/dev/null && echo exe-readable; "
        f"dd if=/proc/{pid}/mem bs=1 count=1 skip=4194304 2>/dev/null && echo mem-readable; "
        f"cat /proc/{pid}/environ >/dev/null 2>&1 && echo environ-readable; "
        f"for n in 0 1 2 3 4 5 6 7 8 9 10; do (exec 4</proc/{pid}/fd/$n) 2>/dev/null && echo fd-openable; done; "
        f"ls -l /proc/{pid}/exe 2>&1; echo done"
    )


def all_caps_in_userns(c: dict[str, Any]) -> None:
    """Root of its own user namespace with every capability there (CAP_SYS_PTRACE included)."""
    for kind in ("bounding", "effective", "permitted"):
        c["process"]["capabilities"][kind] = list(CAPABILITIES)
    c["linux"]["namespaces"].append({"type": "user"})
    c["linux"]["uidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
    c["linux"]["gidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]


@pytest.mark.parametrize("attacker", ["default", "all-caps-in-userns"])
def test_a_created_containers_init_is_out_of_reach(rt: Any, attacker: str) -> None:
    """Between create and start the container's pid 1 is the runtime; a process exec'd into the
    created container (runc allows exec then, and so do we) attacks it. Before the fix a default
    container read /proc/1/exe, /proc/1/environ (the host's environment) and /proc/1/fd."""
    bundle = rt.bundle(["sleep", "60"], edit=all_caps_in_userns if attacker != "default" else None)
    cid = rt.new_id("cve5736")
    r = rt.pyrunc("create", "--bundle", str(bundle), cid)
    assert r.rc == 0, r
    assert rt.state(cid)["status"] == "created"
    r = rt.pyrunc("exec", cid, "sh", "-c", attack(1))
    assert r.out.strip().endswith("done"), r
    for leak in LEAKS:
        assert leak not in r.out, r
    assert "Permission denied" in r.out, r  # the exe link itself cannot be followed
    # and the container still works afterwards
    assert rt.pyrunc("start", cid).rc == 0
    assert rt.state(cid)["status"] == "running"


def test_the_init_is_out_of_reach_while_it_sets_up(rt: Any) -> None:
    """Stage 2 of a second container is born in the first one's pid (and user) namespace and is
    stopped there at the checkpoint "init:started", before any of its setup: the first
    container, root of that user namespace with every capability there, attacks it."""
    victim_host_pid = None
    cid_a = rt.new_id("host")
    r = rt.pyrunc("run", "-d", "--bundle", str(rt.bundle(["sleep", "60"], edit=all_caps_in_userns)), cid_a)
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
        deadline = time.monotonic() + 20
        while victim_host_pid is None and time.monotonic() < deadline:
            for name in os.listdir("/proc"):
                if not name.isdigit():
                    continue
                try:
                    with open(f"/proc/{name}/stat") as f:
                        fields = f.read().rpartition(")")[2].split()
                    with open(f"/proc/{name}/comm") as f:
                        comm = f.read().strip()
                    same_ns = os.readlink(f"/proc/{name}/ns/pid") == os.readlink(f"/proc/{a_pid}/ns/pid")
                except OSError:
                    continue
                if fields[0] == "T" and comm == "pyrunc:[2:INIT]" and same_ns:
                    victim_host_pid = int(name)
            time.sleep(0.02)
        assert victim_host_pid is not None, "the second container's init never reached the checkpoint"
        with open(f"/proc/{victim_host_pid}/status") as f:
            nspid = next(line.split()[-1] for line in f if line.startswith("NSpid:"))
        r = rt.pyrunc("exec", cid_a, "sh", "-c", attack(nspid))
        assert r.out.strip().endswith("done"), r
        for leak in LEAKS:
            assert leak not in r.out, r
        assert "Permission denied" in r.out, r
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
