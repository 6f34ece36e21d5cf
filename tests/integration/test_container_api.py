"""The library API on real containers: Container.create/start/wait/kill/delete/state/load/list,
libcontainer_py.run(), and the per-container session keyring."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path
from typing import Any

import pytest

import libcontainer_py as lc
from libcontainer_py.container import Container
from libcontainer_py.state import ContainerNotFound, InvalidState, Status


def test_lifecycle(rt: Any) -> None:
    bundle = rt.bundle(["sleep", "100"])
    c = Container.create("api-1", bundle, root=rt.root)
    assert c.status is Status.CREATED
    assert "api-1" in repr(c) and "created" in repr(c)
    assert [x.id for x in Container.list(rt.root)] == ["api-1"]
    assert Container.load("api-1", rt.root).pid == c.pid
    with pytest.raises(InvalidState):
        c.delete()
    c.start()
    assert c.status is Status.RUNNING
    with pytest.raises(InvalidState, match="running"):
        c.start()
    c.kill(signal.SIGKILL)
    assert c.wait(timeout=10) == 128 + signal.SIGKILL
    assert c.status is Status.STOPPED
    with pytest.raises(InvalidState):
        c.kill("KILL")
    c.delete()
    with pytest.raises(ContainerNotFound, match="does not exist"):
        Container.load("api-1", rt.root)


def test_paths_as_path_objects(rt: Any) -> None:
    """The bundle, the state root and the pid file may be pathlib.Path objects, as os accepts
    them (the library's paths go through posix and _paths.py, which take str)."""
    bundle = rt.bundle(["sleep", "100"])
    pid_file = Path(rt.base) / "init.pid"
    c = Container.create("api-path", Path(bundle), root=Path(rt.root), pid_file=pid_file)
    try:
        assert pid_file.read_text() == str(c.pid)
        assert Container.load("api-path", Path(rt.root)).pid == c.pid
    finally:
        c.delete(force=True)


def test_create_with_start_runs_the_program_at_once(rt: Any) -> None:
    """Container.create(start=True), what run() uses: no exec fifo round trip. The program runs
    when create returns (never "created"), after the poststart hooks; start() then refuses. A
    failing poststart hook ends it as start() would: the container destroyed, nothing left. It
    makes no exec fifo at all (a prestart hook lists the state dir while the init is set up)."""
    marker = rt.base / "poststart-ran"
    listing = rt.base / "state-dir-at-prestart"
    cid = rt.new_id()

    def hooks(config: dict[str, Any]) -> None:
        config["hooks"] = {
            "poststart": [{"path": "/bin/sh", "args": ["sh", "-c", f"echo $$ > {marker}"]}],
            "prestart": [{"path": "/bin/sh", "args": ["sh", "-c", f"ls -a {rt.root}/{cid} > {listing}"]}],
        }

    c = Container.create(cid, rt.bundle(["sleep", "100"], edit=hooks), root=rt.root, start=True)
    assert "state.json" in listing.read_text().split() and "exec.fifo" not in listing.read_text().split()
    assert c.status is Status.RUNNING
    assert marker.exists()
    with open(f"/proc/{c.pid}/comm") as f:
        assert f.read().strip() == "sleep"  # the program itself, not the init waiting on a fifo
    assert "exec.fifo" not in os.listdir(os.path.join(rt.root, c.id))
    with pytest.raises(InvalidState, match="running"):
        c.start()
    c.kill(signal.SIGKILL)
    assert c.wait(timeout=10) == 128 + signal.SIGKILL
    c.delete()

    def failing(config: dict[str, Any]) -> None:
        config["hooks"] = {"poststart": [{"path": "/bin/false"}]}

    from libcontainer_py.hooks import HookError

    with pytest.raises(HookError, match="poststart"):
        Container.create(rt.new_id(), rt.bundle(["sleep", "100"], edit=failing), root=rt.root, start=True)
    assert rt.state_dirs() == []


def test_create_with_start_of_a_program_that_is_over_at_once(rt: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """With start=True the program may have run and ended before create has looked at it: that is
    no failure of create, and wait() gets its status (CI once lost 2 runs to "container init exited
    during create (wait status 768)", that is `exit 3`). The runtime is slowed right where it
    looks, so the program is over every time."""
    from libcontainer_py import _create

    real = _create.process_start_time

    def late(pid: int) -> int | None:
        time.sleep(0.2)
        return real(pid)

    bundle = rt.bundle(["sh", "-c", "exit 3"])
    monkeypatch.setattr(_create, "process_start_time", late)
    for spawn in ("fork", "exec"):
        c = Container.create(rt.new_id(), bundle, root=rt.root, start=True, spawn=spawn)
        assert c.wait(timeout=10) == 3, spawn
        c.delete()
    monkeypatch.undo()
    r = lc.run(bundle, root=rt.root)
    assert r.returncode == 3


def test_wait_returns_the_exit_status(rt: Any) -> None:
    bundle = rt.bundle(["sh", "-c", "exit 5"])
    c = Container.create(rt.new_id(), bundle, root=rt.root)
    c.start()
    assert c.wait(timeout=10) == 5
    c.delete()


def test_create_from_a_spec(rt: Any) -> None:
    from libcontainer_py.spec.builder import SpecBuilder

    bundle = rt.bundle(["true"])
    spec = SpecBuilder.load(bundle / "config.json").args("sh", "-c", "exit 4").hostname("from-spec").build()
    r = lc.run(bundle, spec=spec, root=rt.root)
    assert r.returncode == 4


def test_run_captures_output(rt: Any) -> None:
    bundle = rt.bundle(["true"])
    r = lc.run(bundle, args=["sh", "-c", "cat; echo err >&2; exit 3"], input=b"in\n", capture_output=True, root=rt.root)
    assert (r.returncode, r.stdout, r.stderr) == (3, b"in\n", b"err\n")
    assert rt.state_dirs() == []
    with pytest.raises(lc.ContainerFailed):
        r.check_returncode()


def test_run_from_a_threaded_caller(rt: Any) -> None:
    # A notebook's kernel has threads: the fork must still work, and the other thread go on.
    stop = threading.Event()
    ticks = []

    def spin() -> None:
        while not stop.is_set():
            ticks.append(1)
            time.sleep(0.001)

    t = threading.Thread(target=spin)
    t.start()
    try:
        bundle = rt.bundle(["true"])
        results = [lc.run(bundle, args=["echo", str(i)], capture_output=True, root=rt.root) for i in range(3)]
    finally:
        stop.set()
        t.join()
    assert [r.stdout for r in results] == [b"0\n", b"1\n", b"2\n"]
    assert ticks


def _keys_named(name: str) -> list[str]:
    with open("/proc/keys") as f:
        return [line for line in f if line.rstrip().endswith(name) or f" {name}:" in line]


def test_new_session_keyring(rt: Any) -> None:
    # Inside, the default config masks /proc/keys; drop that mask to look from inside too.
    bundle = rt.bundle(
        ["sh", "-c", "cat /proc/keys"],
        edit=lambda c: c["linux"]["maskedPaths"].remove("/proc/keys"),
    )
    cid = rt.new_id()
    c = Container.create(cid, bundle, root=rt.root)
    try:
        # The host's root sees the keyring (same uid, view permission): made at create.
        assert _keys_named(f"_ses.{cid}"), "no _ses.<id> keyring on the host after create"
    finally:
        c.delete(force=True)
    out = rt.out(bundle)
    assert "_ses." in out and "keyring" in out


def test_no_new_keyring(rt: Any) -> None:
    bundle = rt.bundle(["sleep", "100"])
    cid = rt.new_id()
    c = Container.create(cid, bundle, root=rt.root, no_new_keyring=True)
    try:
        assert not _keys_named(f"_ses.{cid}")
    finally:
        c.delete(force=True)
    cid2 = rt.new_id()
    assert rt.pyrunc("create", "--no-new-keyring", "-b", str(bundle), cid2).rc == 0
    assert not _keys_named(f"_ses.{cid2}")


def test_wait_with_a_timeout_and_delete_force_wait_on_a_pidfd(rt: Any) -> None:
    """wait(timeout) times out on a running container and returns its status once it has ended;
    delete(force=True) of a running one leaves no process. Both sleep on the init's pidfd
    (container.py _until_ended) rather than in slices of 5 ms."""
    c = Container.create("api-wait", rt.bundle(["sleep", "100"]), root=rt.root)
    c.start()
    t0 = time.monotonic()
    with pytest.raises(TimeoutError, match=r"still running after 0\.2s"):
        c.wait(timeout=0.2)
    assert time.monotonic() - t0 >= 0.2
    pid = c.pid
    killer = threading.Timer(0.1, c.kill, ("KILL",))
    killer.start()
    try:
        assert c.wait(timeout=30) == 128 + signal.SIGKILL
    finally:
        killer.join()
    c.delete()
    assert not os.path.exists(f"/proc/{pid}")

    d = Container.create("api-force", rt.bundle(["sleep", "100"]), root=rt.root)
    d.start()
    pid = d.pid
    d.delete(force=True)
    assert not os.path.exists(f"/proc/{pid}")  # ended and reaped, not left a zombie
    assert Container.list(rt.root) == []


def test_until_ended_sleeps_on_a_processes_pidfd() -> None:
    import subprocess

    from libcontainer_py.container import _exit_fd, _until_ended

    proc = subprocess.Popen(["sleep", "0.3"])
    fd = _exit_fd(proc.pid)
    try:
        assert fd >= 0
        assert _until_ended(fd, 0.01) is False  # still running: the time ran out
        assert _until_ended(fd, 10) is True  # ended: readable before it is reaped
        assert proc.poll() == 0
        assert _until_ended(fd, 0) is True  # and stays readable
    finally:
        os.close(fd)
        proc.wait()
    assert _exit_fd(proc.pid) == -1  # reaped: no such process


@pytest.mark.parametrize("spawn", ["fork", "forkserver"])
def test_delete_force_reaps_the_detached_execs_it_leaves(rt: Any, spawn: str) -> None:
    """A detached exec's process is the caller's child: a zombie once it has ended (or been killed
    by delete), and a cgroup v1 directory with a zombie in it refused rmdir for ~10 s, which
    delete(force=True) spent retrying. It reaps them now: one that ended before the delete, one
    that the delete killed; one the caller waited for itself is left alone."""
    from libcontainer_py.init import forkserver

    bundle = rt.bundle(["sleep", "100"])
    c = Container.create(f"reap-{spawn}", bundle, root=rt.root, start=True, spawn=spawn)
    ended = c.exec({"args": ["true"], "cwd": "/"}, detach=True, spawn=spawn).pid
    running = c.exec({"args": ["sleep", "100"], "cwd": "/"}, detach=True, spawn=spawn).pid
    waited = c.exec({"args": ["true"], "cwd": "/"}, detach=True, spawn=spawn).pid
    assert os.waitpid(waited, 0)[0] == waited
    from libcontainer_py import container as container_module

    last = c.exec({"args": ["true"], "cwd": "/"}, detach=True, spawn=spawn).pid
    remembered = [pid for pid, _ in container_module._detached_execs[c._dir.path]]
    assert waited not in remembered and {ended, running, last} <= set(remembered)  # (the reaped one forgotten)
    deadline = time.monotonic() + 10
    while Path(f"/proc/{ended}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z":
        assert time.monotonic() < deadline
        time.sleep(0.01)
    start = time.monotonic()
    c.delete(force=True)
    assert time.monotonic() - start < 2.0
    for pid in (ended, running):
        with pytest.raises(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)
    forkserver.stop()


def test_wait_after_kill_reaps_a_detached_exec(rt: Any) -> None:
    """kill then wait() with a detached exec still running: the kill of the init kills it too, and
    the init of the pid namespace cannot finish dying until its parent, this process, reaps it.
    wait() hung there (here: its timeout); it reaps it now and returns at once."""
    bundle = rt.bundle(["sleep", "100"])
    c = Container.create("wait-reap", bundle, root=rt.root, start=True)
    pid = c.exec({"args": ["sleep", "100"], "cwd": "/"}, detach=True).pid
    c.kill("KILL")
    start = time.monotonic()
    assert c.wait(timeout=5) == 128 + signal.SIGKILL
    assert time.monotonic() - start < 2.0
    with pytest.raises(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)
    c.delete()


def test_a_caller_that_ignores_sigchld(rt: Any) -> None:
    """SIGCHLD ignored: the kernel reaps the caller's children itself and their exit statuses are
    lost. The library says so, naming the fix, instead of "was not started by this process", and
    leaves nothing behind; pyrunc, which may inherit the ignore (it survives execve), sets SIGCHLD
    back to default for itself and reports the container's status."""
    import subprocess
    import sys

    bundle = rt.bundle(["sh", "-c", "exit 3"])
    code = f"""
import os, signal, sys
sys.path.insert(0, {str(Path(lc.__file__).resolve().parent.parent)!r})
import libcontainer_py as lc
signal.signal(signal.SIGCHLD, signal.SIG_IGN)
try:
    lc.run({str(bundle)!r}, root={rt.root!r}, capture_output=True, timeout=30)
except lc.LibcontainerError as exc:
    print(exc)
print(os.listdir({rt.root!r}))
"""
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    message, left = p.stdout.splitlines()
    assert "ignores SIGCHLD" in message and "signal.SIG_DFL" in message, message
    assert left == "[]"

    def ignore_sigchld() -> None:
        signal.signal(signal.SIGCHLD, signal.SIG_IGN)

    p = subprocess.run([*rt.cmd, "--root", rt.root, "run", "--bundle", str(bundle), rt.new_id("chld")],
                       capture_output=True, text=True, timeout=60, preexec_fn=ignore_sigchld)  # fmt: skip
    assert p.returncode == 3, p.stderr


def test_after_delete_force_wait_gives_the_status_and_state_says_gone(rt: Any) -> None:
    """delete(force=True) reaps the init: wait() afterwards gives its status (it said "was not
    started by this process"), and state() says the container does not exist, as start, kill and
    exec do (it gave the stale state)."""
    c = Container.create("gone-1", rt.bundle(["sleep", "100"]), root=rt.root, start=True)
    c.delete(force=True)
    assert c.wait(timeout=1) == 128 + signal.SIGKILL
    with pytest.raises(ContainerNotFound, match="does not exist"):
        c.state()


@pytest.mark.parametrize("userns", [False, True])  # forked in its pid namespace / by os.fork (two stages)
def test_the_callers_signal_handlers_do_not_follow_into_the_init(rt: Any, userns: bool) -> None:
    """A caller's Python signal handlers are its code: in the forked init they would run in the
    container's namespaces. With a caller's SIGTERM handler (a service's graceful stop), a created
    container's init survived kill(SIGTERM). The child now drops them (and the caller's wakeup
    fd) before it unblocks signals; the created init handles only what ends it (it is pid 1 of
    its namespace: child.py _die_of_signals)."""
    import subprocess
    import sys

    def edit(c: dict[str, Any]) -> None:
        c["linux"]["namespaces"].append({"type": "user"})
        c["linux"]["uidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
        c["linux"]["gidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]

    bundle = rt.bundle(["sleep", "100"], edit=edit if userns else None)
    code = f"""
import os, signal, sys, time
sys.path.insert(0, {str(Path(lc.__file__).resolve().parent.parent)!r})
from libcontainer_py.container import Container
signal.signal(signal.SIGTERM, lambda s, f: None)
signal.signal(signal.SIGWINCH, lambda s, f: None)
r, w = os.pipe()
os.set_blocking(w, False)
signal.set_wakeup_fd(w)
c = Container.create("handlers-1", {str(bundle)!r}, root={rt.root!r})
try:
    status = open(f"/proc/{{c.pid}}/status").read()
    caught = int(status.split("SigCgt:")[1].split()[0], 16)
    print(caught >> (signal.SIGWINCH - 1) & 1, caught >> (signal.SIGTERM - 1) & 1)
    c.kill("SIGTERM")
    deadline = time.monotonic() + 10
    while c.state()["status"] != "stopped" and time.monotonic() < deadline:
        time.sleep(0.01)
    print(c.state()["status"])
finally:
    c.delete(force=True)
"""
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    assert p.stdout.splitlines() == ["0 1", "stopped"], p.stdout
