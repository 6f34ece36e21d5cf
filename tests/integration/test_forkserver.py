"""The fork server (libcontainer_py/init/forkserver.py): a threaded caller's containers are forked
by one small interpreter started once, and are the caller's own children. What the container sees
is what a forked one sees; what the server inherited from the caller follows the caller; the
server ends with its caller; where clone3 is refused, "auto" falls back to a fresh interpreter."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import libcontainer_py as lc
from libcontainer_py.container import Container
from libcontainer_py.init import forkserver

pytestmark = pytest.mark.root

PROJECT = str(Path(lc.__file__).resolve().parent.parent)


@pytest.fixture
def scratch() -> Iterator[Path]:
    d = Path(tempfile.mkdtemp(prefix="lcpy-forkserver-"))
    os.chmod(d, 0o755)
    try:
        yield d
    finally:
        forkserver.stop()
        for c in Container.list(str(d / "state")):
            c.delete(force=True)
        shutil.rmtree(d)


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _caller(code: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Run `code` as its own caller process (fds, seccomp, exit: things a test must not do to pytest)."""
    prelude = f"import sys; sys.path.insert(0, {PROJECT!r})\n"
    return subprocess.run([sys.executable, "-c", prelude + textwrap.dedent(code)], capture_output=True, text=True,
                          timeout=timeout)  # fmt: skip


def test_the_container_sees_what_a_forked_one_sees(scratch: Path) -> None:
    bundle = lc.make_busybox_bundle(scratch / "b", args=["true"])
    probe = ["sh", "-c", "id; hostname; grep -E '^(Cap|NoNewPrivs|Seccomp|Umask|Uid|Gid)' /proc/self/status; "
             "cut -d' ' -f4,5 /proc/self/mountinfo | sort; ls -l /proc/self/fd | tail -n +2 | cut -c1-10; "
             "grep -E 'core file|Max processes' /proc/self/limits"]  # fmt: skip
    out = {}
    import resource

    # An rlimit the config does not set is inherited from the caller: the server is started anew
    # for a caller whose limits changed since (its fingerprint), so it follows.
    before = resource.getrlimit(resource.RLIMIT_CORE)
    try:
        for core in (4096, 8192):
            resource.setrlimit(resource.RLIMIT_CORE, (core, before[1]))
            for mode in ("fork", "forkserver"):
                r = lc.run(bundle, probe, root=str(scratch / "state"), capture_output=True, spawn=mode,
                           container_id="probe")  # fmt: skip
                assert r.returncode == 0, r
                out[mode, core] = r.stdout.decode()
            assert f"Max core file size        {core}" in out["fork", core], out["fork", core]
            assert out["forkserver", core] == out["fork", core]
    finally:
        resource.setrlimit(resource.RLIMIT_CORE, before)


def test_the_init_and_an_exec_are_our_children(scratch: Path) -> None:
    bundle = lc.make_busybox_bundle(scratch / "b", args=["sleep", "30"])
    c = Container.create("c1", bundle, root=str(scratch / "state"), spawn="forkserver")
    try:
        server = forkserver._server
        assert server is not None and _alive(server.proc.pid)
        status = Path(f"/proc/{c.pid}/status").read_text()
        assert f"PPid:\t{os.getpid()}\n" in status  # CLONE_PARENT: ours, not the server's
        c.start()
        r, w = os.pipe()
        try:
            res = c.exec({"args": ["sh", "-c", "echo in; grep PPid /proc/$$/status; exit 7"], "cwd": "/"},
                         spawn="forkserver", stdio=(None, w, None))  # fmt: skip
            os.close(w)
            w = -1
            assert res.exit_status == 7
            # Our child, in the container's pid namespace, whose init is its parent's stand-in.
            assert os.read(r, 100) == b"in\nPPid:\t0\n"
        finally:
            os.close(r)
            if w >= 0:
                os.close(w)
        # One server for both, and for the next container.
        assert forkserver._server is server
    finally:
        c.kill("KILL")
        c.wait(timeout=10)
        c.delete()
    forkserver.stop()
    assert not _alive(server.proc.pid)


def test_an_init_failure_is_reported_as_when_forked(scratch: Path) -> None:
    bundle = lc.make_busybox_bundle(scratch / "b", args=["true"])
    from libcontainer_py.spec import SpecBuilder

    spec = SpecBuilder.load(bundle).mount("/data", source="/no/such/source", options=["bind"]).build()
    errors = {}
    for mode in ("fork", "forkserver"):
        with pytest.raises(lc.LibcontainerError) as info:
            Container.create(f"bad-{mode}", bundle, spec=spec, root=str(scratch / "state"), spawn=mode)
        errors[mode] = str(info.value).replace(f"bad-{mode}", "ID")
        assert not (scratch / "state" / f"bad-{mode}").exists()
    assert "/no/such/source" in errors["fork"]
    assert errors["forkserver"] == errors["fork"]


def test_preserved_fds_and_stdio_reach_the_container_at_their_numbers(scratch: Path) -> None:
    lc.make_busybox_bundle(scratch / "b", args=["sh", "-c", "echo three >&3; echo four >&4; echo out"])
    r = _caller(f"""
        import fcntl, os
        from libcontainer_py.container import Container
        def high(fd):
            moved = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 20)
            os.close(fd)
            return moved
        r, w = (high(fd) for fd in os.pipe())
        out_r, out_w = (high(fd) for fd in os.pipe())
        os.dup2(w, 3)
        os.dup2(w, 4)
        c = Container.create("p", {str(scratch / "b")!r}, root={str(scratch / "state")!r}, spawn="forkserver",
                             preserve_fds=2, stdio=(None, out_w, None))
        for fd in (3, 4, w, out_w):
            os.close(fd)
        c.start()
        print("status", c.wait(timeout=30))
        c.delete()
        print("fds", os.read(r, 100).decode().split(), "out", os.read(out_r, 100).decode().split())
    """)
    assert r.returncode == 0, r.stderr
    assert "status 0" in r.stdout and "fds ['three', 'four'] out ['out']" in r.stdout, r.stdout


def test_the_server_ends_with_its_caller(scratch: Path) -> None:
    lc.make_busybox_bundle(scratch / "b", args=["true"])
    r = _caller(f"""
        import os
        import libcontainer_py as lc
        from libcontainer_py.init import forkserver
        res = lc.run({str(scratch / "b")!r}, root={str(scratch / "state")!r}, spawn="forkserver")
        print(forkserver._server.proc.pid, res.returncode, flush=True)
        os._exit(0)  # no atexit: the server sees its end of the socket close
    """)
    assert r.returncode == 0, r.stderr
    server_pid, status = (int(x) for x in r.stdout.split())
    assert status == 0
    deadline = time.monotonic() + 5
    while _alive(server_pid) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not _alive(server_pid)


def test_where_clone3_is_refused_auto_takes_a_fresh_interpreter(scratch: Path) -> None:
    """As in a container under Docker's default seccomp profile (clone3 gives ENOSYS)."""
    pytest.importorskip("pyseccomp")
    lc.make_busybox_bundle(scratch / "b", args=["sh", "-c", "echo ran"])
    r = _caller(f"""
        import errno, threading
        import pyseccomp
        f = pyseccomp.SyscallFilter(pyseccomp.ALLOW)
        f.add_rule(pyseccomp.ERRNO(errno.ENOSYS), "clone3")
        f.load()
        import libcontainer_py as lc
        from libcontainer_py.init import forkserver, mode
        stop = threading.Event(); t = threading.Thread(target=stop.wait); t.start()
        try:
            print("mode", mode.choose("auto"))
            res = lc.run({str(scratch / "b")!r}, root={str(scratch / "state")!r}, capture_output=True)
            print("run", res.returncode, res.stdout)
            print("why", forkserver._broken)
        finally:
            stop.set(); t.join()
    """)
    assert r.returncode == 0, r.stderr
    assert "mode exec" in r.stdout and "run 0 b'ran\\n'" in r.stdout, r.stdout
    assert "clone3" in r.stdout.split("why", 1)[1]


def test_a_fork_of_the_caller_gets_its_own_server(scratch: Path) -> None:
    lc.make_busybox_bundle(scratch / "b", args=["sh", "-c", "echo ran"])
    r = _caller(f"""
        import os
        import libcontainer_py as lc
        from libcontainer_py.init import forkserver
        def run():
            res = lc.run({str(scratch / "b")!r}, root={str(scratch / "state")!r}, spawn="forkserver",
                         capture_output=True)
            return res.returncode, res.stdout, forkserver._server.proc.pid
        first = run()
        pid = os.fork()
        if pid == 0:
            child = run()
            forkserver.stop()
            print("child", child[0], child[1], child[2] != first[2], flush=True)
            os._exit(0)
        os.waitpid(pid, 0)
        again = run()
        print("parent", again[0], again[1], again[2] == first[2], flush=True)
    """)
    assert r.returncode == 0, r.stderr
    assert "child 0 b'ran\\n' True" in r.stdout and "parent 0 b'ran\\n' True" in r.stdout, r.stdout


def test_a_server_that_died_is_replaced(scratch: Path) -> None:
    import signal

    bundle = lc.make_busybox_bundle(scratch / "b", args=["true"])
    assert lc.run(bundle, root=str(scratch / "state"), spawn="forkserver").returncode == 0
    first = forkserver._server
    assert first is not None
    os.kill(first.proc.pid, signal.SIGKILL)
    first.proc.wait(timeout=10)
    assert lc.run(bundle, root=str(scratch / "state"), spawn="forkserver").returncode == 0
    assert forkserver._server is not None and forkserver._server is not first
    assert _alive(forkserver._server.proc.pid)


def test_a_hook_the_init_runs_starts_in_the_callers_cwd(scratch: Path) -> None:
    """The createContainer hooks run in the init, before pivot_root, from its cwd: a forked
    init's is the caller's, and the server's child takes the caller's current one too."""
    from libcontainer_py.spec import SpecBuilder

    bundle = lc.make_busybox_bundle(scratch / "b", args=["true"])
    rootfs = scratch / "b" / "rootfs"
    spec = (
        SpecBuilder.load(bundle)
        .args("cat", "/dev/shm/cwd")
        .hook("createContainer", "/bin/sh", ["sh", "-c", f"pwd > {rootfs}/dev/shm/cwd"])
        .build()
    )
    here = os.getcwd()
    seen = {}
    try:
        for i, mode in enumerate(("fork", "forkserver", "forkserver")):
            where = scratch / f"cwd{i}"
            where.mkdir()
            os.chdir(where)  # (the second time: after the server started elsewhere)
            r = lc.run(bundle, spec=spec, root=str(scratch / "state"), capture_output=True, spawn=mode)
            assert r.returncode == 0, r
            seen[i] = (r.stdout.decode().strip(), str(where))
    finally:
        os.chdir(here)
    assert all(got == want for got, want in seen.values()), seen


def test_a_caller_that_ignores_sigint_keeps_one_server(scratch: Path) -> None:
    """A background job of a shell without job control starts with SIGINT and SIGQUIT ignored.
    The server caught SIGINT instead (so that a Ctrl-C meant for the caller does not end it), its
    SigIgn then differed from the caller's, and every container of such a caller started a server
    of its own: ~130 ms each instead of ~20. Found by benchmarks/repeat.py run that way."""
    import signal

    lc.make_busybox_bundle(scratch / "b", args=["true"])
    code = f"""
        import signal
        import libcontainer_py as lc
        from libcontainer_py.init import forkserver
        pids = set()
        for _ in range(3):
            assert lc.run({str(scratch / "b")!r}, root={str(scratch / "state")!r}, spawn="forkserver").returncode == 0
            pids.add(forkserver._server.proc.pid)
        print(len(pids))
    """

    def ignore() -> None:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGQUIT, signal.SIG_IGN)

    prelude = f"import sys; sys.path.insert(0, {PROJECT!r})\n"
    r = subprocess.run([sys.executable, "-c", prelude + textwrap.dedent(code)], capture_output=True, text=True,
                       timeout=120, preexec_fn=ignore)  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["1"], r.stdout
