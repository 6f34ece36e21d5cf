"""Faults: the runtime SIGKILLed at each step of create, start, exec and delete.

`LIBCONTAINER_PY_STOP_AT=<checkpoint>` makes whichever process reaches that step stop itself
(_faults.py); the test waits for a stopped process in pyrunc's process group (pyrunc runs in a
session of its own), then SIGKILLs that whole group: pyrunc and the children still in its group
(stage 1, exec's children, hooks). The container's init has a session of its own and survives,
as it would if the runtime crashed. Then:
  - `pyrunc state` tells the truth: a create that died is "stopped" (the container never came to
    be; what is left of it is debris), a container whose start, exec or delete died reports what
    its init is doing;
  - `pyrunc delete --force` removes every trace: the state dir (with the exec fifo), the cgroup,
    the init and every process of the container; the rt fixture then checks that no process has
    its root in the test's directory and that no mount names it.
"""

from __future__ import annotations

import contextlib
import glob
import json
import os
import signal
import subprocess
import tempfile
import time
from typing import Any

import pytest

from libcontainer_py._faults import CHECKPOINTS, ENV

# checkpoint -> (the verb killed there, the statuses `state` may truthfully report afterwards)
CASES: dict[str, tuple[str, set[str]]] = {
    "create:state-dir": ("create", {"stopped"}),
    "create:stage1-spawned": ("create", {"stopped"}),
    "create:limits-pending": ("create", {"stopped"}),
    "create:cgroup-applied": ("create", {"stopped"}),
    "create:init-pid": ("create", {"stopped"}),
    "create:hooks-done": ("create", {"stopped"}),
    "create:ready": ("create", {"stopped"}),
    "create:before-created": ("create", {"stopped"}),
    # released, the init either ran the program or died of the broken pipe: never "created"
    "start:fifo-opened": ("start", {"running", "stopped"}),
    "start:before-poststart": ("start", {"running"}),
    "exec:born": ("exec", {"running"}),
    "exec:joined": ("exec", {"running"}),
    "exec:pid-known": ("exec", {"running"}),
    "delete:killed": ("delete", {"stopped"}),
    "delete:cgroup-destroyed": ("delete", {"stopped"}),
    "delete:before-remove": ("delete", {"stopped"}),
}


def test_every_checkpoint_has_a_case() -> None:
    # "init:started" stops only an init that joins a pid namespace (as pid 1 of a new one it cannot
    # stop itself): test_escape_runtime_binary.py uses it, with a second container.
    assert set(CASES) == set(CHECKPOINTS) - {"init:started"}


def stopped_in(rt: Any, pgid: int, sid_of: int) -> int | None:
    """A stopped process of process group `pgid` or of the session `sid_of` leads (the init has
    a session of its own, and is not one of them: it never stops at these checkpoints)."""
    return rt.find_stopped(lambda _pid, fields: int(fields[2]) == pgid or int(fields[3]) == sid_of)


def cgroup_dirs(cid: str) -> list[str]:
    return glob.glob(f"/sys/fs/cgroup/pyrunc/{cid}") + glob.glob(f"/sys/fs/cgroup/*/pyrunc/{cid}")


def with_hooks(c: dict[str, Any]) -> None:
    # the hooks make the "create:hooks-done" step exist; "true" is the host's
    c["hooks"] = {"createRuntime": [{"path": "/bin/true"}], "poststart": [{"path": "/bin/true"}]}
    c["process"]["args"] = ["sh", "-c", "exec sleep 60 </dev/null >/dev/null 2>&1"]


@pytest.mark.parametrize("point", sorted(CASES))
def test_killed_at(rt: Any, point: str) -> None:
    verb, truthful = CASES[point]
    bundle = rt.bundle(["sleep", "60"], edit=with_hooks)
    cid = rt.new_id("fault")
    if verb == "start":
        assert rt.pyrunc("create", "--bundle", str(bundle), cid).rc == 0
    elif verb in ("exec", "delete"):
        assert rt.pyrunc("run", "-d", "--bundle", str(bundle), cid).rc == 0
    init_pid = json.loads(rt.pyrunc("state", cid).out)["pid"] if verb != "create" else 0
    argv = {
        "create": ["create", "--bundle", str(bundle), cid],
        "start": ["start", cid],
        "exec": ["exec", cid, "sleep", "60"],
        "delete": ["delete", "--force", cid],
    }[verb]
    env = dict(os.environ, **{ENV: point})
    with tempfile.TemporaryFile() as out:
        victim = subprocess.Popen(
            [*rt.cmd, "--root", rt.root, *argv], env=env, start_new_session=True,
            stdin=subprocess.DEVNULL, stdout=out, stderr=out,
        )  # fmt: skip
        try:
            deadline = time.monotonic() + 20
            stopped = None
            while stopped is None:
                stopped = stopped_in(rt, victim.pid, victim.pid)
                if stopped is None:
                    if victim.poll() is not None:
                        out.seek(0)
                        raise AssertionError(f"pyrunc {verb} ended without reaching {point}: {out.read()!r}")
                    assert time.monotonic() < deadline, f"nothing reached {point}"
                    time.sleep(0.01)
            os.killpg(victim.pid, signal.SIGKILL)
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(victim.pid, signal.SIGKILL)
            victim.wait(10)

    if point == "start:fifo-opened":
        time.sleep(0.3)  # the released init runs the program or dies of the broken pipe
    r = rt.pyrunc("state", cid)
    if point == "create:state-dir" and r.rc != 0:
        assert "does not exist" in r.err, r
    else:
        assert r.rc == 0, r
        doc = json.loads(r.out)
        assert doc["status"] in truthful, (point, doc, r)
        init_pid = init_pid or doc["pid"]
    state_file = os.path.join(rt.root, cid, "state.json")
    recorded: dict[str, Any] = {}
    if os.path.exists(state_file):
        with open(state_file) as f:
            recorded = json.load(f)
    init_pid = init_pid or recorded.get("pid", 0)

    r = rt.pyrunc("delete", "--force", cid)
    assert r.rc == 0, r
    assert not os.path.exists(os.path.join(rt.root, cid)), os.listdir(os.path.join(rt.root, cid))
    assert cgroup_dirs(cid) == []
    for path in (recorded.get("cgroup_paths") or {}).values():
        assert not os.path.exists(path), path
    if init_pid:
        deadline = time.monotonic() + 5
        while True:
            try:
                with open(f"/proc/{init_pid}/stat") as f:
                    state = f.read().rpartition(")")[2].split()[0]
            except FileNotFoundError:
                break
            if state in ("Z", "X"):
                break
            assert time.monotonic() < deadline, f"the init {init_pid} is still alive ({state})"
            time.sleep(0.02)
    r = rt.pyrunc("state", cid)
    assert r.rc != 0 and "does not exist" in r.err, r


@pytest.mark.parametrize("point", ["create:ready", "start:before-poststart", "delete:cgroup-destroyed"])
def test_killed_with_a_network_leaves_no_veth_or_lease(rt: Any, point: str) -> None:
    """With the pyrunc-netns hooks (in a network namespace this test makes), a runtime killed
    mid-way still leaves nothing after `delete --force`: its poststop hook removes the veth and
    releases the lease, from what state.json remembers of the hooks."""
    import shutil

    if shutil.which("unshare") is None or shutil.which("nsenter") is None:
        pytest.skip("needs util-linux (unshare, nsenter)")
    from libcontainer_py.spec import SpecBuilder

    ours = os.readlink("/proc/self/ns/net")
    host = rt.helper(["unshare", "--net", "sleep", "infinity"])
    deadline = time.monotonic() + 5
    while os.readlink(f"/proc/{host.pid}/ns/net") == ours and time.monotonic() < deadline:
        time.sleep(0.005)
    netns = f"/proc/{host.pid}/ns/net"
    leases = rt.mkdir("leases")
    bundle = rt.bundle(["sh", "-c", "exec sleep 60 </dev/null >/dev/null 2>&1"])
    SpecBuilder.load(bundle).with_network(
        "lcpytf0", "10.212.0.0/24", host_netns=netns, state_root=str(leases)
    ).build().save(bundle)
    cid = rt.new_id("netfault")
    verb = point.split(":")[0]
    if verb == "start":
        assert rt.pyrunc("create", "--bundle", str(bundle), cid).rc == 0
    elif verb == "delete":
        assert rt.pyrunc("run", "-d", "--bundle", str(bundle), cid).rc == 0
    argv = {"create": ["create", "--bundle", str(bundle), cid], "start": ["start", cid],
            "delete": ["delete", "--force", cid]}[verb]  # fmt: skip
    with tempfile.TemporaryFile() as out:
        victim = subprocess.Popen(
            [*rt.cmd, "--root", rt.root, *argv], env=dict(os.environ, **{ENV: point}), start_new_session=True,
            stdin=subprocess.DEVNULL, stdout=out, stderr=out,
        )  # fmt: skip
        try:
            deadline = time.monotonic() + 20
            while stopped_in(rt, victim.pid, victim.pid) is None:
                assert victim.poll() is None and time.monotonic() < deadline, f"nothing reached {point}"
                time.sleep(0.01)
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(victim.pid, signal.SIGKILL)
            victim.wait(10)

    def veths() -> list[str]:
        r = subprocess.run(["nsenter", f"--net={netns}", "ip", "-o", "link"], capture_output=True, text=True)
        return [ln.split(":")[1].strip().split("@")[0] for ln in r.stdout.splitlines() if ": pyv" in ln]

    lease_file = leases / "lcpytf0.json"

    def leased() -> list[str]:
        return list(json.loads(lease_file.read_text()).get("leases", {})) if lease_file.exists() else []

    # The killed runtime left the lease behind (and the veth, for as long as the init lives: an
    # init whose runtime died exits, and its network namespace takes the veth pair with it).
    assert leased() == [cid]
    r = rt.pyrunc("delete", "--force", cid)
    assert r.rc == 0, r
    assert veths() == []
    assert leased() == []
    assert rt.state_dirs() == []
