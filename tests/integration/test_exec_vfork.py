"""exec's child without a fork of the caller (spawn "vfork", init/vspawn.py and _sys/vfork_plan.c)
against setns.py's forked child: the same processes, observed inside the container, and the same
errors, text for text. Plus what only the new child has to get right: a caller with threads needs
no fork server, and the caller's own state (command line, handlers, dumpable flag, signal mask) is
as it was once the clone returns."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from libcontainer_py.container import Container

PROBE = (
    "id; umask; ulimit -n; ulimit -Hn; cat /proc/self/oom_score_adj; pwd; echo HOME=$HOME; "
    "grep -E '^(Cap|NoNewPrivs|Seccomp|Sig(Ign|Blk|Cgt))' /proc/self/status; ls /proc/self/fd"
)


def _userns(c: dict[str, Any]) -> None:
    c["linux"]["namespaces"].append({"type": "user"})
    c["linux"]["uidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
    c["linux"]["gidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]


def _seccomp(c: dict[str, Any]) -> None:
    from libcontainer_py.seccomp.profiles import default_profile

    c["linux"]["seccomp"] = default_profile()


def _passwd(c: dict[str, Any]) -> None:
    c["process"]["env"] = [e for e in c["process"]["env"] if not e.startswith("HOME=")]


def running(rt: Any, *edits: Any) -> Container:
    def edit(c: dict[str, Any]) -> None:
        for e in edits:
            e(c)

    bundle = rt.bundle(["sleep", "60"], edit=edit)
    cid = rt.new_id("vf")
    r = rt.pyrunc("run", "-d", "--bundle", str(bundle), cid)
    assert r.rc == 0, r
    return Container.load(cid, rt.root)


def exec_seen(container: Container, process: dict[str, Any], mode: str) -> tuple[int | None, str]:
    """(exit status, output) of `process` exec'd with spawn `mode`, or (None, the error's text)."""
    read, write = os.pipe()
    try:
        try:
            res = container.exec(process, spawn=mode, stdio=(None, write, write))
        except Exception as exc:  # (the error is what is compared)
            return None, f"{type(exc).__name__}: {exc}"
        os.close(write)
        write = -1
        chunks = []
        while block := os.read(read, 65536):
            chunks.append(block)
        return res.exit_status, b"".join(chunks).decode()
    finally:
        os.close(read)
        if write >= 0:
            os.close(write)


def process(**over: Any) -> dict[str, Any]:
    proc: dict[str, Any] = {
        "args": ["sh", "-c", PROBE],
        "cwd": "/tmp",
        "env": ["PATH=/usr/bin:/bin"],
        "user": {"uid": 1000, "gid": 1001, "additionalGids": [20, 30], "umask": 0o027},
        "rlimits": [{"type": "RLIMIT_NOFILE", "soft": 512, "hard": 1024}],
        "oomScoreAdj": 100,
        "noNewPrivileges": True,
        "capabilities": {
            "bounding": ["CAP_CHOWN", "CAP_KILL", "CAP_NET_RAW"],
            "effective": ["CAP_KILL"],
            "permitted": ["CAP_KILL", "CAP_NET_RAW"],
            "inheritable": ["CAP_NET_RAW"],
            "ambient": ["CAP_NET_RAW"],
        },
    }
    proc.update(over)
    return proc


CASES: dict[str, dict[str, Any]] = {
    "user, groups, umask, rlimits, oom, caps, no_new_privs": process(),
    "root, no_new_privs off": process(user={"uid": 0, "gid": 0}, noNewPrivileges=False, oomScoreAdj=None),
    "HOME from the container's passwd": process(user={"uid": 0, "gid": 0}, env=["PATH=/bin"]),
    "a relative program found in PATH": process(args=["sh", "-c", "echo found"], env=["PATH=/nowhere:/bin"]),
    "an absolute program": process(args=["/bin/sh", "-c", "echo direct"]),
    # the errors
    "not in PATH": process(args=["no-such-program"]),
    "a program that does not exist": process(args=["/no/such/program"]),
    "a directory as the program": process(args=["/etc"]),
    "a file that is no program": process(args=["/etc/hostname"]),
    "a missing cwd": process(cwd="/no/such/dir"),
    "an rlimit above the host's": process(rlimits=[{"type": "RLIMIT_NOFILE", "soft": 1 << 40, "hard": 1 << 40}]),
    "soft above hard": process(rlimits=[{"type": "RLIMIT_NOFILE", "soft": 2048, "hard": 1024}]),
}

USERNS_CASES: dict[str, dict[str, Any]] = {
    "mapped user": process(),
    "a uid outside the mapping": process(user={"uid": 70000, "gid": 0}),
    "a gid outside the mapping": process(user={"uid": 0, "gid": 70000}),
    "oom_score_adj": process(oomScoreAdj=500, args=["cat", "/proc/self/oom_score_adj"]),
}


@pytest.mark.parametrize("config", ["plain", "userns", "seccomp"])
def test_both_children_give_the_same_process_and_the_same_errors(rt: Any, config: str) -> None:
    edits = {"plain": [_passwd], "userns": [_passwd, _userns], "seccomp": [_passwd, _seccomp]}[config]
    container = running(rt, *edits)
    cases = dict(CASES, **USERNS_CASES) if config == "userns" else CASES
    seen = {}
    for name, proc in cases.items():
        forked = exec_seen(container, proc, "fork")
        vforked = exec_seen(container, proc, "vfork")
        assert vforked == forked, (name, forked, vforked)
        seen[name] = vforked
    # and each is what it should be, not only the same
    status, out = seen["user, groups, umask, rlimits, oom, caps, no_new_privs"]
    assert status == 0, out
    lines = out.splitlines()
    assert lines[0].startswith("uid=1000 gid=1001 groups=20,30"), lines
    assert lines[1:6] == ["0027", "512", "1024", "100", "/tmp"], lines
    fields = dict(line.split(":\t") for line in lines if ":\t" in line)
    # after execve as uid 1000, the kernel leaves a program without file capabilities its ambient set
    assert fields["CapEff"] == fields["CapPrm"] == fields["CapAmb"] == f"{1 << 13:016x}"  # CAP_NET_RAW
    assert fields["CapInh"] == f"{1 << 13:016x}" and fields["CapBnd"] == f"{(1 << 0) | (1 << 5) | (1 << 13):016x}"
    assert fields["NoNewPrivs"] == "1" and fields["SigIgn"] == fields["SigBlk"] == "0" * 16
    assert fields["Seccomp"] == ("2" if config == "seccomp" else "0")
    assert lines[-4:] == ["0", "1", "2", "3"], lines  # stdio, and ls's own directory fd
    assert "HOME=/root" in seen["HOME from the container's passwd"][1]
    assert seen["a relative program found in PATH"] == (0, "found\n")
    assert seen["an absolute program"] == (0, "direct\n")
    errors = {name: text for name, (status, text) in seen.items() if status is None}
    want = {
        "not in PATH": 'exec failed (exec): process.args[0]: exec: "no-such-program": executable file not found',
        "a program that does not exist": 'exec: "/no/such/program": no such file or directory',
        "a directory as the program": 'exec: "/etc": permission denied',
        "a file that is no program": 'exec: "/etc/hostname": permission denied',
        "a missing cwd": "exec failed (cwd): process.cwd: cannot change to /no/such/dir: No such file",
        "an rlimit above the host's": "exec failed (process): process.rlimits[0]: cannot set RLIMIT_NOFILE",
        "soft above hard": "soft is above hard",
    }
    if config == "userns":
        want.update({
            "a uid outside the mapping": "exec failed (user): process.user.uid: cannot switch to uid 70000",
            "a gid outside the mapping": "exec failed (user): process.user.gid: cannot switch to gid 70000",
        })  # fmt: skip
    assert sorted(errors) == sorted(want), errors
    if config == "userns":  # written as the host's root, as runc does (inside a user namespace it failed)
        assert seen["oom_score_adj"] == (0, "500\n")
    for name, needle in want.items():
        assert errors[name].startswith("ExecError: ") and needle in errors[name], (name, errors[name])
    assert container.processes() == [container.pid], "a failed exec left a process behind"


def test_home_is_read_inside_the_containers_root_and_never_blocks(rt: Any) -> None:
    """HOME comes from the container's /etc/passwd, which the image controls. A symlink there to a
    host path resolves inside the container's root (the host's file with that path is not read),
    and a FIFO (which no one writes) gives "/" instead of hanging the exec."""
    host = rt.mkdir("host-passwd") / "passwd"
    host.write_text("root:x:0:0:root:/leaked-from-host:/bin/sh\n")

    def link(c: dict[str, Any]) -> None:
        _passwd(c)

    container = running(rt, link)
    rootfs = Path(container._state.bundle) / "rootfs"
    etc_passwd = rootfs / "etc" / "passwd"
    proc = process(user={"uid": 0, "gid": 0}, args=["sh", "-c", "echo $HOME"], capabilities=None)
    try:
        etc_passwd.rename(rootfs / "etc" / "passwd.real")
        etc_passwd.symlink_to(host)  # absolute: the host's path
        for mode in ("fork", "vfork"):
            assert exec_seen(container, proc, mode) == (0, "/\n"), mode
        (rootfs / str(host).lstrip("/")).parent.mkdir(parents=True)
        (rootfs / str(host).lstrip("/")).write_text("root:x:0:0:root:/inside:/bin/sh\n")
        for mode in ("fork", "vfork"):
            assert exec_seen(container, proc, mode) == (0, "/inside\n"), mode
        etc_passwd.unlink()
        os.mkfifo(etc_passwd)
        for mode in ("fork", "vfork"):
            assert exec_seen(container, proc, mode) == (0, "/\n"), mode
    finally:
        if etc_passwd.is_symlink() or etc_passwd.exists():
            etc_passwd.unlink()
        (rootfs / "etc" / "passwd.real").rename(etc_passwd)


CALLER = r"""
import os, signal, sys, threading
sys.path.insert(0, sys.argv[1])
from libcontainer_py.container import Container
import libcontainer_py._sys as _sys
handled = []
signal.signal(signal.SIGTERM, lambda *a: handled.append(1))
signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGUSR2])
stop = threading.Event()
t = threading.Thread(target=stop.wait)
t.start()
before = (open("/proc/self/cmdline", "rb").read(), _sys.prctl(3), signal.pthread_sigmask(signal.SIG_BLOCK, []))
c = Container.load(sys.argv[2], sys.argv[3])
r, w = os.pipe()
res = c.exec({"args": ["grep", "-E", "^Sig(Cgt|Blk)", "/proc/self/status"], "cwd": "/"}, stdio=(None, w, None))
os.close(w)
out = os.read(r, 4096).decode().split()
after = (open("/proc/self/cmdline", "rb").read(), _sys.prctl(3), signal.pthread_sigmask(signal.SIG_BLOCK, []))
stop.set(); t.join()
os.kill(os.getpid(), signal.SIGTERM)
print(res.exit_status, out, before == after, handled, "libcontainer_py.init.forkserver" in sys.modules)
"""


def test_a_caller_with_threads_and_handlers_execs_without_fork_server_and_is_left_as_it_was(rt: Any) -> None:
    """A caller with threads (a Jupyter kernel) gets the vfork child (no fork: no fork server is
    started for it); the child runs none of the caller's handlers and blocks nothing; and the
    caller's command line (the child showed "pyrunc init" through it), dumpable flag, signal mask
    and handlers are as they were."""
    container = running(rt)
    p = subprocess.run(
        [sys.executable, "-c", CALLER, str(Path(__file__).resolve().parents[2]), container.id, rt.root],
        capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert p.returncode == 0, p.stderr
    zero = "0" * 16
    assert p.stdout.split("\n")[0] == f"0 ['SigBlk:', '{zero}', 'SigCgt:', '{zero}'] True [1] False", p.stdout


def test_preserved_fds_reach_the_program(rt: Any) -> None:
    container = running(rt)
    passed = rt.base / "passed.txt"
    passed.write_text("passed on purpose\n")
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]); from libcontainer_py.container import Container; "
        "c = Container.load(sys.argv[2], sys.argv[3]); "
        "r = c.exec({'args': ['sh', '-c', 'read l <&3; echo $l; ls /proc/self/fd'], 'cwd': '/'}, preserve_fds=1); "
        "sys.exit(r.exit_status)"
    )
    argv = [sys.executable, "-c", code, str(Path(__file__).resolve().parents[2]), container.id, rt.root]
    p = subprocess.run(
        ["sh", "-c", 'exec "$@" 3<"$PASSED"', "sh", *argv], env=dict(os.environ, PASSED=str(passed)),
        capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert p.returncode == 0, p.stderr
    assert p.stdout.split() == ["passed", "on", "purpose", "0", "1", "2", "3", "4"], p.stdout


def test_a_signal_ends_the_stopped_child_and_the_caller_reports_it(rt: Any) -> None:
    """The child stopped at its birth (checkpoint exec:born, before any namespace) and killed
    there: the caller, which waited for it, reports that no process started, and nothing is left
    in the container."""
    from libcontainer_py._faults import ENV

    container = running(rt)
    env = dict(os.environ, **{ENV: "exec:born"})
    victim = subprocess.Popen(
        [*rt.cmd, "--root", rt.root, "exec", container.id, "true"], env=env, stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        born = rt.wait_stopped(lambda pid, fields: int(fields[1]) == victim.pid)
        assert born is not None, "exec's child never stopped at its birth"
        with open(f"/proc/{born}/comm") as f:
            assert f.read().strip() == "pyrunc:[EXEC]"
        os.kill(born, signal.SIGKILL)
        _out, err = victim.communicate(timeout=20)
        assert victim.returncode == 255, err
        assert b"exec failed" in err and len(err.strip().splitlines()) == 1, err
    finally:
        if victim.poll() is None:
            victim.kill()
            victim.wait()
    assert container.processes() == [container.pid]


def test_exec_from_a_thread_that_is_not_the_main_one(rt: Any) -> None:
    """A worker thread (asyncio.to_thread, a thread pool) may exec: pid_for_children is the calling
    thread's, set and put back for that thread; the process is born in the container's pid
    namespace all the same, and our own stays as it was."""
    import threading

    container = running(rt)
    ours = os.readlink("/proc/thread-self/ns/pid_for_children")
    seen: list[tuple[int | None, str]] = []
    worker = threading.Thread(target=lambda: seen.append(exec_seen(container, process(
        args=["sh", "-c", "grep ^NSpid: /proc/self/status"], user={"uid": 0, "gid": 0}), "vfork")))  # fmt: skip
    worker.start()
    worker.join(60)
    # the container's /proc knows it (it would have no /proc/self outside the pid namespace)
    assert seen and seen[0][0] == 0 and seen[0][1].split()[0] == "NSpid:", seen
    assert int(seen[0][1].split()[1]) > 1 and len(seen[0][1].split()) == 2, seen
    assert os.readlink("/proc/thread-self/ns/pid_for_children") == ours


@pytest.mark.parametrize("mode", ["auto", "vfork", "fork"])
def test_exec_into_a_container_with_a_time_namespace(rt: Any, mode: str) -> None:
    """The kernel lets only a process whose memory no other shares join a time namespace (setns:
    EUSERS): there exec takes the forked child, whichever mode was asked for, and the process sees
    the container's clocks."""

    def timens(c: dict[str, Any]) -> None:
        c["linux"]["namespaces"].append({"type": "time"})
        c["linux"]["timeOffsets"] = {"boottime": {"secs": 86400 * 1000, "nanosecs": 0}}

    container = running(rt, timens)
    status, out = exec_seen(container, process(args=["cat", "/proc/uptime"], user={"uid": 0, "gid": 0}), mode)
    assert status == 0, out
    with open("/proc/uptime") as f:
        ours = float(f.read().split()[0])
    assert float(out.split()[0]) - ours > 86400 * 999, (out, ours)


def test_execs_from_many_threads_at_once(rt: Any) -> None:
    """Eight threads exec into one container at the same time: every process runs, each in its
    own; and the caller's process-wide state that each clone changes for its time (the dumpable
    flag, the command line) is as it was after all of them (one clone at a time: vspawn.py)."""
    import threading

    from libcontainer_py import _sys

    container = running(rt)
    cmdline = Path("/proc/self/cmdline").read_bytes()
    results: list[tuple[int | None, str]] = []
    lock = threading.Lock()

    def one(n: int) -> None:
        for _ in range(5):
            got = exec_seen(container, process(args=["sh", "-c", f"echo {n}"], user={"uid": 0, "gid": 0}), "vfork")
            with lock:
                results.append(got)

    threads = [threading.Thread(target=one, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert sorted(results) == sorted((0, f"{n}\n") for n in range(8) for _ in range(5)), results
    assert Path("/proc/self/cmdline").read_bytes() == cmdline
    assert _sys.prctl(3) == 1  # PR_GET_DUMPABLE
    assert container.processes() == [container.pid]


def test_many_execs_leave_no_fd_child_or_memory_behind(rt: Any) -> None:
    """A long-lived caller (an orchestrator) execs hundreds of times, some failing: its fds, its
    children and its memory stay as they were (the plan's fds, the child's stack and the C
    buffers are released each time)."""
    import resource

    container = running(rt)

    def fds() -> int:
        return len(os.listdir("/proc/self/fd"))

    def children() -> set[str]:  # (this process may have others: a session's containerd)
        with open(f"/proc/self/task/{os.getpid()}/children") as f:
            return set(f.read().split())

    for _ in range(20):  # (warm: the shim, the caches)
        assert container.exec({"args": ["true"], "cwd": "/"}, spawn="vfork").exit_status == 0
    before = fds(), resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, children()
    for i in range(200):
        if i % 4:
            assert container.exec({"args": ["true"], "cwd": "/"}, spawn="vfork").exit_status == 0
        else:
            with pytest.raises(Exception, match="executable file not found"):
                container.exec({"args": ["no-such-program"], "cwd": "/"}, spawn="vfork")
    assert fds() == before[0]
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before[1] < 4096  # KiB
    assert children() <= before[2], "an exec's child was left unreaped"
    assert container.processes() == [container.pid]


CONFINED_CALLER = r"""
import os, sys
sys.path.insert(0, sys.argv[1])
from libcontainer_py.container import Container
from libcontainer_py.seccomp.compile import compile_filter
import libcontainer_py._sys as _sys
# this caller's own filter (a runtime inside a container): clone3 refused with the errno given
errno_ret = int(sys.argv[4])
profile = {"defaultAction": "SCMP_ACT_ALLOW",
           "syscalls": [{"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": errno_ret}]}
_sys.prctl(38, 1, 0, 0, 0)  # no_new_privs: a filter without CAP_SYS_ADMIN's say
compile_filter(profile).load()
c = Container.load(sys.argv[2], sys.argv[3])
r, w = os.pipe()
res = c.exec({"args": ["echo", "ran"], "cwd": "/"}, stdio=(None, w, None))
os.close(w)
print(res.exit_status, os.read(r, 100).decode().strip())
"""


@pytest.mark.parametrize("errno_ret", [38, 1], ids=["ENOSYS", "EPERM"])
def test_a_caller_whose_seccomp_filter_refuses_clone3_still_execs(rt: Any, errno_ret: int) -> None:
    """A runtime inside a container may have clone3 refused by its own filter (Docker's default
    profile answers ENOSYS; others EPERM): nothing is started by the refused clone, and exec takes
    the forked child, which forks with clone."""
    container = running(rt)
    p = subprocess.run(
        [sys.executable, "-c", CONFINED_CALLER, str(Path(__file__).resolve().parents[2]), container.id, rt.root,
         str(errno_ret)],
        capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert p.returncode == 0, p.stderr
    assert p.stdout.split() == ["0", "ran"], (p.stdout, p.stderr)
    assert container.processes() == [container.pid]
