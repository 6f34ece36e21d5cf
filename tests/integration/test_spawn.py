"""The ways the init comes to life (init/spawn.py): fork, a fresh interpreter, and the fork server
that a threaded caller (a Jupyter kernel) gets by default (init/forkserver.py, which
test_forkserver.py tests further). All run the same container the same way."""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

import libcontainer_py as lc
from libcontainer_py.container import Container
from libcontainer_py.init.spawn import choose, decode, encode
from libcontainer_py.spec import SpecBuilder

pytestmark = pytest.mark.root


@pytest.fixture
def scratch() -> Iterator[Path]:
    d = Path(tempfile.mkdtemp(prefix="lcpy-spawn-"))
    os.chmod(d, 0o755)  # the mapped root of a user namespace must reach the bundle
    try:
        yield d
    finally:
        for c in Container.list(str(d / "state")):
            c.delete(force=True)
        shutil.rmtree(d)


@pytest.mark.parametrize("mode", ["fork", "exec", "forkserver"])
def test_modes_run_the_same_container(scratch: Path, mode: str) -> None:
    bundle = lc.make_busybox_bundle(scratch / "b", args=["true"])
    spec = (
        SpecBuilder.load(bundle)
        .args("sh", "-c", "hostname; id -u; grep Uid /proc/self/status; cat /proc/self/uid_map")
        .hostname(f"h-{mode}")
        .uid_mapping(host_id=100000, container_id=0, size=65536)
        .gid_mapping(host_id=100000, container_id=0, size=65536)
        .build()
    )
    r, w = os.pipe()
    try:
        c = Container.create(
            f"c-{mode}", bundle, spec=spec, root=str(scratch / "state"), spawn=mode, stdio=(None, w, None)
        )
        os.close(w)
        w = -1
        c.start()
        assert c.wait(timeout=30) == 0
        out = os.read(r, 4096).decode().split("\n")
    finally:
        os.close(r)
        if w >= 0:
            os.close(w)
    c.delete()
    assert out[0] == f"h-{mode}"
    assert out[1] == "0"
    assert out[2].split() == ["Uid:", "0", "0", "0", "0"]
    assert out[3].split() == ["0", "100000", "65536"]
    assert not (scratch / "state" / f"c-{mode}").exists()


def test_a_threaded_caller_gets_the_fork_server(scratch: Path) -> None:
    assert choose("auto") == "fork"
    stop = threading.Event()
    thread = threading.Thread(target=stop.wait)
    thread.start()
    try:
        assert choose("auto") == "forkserver"
        bundle = lc.make_busybox_bundle(scratch / "b", args=["sh", "-c", "echo out; echo err >&2; exit 3"])
        result = lc.run(bundle, capture_output=True, root=str(scratch / "state"))
    finally:
        stop.set()
        thread.join()
    assert (result.returncode, result.stdout, result.stderr) == (3, b"out\n", b"err\n")


def test_a_failure_in_the_fresh_interpreter_is_reported(scratch: Path) -> None:
    bundle = lc.make_busybox_bundle(scratch / "b", args=["/no/such/program"])
    with pytest.raises(lc.LibcontainerError, match=r"process\.args\[0\].*/no/such/program"):
        Container.create("bad", bundle, root=str(scratch / "state"), spawn="exec")
    assert not (scratch / "state" / "bad").exists()


def test_init_config_round_trips(tmp_path: Path) -> None:
    from libcontainer_py.init.child import InitConfig
    from libcontainer_py.namespaces import plan
    from libcontainer_py.spec import Spec

    spec = Spec.default()
    cfg = InitConfig(
        spec=spec,
        bundle=str(tmp_path),
        rootfs=str(tmp_path / "rootfs"),
        ns=plan([("pid", None), ("network", "/x")]),
        exec_fifo_fd=7,
        preserve_fds=2,
    )
    back = decode(encode(cfg))
    assert back.spec.to_dict() == spec.to_dict()
    assert back.ns == cfg.ns and back.bundle == str(tmp_path) and back.rootfs == str(tmp_path / "rootfs")
    assert (back.exec_fifo_fd, back.preserve_fds) == (7, 2)


def _status(pid: int, key: str) -> str:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return line.split(":", 1)[1].strip()
    raise AssertionError(f"no {key} in /proc/{pid}/status")


@pytest.mark.parametrize("mode", ["fork", "forkserver"])
@pytest.mark.parametrize("userns", [False, True])
def test_single_stage_init_is_our_child_in_its_pid_namespace(scratch: Path, userns: bool, mode: str) -> None:
    """Without a user namespace the init is forked straight into its new pid namespace (no stage
    1, child.single_stage): it is our own child, pid 1 there, and our pid_for_children is back to
    our own namespace afterwards. With one, stage 1 forks it: it is our child only as the orphan
    we reap as subreaper, and still pid 1 of its namespace."""
    bundle = lc.make_busybox_bundle(scratch / "b", args=["true"])
    builder = SpecBuilder.load(bundle).args("sleep", "30")
    if userns:
        builder = builder.uid_mapping(host_id=100000, container_id=0, size=65536).gid_mapping(
            host_id=100000, container_id=0, size=65536
        )
    own = os.stat("/proc/self/ns/pid").st_ino
    c = Container.create(f"single-{userns}", bundle, spec=builder.build(), root=str(scratch / "state"), spawn=mode)
    try:
        assert os.stat("/proc/self/ns/pid_for_children").st_ino == own
        assert os.stat("/proc/self/ns/pid").st_ino == own
        assert os.stat(f"/proc/{c.pid}/ns/pid").st_ino != own
        assert _status(c.pid, "NSpid").split() == [str(c.pid), "1"]
        assert _status(c.pid, "PPid") == str(os.getpid())
        assert Path(f"/proc/{c.pid}/comm").read_text().strip() == "pyrunc:[2:INIT]"
        # (non-dumpable from its first instruction: test_escape_runtime_binary.py)
        c.start()
    finally:
        c.delete(force=True)
    assert os.stat("/proc/self/ns/pid_for_children").st_ino == own


@pytest.mark.parametrize("mode", ["exec", "forkserver"])
def test_a_fresh_interpreter_init_gets_a_terminal_and_runs_in_container_hooks(scratch: Path, mode: str) -> None:
    """The fresh interpreter (a threaded caller's init) imports before stage 1 what the config
    needs after pivot_root, as create does before a fork (child.preload): it used to fail at the
    console with "cannot import name 'tty'"."""
    bundle = lc.make_busybox_bundle(scratch / "b", args=["true"])
    spec = (
        SpecBuilder.load(bundle)
        .args("sh", "-c", "tty; cat /dev/shm/hooked")
        .terminal(True)
        .hook("startContainer", "/bin/sh", ["sh", "-c", "echo start-hook-ran > /dev/shm/hooked"])
        .build()
    )
    c = Container.create("exec-tty", bundle, spec=spec, root=str(scratch / "state"), spawn=mode)
    try:
        assert c.console is not None
        c.start()
        status = c.wait(timeout=30)
        out = b""
        while chunk := _read_some(c.console):
            out += chunk
        assert status == 0, out
    finally:
        if c.console is not None:
            os.close(c.console)
        c.delete(force=True)
    tty, hook = out.split()
    assert tty.startswith(b"/dev/pts/") and hook == b"start-hook-ran", out
    # And an exec with a terminal, from the same way of starting children.
    spec = SpecBuilder.load(bundle).args("sleep", "30").build()
    c = Container.create("exec-tty2", bundle, spec=spec, root=str(scratch / "state"), spawn=mode, start=True)
    try:
        res = c.exec({"args": ["tty"], "cwd": "/", "terminal": True}, spawn=mode, detach=True)
        assert res.console is not None
        try:
            out = b""
            while chunk := _read_some(res.console):
                out += chunk
        finally:
            os.close(res.console)
        assert out.strip().startswith(b"/dev/pts/"), out
    finally:
        c.delete(force=True)


def _read_some(fd: int) -> bytes:
    import select

    ready, _, _ = select.select([fd], [], [], 1.0)
    if not ready:
        return b""
    try:
        return os.read(fd, 4096)
    except OSError:  # EIO: the pty's last slave is closed
        return b""


def test_fork_in_pidns_puts_the_callers_state_back() -> None:
    """pidfork.fork_in_pidns: the child is pid 1 of a new pid namespace with the caller's signal
    mask to restore; the caller's pid_for_children, signal mask and collector are as they were."""
    import gc
    import signal

    from libcontainer_py.init.pidfork import NEW, child_begins, fork_in_pidns

    own = os.stat("/proc/self/ns/pid_for_children").st_ino
    blocked = signal.pthread_sigmask(signal.SIG_BLOCK, [])
    assert gc.isenabled()
    forked = fork_in_pidns(NEW, nondumpable=True)
    if forked is not None and forked[0] == 0:  # the child: pid 1, every signal blocked until it
        ok = False  # restores the caller's mask; never back into pytest, whatever happens
        try:
            ok = os.getpid() == 1 and signal.SIGTERM in signal.pthread_sigmask(signal.SIG_BLOCK, [])
            child_begins(forked[1])
            ok = ok and signal.SIGTERM not in signal.pthread_sigmask(signal.SIG_BLOCK, [])
        finally:
            os._exit(0 if ok else 1)
    assert forked is not None
    pid, _mask, placed = forked
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert placed is False  # (no cgroup asked for)
    assert os.stat("/proc/self/ns/pid_for_children").st_ino == own
    assert signal.pthread_sigmask(signal.SIG_BLOCK, []) == blocked
    assert gc.isenabled()
    with open("/proc/self/status") as f:  # dumpable again: /proc/self is ours, not root's
        assert f.read()
    from libcontainer_py import _sys

    assert _sys.prctl(3) == 1  # PR_GET_DUMPABLE


def test_fork_in_pidns_declines_when_it_could_not_put_pid_for_children_back() -> None:
    """A caller that unshared CLONE_NEWPID itself (and forked nothing yet) has a pid_for_children
    that /proc cannot open, so it could not be put back: fork_in_pidns forks nothing and says so
    (create and exec then take their two stages)."""
    from libcontainer_py import _sys
    from libcontainer_py._sys import consts as c
    from libcontainer_py.init.pidfork import NEW, fork_in_pidns

    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            _sys.unshare(c.CLONE_NEWPID)
            code = 0 if fork_in_pidns(NEW) is None and fork_in_pidns("/proc/1/ns/pid") is None else 2
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0


@pytest.mark.parametrize("mode", ["fork", "forkserver"])
@pytest.mark.parametrize("userns", [False, True])
@pytest.mark.parametrize("restricted", [False, True])
def test_the_container_gets_the_callers_cpu_affinity(scratch: Path, userns: bool, restricted: bool, mode: str) -> None:
    """create moves its first child off the parent's CPU for its first steps (spawn.py
    off_our_cpu); the child takes the caller's affinity back before it joins the cgroup. What the
    container's process sees is the caller's set, with one stage or two; a caller allowed one CPU
    only is left alone."""
    bundle = lc.make_busybox_bundle(scratch / "b", args=["true"])
    builder = SpecBuilder.load(bundle).args("grep", "Cpus_allowed_list", "/proc/self/status")
    if userns:
        builder = builder.uid_mapping(host_id=100000, container_id=0, size=65536).gid_mapping(
            host_id=100000, container_id=0, size=65536
        )
    before = os.sched_getaffinity(0)
    want = {min(before)} if restricted else before
    os.sched_setaffinity(0, want)
    try:
        for i in range(3):  # the child's first CPU varies: more than one chance to get it wrong
            r = lc.run(bundle, spec=builder.build(), root=str(scratch / "state"), capture_output=True, spawn=mode)
            assert r.returncode == 0, r
            seen: set[int] = set()
            for part in r.stdout.decode().split(":", 1)[1].strip().split(","):
                lo, _, hi = part.partition("-")
                seen.update(range(int(lo), int(hi or lo) + 1))
            assert seen == want, (i, seen, want)
    finally:
        os.sched_setaffinity(0, before)


def test_off_our_cpu_allows_every_cpu_of_the_callers_but_ours() -> None:
    """The parent's half, on a real child: its affinity becomes the caller's set without the CPU
    the parent reported (getcpu pinned to the first of them, so the answer is known)."""
    from libcontainer_py import _sys
    from libcontainer_py.init import spawn

    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        pytest.skip("needs two CPUs")
    assert _sys.getcpu() in cpus  # the real call: a CPU we may run on
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # waits for the parent to be done, reports its affinity, exits
        os.close(w)
        os.read(r, 1)
        os._exit(0 if os.sched_getaffinity(0) == set(cpus[1:]) else 1)
    os.close(r)
    real = _sys.getcpu
    try:
        _sys.getcpu = lambda: cpus[0]  # type: ignore[assignment]
        spawn.off_our_cpu(pid, cpus)
    finally:
        _sys.getcpu = real  # type: ignore[method-assign]
        os.close(w)
        _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    spawn.off_our_cpu(os.getpid(), None)  # one CPU (None): nothing to do, nothing done
    assert os.sched_getaffinity(0) == set(cpus)


# A library caller in a process of its own (one thread for certain, whatever pytest runs): a hook
# registered with os.register_at_fork marks each child that Python's fork work ran in.
_HOOKED_CALLER = r"""
import os, sys, threading
from libcontainer_py.container import Container

bundle, root, marks, threads = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])


def mark():
    with open(marks, "a") as f:
        f.write(f"{os.getpid()}\n")


os.register_at_fork(after_in_child=mark)
stop = threading.Event()
extra = [threading.Thread(target=stop.wait) for _ in range(threads)]
for t in extra:
    t.start()
r, w = os.pipe()
try:
    c = Container.create("hooked", bundle, root=root, spawn="fork")
    c.start()
    res = c.exec({"args": ["cat", "/proc/self/status"], "cwd": "/"}, spawn="fork", stdio=(None, w, None))
    os.close(w)
    out = b""
    while chunk := os.read(r, 65536):
        out += chunk
    c.kill(9)
    c.wait(timeout=30)
    c.delete()
finally:
    stop.set()
    for t in extra:
        t.join()
status = dict(line.split(":", 1) for line in out.decode().splitlines() if ":" in line)
print(res.exit_status, status["NSpid"].split()[-1], status["Threads"].strip())
"""


@pytest.mark.parametrize("threads", [0, 1])
def test_forks_of_a_caller_with_one_thread_skip_its_fork_hooks(scratch: Path, threads: int) -> None:
    """pidfork.bare_fork: with one thread, the children of create and exec skip Python's at-fork
    work (the caller's hooks included: they prepare a child that runs the caller's code, and ours
    runs only the runtime's); with another thread alive they are forked by os.fork(), hooks and
    all. Either way the container runs, and exec's process is in its pid namespace."""
    import subprocess
    import sys

    bundle = lc.make_busybox_bundle(scratch / "b", args=["sleep", "100"])
    marks = scratch / "marks"
    proc = subprocess.run(
        [sys.executable, "-c", _HOOKED_CALLER, str(bundle), str(scratch / "state"), str(marks), str(threads)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd="/",
    )
    assert proc.returncode == 0, proc.stderr
    exit_status, nspid, child_threads = proc.stdout.split()
    assert exit_status == "0"
    assert nspid == "2"  # exec's process, beside the init (pid 1) in the container's pid namespace
    assert child_threads == "1"
    hooked = marks.read_text().split() if marks.exists() else []
    # Two forks: create's (the init) and exec's (its process); with another thread, the hook ran in both.
    assert len(hooked) == (2 if threads else 0), hooked


_PROFILED_CALLER = r"""
import os, signal, sys
import libcontainer_py as lc

bundle, root = sys.argv[1], sys.argv[2]
r, w = os.pipe()
os.set_blocking(r, False)


def handler(signum, frame):  # what a sampling profiler does: a Python handler on a busy timer
    os.write(w, f"{os.getpid()}\n".encode())


signal.signal(signal.SIGALRM, handler)
signal.setitimer(signal.ITIMER_REAL, 0.0003, 0.0003)
try:
    for _ in range(30):
        lc.run(bundle, root=root).check_returncode()
finally:
    signal.setitimer(signal.ITIMER_REAL, 0)
seen = b""
try:
    while chunk := os.read(r, 65536):
        seen += chunk
except BlockingIOError:
    pass
pids = [int(p) for p in seen.split()]
print(len(pids), len(set(pids) - {os.getpid()}))
"""


def test_a_caller_with_a_busy_signal_handler(scratch: Path) -> None:
    """A caller whose Python signal handler fires every 0.3 ms (a sampling profiler) runs 30
    containers without an error (no EINTR escapes), and the handler never runs in one of the
    runtime's children: bare_fork blocks the signals and runs the pending handlers before the
    fork, as os.fork's child would have dropped them."""
    import subprocess
    import sys

    bundle = lc.make_busybox_bundle(scratch / "b", args=["true"])
    proc = subprocess.run(
        [sys.executable, "-c", _PROFILED_CALLER, str(bundle), str(scratch / "state")],
        capture_output=True,
        text=True,
        timeout=120,
        cwd="/",
    )
    assert proc.returncode == 0, proc.stderr
    handled, in_children = (int(x) for x in proc.stdout.split())
    assert handled > 30  # the timer did fire throughout
    assert in_children == 0
